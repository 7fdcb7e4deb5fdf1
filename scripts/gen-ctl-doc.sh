#!/bin/bash
# Write docs/pcapfsctl.md from pcapfsctl's own --help texts, so that the manual and the
# program cannot disagree (tests/integration/docs.sh checks it is current).
# Usage: scripts/gen-ctl-doc.sh PCAPFSCTL [OUTPUT]
set -euo pipefail
ctl=$1
out=${2:-$(dirname "$0")/../docs/pcapfsctl.md}
{
	echo '# pcapfsctl(8)'
	echo
	echo 'The administration command of a pcapfs spool. This page is generated from the'
	echo "program's own help (\`scripts/gen-ctl-doc.sh\`); \`pcapfsctl COMMAND --help\` prints the same."
	echo
	echo '## Synopsis'
	echo
	echo '```'
	"$ctl" --help
	echo '```'
	for cmd in init device import extract verify reindex status segments grant audit; do
		echo
		echo "## pcapfsctl $cmd"
		echo
		echo '```'
		"$ctl" --spool /nonexistent "$cmd" --help
		echo '```'
	done
} >"$out"
