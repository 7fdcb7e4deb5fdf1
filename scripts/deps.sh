#!/bin/bash
# Install the build and test dependencies of pcapfs on Debian 12 (idempotent; needs root).
set -euo pipefail
pkgs=(
	build-essential meson ninja-build pkg-config
	libsqlite3-dev libpcap-dev libfuse3-dev fuse3 libpam0g-dev libaudit-dev
	tcpdump tshark wireshark-common python3 sqlite3 bsdutils
	rsync tcpreplay iproute2 util-linux procps auditd passwd samba smbclient
	clang libclang-rt-14-dev valgrind
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# wireshark-common asks whether non-root users may capture; the answer does not matter.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
