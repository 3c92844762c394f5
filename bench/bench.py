#!/usr/bin/env python3
"""Dev-only benchmark: mcp_weather.py, alone or beside the official MCP SDK.

Stdlib only.  Everything runs on 127.0.0.1: a fake Open-Meteo (a child
process answering the sample bodies in ../../shared/upstream/), the server
under test (a child process), and a load generator in this process (asyncio,
raw HTTP/1.1 keep-alive connections, every answer checked).

    python3 bench.py --quick                 # ours only, a smoke run (~1 min)
    python3 bench.py                         # ours only, the full run
    python3 bench.py --peer                  # ours and the official SDK's
                                             # server, the same workloads in
                                             # the same run, and the targets
    python3 bench.py --report results/x.json # print a saved run again

What is measured, per server:

  startup       from spawning the process to the first answered initialize
                (several spawns, median)
  memory        VmRSS idle (after that initialize), then with 1,000 and with
                10,000 idle sessions (initialize + notifications/initialized,
                never deleted): memory per idle session
  load          tools/list and tools/call get_weather{"city": "Hangzhou"} at
                concurrency 1, 8 and 64 (C keep-alive connections, each its
                own session, a shared count of requests), answered as JSON,
                SSE and NDJSON (the Accept header chooses): req/s, p50 and p99
                latency, the server's CPU time per request (utime + stime
                from /proc/PID/stat, before and after the row)
  fresh         new sessions per second: connect, initialize,
  sessions      notifications/initialized, tools/call, DELETE, close (C=8)
  streams       1,000 GET streams (text/event-stream) open at once, held for
                30 s: each must stay open, and the server must go on
                answering (tools/list probed during the hold)
  health        every answer checked; errors by kind; the server log's
                tracebacks, errors and warnings; SIGTERM to exit
  floor         tools/list (JSON, C=8) on ours and on floor_server.py
                answering ours' very body bytes, each server pinned to CPU 0
                and this load generator to CPU 1, in alternating rounds:
                medians of server CPU per request and req/s, ours/floor
                (issue 19; with start-up and idle RSS beside the floor's)

--baseline PATH runs another mcp_weather.py beside ours in the startup,
memory and floor phases (before/after figures from one run).

--peer runs bench/peer_sdk_server.py (the same get_weather and get_forecast on
the official MCP Python SDK, mcp 2.3.0 on uvicorn) from a throwaway venv that
this script makes in bench/.venv (pip; git-ignored), and our server from the
same interpreter.  The weather cache is off on both (--cache off, the default)
so that every tools/call makes the same two upstream requests.  Ours, theirs
and the ratio are printed for every figure, and then the targets.

The client, the fake upstream and the server share the machine's cores; the
server CPU per request is the figure least disturbed by that.
"""

import argparse
import asyncio
import collections
import hashlib
import itertools
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER_PY = os.path.join(ROOT, "mcp_weather.py")
PEER_PY = os.path.join(HERE, "peer_sdk_server.py")
FLOOR_PY = os.path.join(HERE, "floor_server.py")
DEFAULT_SAMPLES = os.path.normpath(os.path.join(ROOT, "..", "shared",
                                                "upstream"))
DEFAULT_VENV = os.path.join(HERE, ".venv")
PEER_SPEC = "mcp==2.3.0"
HOST = "127.0.0.1"
PATH = "/mcp"
PROTOCOL = "2025-11-25"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CALL_PARAMS = {"name": "get_weather", "arguments": {"city": "Hangzhou"}}
METHODS = ("tools/list", "tools/call")
PHASES = ("startup", "memory", "load", "fresh", "streams", "floor")
FRAMINGS = ("json", "sse", "ndjson")
# What the client sends to get each framing, and what it must get back.
# Ours answers JSON to "both" unless something must be streamed, SSE to an
# SSE-only Accept and NDJSON when asked by name (docs/walkthrough.md).  The
# SDK chooses per server (json_response), and wants both types listed.
BOTH = "application/json, text/event-stream"
ACCEPT = {
    ("ours", "json"): BOTH,
    ("ours", "sse"): "text/event-stream",
    ("ours", "ndjson"): "application/x-ndjson",
    ("sdk", "json"): BOTH,
    ("sdk", "sse"): BOTH,
    ("floor", "json"): BOTH,
    ("base", "json"): BOTH,
}
MEDIA = {"json": "application/json", "sse": "text/event-stream",
         "ndjson": "application/x-ndjson"}
NAMES = {"ours": "mcp-weather", "sdk": "official SDK",
         "base": "baseline (--baseline)", "floor": "floor"}
# Spawns beside ours that bound its start-up and idle-RSS figures.
VARIANTS = collections.OrderedDict([
    ("module", "ours as python -m mcp_weather (cached bytecode)"),
    ("floor", "floor: a bare server on http.server (floor_server.py)")])

# The targets, as ours/SDK ratios (issue 7).  (figure key, op, bound)
TARGETS = [
    ("startup_ms", "<=", 0.1, "startup (spawn to first initialize)"),
    ("idle_rss_kb", "<=", 0.25, "idle RSS"),
    ("kb_per_session", "<=", 0.25, "memory per idle session"),
]
# The targets of issue 19, against the floor (floor_server.py): start-up at
# most twice the floor's, idle RSS at most 12 MiB over it, and server CPU
# per tools/list (JSON, C=8, pinned cores) at most 1.25 times the floor's.
FLOOR_TARGETS = {"startup": 2.0, "rss_mib": 12.0, "cpu": 1.25}
# The id of the tools/list whose answer the floor is given, cut at the id.
CUT_ID = 7777777


###############################################################################
# The fake Open-Meteo (a child process) #######################################
###############################################################################

def fake_upstream_main(samples):
    """ A small keep-alive HTTP/1.1 server, built on selectors so that its
    own CPU cost per request stays far below the servers': it answers the
    sample bodies, counts hits (GET /__hits), and exits when its stdin
    closes (the bench ended).  Prints "port N" once it listens. """
    bodies = {}
    for name in ("open-meteo-geocoding.json", "open-meteo-current.json",
                 "open-meteo-daily.json"):
        with open(os.path.join(samples, name), "rb") as f:
            bodies[name] = f.read()
        json.loads(bodies[name])

    def response(body, status=b"200 OK"):
        return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json"
                b"\r\nContent-Length: " + str(len(body)).encode() +
                b"\r\n\r\n" + body)

    geocoding = response(bodies["open-meteo-geocoding.json"])
    current = response(bodies["open-meteo-current.json"])
    daily = response(bodies["open-meteo-daily.json"])
    missing = response(b'{"error":true,"reason":"not found"}',
                       b"404 Not Found")
    hits = [0]

    def answer(head):
        target = head.split(b" ", 2)[1]
        path = target.split(b"?", 1)[0]
        if path == b"/__hits":
            return response(str(hits[0]).encode())
        hits[0] += 1
        if path.endswith(b"/v1/search"):
            return geocoding
        if path.endswith(b"/v1/forecast"):
            return daily if b"daily=" in target else current
        return missing

    sel = selectors.DefaultSelector()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(1024)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    buffers = {}
    print("port %d" % listener.getsockname()[1], flush=True)
    while True:
        for key, _ in sel.select():
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 1024):
                    return 0
            elif key.fileobj is listener:
                try:
                    while True:
                        conn, _ = listener.accept()
                        conn.setblocking(False)
                        conn.setsockopt(socket.IPPROTO_TCP,
                                        socket.TCP_NODELAY, 1)
                        buffers[conn] = b""
                        sel.register(conn, selectors.EVENT_READ, "conn")
                except BlockingIOError:
                    pass
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()
                    del buffers[conn]
                    continue
                buf = buffers[conn] + data
                close = False
                while b"\r\n\r\n" in buf:          # GETs: no bodies
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    close = close or b"\nconnection: close" in head.lower()
                    conn.setblocking(True)
                    conn.sendall(answer(head))
                    conn.setblocking(False)
                buffers[conn] = buf
                if close:
                    sel.unregister(conn)
                    conn.close()
                    del buffers[conn]


