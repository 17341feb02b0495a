#!/bin/sh
# Benchmarks of coordinatord, each reported next to a baseline measured in
# the same run, as ratios. Nothing here is asserted: it prints a report.
#
#   bench/run.sh [BUILD_DIR]
#
# Environment: BENCH_TASKS (default 2000), BENCH_HISTORY (default 1000000).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tasks=${BENCH_TASKS:-2000}
big=${BENCH_HISTORY:-1000000}
small=1000
ninja -C "$build" >/dev/null

daemon="$build/daemon/coordinatord"
bench="$build/bench/coordbench"
mkhistory="$build/bench/mkhistory"
work=$(mktemp -d /tmp/coordbench.XXXXXX)
export COORD_SOCKET="$work/s.sock"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# start STATE_DIR CONFIG: starts the daemon; $started: seconds until it answered.
start() {
	t0=$(now)
	"$daemon" --state-dir "$1" --config "$2" 2>>"$work/daemon.log" &
	pid=$!
	until "$bench" ping 1 >/dev/null 2>&1; do sleep 0.01; done
	started=$(calc "$(now) - $t0")
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }

conf() { # conf FILE DURABILITY
	cat > "$1" <<CONF
[daemon]
durability = $2
log_level = warning
[mode:async]
max_concurrency = $(nproc)
CONF
}
conf "$work/normal.conf" normal
cat >> "$work/normal.conf" <<CONF
[mode:one]
max_concurrency = 1
max_queue = 1000000
CONF
conf "$work/full.conf" full

echo "coordinatord benchmarks ($(nproc) cores, $tasks tasks of \`true\`)"
echo

echo "1. Per-task cost against the floor (spawning the process yourself)"
spawn=$("$bench" spawn "$tasks" "$(nproc)" | awk '{ print $3 }')
start "$work/s1" "$work/normal.conf"
rtt=$("$bench" ping 2000 | awk '{ print $3 }')
line=$("$bench" submit "$tasks" 256)
stop
accept=$(echo "$line" | field accept)
complete=$(echo "$line" | field complete)
printf "   %-44s %10s\n" "posix_spawn+wait, $(nproc) at a time (baseline)" "$(calc "$spawn / $tasks * 1e6") us/task"
printf "   %-44s %10s  %s\n" "through coordinatord, submit to closed" "$(calc "$complete / $tasks * 1e6") us/task" "ratio $(calc "$complete / $spawn")"
printf "   %-44s %10s  %s\n" "submit accepted (pipelined, 256 in flight)" "$(calc "$accept / $tasks * 1e6") us/task" "ratio to spawn $(calc "$accept / $spawn")"
printf "   %-44s %10s\n" "ping round trip (sequential)" "$(calc "$rtt / 2000 * 1e6") us"
echo

echo "2. Durability: normal (survives kill -9) against full (survives power loss)"
start "$work/s2" "$work/normal.conf"
n_accept=$("$bench" submit "$tasks" 1 | field accept)
stop
start "$work/s3" "$work/full.conf"
f_accept=$("$bench" submit "$tasks" 1 | field accept)
stop
printf "   %-44s %10s\n" "normal, one submit at a time (baseline)" "$(calc "$n_accept / $tasks * 1e6") us/submit"
printf "   %-44s %10s  %s\n" "full, one submit at a time" "$(calc "$f_accept / $tasks * 1e6") us/submit" "ratio $(calc "$f_accept / $n_accept")"
echo

echo "3. Adding to a growing queue: 50000 tasks behind one that never ends"
start "$work/q" "$work/normal.conf"
"$build/client/coordctl" submit --mode one -- sleep 3600 >/dev/null
first=$("$bench" enqueue 10000 256 one | field accept)
for i in 2 3 4; do "$bench" enqueue 10000 256 one >/dev/null; done
last=$("$bench" enqueue 10000 256 one | field accept)
queued_rss=$(rss_kib)
stop
printf "   %-44s %10s\n" "10000 submits into an empty queue (baseline)" "$(calc "$first / 10000 * 1e6") us/submit"
printf "   %-44s %10s  %s\n" "10000 submits behind 40000 queued" "$(calc "$last / 10000 * 1e6") us/submit" "ratio $(calc "$last / $first")"
printf "   %-44s %10s\n" "memory with 50000 queued (RSS)" "$queued_rss KiB"
echo

echo "4. A big history: $big jobs against $small (the baseline)"
for n in $small $big; do
	mkdir -p "$work/h$n"
	t0=$(now)
	"$mkhistory" "$work/h$n" "$n"
	echo "   (made a history of $n jobs in $(calc "$(now) - $t0") s)"
done
for n in $small $big; do
	start "$work/h$n" "$work/normal.conf"
	eval "start_$n=$started"
	eval "rss_$n=$(rss_kib)"
	line=$("$bench" status 200)
	eval "page_$n=$(echo "$line" | field page)"
	eval "run_$n=$(echo "$line" | field run)"
	eval "prefix_$n=$(echo "$line" | field prefix)"
	eval "since_$n=$(echo "$line" | field since)"
	eval "sub_$n=$("$bench" submit 500 1 | field accept)"
	eval "rss2_$n=$(rss_kib)"
	stop
done
row() { # row LABEL SMALL BIG UNIT SCALE
	printf "   %-30s %12s %12s  ratio %s\n" "$1" "$(calc "$2 * $5")$4" "$(calc "$3 * $5")$4" "$(calc "$3 / $2")"
}
printf "   %-30s %12s %12s\n" "" "$small jobs" "$big jobs"
row "start-up until it answers" "$(eval echo \$start_$small)" "$(eval echo \$start_$big)" " s" 1
row "status page (100 newest)" "$(eval echo \$page_$small)" "$(eval echo \$page_$big)" " us" "1e6/200"
row "status page of one run" "$(eval echo \$run_$small)" "$(eval echo \$run_$big)" " us" "1e6/200"
row "status by id prefix" "$(eval echo \$prefix_$small)" "$(eval echo \$prefix_$big)" " us" "1e6/200"
row "status of a one-second window" "$(eval echo \$since_$small)" "$(eval echo \$since_$big)" " us" "1e6/200"
row "submit, one at a time" "$(eval echo \$sub_$small)" "$(eval echo \$sub_$big)" " us" "1e6/500"
row "memory after start (RSS)" "$(eval echo \$rss_$small)" "$(eval echo \$rss_$big)" " KiB" 1
row "memory after 500 submits" "$(eval echo \$rss2_$small)" "$(eval echo \$rss2_$big)" " KiB" 1
