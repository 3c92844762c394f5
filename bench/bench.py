#!/usr/bin/env python3
"""Dev-only benchmark: mcp_weather.py against the official MCP Python SDK.

Stdlib only.  Everything runs on 127.0.0.1: a fake Open-Meteo (the sample
bodies in ../../shared/upstream/), the server under test as a subprocess, and
client processes speaking raw HTTP/1.1 keep-alive (http.client) to it.

    python3 bench.py --server mcp-weather            # our server only
    python3 bench.py --server both --out r.json      # needs bench/.venv
    python3 bench.py --quick                         # small N: a smoke test

What one run measures, per server (each repeat starts a fresh server):

  cold start   from spawning the process to the first successful initialize
  latency and  for ping, tools/list and tools/call get_weather{"city":
  throughput   "Hangzhou"} (cache warm: WEATHER_CACHE_TTL=600; the fake
               upstream is hit once for the place and once for the weather,
               before measuring): C = 1, 8, 32 client processes,
               each one keep-alive connection with its own session
               (initialize + notifications/initialized, then Mcp-Session-Id
               and MCP-Protocol-Version on every request), a fixed total of
               --requests requests split among them.  C=1 is the sequential
               latency run: one connection, one request at a time.
               Reported: req/s (while all C connections were running),
               latency p50/p90/p99/max, server CPU time per request and
               server/client/machine CPU use.
  memory       VmRSS (and threads, fds) of the server: idle (after the first
               initialize), after the load, and after --sessions more
               sessions created with initialize + notifications/initialized
               and never DELETEd.
  health       every response is checked (HTTP 200, JSON-RPC result with the
               right id, the expected content); errors, reconnects, timeouts,
               the server log's tracebacks and warnings, threads and fds left
               behind, and the time SIGTERM takes are reported.

The client shares the machine's cores with the server; server CPU per request
(from /proc/PID/stat) is the figure least disturbed by that.
"""

import argparse
import hashlib
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER_PY = os.path.join(ROOT, "mcp_weather.py")
SDK_PY = os.path.join(HERE, "sdk_server.py")
DEFAULT_SAMPLES = os.path.normpath(os.path.join(ROOT, "..", "shared",
                                                "upstream"))
PROTOCOL = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
HOST = "127.0.0.1"
METHODS = {
    "ping": ("ping", None),
    "tools/list": ("tools/list", None),
    "tools/call": ("tools/call", {"name": "get_weather",
                                  "arguments": {"city": "Hangzhou"}}),
}
SERVERS = ("mcp-weather", "sdk")
CLK_TCK = os.sysconf("SC_CLK_TCK")


###############################################################################
# The client side: one keep-alive connection, one session ####################
###############################################################################