class FakeUpstream(object):
    """ The fake Open-Meteo as a child process. """

    def __init__(self, samples):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--fake-upstream",
             samples], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "port":
            raise RuntimeError("the fake upstream did not start")
        self.port = int(line[1])

    def env(self):
        base = "http://%s:%d" % (HOST, self.port)
        return {"WEATHER_GEOCODING_URL": base + "/v1/search",
                "WEATHER_FORECAST_URL": base + "/v1/forecast"}

    def hits(self):
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b"GET /__hits HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                part = s.recv(4096)
                if not part:
                    break
                data += part
        return int(data.split(b"\r\n\r\n", 1)[1])

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


###############################################################################
# An HTTP/1.1 client on asyncio streams ######################################
###############################################################################

class HTTPError(Exception):
    """ A wrong answer: the kind names it in the error counts. """

    def __init__(self, kind, detail=""):
        Exception.__init__(self, "%s %s" % (kind, detail))
        self.kind, self.detail = kind, detail


class Connection(object):
    """ One keep-alive connection; requests one at a time. """

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None
        self.host = ("Host: %s:%d\r\n" % (HOST, port)).encode()

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(
            HOST, self.port, limit=1 << 20)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def send(self, method, headers, body=b""):
        head = "%s %s HTTP/1.1\r\n" % (method, PATH)
        lines = "".join("%s: %s\r\n" % h for h in headers)
        if body or method == "POST":
            lines += "Content-Length: %d\r\n" % len(body)
        self.writer.write(head.encode() + self.host + lines.encode() +
                          b"\r\n" + body)

    async def head(self):
        """ Status and headers (names lowercased) of the next response. """
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HTTPError("bad_status_line", lines[0][:80])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    async def body(self, status, headers, method):
        if method == "HEAD" or status in (204, 304) or status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                line = await self.reader.readuntil(b"\r\n")
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    return b"".join(chunks)
                chunks.append((await self.reader.readexactly(size + 2))[:-2])
        if "content-length" in headers:
            return await self.reader.readexactly(
                int(headers["content-length"]))
        return await self.reader.read()         # until the server closes

    async def request(self, method, headers, body=b""):
        self.send(method, headers, body)
        status, response_headers = await self.head()
        data = await self.body(status, response_headers, method)
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return status, response_headers, data


def decode_messages(headers, data):
    """ The JSON-RPC messages of a JSON, SSE or NDJSON body. """
    ctype = headers.get("content-type", "").split(";")[0].strip()
    text = data.decode("utf-8")
    if ctype == "application/json":
        message = json.loads(text)
        return message if isinstance(message, list) else [message]
    if ctype == "application/x-ndjson":
        return [json.loads(line) for line in text.split("\n")
                if line.strip()]
    if ctype == "text/event-stream":
        messages = []
        for event in text.replace("\r\n", "\n").split("\n\n"):
            payload = "\n".join(line[5:].lstrip(" ")
                                for line in event.split("\n")
                                if line.startswith("data:"))
            if payload.strip():
                messages.append(json.loads(payload))
        return messages
    raise HTTPError("content_type_" + (ctype or "none"))


def check_result(method, result):
    """ Is this the answer the benchmark expects? (raises HTTPError) """
    if method == "tools/list":
        if "get_weather" not in [t.get("name") for t in
                                 result.get("tools", [])]:
            raise HTTPError("bad_tools_list")
    elif method == "tools/call":
        content = result.get("content") or [{}]
        if result.get("isError") or "Hangzhou" not in str(
                content[0].get("text")):
            raise HTTPError("bad_tool_result", str(content)[:200])
    elif method == "initialize":
        if "protocolVersion" not in result:
            raise HTTPError("bad_initialize")


class MCPClient(object):
    """ One MCP session on one keep-alive connection. """

    def __init__(self, target, framing="json"):
        self.target, self.framing = target, framing
        self.accept = ACCEPT[(target.kind, framing)]
        self.conn = Connection(target.port)
        self.sid = None
        self.next_id = 0

    def headers(self, accept=None):
        headers = [("Content-Type", "application/json"),
                   ("Accept", accept or self.accept)]
        if self.sid:
            headers += [("Mcp-Session-Id", self.sid),
                        ("MCP-Protocol-Version", PROTOCOL)]
        return headers

    async def call(self, method, params=None):
        """ One request; its result (the answer is checked fully). """
        if self.conn.writer is None:
            await self.conn.open()
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        body = json.dumps(message, separators=(",", ":")).encode()
        status, headers, data = await self.conn.request(
            "POST", self.headers(), body)
        if status != 200:
            raise HTTPError("http_%d" % status, data[:200])
        if method != "initialize":
            want = MEDIA[self.framing]
            got = headers.get("content-type", "").split(";")[0].strip()
            if got != want:
                raise HTTPError("framing_%s_not_%s" % (got, self.framing))
        answers = [m for m in decode_messages(headers, data)
                   if isinstance(m, dict) and m.get("id") == self.next_id]
        if len(answers) != 1:
            raise HTTPError("no_answer", data[:200])
        if "error" in answers[0]:
            raise HTTPError("rpc_error_%s" % answers[0]["error"].get("code"),
                            str(answers[0]["error"])[:200])
        check_result(method, answers[0].get("result") or {})
        return answers[0]["result"], headers

    async def notify(self, method):
        body = json.dumps({"jsonrpc": "2.0", "method": method}).encode()
        status, _, data = await self.conn.request("POST", self.headers(),
                                                  body)
        if status != 202:
            raise HTTPError("notify_http_%d" % status, data[:200])

    async def initialize(self):
        self.sid = None
        _, headers = await self.call("initialize", {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}})
        self.sid = headers.get("mcp-session-id")
        if not self.sid:
            raise HTTPError("no_session_id")
        await self.notify("notifications/initialized")
        return self.sid

    async def delete(self):
        if self.conn.writer is None:
            await self.conn.open()
        status, _, data = await self.conn.request("DELETE", self.headers())
        if status not in (200, 202, 204):
            raise HTTPError("delete_http_%d" % status, data[:200])

    def close(self):
        self.conn.close()


class Errors(object):
    """ Error counts by kind, and a few samples. """

    def __init__(self):
        self.counts, self.samples = {}, []

    def add(self, exc):
        if isinstance(exc, HTTPError):
            kind, detail = exc.kind, exc.detail
        elif isinstance(exc, asyncio.TimeoutError):
            kind, detail = "timeout", ""
        else:
            kind, detail = type(exc).__name__, str(exc)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.samples) < 5:
            self.samples.append(("%s: %s" % (kind, detail))[:300])

    def total(self):
        return sum(self.counts.values())

    def as_dict(self):
        return {"counts": self.counts, "samples": self.samples}


###############################################################################
# /proc readings ##############################################################
###############################################################################

