#!/bin/sh
# Benchmarks of coordinatord, each reported next to a baseline measured in
# the same run, as ratios. Nothing here is asserted: it prints a report.
#
#   bench/run.sh [BUILD_DIR]
#
# Environment: BENCH_TASKS (default 2000), BENCH_HISTORY (default 1000000),
# BENCH_CLIENTS (tasks submitted one client process each, default 1000),
# BENCH_SUBSCRIBERS (default 1000), BENCH_REPEAT (pairs of sections 1, 5
# and 6, default 1), BENCH_ONLY (the sections to run, default all:
# "1 2 3 4 5 6 7"), BENCH_NO_BUILD (set: do not run ninja first),
# BENCH_PLOT (a PNG file for a gnuplot chart of section 5, if gnuplot is
# installed).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tasks=${BENCH_TASKS:-2000}
clients=${BENCH_CLIENTS:-1000}
subscribers=${BENCH_SUBSCRIBERS:-1000}
repeat=${BENCH_REPEAT:-1}
only=${BENCH_ONLY:-1 2 3 4 5 6 7}
big=${BENCH_HISTORY:-1000000}
small=1000
[ -n "${BENCH_NO_BUILD:-}" ] || ninja -C "$build" >/dev/null

daemon="$build/daemon/coordinatord"
bench="$build/bench/coordbench"
mkhistory="$build/bench/mkhistory"
work=$(mktemp -d /tmp/coordbench.XXXXXX)
export COORD_SOCKET="$work/s.sock"
coordctl="$build/client/coordctl"
pid=
echo_pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null
	TS_SOCKET="$work/tsp.sock" tsp -K >/dev/null 2>&1 || true
	rm -rf "$work"
}
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
# The daemon's own CPU so far (utime + stime), in seconds.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$pid/stat"; }
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
[daemon]
max_connections = 4096
max_connections_per_uid = 4096
CONF
conf "$work/full.conf" full

section1() {
echo "1. Per-task cost against the floor (spawning the process yourself)"
line=$("$bench" spawn "$tasks" "$(nproc)")
spawn=$(echo "$line" | awk '{ print $3 }')
spawn_cpu=$(echo "$line" | field cpu)
start "$work/s1.$1" "$work/normal.conf"
rtt=$("$bench" ping 2000 | awk '{ print $3 }')
cpu0=$(cpu_s)
line=$("$bench" submit "$tasks" 256)
cpu1=$(cpu_s)
stop
accept=$(echo "$line" | field accept)
complete=$(echo "$line" | field complete)
printf "   %-44s %10s\n" "posix_spawn+wait, $(nproc) at a time (baseline)" "$(calc "$spawn / $tasks * 1e6") us/task"
printf "   %-44s %10s  %s\n" "through coordinatord, submit to closed" "$(calc "$complete / $tasks * 1e6") us/task" "ratio $(calc "$complete / $spawn") (speed $(calc "$spawn / $complete")x)"
printf "   %-44s %10s  %s\n" "submit accepted (pipelined, 256 in flight)" "$(calc "$accept / $tasks * 1e6") us/task" "ratio to spawn $(calc "$accept / $spawn")"
printf "   %-44s %10s\n" "ping round trip (sequential)" "$(calc "$rtt / 2000 * 1e6") us"
printf "   %-44s %10s\n" "CPU of the spawning loop itself (baseline)" "$(calc "$spawn_cpu / $tasks * 1e6") us/task"
printf "   %-44s %10s  %s\n" "CPU of coordinatord, submit to closed" "$(calc "($cpu1 - $cpu0) / $tasks * 1e6") us/task" "ratio $(calc "($cpu1 - $cpu0) / $spawn_cpu")"
echo
}

section2() {
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

}

section3() {
echo "3. Adding to a growing queue: 50000 tasks behind one that never ends"
start "$work/q" "$work/normal.conf"
"$coordctl" submit --mode one -- sleep 3600 >/dev/null
empty_rss=$(rss_kib)
first=$("$bench" enqueue 10000 256 one | field accept)
for i in 2 3 4; do "$bench" enqueue 10000 256 one >/dev/null; done
last=$("$bench" enqueue 10000 256 one | field accept)
queued_rss=$(rss_kib)
stop
printf "   %-44s %10s\n" "10000 submits into an empty queue (baseline)" "$(calc "$first / 10000 * 1e6") us/submit"
printf "   %-44s %10s  %s\n" "10000 submits behind 40000 queued" "$(calc "$last / 10000 * 1e6") us/submit" "ratio $(calc "$last / $first")"
printf "   %-44s %10s\n" "memory with 50000 queued (RSS)" "$queued_rss KiB"
printf "   %-44s %10s\n" "memory per queued task (RSS growth / 50000)" "$(calc "($queued_rss - $empty_rss) * 1024 / 50000") B"
echo

}

section4() {
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
echo
}

