#!/bin/bash
# The filesystem on a real FUSE mount: contents equal pcapfsctl extract and are read
# correctly by tshark and capinfos, at any offset; cp -a and rsync -a; the name grammar and
# its errors; windows still growing under a running import; 16 concurrent readers; damaged
# on-disk state; access per caller with real users; stable inode numbers; unmounting.
. "$(dirname "$0")/lib.sh"
: "${PCAPFS:?PCAPFS must point at the pcapfs binary}"
need tshark capinfos rsync python3 fusermount3 useradd
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip "needs root (users, allow_other)"

# Audit records are required by default: every open must be recorded.
if ensure_audit; then AUDIT_OPT=audit=required; else AUDIT_OPT=audit=best-effort; fi
mount_fs() { mount_pcapfs "cache_timeout=${1:-2},$AUDIT_OPT${2:+,$2}"; } # [CACHE_TIMEOUT [MORE_OPTIONS]]
umount_fs() { umount_pcapfs; }
on_exit umount_pcapfs_at_exit

CAP=$T/all.pcap
"$PCAPFS_GEN" --packets 300000 --devices 20 --seed 31 --duration 10800 -o "$CAP" --registry "$T/devices.tsv"
ctl --quiet init
register_devices "$T/devices.tsv"
ctl import --no-progress "$CAP" 2>/dev/null
mount_fs
D=$MNT/pcap

# A second mount over the first is refused (it would hide it, with two daemons), and so are
# options pcapfs does not take and a directory that is no spool.
mkdir -p "$T/m2"
expect_fail "already holds a pcapfs mount; unmount it first" "$PCAPFS" "$SPOOL" "$MNT"
[ "$(grep -c " $MNT fuse.pcapfs " /proc/mounts)" = 1 ] || fail "a second mount over the first: $(grep pcapfs /proc/mounts)"
expect_fail "default_permissions is not an option of pcapfs" "$PCAPFS" "$SPOOL" "$T/m2" -o default_permissions
expect_fail "max_threads must be 1..1024" "$PCAPFS" "$SPOOL" "$T/m2" -o max_threads=5000
expect_fail "max_idle_threads must be 1..1024" "$PCAPFS" "$SPOOL" "$T/m2" -o max_idle_threads=-1
expect_fail "is not a pcapfs spool \(no catalog.db\); make one with 'pcapfsctl --spool" "$PCAPFS" "$T/m2" "$T/m2"
mountpoint -q "$T/m2" && fail "a refused mount mounted"
expect_fail "not a pcapfs spool \(no such directory\)" "$PCAPFS" "$T/nothing" "$T/m2"
# A PAM service without its file: mounted, with a warning on the terminal.
out=$("$PCAPFS" "$SPOOL" "$T/m2" -o "pam_service=${RANDOM}nosuch,$AUDIT_OPT" 2>&1) || fail "mount: $out"
fusermount3 -u "$T/m2"
grep -q "WARNING: no PAM service '.*nosuch' (/etc/pam.d/.*nosuch): PAM checks accounts with its 'other' service" <<<"$out" ||
	fail "no warning for a missing PAM service: $out"
pass "a missing PAM service file is warned of at start"

# Listing: one file per hour with packets, canonical names.
ls "$D/dev-004" >"$T/ls"
[ "$(cat "$T/ls")" = "$(printf '%s\n' 20261122T080000Z--20261122T090000Z.pcap 20261122T090000Z--20261122T100000Z.pcap 20261122T100000Z--20261122T110000Z.pcap)" ] ||
	fail "listing: $(cat "$T/ls")"
[ "$(ls "$D" | wc -l)" -eq 20 ] || fail "root sees $(ls "$D" | wc -l) devices"
pass "listing: 20 devices, three hourly files"

# ls -l on a fresh mount takes sizes and times from the listing itself (readdirplus); they
# are those a lookup finds (the kernel's caches dropped) and the bytes a read gives.
umount_fs
mount_fs
ls -l --time-style=+%s "$D/dev-004" | tail -n +2 | awk '{print $5, $6, $7}' >"$T/lsl"
[ "$(wc -l <"$T/lsl")" -eq 3 ] || fail "ls -l: $(cat "$T/lsl")"
echo 2 >/proc/sys/vm/drop_caches
while read -r size mtime name; do
	[ "$(stat -c '%s %Y' "$D/dev-004/$name")" = "$size $mtime" ] ||
		fail "$name: ls -l says $size $mtime, a lookup $(stat -c '%s %Y' "$D/dev-004/$name")"
	[ "$(wc -c <"$D/dev-004/$name")" -eq "$size" ] || fail "$name: read size differs from ls -l"
done <"$T/lsl"
pass "ls -l sizes and times agree with lookups and reads"

# Contents: cmp with extract; capinfos and tshark count what extract gives.
for dev in dev-001 dev-004 dev-013; do
	for name in 20261122T090000Z--20261122T100000Z.pcap "2026-11-22T10:15:00.5+01:00--2026-11-22T10:45:00+01:00.pcap" \
		"1795337100.25--1795338000.pcap"; do
		ctl extract "$dev" "$name" -o "$T/ref.pcap"
		cmp "$D/$dev/$name" "$T/ref.pcap" || fail "$dev/$name differs from extract"
		[ "$(stat -c %s "$D/$dev/$name")" -eq "$(stat -c %s "$T/ref.pcap")" ] || fail "st_size"
		n=$(capinfos -c -M "$T/ref.pcap" | awk '/Number of packets/ {print $NF}')
		[ "$(capinfos -c -M "$D/$dev/$name" | awk '/Number of packets/ {print $NF}')" = "$n" ] || fail "capinfos count"
		[ "$(tshark -r "$D/$dev/$name" 2>/dev/null | wc -l)" -eq "$n" ] || fail "tshark count"
	done