def proc_cpu(pid):
    """ user + system CPU seconds of a process (all its threads). """
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def proc_status(pid):
    """ VmRSS (KB), threads and open fds of a process. """
    info = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "VmRSS":
                info["rss_kb"] = int(value.split()[0])
            elif key == "Threads":
                info["threads"] = int(value)
    try:
        info["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        info["fds"] = None
    return info


def machine_busy():
    """ (busy, total) jiffies over all cores. """
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


###############################################################################
# The servers under test ######################################################
###############################################################################

class Target(object):
    """ One server process: ours, the SDK's twin (JSON or SSE answers), the
    floor under ours, or another mcp_weather.py (--baseline).  kind is
    "ours", "sdk", "floor" or "base".  pin: a CPU to run it on (taskset). """

    def __init__(self, kind, python, args, upstream, label, module=False,
                 pin=None, tools_list=None):
        self.kind, self.python, self.args = kind, python, args
        self.upstream, self.label = upstream, label
        self.module = module        # ours as `python -m mcp_weather`
        self.pin, self.tools_list = pin, tools_list
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(args.log_dir, "%s.log" % label)

    def command(self):
        pin = [] if self.pin is None else ["taskset", "-c", str(self.pin)]
        return pin + self.server_command()

    def server_command(self):
        if self.kind == "floor":
            return [self.python, FLOOR_PY, "--host", HOST, "--port",
                    str(self.port)] + (["--tools-list", self.tools_list]
                                       if self.tools_list else [])
        if self.kind in ("ours", "base"):
            script = ["-m", "mcp_weather"] if self.module else [
                self.args.baseline if self.kind == "base" else SERVER_PY]
            return [self.python] + script + [
                "--host", HOST, "--port", str(self.port), "--log-level",
                self.args.log_level]
        command = [self.python, PEER_PY, "--host", HOST, "--port",
                   str(self.port), "--log-level", self.args.log_level]
        return command + (["--sse"] if self.label.endswith("sse") else [])

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MCP_", "WEATHER_", "SENIVERSE_"))}
        env.update(self.upstream.env())
        if self.kind == "sdk":      # so that the twin needs no mcp_weather
            env["PEER_INSTRUCTIONS"] = instructions()   # import at start
        if self.module:             # the bytecode is cached, as pip did for
            env.pop("PYTHONDONTWRITEBYTECODE", None)    # the SDK's modules
        else:                       # no bytecode written (a script's is
            env["PYTHONDONTWRITEBYTECODE"] = "1"        # never read)
        env.update(WEATHER_PROVIDER="open-meteo",
                   WEATHER_CACHE_TTL="600" if self.args.cache == "on"
                   else "0")
        return env

    @property
    def pid(self):
        return self.proc.pid

    async def start(self):
        """ Spawn, then try initialize every 2 ms until one is answered;
        the seconds from spawn to that answer (the session is deleted). """
        self.log = open(self.log_path, "ab")
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), env=self.env(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     cwd=ROOT if self.module else HERE)
        deadline = started + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s at start; see %s" % (
                    self.label, self.proc.returncode, self.log_path))
            client = MCPClient(self)
            try:
                await client.initialize()
                elapsed = time.perf_counter() - started
                await client.delete()
                client.close()
                return elapsed
            except (ConnectionRefusedError, ConnectionResetError,
                    asyncio.IncompleteReadError):
                client.close()
            if time.perf_counter() > deadline:
                raise RuntimeError("%s did not answer initialize in 60 s"
                                   % self.label)
            await asyncio.sleep(0.002)

    def stop(self):
        """ SIGTERM, then wait up to 20 s: (seconds, exit code). """
        if self.proc is None:
            return None, None
        if self.proc.poll() is not None:
            return None, self.proc.returncode
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "killed after 20 s (%s)" % self.proc.wait()
        self.log.close()
        return time.perf_counter() - started, code

    def log_findings(self):
        """ Tracebacks, errors and warnings in the server's log. """
        found = {"tracebacks": 0, "errors": 0, "warnings": 0, "samples": []}
        try:
            with open(self.log_path, "r", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return found
        for line in lines:
            kind = ("tracebacks" if line.startswith("Traceback") else
                    "errors" if " ERROR " in line or line.startswith("ERROR")
                    else "warnings" if " WARNING " in line or
                    line.startswith("WARNING") else None)
            if kind:
                found[kind] += 1
                if len(found["samples"]) < 5:
                    found["samples"].append(line[:300])
        return found


def instructions():
    """ mcp_weather's instructions text, for the SDK twin. """
    sys.path.insert(0, ROOT)
    import mcp_weather
    return mcp_weather.INSTRUCTIONS


def ensure_peer_venv(venv, spec):
    """ The SDK's interpreter: bench/.venv, made (python -m venv) and filled
    (pip install mcp==2.3.0 uvicorn) on first use, reused after. """
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        say("creating %s" % venv)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    want = spec.split("==", 1)[1] if spec.startswith("mcp==") else None
    probe = [python, "-c", "import importlib.metadata as m, uvicorn, "
             "mcp.server.mcpserver; print(m.version('mcp'))"]
    have = subprocess.run(probe, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    if have.returncode != 0 or (want and have.stdout.decode().strip() !=
                                want):
        say("pip install %s uvicorn into %s (PyPI) ..." % (spec, venv))
        subprocess.check_call([python, "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", spec,
                               "uvicorn"])
    return python


def peer_versions(python):
    code = ("import importlib.metadata as m, importlib.util as u, json;"
            "print(json.dumps({'mcp': m.version('mcp'), 'uvicorn': "
            "m.version('uvicorn'), 'starlette': m.version('starlette'), "
            "'pydantic': m.version('pydantic'), "
            "'http': 'httptools' if u.find_spec('httptools') else 'h11',"
            " 'loop': 'uvloop' if u.find_spec('uvloop') else 'asyncio'}))")
    try:
        return json.loads(subprocess.check_output([python, "-c", code],
                                                  timeout=60))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"error": str(exc)}


def interpreter_floor(python):
    """ What the bare interpreter costs: the time to run `python -c pass`
    (median of 5) and the RSS of a process that imported nothing. """
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.check_call([python, "-c", "pass"])
        times.append(time.perf_counter() - started)
    out = subprocess.check_output([python, "-c", "print(open("
                                   "'/proc/self/status').read())"]).decode()
    rss = [int(line.split()[1]) for line in out.splitlines()
           if line.startswith("VmRSS:")][0]
    version = subprocess.check_output([python, "-c", "import platform; "
                                       "print(platform.python_version())"])
    return {"python": python, "version": version.decode().strip(),
            "startup_ms": 1000 * statistics.median(times), "rss_kb": rss}


def compile_time(python):
    """ Milliseconds to compile mcp_weather.py (median of 5, in python):
    what `python mcp_weather.py` pays at every start, as CPython never
    caches a script's bytecode. """
    code = ("import statistics, sys, time\n"
            "source = open(sys.argv[1], encoding='utf-8').read()\n"
            "times = []\n"
            "for _ in range(5):\n"
            "    started = time.perf_counter()\n"
            "    compile(source, sys.argv[1], 'exec')\n"
            "    times.append(time.perf_counter() - started)\n"
            "print(1000 * statistics.median(times))\n")
    return float(subprocess.check_output([python, "-c", code, SERVER_PY]))


###############################################################################
# The workloads ###############################################################
###############################################################################

async def gather_workers(count, worker):
    """ Run worker(i) for i in range(count) at once; their results. """
    return await asyncio.gather(*[worker(i) for i in range(count)])


async def bounded(awaitable, seconds, errors):
    """ Await a whole phase, but give up after `seconds` (a server that
    stopped answering): counted as a phase_timeout error. """
    try:
        await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        errors.counts["phase_timeout"] = \
            errors.counts.get("phase_timeout", 0) + 1


async def make_sessions(target, count, concurrency, errors, keep=True):
    """ count sessions (initialize + notifications/initialized) over
    `concurrency` keep-alive connections; the session ids. """
    left, sids = [count], []

    async def worker(_):
        client = MCPClient(target)
        while left[0] > 0:
            left[0] -= 1
            try:
                sids.append(await client.initialize())
            except Exception as exc:
                errors.add(exc)
                client.close()
        client.close()
    await gather_workers(concurrency, worker)
    return sids


async def delete_sessions(target, sids, concurrency, errors):
    pending = list(sids)

    async def worker(_):
        client = MCPClient(target)
        while pending:
            client.sid = pending.pop()
            try:
                await client.delete()
            except Exception as exc:
                errors.add(exc)
                client.close()
        client.close()
    await gather_workers(concurrency, worker)


async def settle():
    """ Let the server finish what a phase started (threads ending,
    buffers freed) before reading its memory. """
    await asyncio.sleep(0.5)


async def memory_workload(target, counts, errors):
    """ Idle RSS, then RSS with each count of idle sessions (cumulative). """
    await settle()
    idle = proc_status(target.pid)
    out = {"idle": idle, "sessions": []}
    made, seconds = 0, 0.0
    for count in counts:
        started = time.perf_counter()
        await bounded(make_sessions(target, count - made, 8, errors),
                      target.args.phase_timeout, errors)
        seconds += time.perf_counter() - started
        made = count
        await settle()
        status = proc_status(target.pid)
        out["sessions"].append({
            "count": count, "status": status,
            "kb_per_session": (status["rss_kb"] - idle["rss_kb"]) /
            float(count)})
    out["seconds"], out["per_second"] = seconds, made / seconds
    return out


async def load_workload(target, upstream, method, framing, concurrency,
                        total, warmup, errors):
    """ One row: `concurrency` sessions, each on its keep-alive
    connection, sending `method` one after another until `total` requests
    were sent among them.  Latency is per request; CPU from /proc. """
    clients = [MCPClient(target, framing) for _ in range(concurrency)]
    params = CALL_PARAMS if method == "tools/call" else None
    setup_errors = Errors()
    for client in clients:
        try:
            await client.initialize()
            for _ in range(warmup):
                await client.call(method, params)
        except Exception as exc:
            setup_errors.add(exc)
    if setup_errors.total():
        for client in clients:
            client.close()
        for kind, n in setup_errors.counts.items():
            errors.counts["setup_" + kind] = n
        errors.samples.extend(setup_errors.samples)
        return {"failed": "setup: %s" % setup_errors.samples[:2]}
    left, latencies = [total], []

    async def worker(i):
        client = clients[i]
        while left[0] > 0:
            left[0] -= 1
            t0 = time.perf_counter()
            try:
                await client.call(method, params)
                latencies.append(time.perf_counter() - t0)
            except Exception as exc:
                errors.add(exc)
                client.close()
                try:
                    await client.initialize()
                except Exception as exc2:
                    errors.add(exc2)
                    return

    hits0 = upstream.hits()
    cpu0, up0, me0 = proc_cpu(target.pid), upstream.cpu(), os.times()
    busy0 = machine_busy()
    started = time.perf_counter()
    await bounded(gather_workers(concurrency, worker),
                  target.args.phase_timeout, errors)
    wall = time.perf_counter() - started
    busy1 = machine_busy()
    cpu1, up1, me1 = proc_cpu(target.pid), upstream.cpu(), os.times()
    hits = upstream.hits() - hits0 - 1      # less our own /__hits
    for client in clients:
        try:
            await client.delete()
        except Exception as exc:
            errors.add(exc)
        client.close()
    ok = len(latencies)
    latencies.sort()
    client_cpu = (me1.user - me0.user) + (me1.system - me0.system)
    return {
        "ok": ok, "wall_s": wall, "rps": ok / wall if wall else 0.0,
        "p50_ms": pick(latencies, 0.50), "p99_ms": pick(latencies, 0.99),
        "max_ms": 1000 * latencies[-1] if latencies else None,
        "server_cpu_us": 1e6 * (cpu1 - cpu0) / ok if ok else None,
        "server_cpu_pct": 100 * (cpu1 - cpu0) / wall if wall else None,
        "client_cpu_us": 1e6 * client_cpu / ok if ok else None,
        "upstream_cpu_us": 1e6 * (up1 - up0) / ok if ok else None,
        "upstream_hits_per_req": hits / float(ok) if ok else None,
        "machine_busy_pct": 100.0 * (busy1[0] - busy0[0]) / max(
            1, busy1[1] - busy0[1])}


def pick(values, q):
    if not values:
        return None
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


async def fresh_sessions_workload(target, total, concurrency, errors):
    """ New clients, one after another on each of `concurrency` lanes:
    connect, initialize, notifications/initialized, tools/call, DELETE,
    close.  Sessions per second and server CPU per session. """
    left, done = [total], []

    async def worker(_):
        while left[0] > 0:
            left[0] -= 1
            client = MCPClient(target)
            t0 = time.perf_counter()
            try:
                await client.initialize()
                await client.call("tools/call", CALL_PARAMS)
                await client.delete()
                done.append(time.perf_counter() - t0)
            except Exception as exc:
                errors.add(exc)
            client.close()

    cpu0, started = proc_cpu(target.pid), time.perf_counter()
    await bounded(gather_workers(concurrency, worker),
                  target.args.phase_timeout, errors)
    wall = time.perf_counter() - started
    cpu = proc_cpu(target.pid) - cpu0
    done.sort()
    return {"ok": len(done), "wall_s": wall,
            "per_second": len(done) / wall if wall else 0.0,
            "p50_ms": pick(done, 0.5), "p99_ms": pick(done, 0.99),
            "server_cpu_us": 1e6 * cpu / len(done) if done else None}


async def streams_workload(target, count, hold, errors):
    """ `count` sessions, each with its GET stream open at once, held for
    `hold` seconds: a stream that ends, or an error, is counted.  During
    the hold, tools/list is probed on another session. """
    sids = await make_sessions(target, count, 8, errors)
    before = proc_status(target.pid)
    opened, ended, data_bytes = [], [], [0]
    deadline, holding_now = [None], asyncio.Event()

    async def listen(sid):
        conn = Connection(target.port)
        try:
            await conn.open()
            conn.send("GET", [("Accept", "text/event-stream"),
                              ("Mcp-Session-Id", sid),
                              ("MCP-Protocol-Version", PROTOCOL)])
            status, headers = await conn.head()
            ctype = headers.get("content-type", "").split(";")[0].strip()
            if status != 200 or ctype != "text/event-stream":
                raise HTTPError("get_http_%d_%s" % (status, ctype))
            opened.append(sid)
            await holding_now.wait()
            while True:
                remaining = deadline[0] - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    data = await asyncio.wait_for(conn.reader.read(65536),
                                                  remaining)
                except asyncio.TimeoutError:
                    break
                if not data:
                    ended.append(sid)
                    raise HTTPError("stream_ended_early")
                data_bytes[0] += len(data)
        except Exception as exc:
            errors.add(exc)
        finally:
            conn.close()

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(listen(sid)) for sid in sids]
    while len(opened) + errors.total() < len(sids) and \
            time.perf_counter() - started < 60:
        await asyncio.sleep(0.01)
    open_s = time.perf_counter() - started
    deadline[0] = time.perf_counter() + hold
    holding_now.set()
    cpu0 = proc_cpu(target.pid)
    probe, probe_lat = MCPClient(target), []
    try:
        await probe.initialize()
        while time.perf_counter() < deadline[0] - 0.5 and \
                len(probe_lat) < 200:
            t0 = time.perf_counter()
            await probe.call("tools/list")
            probe_lat.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
        await probe.delete()
    except Exception as exc:
        errors.add(exc)
    probe.close()
    holding = proc_status(target.pid)
    await bounded(asyncio.gather(*tasks), hold + 120, errors)
    cpu = proc_cpu(target.pid) - cpu0
    await delete_sessions(target, sids, 8, errors)
    probe_lat.sort()
    return {"streams": len(sids), "opened": len(opened),
            "ended_early": len(ended), "open_s": open_s, "hold_s": hold,
            "before": before, "holding": holding,
            "kb_per_stream": (holding["rss_kb"] - before["rss_kb"]) /
            float(max(1, len(opened))),
            "server_cpu_pct_holding": 100 * cpu / hold,
            "bytes_received": data_bytes[0],
            "probe_p50_ms": pick(probe_lat, 0.5),
            "probe_p99_ms": pick(probe_lat, 0.99),
            "probes": len(probe_lat)}