# One client process per task, the way people use tsp and nq from a shell.
section5() {
echo "5. One client process per task: $clients \`true\` until all are done"
start "$work/p.$1" "$work/normal.conf"
t0=$(now)
i=0
while [ $i -lt "$clients" ]; do "$coordctl" submit -- true; i=$((i + 1)); done > "$work/ids"
xargs "$coordctl" wait < "$work/ids" >/dev/null
t_coord=$(calc "$(now) - $t0")
t_pipe=$("$bench" submit "$clients" 256 | field complete)
stop
t_tsp=-1
if command -v tsp >/dev/null; then
	mkdir -p "$work/tsptmp"
	export TS_SOCKET="$work/tsp.sock" TS_SLOTS="$(nproc)" TS_MAXFINISHED=$((clients + 10))
	t0=$(now)
	i=0
	while [ $i -lt "$clients" ]; do TMPDIR="$work/tsptmp" tsp true >/dev/null; i=$((i + 1)); done
	tsp -w >/dev/null 2>&1 || true
	while tsp -l | grep -qE ' (running|queued) '; do sleep 0.01; done
	t_tsp=$(calc "$(now) - $t0")
	tsp -K >/dev/null 2>&1 || true
	unset TS_SOCKET TS_SLOTS TS_MAXFINISHED
fi
t_nq=-1
if command -v nq >/dev/null; then
	export NQDIR="$work/nq.$1"
	mkdir -p "$NQDIR"
	t0=$(now)
	i=0
	while [ $i -lt "$clients" ]; do nq -q true; i=$((i + 1)); done
	nq -w >/dev/null 2>&1 || true
	t_nq=$(calc "$(now) - $t0")
	unset NQDIR
fi
rate() { calc "$clients / $1"; }
printf "   %-44s %10s\n" "tsp true, $(nproc) slots (baseline)" "$(rate "$t_tsp") tasks/s"
printf "   %-44s %10s  %s\n" "coordctl submit -- true" "$(rate "$t_coord") tasks/s" "ratio $(calc "$t_tsp / $t_coord")"
printf "   %-44s %10s  %s\n" "nq true (runs one at a time)" "$(rate "$t_nq") tasks/s" "ratio $(calc "$t_tsp / $t_nq")"
printf "   %-44s %10s  %s\n" "libcoord, pipelined on one connection" "$(rate "$t_pipe") tasks/s" "ratio $(calc "$t_tsp / $t_pipe")"
echo "$1 $(rate "$t_tsp") $(rate "$t_coord") $(rate "$t_nq") $(rate "$t_pipe")" >> "$work/plot.dat"
echo
}

section6() {
echo "6. Latency: ping against a bare Unix-socket echo, p50 and p99"
"$bench" echoserve "$work/echo.$1.sock" &
echo_pid=$!
until [ -S "$work/echo.$1.sock" ]; do sleep 0.01; done
e=$("$bench" latency "$work/echo.$1.sock" 5000)
kill "$echo_pid"; wait "$echo_pid" 2>/dev/null || true; echo_pid=
start "$work/l.$1" "$work/normal.conf"
d=$("$bench" latency "$COORD_SOCKET" 5000)
l=$("$bench" loaded "$tasks" 256)
stop
us() { calc "$1 * 1e6"; }
printf "   %-30s %12s %12s %12s\n" "" "p50" "p99" "max"
printf "   %-30s %12s %12s %12s\n" "echo (baseline)" "$(us "$(echo "$e" | field p50)") us" "$(us "$(echo "$e" | field p99)") us" "$(us "$(echo "$e" | field max)") us"
printf "   %-30s %12s %12s %12s\n" "ping, idle daemon" "$(us "$(echo "$d" | field p50)") us" "$(us "$(echo "$d" | field p99)") us" "$(us "$(echo "$d" | field max)") us"
printf "   %-30s %12s %12s %12s\n" "ping while it spawns $tasks" "$(us "$(echo "$l" | field p50)") us" "$(us "$(echo "$l" | field p99)") us" "$(us "$(echo "$l" | field max)") us"
printf "   %-30s %12s %12s\n" "ratio idle ping / echo" "$(calc "$(echo "$d" | field p50) / $(echo "$e" | field p50)")" "$(calc "$(echo "$d" | field p99) / $(echo "$e" | field p99)")"
echo
}

section7() {
echo "7. Notifications: request_success of $tasks tasks to $subscribers subscribers against 1"
start "$work/n1" "$work/normal.conf"
c0=$(cpu_s)
"$bench" notify "$tasks" 1 >/dev/null
c1=$(cpu_s)
stop
start "$work/nS" "$work/normal.conf"
s0=$(cpu_s)
line=$("$bench" notify "$tasks" "$subscribers")
s1=$(cpu_s)
stop
delivered=$(echo "$line" | field delivered)
secs=$(echo "$line" | field seconds)
per_us=$(calc "(($s1 - $s0) - ($c1 - $c0)) * 1e6 / ($delivered - $tasks)")
printf "   %-44s %10s\n" "delivered" "$delivered in $secs s"
printf "   %-44s %10s\n" "delivered per second (wall, all on 2 cores)" "$(calc "$delivered / $secs")"
printf "   %-44s %10s\n" "daemon CPU per extra delivery" "$per_us us"
[ "$(calc "($per_us > 0)")" = 0.000 ] ||
	printf "   %-44s %10s\n" "deliveries per daemon CPU second" "$(calc "1e6 / $per_us")"
echo
}

plot() {
[ -n "${BENCH_PLOT:-}" ] && command -v gnuplot >/dev/null || return 0
gnuplot <<PLOT
set terminal png size 800,480
set output "$BENCH_PLOT"
set title "$clients true tasks, one client process per task ($(nproc) cores)"
set ylabel "tasks/s"
set xlabel "repeat"
set style data linespoints
plot "$work/plot.dat" using 1:2 title "tsp", "" using 1:3 title "coordctl submit", "" using 1:4 title "nq", "" using 1:5 title "libcoord pipelined"
PLOT
echo "(chart written to $BENCH_PLOT)"
}

echo "coordinatord benchmarks ($(nproc) cores, $tasks tasks of \`true\`)"
echo
for s in $only; do
	case $s in
	1 | 5 | 6) r=1; while [ $r -le "$repeat" ]; do "section$s" "$r"; r=$((r + 1)); done ;;
	*) "section$s" 1 ;;
	esac
done
plot