class Client(object):
    """ A session on one HTTP/1.1 keep-alive connection, over http.client. """

    def __init__(self, port, path="/mcp", timeout=10.0):
        self.port, self.path, self.timeout = port, path, timeout
        self.conn = None
        self.sid = None
        self.next_id = 0
        self.reconnects = 0         # connections the server closed on us
        self.connects = 0

    def connect(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection(HOST, self.port,
                                               timeout=self.timeout)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def headers(self):
        headers = {"Content-Type": "application/json", "Accept": ACCEPT}
        if self.sid:
            headers["Mcp-Session-Id"] = self.sid
            headers["MCP-Protocol-Version"] = PROTOCOL
        return headers

    def post(self, message):
        """ POST one message; return (status, headers dict, body bytes).
        Raises OSError / http.client errors on connection trouble. """
        if self.conn is None or self.conn.sock is None:
            if self.conn is not None:
                self.reconnects += 1
            self.connect()
        body = json.dumps(message, separators=(",", ":")).encode()
        self.conn.request("POST", self.path, body, self.headers())
        response = self.conn.getresponse()
        data = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        if response.will_close:
            self.conn.close()         # http.client reopens on the next one
        return response.status, headers, data

    def request(self, method, params=None):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        status, headers, data = self.post(message)
        return status, headers, data, self.next_id

    def initialize(self, name="bench"):
        """ initialize + notifications/initialized; returns the session id. """
        self.sid = None
        status, headers, data, rid = self.request("initialize", {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": name, "version": "1"}})
        message = decode_body(headers, data, rid)
        if status != 200 or "result" not in (message or {}):
            raise RuntimeError("initialize: HTTP %d %r" % (status, data[:300]))
        sid = headers.get("mcp-session-id")
        if not sid:
            raise RuntimeError("initialize: no Mcp-Session-Id header")
        self.sid = sid
        status, _, data = self.post({"jsonrpc": "2.0",
                                     "method": "notifications/initialized"})
        if status != 202:
            raise RuntimeError("notifications/initialized: HTTP %d %r"
                               % (status, data[:300]))
        return sid

    def delete(self):
        if not self.sid:
            return None
        if self.conn is None or self.conn.sock is None:
            self.connect()
        self.conn.request("DELETE", self.path, headers=self.headers())
        response = self.conn.getresponse()
        response.read()
        if response.will_close:
            self.conn.close()
        return response.status


def decode_body(headers, data, rid):
    """ The JSON-RPC response with id rid from a JSON or SSE body. """
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            return json.loads(data)
        except ValueError:
            return None
    if ctype.startswith("text/event-stream"):
        for event in data.decode("utf-8", "replace").split("\n\n"):
            payload = "\n".join(line[5:].lstrip(" ")
                                for line in event.split("\n")
                                if line.startswith("data:"))
            if not payload.strip():
                continue
            try:
                message = json.loads(payload)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == rid:
                return message
    return None


def check(method, status, headers, data, rid):
    """ None if the response is right, else a short error kind. """
    if status != 200:
        return "http_%d" % status
    message = decode_body(headers, data, rid)
    if not isinstance(message, dict):
        return "undecodable_body"
    if message.get("id") != rid:
        return "wrong_id"
    if "error" in message:
        return "rpc_error_%s" % (message["error"] or {}).get("code")
    result = message.get("result")
    if not isinstance(result, dict):
        return "no_result"
    if method == "ping" and result != {}:
        return "bad_ping_result"
    if method == "tools/list" and "get_weather" not in [
            t.get("name") for t in result.get("tools", [])]:
        return "bad_tools_list"
    if method == "tools/call":
        content = result.get("content") or [{}]
        if result.get("isError") or "Hangzhou" not in str(
                content[0].get("text")):
            return "bad_tool_result"
    return None


def worker_main(spec):
    """ One client process: connect, open a session, warm up, say "ready",
    wait for "go" on stdin, send spec["n"] requests one after another, DELETE
    the session, print one JSON line of results. """
    out = {"ok": 0, "errors": {}, "samples": [], "lat": [], "done": [],
           "ctypes": {}, "complete": True}
    method, params = METHODS[spec["method"]]
    client = Client(spec["port"], spec["path"], spec["timeout"])
    try:
        client.connect()
        client.initialize("bench-worker")
        for _ in range(spec["warmup"]):
            status, headers, data, rid = client.request(method, params)
            problem = check(method, status, headers, data, rid)
            if problem:
                raise RuntimeError("warm-up %s: %s %r" % (method, problem,
                                                           data[:300]))
    except Exception as exc:
        print(json.dumps({"fatal": "%s: %s" % (type(exc).__name__, exc)}),
              flush=True)
        return 1
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    cpu0 = os.times()
    server_pid = spec.get("server_pid")
    start = time.monotonic()
    out["machine0"], out["server0"] = machine_cpu(), proc_cpu(server_pid)
    deadline = start + spec["deadline"]
    errors = out["errors"]
    lat, done = out["lat"], out["done"]
    for _ in range(spec["n"]):
        if time.monotonic() > deadline or \
                sum(errors.values()) >= spec["max_errors"]:
            out["complete"] = False
            break
        t0 = time.perf_counter()
        try:
            status, headers, data, rid = client.request(method, params)
        except (socket.timeout, TimeoutError) as exc:
            problem, data = "timeout", repr(exc).encode()
            client.close()
        except (OSError, http.client.HTTPException) as exc:
            problem, data = "conn_%s" % type(exc).__name__, repr(exc).encode()
            client.close()
        else:
            problem = check(method, status, headers, data, rid)
            ctype = headers.get("content-type", "-").split(";")[0]
            out["ctypes"][ctype] = out["ctypes"].get(ctype, 0) + 1
        elapsed = time.perf_counter() - t0
        if problem:
            errors[problem] = errors.get(problem, 0) + 1
            if len(out["samples"]) < 3:
                out["samples"].append("%s: %s" % (problem, data[:200]))
        else:
            out["ok"] += 1
            lat.append(elapsed)
            done.append(time.monotonic())
    end = time.monotonic()
    out["machine1"], out["server1"] = machine_cpu(), proc_cpu(server_pid)
    cpu1 = os.times()
    try:
        out["delete_status"] = client.delete()
    except Exception as exc:
        out["delete_status"] = "%s: %s" % (type(exc).__name__, exc)
    client.close()
    out.update(start=start, end=end, reconnects=client.reconnects,
               cpu=(cpu1.user - cpu0.user) + (cpu1.system - cpu0.system))
    print(json.dumps(out), flush=True)
    return 0


###############################################################################
# The fake Open-Meteo #########################################################
###############################################################################

class FakeUpstream(object):
    """ Open-Meteo on 127.0.0.1: the sample bodies, and a count of hits. """

    def __init__(self, samples_dir):
        bodies = {}
        for name in ("open-meteo-geocoding.json", "open-meteo-current.json",
                     "open-meteo-daily.json"):
            with open(os.path.join(samples_dir, name), "rb") as f:
                bodies[name] = f.read()
            json.loads(bodies[name])
        self.hits = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                outer.hits.append(parts.path)
                if parts.path.endswith("/v1/search"):
                    body, status = bodies["open-meteo-geocoding.json"], 200
                elif parts.path.endswith("/v1/forecast"):
                    status = 200
                    body = bodies["open-meteo-daily.json" if "daily" in
                                  parse_qs(parts.query)
                                  else "open-meteo-current.json"]
                else:
                    body, status = b'{"error":true,"reason":"not found"}', 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       args=(0.2,), daemon=True)
        self.thread.start()

    def env(self):
        base = "http://%s:%d" % (HOST, self.port)
        return {"WEATHER_GEOCODING_URL": base + "/v1/search",
                "WEATHER_FORECAST_URL": base + "/v1/forecast"}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


###############################################################################
# /proc readings ##############################################################
###############################################################################

def proc_cpu(pid):
    """ user+system CPU seconds of a process. """
    if pid is None:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(CLK_TCK)


def proc_snapshot(pid):
    info = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                info[key.lower() + "_kb"] = int(value.split()[0])
            elif key == "Threads":
                info["threads"] = int(value)
    try:
        info["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        info["fds"] = None
    return info


def machine_cpu():
    """ (busy, total) jiffies over all cores. """
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


###############################################################################
# Running a server under test #################################################
###############################################################################

class ServerUnderTest(object):

    def __init__(self, kind, args, upstream, log_path):
        self.kind, self.args, self.upstream = kind, args, upstream
        self.log_path = log_path
        self.port = free_port()
        self.proc = None

    def command(self):
        if self.kind == "mcp-weather":
            return [sys.executable, SERVER_PY, "--host", HOST, "--port",
                    str(self.port), "--log-level", self.args.log_level]
        return [self.args.sdk_python, SDK_PY, "--host", HOST, "--port",
                str(self.port), "--log-level", self.args.log_level]

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MCP_", "WEATHER_", "SENIVERSE_"))}
        env.update(self.upstream.env())
        env.update(WEATHER_PROVIDER="open-meteo", WEATHER_CACHE_TTL="600",
                   PYTHONDONTWRITEBYTECODE="1")
        return env

    def start(self):
        """ Spawn, then poll with initialize until one succeeds; return the
        cold-start time in seconds (spawn to first initialize answered). """
        self.log = open(self.log_path, "wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), env=self.env(),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     cwd=HERE)
        deadline = started + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s at start; see %s" % (
                    self.kind, self.proc.returncode, self.log_path))
            client = Client(self.port, timeout=5)
            try:
                client.connect()
                client.initialize("bench-cold-start")
                elapsed = time.perf_counter() - started
                client.delete()
                client.close()
                return elapsed
            except (ConnectionRefusedError, ConnectionResetError):
                client.close()
            if time.perf_counter() > deadline:
                raise RuntimeError("%s did not answer initialize in 60 s"
                                   % self.kind)
            time.sleep(0.005)

    def stop(self):
        """ SIGTERM, wait up to 20 s (then SIGKILL); (seconds, exit code). """
        if self.proc is None or self.proc.poll() is not None:
            return None, self.proc.returncode if self.proc else None
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "killed after 20 s: %s" % self.proc.wait()
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


def run_phase(args, server, method, concurrency, total):
    """ `concurrency` worker processes, `total` requests among them. """
    counts = [total // concurrency + (1 if i < total % concurrency else 0)
              for i in range(concurrency)]
    workers = []
    for n in counts:
        spec = {"port": server.port, "path": "/mcp", "method": method,
                "n": n, "warmup": args.warmup if concurrency == 1 else
                max(3, args.warmup // 5), "deadline": args.phase_timeout,
                "timeout": args.request_timeout, "max_errors": 200,
                "server_pid": server.proc.pid}
        workers.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker",
             json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=HERE))
    fatal = []
    for w in workers:                       # wait until all are ready
        line = w.stdout.readline().decode().strip()
        if line != "ready":
            fatal.append(line or w.stderr.read().decode()[-500:])
    if fatal:
        for w in workers:
            w.kill()
            w.wait()
        raise RuntimeError("%s %s C=%d: workers failed before the start: %s"
                           % (server.kind, method, concurrency, fatal[:2]))
    pid = server.proc.pid
    before = proc_snapshot(pid)
    for w in workers:
        w.stdin.write(b"go\n")
        w.stdin.flush()
    results = []
    deadline = time.monotonic() + args.phase_timeout + 30
    for w in workers:
        try:
            out, err = w.communicate(timeout=max(1, deadline -
                                                 time.monotonic()))
        except subprocess.TimeoutExpired:
            w.kill()
            out, err = w.communicate()
        try:
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        except (ValueError, IndexError):
            results.append({"fatal": "worker said %r / %r" % (
                out[-300:], err[-300:])})
    after = proc_snapshot(pid)
    good = [r for r in results if "fatal" not in r]
    errors, samples, ctypes = {}, [], {}
    for r in results:
        if "fatal" in r:
            errors["worker_failed"] = errors.get("worker_failed", 0) + 1
            samples.append(r["fatal"][:300])
            continue
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
        samples.extend(r["samples"])
        for k, v in r["ctypes"].items():
            ctypes[k] = ctypes.get(k, 0) + v
    lat = sorted(x for r in good for x in r["lat"])
    ok = sum(r["ok"] for r in good)
    # The window: from the first worker's start to the last one's end; each
    # worker read the server's and the machine's CPU counters there.
    wall, busy, server_cpu = 0.0, 0.0, 0.0
    if good:
        first = min(good, key=lambda r: r["start"])
        last = max(good, key=lambda r: r["end"])
        wall = last["end"] - first["start"]
        server_cpu = last["server1"] - first["server0"]
        busy = (last["machine1"][0] - first["machine0"][0]) / float(
            max(1, last["machine1"][1] - first["machine0"][1]))
    client_cpu = sum(r["cpu"] for r in good)
    cores = os.cpu_count() or 1
    # Steady state: while every connection was running (from the last
    # start to the first finish), so start-up and stragglers do not count.
    steady = None
    if len(good) > 1:
        t_a = max(r["start"] for r in good)
        t_b = min(r["end"] for r in good)
        if t_b - t_a > 0.25 * wall:
            steady = sum(1 for r in good for t in r["done"]
                         if t_a < t <= t_b) / (t_b - t_a)
    elif good:
        steady = good[0]["ok"] / wall if wall else None
    deletes = [r.get("delete_status") for r in good]
    return {
        "method": method, "concurrency": concurrency, "requests": total,
        "ok": ok, "errors": errors, "error_samples": samples[:5],
        "complete": all(r.get("complete") for r in good) and
        len(good) == len(results),
        "wall_s": wall, "rps_overall": ok / wall if wall else 0.0,
        "rps": steady if steady is not None else (ok / wall if wall else 0.0),
        "rps_is_steady_state": steady is not None,
        "lat_ms": percentiles(lat),
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_req": 1e6 * server_cpu / ok if ok else None,
        "server_cpu_pct": 100 * server_cpu / wall if wall else None,
        "client_cpu_pct": 100 * client_cpu / wall if wall else None,
        "client_cpu_us_per_req": 1e6 * client_cpu / ok if ok else None,
        "machine_busy_pct": 100 * busy,
        # CPU used by neither: kernel work not charged to either side,
        # and anything else running on the machine (percent of one core)
        # (clamped at 0: the counters tick every 10 ms)
        "other_cpu_pct": max(0.0, 100 * busy * cores - 100 * (
            server_cpu + client_cpu) / wall) if wall else None,
        "reconnects": sum(r.get("reconnects", 0) for r in good),
        "content_types": ctypes,
        "delete_statuses": sorted(set(str(d) for d in deletes)),
        "server_before": before, "server_after": after,
    }


def percentiles(values):
    if not values:
        return {}

    def pick(q):
        return 1000 * values[min(len(values) - 1, int(q * len(values)))]
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99),
            "max": 1000 * values[-1], "mean": 1000 * statistics.fmean(values)}