###############################################################################
# The throughput floor (issue 19) #############################################
###############################################################################

def pinning():
    """ (server CPU, load generator CPU, why not) for the floor phase: the
    server on CPU 0 (taskset), this process on CPU 1, when both exist. """
    if not shutil.which("taskset"):
        return None, None, "taskset not found (util-linux): not pinned"
    if not hasattr(os, "sched_setaffinity"):
        return None, None, "no os.sched_setaffinity here: not pinned"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, "one CPU only (%s): not pinned" % cpus
    return cpus[0], cpus[1], None


async def cut_tools_list(target, path):
    """ Ours' tools/list answer (JSON framing), cut at its id, written to
    `path` for floor_server.py --tools-list: the floor then sends the same
    body bytes, with each request's id between the two parts. """
    client = MCPClient(target)
    try:
        await client.initialize()
        message = {"jsonrpc": "2.0", "id": CUT_ID, "method": "tools/list"}
        status, headers, data = await client.conn.request(
            "POST", client.headers(), json.dumps(message).encode())
        await client.delete()
    finally:
        client.close()
    parts = data.split(str(CUT_ID).encode())
    if status != 200 or len(parts) != 2 or not headers.get(
            "content-type", "").startswith("application/json"):
        raise RuntimeError("ours' tools/list answer cannot be cut at its id:"
                           " %d %r" % (status, data[:200]))
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"before": parts[0].decode("utf-8"),
                   "after": parts[1].decode("utf-8")}, f)
    return len(data)


