#!/bin/sh
# Forgets USER_PID as a user of the test Slurm started by slurm-up.sh and,
# once no live user is left, stops slurmd, slurmctld and (if slurm-up.sh
# started it) munged by the pids in their pid files, and removes the
# slurm.conf it wrote. With --controller, stops only slurmctld (a test of
# a controller outage; slurm-up.sh starts it again); --controller-state
# also wipes its saved state, so that it comes back knowing no job.
# Usage: slurm-down.sh USER_PID | --controller | --controller-state
set -eu

FIX=/var/lib/slurm/coord-test
CONF=/etc/slurm/slurm.conf
MARK="# Written by coordinatord's tests/slurm/slurm-up.sh; slurm-down.sh removes it."

[ -d "$FIX/users" ] || exit 0
exec 9>"$FIX/lock"
flock -w 50 9

# stop PIDFILE COMM: SIGTERM to the pid in PIDFILE if it runs as COMM, then
# wait for it to go (SIGKILL after 10 s).
stop() {
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	i=0
	while [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; do
		[ $i -eq 0 ] && kill -TERM "$pid" 2>/dev/null
		[ $i -eq 100 ] && kill -KILL "$pid" 2>/dev/null
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$1"
}

case "${1:-}" in
--controller)
	stop "$FIX/slurmctld.pid" slurmctld
	exit 0
	;;
--controller-state)
	stop "$FIX/slurmctld.pid" slurmctld
	rm -rf "${FIX:?}/ctld"
	exit 0
	;;
esac
user_pid=${1:?usage: slurm-down.sh USER_PID | --controller | --controller-state}
rm -f "$FIX/users/$user_pid"
for f in "$FIX"/users/*; do
	[ -e "$f" ] || continue
	if kill -0 "${f##*/}" 2>/dev/null; then
		exit 0 # someone else still uses it
	fi
	rm -f "$f"
done

stop "$FIX/slurmd.pid" slurmd
stop "$FIX/slurmctld.pid" slurmctld
if [ -e "$FIX/munged.ours" ]; then
	stop /run/munge/munged.pid munged
	rm -f "$FIX/munged.ours"
fi
if [ -e "$CONF" ] && grep -qF "$MARK" "$CONF"; then
	rm -f "$CONF"
fi
