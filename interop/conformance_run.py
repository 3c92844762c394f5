#!/usr/bin/env python3
"""Run the official MCP conformance suite's server scenarios against a running server.

    python3 conformance_run.py --node NODE --release DIST_JS --next DIST_JS [--url URL]
                               [--target weather|fixture] [--stateless-server]
                               [--only SCENARIO]... [--results DIR] [--verbose] [--suite-all]

Called by run_conformance.sh inside stack.py (which sets MCP_URL). Two builds of the suite are used:
  release  @modelcontextprotocol/conformance@latest (0.1.16 when written): 2025-11-25 wire only.
  next     the 0.2.0 pre-release (npm alias conformance-next): adds server-session-lifecycle and the
           2026-07-28 scenarios, and runs two-era scenarios once per wire via --spec-version.
--target weather (default): ../mcp_weather.py; the transport scenarios and those that apply to a
weather server (PLAN). Scenarios that need the suite's own test tools, resources and prompts are not
run; they are listed with the reason.
--target fixture: ../examples/conformance_server.py, which has those fixtures. Every server scenario
either build lists is run: the release build's once, the next build's once per wire it names
(2025-11-25 and 2026-07-28), except extensions and what SKIP_FIXTURE says (with the reason). Inside the scenarios that are run, a FAILURE is counted as N/A
(not a server bug) only when the suite itself says it could not test it ("Not testable: ..." /
details.untestable) or when it probed prompts/resources methods that this tools-only server answers
with -32601. Everything else that is not SUCCESS is shown. Exit 1 if a scenario has a real failure.
--suite-all: instead of the plan, one run of the next build's own `server --suite all` (every
server scenario it has, each on the wire it picks; 65 in 0.2.0-alpha.12), counted from its summary
lines. Issue 18 asks for 65 of 65 against the fixture server.
Stdlib only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

from suite import list_scenarios, package_version, run_suite

# (build, scenario, --spec-version or None, checklist items it exercises)
PLAN = [
    ("release", "server-initialize", None, "4.1, S45, S46"),
    ("release", "ping", None, "4.2"),
    ("release", "tools-list", None, "5.1, S17"),
    ("release", "server-sse-multiple-streams", None, "S38, S17, S55"),
    ("release", "dns-rebinding-protection", None, "S2, S3, S6"),
    ("release", "server-sse-polling", None, "S19-S21, S41, S42"),
    ("next", "server-initialize", "2025-11-25", "4.1, S45, S46"),
    ("next", "ping", "2025-11-25", "4.2"),
    ("next", "tools-list", "2025-11-25", "5.1, S17"),
    ("next", "server-sse-multiple-streams", "2025-11-25", "S38, S17"),
    ("next", "dns-rebinding-protection", "2025-11-25", "S2, S3, S6"),
    ("next", "server-sse-polling", "2025-11-25", "S19-S21, S41, S42"),
    ("next", "server-session-lifecycle", "2025-11-25", "S45-S50"),
    ("next", "server-stateless", "2026-07-28", "1.3, S56, S57, S61-S64"),
    ("next", "http-header-validation", "2026-07-28", "S58, S59"),
    ("next", "caching", "2026-07-28", "S63"),
    ("next", "tools-list", "2026-07-28", "5.1, S63"),
    ("next", "server-sse-multiple-streams", "2026-07-28", "S17, S24"),
    ("next", "dns-rebinding-protection", "2026-07-28", "S2, S3, S6"),
    # resources (templates only: resources/list is empty) and the weather_report prompt
    ("release", "resources-list", None, "6.4"),
    ("release", "prompts-list", None, "6.4"),
    ("next", "resources-list", "2025-11-25", "6.4"),
    ("next", "prompts-list", "2025-11-25", "6.4"),
    ("next", "resources-list", "2026-07-28", "6.4, S63"),
    ("next", "prompts-list", "2026-07-28", "6.4, S63"),
    ("next", "sep-2164-resource-not-found", "2026-07-28", "7.1"),
]

# Run only when the server declares the capability in its InitializeResult (checked at start).
CAPABILITY_GATED = [
    ("release", "logging-set-level", None, "6.3", "logging"),
    ("next", "logging-set-level", "2025-11-25", "6.3", "logging"),
]

NEEDS_SESSIONS = {"server-session-lifecycle"}

# --target fixture: scenarios a --stateless server cannot pass by design (no session: no
# resources/subscribe, no logging/setLevel to remember, no stream to ask the client on, no resumption).
FIXTURE_NEEDS_SESSIONS = {
    "server-session-lifecycle", "resources-subscribe", "resources-unsubscribe", "tools-call-sampling",
    "tools-call-elicitation", "elicitation-sep1034-defaults", "elicitation-sep1330-enums",
    "tools-call-with-logging", "server-sse-polling"}

# --target fixture: not run, with the reason (first matching prefix wins).
SKIP_FIXTURE = [
    ("sep-2640-", "skills extension, not implemented (optional)"),
]

# --target fixture: extension scenarios that are run (once, without --spec-version: the suite runs
# an extension on the 2026-07-28 wire). Other extensions are in SKIP_FIXTURE or not run.
FIXTURE_EXTENSIONS = ("tasks-",)

# --target fixture: the checklist items each scenario family exercises (first matching prefix wins).
FIXTURE_ITEMS = [
    ("server-initialize", "4.1"), ("ping", "4.2"), ("logging-", "6.3"), ("completion-", "6.5"),
    ("tools-list", "5.1"), ("tools-call-with-progress", "6.1"), ("tools-call-with-logging", "6.3"),
    ("tools-call-sampling", "S23"), ("tools-call-elicitation", "S23"), ("elicitation-", "S23"),
    ("tools-call-", "5.3"), ("json-schema", "4.0"), ("server-sse-polling", "S19-S21, S41, S42"),
    ("server-sse-multiple", "S38"), ("server-session", "S45-S50"), ("server-stateless", "1.3, S56-S64"),
    ("resources-", "6.4"), ("sep-2164", "7.1"), ("prompts-", "6.4"), ("dns-", "S2, S3, S6"),
    ("caching", "S63"), ("http-custom-header", "S60"), ("http-header", "S58, S59"),
    ("input-required-result-", "5.3 (MRTR), S24"),
    ("tasks-", "SEP-2663 tasks extension, S62"),
]

# Why the other server scenarios are not run (first matching prefix wins).
SKIP_REASONS = [
    ("tools-call-", "calls the suite's own test tools (test_simple_text, test_error_handling, ...); "
                    "run with --fixture"),
    ("json-schema-2020-12", "needs the suite's json_schema_2020_12_tool test tool; run with --fixture"),
    ("elicitation-", "needs the suite's elicitation test tools; run with --fixture"),
    ("input-required-result-", "needs the suite's MRTR test tools; run with --fixture"),
    ("tasks-", "needs the suite's task fixtures (greet, slow_compute, failing_job, ...); "
               "run with --fixture"),
    ("sep-2640-", "skills extension, not implemented (optional)"),
    ("resources-", "reads or watches the suite's test:// resources; run with --fixture"),
    ("prompts-", "gets the suite's test prompts; run with --fixture"),
    ("completion-", "completes the suite's test prompt; run with --fixture"),
    ("logging-set-level", "server declares no logging capability"),
    ("http-custom-header-server-validation", "needs a tool with x-mcp-header parameters (S60); ours have none"),
]

# Checks whose FAILURE means only "this tools-only server has no such method" when the message says -32601.
NA_IF_METHOD_NOT_FOUND = {
    "sep-2549-prompts-list-caching-hints",
    "sep-2549-resources-list-caching-hints",
    "sep-2549-resources-templates-list-caching-hints",
    "sep-2549-resources-read-caching-hints",
}

# Against the weather server only: SHOULD checks that change the tool or prompt list through the
# suite's test_trigger_tool_change / test_trigger_prompt_change tools, which only the fixture has
# (the weather server answers the unknown tool with -32602, so the suite reports a WARNING that no
# change arrived). --fixture runs them for real. Counted as n/a, with the message shown.
NA_WITHOUT_TRIGGERS = {
    "sep-2575-server-sends-prompts-list-changed-on-subscription",
    "sep-2575-server-sends-tools-list-changed-on-subscription",
}

INFO_NOISE = {"outgoing-request", "incoming-response", "incoming-sse-event", "stream-closed"}


def server_capabilities(url):
    """initialize once (2025-11-25) to read the declared capabilities; DELETE the session again."""
    import urllib.request
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "interop-conformance-run", "version": "1"}}}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10) as resp:
            sid = resp.headers.get("Mcp-Session-Id")
            text = resp.read().decode("utf-8", "replace")
        if text.lstrip().startswith("{"):
            msg = json.loads(text)
        else:  # SSE: the last data line that holds the response
            datas = [line[5:].strip() for line in text.splitlines() if line.startswith("data:") and line[5:].strip()]
            msg = json.loads(datas[-1]) if datas else {}
        if sid:
            headers.update({"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
            try:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers, method="DELETE"), timeout=10)
            except Exception:
                pass
        return (msg.get("result") or {}).get("capabilities") or {}
    except Exception as exc:
        print("conformance_run: could not read the server's capabilities: %r" % exc)
        return {}


def first_match(table, scenario, default=""):
    return next((value for prefix, value in table if scenario.startswith(prefix)), default)


def fixture_plan(offered, stateless):
    """ Every server scenario of both builds, for examples/conformance_server.py: the release build's
    once (its default wire, 2025-11-25), the next build's once per dated wire it names; and the
    scenarios not run, with the reason. """
    plan, not_run = [], []
    for build in ("release", "next"):
        for scenario, tags in offered.get(build, []):
            reason = first_match(SKIP_FIXTURE, scenario, None)
            if reason is None and stateless and scenario in FIXTURE_NEEDS_SESSIONS:
                reason = "server runs --stateless: needs a session"
            specs = [None] if build == "release" else \
                [v for v in ("2025-11-25", "2026-07-28") if v in tags]
            if build == "next" and "extension" in tags and scenario.startswith(FIXTURE_EXTENSIONS):
                specs = ["extension"]
            if reason is None and not specs:
                reason = "not offered at 2025-11-25 or 2026-07-28 (%s)" % ",".join(tags)
            if reason is not None:
                not_run.append(("%s (%s)" % (scenario, build), reason))
                continue
            plan += [(build, scenario, spec, first_match(FIXTURE_ITEMS, scenario)) for spec in specs]
    return plan, not_run


def classify(check, target="fixture"):
    status = check.get("status")
    msg = check.get("errorMessage") or ""
    details = check.get("details") or {}
    if status == "SUCCESS":
        return "ok"
    if target == "weather" and check.get("id") in NA_WITHOUT_TRIGGERS:
        return "na"
    if status == "FAILURE":
        if (isinstance(details, dict) and details.get("untestable")) or msg.startswith("Not testable"):
            return "na"
        if check.get("id") in NA_IF_METHOD_NOT_FOUND and "-32601" in msg:
            return "na"
        return "fail"
    if status == "WARNING":
        return "warn"
    return "info"  # INFO, SKIPPED


def weather_plan(caps, stateless):
    """ PLAN, plus the scenarios for capabilities the server declared; and what is left out. """
    plan, not_run = [], []
    gated = [(b, s, v, i) for b, s, v, i, cap in CAPABILITY_GATED if cap in caps]
    for build, scenario, spec, items in PLAN + gated:
        if stateless and scenario in NEEDS_SESSIONS:
            not_run.append((scenario, "server runs --stateless: no sessions to test"))
            continue
        plan.append((build, scenario, spec, items))
    return plan, not_run


def run_one(node, dist, url, scenario, spec, outdir, verbose):
    os.makedirs(outdir, exist_ok=True)
    cmd = [node, dist, "server", "--url", url, "--scenario", scenario, "-o", outdir]
    if spec and spec != "extension":     # an extension picks its own wire (2026-07-28)
        cmd += ["--spec-version", spec]
    rc, elapsed, out, checks, _ = run_suite(cmd, outdir, 180)
    with open(os.path.join(outdir, "stdout.txt"), "w", encoding="utf-8") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), out))
    if verbose:
        print(out)
    return rc, elapsed, checks, out, cmd


SUITE_LINE = re.compile(r"^([\u2713\u2717]) (\S+): (\d+) passed, (\d+) failed", re.M)


def run_suite_all(node, dist, url, outdir, version):
    """ The suite's own whole run, `server --suite all` of the next build, as a CI step would make it:
    every scenario it has (65 in 0.2.0-alpha.12, extensions included), each at the suite's default
    wire. Prints one line per scenario and the count; returns the exit status (1 if any failed). """
    os.makedirs(outdir, exist_ok=True)
    cmd = [node, dist, "server", "--url", url, "--suite", "all", "-o", outdir]
    t0 = time.monotonic()
    out = run_suite(cmd, outdir, 1800)[2]
    with open(os.path.join(outdir, "stdout.txt"), "w", encoding="utf-8") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), out))
    found = SUITE_LINE.findall(out)
    failed = [name for mark, name, _, bad in found if mark != "\u2713" or int(bad)]
    for mark, name, good, bad in found:
        print("%-5s %-52s %s ok, %s failed" % ("PASS" if name not in failed else "FAIL", name, good, bad))
    print("\nconformance: next %s --suite all  %d of %d scenarios passed (%.1fs; output in %s)" % (
        version, len(found) - len(failed), len(found), time.monotonic() - t0, outdir))
    if not found:
        print("conformance: the suite printed no scenario lines; see %s/stdout.txt" % outdir)
        return 1
    print("conformance: %d passed, %d failed, 0 skipped" % (len(found) - len(failed), len(failed)))
    return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("MCP_URL"))
    ap.add_argument("--node", required=True)
    ap.add_argument("--release", required=True, help="dist/index.js of @modelcontextprotocol/conformance@latest")
    ap.add_argument("--next", required=True, help="dist/index.js of the 0.2.0 pre-release")
    ap.add_argument("--stateless-server", action="store_true")
    ap.add_argument("--target", choices=("weather", "fixture"), default="weather",
                    help="which server runs at the URL (see the module docstring)")
    ap.add_argument("--only", action="append", help="run only these scenario names")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".results",
                                                      time.strftime("conformance-%Y%m%d-%H%M%S")))
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--suite-all", action="store_true",
                    help="instead of the plan: the next build's own `server --suite all` (run_suite_all)")
    args = ap.parse_args(argv)
    if not args.url:
        ap.error("no --url and no MCP_URL")
    dists = {"release": args.release, "next": args.next}
    versions = {k: package_version(v) for k, v in dists.items()}
    node_version = subprocess.run([args.node, "--version"], stdout=subprocess.PIPE).stdout.decode().strip()
    print("conformance suite: release %s, next %s, node %s; %s server %s (%s); results in %s" % (
        versions["release"], versions["next"], node_version, args.target, args.url,
        "stateless" if args.stateless_server else "sessions on", args.results), flush=True)

    if args.suite_all:
        return run_suite_all(args.node, args.next, args.url, os.path.join(args.results, "suite-all"),
                             versions["next"])
    caps = server_capabilities(args.url)
    print("server capabilities (initialize @2025-11-25): %s" % json.dumps(caps, sort_keys=True))
    offered = dict((build, list_scenarios(args.node, dist, "server")) for build, dist in dists.items())
    if args.target == "fixture":
        candidates, not_run = fixture_plan(offered, args.stateless_server)
    else:
        candidates, not_run = weather_plan(caps, args.stateless_server)
    plan = [entry for entry in candidates if not args.only or entry[1] in args.only]

    t_all = time.monotonic()
    results = []
    for build, scenario, spec, items in plan:
        label = "%s %s @%s" % (versions[build], scenario, spec or "2025-11-25")
        outdir = os.path.join(args.results, "%s-%s-%s" % (build, scenario, spec or "default"))
        rc, elapsed, checks, out, cmd = run_one(args.node, dists[build], args.url, scenario, spec, outdir,
                                                args.verbose)
        counts = {"ok": 0, "fail": 0, "warn": 0, "na": 0, "info": 0}
        notes = []
        if checks is None:
            m = re.search(r"SKIPPED: .*", out)
            verdict = "ERROR"
            notes.append(("ERROR", "-", (m.group(0) if m else "no checks.json (exit %s); see %s/stdout.txt"
                                         % (rc, outdir))))
        else:
            for c in checks:
                kind = classify(c, args.target)
                counts[kind] += 1
                if kind in ("fail", "warn", "na"):
                    notes.append(({"fail": "FAIL", "warn": "WARN", "na": "N/A"}[kind], c.get("id"),
                                  (c.get("errorMessage") or c.get("description") or "").strip()))
            verdict = "FAIL" if counts["fail"] else "PASS"
            if not counts["ok"]:  # explain a pass that consists of INFO checks only
                for c in checks:
                    msg = (c.get("details") or {}).get("message") if isinstance(c.get("details"), dict) else None
                    if c.get("status") in ("INFO", "SKIPPED") and msg and c.get("id") not in INFO_NOISE:
                        notes.append(("INFO", c.get("id"), msg))
        results.append((verdict, label, items, counts, elapsed))
        print("%-5s %-52s %2d ok, %d failed, %d warn, %d n/a  (%.1fs)  [%s]" % (
            verdict, label, counts["ok"], counts["fail"], counts["warn"], counts["na"], elapsed, items), flush=True)
        for kind, cid, msg in notes:
            first = msg.splitlines()[0] if msg else ""
            print("        %-4s %s: %s" % (kind, cid, first[:260]))
        if verdict != "PASS":
            print("        rerun: %s" % " ".join(cmd))

    if args.target == "weather":     # everything else the two builds offer, and why it was not run
        ran = {s for _, s, _, _ in candidates}
        names = sorted({name for scenarios in offered.values() for name, _ in scenarios})
        not_run += [(s, first_match(SKIP_REASONS, s, "not a transport scenario for this server"))
                    for s in names if s not in ran]

    print("\nNot run (%d scenarios):" % len(not_run))
    for s, reason in not_run:
        print("  - %-45s %s" % (s, reason))

    groups = {}
    for (build, _, spec, _), result in zip(plan, results):
        key = "%s %s @%s" % (build, versions[build], spec or "2025-11-25")
        groups.setdefault(key, [0, 0])[result[0] == "PASS"] += 1
    for key in sorted(groups):
        print("conformance: %-36s %d of %d scenarios passed" % (key, groups[key][1], sum(groups[key])))
    failed = [r for r in results if r[0] != "PASS"]
    warned = sum(r[3]["warn"] for r in results)
    print("\nconformance: %d scenario runs in %.1fs; %d check warnings" % (len(results), time.monotonic() - t_all,
                                                                          warned))
    print("conformance: %d passed, %d failed, %d skipped" % (len(results) - len(failed), len(failed), len(not_run)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