async def floor_workload(args, plan, make_target, upstream, results):
    """ tools/list in JSON at C=8 on ours, the floor (the same body bytes)
    and the baseline, each pinned to one CPU and this load generator to
    another, in alternating rounds (ours, floor, [baseline,] ours, ...):
    per server the median over the rounds of its CPU per request and of
    its throughput. """
    server_cpu, client_cpu, why = pinning()
    if why:
        say("[floor] %s" % why)
    order = ["ours", "floor"] + (["base"] if args.baseline else [])
    errors = {kind: Errors() for kind in order}
    out = {"pinned": why or "server on CPU %d (taskset), load generator "
           "on CPU %d" % (server_cpu, client_cpu), "order": order,
           "rounds": {kind: [] for kind in order},
           "method": "tools/list", "framing": "json",
           "concurrency": args.floor_concurrency,
           "requests": plan.floor_requests}
    servers = {"ours": make_target("ours", "ours-floor-phase",
                                   pin=server_cpu)}
    if args.baseline:
        servers["base"] = make_target("base", "base-floor-phase",
                                      pin=server_cpu)
    await servers["ours"].start()
    cut = os.path.join(args.log_dir, "floor-tools-list.json")
    out["body_bytes"] = await cut_tools_list(servers["ours"], cut)
    servers["floor"] = make_target("floor", "floor-floor-phase",
                                   pin=server_cpu, tools_list=cut)
    for kind in order[1:]:
        await servers[kind].start()
    mask = os.sched_getaffinity(0) if client_cpu is not None else None
    try:
        if mask is not None:
            os.sched_setaffinity(0, {client_cpu})
        for i in range(plan.rounds):
            for kind in order:
                row = await load_workload(
                    servers[kind], upstream, "tools/list", "json",
                    args.floor_concurrency, plan.floor_requests,
                    plan.warmup, errors[kind])
                out["rounds"][kind].append(row)
                say("[%s] floor round %d: tools/list json C=%d %s" % (
                    kind, i + 1, args.floor_concurrency, row_line(row)))
    finally:
        if mask is not None:
            os.sched_setaffinity(0, mask)
    for kind in order:
        rows = [r for r in out["rounds"][kind] if "failed" not in r]
        out[kind] = {
            "cpu_us": statistics.median(r["server_cpu_us"] for r in rows)
            if rows else None,
            "rps": statistics.median(r["rps"] for r in rows)
            if rows else None,
            "errors": errors[kind].as_dict()}
    return out


###############################################################################
# Running it all ##############################################################
###############################################################################

class Plan(object):
    """ The sizes of one run (--quick makes them small). """

    def __init__(self, args):
        quick = args.quick
        self.startups = args.startups or (1 if quick else 5)
        self.sessions = [200, 1000] if quick else [1000, 10000]
        self.requests = args.requests or (200 if quick else 3000)
        self.warmup = 2 if quick else 10
        self.concurrency = [int(c) for c in args.concurrency.split(",")]
        self.fresh = 100 if quick else 1000
        self.streams = args.streams if args.streams is not None else (
            100 if quick else 1000)
        self.hold = args.hold if args.hold is not None else (
            3.0 if quick else 30.0)
        self.rounds = args.rounds or (2 if quick else 5)
        self.floor_requests = args.requests or (400 if quick else 5000)

    def as_dict(self):
        return dict(self.__dict__)


async def run_all(args, plan, pythons, upstream):
    """ Every workload, for each server kind, interleaved where figures are
    rates (so that a drift in background load hits both). """
    kinds = ["ours", "sdk"] if args.peer else ["ours"]
    # start-up and memory alternate with the baseline too (--baseline)
    spawned = kinds + (["base"] if args.baseline else [])
    results = {k: {"errors": Errors(), "startup_s": [], "rows": {},
                   "log": {}, "workloads": []} for k in spawned}
    targets = []

    def workload(kind, name, errors_before):
        """ Note a workload and the errors it met (for the summary). """
        results[kind]["workloads"].append(
            [name, results[kind]["errors"].total() - errors_before])

    def target(kind, label, module=False, pin=None, tools_list=None):
        python = pythons["ours" if kind in ("floor", "base") else kind]
        t = Target(kind, python, args, upstream, label, module, pin,
                   tools_list)
        targets.append(t)
        return t

    try:
        # 1. start-up, alternating
        for i in range(plan.startups if "startup" in args.phases else 0):
            for kind in spawned:
                t = target(kind, "%s-startup-%d" % (kind, i + 1))
                results[kind]["startup_s"].append(await t.start())
                t.stop()
                say("[%s] startup %.0f ms" % (kind, 1000 * results[kind][
                    "startup_s"][-1]))
        # ... and, for what bounds those figures, ours as `python -m
        # mcp_weather`, from cached bytecode (the first spawn writes it):
        # how much of them is the compiling of the script, which Python
        # never caches; and the floor, a bare server on http.server, below
        # which no server built on it can start or idle
        for kind, name, module in (("ours", "module", True),
                                   ("floor", "floor", False)):
            for i in range(plan.startups + 1 if "startup" in args.phases
                           or (name == "floor" and "memory" in args.phases)
                           else 0):
                t = target(kind, "%s-%s-%d" % (kind, name, i), module)
                started = await t.start()
                await settle()
                rss = proc_status(t.pid)["rss_kb"]
                t.stop()
                if i:       # the first writes the bytecode, warms the disk
                    results["ours"].setdefault(name, []).append(
                        {"startup_s": started, "idle_rss_kb": rss})
                    say("[%s] %s: startup %.0f ms, idle RSS %.1f MB" % (
                        kind, VARIANTS[name], 1000 * started,
                        rss / 1024.0))
        # 2. memory: idle, then idle sessions, on a fresh server
        for kind in spawned if "memory" in args.phases else ():
            t = target(kind, "%s-memory" % kind)
            results[kind]["startup_s"].append(await t.start())
            before = results[kind]["errors"].total()
            results[kind]["memory"] = await memory_workload(
                t, plan.sessions, results[kind]["errors"])
            workload(kind, "memory", before)
            results[kind]["memory"]["stop"] = t.stop()
            m = results[kind]["memory"]
            say("[%s] idle RSS %.1f MB; %s" % (
                kind, m["idle"]["rss_kb"] / 1024.0, "; ".join(
                    "%d sessions %.1f MB (%.1f KB each)" % (
                        s["count"], s["status"]["rss_kb"] / 1024.0,
                        s["kb_per_session"]) for s in m["sessions"])))
        # 3. load: one server per kind (the SDK answers either JSON or SSE,
        # so it runs twice), every row alternating between the servers
        load = {"ours": {"json": target("ours", "ours-load")}}
        load["ours"]["sse"] = load["ours"]["ndjson"] = load["ours"]["json"]
        if args.peer:
            load["sdk"] = {"json": target("sdk", "sdk-load-json"),
                           "sse": target("sdk", "sdk-load-sse")}
        started = set()
        for kind in kinds:
            for t in load[kind].values():
                if t not in started:
                    started.add(t)
                    results[kind]["startup_s"].append(await t.start())
        for method in args.methods if "load" in args.phases else ():
            for framing in args.framings:
                for c in plan.concurrency:
                    for kind in kinds:
                        t = load[kind].get(framing)
                        if t is None:
                            continue
                        before = results[kind]["errors"].total()
                        row = await load_workload(
                            t, upstream, method, framing, c, plan.requests,
                            plan.warmup, results[kind]["errors"])
                        name = "%s %s %d" % (method, framing, c)
                        results[kind]["rows"][name] = row
                        workload(kind, name, before)
                        say("[%s] %-10s %-6s C=%-3d %s" % (
                            kind, method, framing, c, row_line(row)))
        # 4. fresh sessions, 5. streams
        for kind in kinds if "fresh" in args.phases else ():
            t = load[kind]["json"]
            before = results[kind]["errors"].total()
            row = await fresh_sessions_workload(
                t, plan.fresh, 8, results[kind]["errors"])
            results[kind]["fresh"] = row
            workload(kind, "fresh sessions", before)
            say("[%s] fresh sessions: %.0f/s, %.0f us server CPU each" % (
                kind, row["per_second"], row["server_cpu_us"] or 0))
        for kind in kinds:
            t = load[kind]["json"]
            if plan.streams and "streams" in args.phases:
                errors = Errors()
                row = await streams_workload(t, plan.streams, plan.hold,
                                             errors)
                row["errors"] = errors.as_dict()
                for k, v in errors.counts.items():
                    results[kind]["errors"].counts["streams_" + k] = v
                results[kind]["errors"].samples.extend(errors.samples)
                results[kind]["streams"] = row
                results[kind]["workloads"].append(
                    ["streams", errors.total() +
                     row["streams"] - row["opened"]])
                say("[%s] %d GET streams: %d opened in %.1f s, %d ended "
                    "early, errors %s; RSS %.1f MB holding" % (
                        kind, row["streams"], row["opened"], row["open_s"],
                        row["ended_early"], errors.counts or "none",
                        row["holding"]["rss_kb"] / 1024.0))
            results[kind]["after"] = proc_status(t.pid)
        # 6. the throughput floor: ours, the floor (and the baseline) on a
        # pinned core, in alternating rounds
        if "floor" in args.phases:
            row = await floor_workload(args, plan, target, upstream, results)
            results["ours"]["floor_phase"] = row
            bad = sum(sum(row[k]["errors"]["counts"].values())
                      for k in row["order"])
            results["ours"]["workloads"].append(["throughput floor", bad])
            for kind in row["order"]:
                if kind in results:
                    for k, v in row[kind]["errors"]["counts"].items():
                        results[kind]["errors"].counts["floor_" + k] = v
    finally:
        for t in targets:
            code = t.stop()
            if t.kind in results:       # the floor's log is not ours
                results[t.kind]["log"][t.label] = {
                    "findings": t.log_findings(), "stop": code}
    for kind in spawned:
        results[kind]["errors"] = results[kind]["errors"].as_dict()
        logs = results[kind]["log"].values()
        results[kind]["workloads"].append(["server log", sum(
            v["findings"]["tracebacks"] + v["findings"]["errors"]
            for v in logs)])
    return results