def sessions_phase(server, count, timeout):
    """ `count` sessions (initialize + notifications/initialized), never
    DELETEd, on one keep-alive connection. """
    pid = server.proc.pid
    before = proc_snapshot(pid)
    client = Client(server.port, timeout=timeout)
    client.connect()
    errors, samples, sids = {}, [], []
    started = time.perf_counter()
    deadline = started + timeout * 10
    for _ in range(count):
        if time.perf_counter() > deadline:
            errors["phase_timeout"] = errors.get("phase_timeout", 0) + 1
            break
        try:
            sids.append(client.initialize("bench-session"))
        except Exception as exc:
            kind = type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
            if len(samples) < 3:
                samples.append("%s: %s" % (kind, str(exc)[:200]))
            client.close()
            if sum(errors.values()) > 50:
                break
    elapsed = time.perf_counter() - started
    time.sleep(0.5)                 # let the server settle
    after = proc_snapshot(pid)
    still = None
    if sids:                        # is the first one still alive?
        client.sid = sids[0]
        try:
            status, headers, data, rid = client.request("ping")
            still = check("ping", status, headers, data, rid) or "ok"
        except Exception as exc:
            still = type(exc).__name__
    client.close()
    created = len(sids)
    return {"sessions": created, "errors": errors, "error_samples": samples,
            "seconds": elapsed, "per_second": created / elapsed
            if elapsed else None, "before": before, "after": after,
            "rss_delta_kb": after["vmrss_kb"] - before["vmrss_kb"],
            "kb_per_session": (after["vmrss_kb"] - before["vmrss_kb"]) /
            float(created) if created else None,
            "first_session_ping": still}


