#!/usr/bin/env python3
"""Stream scale (issue 18): one server process holds N open streams.

    python soak/streams.py --streams 10000 --keepalive 3 --hold 60
    python soak/streams.py --streams 10000 --kind both --keepalive 3 --hold 60
    python soak/streams.py --ci           # 2,000 streams, half of them
                                          # listen, for 20 s (.ci/run)

Starts mcp_weather.py as a subprocess (--port 0, --keepalive, room in
--max-sessions), unless --url names a running server (then --pid lets its
memory and threads be read).  Then:

  1. sessions   --streams sessions, each initialized (2025-11-25) with
                notifications/initialized, over a few kept-alive connections.
  2. open       each session opens its GET stream (S32) on its own socket.
                Every socket is non-blocking and watched by one selector
                (epoll or poll: selectors.DefaultSelector), so this client
                takes any number of descriptors, unlike select().  At most
                --opening streams wait for their head at once, so the
                server's listen backlog never overflows.
  3. hold       (after --warmup seconds, 0 by default, for the server to
                catch up with the opening burst) for --hold seconds, every
                stream must get a keep-alive
                comment at most --keepalive + --tolerance seconds after the
                one before (or after its opening); a stream the server
                closes fails.  Meanwhile a prober makes new sessions
                (initialize, notifications/initialized, tools/list, DELETE)
                one after another on fresh connections; each answer must be
                a 200 with its result, and their latency is reported.
  4. close      every stream is closed; the server's threads must come back
                to what they were before the streams (within --settle s).

This client also prints its own longest pause between two looks at its
sockets during the hold: a late keep-alive is the server's only when that
pause is short (the machine may be busy with other work).

The server's resident memory (VmRSS), address space (VmSize), threads and
open descriptors are read from /proc before the sessions, before the
streams and during the hold; the figures per open stream are printed.  The
last line is "streams: N passed, N failed, N skipped", one count per check
(the form .ci/run adds to its totals); the exit status is 1 when a check
failed.  Linux only (it reads /proc).  Standard library only.

2026-07-28 clients hold subscriptions/listen streams instead of GET
streams: a POST whose SSE answer stays open (S37).  --kind listen opens
those (no sessions then), --kind both half and half (listen_request() is
the request sent).  The server's threads of both kinds sleep alike, their
keep-alives written by its one KeepAlives thread.
"""

import argparse
import collections
import http.client
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

try:
    import resource
except ImportError:         # pragma: no cover
    resource = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER = os.path.join(ROOT, "mcp_weather.py")

LATEST = "2025-11-25"
MODERN = "2026-07-28"
KEEPALIVE = b": keep-alive"
ACCEPT_BOTH = "application/json, text/event-stream"


# -- checks -------------------------------------------------------------------

class Checks(object):
    """ Named pass/fail checks; printed as they are made. """

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, ok, text):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("  [%s] %s" % ("ok" if ok else "FAIL", text))
        sys.stdout.flush()
        return ok

    def skip(self, text):
        self.skipped += 1
        print("  [skip] %s" % text)

    def summary(self):
        return "streams: %d passed, %d failed, %d skipped" % (
            self.passed, self.failed, self.skipped)


# -- the server and what /proc says of it --------------------------------------

def raise_open_files(needed):
    """ Raise this process's soft open-files limit to the hard one; return
    the soft limit now. """
    if resource is None:
        return needed
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


