# Sourced by run_sdk.sh and client_run_tools.sh (for the run_client*.sh): the throwaway venv
# interop/.venv with the official MCP Python SDK (pip `mcp`, 2.x; MCP_SDK_SPEC='mcp==2.3.0' pins one,
# SDK_UPGRADE=1 reinstalls the newest).
# Sets VENV. venv_ready PROGRAM makes the venv and installs mcp when missing; it returns 77 when PyPI
# cannot be reached, which .ci/run reports as a skip. Python 3.10+ is needed (PYTHON picks it).
VENV="$HERE/.venv"
SPEC="${MCP_SDK_SPEC:-mcp}"

venv_ready() {  # venv_ready PROGRAM
    if [ ! -x "$VENV/bin/python" ]; then
        echo "$1: creating $VENV"
        "${PYTHON:-python3}" -m venv "$VENV" || return 2
    fi
    # mcp >= 2 is needed (Client(mode=...), httpx2); anything else, or SDK_UPGRADE=1, triggers a (re)install.
    if [ -n "${SDK_UPGRADE:-}" ] || ! "$VENV/bin/python" -c '
import dataclasses, mcp.client.streamable_http, httpx2
from mcp import Client
assert "mode" in {f.name for f in dataclasses.fields(Client)}' 2>/dev/null; then
        echo "$1: pip install --upgrade '$SPEC' into .venv (PyPI) ..."
        "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --upgrade "$SPEC" || return 77
    fi
}