def prime(server):
    """ One request of each method, so the cache is warm before measuring;
    returns get_weather's text and each method's response size. """
    client = Client(server.port)
    client.connect()
    client.initialize("bench-prime")
    sizes, text = {}, None
    for name in ("tools/call", "tools/list", "ping"):
        method, params = METHODS[name]
        status, headers, data, rid = client.request(method, params)
        problem = check(method, status, headers, data, rid)
        if problem:
            raise RuntimeError("%s: priming %s failed: %s %r"
                               % (server.kind, name, problem, data[:300]))
        sizes[name] = len(data)
        if name == "tools/call":
            message = decode_body(headers, data, rid) or {}
            text = message["result"]["content"][0]["text"]
    client.delete()
    client.close()
    return text, sizes


def run_server(args, kind, upstream, repeat):
    log_path = os.path.join(args.log_dir, "%s-%d.log" % (kind, repeat))
    server = ServerUnderTest(kind, args, upstream, log_path)
    run = {"server": kind, "repeat": repeat, "log": log_path}
    del upstream.hits[:]
    m0 = machine_cpu()
    time.sleep(1.0)
    m1 = machine_cpu()
    run["background_busy_pct"] = 100.0 * (m1[0] - m0[0]) / max(
        1, m1[1] - m0[1])
    if run["background_busy_pct"] > 10:
        say("[%s #%d] warning: the machine is %.0f%% busy before the start: "
            "something else is running" % (kind, repeat + 1,
                                           run["background_busy_pct"]))
    say("[%s #%d] starting %s" % (kind, repeat + 1,
                                  " ".join(server.command()[1:2])))
    try:
        run["cold_start_s"] = server.start()
        time.sleep(0.5)
        run["idle"] = proc_snapshot(server.proc.pid)
        run["sample_text"], run["response_bytes"] = prime(server)
        run["phases"] = []
        for method in args.methods:
            for c in args.concurrency:
                phase = run_phase(args, server, method, c, args.requests)
                run["phases"].append(phase)
                say("[%s #%d] %-10s C=%-2d %7.0f req/s  p50 %6.2f ms  p99 "
                    "%6.2f ms  srv %5.0f us/req  errors %s" % (
                        kind, repeat + 1, method, c, phase["rps"],
                        phase["lat_ms"].get("p50", 0),
                        phase["lat_ms"].get("p99", 0),
                        phase["server_cpu_us_per_req"] or 0,
                        sum(phase["errors"].values())))
        time.sleep(1.0)             # connections closed; threads wind down
        run["after_load"] = proc_snapshot(server.proc.pid)
        run["sessions"] = sessions_phase(server, args.sessions,
                                         args.request_timeout)
        say("[%s #%d] %d sessions in %.1f s: RSS %+d KB (%.1f KB/session)"
            % (kind, repeat + 1, run["sessions"]["sessions"],
               run["sessions"]["seconds"], run["sessions"]["rss_delta_kb"],
               run["sessions"]["kb_per_session"] or 0))
        run["upstream_hits"] = list(upstream.hits)
    except Exception as exc:
        run["failed"] = "%s: %s" % (type(exc).__name__, exc)
        say("[%s #%d] FAILED: %s" % (kind, repeat + 1, run["failed"]))
    finally:
        if server.proc is not None and server.proc.poll() is None:
            run["final"] = proc_snapshot(server.proc.pid)
        run["stop_s"], run["exit_code"] = server.stop()
        run["log_findings"] = server.log_findings()
    return run


