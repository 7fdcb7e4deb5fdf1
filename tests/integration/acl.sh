#!/bin/bash
# The access policy with real Unix users: owner (user and @group), grants to a user, to a
# group, through a tag and to *, the admin group, an ungranted user, revocation, and PAM
# (an expired account is refused even with a grant). Checked with pcapfsctl explain, which
# runs the same decision the filesystem runs.
. "$(dirname "$0")/lib.sh"
need useradd groupadd userdel groupdel chage
[ "$(id -u)" -eq 0 ] || skip "needs root to create users"

P=pcfst$$
users=("${P}own" "${P}usr" "${P}grp" "${P}tag" "${P}all" "${P}adm" "${P}none" "${P}exp")
groups=("${P}vid" "${P}own_g")
pam_installed= admin_created=
cleanup_users() {
	for u in "${users[@]}"; do userdel "$u" 2>/dev/null || true; done
	for g in "${groups[@]}"; do groupdel "$g" 2>/dev/null || true; done
	[ -z "$admin_created" ] || groupdel pcapfs-admin 2>/dev/null || true
	[ -z "$pam_installed" ] || rm -f /etc/pam.d/pcapfs
}
on_exit cleanup_users
for g in "${groups[@]}"; do groupadd "$g"; done
getent group pcapfs-admin >/dev/null || { groupadd pcapfs-admin; admin_created=1; }
for u in "${users[@]}"; do useradd -M -N -g users "$u"; done
usermod -aG "${P}vid" "${P}grp"
usermod -aG "${P}own_g" "${P}tag"
usermod -aG pcapfs-admin "${P}adm"
chage -E 0 "${P}exp"
# The shipped PAM service, as an installation has it.
if [ ! -e /etc/pam.d/pcapfs ]; then
	cp "$TESTS_DIR/../../systemd/pcapfs.pam" /etc/pam.d/pcapfs
	pam_installed=1
fi

ctl --quiet init
ctl device add cam-1 --mac 02:00:00:00:00:01 --owner "${P}own" --tag camera
ctl device add cam-2 --mac 02:00:00:00:00:02 --owner "@${P}own_g"
ctl device add plc-1 --mac 02:00:00:00:00:03 --tag plc
ctl grant "user:${P}usr" plc-1
ctl grant "group:${P}vid" tag:camera
ctl grant "user:${P}all" '*'
ctl grant "user:${P}exp" '*'
expect_fail 'already holds a grant' ctl grant "user:${P}usr" plc-1
expect_fail 'no device named' ctl grant "user:${P}usr" nothere
expect_fail 'principal must be' ctl grant "${P}usr" plc-1
# Names this system does not know (yet): stored, with a warning, and silent with --quiet.
out=$(ctl grant "user:${P}nobody" plc-1 2>&1) || fail "a grant to an unknown user was refused: $out"
grep -q "warning: this system knows no user named '${P}nobody' now; the grant applies once it does" <<<"$out" ||
	fail "no warning for an unknown user: $out"
out=$(ctl device add plc-2 --owner "@${P}nogroup" 2>&1) || fail "an unknown owner group was refused: $out"
grep -q "knows no group named '${P}nogroup'" <<<"$out" || fail "no warning for an unknown group: $out"
[ -z "$(ctl --quiet revoke "user:${P}nobody" plc-1 2>&1)" ] || fail "revoke warned"
ctl --quiet device rm plc-2
pass "unknown user and group names are stored with a warning"

check() { # user path expect(allow|deny) reason-regex
	local out rc=0
	out=$(ctl explain --uid "$1" "$2") || rc=$?
	case $3 in
	allow) [ $rc -eq 0 ] || fail "$1 $2: expected allow: $out" ;;
	deny) [ $rc -eq 1 ] || fail "$1 $2: expected deny (rc $rc): $out" ;;
	esac
	echo "$out" | grep -Eq -- "$4" || fail "$1 $2: reason does not match /$4/: $out"
	pass "$out"
}
W=/pcap/cam-1/20261122T100000Z--20261122T110000Z.pcap
check root "$W" allow 'root'
# As the mount answers: a window wider than the spool's maximum is refused to everyone;
# /audit is for admins and auditors.
check root /pcap/cam-1/20261122T100000Z--20261122T120000Z.pcap deny "wider than the spool's maximum of 3600 s \(EFBIG\)"
check root /audit allow 'uid 0'
check "${P}usr" /audit/2026-12-07.csv deny 'neither administrator nor auditor'
[ "$(ctl --json explain --uid root "$W")" = '{"uid": 0, "user": "root", "path": "'"$W"'", "allowed": true, "reason": "root", "pam": "ok"}' ] ||
	fail "explain --json: $(ctl --json explain --uid root "$W")"
check "${P}own" "$W" allow "owner ${P}own"
check "${P}own" /pcap/plc-1 deny 'default deny'
check "${P}tag" /pcap/cam-2 allow "owner @${P}own_g"
check "${P}usr" plc-1 allow "grant user:${P}usr on plc-1"
check "${P}usr" "$W" deny 'default deny'
check "${P}grp" "$W" allow "grant group:${P}vid on tag:camera"
check "${P}grp" /pcap/plc-1 deny 'default deny'
check "${P}all" /pcap/plc-1 allow "grant user:${P}all on \\*"
check "${P}adm" /pcap/plc-1 allow 'admin \(group pcapfs-admin\)'
check "${P}none" "$W" deny 'default deny'
check "${P}exp" "$W" deny 'PAM refuses the account'

# Revocation takes effect at the next decision.
ctl revoke "group:${P}vid" tag:camera
check "${P}grp" "$W" deny 'default deny'
expect_fail 'holds no grant' ctl revoke "group:${P}vid" tag:camera
# Losing a tag loses the grants through it.
ctl grant "group:${P}vid" tag:camera
ctl device set cam-1 --untag camera
check "${P}grp" "$W" deny 'default deny'

# acl list by device and by user.
ctl acl list --device plc-1 | grep -q "user:${P}usr" || fail "acl list --device"
ctl acl list --user "${P}tag" | grep -q "group:${P}own_g .*cam-2 .*owner" || fail "acl list --user: $(ctl acl list --user "${P}tag")"
ctl --json acl list | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "acl list --json"
pass "acl list by device, by user, as JSON"