done
pass "cmp, capinfos and tshark agree with extract (canonical, RFC 3339 with offset and fraction, epoch)"

# Opened, the mount reads ahead 1 MiB: sequential readers' requests come nearly that large
# (the reads above, compared byte for byte, went through them).
ra=$(cat "/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb")
[ "$ra" = 1024 ] || fail "the mount's readahead is $ra KiB after an open"
pass "readahead raised to 1 MiB at the first open"

# Random access: a sequential pass, then seeks, as Wireshark reads.
f="$D/dev-004/20261122T090000Z--20261122T100000Z.pcap"
ctl extract dev-004 20261122T090000Z--20261122T100000Z -o "$T/ref.pcap"
python3 - "$f" "$T/ref.pcap" <<'PY' || fail "random reads differ"
import os, random, sys
a, b = open(sys.argv[1], 'rb'), open(sys.argv[2], 'rb').read()
assert a.read() == b
rng = random.Random(7)
for _ in range(2000):
    off = rng.randrange(0, len(b) + 100)
    n = rng.choice([1, 16, 24, 100, 4096, 65536, 200000])
    a.seek(off)
    assert a.read(n) == b[off:off + n], (off, n)
PY
pass "sequential pass then 2000 random reads are identical"

# cp -a and rsync -a; a second rsync transfers nothing.
cp -a "$D/dev-013" "$T/cp"
rsync -a "$D/dev-013/" "$T/rs/"
for x in "$T"/cp/*.pcap; do
	ctl extract dev-013 "$(basename "$x")" -o "$T/ref.pcap"
	cmp "$x" "$T/ref.pcap" && cmp "$T/rs/$(basename "$x")" "$T/ref.pcap" || fail "copy of $x"
done
out=$(rsync -a --stats "$D/dev-013/" "$T/rs/")
echo "$out" | grep -q 'Number of regular files transferred: 0' || fail "second rsync transferred: $out"
pass "cp -a and rsync -a copy valid files; a second rsync transfers nothing"

# Names.
errno_of() { python3 -c 'import os,sys
try: os.stat(sys.argv[1]); print(0)
except OSError as e: print(e.errno)' "$1"; }
[ "$(errno_of "$D/dev-004/desktop.ini")" = 2 ] || fail "desktop.ini"
[ "$(errno_of "$D/dev-004/.DS_Store")" = 2 ] || fail ".DS_Store"
[ "$(errno_of "$D/dev-004/20261122T110000Z--20261122T100000Z.pcap")" = 22 ] || fail "end before start"
[ "$(errno_of "$D/dev-004/20261122T100000Z--20261122T120000Z.pcap")" = 27 ] || fail "too wide"
[ "$(errno_of "$D/dev-004/$(printf 'x%.0s' $(seq 1 300))")" = 36 ] || fail "too long"
[ "$(errno_of "$D/nodevice")" = 2 ] || fail "unknown device"
[ "$(stat -c %s "$D/dev-004/20270101T000000Z--20270101T010000Z.pcap")" -eq 24 ] || fail "future window"
[ "$(stat -c %s "$D/dev-004/20261122T070000Z--20261122T073000Z.pcap")" -eq 24 ] || fail "empty window"
grep -Eq 'uid 0, pid [0-9]+: refusing [^ ]+ in device [0-9]+: window of 2h exceeds the maximum of 1h' "$T/fs.log" || fail "no log line naming who was refused the width: $(grep refusing "$T/fs.log" | head -2)"
touch "$D/dev-004/x" 2>/dev/null && fail "created a file"
[ "$(errno_of "$D/dev-004/x")" = 2 ] || true
pass "ENOENT for non-window names, EINVAL, EFBIG (with a log line), ENAMETOOLONG, 24-byte empty and future windows, read-only"

# Stable inode numbers across a remount.
i1=$(stat -c %i "$f")
i2=$(stat -c %i "$D/dev-004/1795339800--1795340100.pcap")
umount_fs
mount_fs
[ "$(stat -c %i "$f")" = "$i1" ] && [ "$(stat -c %i "$D/dev-004/1795339800--1795340100.pcap")" = "$i2" ] || fail "inode numbers changed"
pass "inode numbers stable across remounts"

# 16 concurrent readers of different windows.
for i in $(seq 0 15); do
	(
		dev=$(printf 'dev-%03d' $((i % 20)))
		s=$((1795334400 + i * 600))
		ctl extract "$dev" "$s--$((s + 3000))" -o "$T/c$i.ref"
		cat "$D/$dev/$s--$((s + 3000)).pcap" >"$T/c$i.out"
		cmp -s "$T/c$i.out" "$T/c$i.ref" || echo "reader $i differs" >>"$T/concurrent.err"
	) &
done
wait_readers() { local p; for p in $(jobs -p); do [ "$p" = "$FS_PID" ] || wait "$p"; done; }
wait_readers
[ ! -s "$T/concurrent.err" ] || fail "$(cat "$T/concurrent.err")"
pass "16 concurrent readers get correct bytes"

# A close row counts every byte its open was served, although the reader closes as soon as
# the last reply reached it (the page cache dropped before each pass: reads it answers never
# reach the filesystem).
since=$(date +%s)
F="$D/dev-001/20261122T090000Z--20261122T100000Z.pcap"
/usr/bin/python3 - "$F" 30 <<'PY' || fail "reading for the close rows failed"
import os, sys
for _ in range(int(sys.argv[2])):
    fd = os.open(sys.argv[1], os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)
PY
for i in $(seq 1 20); do # RELEASE reaches the filesystem after close(2) returned
	ctl --json audit --device dev-001 --op close --since "$since" --limit 1000 >"$T/closes.json"
	[ "$(grep -o '"window": "20261122T090000Z--20261122T100000Z.pcap"' "$T/closes.json" | wc -l)" -ge 30 ] && break
	sleep 0.1
done
/usr/bin/python3 - "$T/closes.json" "$(stat -c %s "$F")" <<'PY' || fail "close rows and bytes read disagree"
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))['rows']
        if r['window'] == '20261122T090000Z--20261122T100000Z.pcap']
bad = [r['bytes'] for r in rows if r['bytes'] != int(sys.argv[2])]
if len(rows) != 30 or bad:
    sys.exit(f'{len(rows)} close rows, bytes other than {sys.argv[2]}: {bad[:5]}')
PY
pass "every close row counts the bytes its open was served (30 of 30)"

# A window still growing: each open is one consistent snapshot; the next open sees more.
"$PCAPFS_GEN" --packets 200000 --devices 20 --seed 32 --start 1795345200 --duration 3600 -o "$T/later.pcap"
# Fed through a slow pipe so that the import takes several seconds: CHUNK bytes (default
# 1 MiB) every 100 ms.
slow_import() { # FILE INTERFACE [CHUNK]
	python3 -c 'import sys, time
f = open(sys.argv[1], "rb")
while True:
    b = f.read(int(sys.argv[2]))
    if not b: break
    sys.stdout.buffer.write(b); sys.stdout.flush(); time.sleep(0.1)' "$1" "${3:-1048576}" |
		"$PCAPFSCTL" --spool "$SPOOL" import --interface "$2" --no-progress - 2>/dev/null
}
slow_import "$T/later.pcap" later &
imp=$!
W="$D/dev-004/20261122T110000Z--20261122T120000Z.pcap"
W2="$D/dev-007/20261122T110000Z--20261122T120000Z.pcap"
for i in $(seq 1 200); do
	ctl --json extract --size dev-004 20261122T110000Z--20261122T120000Z | grep -q '"packets": 0' || break
	sleep 0.05
done
stat "$W2" >/dev/null # looked up early in the import: the snapshot for its next open
sizes=""
while kill -0 $imp 2>/dev/null; do
	cp "$W" "$T/snap.pcap" 2>/dev/null || break
	capinfos "$T/snap.pcap" >/dev/null 2>&1 || fail "a snapshot is not a valid pcap: $(capinfos "$T/snap.pcap" 2>&1 | head -2)"
	# fstat of an open file, later, while packets arrive: the size of what that open serves.
	/usr/bin/python3 - "$W" <<'PY' || fail "fstat of an open growing window disagrees with its bytes"
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
first = os.fstat(fd).st_size
time.sleep(0.3)
later = os.fstat(fd).st_size
data = b''
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    data += b
sys.exit(0 if first == later == len(data) else 1)
PY
	sizes="$sizes $(stat -c %s "$T/snap.pcap")"
done
wait $imp
cp "$W" "$T/final.pcap"
# At least one open during the import saw fewer packets than the open after it.
[ -n "$sizes" ] && [ "$(echo $sizes $(stat -c %s "$T/final.pcap") | tr ' ' '\n' | sort -un | wc -l)" -ge 2 ] ||
	fail "no open during the import saw a smaller snapshot: $sizes"
ctl extract dev-004 20261122T110000Z--20261122T120000Z -o "$T/ref.pcap"
cmp "$T/final.pcap" "$T/ref.pcap" || fail "after the import, the window differs from extract"
# Once the mount has seen the import end, a window last looked up while it grew is final:
# its next open serves all of it, not the snapshot of that lookup.
sleep 1.5
ctl extract dev-007 20261122T110000Z--20261122T120000Z -o "$T/ref2.pcap"
cmp "$W2" "$T/ref2.pcap" || fail "a window looked up during the import is served cut short after it"
pass "growing window: valid snapshot at every open (sizes:$(echo $sizes | tr ' ' '\n' | sort -un | head -5 | tr '\n' ' ')...), complete at the next open"

# Two opens of a growing window at once serve two snapshots, each through a page cache and a
# size of its own (a node per snapshot; same st_ino): neither may read the other's bytes.
# Two interfaces grow the same hour, so a later snapshot is not a prefix of an earlier one
# (packets sort in between). The file is no direct_io file: a shared mapping of it works
# and shows the bytes read.
for k in 1 2; do
	"$PCAPFS_GEN" --packets 60000 --devices 20 --seed $((50 + k)) --start 1795348800 --duration 3600 \
		-o "$T/two$k.pcap"
done
slow_import "$T/two1.pcap" two1 524288 & imp1=$!
slow_import "$T/two2.pcap" two2 524288 & imp2=$!
W="$D/dev-004/20261122T120000Z--20261122T130000Z.pcap"
/usr/bin/python3 - "$W" "$T/pairs" $imp1 $imp2 <<'PY' || fail "two opens of a growing window: $(cat "$T/pairs.err" 2>/dev/null)"
import mmap, os, sys, time
path, out, pids = sys.argv[1], sys.argv[2], sys.argv[3:]
def running():
    return all(os.path.exists(f'/proc/{p}') for p in pids)
def read_fd(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b''.join(chunks)
        chunks.append(b)
pairs = []
while running() and len(pairs) < 12:
    try:
        a = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        time.sleep(0.1)
        continue
    time.sleep(0.3)
    b = os.open(path, os.O_RDONLY)  # a lookup of its own: a later snapshot
    sa, sb = os.fstat(a), os.fstat(b)
    da = read_fd(a)  # through the page cache first...
    db = read_fd(b)  # ...then the other snapshot
    m = mmap.mmap(a, 0, access=mmap.ACCESS_READ) if sa.st_size else b''
    if m[:] != da:
        open(out + '.err', 'w').write('a mapping of the file differs from its bytes read')
        sys.exit(1)
    os.close(a); os.close(b)
    if len(da) != sa.st_size or len(db) != sb.st_size or sa.st_ino != sb.st_ino:
        open(out + '.err', 'w').write(f'sizes {sa.st_size}, {sb.st_size} but {len(da)}, {len(db)} '
                                      f'bytes read; st_ino {sa.st_ino}, {sb.st_ino}')
        sys.exit(1)
    pairs.append((da, db))
if not pairs or all(len(da) == len(db) for da, db in pairs):
    open(out + '.err', 'w').write(f'no pair of different snapshots ({len(pairs)} pairs)')
    sys.exit(1)
import pickle
pickle.dump(pairs, open(out, 'wb'))
PY
wait $imp1 $imp2
ctl extract dev-004 20261122T120000Z--20261122T130000Z -o "$T/two-final.pcap"
# Every snapshot read is the final window's records in order, some left out: records of its
# own, not pieces of another's.
/usr/bin/python3 - "$T/pairs" "$T/two-final.pcap" <<'PY' || fail "a snapshot served another snapshot's bytes"
import pickle, struct, sys
pairs = pickle.load(open(sys.argv[1], 'rb'))
def records(data, what):
    out, o = [], 24
    while o < len(data):
        if o + 16 > len(data):
            sys.exit(f'{what}: a record header cut at {o} of {len(data)}')
        caplen = struct.unpack_from('<I', data, o + 8)[0]
        if caplen > 262144 or o + 16 + caplen > len(data):
            sys.exit(f'{what}: record at {o} runs past the end ({caplen} bytes)')
        out.append(data[o:o + 16 + caplen])
        o += 16 + caplen
    return out
final = records(open(sys.argv[2], 'rb').read(), 'final')
pos = {r: i for i, r in enumerate(final)}
for n, pair in enumerate(pairs):
    for which, data in zip('AB', pair):
        last = -1
        for r in records(data, f'pair {n} {which}'):
            i = pos.get(r)
            if i is None or i <= last:
                sys.exit(f'pair {n} {which}: a record that is not the next of the final window\'s')
            last = i
print(f'{len(pairs)} pairs of snapshots checked')
PY
pass "two opens of a growing window read their own snapshots, each a part of the final window in order"

# Damaged on-disk state: EIO for that file, a log line, the rest still served.
idx=$(sqlite3 "$SPOOL/catalog.db" "SELECT path FROM segments WHERE t_first >= 1795338000000000000 ORDER BY t_first LIMIT 1").idx
cp "$SPOOL/$idx" "$T/idx.saved"
truncate -s 100 "$SPOOL/$idx"
bad="$D/dev-004/1795338000--1795338300.pcap"
python3 -c 'import sys
try: open(sys.argv[1],"rb").read(); sys.exit(1)
except OSError as e: sys.exit(0 if e.errno == 5 else 1)' "$bad" || fail "damaged index did not give EIO"
grep -q "idx" "$T/fs.log" || fail "no log line for the damaged index"
cmp "$D/dev-004/20261122T080000Z--20261122T090000Z.pcap" <(ctl extract dev-004 20261122T080000Z--20261122T090000Z -o /dev/stdout) ||
	fail "other windows are not served any more"
cp "$T/idx.saved" "$SPOOL/$idx"
pass "a truncated index gives EIO and a log line; other files are still served"

# Summaries that disagree with the index (an update that moves no generation): the size the
# lookup gave cannot be served, so the open gets EIO and a log line. The lookup takes the
# summaries only once the mount has seen the imports above end (its watcher polls each
# second); until then it sizes the window from the index, which is right.
sleep 1.5
q="UPDATE segment_devices SET bytes = bytes + 100 WHERE device_id = (SELECT id FROM devices
   WHERE name = 'dev-005') AND segment_id = (SELECT min(segment_id) FROM segment_devices
   WHERE device_id = (SELECT id FROM devices WHERE name = 'dev-005')
   AND t_first >= 1795334400000000000)"
sqlite3 "$SPOOL/catalog.db" "$q"
python3 -c 'import sys
try: open(sys.argv[1],"rb").read(); sys.exit(1)
except OSError as e: sys.exit(0 if e.errno == 5 else 1)' "$D/dev-005/20261122T080000Z--20261122T090000Z.pcap" ||
	fail "summaries that disagree with the index did not give EIO"
grep -q "disagree with the index" "$T/fs.log" || fail "no log line for summaries that disagree"
sqlite3 "$SPOOL/catalog.db" "${q/bytes + 100/bytes - 100}"
pass "summaries that disagree with the index give EIO and a log line"

# A segment removed from under the mount: a reader that has the file open keeps its snapshot
# whole (the plan holds the segment files open); the next open gets EIO and a log line; the
# rest is still served.
seg=$(sqlite3 "$SPOOL/catalog.db" "SELECT path FROM segments WHERE t_first >= 1795341600000000000 ORDER BY t_first LIMIT 1 OFFSET 5").pcap
gone="$D/dev-004/20261122T100000Z--20261122T110000Z.pcap"
ctl extract dev-004 20261122T100000Z--20261122T110000Z -o "$T/ref-gone.pcap"
python3 - "$gone" "$SPOOL/$seg" "$T/seg.saved" "$T/ref-gone.pcap" <<'PY' || fail "a segment removed mid-read: the open file changed"
import os, sys
f = open(sys.argv[1], 'rb', buffering=0)
head = f.read(4096)
os.rename(sys.argv[2], sys.argv[3])  # off the spool, as a careless rm would
rest = b''
while True:
    b = f.read(1 << 16)
    if not b:
        break
    rest += b
sys.exit(0 if head + rest == open(sys.argv[4], 'rb').read() else 1)
PY
echo 2 >/proc/sys/vm/drop_caches
python3 -c 'import sys
try: open(sys.argv[1],"rb").read(); sys.exit(1)
except OSError as e: sys.exit(0 if e.errno == 5 else 1)' "$gone" || fail "an open after the segment was removed did not give EIO"
grep -q "${seg%.pcap}" "$T/fs.log" || fail "no log line names the removed segment"
# An open that failed was never open: every open recorded for the window has its close.
opens=$(ctl audit --device dev-004 --op open --result allow --csv --limit 10000 | grep -c 20261122T100000Z--20261122T110000Z || true)
closes=$(ctl audit --device dev-004 --op close --csv --limit 10000 | grep -c 20261122T100000Z--20261122T110000Z || true)
[ "$opens" -ge 1 ] && [ "$opens" = "$closes" ] || fail "open and close records of the window: $opens opens, $closes closes"
cmp "$D/dev-004/20261122T080000Z--20261122T090000Z.pcap" <(ctl extract dev-004 20261122T080000Z--20261122T090000Z -o /dev/stdout) ||
	fail "other windows are not served after a segment was removed"
mv "$T/seg.saved" "$SPOOL/$seg"
cmp "$gone" "$T/ref-gone.pcap" || fail "the window is not served again once its segment is back"
pass "a segment removed mid-read: the open file stays whole, the next open gets EIO and a log line, the rest is served"

# Access per caller.
P=pcfsm$$
useradd -M -N -g users "${P}a"
useradd -M -N -g users "${P}b"
on_exit "userdel ${P}a; userdel ${P}b"
ctl device set dev-002 --owner "${P}a"
as() { setpriv --reuid "$1" --regid users --clear-groups -- "${@:2}"; }
[ "$(as "${P}a" ls "$D")" = dev-002 ] || fail "the owner sees: $(as "${P}a" ls "$D")"
as "${P}a" cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" | cmp - <(ctl extract dev-002 20261122T080000Z--20261122T090000Z -o /dev/stdout) ||
	fail "the owner cannot read their device"
[ -z "$(as "${P}b" ls "$D")" ] || fail "another user sees devices"
as "${P}b" stat "$D/dev-002" >/dev/null 2>&1 && fail "another user can stat the device"
as "${P}b" cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" >/dev/null 2>&1 && fail "another user can read it"
[ "$(as "${P}b" /usr/bin/python3 -c 'import os,sys
try: os.stat(sys.argv[1])
except OSError as e: print(e.errno)' "$D/dev-002")" = 2 ] || fail "not ENOENT for another user"
ctl grant "user:${P}b" dev-002
as "${P}b" cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" >/dev/null || fail "a grant does not open the device"
ctl revoke "user:${P}b" dev-002
as "${P}b" cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" >/dev/null 2>&1 && fail "a revoked grant still opens the device"
pass "owner sees and reads only their device; others get ENOENT; grant and revoke take effect at the next access"

# A walk that starts inside the device (a shell whose working directory is there) reaches the
# window's own lookup: after a revoke it is refused there, and the refusal is recorded.
ctl grant "user:${P}b" dev-002
W=20261122T080000Z--20261122T090000Z.pcap
mkdir -m 755 "$T/sync" && mkfifo -m 666 "$T/sync/in" "$T/sync/go"
as "${P}b" bash -c 'cd "$1" && echo in >"$2" && read -r _ <"$3" && cat "$4"' _ "$D/dev-002" \
	"$T/sync/in" "$T/sync/go" "$W" >/dev/null 2>"$T/inside.err" &
inside=$!
read -r _ <"$T/sync/in"
ctl revoke "user:${P}b" dev-002
SINCE=$(date +%s)
echo go >"$T/sync/go"
wait "$inside" && fail "a revoked grant still opens a window from inside the device"
grep -q 'No such file' "$T/inside.err" || fail "not ENOENT from inside the device: $(cat "$T/inside.err")"
ctl audit --user "${P}b" --since "$SINCE" --csv | grep -q "lookup.*/pcap/dev-002/$W" ||
	fail "the refused lookup from inside the device is not in the query log: $(ctl audit --user "${P}b" --since "$SINCE" --csv)"
