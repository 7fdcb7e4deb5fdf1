#!/bin/bash
# The mount re-exported by Samba, as desktops read it: smbd serves the mount on a private
# loopback port with its own configuration, and smbclient logs in as Unix users. smbd works
# as the user who logged in, so pcapfs's policy decides for that user: a granted user lists
# and downloads the device's windows byte-identical to extract (canonical and epoch names);
# an ungranted user sees no device, and opening one of its windows fails exactly as a name
# that does not exist; both show up in the query log under their own names; a revoked grant
# stops the next download.
. "$(dirname "$0")/lib.sh"
: "${PCAPFS:?PCAPFS must point at the pcapfs binary}"
need smbd smbclient smbpasswd useradd userdel fusermount3 python3
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip "needs root (users, allow_other, smbd)"

P=ps$$
U_OK=${P}g U_NO=${P}n
on_exit "userdel $U_OK; userdel $U_NO"
useradd -M -N -g users "$U_OK"
useradd -M -N -g users "$U_NO"

"$PCAPFS_GEN" --packets 8000 --devices 4 --seed 61 --duration 3600 -o "$T/c.pcap" --registry "$T/devices.tsv"
ctl --quiet init
register_devices "$T/devices.tsv"
ctl import --no-progress "$T/c.pcap" 2>/dev/null
ctl grant "user:$U_OK" dev-001
H=20261122T080000Z--20261122T090000Z
ctl extract dev-001 "$H" -o "$T/ref.pcap"
[ "$(fsize "$T/ref.pcap")" -gt 100000 ] || fail "the test window is too small: $(fsize "$T/ref.pcap") bytes"

on_exit umount_pcapfs_at_exit
mount_pcapfs audit=best-effort

# smbd on a free loopback port, everything of its own under $T.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
S=$T/smb
mkdir -p "$S"/{priv,lock,state,cache,pid,log}
cat >"$T/smb.conf" <<EOF
[global]
  server role = standalone server
  smb ports = $PORT
  interfaces = 127.0.0.1
  bind interfaces only = yes
  private dir = $S/priv
  lock directory = $S/lock
  state directory = $S/state
  cache directory = $S/cache
  pid directory = $S/pid
  ncalrpc dir = $S/ncalrpc
  log file = $S/log/smbd.log
  passdb backend = tdbsam:$S/priv/passdb.tdb
  map to guest = never
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
[pcap]
  path = $MNT
  read only = yes
  guest ok = no
EOF
for u in "$U_OK" "$U_NO"; do
	printf 'pw-%s\npw-%s\n' "$u" "$u" | smbpasswd -c "$T/smb.conf" -s -a "$u" >/dev/null
done
smbd -s "$T/smb.conf" -F </dev/null >>"$S/log/stdout" 2>&1 &
SMBD_PID=$!
on_exit "kill $SMBD_PID; wait $SMBD_PID"
smb() { # smb USER COMMANDS
	smbclient -s "$T/smb.conf" "//127.0.0.1/pcap" -p "$PORT" -U "$1%pw-$1" -c "$2" 2>&1
}
up=
for i in $(seq 1 100); do
	smb "$U_OK" 'ls' >/dev/null && up=1 && break
	sleep 0.1
done
[ -n "$up" ] || fail "smbd did not answer: $(tail -5 "$S/log/smbd.log" "$S/log/stdout" 2>/dev/null)"

# The granted user: the device listed, and nothing else; its window byte-identical.
out=$(smb "$U_OK" 'ls pcap\*')
grep -Eq '^ +dev-001 +D' <<<"$out" || fail "the granted user does not see dev-001: $out"
n=$(grep -Ec '^ +dev-[0-9]+ +D' <<<"$out")
[ "$n" -eq 1 ] || fail "the granted user sees $n devices: $out"
pass "granted user lists exactly the device of the grant"
out=$(smb "$U_OK" "ls pcap\\dev-001\\*")
grep -q "$H.pcap" <<<"$out" || fail "the hour is not listed over SMB: $out"
size=$(awk -v n="$H.pcap" '$1 == n {print $3}' <<<"$out")
[ "$size" = "$(fsize "$T/ref.pcap")" ] || fail "size over SMB $size, extract $(fsize "$T/ref.pcap")"
pass "the hour listed over SMB with the exact size"
smb "$U_OK" "get pcap\\dev-001\\$H.pcap $T/got.pcap" >/dev/null
cmp "$T/got.pcap" "$T/ref.pcap" || fail "the window downloaded over SMB differs from extract"
pass "download over SMB byte-identical to extract ($(fsize "$T/ref.pcap") bytes)"
smb "$U_OK" "get pcap\\dev-001\\1795334400--1795338000.pcap $T/got-epoch.pcap" >/dev/null
cmp "$T/got-epoch.pcap" "$T/ref.pcap" || fail "the epoch-named window over SMB differs from extract"
pass "epoch-named window over SMB byte-identical"

# The ungranted user: no device at all, and a device's window fails as a nonexistent one.
out=$(smb "$U_NO" 'ls pcap\*')
if grep -Eq '^ +dev-[0-9]+ +D' <<<"$out"; then fail "the ungranted user sees devices: $out"; fi
pass "ungranted user lists no device"
real=$(smb "$U_NO" "get pcap\\dev-001\\$H.pcap $T/no.pcap" | grep -o 'NT_STATUS_[A-Z_]*' | head -1 || true)
fake=$(smb "$U_NO" "get pcap\\dev-zzz\\$H.pcap $T/no.pcap" | grep -o 'NT_STATUS_[A-Z_]*' | head -1 || true)
[ -n "$real" ] || fail "the ungranted user's download did not fail"
[ "$real" = "$fake" ] || fail "a refused device ($real) is told apart from a nonexistent one ($fake)"
[ ! -s "$T/no.pcap" ] || fail "bytes reached the ungranted user"
pass "ungranted user's download fails as for a nonexistent device ($real)"

# The query log names the SMB users themselves (uid and name), not smbd's root.
rows=$(ctl audit --user "$U_OK" --op open --result allow --device dev-001 --csv | tail -n +2)
[ -n "$rows" ] || fail "no allowed open by $U_OK in the query log"
[ "$(cut -d, -f6 <<<"$rows" | sort -u)" = "$(id -u "$U_OK")" ] || fail "open rows of another uid: $rows"
rows=$(ctl audit --user "$U_NO" --result deny --device dev-001 --csv | tail -n +2)
[ -n "$rows" ] || fail "no refusal of $U_NO on dev-001 in the query log"
[ "$(cut -d, -f6 <<<"$rows" | sort -u)" = "$(id -u "$U_NO")" ] || fail "refusal rows of another uid: $rows"
pass "the query log records both SMB users under their own names and uids"

# Revocation reaches SMB at the next open.
ctl revoke "user:$U_OK" dev-001
rm -f "$T/got2.pcap"
out=$(smb "$U_OK" "get pcap\\dev-001\\$H.pcap $T/got2.pcap" || true)
grep -q NT_STATUS_ <<<"$out" || fail "download after revoke succeeded: $out"
[ ! -s "$T/got2.pcap" ] || fail "bytes reached a revoked user"
pass "after revoke the next download over SMB is refused"
