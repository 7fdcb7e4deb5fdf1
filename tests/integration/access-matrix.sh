#!/bin/bash
# The access matrix through a real mount, with real Unix users and auditd: admin, auditor,
# owner, a user granted directly, one granted through a group, one through a tag, an
# ungranted user, a user in no group, root, an account pam_access refuses despite a grant
# and an expired one × lookup, stat, ls, open, read (and /audit when the mount has it).
# Each cell is allowed or denied as the policy says, and every open and every refusal
# appears exactly once in Linux audit (ausearch) and, when pcapfsctl has it, in the query
# log. Then: removing a user from a group denies them within the identity cache lifetime;
# path games (.., over-long names, guessed device names) reveal nothing.
. "$(dirname "$0")/lib.sh"
: "${PCAPFS:?PCAPFS must point at the pcapfs binary}"
need useradd groupadd userdel groupdel gpasswd chage setpriv ausearch fusermount3
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip "needs root (users, allow_other)"
ensure_audit || skip "no kernel audit support or no auditd here"

P=pm$$
ADM_G=${P}adm AUD_G=${P}aud VID_G=${P}vid
U_ADM=${P}a U_AUD=${P}d U_OWN=${P}o U_DIR=${P}u U_GRP=${P}g U_TAG=${P}t U_NONE=${P}n U_NOG=${P}z
U_PAM=${P}p U_EXP=${P}x
users=("$U_ADM" "$U_AUD" "$U_OWN" "$U_DIR" "$U_GRP" "$U_TAG" "$U_NONE" "$U_NOG" "$U_PAM" "$U_EXP")
cleanup_users() {
	for u in "${users[@]}"; do userdel "$u" 2>/dev/null || true; done
	for g in "$ADM_G" "$AUD_G" "$VID_G"; do groupdel "$g" 2>/dev/null || true; done
	rm -f "/etc/pam.d/$P"
}
on_exit cleanup_users
for g in "$ADM_G" "$AUD_G" "$VID_G"; do groupadd "$g"; done
for u in "${users[@]}"; do useradd -M -N -g users "$u"; done
usermod -g nogroup "$U_NOG"
usermod -aG "$ADM_G" "$U_ADM"
usermod -aG "$AUD_G" "$U_AUD"
usermod -aG "$VID_G" "$U_GRP"
chage -E 0 "$U_EXP"
# The test's PAM service: the shipped account stack behind a pam_access rule refusing U_PAM.
printf -- '-:%s:ALL\n+:ALL:ALL\n' "$U_PAM" >"$T/access.conf"
printf 'account required pam_access.so accessfile=%s\n' "$T/access.conf" >"/etc/pam.d/$P"
grep -v '^#' "$TESTS_DIR/../../systemd/pcapfs.pam" >>"/etc/pam.d/$P"

"$PCAPFS_GEN" --packets 20000 --devices 10 --seed 51 --duration 3600 -o "$T/c.pcap" --registry "$T/devices.tsv"
ctl --quiet init
register_devices "$T/devices.tsv"
ctl import --no-progress "$T/c.pcap" 2>/dev/null
ctl device set dev-001 --owner "$U_OWN" --tag cam
ctl grant "user:$U_DIR" dev-001
ctl grant "group:$VID_G" dev-001
ctl grant "user:$U_TAG" tag:cam
ctl grant "user:$U_PAM" dev-001
ctl grant "user:$U_EXP" dev-001
H=20261122T080000Z--20261122T090000Z
ctl extract dev-001 "$H" -o "$T/ref.pcap"

on_exit umount_pcapfs_at_exit
mount_pcapfs "audit=required,admin_group=$ADM_G,auditor_group=$AUD_G,pam_service=$P,id_cache=2"
D=$MNT/pcap
F=$D/dev-001/$H.pcap
HAS_AUDIT_DIR=
[ -d "$MNT/audit" ] && HAS_AUDIT_DIR=1
HAS_QLOG=
ctl audit --help >/dev/null 2>&1 && HAS_QLOG=1
START=$(date '+%x %T')
sleep 1 # ausearch -ts has a one-second resolution

as() { # user command...: run as the user with their own groups (root as is)
	if [ "$1" = root ]; then "${@:2}"; else setpriv --reuid "$1" --regid "$(id -g "$1")" --init-groups -- "${@:2}"; fi
}
# errno of an operation as the user: 0 or the errno number.
try() { # user op path
	as "$1" /usr/bin/python3 -c 'import os, sys
op, p = sys.argv[1], sys.argv[2]
try:
    if op == "stat": os.stat(p)
    elif op == "ls": os.listdir(p)
    elif op == "open": os.close(os.open(p, os.O_RDONLY))
    elif op == "read":
        with open(p, "rb") as f: sys.stdout.buffer.write(f.read())
    print(0, file=sys.stderr)
except OSError as e:
    print(e.errno, file=sys.stderr)' "$2" "$3" 2>&1 >"$T/out" | tail -1
}
# Linux audit records and query-log rows of the account so far (root: its own account only).
n_audit() { ausearch -m TRUSTED_APP -ts $START -i 2>/dev/null | grep -c "acct=$1 " || true; }
n_qlog() { [ -z "$HAS_QLOG" ] && echo 0 || ctl audit --user "$1" --since "$START_EPOCH" --limit 10000 --csv | tail -n +2 | wc -l; }
START_EPOCH=$(date +%s)
START_EPOCH=$((START_EPOCH - 1))