def row_line(row):
    if "failed" in row:
        return "FAILED " + row["failed"]
    return ("%6.0f req/s  p50 %6.2f ms  p99 %7.2f ms  srv %5.0f us/req  "
            "cli %4.0f us/req  upstream hits/req %.1f" % (
                row["rps"], row["p50_ms"] or 0, row["p99_ms"] or 0,
                row["server_cpu_us"] or 0, row["client_cpu_us"] or 0,
                row["upstream_hits_per_req"] or 0))


###############################################################################
# The report ##################################################################
###############################################################################

def say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    out = ["  ".join("%-*s" % (w, h) for w, h in zip(widths, headers)),
           "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(("%-*s" if i == 0 else "%*s") % (w, x)
                             for i, (w, x) in enumerate(zip(widths, row))))
    return "\n".join(out)


def fmt(value, spec="%.0f"):
    return "-" if value is None else spec % value


def ratio(ours, theirs):
    if ours is None or theirs is None or not theirs:
        return None
    return float(ours) / theirs


def figures(results, kind):
    """ The headline figures of one server, flat. """
    r = results[kind]
    out = {"startup_ms": 1000 * statistics.median(r["startup_s"])
           if r["startup_s"] else None}
    for name in VARIANTS:
        spawns = r.get(name) or []
        if spawns:
            out[name + "_startup_ms"] = 1000 * statistics.median(
                m["startup_s"] for m in spawns)
            out[name + "_idle_rss_kb"] = statistics.median(
                m["idle_rss_kb"] for m in spawns)
    mem = r.get("memory") or {}
    out["idle_rss_kb"] = mem.get("idle", {}).get("rss_kb")
    for s in mem.get("sessions", []):
        out["rss_%d_kb" % s["count"]] = s["status"]["rss_kb"]
    if mem.get("sessions"):
        out["kb_per_session"] = mem["sessions"][-1]["kb_per_session"]
        out["sessions_per_s"] = mem["per_second"]
    for key, row in r["rows"].items():
        if "failed" not in row:
            for name in ("rps", "p50_ms", "p99_ms", "server_cpu_us"):
                out["%s %s" % (key, name)] = row[name]
    fresh = r.get("fresh") or {}
    out["fresh_per_s"] = fresh.get("per_second")
    out["fresh_cpu_us"] = fresh.get("server_cpu_us")
    streams = r.get("streams") or {}
    out["streams_opened"] = streams.get("opened")
    out["streams_rss_kb"] = streams.get("holding", {}).get("rss_kb")
    out["streams_probe_p99_ms"] = streams.get("probe_p99_ms")
    out["errors"] = sum(r["errors"]["counts"].values())
    return out


def target_checks(results, plan):
    """ [(what, ours, theirs, ratio, target, met)] for --peer. """
    ours, sdk = figures(results, "ours"), figures(results, "sdk")
    checks = []

    def check(what, key, op, bound, spec="%.1f"):
        r = ratio(ours.get(key), sdk.get(key))
        met = r is not None and (r <= bound if op == "<=" else r >= bound)
        shown = fmt(r, "%.2f")
        if r is not None and not met and float(shown) == bound:
            shown = fmt(r, "%.4f")      # not "2.00 >= 2: NO"
        checks.append((what, fmt(ours.get(key), spec), fmt(sdk.get(key),
                                                            spec),
                       shown, "%s %g" % (op, bound),
                       "not run" if r is None else "yes" if met else "NO"))
    check("startup, ms (median)", "startup_ms", "<=", 0.1, "%.0f")
    check("idle RSS, KB", "idle_rss_kb", "<=", 0.25, "%.0f")
    for name, (what, key, bound) in itertools.product(VARIANTS, (
            ("startup, ms", "startup_ms", 0.1),
            ("idle RSS, KB", "idle_rss_kb", 0.25))):
        r = ratio(ours.get("%s_%s" % (name, key)), sdk.get(key))
        if r is not None:
            checks.append(("(info) %s, %s" % (what, VARIANTS[name]),
                           fmt(ours["%s_%s" % (name, key)]),
                           fmt(sdk.get(key)), fmt(r, "%.2f"),
                           "<= %g" % bound, "(yes)" if r <= bound else
                           "(no)"))
    check("memory per idle session, KB (%d sessions)" % plan.sessions[-1],
          "kb_per_session", "<=", 0.25, "%.2f")
    for method in METHODS:
        for framing in ("json", "sse"):
            key = "%s %s 8" % (method, framing)
            check("%s %s C=8: server CPU per request, us" % (
                method, framing), key + " server_cpu_us", "<=", 0.5, "%.0f")
            check("%s %s C=8: throughput, req/s" % (method, framing),
                  key + " rps", ">=", 2.0, "%.0f")
            key = "%s %s 64" % (method, framing)
            check("%s %s C=64: p99 latency, ms" % (method, framing),
                  key + " p99_ms", "<=", 0.5, "%.1f")
    streams = results["ours"].get("streams") or {}
    theirs = results["sdk"].get("streams") or {}
    ok = streams.get("opened") == streams.get("streams") and \
        not streams.get("errors", {}).get("counts")
    checks.append(("%d GET streams held %gs, no error" % (
        plan.streams, plan.hold), "%s/%s opened" % (
            streams.get("opened"), streams.get("streams")) if streams
        else "-", "%s/%s opened" % (theirs.get("opened"),
                                    theirs.get("streams"))
        if theirs else "-", "", "all", "not run" if not streams else
        "yes" if ok else "NO"))
    checks.append(("errors at any level (ours)", str(ours["errors"]),
                   str(sdk["errors"]), "", "0",
                   "yes" if ours["errors"] == 0 else "NO"))
    return checks


