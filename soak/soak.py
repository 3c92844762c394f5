#!/usr/bin/env python3
"""Soak test for mcp_weather.py: load held, memory flat, nothing leaked.

    python soak/soak.py                   # 2 minutes, 64 clients
    python soak/soak.py --duration 20     # the short run .ci/run makes

Starts the server as a subprocess (python mcp_weather.py --port 0) against
the tests' fake Open-Meteo (support.FakeUpstream, in this process, weather
cache off so every call goes upstream), then:

  1. load     --clients clients (default 64), each with its own session and
              keep-alive connection, call get_weather and get_forecast in
              turn as JSON, SSE (with progress) and NDJSON for --warmup
              plus --duration seconds; every answer is checked.  The
              server's resident memory, threads and open descriptors are
              sampled as it runs; after the warm-up they must stay flat.
  2. vanish   --vanish clients (default 1000) open a stream (a call's SSE
              answer, a GET stream, a 2026-07-28 call), read its first
              event, then disappear, half by close and half by reset.
  3. flood    --flood initialize requests (default 4000) against
              --max-sessions 1000, twice: memory must not grow the second
              time.

Then the threads and descriptors must be back at the level measured before
the load.  The figures are printed, then one line "soak: N passed, N failed,
0 skipped" (one count per check), the form .ci/run adds to its totals.  The
exit status is 1 when a check failed.  Linux only (it reads /proc).
Standard library only; nothing to install.
"""

import argparse
import http.client
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import tests.support as support  # noqa: E402  (the tests' fixtures)

LATEST = "2025-11-25"
SETTLE = 30.0       # seconds the server gets to return to its baseline


# -- the server under test ----------------------------------------------------

class Server(object):
    """ mcp_weather.py in a subprocess; stderr is drained (the access log
    is long) and scanned for warnings, errors and tracebacks. """

    def __init__(self, upstream, *args):
        env = support.clean_environment()
        env.update(WEATHER_GEOCODING_URL=upstream.geocoding_url,
                   WEATHER_FORECAST_URL=upstream.forecast_url,
                   WEATHER_CACHE_TTL="0", PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "mcp_weather.py"),
             "--port", "0", "--keepalive", "1"] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env)
        self.port, self.problems, self.lines = None, [], 0
        found = threading.Event()

        def drain():
            for raw in iter(self.proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace")
                self.lines += 1
                match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/",
                                  line)
                if match:
                    self.port = int(match.group(1))
                    found.set()
                if re.search(r" (ERROR|CRITICAL) |Traceback", line):
                    self.problems.append(line.rstrip())

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(15):
            self.stop()
            raise SystemExit("soak: the server did not start")

    def sample(self):
        """ (resident memory in KB, threads, open descriptors). """
        with open("/proc/%d/status" % self.proc.pid) as status:
            fields = dict(line.split(":", 1) for line in status)
        return (int(fields["VmRSS"].split()[0]), int(fields["Threads"]),
                len(os.listdir("/proc/%d/fd" % self.proc.pid)))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def settle(server, threads, fds):
    """ Wait until threads and descriptors are back at a baseline; return
    the last sample and how long it took. """
    started = time.monotonic()
    while True:
        sample = server.sample()
        if (sample[1] <= threads and sample[2] <= fds) or \
                time.monotonic() - started > SETTLE:
            return sample, time.monotonic() - started
        time.sleep(0.2)


# -- clients ------------------------------------------------------------------

def post(conn, body, headers):
    merged = {"Content-Type": "application/json"}
    merged.update(headers)
    conn.request("POST", "/mcp", json.dumps(body).encode(), merged)
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type", ""), \
        response.getheader("Mcp-Session-Id"), response.read()


def initialize(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        status, _, sid, body = post(conn, support.initialize_message(),
                                    {"Accept": support.ACCEPT_JSON})
        if status != 200:
            raise RuntimeError("initialize: HTTP %d %r" % (status, body))
        return sid
    finally:
        conn.close()


class LoadClient(threading.Thread):
    """ Calls tools on one keep-alive connection until stop is set. """

    FRAMINGS = [(support.ACCEPT_JSON, None),
                (support.ACCEPT_BOTH, {"progressToken": "p"}),
                (support.ACCEPT_NDJSON, {"progressToken": 1})]

    def __init__(self, port, number, stop):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.number, self.stop = port, number, stop
        self.calls, self.errors, self.last_error = 0, 0, None

    def run(self):
        sid = initialize(self.port)
        headers = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": LATEST}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        turn = self.number
        while not self.stop.is_set():
            turn += 1
            accept, meta = self.FRAMINGS[turn % 3]
            tool = ("get_weather", {"city": "Hangzhou"}) if turn % 2 else \
                ("get_forecast", {"city": "Hangzhou", "days": 3})
            params = {"name": tool[0], "arguments": tool[1]}
            if meta:
                params["_meta"] = meta
            try:
                status, media, _, body = post(conn, {
                    "jsonrpc": "2.0", "id": turn, "method": "tools/call",
                    "params": params}, dict(headers, Accept=accept))
                self.check(status, media, body, turn)
                self.calls += 1
            except Exception as exc:        # noqa: BLE001 -- counted
                self.errors += 1
                self.last_error = repr(exc)[:300]
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                  timeout=30)
        conn.close()

    @staticmethod
    def check(status, media, body, turn):
        if status != 200:
            raise RuntimeError("HTTP %d %r" % (status, body[:200]))
        if media.startswith("text/event-stream"):
            messages = support.sse_messages(support.parse_sse(body))
        elif media.startswith("application/x-ndjson"):
            messages = support.parse_ndjson(body)
        else:
            messages = [json.loads(body)]
        result = messages[-1].get("result") or {}
        if messages[-1].get("id") != turn or result.get("isError") or \
                "structuredContent" not in result:
            raise RuntimeError("bad answer %r" % body[:300])


