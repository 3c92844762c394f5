#!/usr/bin/env python3
"""Drive OFFICIAL MCP servers (and ours) with our client's COMMAND LINE: python ../mcp_client.py.

    python3 client_cli_check.py --sdk-python PY --node NODE --everything DIST_JS [--only LABEL]... [-v]

Each server is reached the way a user would reach it: a config file with one `mcpServers` entry, a
stdio entry (`command`, `args`, `env`) that the client spawns, or an HTTP entry (`url`, `headers`)
for a server this script starts on a free port.  For each, the commands

    tools                       the tool names appear
    call SERVER TOOL k=v        the tool's answer appears
    resources                   a resource (or template) URI appears
    read SERVER URI             the resource's text appears
    prompts                     a prompt name appears
    prompt SERVER NAME k=v      the prompt's text appears
    --trace tools               (weather only) the wire shows the era asked for: server/discover
                                and no initialize for 2026-07-28, the reverse for the 2025 handshake

must exit 0 and print what is expected.  Servers:

    sdk-stdio, sdk-http        sdk_server.py on the official Python SDK's MCPServer (--stdio; HTTP on
                               uvicorn, the entry sends a header)
    everything-stdio, -http    @modelcontextprotocol/server-everything (`stdio`, `streamableHttp`)
    everything-sse             the same in its `sse` mode: the deprecated HTTP+SSE transport of
                               2024-11-05 (GET /sse gives an `endpoint` event, messages are POSTed
                               there); the entry is a plain `url`, so the client must notice (the
                               spec's backwards-compatibility steps: POST fails with 4xx, then GET)
    weather-stdio@ERA          ../mcp_weather.py --stdio, with the fake upstream (fake_upstream.py)
    weather-stateless@ERA      ../mcp_weather.py --stateless over HTTP, the same upstream

ERA is `modern` (2026-07-28) or `legacy` (the 2025 handshake), set by the entry's "era" key.
One PASS/FAIL line per command; the last line is `client-cli: N passed, N failed, N skipped`.
Stdlib only (the servers bring their own dependencies); Python 3.7+.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import fake_upstream  # noqa: E402
from client_check import ServerProcess, free_port, short  # noqa: E402

COMMAND_TIMEOUT = 60.0


def weather_checks(era):
    checks = [
        ("tools", ["tools"], ["get_weather", "get_forecast"]),
        ("call", ["call", "S", "get_weather", "city=Hangzhou"], ["Hangzhou"]),
        ("resources", ["resources"], ["weather://"]),
        ("read", ["read", "S", "weather://Hangzhou/current"], ["Hangzhou"]),
        ("prompts", ["prompts"], ["weather_report"]),
        ("prompt", ["prompt", "S", "weather_report", "city=Hangzhou"], ["Hangzhou"]),
    ]
    discover, initialize = '"method": "server/discover"', '"method": "initialize"'
    wire = [("stderr", discover), ("!stderr", initialize)] if era == "modern" else \
        [("stderr", initialize), ("!stderr", discover)]
    checks.append(("era on the wire (--trace tools)", ["--trace", "tools"], wire))
    return checks


SDK_CHECKS = [
    ("tools", ["tools"], ["echo", "add", "count", "fail"]),
    ("call", ["call", "S", "echo", "message=hello interop"], ["Echo: hello interop"]),
    ("resources", ["resources"], ["interop://greeting"]),
    ("read", ["read", "S", "interop://greeting"], ["Hello from the SDK server."]),
    ("prompts", ["prompts"], ["greet"]),
    ("prompt", ["prompt", "S", "greet", "name=Ann"], ["Please greet Ann warmly."]),
]

EVERYTHING_CHECKS = [
    ("tools", ["tools"], ["echo", "get-sum"]),
    ("call", ["call", "S", "echo", "message=hello interop"], ["hello interop"]),
    ("resources", ["resources"], ["demo://resource/static/document/"]),
    ("read", ["read", "S", "demo://resource/static/document/features.md"], ["#"]),
    ("prompts", ["prompts"], ["simple-prompt", "args-prompt"]),
    ("prompt", ["prompt", "S", "args-prompt", "city=Paris"], ["What's weather in Paris?"]),
]


class Report(object):
    def __init__(self, verbose):
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        self.verbose = verbose

    def line(self, status, label, step, detail):
        self.counts[status] += 1
        print("  %-4s %-34s %s" % (status, step, short(detail, 140)), flush=True)


def run_cli(config_path, argv, server_name):
    words = [server_name if word == "S" else word for word in argv]
    # --trace is a common option: it goes before the command, with --config
    pre = [w for w in words if w == "--trace"]
    rest = [w for w in words if w != "--trace"]
    command = [sys.executable, os.path.join(ROOT, "mcp_client.py"), "--config", config_path] + pre + rest
    t0 = time.monotonic()
    try:
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=COMMAND_TIMEOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        code, out, err = proc.returncode, proc.stdout.decode("utf-8", "replace"), \
            proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        code, out, err = "timeout", (exc.stdout or b"").decode("utf-8", "replace"), \
            (exc.stderr or b"").decode("utf-8", "replace")
    return code, out, err, time.monotonic() - t0, command


def check_target(label, entry, checks, report, workdir):
    print("\n== %s: %s" % (label, json.dumps(entry)), flush=True)
    name = label.split("@")[0]
    config_path = os.path.join(workdir, "%s.json" % label.replace("@", "-"))
    with open(config_path, "w") as f:
        json.dump({"llm": {"api_key_env": ""}, "mcpServers": {name: entry}}, f, indent=2)
    for step, argv, expected in checks:
        code, out, err, elapsed, command = run_cli(config_path, argv, name)
        missing = []
        for want in expected:
            where, text = want if isinstance(want, tuple) else ("stdout", want)
            found = text in (err if where.endswith("stderr") else out)
            if where.startswith("!") and found:
                missing.append("%s has %r" % (where[1:], text))
            elif not where.startswith("!") and not found:
                missing.append("%s lacks %r" % (where, text))
        ok = code == 0 and not missing
        first = [line for line in (out.strip().splitlines() or [""])][0]
        detail = "(%.1fs) %s" % (elapsed, first) if ok else "(%.1fs) exit %s; %s; stderr: %s" % (
            elapsed, code, "; ".join(missing) or "output as expected",
            " | ".join(err.strip().splitlines()[-3:]))
        report.line("PASS" if ok else "FAIL", label, step, detail)
        if not ok or report.verbose:
            print("        $ %s" % " ".join(command))
            for line in (out.strip().splitlines()[:15]):
                print("        | %s" % line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sdk-python", required=True, help="interop/.venv/bin/python (mcp 2.x)")
    ap.add_argument("--node", required=True)
    ap.add_argument("--everything", required=True, help="server-everything's dist/index.js")
    ap.add_argument("--only", action="append", help="run only these labels (e.g. sdk-http, weather-stdio@modern)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    report = Report(args.verbose)
    workdir = tempfile.mkdtemp(prefix="client-cli-")
    upstream, upstream_env = fake_upstream.start()
    weather_env = dict(upstream_env, WEATHER_CACHE_TTL="0")
    sdk_server = os.path.join(HERE, "sdk_server.py")
    weather = os.path.join(ROOT, "mcp_weather.py")

    def wanted(label):
        return not args.only or label in args.only or label.split("@")[0] in args.only

    try:
        if wanted("sdk-stdio"):
            check_target("sdk-stdio", {"command": args.sdk_python, "args": [sdk_server, "--stdio"]},
                         SDK_CHECKS, report, workdir)
        if wanted("sdk-http"):
            server = ServerProcess([args.sdk_python, sdk_server, "--port", "0"])
            try:
                check_target("sdk-http", {"url": server.url, "headers": {"X-Interop-Check": "client-cli"}},
                             SDK_CHECKS, report, workdir)
            finally:
                server.stop()
        if wanted("everything-stdio"):
            check_target("everything-stdio", {"command": args.node, "args": [args.everything, "stdio"]},
                         EVERYTHING_CHECKS, report, workdir)
        if wanted("everything-http"):
            port = free_port()
            server = ServerProcess([args.node, args.everything, "streamableHttp"], env={"PORT": str(port)},
                                   ready=re.compile(r"listening on port (\d+)"), port=port)
            try:
                check_target("everything-http", {"url": server.url}, EVERYTHING_CHECKS, report, workdir)
            finally:
                server.stop()
        if wanted("everything-sse"):     # the 2024-11-05 HTTP+SSE transport (GET /sse, POST /message)
            port = free_port()
            server = ServerProcess([args.node, args.everything, "sse"], env={"PORT": str(port)},
                                   ready=re.compile(r"running on port (\d+)"), port=port)
            try:
                check_target("everything-sse", {"url": "http://127.0.0.1:%d/sse" % port},
                             EVERYTHING_CHECKS, report, workdir)
            finally:
                server.stop()
        for era in ("modern", "legacy"):
            label = "weather-stdio@%s" % era
            if wanted(label):
                check_target(label, {"command": sys.executable, "args": [weather, "--stdio"],
                                     "env": weather_env, "era": era},
                             weather_checks(era), report, workdir)
        stateless = [label for label in ("weather-stateless@modern", "weather-stateless@legacy")
                     if wanted(label)]
        if stateless:
            env = dict((k, v) for k, v in os.environ.items() if not k.startswith("MCP_"))
            env.update(weather_env)
            server = ServerProcess([sys.executable, weather, "--port", "0", "--stateless"], env=env)
            try:
                for label in stateless:
                    era = label.split("@")[1]
                    check_target(label, {"url": server.url, "era": era}, weather_checks(era), report, workdir)
            finally:
                server.stop()
    finally:
        upstream.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    c = report.counts
    print("\nclient-cli: %d passed, %d failed, %d skipped" % (c["PASS"], c["FAIL"], c["SKIP"]))
    return 1 if c["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