def report(data):
    """ The tables of one run. """
    results, plan = data["results"], data["plan"]
    kinds = [k for k in ("ours", "sdk") if k in results]
    peer = "sdk" in kinds
    out = ["mcp-weather benchmark, %s UTC, load average %s at the start, "
           "%s at the end" % (data["date"], data["loadavg_start"],
                              data["loadavg_end"]),
           "machine: %s" % data["machine"]["summary"],
           "command: %s" % data["command"],
           "mcp_weather.py: commit %s%s" % (
               data["git"].get("commit", "?"), " (modified)"
               if data["git"].get("modified") else ""),
           "weather cache: %s; %d requests per load row (+%d warm-up per "
           "connection); log level %s" % (
               data["config"]["cache"], plan["requests"], plan["warmup"],
               data["config"]["log_level"])]
    for kind in kinds:
        floor = data["interpreters"][kind]
        out.append("%s runs on %s (Python %s; the bare interpreter starts "
                   "in %.0f ms with %.1f MB RSS)" % (
                       NAMES[kind], floor["python"], floor["version"],
                       floor["startup_ms"], floor["rss_kb"] / 1024.0))
    if peer:
        v = data["peer"]
        out.append("official SDK: mcp %s on uvicorn %s (%s, %s), starlette "
                   "%s, pydantic %s: bench/peer_sdk_server.py" % (
                       v.get("mcp"), v.get("uvicorn"), v.get("loop"),
                       v.get("http"), v.get("starlette"), v.get("pydantic")))
    figs = {k: figures(results, k) for k in kinds}

    def trio(key, spec="%.0f"):
        ours = figs["ours"].get(key)
        if not peer:
            return [fmt(ours, spec)]
        theirs = figs["sdk"].get(key)
        return [fmt(ours, spec), fmt(theirs, spec),
                fmt(ratio(ours, theirs), "%.2f")]

    head = ["ours"] + (["SDK", "ratio"] if peer else [])
    out += ["", "Start-up and memory"]
    rows = [["startup ms (median of %d)" % len(results["ours"]["startup_s"])]
            + trio("startup_ms"),
            ["idle RSS KB"] + trio("idle_rss_kb")]
    for name, (what, key) in itertools.product(VARIANTS, (
            ("startup ms", "startup_ms"), ("idle RSS KB", "idle_rss_kb"))):
        ours = figs["ours"].get("%s_%s" % (name, key))
        if ours is not None:
            theirs = figs["sdk"].get(key) if peer else None
            rows.append(["%s, %s" % (what, VARIANTS[name]), fmt(ours)] + (
                [fmt(theirs), fmt(ratio(ours, theirs), "%.2f")]
                if peer else []))
    compiled = data["interpreters"]["ours"].get("compile_ms")
    if compiled is not None:
        rows.append(["compiling mcp_weather.py, ms (at every start as "
                     "a script)", fmt(compiled)] + (["", ""] if peer
                                                    else []))
    for count in plan["sessions"]:
        rows.append(["RSS KB with %d idle sessions" % count] +
                    trio("rss_%d_kb" % count))
    rows.append(["KB per idle session (%d)" % plan["sessions"][-1]] +
                trio("kb_per_session", "%.2f"))
    rows.append(["sessions created per s (initialize + initialized)"] +
                trio("sessions_per_s"))
    out.append(table(["figure"] + head, rows))

    out += floor_report(data, figs)
    rows = []
    for key in sorted(results["ours"]["rows"], key=row_order):
        row = [key]
        for name, spec in (("rps", "%.0f"), ("p50_ms", "%.2f"),
                           ("p99_ms", "%.1f"), ("server_cpu_us", "%.0f")):
            full = "%s %s" % (key, name)
            if peer and full not in figs["sdk"]:
                row += [fmt(figs["ours"].get(full), spec), "n/a", "n/a"]
            else:
                row += trio(full, spec)
        rows.append(row)
    cols = ["method framing C"]
    for name in ("req/s", "p50", "p99", "CPU us"):
        cols += [name] + (["SDK", "ratio"] if peer else [])
    if rows:                            # the tables of the phases run
        out += ["", "Load: req/s, p50 and p99 latency (ms), server CPU per "
                "request (us); SDK: n/a where it has no such framing"]
        out.append(table(cols, rows))
    if results["ours"].get("fresh"):
        out += ["", "Fresh sessions: connect, initialize, initialized, "
                "tools/call, DELETE, close; 8 clients at a time"]
        rows = [["sessions per s"] + trio("fresh_per_s"),
                ["server CPU us per session"] + trio("fresh_cpu_us")]
        out.append(table(["figure"] + head, rows))
    rows = []
    for kind in kinds:
        st = results[kind].get("streams")
        if st:
            rows.append([NAMES[kind], "%d/%d" % (st["opened"], st["streams"]),
                         "%.1f" % st["open_s"], str(st["ended_early"]),
                         str(sum(st["errors"]["counts"].values())),
                         "%.1f" % (st["holding"]["rss_kb"] / 1024.0),
                         "%.1f" % st["kb_per_stream"],
                         "%.1f" % st["server_cpu_pct_holding"],
                         "%s / %s" % (fmt(st["probe_p50_ms"], "%.1f"),
                                      fmt(st["probe_p99_ms"], "%.1f"))])
    if rows:
        out += ["", "GET streams (text/event-stream), each on its own session, "
                "all open at once and held %gs; tools/list probed meanwhile"
                % results["ours"]["streams"]["hold_s"]]
        out.append(table(["server", "opened", "open s", "ended early",
                          "errors", "RSS MB holding", "KB/stream",
                          "CPU % holding", "probe p50 / p99 ms"], rows))

    out += ["", "Health"]
    for kind in kinds + (["base"] if "base" in results else []):
        r = results[kind]
        logs = r["log"]
        findings = {k: sum(v["findings"][k] for v in logs.values())
                    for k in ("tracebacks", "errors", "warnings")}
        stops = sorted(set("%s" % (v["stop"][1],) for v in logs.values()))
        out.append("  %s: request errors %s; log: %d tracebacks, %d errors, "
                   "%d warnings; exit codes on SIGTERM %s; after the run "
                   "%s" % (NAMES[kind], r["errors"]["counts"] or "none",
                           findings["tracebacks"], findings["errors"],
                           findings["warnings"], stops, r.get("after")))
        for s in r["errors"]["samples"][:3]:
            out.append("      e.g. " + s)
        for v in logs.values():
            for s in v["findings"]["samples"][:2]:
                out.append("      log: " + s)
    if peer:
        out += ["", "Targets (ours/SDK)"]
        out.append(table(["figure", "ours", "SDK", "ratio", "target", "met"],
                         data["targets"]))
    out += ["", "Caveats: the load generator (this process), the fake "
            "upstream and the server share %d cores; server CPU per request "
            "(utime+stime from /proc, 10 ms ticks) is the figure least "
            "disturbed by that.  Loopback only." % data["machine"]["cores"]]
    return "\n".join(out)


