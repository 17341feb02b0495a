#!/bin/sh
# Builds the libFuzzer target with clang (ASan + UBSan) in its own build
# dir and fuzzes the request path for a bounded time; fails on a crash.
#   sh tests/fuzz/run-fuzz.sh [SECONDS] [-- LIBFUZZER_OPTION...]
# SECONDS defaults to $FUZZ_SECONDS, else 60. The build dir is $FUZZ_BUILD
# (default build-fuzz); what the fuzzer learns stays in its fuzz-corpus/,
# crash inputs go to its fuzz-artifacts/. See docs/testing.md.
set -eu
cd "$(dirname "$0")/../.."
build=${FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
	seconds=$1
	shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift

if [ ! -d "$build" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null
fi
ninja -C "$build" tests/fuzz/fuzz-rpc

work="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts/"
mkdir -p "$work" "$artifacts"
# Leaks: checked once at exit (LSan), not after every input, which halves the speed.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
status=0
"$build/tests/fuzz/fuzz-rpc" -max_total_time="$seconds" -max_len=8192 -timeout=60 -detect_leaks=0 \
	-dict=tests/fuzz/rpc.dict -artifact_prefix="$artifacts" -print_final_stats=1 \
	"$@" "$work" tests/fuzz/corpus tests/fuzz/regressions || status=$?
if [ "$status" -ne 0 ]; then
	echo "fuzz-rpc failed (status $status); the input that broke it is in $artifacts:" >&2
	ls -t "$artifacts" | head -5 >&2
	echo "replay: $build/tests/fuzz/fuzz-rpc $artifacts<file>; keep it as a regression:" >&2
	echo "  cp $artifacts<file> tests/fuzz/regressions/<what-it-breaks> (docs/testing.md)" >&2
fi
exit "$status"
