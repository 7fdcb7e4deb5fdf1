#!/bin/bash
# The whole test suite: install dependencies, build with warnings as errors, run the unit,
# fuzz-corpus and integration suites; then the unit and fuzz suites again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Prints one closing line
# "tests: N passed, N failed, N skipped". Idempotent; build trees live in build/ and
# build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

summarize() {
	# meson's per-test lines: " 1/12 pcapfs:unit / window   OK   0.01s"; a failed test's
	# line comes again under "Summary of Failures", so tests are counted by their number.
	local log=$1
	count() { { grep -E "^ *[0-9]+/[0-9]+ .* ($1) " "$log" || true; } | awk '{print $1}' | sort -u | wc -l; }
	P=$((P + $(count 'OK|EXPECTEDFAIL')))
	F=$((F + $(count 'FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS')))
	S=$((S + $(count 'SKIP')))
}
P=0 F=0 S=0
rc=0

if [ ! -d build ]; then
	meson setup build
fi
meson compile -C build
meson test -C build --print-errorlogs --num-processes 2 2>&1 | tee build/test-run.log || rc=1
summarize build/test-run.log

if [ ! -d build-asan ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Dtests_integration=false
fi
meson compile -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 2>&1 | tee build-asan/test-run.log || rc=1
summarize build-asan/test-run.log

echo "tests: $P passed, $F failed, $S skipped"
[ $F -eq 0 ] || rc=1
exit $rc