def vanish(port, number, sid):
    """ One client that opens a stream, reads its first event, and goes:
    kinds in turn: a call's SSE answer, a GET stream, a 2026-07-28 call,
    an NDJSON answer; odd numbers reset the connection, even ones close. """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    kind = number % 4
    call = {"name": "get_weather", "arguments": {"city": "Hangzhou"},
            "_meta": {"progressToken": number}}
    headers = {"Content-Type": "application/json", "Mcp-Session-Id": sid,
               "MCP-Protocol-Version": LATEST}
    if kind == 1:
        conn.request("GET", "/mcp", headers=dict(
            headers, Accept=support.ACCEPT_SSE))
    elif kind == 2:
        message = support._StreamTestCase.modern_message(
            "tools/call", call, request_id=number)
        conn.request("POST", "/mcp", json.dumps(message).encode(), dict(
            support._StreamTestCase.modern_headers(message),
            **{"Content-Type": "application/json"}))
    else:
        conn.request("POST", "/mcp", json.dumps({
            "jsonrpc": "2.0", "id": number, "method": "tools/call",
            "params": call}).encode(), dict(headers, Accept=(
                support.ACCEPT_SSE if kind == 0 else
                support.ACCEPT_NDJSON)))
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError("vanish %d: HTTP %d" % (number, response.status))
    response.readline()
    if number % 2 and conn.sock is not None:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
    conn.close()


def run_threads(count, target):
    """ Run target(i) for i in range(count) on 32 threads; return the
    errors (repr) they raised. """
    errors, lock, numbers = [], threading.Lock(), iter(range(count))

    def work():
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            try:
                target(number)
            except Exception as exc:        # noqa: BLE001 -- reported
                with lock:
                    errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=work) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# -- the phases ----------------------------------------------------------------

