"""The official MCP conformance suite as a child process, for conformance_run.py (server
scenarios) and conformance_client_run.py (client scenarios): what both do the same way.

  list_scenarios(node, dist, side)   the scenarios `list --server` / `list --client` prints
  package_version(dist)              the version of the build that dist/index.js belongs to
  run_suite(cmd, outdir, timeout)    one run of the suite: its exit status, time, output (without
                                     colours) and the newest checks.json it wrote under outdir
Stdlib only.
"""

import glob
import json
import os
import re
import subprocess
import time

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def list_scenarios(node, dist, side):
    """ [(scenario, [wires, versions or tags])] as `list --server` or `list --client` (side) prints
    them: "  - name [v1,v2]". """
    try:
        out = subprocess.run([node, dist, "list", "--" + side], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [(name, tags.split(",") if tags else [])
            for name, tags in re.findall(r"^\s*-\s+(\S+)(?:\s+\[([^\]]*)\])?", ANSI.sub("", out), re.M)]


def package_version(dist):
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(dist)), "package.json")) as f:
            return json.load(f).get("version", "?")
    except (OSError, ValueError):
        return "?"


def run_suite(cmd, outdir, timeout):
    """ Run the suite's command `cmd` (stdout and stderr together) for at most `timeout` seconds:
    (exit status or "timeout", seconds, output without ANSI colours, the newest checks.json under
    outdir parsed or None, its path or None). """
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        rc, out = proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        rc, out = "timeout", (exc.stdout or b"").decode("utf-8", "replace")
    elapsed = time.monotonic() - t0
    files = sorted(glob.glob(os.path.join(outdir, "**", "checks.json"), recursive=True),
                   key=os.path.getmtime)
    checks = None
    if files:
        try:
            with open(files[-1], encoding="utf-8") as f:
                checks = json.load(f)
        except (OSError, ValueError):
            checks = None
    return rc, elapsed, ANSI.sub("", out), checks, files[-1] if files else None
