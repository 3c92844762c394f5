#!/usr/bin/env bash
# Dev-only benchmark of ../mcp_weather.py against the official MCP Python SDK (see README.md).
#
#   ./run.sh                       # both servers, full run (~2 min per repeat)
#   ./run.sh --quick               # smoke test (~30 s)
#   ./run.sh --repeat 3            # three fresh runs of each server: median [min-max]
#   ./run.sh --server mcp-weather  # any other bench.py flag passes through
#
# Makes (once) a throwaway venv in bench/.venv with `mcp` (MCP_SDK_SPEC, default mcp==2.3.0) and
# uvicorn from PyPI; later runs reuse it. Writes results/latest.json (and a dated copy) and the
# servers' logs in logs/. Everything runs on 127.0.0.1. Exit status: bench.py's (non-zero if a
# server failed or any request got a wrong answer).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
PY="${PYTHON:-python3}"
VENV="$HERE/.venv"
SPEC="${MCP_SDK_SPEC:-mcp==2.3.0}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "run.sh: creating $VENV" >&2
    "$PY" -m venv "$VENV" || exit 2
fi
case "$SPEC" in mcp==*) want=${SPEC#mcp==} ;; *) want="" ;; esac   # pinned: check the version
have=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null)
if ! "$VENV/bin/python" -c 'import uvicorn, mcp.server.mcpserver' 2>/dev/null ||
        { [ -n "$want" ] && [ "$have" != "$want" ]; }; then
    echo "run.sh: pip install '$SPEC' uvicorn into $VENV (PyPI) ..." >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SPEC" uvicorn || exit 2
fi
echo "run.sh: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"), "uvicorn", m.version("uvicorn"))') in .venv" >&2

mkdir -p "$HERE/results" "$HERE/logs"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$HERE/results/bench-$stamp.json"
"$PY" "$HERE/bench.py" --server both --out "$out" "$@"
rc=$?
[ -f "$out" ] && cp "$out" "$HERE/results/latest.json"
exit $rc
