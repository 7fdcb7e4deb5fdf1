#!/bin/bash
# pcapfs-captured with its spool on a small tmpfs:
#  1. with --min-free, retention removes the oldest sealed segments (each removal logged)
#     and capture never stops;
#  2. without any retention limit, a full disk pauses capture with a clear log line,
#     capture resumes by itself when space is freed, and the spool is never corrupted
#     (verify is clean after SIGTERM).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/capture-lib.sh"

"$PCAPFS_GEN" --packets 60000 --devices 20 --seed 21 --duration 30 --start $(($(date +%s) - 3600)) \
	-o "$T/gen.pcap" --registry "$T/devices.tsv"
veth_add 1

mount_spool() {
	mkdir -p "$SPOOL"
	mount -t tmpfs -o "size=$1" pcfs-test "$SPOOL" || skip "cannot mount a tmpfs"
	on_exit "umount -l $SPOOL"
	ctl --quiet init --segment-seconds 60 --segment-size 1M
	register_devices "$T/devices.tsv" >/dev/null
}
used_pct() { df --output=pcent "$SPOOL" | tail -1 | tr -dc 0-9; }

# ---- 1. retention keeps 30 % free ---------------------------------------------------------
SPOOL=$T/spool1
LOG=$T/captured1.log
mount_spool 24m
start_captured "$LOG" -i b1 --min-free 30 --retention-interval 200ms
replay 1 "$T/gen.pcap" --pps 15000 --loop 2 # ~50 MB into 24 MB
sleep 1
wait_log "$LOG" 'retention: removed segment .*below --min-free 30.0%' 5
grep -q 'cannot write to the spool' "$LOG" && fail "capture paused although retention had room: $(grep 'cannot write' "$LOG" | head -1)"
removed=$(grep -c 'retention: removed segment' "$LOG")
stop_captured
ctl verify >/dev/null || fail "verify after retention"
[ "$(used_pct)" -le 80 ] || fail "the file system is $(used_pct)% full"
python3 - "$SPOOL" <<'PY' || fail "stored data"
import sqlite3, sys
db = sqlite3.connect(f'file:{sys.argv[1]}/catalog.db?mode=ro', uri=True)
n, first = db.execute('SELECT sum(packets), min(id) FROM segments').fetchone()
assert n and first > 1, (n, first)
PY
pass "retention removed $removed segments, oldest first; $(used_pct)% used; verify clean"
grep -m1 'retention: removed segment' "$LOG" | sed 's/^/  /'

# ---- 2. no limit: capture pauses, then resumes ----------------------------------------------
SPOOL=$T/spool2
LOG=$T/captured2.log
mount_spool 24m
head -c 8M /dev/zero >"$SPOOL/filler"
start_captured "$LOG" -i b1 --min-free 0 --queue-size 4M --batch-size 512K
replay 1 "$T/gen.pcap" --pps 15000 # ~26 MB into ~15 MB
wait_log "$LOG" 'cannot write to the spool .*capture of b1 is paused' 5
pass "full disk: $(grep -m1 -o 'cannot write to the spool.*' "$LOG" | cut -c1-160)..."
grep -q 'no retention limit is set' "$LOG" || fail "no log line explaining that nothing can be removed"
rm "$SPOOL/filler"
wait_log "$LOG" 'b1: writing again after' 10
pass "capture resumed when space was freed: $(grep -o 'b1: writing again.*' "$LOG")"
# Said once per reason, not at every retry (every 100 ms while full).
n=$(grep -c 'No space left on device' "$LOG")
[ "$n" -le 6 ] || fail "the full disk was logged $n times: $(grep 'No space left' "$LOG" | head -3)"
n=$(grep -c 'no retention limit is set' "$LOG")
[ "$n" -le 2 ] || fail "'no retention limit' was logged $n times"
pass "the pause and its cause were logged once each, not at every retry"
sleep 1
stop_captured
# The capture may have filled the disk again by the time it stops; a segment it could not
# seal then waits for recovery, which needs room to write the index: give it some, as an
# operator would, before checking.
mount -o remount,size=48m "$SPOOL"
ctl verify >/dev/null || fail "verify after a full disk"
ctl --json status | grep -q '"segments_open": 0' || fail "open segments left"
pass "spool intact after a full disk: verify clean, nothing open"