def floor_report(data, figs):
    """ Issue 19's figures: ours (and the baseline) beside the floor. """
    results = data["results"]
    floor = figs["ours"]
    base = figures(results, "base") if "base" in results else None
    servers = [("ours", figs["ours"])] + ([("baseline", base)] if base
                                          else [])
    rows = []
    floor_ms, floor_kb = (floor.get("floor_startup_ms"),
                          floor.get("floor_idle_rss_kb"))
    for name, f in servers:
        if f.get("startup_ms") is not None and floor_ms:
            r = ratio(f["startup_ms"], floor_ms)
            rows.append(["%s: startup ms, script, no cached bytecode" % name,
                         fmt(f["startup_ms"]), fmt(floor_ms),
                         "%.2fx" % r, "<= %gx" % FLOOR_TARGETS["startup"],
                         "yes" if r <= FLOOR_TARGETS["startup"] else "NO"])
    for name, f in servers:
        if f.get("idle_rss_kb") is not None and floor_kb:
            over = (f["idle_rss_kb"] - floor_kb) / 1024.0
            rows.append(["%s: idle RSS MiB" % name,
                         fmt(f["idle_rss_kb"] / 1024.0, "%.1f"),
                         fmt(floor_kb / 1024.0, "%.1f"), "+%.1f MiB" % over,
                         "<= +%g MiB" % FLOOR_TARGETS["rss_mib"],
                         "yes" if over <= FLOOR_TARGETS["rss_mib"] else "NO"])
    if floor.get("module_startup_ms") is not None and floor_ms:
        rows.append(["(info) ours as python -m mcp_weather, cached bytecode:"
                     " startup ms", fmt(floor["module_startup_ms"]),
                     fmt(floor_ms), "%.2fx" % ratio(
                         floor["module_startup_ms"], floor_ms), "", ""])
        rows.append(["(info) the same: idle RSS MiB",
                     fmt(floor["module_idle_rss_kb"] / 1024.0, "%.1f"),
                     fmt(floor_kb / 1024.0, "%.1f"), "+%.1f MiB" % (
                         (floor["module_idle_rss_kb"] - floor_kb) / 1024.0),
                     "", ""])
    phase = results["ours"].get("floor_phase")
    if phase:
        fl = phase["floor"]
        for kind, name in (("ours", "ours"), ("base", "baseline")):
            if kind not in phase["order"]:
                continue
            me = phase[kind]
            r = ratio(me["cpu_us"], fl["cpu_us"])
            what = "%s %s C=%d" % (phase["method"], phase["framing"],
                                   phase["concurrency"])
            rows.append(["%s: %s, server CPU us/request" % (name, what),
                         fmt(me["cpu_us"]), fmt(fl["cpu_us"]),
                         fmt(r, "%.2fx"), "<= %gx" % FLOOR_TARGETS["cpu"],
                         "not run" if r is None else
                         "yes" if r <= FLOOR_TARGETS["cpu"] else "NO"])
            rows.append(["%s: %s, throughput req/s" % (name, what),
                         fmt(me["rps"]), fmt(fl["rps"]),
                         fmt(ratio(me["rps"], fl["rps"]), "%.2fx"), "", ""])
    if not rows:
        return []
    out = ["", "Ours beside the floor (floor_server.py; issue 19's targets, "
           "figures only, never a failure)"]
    if phase:
        out.append("floor phase: %d alternating rounds (%s) of %d requests,"
                   " medians; %s; the floor sends ours' %d-byte tools/list "
                   "body" % (len(phase["rounds"]["ours"]),
                             ", ".join(phase["order"]), phase["requests"],
                             phase["pinned"], phase["body_bytes"]))
    out.append(table(["figure", "server", "floor", "server/floor", "target",
                      "met"], rows))
    if base and phase and "base" in phase["order"]:
        o, b = phase["ours"], phase["base"]
        out.append("ours/baseline: server CPU per request %s, throughput %s"
                   % (fmt(ratio(o["cpu_us"], b["cpu_us"]), "%.2fx"),
                      fmt(ratio(o["rps"], b["rps"]), "%.2fx")))
    if base:
        out.append("baseline: %s" % data["config"].get("baseline"))
    return out


def row_order(key):
    method, framing, c = key.split()
    return (METHODS.index(method), FRAMINGS.index(framing), int(c))


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = os.cpu_count()
    return {"cores": cores, "cpu": model, "kernel": platform.release(),
            "summary": "%d cores (%s), Linux %s" % (cores, model,
                                                    platform.release())}


def git_info():
    info = {}
    try:
        with open(SERVER_PY, "rb") as f:
            info["sha256"] = hashlib.sha256(f.read()).hexdigest()
        info["commit"] = subprocess.check_output(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
            stderr=subprocess.DEVNULL, timeout=10).decode().strip()
        info["modified"] = bool(subprocess.check_output(
            ["git", "-C", ROOT, "status", "--porcelain", "--",
             "mcp_weather.py"], stderr=subprocess.DEVNULL,
            timeout=10).decode().strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", action="store_true",
                        help="also run the official SDK's server (makes "
                             "bench/.venv with pip on first use)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: small counts (200 requests per "
                             "row, 200 and 1,000 sessions, 100 streams "
                             "held 3 s)")
    parser.add_argument("--cache", choices=("on", "off"), default="off",
                        help="the servers' weather cache (default off: "
                             "every tools/call makes two upstream requests)")
    parser.add_argument("--requests", type=int, default=0,
                        help="requests per load row (default 3000; quick "
                             "200)")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--framings", default=",".join(FRAMINGS))
    parser.add_argument("--phases", default=",".join(PHASES),
                        help="which workloads to run (default all: %s)"
                        % ",".join(PHASES))
    parser.add_argument("--startups", type=int, default=0,
                        help="spawns timed for the start-up figure "
                             "(default 5; quick 1), besides the others")
    parser.add_argument("--streams", type=int, default=None,
                        help="GET streams held at once (default 1000; "
                             "quick 100; 0 skips)")
    parser.add_argument("--hold", type=float, default=None,
                        help="seconds the streams are held (default 30; "
                             "quick 3)")
    parser.add_argument("--baseline", metavar="PATH", default=None,
                        help="another mcp_weather.py (e.g. an older "
                             "commit's) run beside ours in the startup, "
                             "memory and floor phases, for before/after "
                             "figures")
    parser.add_argument("--rounds", type=int, default=0,
                        help="alternating rounds of the floor phase "
                             "(default 5; quick 2)")
    parser.add_argument("--floor-concurrency", type=int, default=8,
                        help="connections in the floor phase (default 8)")
    parser.add_argument("--python", default=None,
                        help="interpreter for our server (default: the "
                             "SDK venv's with --peer, so both run the same "
                             "one; else this one)")
    parser.add_argument("--venv", default=DEFAULT_VENV)
    parser.add_argument("--sdk-spec", default=PEER_SPEC)
    parser.add_argument("--samples", default=DEFAULT_SAMPLES,
                        help="folder of the Open-Meteo sample bodies")
    parser.add_argument("--log-level", default="warning",
                        help="both servers' log level (default warning: "
                             "no access log)")
    parser.add_argument("--log-dir", default=os.path.join(HERE, "logs"))
    parser.add_argument("--phase-timeout", type=float, default=300.0,
                        help="seconds one phase may take before it is "
                             "stopped and counted as an error (default 300)")
    parser.add_argument("--out", help="write all figures as JSON here")
    parser.add_argument("--report", metavar="JSON",
                        help="print the tables of an earlier --out file")
    parser.add_argument("--fake-upstream", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fake_upstream:
        return fake_upstream_main(args.fake_upstream)
    if args.report:
        with open(args.report) as f:
            print(report(json.load(f)))
        return 0
    args.phases = [p for p in args.phases.split(",") if p]
    args.methods = [m for m in args.methods.split(",") if m]
    args.framings = [f for f in args.framings.split(",") if f]
    if set(args.methods) - set(METHODS) or \
            set(args.framings) - set(FRAMINGS):
        parser.error("--methods: %s; --framings: %s" % (
            ",".join(METHODS), ",".join(FRAMINGS)))
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
        if not os.path.isfile(args.baseline):
            parser.error("--baseline: no such file: %s" % args.baseline)
    plan = Plan(args)
    os.makedirs(args.log_dir, exist_ok=True)
    for name in os.listdir(args.log_dir):
        if name.endswith(".log"):
            os.remove(os.path.join(args.log_dir, name))
    pythons = {}
    if args.peer:
        pythons["sdk"] = ensure_peer_venv(args.venv, args.sdk_spec)
    pythons["ours"] = os.path.abspath(args.python) if args.python else (
        pythons.get("sdk") or sys.executable)
    interpreters = {k: interpreter_floor(p) for k, p in pythons.items()}
    interpreters["ours"]["compile_ms"] = compile_time(pythons["ours"])
    data = {"date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "loadavg_start": loadavg(),
            "command": " ".join(["python3"] + [os.path.basename(
                sys.argv[0])] + sys.argv[1:]),
            "machine": machine_info(), "git": git_info(),
            "interpreters": interpreters,
            "peer": peer_versions(pythons["sdk"]) if args.peer else {},
            "config": {"cache": args.cache, "log_level": args.log_level,
                       "methods": args.methods, "framings": args.framings,
                       "baseline": args.baseline},
            "plan": plan.as_dict()}
    upstream = FakeUpstream(args.samples)
    try:
        data["results"] = asyncio.run(run_all(args, plan, pythons, upstream))
    finally:
        upstream.stop()
    data["loadavg_end"] = loadavg()
    if args.peer:
        data["targets"] = target_checks(data["results"], plan)
    text = report(data)
    data["table"] = text
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)),
                    exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        say("figures written to %s" % args.out)
    # One line for CI (.ci/run folds it into its totals): every workload of
    # ours passes when it met no error; the figures never fail it.
    workloads = data["results"]["ours"]["workloads"]
    failed = [name for name, errors in workloads if errors]
    if failed:
        print("workloads with errors: %s" % ", ".join(failed))
    print("bench: %d passed, %d failed, 0 skipped" % (
        len(workloads) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