###############################################################################
# Reporting ###################################################################
###############################################################################

def say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def spread(values, fmt="%.0f"):
    """ 'median' for one value, 'median [min-max]' for several. """
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt % values[0]
    return "%s [%s-%s]" % (fmt % statistics.median(values),
                           fmt % min(values), fmt % max(values))


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, headers))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(("%-*s" if i < 2 else "%*s") % (w, x)
                             for i, (w, x) in enumerate(zip(widths, row))))
    return "\n".join(out)


def report(results):
    runs = results["runs"]
    kinds = [k for k in SERVERS if any(r["server"] == k for r in runs)]
    by = {k: [r for r in runs if r["server"] == k and "failed" not in r]
          for k in kinds}
    out = []
    reps = results["config"]["repeat"]
    out.append("mcp-weather benchmark, %s, %s" % (
        results["date"], results["machine"]["summary"]))
    out.append("figures: median [min-max] over %d repeat(s), each with a "
               "fresh server; %d requests per row" % (
                   reps, results["config"]["requests"]))
    background = [r.get("background_busy_pct") for r in runs]
    out.append("machine busy before each server start (1 s, all cores): %s%%"
               % spread(background))
    failed = [r for r in runs if "failed" in r]
    for r in failed:
        out.append("!! %s repeat %d FAILED: %s" % (r["server"],
                                                   r["repeat"] + 1,
                                                   r["failed"]))

    def phases(kind, method, c):
        return [p for r in by[kind] for p in r["phases"]
                if p["method"] == method and p["concurrency"] == c]

    out.append("")
    out.append("Sequential latency (C=1: one keep-alive connection, one "
               "request at a time), ms")
    rows = []
    for kind in kinds:
        for method in results["config"]["methods"]:
            ps = phases(kind, method, 1)
            if not ps:
                continue
            rows.append([kind, method] + [
                spread([p["lat_ms"].get(q) for p in ps], "%.2f")
                for q in ("p50", "p90", "p99", "max")] + [
                spread([p["rps"] for p in ps]),
                spread([p["server_cpu_us_per_req"] for p in ps]),
                str(sum(sum(p["errors"].values()) for p in ps))])
    out.append(table(["server", "method", "p50", "p90", "p99", "max",
                      "req/s", "srv CPU us/req", "errors"], rows))

    out.append("")
    out.append("Throughput: C client processes, each one keep-alive "
               "connection and session; req/s while all C were running")
    rows = []
    for kind in kinds:
        for method in results["config"]["methods"]:
            for c in results["config"]["concurrency"]:
                ps = phases(kind, method, c)
                if not ps:
                    continue
                rows.append([kind, method, str(c),
                             spread([p["rps"] for p in ps]),
                             spread([p["lat_ms"].get("p50") for p in ps],
                                    "%.2f"),
                             spread([p["lat_ms"].get("p99") for p in ps],
                                    "%.2f"),
                             spread([p["server_cpu_us_per_req"] for p in ps]),
                             spread([p["server_cpu_pct"] for p in ps]),
                             spread([p["client_cpu_pct"] for p in ps]),
                             spread([p.get("other_cpu_pct") for p in ps]),
                             spread([p["machine_busy_pct"] for p in ps]),
                             str(sum(sum(p["errors"].values()) for p in ps))])
    out.append(table(["server", "method", "C", "req/s", "p50 ms", "p99 ms",
                      "srv us/req", "srv CPU%", "cli CPU%", "other%",
                      "busy%", "errors"], rows))
    out.append("(srv, cli and other CPU%% are percent of one core, other = "
               "neither server nor client: kernel, anything else running; "
               "busy%% is the whole machine, %d cores)"
               % results["machine"]["cores"])

    out.append("")
    out.append("Start-up and memory (VmRSS, MB; threads / open fds)")
    rows = []
    for kind in kinds:
        rs = by[kind]
        if not rs:
            continue

        def mb(key, sub=None):
            return spread([(r[key] if sub is None else r[key][sub])
                           ["vmrss_kb"] / 1024.0 for r in rs], "%.1f")
        rows.append([
            kind, spread([1000 * r["cold_start_s"] for r in rs]),
            mb("idle"), mb("after_load"), mb("sessions", "after"),
            spread([r["sessions"]["kb_per_session"] for r in rs], "%.1f"),
            spread([r["sessions"]["per_second"] for r in rs]),
            "%s / %s" % (spread([r["idle"]["threads"] for r in rs]),
                         spread([r["after_load"]["threads"] for r in rs])),
            "%s / %s" % (spread([r["idle"]["fds"] for r in rs]),
                         spread([r["after_load"]["fds"] for r in rs])),
            spread([1000 * r["stop_s"] for r in rs if r.get("stop_s")])])
    n = results["config"]["sessions"]
    out.append(table(["server", "cold start ms", "RSS idle", "after load",
                      "+%d sessions" % n, "KB/session", "sessions/s",
                      "threads idle/after", "fds idle/after",
                      "SIGTERM->exit ms"], rows))

    out.append("")
    out.append("Health")
    for kind in kinds:
        rs = [r for r in runs if r["server"] == kind]
        errs, samples = {}, []
        for r in rs:
            for p in r.get("phases", []):
                for k, v in p["errors"].items():
                    errs[k] = errs.get(k, 0) + v
                samples += p["error_samples"]
            for k, v in r.get("sessions", {}).get("errors", {}).items():
                errs["sessions:" + k] = errs.get("sessions:" + k, 0) + v
        logs = {k: sum(r["log_findings"][k] for r in rs)
                for k in ("tracebacks", "errors", "warnings")}
        hits = sorted(set(len(r.get("upstream_hits", [])) for r in rs))
        reconnects = sum(p["reconnects"] for r in rs
                         for p in r.get("phases", []))
        ctypes = {}
        for r in rs:
            for p in r.get("phases", []):
                for k, v in p["content_types"].items():
                    ctypes[k] = ctypes.get(k, 0) + v
        sizes = next((r["response_bytes"] for r in rs
                      if r.get("response_bytes")), {})
        codes = sorted(set(str(r.get("exit_code")) for r in rs))
        out.append("  %s: request errors %s; server closed keep-alive "
                   "connections %d times; response types %s; response "
                   "bytes %s; upstream hits per run %s; server log: %d "
                   "tracebacks, %d errors, %d warnings; exit codes on "
                   "SIGTERM %s%s; first session still answers after %d "
                   "more: %s" % (
                       kind, errs or "none", reconnects, ctypes,
                       ", ".join("%s %d" % kv for kv in sorted(
                           sizes.items())), hits,
                       logs["tracebacks"], logs["errors"], logs["warnings"],
                       codes, " (uvicorn re-raises the signal after a clean "
                       "shutdown)" if kind == "sdk" and codes == ["-15"]
                       else "", n,
                       sorted(set(str(r.get("sessions", {}).get(
                           "first_session_ping")) for r in rs))))
        for s in samples[:3]:
            out.append("      e.g. " + s)
        for r in rs:
            for s in r["log_findings"]["samples"][:2]:
                out.append("      log: " + s)
    out.append("")
    quiet = results["config"]["log_level"].lower() not in ("debug", "info")
    out.append("Caveats: client and server share the %d cores (client CPU "
               "is shown; server CPU per request, from /proc/PID/stat at "
               "10 ms resolution, is the figure least disturbed by that); "
               "loopback only, no network latency; both run on %s; both "
               "servers log at level %s (%s)." % (
                   results["machine"]["cores"], results["machine"]["python"],
                   results["config"]["log_level"],
                   "no access log" if quiet else
                   "a log line per request, to a file"))
    if "sdk" in kinds:
        sdk = results["sdk"]
        out.append("The sdk server is bench/sdk_server.py: mcp %s MCPServer "
                   "+ uvicorn %s (%s loop, %s HTTP parser), sessionful, "
                   "json_response=True (JSON bodies, like mcp-weather's), "
                   "keep-alive 120 s; its get_weather builds "
                   "the same text and structuredContent from the same fake "
                   "Open-Meteo through the same kind of 600 s cache, in a "
                   "plain def the SDK runs on its worker threads." % (
                       sdk.get("mcp", "?"), sdk.get("uvicorn", "?"),
                       sdk.get("loop", "?"), sdk.get("http_impl", "?")))
    return "\n".join(out)