class Checks(object):
    """ Named pass/fail checks, printed as they are decided. """

    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, ok, text):
        print("  %s  %s" % ("ok  " if ok else "FAIL", text))
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def load(server, checks, args):
    stop = threading.Event()
    clients = [LoadClient(server.port, i, stop) for i in range(args.clients)]
    print("load: %d clients calling tools for %g s, after a %g s warm-up "
          "(sessions fill their buffers of finished streams)" % (
              args.clients, args.duration, args.warmup))
    started = time.monotonic()
    for client in clients:
        client.start()
    samples, end = [], started + args.warmup + args.duration
    while time.monotonic() < end:
        time.sleep(min(2.0, max(0.1, args.duration / 20)))
        samples.append((time.monotonic() - started,) + server.sample() +
                       (sum(c.calls for c in clients),))
    stop.set()
    for client in clients:
        client.join(60)
    calls = sum(c.calls for c in clients)
    errors = sum(c.errors for c in clients)
    print("  %d tool calls in %.1f s (%.0f/s), %d errors" % (
        calls, samples[-1][0], calls / samples[-1][0], errors))
    for t, rss, threads, fds, done in samples[::max(1, len(samples) // 12)]:
        print("  t=%5.1fs  RSS %6.1f MB  threads %4d  fds %4d  calls %6d" % (
            t, rss / 1024.0, threads, fds, done))
    checks.check(errors == 0 and calls > 0, "no errors in %d calls%s" % (
        calls, "" if not errors else " (last: %s)" % [
            c.last_error for c in clients if c.last_error][-1]))
    measured = [s for s in samples if s[0] >= args.warmup]
    if len(measured) >= 4:
        check_flat(checks, args, measured)


def check_flat(checks, args, samples):
    """ Memory flat: what the process holds after the warm-up may grow with
    the allocator's fragmentation, but not with the calls served: keeping
    even one answer per call (its dicts and strings) costs several KB a
    call, so more than 1 KB a call (and more than 1 MB in all) fails.  Threads and
    descriptors: at most a connection thread, a worker for the call and one
    for its upstream request per client; a socket each way. """
    first, last = samples[:2], samples[-2:]
    grown = max(s[1] for s in last) - max(s[1] for s in first)
    calls = last[-1][4] - first[0][4]
    per_call = grown * 1024.0 / max(1, calls)
    checks.check(grown <= 1024 or per_call <= 1024, "memory flat: RSS "
                 "%+.1f MB over %d calls after the warm-up (%.0f bytes a "
                 "call)" % (grown / 1024.0, calls, per_call))
    threads = [s[2] for s in samples]
    fds = [s[3] for s in samples]
    checks.check(max(threads) <= 3 * args.clients + 16 and
                 max(fds) <= 2 * args.clients + 16,
                 "threads %d-%d (at most %d) and descriptors %d-%d (at "
                 "most %d)" % (min(threads), max(threads),
                               3 * args.clients + 16, min(fds), max(fds),
                               2 * args.clients + 16))


def vanishing(server, checks, args, baseline):
    print("vanish: %d clients drop their streams mid-answer" % args.vanish)
    sessions = [initialize(server.port) for _ in range(32)]
    started = time.monotonic()
    # GET streams need a session each (a new GET replaces the old one).
    errors = run_threads(args.vanish, lambda n: vanish(
        server.port, n, initialize(server.port) if n % 4 == 1 else
        sessions[n % len(sessions)]))
    peak = server.sample()
    after, waited = settle(server, baseline[1], baseline[2])
    print("  %d clients in %.1f s; threads %d before, %d after the last, %d "
          "%.1f s later; descriptors %d, %d, %d" % (
              args.vanish, time.monotonic() - started - waited, baseline[1],
              peak[1], after[1], waited, baseline[2], peak[2], after[2]))
    checks.check(not errors, "every vanishing client got its stream%s" % (
        "" if not errors else " (%d failed: %s)" % (len(errors), errors[0])))
    checks.check(after[1] <= baseline[1] and after[2] <= baseline[2],
                 "threads and descriptors back at the baseline (%d, %d)"
                 % baseline[1:])


def flooding(server, checks, args):
    print("flood: 2 x %d initialize against --max-sessions 1000" % args.flood)
    before = server.sample()
    errors = run_threads(args.flood, lambda n: initialize(server.port))
    first = server.sample()
    errors += run_threads(args.flood, lambda n: initialize(server.port))
    second = server.sample()
    print("  RSS %.1f MB before, %.1f MB after the first flood, %.1f MB "
          "after the second" % (before[0] / 1024.0, first[0] / 1024.0,
                                second[0] / 1024.0))
    checks.check(not errors, "every initialize answered 200%s" % (
        "" if not errors else " (%d failed: %s)" % (len(errors), errors[0])))
    grown = second[0] - first[0]
    checks.check(grown <= max(2048, 0.05 * first[0]), "memory bounded: "
                 "%+.1f MB for the second flood" % (grown / 1024.0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=120.0,
                        help="seconds of load (default 120)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds of load before measuring (default 15)")
    parser.add_argument("--clients", type=int, default=64,
                        help="concurrent clients (default 64)")
    parser.add_argument("--vanish", type=int, default=1000,
                        help="clients that drop their streams (default 1000)")
    parser.add_argument("--flood", type=int, default=4000,
                        help="initialize requests per flood (default 4000)")
    args = parser.parse_args(argv)
    if not os.path.isdir("/proc/self/fd"):
        print("soak: needs Linux /proc")
        print("soak: 0 passed, 0 failed, 1 skipped")
        return 0
    upstream = support.FakeUpstream().start()
    # http.server listens with a backlog of 5: 64 clients' upstream calls
    # would overflow it, and a dropped SYN costs a retry 1, 3, 7 s later.
    upstream.server.socket.listen(1024)
    upstream.delay["forecast"] = 0.05       # a service that takes its time
    server = Server(upstream, "--max-sessions", "1000")
    checks = Checks()
    try:
        initialize(server.port)             # warm up, then the baseline
        time.sleep(1.0)
        rss, threads, fds = server.sample()
        print("server pid %d on port %d: RSS %.1f MB, %d threads, %d fds" % (
            server.proc.pid, server.port, rss / 1024.0, threads, fds))
        # The kept-alive connections to the weather service are a pool of
        # at most Upstream.idle_limit sockets (one host here), not a leak.
        pool = support.mcp_weather.Upstream.idle_limit
        baseline = (rss, threads, fds + pool)
        print("descriptors allowed after the load: %d (+%d for the weather "
              "connection pool)" % (baseline[2], pool))
        load(server, checks, args)
        after, waited = settle(server, baseline[1], baseline[2])
        checks.check(after[1] <= baseline[1] and after[2] <= baseline[2],
                     "after the load: threads %d and descriptors %d back at "
                     "%d and %d within %.1f s" % (after[1], after[2],
                                                  baseline[1], baseline[2],
                                                  waited))
        if args.vanish:
            vanishing(server, checks, args, baseline)
        if args.flood:
            flooding(server, checks, args)
    finally:
        server.stop()
        upstream.stop()
    checks.check(not server.problems, "no errors or tracebacks in the "
                 "server log (%d lines)%s" % (server.lines, "".join(
                     "\n        " + p for p in server.problems[:5])))
    print("soak: %d passed, %d failed, 0 skipped" % (checks.passed,
                                                      checks.failed))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
