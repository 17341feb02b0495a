#!/bin/sh
# Installs the Debian 12 packages coordinatord needs to build, test and run.
# Idempotent: does nothing when they are all present. Needs root or sudo.
set -eu

PACKAGES="
	meson ninja-build pkg-config gcc make git
	libevent-dev libjson-c-dev libsqlite3-dev libinih-dev libsystemd-dev uuid-dev
	check valgrind clang-format scdoc socat sqlite3
	clang libclang-rt-14-dev llvm
	systemd util-linux procps
	slurm-wlm munge
	python3 python3-pytest python3-venv python3-setuptools python3-wheel
	python3-setuptools-whl python3-wheel-whl mypy
	chromium
	task-spooler nq gnuplot-nox
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "installing:$missing"
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