# expect USER OP PATH ERRNO RECORDS: the operation's errno and how many audit records
# (and query-log rows) it adds.
expect() {
	local u=$1 op=$2 p=$3 want=$4 recs=$5 a0 q0 got a1 q1
	a0=$(n_audit "$u")
	q0=$(n_qlog "$u")
	got=$(try "$u" "$op" "$p")
	[ "$got" = "$want" ] || fail "$u $op $p: errno $got, expected $want"
	if [ "$op" = read ] && [ "$want" = 0 ]; then cmp -s "$T/out" "$T/ref.pcap" || fail "$u read: bytes differ from extract"; fi
	sleep 0.3 # auditd writes asynchronously
	for i in 1 2 3 4 5 6 7 8 9 10; do a1=$(n_audit "$u"); [ $((a1 - a0)) -ge "$recs" ] && break; sleep 0.3; done
	[ $((a1 - a0)) -eq "$recs" ] || fail "$u $op $p: $((a1 - a0)) audit records, expected $recs: $(ausearch -m TRUSTED_APP -ts $START -i 2>/dev/null | grep "acct=$u " | tail -n $((a1 - a0)))"
	if [ -n "$HAS_QLOG" ]; then
		q1=$(n_qlog "$u")
		[ $((q1 - q0)) -eq "$recs" ] || fail "$u $op $p: $((q1 - q0)) query-log rows, expected $recs"
	fi
}

# Allowed: nothing is recorded for lookups, stat and listings; an open is an open and a
# close record. Hidden (ENOENT): every refused lookup of the device is one refusal record.
# PAM refuses (EACCES): the same, listing /pcap included (not recorded: no device named).
row_allowed() {
	local u=$1
	expect "$u" stat "$D/dev-001" 0 0
	expect "$u" stat "$F" 0 0
	expect "$u" ls "$D" 0 0
	grep -q "dev-001" <(as "$u" ls "$D") || fail "$u does not see dev-001 in /pcap"
	expect "$u" open "$F" 0 2
	expect "$u" read "$F" 0 2
}
row_hidden() {
	local u=$1
	expect "$u" stat "$D/dev-001" 2 1
	expect "$u" stat "$F" 2 1
	expect "$u" ls "$D" 0 0
	grep -q "dev-001" <(as "$u" ls "$D") && fail "$u sees dev-001 in /pcap"
	expect "$u" open "$F" 2 1
	expect "$u" read "$F" 2 1
}
row_pam() {
	local u=$1
	expect "$u" stat "$D/dev-001" 13 1
	expect "$u" stat "$F" 13 1
	expect "$u" ls "$D" 13 0
	expect "$u" open "$F" 13 1
	expect "$u" read "$F" 13 1
}
row_allowed root
row_allowed "$U_ADM"
row_allowed "$U_OWN"
row_allowed "$U_DIR"
row_allowed "$U_GRP"
row_allowed "$U_TAG"
row_hidden "$U_AUD"
row_hidden "$U_NONE"
row_hidden "$U_NOG"
row_pam "$U_PAM"
row_pam "$U_EXP"
pass "matrix: root, admin, owner, direct, group and tag grants read; auditor, ungranted and groupless users see nothing (ENOENT); pam_access and expired accounts get EACCES; each open, close and refusal recorded once$([ -n "$HAS_QLOG" ] && echo ' in ausearch and the query log' || echo ' in ausearch')"

if [ -n "$HAS_AUDIT_DIR" ]; then
	for u in root "$U_ADM" "$U_AUD"; do
		[ "$(try "$u" ls "$MNT/audit")" = 0 ] || fail "$u cannot list /audit"
	done
	for u in "$U_OWN" "$U_DIR" "$U_GRP" "$U_TAG" "$U_NONE" "$U_NOG"; do
		[ "$(try "$u" ls "$MNT/audit")" = 2 ] || fail "$u can list /audit"
		as "$u" ls "$MNT" | grep -q '^audit$' && fail "$u sees /audit"
	done
	day=$(date -u +%Y-%m-%d)
	[ "$(try "$U_AUD" read "$MNT/audit/$day.csv")" = 0 ] || fail "the auditor cannot read /audit/$day.csv"
	grep -q ",open,allow,$U_ADM,.*,dev-001," "$T/out" || fail "/audit/$day.csv lacks the admin's open"
	grep -q ",lookup,deny,$U_NONE,.*,dev-001," "$T/out" || fail "/audit/$day.csv lacks the ungranted user's refusal"
	pass "/audit: admin, auditor and root only; the day's CSV holds the matrix's opens and refusals"
fi

# Removing a user from a group denies them within the identity cache lifetime (id_cache=2).
gpasswd -d "$U_GRP" "$VID_G" >/dev/null
sleep 2.5
[ "$(try "$U_GRP" open "$F")" = 2 ] || fail "removed from the granted group, still allowed after the cache lifetime"
pass "a user removed from the granted group is denied after the identity cache lifetime"

# Path games: nothing distinguishes a hidden device from a missing one.
for p in "$D/dev-001" "$D/dev-001/$H.pcap" "$D/dev-001/../dev-001/$H.pcap"; do
	q=${p//dev-001/nodev-99}
	[ "$(try "$U_NONE" stat "$p")" = "$(try "$U_NONE" stat "$q")" ] || fail "$p and $q differ for an ungranted user"
done
long=$(printf 'd%.0s' $(seq 1 300))
[ "$(try "$U_NONE" stat "$D/$long")" = 36 ] || fail "an over-long name is not ENAMETOOLONG"
[ "$(try "$U_NONE" stat "$D/dev-001/$long")" = "$(try "$U_NONE" stat "$D/nodev-99/$long")" ] ||
	fail "an over-long name under a hidden device tells it exists"
[ "$(try "$U_DIR" stat "$D/dev-001/../dev-002")" = 2 ] || fail ".. reaches a device the user may not read"
[ "$(as "$U_NONE" ls "$D/../pcap")" = "" ] || fail "an ungranted user lists devices through .."
pass "path games: hidden and missing devices give the same errors, .. and over-long names reveal nothing"