class Server(object):
    """ mcp_weather.py in a subprocess; stderr is drained (the access log is
    long) and its warnings, errors and tracebacks kept. """

    def __init__(self, args, extra):
        command = [args.python, args.server, "--port", "0", "--keepalive",
                   str(args.keepalive), "--max-sessions",
                   str(max(10000, args.streams + 1000)),
                   "--max-client-listens", "0"] + extra    # one address
        print("server: %s" % " ".join(command))
        env = dict(os.environ)
        env.pop("MCP_AUTH_TOKEN", None)
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE,
                                        universal_newlines=True, env=env)
        self.pid = self.process.pid
        self.url, self.problems, self.limits = None, [], []
        while self.url is None:
            line = self.process.stderr.readline()
            if not line:
                raise SystemExit("the server did not start")
            self.note(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
        threading.Thread(target=self.drain, daemon=True).start()

    def note(self, line):
        if "limits" in line or "open files" in line:
            self.limits.append(line.rstrip())
        if re.search(r"WARNING|ERROR|Traceback", line):
            self.problems.append(line.rstrip())

    def drain(self):
        for line in self.process.stderr:
            self.note(line)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def proc_status(pid):
    """ VmRSS and VmSize (KiB), Threads and open descriptors of pid. """
    figures = {}
    if not pid:
        return figures
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmSize", "Threads"):
                figures[name] = int(value.split()[0])
    figures["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return figures


def show_status(label, figures):
    if figures:
        print("  %-16s RSS %7.1f MiB  VmSize %8.1f MiB  threads %6d  "
              "fds %6d" % (label, figures["VmRSS"] / 1024.0,
                           figures["VmSize"] / 1024.0, figures["Threads"],
                           figures["fds"]))


# -- requests ------------------------------------------------------------------

def initialize_body(request_id=1):
    return json.dumps({"jsonrpc": "2.0", "id": request_id,
                       "method": "initialize",
                       "params": {"protocolVersion": LATEST,
                                  "capabilities": {},
                                  "clientInfo": {"name": "streams",
                                                 "version": "1.0"}}})


class Exchange(object):
    """ JSON-RPC over one kept-alive http.client connection. """

    def __init__(self, host, port, path, timeout=60):
        self.path = path
        self.connection = http.client.HTTPConnection(host, port,
                                                     timeout=timeout)

    def post(self, body, session=None, accept=ACCEPT_BOTH):
        headers = {"Content-Type": "application/json", "Accept": accept}
        if session:
            headers["Mcp-Session-Id"] = session
            headers["MCP-Protocol-Version"] = LATEST
        self.connection.request("POST", self.path, body, headers)
        response = self.connection.getresponse()
        data = response.read()
        return response, data

    def initialize(self):
        """ A new session: its id (after notifications/initialized). """
        response, data = self.post(initialize_body(), accept="application/json")
        session = response.getheader("Mcp-Session-Id")
        if response.status != 200 or not session or \
                "result" not in json.loads(data.decode()):
            raise RuntimeError("initialize: %d %r" % (response.status,
                                                      data[:200]))
        response, data = self.post(json.dumps(
            {"jsonrpc": "2.0", "method": "notifications/initialized"}),
            session)
        if response.status != 202:
            raise RuntimeError("initialized: %d" % response.status)
        return session

    def delete(self, session):
        self.connection.request("DELETE", self.path, headers={
            "Mcp-Session-Id": session, "MCP-Protocol-Version": LATEST})
        response = self.connection.getresponse()
        response.read()
        return response.status

    def close(self):
        self.connection.close()


def make_sessions(host, port, path, count, threads=4):
    """ count initialized sessions, made by a few threads. """
    sessions, errors, lock = [], [], threading.Lock()
    shares = [count // threads + (1 if i < count % threads else 0)
              for i in range(threads)]

    def work(share):
        exchange = Exchange(host, port, path)
        try:
            for _ in range(share):
                session = exchange.initialize()
                with lock:
                    sessions.append(session)
        except Exception as exc:
            with lock:
                errors.append(repr(exc))
        finally:
            exchange.close()
    workers = [threading.Thread(target=work, args=(share,))
               for share in shares]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sessions, errors


def get_request(host, port, path, session):
    """ The GET that opens a session's standalone stream (S32). """
    return ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
            "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: %s\r\n\r\n"
            % (path, host, port, session, LATEST)).encode()


def listen_request(host, port, path, number):
    """ A 2026-07-28 subscriptions/listen POST (S37, 5.1): no session; the
    filter (params.notifications) asks for tool list changes; its SSE
    answer stays open, acknowledgement first, and carries keep-alives like
    a GET stream.  Every stream comes from this one address, so the server
    this script starts has --max-client-listens 0 (give a running server,
    --url, the same). """
    message = {"jsonrpc": "2.0", "id": number,
               "method": "subscriptions/listen",
               "params": {"notifications": {"toolsListChanged": True},
                          "_meta": {
                   "io.modelcontextprotocol/protocolVersion": MODERN,
                   "io.modelcontextprotocol/clientCapabilities": {},
                   "io.modelcontextprotocol/clientInfo": {
                       "name": "streams", "version": "1.0"}}}}
    body = json.dumps(message).encode()
    return ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n"
            "MCP-Protocol-Version: %s\r\nMcp-Method: subscriptions/listen"
            "\r\n\r\n" % (path, host, port, ACCEPT_BOTH, len(body), MODERN)
            ).encode() + body


# -- the streams ---------------------------------------------------------------

