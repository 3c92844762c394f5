#!/usr/bin/env bash
# Dev-only interop check: our client, ../mcp_client.py, against OFFICIAL MCP servers. See README.md.
#
#   ./run_client.sh [-v]
#
# Servers: sdk_server.py on the official Python SDK (pip `mcp` 2.x in interop/.venv: sessionful,
# stateless, json_response) and the TypeScript reference server @modelcontextprotocol/server-everything
# in Streamable HTTP mode (npm, in interop/node_modules with Node 22; node_tools.sh installs it).
# client_check.py starts each on a free port, drives it with MCPClient and stops it.
# Exit status non-zero if any step failed; 77 if the tools could not be installed.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
. "$HERE/client_run_tools.sh"  # PY T0 NODE EVERYTHING VENV, client_run_ready, client_run_end
client_run_ready run_client.sh
echo "run_client.sh: node $("$NODE" --version), $("$VENV/bin/python" -c 'from importlib.metadata import version as v; print("mcp", v("mcp"))'), server-everything $("$NODE" -p "require('$HERE/node_modules/@modelcontextprotocol/server-everything/package.json').version") (setup $("$PY" -c "print('%.1f' % ($(now) - $T0))")s)"

"$PY" "$HERE/client_check.py" --sdk-python "$VENV/bin/python" --node "$NODE" --everything "$EVERYTHING" "$@"
client_run_end run_client.sh $?
