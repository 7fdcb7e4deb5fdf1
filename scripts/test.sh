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
	# meson's per-test lines: " 1/12 pcapfs:unit / window   OK   0.01s"
	local log=$1
	P=$((P + $(grep -Ec '^ *[0-9]+/[0-9]+ .* (OK|EXPECTEDFAIL) ' "$log" || true)))
	F=$((F + $(grep -Ec '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS) ' "$log" || true)))
	S=$((S + $(grep -Ec '^ *[0-9]+/[0-9]+ .* SKIP ' "$log" || true)))
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
