#!/bin/sh
# Sets everything up on a fresh Debian 12 machine, builds coordinatord, and
# runs it with a short demo: a few tasks, a task tree, live completions,
# the history, a restart that keeps the history. Leaves nothing running.
set -eu
cd "$(dirname "$0")/.."
sh tools/install-deps.sh

[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

demo=$(mktemp -d /tmp/coordinator-demo.XXXXXX)
export COORD_SOCKET="$demo/coordinatord.sock"
ctl=./build/client/coordctl
daemon=./build/daemon/coordinatord
log="$demo/coordinatord.log"

start_daemon() {
	"$daemon" --state-dir "$demo/state" 2>>"$log" &
	daemon_pid=$!
	i=0
	until "$ctl" ping >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$log"; echo "coordinatord did not start" >&2; exit 1; }
		sleep 0.05
	done
}
trap 'kill "$daemon_pid" 2>/dev/null || true' EXIT INT TERM

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

start_daemon
step "coordctl ping"
"$ctl" ping

step "coordctl watch --type request_success --type request_failure &   (completions pushed live)"
"$ctl" watch --type request_success --type request_failure > "$demo/watch.txt" &
watch_pid=$!
sleep 0.2

step "coordctl submit --wait -- sh -c 'echo hello from a task; exit 0'"
"$ctl" submit --wait -- sh -c 'echo hello from a task; exit 0'

step "coordctl submit -- sh -c 'exit 3'   (a task that fails)"
failing=$("$ctl" submit -- sh -c 'exit 3')
echo "$failing"

step "a task tree: the parent submits two children through \$COORD_SOCKET and waits for them"
parent=$("$ctl" submit --name parent -- sh -c "
	a=\$($ctl submit --name child-a -- sh -c 'sleep 0.2; echo a')
	b=\$($ctl submit --name child-b -- sh -c 'sleep 0.1; echo b')
	$ctl wait \"\$a\" \"\$b\"")
"$ctl" wait --timeout 30 "$parent" || true

step "coordctl tree $parent"
"$ctl" tree "$parent"

step "coordctl wait --timeout 10 $failing   (exit status 1: it failed)"
"$ctl" wait --timeout 10 "$failing" || echo "exit status $?"

step "coordctl status"
"$ctl" status

step "what watch saw"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
cat "$demo/watch.txt"

step "kill -9 the daemon while a task runs, start it again: nothing is forgotten"
running=$("$ctl" submit --name long-task -- sleep 60)
sleep 0.3
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
start_daemon
"$ctl" job "$running"

step "coordctl shutdown"
"$ctl" shutdown
wait "$daemon_pid" 2>/dev/null || true
echo
echo "demo done; the daemon's log and history are in $demo"
