# lib.sh — shared by the integration tests: a private work directory removed on exit, the
# programs under test, and helpers. Source it; set "need" tools before calling setup.
set -euo pipefail

: "${PCAPFSCTL:?PCAPFSCTL must point at the pcapfsctl binary}"
: "${PCAPFS_GEN:?PCAPFS_GEN must point at the pcapfs-gen binary}"
: "${TESTS_DIR:?TESTS_DIR must point at tests/integration}"

T=$(mktemp -d /tmp/pcapfs-test.XXXXXX)
# Tests add their own clean-up steps with on_exit; they run before the work directory goes,
# and never change the exit status of the test.
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS+=("$1"); }
cleanup() {
	local rc=$? h
	for h in "${EXIT_HOOKS[@]}"; do eval "$h" >/dev/null 2>&1 || true; done
	# Kill whatever the test left running in the background.
	jobs -p | xargs -r kill -9 2>/dev/null || true
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

SPOOL=$T/spool
ctl() { "$PCAPFSCTL" --spool "$SPOOL" "$@"; }

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

need() {
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
}

# Run a command that must fail; its stderr must match the extended regex $1.
expect_fail() {
	local pattern=$1
	shift
	local out rc=0
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	[ $rc -ne 0 ] || fail "expected failure: $*"
	echo "$out" | grep -Eq -- "$pattern" || fail "message of '$*' does not match /$pattern/: $out"
	pass "refused: $* -> $(echo "$out" | head -1)"
}

# Register the devices of a pcapfs-gen registry TSV: the first line of a device adds it,
# later lines add further bindings with their validity interval.
register_devices() {
	local tsv=$1 dev kind addr from until vlan opt
	declare -A seen=()
	while IFS=$'\t' read -r dev kind addr from until vlan; do
		case $dev in ''|'#'*|device) continue ;; esac
		case $kind in mac) opt=--mac ;; ipv4|ipv6) [[ $addr == */* ]] && opt=--net || opt=--ip ;; *) fail "bad kind $kind" ;; esac
		local args=("$opt" "$addr")
		[ "$from" = - ] || args+=(--from "$from")
		[ "$until" = - ] || args+=(--until "$until")
		if [ -z "${seen[$dev]:-}" ]; then
			ctl device add "$dev" "${args[@]}" --owner root --tag generated
			seen[$dev]=1
		else
			ctl device set "$dev" "${args[@]}"
		fi
	done <"$tsv"
}

# Compare two pcap files after their 24-byte global headers.
same_records() {
	cmp -s <(tail -c +25 "$1") <(tail -c +25 "$2")
}

# Size of a file in bytes.
fsize() { stat -c %s "$1"; }

# Make kernel auditing usable: auditd running, auditing enabled. Returns 1 when this machine
# cannot (no kernel support, no auditd); the previous enabled state is restored on exit.
ensure_audit() {
	command -v auditctl >/dev/null || return 1
	auditctl -s >/dev/null 2>&1 || return 1
	local was
	was=$(auditctl -s | awk '$1 == "enabled" {print $2}')
	on_exit "auditctl -e ${was:-1}"
	if [ "$(auditctl -s | awk '$1 == "pid" {print $2}')" = 0 ]; then
		command -v auditd >/dev/null || return 1
		auditd || return 1
		sleep 1
	fi
	auditctl -e 1 >/dev/null || return 1
}

# The filesystem under test on $SPOOL at $T/mnt (MNT), in the foreground with -o OPTIONS,
# its messages appended to $T/fs.log and its pid in FS_PID; returns once it is mounted.
# The mount point's parents are opened to other users (the tests read as them).
MNT=$T/mnt
mount_pcapfs() { # OPTIONS
	chmod 755 "$T"
	mkdir -p "$MNT"
	"$PCAPFS" "$SPOOL" "$MNT" -f -o "$1" 2>>"$T/fs.log" &
	FS_PID=$!
	for _ in $(seq 1 100); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
	fail "mount did not appear: $(cat "$T/fs.log")"
}
# Unmount and wait for the daemon to end; files still open fail the test, and so does a
# daemon that exits with an error or reports one of the sanitizers' findings (builds with
# -Db_sanitize).
umount_pcapfs() {
	fusermount3 -u "$MNT" || fail "cannot unmount $MNT (files still open?)"
	local rc=0
	wait "$FS_PID" 2>/dev/null || rc=$?
	[ $rc -eq 0 ] || fail "pcapfs exited with status $rc: $(tail -5 "$T/fs.log")"
	! grep -Eq "runtime error:|AddressSanitizer|LeakSanitizer" "$T/fs.log" ||
		fail "pcapfs: $(grep -E -A5 "runtime error:|AddressSanitizer|LeakSanitizer" "$T/fs.log" | head -20)"
}
# For on_exit: unmount whatever is still open, without waiting for it (the daemon goes with
# the test's other background jobs).
umount_pcapfs_at_exit() {
	mountpoint -q "$MNT" || return 0
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
}