def sdk_versions(python):
    code = ("import importlib.metadata as m, importlib.util as u, json;"
            "print(json.dumps({'mcp': m.version('mcp'), 'uvicorn': "
            "m.version('uvicorn'), 'starlette': m.version('starlette'), "
            "'http_impl': 'httptools' if u.find_spec('httptools') else 'h11',"
            " 'loop': 'uvloop' if u.find_spec('uvloop') else 'asyncio'}))")
    try:
        return json.loads(subprocess.check_output([python, "-c", code],
                                                  stderr=subprocess.STDOUT,
                                                  timeout=60))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"error": str(exc)}


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
    python = "CPython %s" % platform.python_version()
    return {"cores": cores, "cpu": model, "python": python,
            "kernel": platform.release(),
            "summary": "%d cores (%s), %s, Linux %s" % (
                cores, model, python, platform.release())}


def git_info():
    info = {}
    try:
        with open(SERVER_PY, "rb") as f:
            info["mcp_weather_sha256"] = hashlib.sha256(f.read()).hexdigest()
        info["commit"] = subprocess.check_output(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
            stderr=subprocess.DEVNULL, timeout=10).decode().strip()
        dirty = subprocess.check_output(
            ["git", "-C", ROOT, "status", "--porcelain", "--",
             "mcp_weather.py"], stderr=subprocess.DEVNULL,
            timeout=10).decode().strip()
        info["mcp_weather_modified"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def print_report(paths):
    """ The tables of one or more --out files; several are pooled (same
    settings expected: the first file's are shown). """
    merged = None
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        if merged is None:
            merged = results
            merged["dates"] = [results["date"]]
        else:
            merged["runs"].extend(results["runs"])
            merged["dates"].append(results["date"])
            merged["config"]["repeat"] += results["config"]["repeat"]
    if len(paths) > 1:
        merged["date"] = "%d files, %s to %s" % (
            len(paths), min(merged["dates"]), max(merged["dates"]))
    print(report(merged))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Benchmark mcp_weather.py (and the official SDK) over "
                    "Streamable HTTP on 127.0.0.1.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=("mcp-weather", "sdk", "both"),
                        default="mcp-weather")
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests per (method, C) row (default 2000)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 200 requests per row, 100 "
                             "sessions (unless given)")
    parser.add_argument("--concurrency", default="1,8,32",
                        help="client processes per row (default 1,8,32)")
    parser.add_argument("--methods", default="ping,tools/list,tools/call")
    parser.add_argument("--sessions", type=int, default=None,
                        help="sessions created for the memory figure "
                             "(default 1000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per server, each with a fresh server; "
                             "the table shows median [min-max]")
    parser.add_argument("--warmup", type=int, default=50,
                        help="unmeasured requests before a C=1 row "
                             "(C>1: a fifth of it per connection)")
    parser.add_argument("--out", help="write all results as JSON here")
    parser.add_argument("--log-dir", default=os.path.join(HERE, "logs"),
                        help="server logs (default bench/logs)")
    parser.add_argument("--log-level", default="warning",
                        help="both servers' log level (default warning: "
                             "no per-request access log)")
    parser.add_argument("--sdk-python",
                        default=os.path.join(HERE, ".venv", "bin", "python"),
                        help="interpreter with mcp installed "
                             "(default bench/.venv/bin/python)")
    parser.add_argument("--samples", default=DEFAULT_SAMPLES,
                        help="folder of the Open-Meteo sample bodies")
    parser.add_argument("--phase-timeout", type=float, default=120.0,
                        help="seconds a row may take before it stops "
                             "(default 120)")
    parser.add_argument("--request-timeout", type=float, default=10.0)
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="print the tables of earlier --out files "
                             "(several: their runs pooled) and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(json.loads(args.worker))
    if args.report:
        return print_report(args.report)
    if args.quick:
        args.requests = min(args.requests, 200)
        args.warmup = min(args.warmup, 20)
    if args.sessions is None:
        args.sessions = 100 if args.quick else 1000
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.methods = [m.strip() for m in args.methods.split(",")]
    for m in args.methods:
        if m not in METHODS:
            parser.error("--methods: %s is not one of %s" % (
                m, ", ".join(METHODS)))
    if args.requests < max(args.concurrency) or args.repeat < 1 or \
            args.repeat > 20:
        parser.error("--requests must be >= the largest C; --repeat 1-20")
    kinds = SERVERS if args.server == "both" else (args.server,)
    if "sdk" in kinds and not os.path.exists(args.sdk_python):
        parser.error("%s not found: run bench/run.sh (it makes bench/.venv "
                     "with mcp), or pass --sdk-python" % args.sdk_python)
    os.makedirs(args.log_dir, exist_ok=True)

    upstream = FakeUpstream(args.samples)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "machine": machine_info(), "mcp_weather": git_info(),
        "sdk": sdk_versions(args.sdk_python) if "sdk" in kinds else {},
        "config": {"requests": args.requests, "sessions": args.sessions,
                   "concurrency": args.concurrency, "methods": args.methods,
                   "repeat": args.repeat, "warmup": args.warmup,
                   "log_level": args.log_level, "protocol": PROTOCOL,
                   "cache_ttl": 600},
        "runs": []}
    try:
        for repeat in range(args.repeat):
            for kind in kinds:          # interleaved, so drift hits both
                results["runs"].append(run_server(args, kind, upstream,
                                                  repeat))
    finally:
        upstream.stop()
    text = report(results)
    results["table"] = text
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
        say("results written to %s" % args.out)
    bad = any("failed" in r for r in results["runs"]) or any(
        p["errors"] for r in results["runs"] for p in r.get("phases", []))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
