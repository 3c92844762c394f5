#!/usr/bin/env bash
# Dev-only interop check: the OFFICIAL MCP Python SDK client (pip `mcp`, latest 2.x) against
# ../mcp_weather.py over Streamable HTTP, in every connect mode the SDK offers. See README.md.
#
#   ./run_sdk.sh [-v]          (-v prints every HTTP exchange)
#
# Makes (once) a throwaway venv in interop/.venv and installs `mcp` from PyPI into it; later runs
# reuse it (SDK_UPGRADE=1 ./run_sdk.sh reinstalls the newest, MCP_SDK_SPEC='mcp==2.3.0' pins one).
# Each run starts fake_upstream.py + `python ../mcp_weather.py --port 0` through stack.py:
#   1. sessionful server: modes legacy (2025-11-25), auto (discover probe -> 2026-07-28),
#      2026-07-28 (pinned, no probe), legacy@2025-06-18 and legacy@2025-03-26 (SDK patched to offer them)
#   2. `--stateless` server: modes legacy and auto
#   3. ../examples/conformance_server.py (the suite's fixtures): the server asks the client (sampling,
#      elicitation, roots) and the SDK's callbacks answer; modes legacy, legacy@2025-06-18 (on the call's
#      SSE stream), auto and 2026-07-28 (InputRequiredResult, retried by the SDK)
# Exit status non-zero if any step of any run failed.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
PY="${PYTHON:-python3}"
mkdir -p "$HERE/.logs"
. "$HERE/venv_tools.sh"     # VENV, venv_ready

now() { "$PY" -c 'import time; print("%.3f" % time.time())'; }
T0=$(now)

venv_ready run_sdk.sh || exit $?
SDK_VERSION=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("mcp"))')
echo "run_sdk.sh: mcp $SDK_VERSION in .venv (setup $("$PY" -c "print('%.1f' % ($(now) - $T0))")s)"

if [ ! -f "$HERE/../mcp_weather.py" ]; then
    echo "run_sdk.sh: ../mcp_weather.py not found" >&2
    exit 2
fi

rc=0
run() {  # run LABEL [stack.py options] -- sdk_client_check.py options
    local label=$1; shift
    local t=$(now)
    echo
    echo "######## $label"
    "$PY" "$HERE/stack.py" --log "$HERE/.logs/server-sdk-$label.log" "$@"
    local r=$?
    echo "######## $label: exit $r in $("$PY" -c "print('%.1f' % ($(now) - $t))")s"
    [ $r -ne 0 ] && rc=1
}

run sessionful -- "$VENV/bin/python" "$HERE/sdk_client_check.py" \
    --mode legacy --mode auto --mode 2026-07-28 --mode legacy@2025-06-18 --mode legacy@2025-03-26 "$@"
run stateless --stateless -- "$VENV/bin/python" "$HERE/sdk_client_check.py" --stateless-server \
    --mode legacy --mode auto "$@"
run fixture --server "$HERE/../examples/conformance_server.py" -- "$VENV/bin/python" \
    "$HERE/sdk_client_check.py" --fixture --mode legacy --mode legacy@2025-06-18 --mode auto \
    --mode 2026-07-28 "$@"

echo
echo "run_sdk.sh: mcp $SDK_VERSION, total $("$PY" -c "print('%.1f' % ($(now) - $T0))")s, server logs in .logs/server-sdk-*.log"
[ $rc -eq 0 ] && echo "run_sdk.sh: ALL PASSED" || echo "run_sdk.sh: FAILURES (see FAIL lines above)"
exit $rc
