#!/bin/sh
# Installs the project from a meson build dir into a temp prefix, then builds
# and runs examples/coord-example.c with `pkg-config --cflags --libs libcoord`.
# Usage: examples/build-example.sh [BUILD_DIR]   (default: ./build)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

meson install -C "$build" --destdir "$tmp/root" --quiet

pc=$(find "$tmp/root" -name libcoord.pc | head -n 1)
[ -n "$pc" ] || { echo "build-example: libcoord.pc was not installed" >&2; exit 1; }

# Point the installed .pc at the temp prefix instead of the configured one.
prefix=$(sed -n 's/^prefix=//p' "$pc")
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc" > "$tmp/pc/libcoord.pc"
export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

echo "pkg-config --cflags --libs libcoord: $(pkg-config --cflags --libs libcoord)"
mkdir -p "$tmp/ex"
cp "$here/coord-example.c" "$here/Makefile" "$tmp/ex/"
make -C "$tmp/ex" CFLAGS="-O2 -g -Wall -Wextra -Werror" coord-example

libdir=$(pkg-config --variable=libdir libcoord)
# Without a daemon the example must still load libcoord and say where it looked.
status=0
COORD_SOCKET="$tmp/no-daemon.sock" LD_LIBRARY_PATH="$libdir" "$tmp/ex/coord-example" \
	> "$tmp/out" 2>&1 || status=$?
cat "$tmp/out"
if [ "$status" -ne 69 ] || ! grep -q "$tmp/no-daemon.sock" "$tmp/out"; then
	echo "build-example: expected exit 69 naming the socket, got $status" >&2
	exit 1
fi
echo "build-example: OK"
