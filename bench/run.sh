#!/usr/bin/env bash
# Dev-only: the benchmark beside the official MCP SDK (see README.md).
#
#   ./run.sh             # bench.py --peer: the full run, ~3.5 min
#   ./run.sh --quick     # a smoke run, ~30 s
#
# bench.py makes the SDK's throwaway venv (bench/.venv) on first use. The
# figures go to stdout and, as JSON, to results/bench-<UTC time>.json;
# the servers' logs to logs/. Any other bench.py flag passes through.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$HERE/results"
exec "${PYTHON:-python3}" "$HERE/bench.py" --peer \
    --out "$HERE/results/bench-$(date -u +%Y%m%dT%H%M%SZ).json" "$@"
