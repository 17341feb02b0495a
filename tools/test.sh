#!/bin/sh
# Runs every test: a warning-free fortified build, all Check suites, the soak suite,
# the Python client's pytest, the quick benchmark (every figure runs; no time is asserted), the
# format check, the suites again under ASan+UBSan (with a shorter soak), the unit suites under
# valgrind, and a bounded libFuzzer run (clang).
# FUZZ_SECONDS (default 45) bounds the fuzzing; see docs/testing.md.
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

# tally_pytest LOG: adds pytest's closing summary ("3 passed, 1 failed, 2 skipped, 1 error in
# 4.2s"); skipped tests count as neither.
tally_pytest() {
	set -- $(awk '
		/ in [0-9.]+s/ && /(passed|failed|error)/ {
			p = f = 0
			gsub(/[=,]/, " ")
			for (i = 2; i <= NF; i++) {
				if ($i == "passed") p = $(i - 1)
				if ($i == "failed" || $i == "error" || $i == "errors") f += $(i - 1)
			}
		}
		END { print p + 0, f + 0 }' "$1")
	passed=$((passed + $1))
	failed=$((failed + $2))
}

# step NAME: prints how long the step started last took, and starts timing NAME.
step_name=""
step_start=0
step() {
	now=$(date +%s)
	[ -n "$step_name" ] && echo "== $step_name took $((now - step_start)) s"
	step_name=$1
	step_start=$now
	[ -n "$1" ] && echo "== $1"
	return 0
}

# Fortified: glibc's fortified headers warn about ignored results (asprintf) that a plain
# build allows, and check buffer sizes at run time in every suite below.
step "build (werror, -D_FORTIFY_SOURCE=2)"
[ -d build-test ] || meson setup build-test --werror -Dc_args=-D_FORTIFY_SOURCE=2 >/dev/null
ninja -C build-test

step "every suite but soak"
meson test -C build-test --print-errorlogs --num-processes "$jobs" --no-suite soak
tally build-test/meson-logs/testlog.txt

# Alone, so that nothing else competes with its 50 clients. 600 submits per
# client keep CI under its time budget; COORD_SOAK_SUBMITS=2000 is the long run.
soak_submits=${COORD_SOAK_SUBMITS:-600}
step "soak (50 clients x $soak_submits submits, a SIGKILL and a restart)"
COORD_SOAK_SUBMITS=$soak_submits meson test -C build-test --print-errorlogs --suite soak
tally build-test/meson-logs/testlog.txt
grep "^soak: " build-test/meson-logs/testlog.txt || true

step "Python client: pytest against build-test's daemon (tests/python)"
# Debian's pytest-3 runs on /usr/bin/python3, whatever python3 comes first in PATH.
pytest_rc=0
COORDINATORD="$PWD/build-test/daemon/coordinatord" COORDCTL="$PWD/build-test/client/coordctl" \
	COORD_BUILD_DIR="$PWD/build-test" \
	pytest-3 -p no:cacheprovider -q -rs tests/python >build-test/pytest.log 2>&1 || pytest_rc=$?
cat build-test/pytest.log
failed_before=$failed
tally_pytest build-test/pytest.log
# A pytest that failed without a summary (it crashed, or was interrupted) still counts.
[ "$pytest_rc" -eq 0 ] || [ "$failed" -gt "$failed_before" ] || failed=$((failed + 1))

# Every figure runs and prints numbers (tsp and nq rows included); no time is asserted.
step "benchmark, quick (bench/run --quick: every figure runs, no time asserted)"
timeout 900 sh bench/run --quick --no-build build-test || {
	echo "bench/run --quick failed"
	failed=$((failed + 1))
}

step "clang-format"
ninja -C build-test clang-format-check

step "layers (no upward call, no call cycle between daemon files; docs/architecture.md)"
python3 tools/deps-check.py build-test

step "ASan + UBSan"
[ -d build-asan ] || meson setup build-asan --werror -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug >/dev/null
ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The browser suite drives coordctl web from chromium; web-http covers that code under ASan.
meson test -C build-asan --print-errorlogs --num-processes "$jobs" --no-suite soak --no-suite browser
tally build-asan/meson-logs/testlog.txt

step "soak under ASan + UBSan (50 clients x 200 submits)"
COORD_SOAK_SUBMITS=200 meson test -C build-asan --print-errorlogs --suite soak
tally build-asan/meson-logs/testlog.txt
unset ASAN_OPTIONS UBSAN_OPTIONS

step "valgrind (unit suites)"
meson test -C build-test --setup valgrind --suite unit --print-errorlogs --num-processes "$jobs"
tally build-test/meson-logs/testlog-valgrind.txt

step "fuzz the request path (clang, libFuzzer, ${FUZZ_SECONDS:-45} s)"
sh tests/fuzz/run-fuzz.sh "${FUZZ_SECONDS:-45}" >build-test/fuzz-run.log 2>&1 || {
	tail -n 60 build-test/fuzz-run.log
	exit 1
}
grep -E "^(Done|stat::)" build-test/fuzz-run.log || true

step "example program against the installed libcoord"
if [ -x examples/build-example.sh ]; then
	sh examples/build-example.sh build-test
fi
step ""
[ "$failed" -ne 0 ] ||
	echo "all tests passed (Check tests counted once per run: plain, soak, ASan+UBSan, soak under ASan, valgrind; pytest once; the fuzz run is not counted)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