class Stream(object):
    """ One open stream: its socket, and when each keep-alive came. """

    __slots__ = ("sock", "kind", "request", "head", "opened", "status",
                 "tail", "last", "gaps", "count", "ended", "sent",
                 "worst_at")

    def __init__(self, sock, kind, request):
        self.sock, self.kind, self.request = sock, kind, request
        self.head, self.opened, self.status = b"", None, None
        self.tail, self.last, self.gaps = b"", None, []
        self.count, self.ended, self.sent = 0, False, 0
        self.worst_at = None    # seconds into the hold of its longest gap

    def feed(self, data, now, hold_from):
        """ Body bytes: count the keep-alive comments, and the gap before
        each one that came during the hold. """
        text = self.tail + data
        found = text.count(KEEPALIVE)
        self.tail = text[-(len(KEEPALIVE) - 1):]
        for _ in range(found):
            if self.last is not None and now >= hold_from:
                gap = now - self.last
                if not self.gaps or gap > max(self.gaps):
                    self.worst_at = now - hold_from
                self.gaps.append(gap)
            self.last = now
            self.count += 1


class Streams(object):
    """ N streams on non-blocking sockets under one selector. """

    def __init__(self, host, port, opening):
        self.host, self.port, self.opening = host, port, opening
        self.selector = selectors.DefaultSelector()
        self.streams, self.waiting = [], collections.deque()
        self.heads = 0              # streams sent, head not yet read
        self.hold_from = float("inf")
        self.refused = []
        self.pause = 0.0            # longest time this loop did not look

    def add(self, kind, request):
        self.waiting.append((kind, request))

    def start_some(self):
        while self.waiting and self.heads < self.opening:
            kind, request = self.waiting.popleft()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect((self.host, self.port))
            except (BlockingIOError, InterruptedError):
                pass
            stream = Stream(sock, kind, request)
            self.streams.append(stream)
            self.selector.register(sock, selectors.EVENT_WRITE, stream)
            self.heads += 1

    def on_event(self, stream, mask, now):
        if mask & selectors.EVENT_WRITE:
            try:
                stream.sent += stream.sock.send(stream.request[stream.sent:])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.end(stream, "connect: %s" % exc)
                return
            if stream.sent == len(stream.request):
                self.selector.modify(stream.sock, selectors.EVENT_READ,
                                     stream)
            return
        try:
            data = stream.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            data = b""
        if not data:
            self.end(stream, "closed by the server")
            return
        if stream.status is None:
            stream.head += data
            if b"\r\n\r\n" not in stream.head:
                return
            head, _, data = stream.head.partition(b"\r\n\r\n")
            stream.head = b""
            stream.status = int(head.split(b" ", 2)[1])
            stream.opened = stream.last = now
            self.heads -= 1
            if stream.status != 200:
                self.refused.append(head.split(b"\r\n", 1)[0])
                self.end(stream, "status %d" % stream.status)
                return
        stream.feed(data, now, self.hold_from)

    def end(self, stream, why):
        if stream.ended:
            return
        stream.ended = why
        if stream.status is None:
            self.heads -= 1
        self.selector.unregister(stream.sock)
        stream.sock.close()

    def run(self, until, tick=None, tick_every=1.0):
        """ Serve events until until() is true; tick() every tick_every s. """
        next_tick = before = time.monotonic()
        while not until():
            self.start_some()
            events = self.selector.select(0.05)
            now = time.monotonic()
            self.pause = max(self.pause, now - before - 0.05 if not events
                             else now - before)
            for key, mask in events:
                self.on_event(key.data, mask, time.monotonic())
            now = before = time.monotonic()
            if tick is not None and now >= next_tick:
                tick(now)
                next_tick = now + tick_every

    def open_count(self):
        return sum(1 for s in self.streams
                   if s.status == 200 and not s.ended)

    def close_all(self):
        for stream in self.streams:
            if not stream.ended:
                self.end(stream, "closed by us")
        self.selector.close()


# -- the prober: new requests while the streams are held -----------------------

class Prober(threading.Thread):
    """ New sessions one after another, each on a fresh connection:
    initialize, notifications/initialized, tools/list, DELETE.  Each
    request's latency is kept; every answer must be a 200 with a result. """

    def __init__(self, host, port, path, pause):
        threading.Thread.__init__(self, name="prober", daemon=True)
        self.host, self.port, self.path, self.pause = host, port, path, pause
        self.latencies, self.errors = [], []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(self.pause):
            exchange = Exchange(self.host, self.port, self.path, timeout=30)
            try:
                started = time.monotonic()
                session = exchange.initialize()
                middle = time.monotonic()
                response, data = exchange.post(json.dumps(
                    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
                    session, accept="application/json")
                done = time.monotonic()
                if response.status != 200 or \
                        "tools" not in json.loads(data.decode())["result"]:
                    raise RuntimeError("tools/list: %d" % response.status)
                exchange.delete(session)
                self.latencies.append((middle - started, done - middle))
            except Exception as exc:
                self.errors.append(repr(exc))
            finally:
                exchange.close()


def percentile(values, fraction):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(fraction * len(values)))]


