#!/usr/bin/env bash
# Dev-only interop check: the CLIENT scenarios of the official MCP conformance suite
# (@modelcontextprotocol/conformance, Node 22+) against ../mcp_client.py, through the driver
# ../examples/conformance_client.py. See README.md.
#
#   ./run_conformance_client.sh [--only SCENARIO]... [--spec default|2026-07-28]... [-v]
#
# Installs (once) the same npm packages as run_conformance.sh (node_tools.sh). Runs, through
# conformance_client_run.py, every non-auth client scenario of the release build (0.1.16) once and
# of the 0.2.0 pre-release at its default wire and with --spec-version 2026-07-28 where it applies.
# Expected failures: client_expected_failures.txt. Last line:
# `client-conformance: N passed, N failed, N skipped`. Exit status non-zero if a run failed that is
# not listed as expected; 77 if the tools could not be installed.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
PY="${PYTHON:-python3}"
. "$HERE/node_tools.sh"     # NODE REL NEXT, node_tools_ready
mkdir -p "$HERE/.results"
now() { "$PY" -c 'import time; print("%.3f" % time.time())'; }
T0=$(now)

node_tools_ready run_conformance_client.sh || exit $?
echo "run_conformance_client.sh: node $("$NODE" --version), $("$PY" --version 2>&1)"
"$PY" "$HERE/conformance_client_run.py" --node "$NODE" --release "$REL" --next "$NEXT" \
    --command "$("$PY" -c 'import sys; print(sys.executable)') $HERE/../examples/conformance_client.py" "$@"
rc=$?
echo
echo "run_conformance_client.sh: total $("$PY" -c "print('%.1f' % ($(now) - $T0))")s"
[ $rc -eq 0 ] && echo "run_conformance_client.sh: NO UNEXPECTED FAILURES" || echo "run_conformance_client.sh: FAILURES (see FAIL lines above)"
exit $rc
