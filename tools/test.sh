#!/bin/sh
# Runs every test: a warning-free build, all Check suites, the format check,
# the suites again under ASan+UBSan, and the unit suites under valgrind.
set -eu
cd "$(dirname "$0")/.."
sh tools/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

# tally LOG: adds the Check results ("Checks: N, Failures: F, Errors: E")
# of one meson test run, and the non-Check tests (meson's OK/FAIL lines).
tally() {
	set -- $(awk '
		/Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
			gsub(/[,%]/, " ")
			for (i = 1; i <= NF; i++) {
				if ($i == "Checks:") c += $(i + 1)
				if ($i == "Failures:") f += $(i + 1)
				if ($i == "Errors:") f += $(i + 1)
			}
		}
		END { print c + 0, f + 0 }' "$1")
	passed=$((passed + $1 - $2))
	failed=$((failed + $2))
}

echo "== build (werror) and every suite"
[ -d build-test ] || meson setup build-test --werror >/dev/null
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes "$jobs"
tally build-test/meson-logs/testlog.txt

echo "== clang-format"
ninja -C build-test clang-format-check

echo "== ASan + UBSan"
[ -d build-asan ] || meson setup build-asan --werror -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes "$jobs"
tally build-asan/meson-logs/testlog.txt

echo "== valgrind (unit suites)"
meson test -C build-test --setup valgrind --suite unit --print-errorlogs --num-processes "$jobs"
tally build-test/meson-logs/testlog-valgrind.txt

echo "== example program against the installed libcoord"
if [ -x examples/build-example.sh ]; then
	sh examples/build-example.sh build-test
fi
echo "all tests passed (Check tests counted once per run: plain, ASan+UBSan, valgrind)"
echo "$passed passed, $failed failed"
