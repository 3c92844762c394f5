#!/usr/bin/env bash
# Dev-only interop check: every auth scenario of the conformance suite 0.2.0-alpha.12
# (interop/node_modules/conformance-next) against mcp_client.py's OAuth, through
# ../examples/conformance_client.py, with ../examples/conformance_browser.py as $BROWSER.
#
#   ./run_conformance_auth.sh [--only SCENARIO]... [-v]
#
# Each scenario runs at its default spec version and again with --spec-version 2026-07-28 (a
# scenario not applicable there is SKIPPED by the suite).  One line each: PASS, FAIL, XFAIL
# (listed in auth_expected_failures.txt, with its reason), XPASS (listed but passed: take it off
# the list) or SKIP; then `auth-conformance: N passed, N failed, N skipped`.
# Exit status non-zero if a scenario not listed as expected to fail fails.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/.." || exit 2
PY="${PYTHON:-python3}"
. "$HERE/node_tools.sh"     # NODE NEXT, node_tools_ready (77 when they cannot be installed)
node_tools_ready run_conformance_auth.sh || exit $?
SUITE="$NEXT"
EXPECTED="$HERE/auth_expected_failures.txt"
LOGS="$HERE/.logs/auth"
mkdir -p "$LOGS"
verbose=0
only=()
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only+=("$2"); shift ;;
        -v) verbose=1 ;;
        *) echo "usage: $0 [--only SCENARIO]... [-v]" >&2; exit 2 ;;
    esac
    shift
done
if [ ${#only[@]} -gt 0 ]; then
    scenarios=("${only[@]}")
else
    mapfile -t scenarios < <("$NODE" "$SUITE" list 2>/dev/null | sed -n 's/^  - \(auth\/[^ ]*\).*/\1/p')
fi
export BROWSER="$PY $PWD/examples/conformance_browser.py %s"
passed=0; failed=0; skipped=0
for scenario in "${scenarios[@]}"; do
    for version in default 2026-07-28; do
        args=(client --scenario "$scenario" --command "$PY $PWD/examples/conformance_client.py")
        [ "$version" != default ] && args+=(--spec-version "$version")
        log="$LOGS/$(echo "$scenario" | tr / _)-$version.log"
        "$NODE" "$SUITE" "${args[@]}" >"$log" 2>&1
        status=$?
        reason=$(grep -E "^$scenario([[:space:]]|$)" "$EXPECTED" | head -1 | sed -E 's/^[^[:space:]]+[[:space:]]*//')
        listed=$(grep -cE "^$scenario([[:space:]]|$)" "$EXPECTED")
        if grep -q "^SKIPPED:" "$log"; then
            echo "SKIP  $scenario @ $version (not applicable)"; skipped=$((skipped + 1))
        elif [ $status -eq 0 ] && grep -q "OVERALL: PASSED" "$log"; then
            if [ "$listed" -gt 0 ]; then echo "XPASS $scenario @ $version (listed as expected to fail: remove it)"
            else echo "PASS  $scenario @ $version"; fi
            passed=$((passed + 1))
        elif [ "$listed" -gt 0 ]; then
            echo "XFAIL $scenario @ $version: $reason"; failed=$((failed + 1))
        else
            echo "FAIL  $scenario @ $version (log: $log)"; failed=$((failed + 1)); unexpected=1
            [ $verbose -eq 1 ] && grep -E "FAILURE|WARNING|error:|Passed:" "$log" | sed 's/^/      /'
        fi
    done
done
echo "auth-conformance: $passed passed, $failed failed, $skipped skipped"
[ -z "${unexpected:-}" ]