pass "after a revoke a walk from inside the device is refused at the window, and recorded"

# The kernel keeps entries for every caller alike: a directory opened before a revoke reaches
# a window that root looked up since without a walk through the device. Its size and time are
# still refused (GETATTR, decided for its caller), and so is a new listing; both recorded.
ctl grant "user:${P}b" dev-002
rm -f "$T/sync/in" "$T/sync/go" && mkfifo -m 666 "$T/sync/in" "$T/sync/go"
as "${P}b" /usr/bin/python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
open(sys.argv[2], "w").write("in\n")
open(sys.argv[3]).read()
r = []
for f in (lambda: os.stat(sys.argv[4], dir_fd=fd), lambda: (os.fchdir(fd), os.listdir("."))):
    try:
        f()
        r.append(0)
    except OSError as e:
        r.append(e.errno)
print(*r)' "$D/dev-002" "$T/sync/in" "$T/sync/go" "$W" >"$T/dirfd.out" 2>&1 &
inside=$!
read -r _ <"$T/sync/in"
ctl revoke "user:${P}b" dev-002
SINCE=$(date +%s)
stat "$D/dev-002/$W" >/dev/null
echo go >"$T/sync/go"
wait "$inside" || fail "dirfd test: $(cat "$T/dirfd.out")"
[ "$(cat "$T/dirfd.out")" = "2 2" ] || fail "after a revoke, stat through an open directory and a new listing gave errno $(cat "$T/dirfd.out"), not ENOENT"
ctl audit --user "${P}b" --since "$SINCE" --csv | grep -q "getattr.*/pcap/dev-002/$W" ||
	fail "the refused stat is not in the query log: $(ctl audit --user "${P}b" --since "$SINCE" --csv)"
