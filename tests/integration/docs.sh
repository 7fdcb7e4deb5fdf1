#!/bin/bash
# docs/pcapfsctl.md is generated from pcapfsctl --help: fail when it is stale.
. "$(dirname "$0")/lib.sh"
"$TESTS_DIR/../../scripts/gen-ctl-doc.sh" "$PCAPFSCTL" "$T/pcapfsctl.md"
diff -u "$TESTS_DIR/../../docs/pcapfsctl.md" "$T/pcapfsctl.md" ||
	fail "docs/pcapfsctl.md is stale: run scripts/gen-ctl-doc.sh build/src/pcapfsctl"
pass "docs/pcapfsctl.md matches pcapfsctl --help"
