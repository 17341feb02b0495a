#!/bin/sh
# Starts a private single-node Slurm for the tests (munged, slurmctld,
# slurmd, as shared/design/slurm.md describes), or reuses the one already
# up, and records USER_PID as one of its users: slurm-down.sh stops the
# daemons when the last user is gone, and a watcher runs it by itself once
# USER_PID has exited, however it ended. Exit 77: cannot run here (not
# root, no Slurm). Usage: slurm-up.sh USER_PID
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
FIX=/var/lib/slurm/coord-test
CONF=/etc/slurm/slurm.conf
MARK="# Written by coordinatord's tests/slurm/slurm-up.sh; slurm-down.sh removes it."

user_pid=${1:?usage: slurm-up.sh USER_PID}

if [ "$(id -u)" -ne 0 ]; then
	echo "slurm-up: needs root (writes $CONF, starts munged, slurmctld, slurmd)" >&2
	exit 77
fi
for p in /usr/sbin/munged /usr/sbin/mungekey /usr/sbin/slurmctld /usr/sbin/slurmd \
	/usr/bin/sinfo /usr/bin/sbatch; do
	if [ ! -x "$p" ]; then
		echo "slurm-up: $p is missing (apt-get install slurm-wlm munge)" >&2
		exit 77
	fi
done

mkdir -p "$FIX/users"
exec 9>"$FIX/lock"
flock -w 50 9

# alive PIDFILE COMM: the pid in PIDFILE runs as COMM (pid files go stale).
alive() {
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	[ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

write_conf() {
	if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
		echo "slurm-up: $CONF exists and is not ours; refusing to replace it" >&2
		exit 1
	fi
	host=$(hostname -s)
	cpus=$(nproc)
	mem=$(awk '/^MemTotal:/ { print int($2 / 1024) - 256 }' /proc/meminfo)
	mkdir -p /etc/slurm
	cat >"$CONF.tmp" <<CONF
$MARK
ClusterName=coordtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$FIX/ctld
SlurmdSpoolDir=$FIX/slurmd
SlurmctldPidFile=$FIX/slurmctld.pid
SlurmdPidFile=$FIX/slurmd.pid
SlurmctldLogFile=$FIX/slurmctld.log
SlurmdLogFile=$FIX/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$FIX/jobcomp.txt
MailProg=/bin/true
ReturnToService=2
MinJobAge=60
SchedulerParameters=batch_sched_delay=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
# Jobs sent here stay pending (PartitionDown): for tests of jobs Slurm does not start.
PartitionName=coordheld Nodes=$host MaxTime=INFINITE State=DOWN
CONF
	if cmp -s "$CONF.tmp" "$CONF"; then
		rm -f "$CONF.tmp"
	else
		mv "$CONF.tmp" "$CONF"
		conf_changed=1
	fi
}

# A controller already up with an older slurm.conf reads the new one.
reconfigure() {
	if [ -n "$conf_changed" ] && [ -n "$ctld_was_up" ]; then
		scontrol reconfigure
	fi
}

start_munged() {
	if alive /run/munge/munged.pid munged; then
		return
	fi
	if [ ! -s /etc/munge/munge.key ]; then
		mkdir -p /etc/munge
		mungekey --create --keyfile=/etc/munge/munge.key
	fi
	chown munge:munge /etc/munge/munge.key
	chmod 0400 /etc/munge/munge.key
	mkdir -p /run/munge /var/log/munge /var/lib/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge
	runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1 9>&-
	: >"$FIX/munged.ours"
}

start_slurm() {
	fresh=
	alive "$FIX/slurmd.pid" slurmd || fresh=-c
	mkdir -p "$FIX/ctld" "$FIX/slurmd"
	chown slurm:slurm "$FIX" "$FIX/ctld"
	if ! alive "$FIX/slurmctld.pid" slurmctld; then
		# -c: a fresh fixture forgets the jobs of earlier runs.
		/usr/sbin/slurmctld $fresh </dev/null >>"$FIX/start.log" 2>&1 9>&-
	fi
	if ! alive "$FIX/slurmd.pid" slurmd; then
		/usr/sbin/slurmd </dev/null >>"$FIX/start.log" 2>&1 9>&-
	fi
}

wait_idle() {
	i=0
	while [ $i -lt 150 ]; do
		state=$(sinfo -h -N -p debug -o %T 2>/dev/null || true)
		case "$state" in
		idle | mixed | allocated) return 0 ;; # not idle*: not responding
		esac
		sleep 0.2
		i=$((i + 1))
	done
	echo "slurm-up: the node did not become idle (sinfo: '$state'); see $FIX/*.log" >&2
	tail -n 20 "$FIX/slurmctld.log" "$FIX/slurmd.log" >&2 2>/dev/null || true
	return 1
}

# watch USER_PID: slurm-down.sh once it is gone, so nothing outlives a
# test that was killed.
watch() {
	[ -e "$FIX/users/$user_pid" ] && return
	: >"$FIX/users/$user_pid"
	(
		while kill -0 "$user_pid" 2>/dev/null; do
			sleep 1
		done
		exec sh "$HERE/slurm-down.sh" "$user_pid"
	) </dev/null >/dev/null 2>&1 9>&- &
}

conf_changed=
ctld_was_up=
alive "$FIX/slurmctld.pid" slurmctld && ctld_was_up=1
write_conf
start_munged
start_slurm
reconfigure
wait_idle
watch