ctl audit --user "${P}b" --since "$SINCE" --csv | grep -q "opendir.*/pcap/dev-002" ||
	fail "the refused listing is not in the query log: $(ctl audit --user "${P}b" --since "$SINCE" --csv)"
pass "after a revoke, a window that another caller looked up stays hidden through a directory opened before (stat and listing ENOENT, recorded)"

# Role limits (pcapfsctl limits): the width and look-back of what a user may open, listings
# showing only those files; root is never limited; explain gives the reason.
errno_of() { as "$1" /usr/bin/python3 -c 'import os,sys
try: open(sys.argv[1],"rb").close(); print(0)
except OSError as e: print(e.errno)' "$2"; }
H8=20261122T080000Z--20261122T090000Z H9=20261122T090000Z--20261122T100000Z
ctl limits set user --max-width 30m
[ "$(errno_of "${P}a" "$D/dev-002/$H9.pcap")" = 13 ] || fail "a window wider than the user limit opened"
[ "$(errno_of "${P}a" "$D/dev-002/20261122T091000Z--20261122T093000Z.pcap")" = 0 ] || fail "a 20-minute window was refused"
[ -z "$(as "${P}a" ls "$D/dev-002")" ] || fail "hourly files listed beyond the width limit: $(as "${P}a" ls "$D/dev-002")"
cat "$D/dev-002/$H9.pcap" >/dev/null || fail "root is limited"
ctl explain --uid "${P}a" "/pcap/dev-002/$H9.pcap" >"$T/explain" && fail "explain allows a window beyond the limit"
grep -q "wider than 30m" "$T/explain" || fail "explain: $(cat "$T/explain")"
# Look-back reaching to 08:50 of the data's day: the 08:00 hour is refused, 09:00 is not.
ctl limits set user --max-width none --max-lookback $(( $(date +%s) - 1795338000 + 600 ))
e8=$(errno_of "${P}a" "$D/dev-002/$H8.pcap")
[ "$e8" = 13 ] || fail "a window beyond the look-back opened (errno $e8)"
[ "$(errno_of "${P}a" "$D/dev-002/$H9.pcap")" = 0 ] || fail "a window inside the look-back was refused"
as "${P}a" ls "$D/dev-002" | grep -q "^$H8" && fail "an hour beyond the look-back is listed"
as "${P}a" ls "$D/dev-002" | grep -q "^$H9" || fail "an hour inside the look-back is not listed"
# Attributes that root's lookup left with the kernel are not the user's to see.
stat "$D/dev-002/$H8.pcap" >/dev/null
e8=$(as "${P}a" /usr/bin/python3 -c 'import os,sys
try: os.stat(sys.argv[1]); print(0)
except OSError as e: print(e.errno)' "$D/dev-002/$H8.pcap")
[ "$e8" = 13 ] || fail "stat of a window beyond the look-back that root had looked up: errno $e8"
ctl --json limits | grep -q '"max_lookback"' || fail "limits --json"
ctl limits set user --max-lookback none
[ "$(errno_of "${P}a" "$D/dev-002/$H8.pcap")" = 0 ] || fail "removing the limit did not take effect"
ctl limits set nobody --max-width 1h 2>/dev/null && fail "an unknown role was accepted"
pass "role limits: width and look-back refuse opens and stats with EACCES and trim listings, at the next access; root unlimited"

# An account PAM refuses (expired) reads nothing, even with a grant: EACCES.
useradd -M -N -g users "${P}x"
on_exit "userdel ${P}x"
chage -E 0 "${P}x"
ctl grant "user:${P}x" '*'
e=$(as "${P}x" /usr/bin/python3 -c 'import os,sys
try: os.listdir(sys.argv[1]); print(0)
except OSError as e: print(e.errno)' "$D")
[ "$e" = 13 ] || fail "an expired account listing /pcap: errno $e"
as "${P}x" cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" >/dev/null 2>&1 && fail "an expired account read a file"
pass "an account PAM refuses gets EACCES despite a grant"

# Every open, refusal and close is in Linux audit, the caller in the message.
if [ "$AUDIT_OPT" = audit=required ]; then
	a=$(id -u "${P}a") b=$(id -u "${P}b")
	# Only this test's accounts: uids are reused by the users of other tests.
	close_re="acct=${P}a .*op=close event=[0-9]* device=dev-002 .*bytes=[1-9][0-9]* duration_ms=[0-9]* open_event=[1-9]"
	for _ in $(seq 1 20); do # auditd writes asynchronously
		sleep 0.25
		out=$(ausearch -m TRUSTED_APP -ui "$a" -ts today -i 2>/dev/null | grep "acct=${P}a ")
		grep -q "$close_re" <<<"$out" && break
	done
	grep -q "acct=${P}a .*op=open event=[0-9]* device=dev-002 .*decision=allow" <<<"$out" || fail "no open record for ${P}a: $out"
	grep -q "$close_re" <<<"$out" || fail "no close record with bytes for ${P}a: $(echo "$out" | grep "op=close")"
	out=$(ausearch -m TRUSTED_APP -ui "$b" -ts today -i 2>/dev/null | grep "acct=${P}b ")
	grep -q "device=dev-002 .*decision=deny" <<<"$out" || fail "no refusal record for ${P}b: $out"
	ausearch -m TRUSTED_APP -ui "$b" -ts today --success no >/dev/null 2>&1 || fail "refusals are not failures in ausearch"
	pass "opens, closes (with bytes) and refusals are in ausearch -m TRUSTED_APP -ui UID"

	# Auditing disabled: with audit=required nothing opens, and the log says why.
	auditctl -e 0 >/dev/null
	cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" >/dev/null 2>&1 && fail "opened without an audit record"
	grep -q "audit record not written .*auditing is disabled.*access refused" "$T/fs.log" || fail "no log line for the refusal"
	auditctl -e 1 >/dev/null
	cat "$D/dev-002/20261122T080000Z--20261122T090000Z.pcap" >/dev/null || fail "no open after auditing came back"
	pass "audit=required refuses opens while auditing is disabled, with a log line"

	# audit=best-effort: served while auditing is disabled, the record in syslog (authpriv).
	if [ ! -e /dev/log ]; then
		/usr/bin/python3 - "$T/syslog" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
PY
		SYSLOG_PID=$!
		on_exit "kill $SYSLOG_PID; rm -f /dev/log"
		for i in $(seq 1 100); do [ -S /dev/log ] && break; sleep 0.05; done
		umount_fs
		AUDIT_OPT=audit=best-effort
		mount_fs
		auditctl -e 0 >/dev/null
		cat "$D/dev-002/$H8.pcap" >/dev/null || fail "audit=best-effort refused an open while auditing is disabled"
		auditctl -e 1 >/dev/null
		sleep 0.2
		grep -a "audit record not written" "$T/syslog" | grep -a "access served" | grep -aq "^<84>.*op=open" ||
			fail "no authpriv syslog line for the unrecorded open: $(cat "$T/syslog")"
		grep -aq "auditing is disabled" "$T/syslog" || fail "no syslog line about auditing being disabled"
		umount_fs
		AUDIT_OPT=audit=required
		mount_fs
		pass "audit=best-effort serves opens while auditing is disabled and sends their records to syslog (authpriv)"
	fi
fi

# A settled window that changes later (an import into the past) shows the change at the next
# access within about a second, although settled windows are cached for cache_timeout.
umount_fs
mount_fs 3600
OW="$D/dev-004/20231114T220000Z--20231114T230000Z.pcap"
"$PCAPFS_GEN" --packets 3000 --devices 20 --seed 41 --start 1699999200 --duration 3000 -o "$T/old1.pcap"
"$PCAPFS_GEN" --packets 3000 --devices 20 --seed 42 --start 1699999200 --duration 3000 -o "$T/old2.pcap"
ctl import --interface old1 --no-progress "$T/old1.pcap" 2>/dev/null
sleep 1.5 # the import's end reaches the mount's watcher
s1=$(stat -c %s "$OW")
cmp "$OW" <(ctl extract dev-004 20231114T220000Z--20231114T230000Z -o /dev/stdout) || fail "settled window differs from extract"
[ "$(stat -c %s "$OW")" = "$s1" ] || fail "settled window size moved without a change"
# A settled window that is not an hour: its lookup builds the plan, which the node keeps for
# the open after it; that plan must not outlive the change below.
OW2="$D/dev-004/20231114T221500Z--20231114T224500Z.pcap"
cmp "$OW2" <(ctl extract dev-004 20231114T221500Z--20231114T224500Z -o /dev/stdout) || fail "settled window (30 min) differs from extract"
q1=$(stat -c %s "$OW2")
ctl extract dev-004 20231114T220000Z--20231114T230000Z -o "$T/old-ref1.pcap"
# A reader holding the old content open keeps it, through the change and the opens after it.
rm -f "$T/holding" "$T/go"
/usr/bin/python3 - "$OW" "$T/old-ref1.pcap" "$T" <<'PY' >"$T/holder.out" 2>&1 &
import os, sys, time
path, ref, t = sys.argv[1:]
fd = os.open(path, os.O_RDONLY)
data = os.read(fd, 4096)
open(t + '/holding', 'w').close()
while not os.path.exists(t + '/go'):
    time.sleep(0.05)
while True:
    b = os.read(fd, 1 << 16)
    if not b:
        break
    data += b
size = os.fstat(fd).st_size
want = open(ref, 'rb').read()
sys.exit(0 if data == want and size == len(want) else f'held open: {len(data)} bytes, fstat {size}, want {len(want)}')
PY
holder=$!
for i in $(seq 1 100); do [ -e "$T/holding" ] && break; sleep 0.05; done
ctl import --interface old2 --no-progress "$T/old2.pcap" 2>/dev/null
for i in $(seq 1 30); do [ "$(stat -c %s "$OW")" != "$s1" ] && break; sleep 0.1; done
s2=$(stat -c %s "$OW")
[ "$s2" -gt "$s1" ] || fail "the settled window did not grow after an import into it ($s1 -> $s2)"
cmp "$OW" <(ctl extract dev-004 20231114T220000Z--20231114T230000Z -o /dev/stdout) || fail "changed settled window differs from extract"
for i in $(seq 1 30); do [ "$(stat -c %s "$OW2")" != "$q1" ] && break; sleep 0.1; done
[ "$(stat -c %s "$OW2")" -gt "$q1" ] || fail "the settled 30-minute window did not grow after an import into it"
cmp "$OW2" <(ctl extract dev-004 20231114T221500Z--20231114T224500Z -o /dev/stdout) ||
	fail "the settled 30-minute window served the plan of its content before the import"
touch "$T/go"
wait $holder || fail "$(cat "$T/holder.out")"
cmp "$OW" <(ctl extract dev-004 20231114T220000Z--20231114T230000Z -o /dev/stdout) || fail "changed settled window differs from extract after the old reader closed"
pass "a settled window changed by a later import shows the change at the next access ($s1 -> $s2 bytes; 30 minutes: $q1 -> $(stat -c %s "$OW2")); a reader of the old content keeps it"

# Nodes of arbitrary windows are freed when the kernel forgets them: with room for 100,
# 400 different names work as long as the kernel lets go of the old ones. Windows in the
# future can still get packets: theirs are snapshot nodes, freed the same way.
umount_fs
mount_fs 2 max_nodes=100
future=$(($(date +%s) + 86400))
for i in $(seq 0 399); do
	s=$((1795334400 + i * 7)) f=$((future + i * 7))
	stat "$D/dev-004/$s--$((s + 60)).pcap" >/dev/null 2>"$T/stat.err" || fail "window $i: $(cat "$T/stat.err")"
	stat "$D/dev-004/$f--$((f + 60)).pcap" >/dev/null 2>"$T/stat.err" || fail "future window $i: $(cat "$T/stat.err")"
	[ $((i % 25)) -eq 24 ] && echo 2 >/proc/sys/vm/drop_caches
done
pass "window and snapshot nodes are freed when the kernel forgets them (800 names with max_nodes=100)"

# A snapshot node lets go of its plan when many others were used since; an open of it that
# comes without a lookup (a reopen through /proc/self/fd) builds it again, same content.
/usr/bin/python3 - "$D/dev-004" "$future" <<'PY' || fail "reopening a snapshot node whose plan was let go"
import os, sys
d, f = sys.argv[1], int(sys.argv[2]) + 100000
fd = os.open(f'{d}/{f}--{f + 60}.pcap', os.O_RDONLY)
for i in range(1, 80):
    os.stat(f'{d}/{f + i}--{f + i + 60}.pcap')
fd2 = os.open(f'/proc/self/fd/{fd}', os.O_RDONLY)
a, b = os.read(fd, 100), os.read(fd2, 100)
sys.exit(0 if len(a) == 24 and a == b else f'{len(a)} and {len(b)} bytes')
PY
pass "a snapshot node opened again without a lookup after letting go of its plan"

# -o nosplice: every reply copied through the daemon (by default replies whose bytes lie in
# few stretches of segment files go out as their descriptors); the same bytes at every offset.
umount_fs
mount_fs 2 nosplice
for dev in dev-001 dev-004 dev-013; do
	for name in 20261122T090000Z--20261122T100000Z.pcap 1795337100.25--1795338000.pcap; do
		ctl extract "$dev" "$name" -o "$T/ref.pcap"
		echo 1 >/proc/sys/vm/drop_caches
		cmp "$D/$dev/$name" "$T/ref.pcap" || fail "-o nosplice: $dev/$name differs from extract"
	done
done
ctl extract dev-004 20261122T090000Z--20261122T100000Z -o "$T/ref.pcap"
echo 1 >/proc/sys/vm/drop_caches
/usr/bin/python3 - "$D/dev-004/20261122T090000Z--20261122T100000Z.pcap" "$T/ref.pcap" <<'PY' || fail "-o nosplice: random reads differ"
import os, random, sys
ref = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_RDONLY)
rnd = random.Random(3)
for _ in range(500):
    off = rnd.randrange(0, len(ref) + 100)
    n = rnd.choice([1, 24, 4096, 65536, 300000])
    assert os.pread(fd, n, off) == ref[off:off + n], (off, n)
PY
pass "-o nosplice: cmp with extract and 500 random reads, cold cache"

# SIGTERM unmounts cleanly; a file still open then gets its close record, with what it read.
W=20261122T090000Z--20261122T100000Z.pcap
mkfifo "$T/held"
/usr/bin/python3 - "$D/dev-004/$W" "$T/held" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 100000)
open(sys.argv[2], 'w').write('open\n')
time.sleep(60)
PY
holder=$!
read -r _ <"$T/held"
SINCE=$(date +%s)
kill -TERM "$FS_PID"
wait "$FS_PID" || fail "pcapfs exited with an error on SIGTERM"
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
ctl audit --op close --since "$SINCE" --csv | grep "unmounted while open" | grep -q "/pcap/dev-004/$W" ||
	fail "no close record for a file open at the unmount: $(ctl audit --op close --since "$SINCE" --csv)"
pass "SIGTERM unmounts; a file still open gets its close record"
