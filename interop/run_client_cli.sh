#!/usr/bin/env bash
# Dev-only interop check: our client's COMMAND LINE (python ../mcp_client.py --config F tools|call|
# resources|read|prompts|prompt) against the official Python SDK's MCPServer (stdio and HTTP), the
# TypeScript reference server @modelcontextprotocol/server-everything (stdio and streamableHttp), and
# ../mcp_weather.py (--stdio and --stateless, each in the 2026-07-28 era and in the 2025 handshake).
# See README.md.
#
#   ./run_client_cli.sh [--only LABEL]... [-v]
#
# Installs nothing new: the venv (venv_tools.sh) and the npm packages (node_tools.sh) that
# run_client.sh uses. Last line: `client-cli: N passed, N failed, N skipped`. Exit status non-zero
# if a command failed; 77 if the tools could not be installed.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
. "$HERE/client_run_tools.sh"  # PY T0 NODE EVERYTHING VENV, client_run_ready, client_run_end
client_run_ready run_client_cli.sh
echo "run_client_cli.sh: node $("$NODE" --version), $("$VENV/bin/python" -c 'from importlib.metadata import version as v; print("mcp", v("mcp"))'), $("$PY" --version 2>&1)"
"$PY" "$HERE/client_cli_check.py" --sdk-python "$VENV/bin/python" --node "$NODE" --everything "$EVERYTHING" "$@"
client_run_end run_client_cli.sh $?
