#!/usr/bin/env python3
"""Run the official MCP conformance suite's CLIENT scenarios against ../mcp_client.py.

    python3 conformance_client_run.py --node NODE --release DIST_JS --next DIST_JS
                                      [--command CMD] [--only SCENARIO]... [--expected FILE]
                                      [--results DIR] [--verbose]

Called by run_conformance_client.sh.  In a client scenario the suite is the SERVER: it starts a mock
MCP server on a free port, runs `CMD URL` with MCP_CONFORMANCE_SCENARIO (the scenario's name),
MCP_CONFORMANCE_PROTOCOL_VERSION (the wire it plays) and, for some scenarios, MCP_CONFORMANCE_CONTEXT
(JSON: the tool calls to make, credentials...) in the environment, and checks what the client sent.
CMD defaults to `python3 ../examples/conformance_client.py`, the driver that maps each scenario to
public calls of mcp_client.MCPClient (the same calls the command line makes).

Two builds of the suite, as for the server side (conformance_run.py):
  release  @modelcontextprotocol/conformance@latest (0.1.16 when written): each client scenario once.
  next     the 0.2.0 pre-release (npm alias conformance-next): each client scenario at its default
           wire (2025-11-25, or 2026-07-28 for scenarios introduced there) and again with
           --spec-version 2026-07-28 when the scenario applies there (`list --client` names the wires).
Not run, with the reason: auth/ scenarios (OAuth, the next issue) and extensions (skills, ...).

A check counts against a run when its status is FAILURE (WARNING is shown, never fails); a client
that exits non-zero or times out fails the run too, unless the scenario allows a client error.
Expected failures: FILE (default client_expected_failures.txt beside this script), one per line:
`SCENARIO[@WIRE]  reason`, WIRE being `default` or a date (no @: every run of the scenario; a
`release:` or `next:` prefix narrows it to one build).  A listed run that fails is XFAIL (counted as
skipped, exit status 0); a listed run that passes is XPASS, reported so that the line is removed.
The last line is `client-conformance: N passed, N failed, N skipped`.  Stdlib only; Python 3.7+.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

from suite import list_scenarios, package_version, run_suite

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "..", "examples", "conformance_client.py")
NEW_WIRE = "2026-07-28"

# Not run (first matching prefix wins); the tags `list --client` prints decide "extension".
SKIP = [
    ("auth/", "authorization (OAuth) scenario: the next issue"),
]

# Scenarios whose client may exit non-zero (it is expected to reject what the server sent); the
# suite marks them allowClientError, which it does not print.
ALLOW_CLIENT_ERROR = {"http-invalid-tool-headers"}


def first_match(table, scenario, default=None):
    return next((value for prefix, value in table if scenario.startswith(prefix)), default)


def make_plan(offered):
    """ (build, scenario, --spec-version or None) for every client scenario that is run, and
    (label, reason) for the others. """
    plan, not_run = [], []
    for build in ("release", "next"):
        for scenario, tags in offered.get(build, []):
            reason = first_match(SKIP, scenario)
            if reason is None and tags and not any(re.match(r"\d{4}-\d\d-\d\d$", t) for t in tags):
                reason = "extension (%s), not on the spec timeline" % ",".join(tags)
            if reason is not None:
                family = scenario.split("/")[0] + "/*" if "/" in scenario else scenario
                not_run.append(("%s (%s)" % (family, build), reason))
                continue
            plan.append((build, scenario, None))
            if build == "next":
                if NEW_WIRE in tags:
                    plan.append((build, scenario, NEW_WIRE))
                else:
                    not_run.append(("%s@%s (next)" % (scenario, NEW_WIRE),
                                    "not applicable at %s (wires: %s)" % (NEW_WIRE, ",".join(tags))))
    return plan, not_run


def load_expected(path):
    """ {key: reason}; key is (build or None, scenario, wire or None). """
    expected = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return expected
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, reason = line.partition(" ")
        build = None
        if word.split(":", 1)[0] in ("release", "next") and ":" in word:
            build, word = word.split(":", 1)
        scenario, _, wire = word.partition("@")
        expected[(build, scenario, wire or None)] = reason.strip() or "(no reason given)"
    return expected


def expected_reason(expected, build, scenario, spec):
    wire = spec or "default"
    for key in ((build, scenario, wire), (None, scenario, wire), (build, scenario, None),
                (None, scenario, None)):
        if key in expected:
            return expected[key]
    return None


def run_one(node, dist, command, scenario, spec, outdir, timeout_ms):
    os.makedirs(outdir, exist_ok=True)
    cmd = [node, dist, "client", "--command", command, "--scenario", scenario, "-o", outdir,
           "--timeout", str(timeout_ms)]
    if spec:
        cmd += ["--spec-version", spec]
    rc, elapsed, out, checks, found = run_suite(cmd, outdir, timeout_ms / 1000.0 + 60)
    with open(os.path.join(outdir, "runner.txt"), "w", encoding="utf-8") as f:
        f.write("$ %s\n%s" % (" ".join(shlex.quote(c) for c in cmd), out))
    return rc, elapsed, checks, out, cmd, (os.path.dirname(found) if found else outdir)


def client_trouble(out):
    """ What the suite printed about the client process: exit code, time-out, stderr's end. """
    notes = []
    m = re.search(r"Client exited with code (\d+)", out)
    if m:
        notes.append("client exited with code %s" % m.group(1))
    if "Client timed out" in out:
        notes.append("client timed out")
    m = re.search(r"\nStderr:\n(.*?)(?:\n\n|\nChecks:|\Z)", out, re.S)
    if notes and m:
        tail = [line for line in m.group(1).strip().splitlines() if line.strip()][-2:]
        notes += ["stderr: " + line.strip()[:200] for line in tail]
    return notes


