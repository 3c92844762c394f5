# Sourced by run_client.sh and run_client_cli.sh: what both do around their check script.
# Sets PY (PYTHON or python3), T0, and what node_tools.sh and venv_tools.sh set (NODE EVERYTHING ...,
# VENV). client_run_ready PROGRAM makes the venv and the npm packages ready, or exits with their status
# (77 when they cannot be installed, which .ci/run reports as a skip). client_run_end PROGRAM RC prints
# the total time and ALL PASSED or FAILURES, and exits with RC.
PY="${PYTHON:-python3}"
now() { "$PY" -c 'import time; print("%.3f" % time.time())'; }
T0=$(now)
. "$HERE/node_tools.sh"     # NODE EVERYTHING, node_tools_ready
. "$HERE/venv_tools.sh"     # VENV, venv_ready

client_run_ready() {  # client_run_ready PROGRAM
    venv_ready "$1" || exit $?
    node_tools_ready "$1" || exit $?
}

client_run_end() {  # client_run_end PROGRAM RC
    echo
    echo "$1: total $("$PY" -c "print('%.1f' % ($(now) - $T0))")s"
    [ "$2" -eq 0 ] && echo "$1: ALL PASSED" || echo "$1: FAILURES (see FAIL lines above)"
    exit "$2"
}