# -- main ----------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=10000)
    parser.add_argument("--kind", choices=("get", "listen", "both"),
                        default="get", help="GET streams (sessions), "
                        "2026-07-28 subscriptions/listen streams, or half "
                        "and half (default get)")
    parser.add_argument("--keepalive", type=float, default=3.0)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--tolerance", type=float, default=1.0,
                        help="seconds a keep-alive may be late (default 1)")
    parser.add_argument("--opening", type=int, default=256,
                        help="streams waiting for their head at once")
    parser.add_argument("--probe-pause", type=float, default=0.2,
                        help="seconds between the prober's sessions")
    parser.add_argument("--max-latency", type=float, default=2.0,
                        help="slowest answer to a new request allowed (s)")
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="seconds between the last stream opened and "
                        "the start of the hold (default 0: the hold starts "
                        "at once, while the server may still be catching "
                        "up with the opening burst)")
    parser.add_argument("--ci", action="store_true",
                        help="2,000 streams held for 20 s, half of them "
                        "listen streams unless --kind says")
    parser.add_argument("--url", help="a running server (else one is "
                        "started)")
    parser.add_argument("--pid", type=int, help="with --url: its process, "
                        "for memory and threads")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the server")
    parser.add_argument("--server", default=SERVER,
                        help="the server script (default: this tree's "
                        "mcp_weather.py)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra flag for the server (repeatable), "
                        "e.g. --server-arg=--thread-stack=512")
    kind_given = any(a == "--kind" or a.startswith("--kind=")
                     for a in (sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if args.ci:
        args.streams, args.hold = 2000, 20.0
        if not kind_given:
            args.kind = "both"
    return args


def main(argv=None):
    args = parse_args(argv)
    checks = Checks()
    limit = raise_open_files(args.streams + 256)
    if limit != resource.RLIM_INFINITY and limit < args.streams + 256:
        raise SystemExit("this process may open %d files: too few for %d "
                         "streams (ulimit -Hn)" % (limit, args.streams))
    server = None
    if args.url:
        url, pid = args.url, args.pid
    else:
        server = Server(args, args.server_arg)
        url, pid = server.url, server.pid
        for line in server.limits:
            print("server says: %s" % line)
    parts = re.match(r"http://([^:/]+):(\d+)(/\S*)", url)
    host, port, path = parts.group(1), int(parts.group(2)), parts.group(3)
    kinds = {"get": (args.streams, 0), "listen": (0, args.streams),
             "both": (args.streams - args.streams // 2, args.streams // 2)}
    gets, listens = kinds[args.kind]
    print("%d streams (%d GET, %d listen) on %s, keep-alive every %g s, "
          "held %g s, tolerance %g s" % (args.streams, gets, listens, url,
                                          args.keepalive, args.hold,
                                          args.tolerance))
    base = proc_status(pid)
    show_status("start", base)

    started = time.monotonic()
    sessions, errors = make_sessions(host, port, path, gets)
    checks.check(len(sessions) == gets and not errors,
                 "%d sessions initialized in %.1f s%s" % (
                     len(sessions), time.monotonic() - started,
                     ("; errors: %s" % errors[:3]) if errors else ""))
    before = proc_status(pid)
    show_status("sessions", before)

    streams = Streams(host, port, args.opening)
    for session in sessions:
        streams.add("get", get_request(host, port, path, session))
    for number in range(listens):
        streams.add("listen", listen_request(host, port, path, number + 1))
    started = time.monotonic()
    streams.run(lambda: (not streams.waiting and not streams.heads) or
                time.monotonic() - started > 60 + args.streams / 100.0)
    opened = streams.open_count()
    checks.check(opened == args.streams,
                 "%d of %d streams opened in %.1f s%s" % (
                     opened, args.streams, time.monotonic() - started,
                     ("; refused: %s" % sorted(set(streams.refused))[:3])
                     if streams.refused else ""))

    samples = []
    prober = Prober(host, port, path, args.probe_pause)
    if args.warmup > 0:
        warm_until = time.monotonic() + args.warmup
        streams.run(lambda: time.monotonic() >= warm_until)
    streams.hold_from, streams.pause = time.monotonic(), 0.0
    hold_until = streams.hold_from + args.hold
    prober.start()
    streams.run(lambda: time.monotonic() >= hold_until,
                lambda now: samples.append(proc_status(pid)), 5.0)
    end = time.monotonic()
    prober.stop.set()
    prober.join(35)

    held = [s for s in streams.streams if s.status == 200]
    ended = [s for s in held if s.ended]
    gaps = [g for s in held for g in s.gaps]
    late_ends = [end - s.last for s in held if not s.ended]
    limit = args.keepalive + args.tolerance
    late = [s for s in held if (s.gaps and max(s.gaps) > limit) or
            (not s.ended and end - s.last > limit)]
    expected = int(args.hold // args.keepalive) - 1
    few = [s for s in held if sum(1 for _ in s.gaps) < expected]
    print("keep-alives during the hold: %d on %d streams; gap p50 %.2f s, "
          "p99 %.2f s, max %.2f s (limit %.1f s = --keepalive + "
          "--tolerance)" % (len(gaps), len(held), percentile(gaps, 0.5),
                            percentile(gaps, 0.99),
                            max(gaps + late_ends or [0]), limit))
    when = sorted(s.worst_at for s in late if s.worst_at is not None)
    if when:
        print("  the late keep-alives came %.1f to %.1f s into the hold"
              % (when[0], when[-1]))
    for kind in ("get", "listen"):
        mine = [s for s in held if s.kind == kind]
        if mine and args.kind == "both":
            kind_gaps = [g for s in mine for g in s.gaps]
            print("  %s streams: %d, gap p99 %.2f s, max %.2f s, %d late"
                  % (kind, len(mine), percentile(kind_gaps, 0.99),
                     max(kind_gaps or [0]), sum(1 for s in late
                                                if s.kind == kind)))
    print("this client's own longest pause between two looks at its "
          "sockets: %.2f s (a late keep-alive is the server's only when "
          "this is short)" % streams.pause)
    checks.check(not ended, "no stream closed by the server during the hold"
                 + (" (%d were: %s)" % (len(ended), ended[0].ended)
                    if ended else ""))
    checks.check(held and not late, "every keep-alive on time on every "
                 "stream (%d streams late)" % len(late))
    checks.check(held and not few, "every stream got at least %d "
                 "keep-alives during the hold (%d got fewer)"
                 % (expected, len(few)))

    firsts = [a for a, _ in prober.latencies]
    lists = [b for _, b in prober.latencies]
    every = firsts + lists
    print("new requests meanwhile: %d sessions made and listed; initialize "
          "p50 %.0f ms, p99 %.0f ms, max %.0f ms; tools/list p50 %.0f ms, "
          "p99 %.0f ms, max %.0f ms" % (
              len(prober.latencies), 1000 * percentile(firsts, 0.5),
              1000 * percentile(firsts, 0.99), 1000 * max(firsts or [0]),
              1000 * percentile(lists, 0.5), 1000 * percentile(lists, 0.99),
              1000 * max(lists or [0])))
    checks.check(prober.latencies and not prober.errors,
                 "every new request answered (%d errors%s)" % (
                     len(prober.errors), (": %s" % prober.errors[:2])
                     if prober.errors else ""))
    checks.check(every and max(every) <= args.max_latency,
                 "every new request answered within %g s" % args.max_latency)

    if pid:
        hold = max(samples, key=lambda s: s["VmRSS"]) if samples else \
            proc_status(pid)
        show_status("hold (max RSS)", hold)
        n = float(max(opened, 1))
        print("per open stream: RSS %.1f KiB (with its session %.1f KiB), "
              "VmSize %.0f KiB, threads %.3f, descriptors %.3f" % (
                  (hold["VmRSS"] - before["VmRSS"]) / n,
                  (hold["VmRSS"] - base["VmRSS"]) / n,
                  (hold["VmSize"] - before["VmSize"]) / n,
                  (hold["Threads"] - before["Threads"]) / n,
                  (hold["fds"] - before["fds"]) / n))

    streams.close_all()
    if pid:
        deadline = time.monotonic() + args.settle
        after = proc_status(pid)
        while after["Threads"] > before["Threads"] + 8 and \
                time.monotonic() < deadline:
            time.sleep(0.5)
            after = proc_status(pid)
        show_status("after close", after)
        checks.check(after["Threads"] <= before["Threads"] + 8,
                     "threads back to %d (were %d before the streams)"
                     % (after["Threads"], before["Threads"]))
    else:
        checks.skip("threads after close: no --pid")
    if server is not None:
        status = server.stop()
        problems = [p for p in server.problems if "limits" not in p]
        checks.check(status == 0 and not problems,
                     "server stopped cleanly, no warnings or errors in its "
                     "log%s" % ((": %s" % problems[:3]) if problems else ""))
    print(checks.summary())
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
