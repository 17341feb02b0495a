#!/bin/sh
# systemd-analyze on the units in systemd/: "verify" (system and user units,
# and the sysusers.d file through systemd-sysusers --root)
# or "security" (the system service's exposure, at most THRESHOLD tenths).
# The templates are filled in with the built coordinatord, so verify checks
# that ExecStart= names a real executable. A clean verify prints nothing:
# any line it prints about our units fails the test. Exit 77 (skip) only
# when systemd-analyze is not installed.
#
# usage: verify-units.sh verify|security SRCDIR COORDINATORD [THRESHOLD]
set -u

what=$1
src=$2
daemon=$3
threshold=${4:-49}

command -v systemd-analyze >/dev/null 2>&1 || {
	echo "systemd-analyze is not installed: skipping"
	exit 77
}

tmp=$(mktemp -d /tmp/coordsdverify.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/system" "$tmp/user" "$tmp/runtime"
chmod 0700 "$tmp/runtime"

fill() {
	sed -e "s|@SBINDIR@|$(dirname "$daemon")|g" \
		-e "s|@SYSCONFDIR@/coordinator/coordinatord.conf|$src/coordinatord.conf|g" \
		-e "s|@SYSCONFDIR@|/etc|g" "$1" >"$2"
	if grep -n '@[A-Z]*@' "$2"; then
		echo "FAIL: $1 has a placeholder that systemd/meson.build does not fill in"
		exit 1
	fi
}
fill "$src/coordinatord.service.in" "$tmp/system/coordinatord.service"
cp "$src/coordinatord.socket" "$tmp/system/"
fill "$src/user/coordinatord.service.in" "$tmp/user/coordinatord.service"
cp "$src/user/coordinatord.socket" "$tmp/user/"

# Runs systemd-analyze; fails on a non-zero status or on any line about our units.
check() {
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out"
	if [ $rc -ne 0 ]; then
		echo "FAIL: $* exited with $rc"
		exit 1
	fi
	if printf '%s\n' "$out" | grep -q -e coordinatord -e coordinator -e "$tmp"; then
		echo "FAIL: $* complained about our units"
		exit 1
	fi
}

case $what in
verify)
	check systemd-analyze verify --man=no \
		"$tmp/system/coordinatord.service" "$tmp/system/coordinatord.socket"
	echo "system units: verify is clean"
	# A user manager needs a runtime directory; give it a private one.
	XDG_RUNTIME_DIR=$tmp/runtime check systemd-analyze --user verify --man=no \
		"$tmp/user/coordinatord.service" "$tmp/user/coordinatord.socket"
	echo "user units: verify is clean"
	# sysusers.d: creates the user and group in an empty root.
	mkdir -p "$tmp/root/etc"
	systemd-sysusers --root="$tmp/root" "$src/coordinator.sysusers" || {
		echo "FAIL: systemd-sysusers refused coordinator.sysusers"
		exit 1
	}
	if ! grep -q '^coordinator:x:[0-9]*:[0-9]*:.*:/var/lib/coordinator:' "$tmp/root/etc/passwd" ||
		! grep -q '^coordinator:x:' "$tmp/root/etc/group"; then
		echo "FAIL: sysusers did not create the coordinator user and group"
		exit 1
	fi
	;;
security)
	systemd-analyze security --offline=yes --no-pager --threshold="$threshold" \
		"$tmp/system/coordinatord.service"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: exposure above $threshold/10 (see docs/systemd.md before relaxing the sandbox)"
		exit 1
	fi
	;;
*)
	echo "usage: $0 verify|security SRCDIR COORDINATORD [THRESHOLD]" >&2
	exit 2
	;;
esac
exit 0