def judge(scenario, rc, checks, out):
    """ ("PASS"|"FAIL"|"SKIP", counts, notes) for one run. """
    counts = {"ok": 0, "fail": 0, "warn": 0}
    notes = []
    m = re.search(r"SKIPPED: .*", out)
    if checks is None and m:
        return "SKIP", counts, [("SKIP", "-", m.group(0))]
    if checks is None:
        return "FAIL", counts, [("ERROR", "-", "no checks.json (exit %s)" % rc)]
    for c in checks:
        status = c.get("status")
        if status == "SUCCESS":
            counts["ok"] += 1
        elif status == "FAILURE":
            counts["fail"] += 1
            notes.append(("FAIL", c.get("id"), c.get("errorMessage") or c.get("description") or
                          json.dumps(c.get("details"))[:200]))
        elif status == "WARNING":
            counts["warn"] += 1
            notes.append(("WARN", c.get("id"), c.get("errorMessage") or c.get("description") or ""))
    trouble = client_trouble(out)
    # The suite's exit status is non-zero for a warning too, so it is not the verdict: a FAILURE
    # check is, and so is a client that exits non-zero or times out (unless the scenario allows it).
    erred = bool(trouble) or rc == "timeout"
    verdict = "FAIL" if counts["fail"] or (erred and scenario not in ALLOW_CLIENT_ERROR) else "PASS"
    if verdict == "FAIL" and not counts["fail"]:
        notes += [("CLIENT", "-", t) for t in trouble] or [("EXIT", "-", "suite exited %s" % rc)]
    elif trouble:
        notes += [("INFO", "-", t) for t in trouble]
    return verdict, counts, notes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node", required=True)
    ap.add_argument("--release", required=True, help="dist/index.js of @modelcontextprotocol/conformance@latest")
    ap.add_argument("--next", required=True, help="dist/index.js of the 0.2.0 pre-release")
    ap.add_argument("--command", default="%s %s" % (shlex.quote(sys.executable), shlex.quote(os.path.abspath(DRIVER))),
                    help="the client command; the suite appends the server URL")
    ap.add_argument("--only", action="append", help="run only these scenario names")
    ap.add_argument("--spec", action="append", help="run only at these wires (default, 2026-07-28)")
    ap.add_argument("--expected", default=os.path.join(HERE, "client_expected_failures.txt"))
    ap.add_argument("--timeout", type=int, default=30000, help="ms the client may take per scenario")
    ap.add_argument("--results", default=os.path.join(HERE, ".results",
                                                      time.strftime("client-conformance-%Y%m%d-%H%M%S")))
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    dists = {"release": args.release, "next": args.next}
    versions = {k: package_version(v) for k, v in dists.items()}
    node_version = subprocess.run([args.node, "--version"], stdout=subprocess.PIPE).stdout.decode().strip()
    print("client conformance: release %s, next %s, node %s; client: %s; results in %s" % (
        versions["release"], versions["next"], node_version, args.command, args.results), flush=True)

    offered = dict((build, list_scenarios(args.node, dist, "client")) for build, dist in dists.items())
    candidates, not_run = make_plan(offered)
    plan = [p for p in candidates if (not args.only or p[1] in args.only) and
            (not args.spec or (p[2] or "default") in args.spec)]
    expected = load_expected(args.expected)

    t_all = time.monotonic()
    tally = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0, "SKIP": 0}
    groups = {}
    for build, scenario, spec in plan:
        label = "%s %s @%s" % (versions[build], scenario, spec or "default")
        outdir = os.path.join(args.results, "%s-%s-%s" % (build, scenario.replace("/", "_"), spec or "default"))
        rc, elapsed, checks, out, cmd, where = run_one(args.node, dists[build], args.command, scenario, spec,
                                                       outdir, args.timeout)
        verdict, counts, notes = judge(scenario, rc, checks, out)
        reason = expected_reason(expected, build, scenario, spec)
        shown = verdict
        if reason is not None and verdict == "FAIL":
            shown = "XFAIL"
        elif reason is not None and verdict == "PASS":
            shown = "XPASS"
        tally[shown] += 1
        key = "%s %s @%s" % (build, versions[build], spec or "default")
        groups.setdefault(key, {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0, "SKIP": 0})[shown] += 1
        print("%-5s %-56s %2d ok, %d failed, %d warn  (%.1fs)" % (
            shown, label, counts["ok"], counts["fail"], counts["warn"], elapsed), flush=True)
        if shown == "XFAIL":
            print("        expected: %s" % reason)
        if shown == "XPASS":
            print("        listed in %s (%s) but passed: remove the line" % (os.path.basename(args.expected), reason))
        for kind, cid, msg in notes:
            if kind == "WARN" and shown == "PASS" and not args.verbose:
                continue
            first = (msg or "").strip().splitlines()[0] if (msg or "").strip() else ""
            print("        %-6s %s: %s" % (kind, cid, first[:240]))
        if shown in ("FAIL", "XFAIL"):
            print("        results: %s" % where)
        if shown == "FAIL":
            print("        rerun: %s" % " ".join(shlex.quote(c) for c in cmd))
        if args.verbose:
            print("\n".join("        | " + line for line in out.splitlines()))

    print("\nNot run (%d):" % len(not_run))
    shown = []
    for s, why in not_run:      # a family (auth/*) once per build, with its count
        if (s, why) not in shown:
            shown.append((s, why))
    for s, why in shown:
        n = not_run.count((s, why))
        print("  - %-50s %s" % (s + (" x%d" % n if n > 1 else ""), why))
    print()
    for key in sorted(groups):
        g = groups[key]
        print("client-conformance %-34s %d of %d runs passed%s%s" % (
            key, g["PASS"] + g["XPASS"], sum(g.values()) - g["SKIP"],
            ", %d expected failures" % g["XFAIL"] if g["XFAIL"] else "",
            ", %d skipped by the suite" % g["SKIP"] if g["SKIP"] else ""))
    print("\nclient-conformance: %d runs in %.1fs; %d expected failures, %d listed but passed" % (
        len(plan), time.monotonic() - t_all, tally["XFAIL"], tally["XPASS"]))
    print("client-conformance: %d passed, %d failed, %d skipped" % (
        tally["PASS"] + tally["XPASS"], tally["FAIL"], tally["XFAIL"] + tally["SKIP"] + len(not_run)))
    return 1 if tally["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
