"""Reliability under hostile clients (issue 8): seeded fuzzers for HTTP and
JSON-RPC, odd batches, slow clients (408), idle connections, floods of
initialize, one host's share of sessions, clients that vanish (B-4), and
the reliability settings on the command line."""

import collections
import copy
import http.client
import json
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import unittest

from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_NDJSON,
                           ACCEPT_SSE, LATEST, Reply, SERVER_FILE, SLOW_HEAD,
                           ServerTestCase, TIMEOUT, _MODERN, _StreamTestCase,
                           _WRONG_VALUES, _fd_count, _is_method, _progress,
                           _report, _server_env, _wait_settled,
                           clean_environment, initialize_message,
                           raw_exchange, raw_exchange_rest, raw_post,
                           status_of, wait_for)


###############################################################################
# Issue 8: reliability and security, proven ##################################
###############################################################################

# Bad input (a seeded fuzzer over HTTP and JSON-RPC), faulty upstreams,
# clients that vanish or send too slowly, floods of initialize, HTTPS, and
# OAuth 2.0 (checklist 2.9, S65-S71).  The fuzzers run for a bounded time
# from a fixed seed and print nothing; set TEST_MCP_REPORT=1 to have this
# block's classes print what they tried (inputs, faults, thread and file
# descriptor counts) on stderr.

_FUZZ_SEED = 8
_FUZZ_SECONDS = 2.5     # per fuzzer: inputs are tried until this runs out
_FUZZ_MAX_INPUTS = 5000


def _statuses(raw):
    """ The status of every response in raw bytes from one connection. """
    return [int(m) for m in re.findall(br"(?:^|\n)HTTP/1\.[01] (\d{3}) ",
                                       raw)]


def _exchange_closing(port, data, timeout):
    """ Send data, half-close, and read until the server closes: returns
    (bytes received, whether the server hung).  A reset ends the read like
    a close does. """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received, hung = b"", False
    try:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass                # the server answered and closed early
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                hung = True
                break
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    return received, hung


###############################################################################
# Issue 8: a fuzzer for malformed HTTP ########################################
###############################################################################

class _HTTPFuzzer(object):
    """ Requests from a seeded generator: bad request lines, odd methods
    and paths, missing, duplicated, huge or too many headers, wrong,
    negative or huge Content-Length, broken chunked bodies, bare LF line
    ends, requests cut anywhere.  Each call of next() returns bytes. """

    METHODS = [b"POST"] * 6 + [b"GET", b"DELETE", b"OPTIONS", b"HEAD",
                               b"PUT", b"PATCH", b"BREW", b"post", b"TRACE",
                               b"CONNECT", b"PRI", b"", b"G\x00T", b"\xff",
                               b"X" * 300]
    TARGETS = [b"/mcp"] * 6 + [
        b"/mcp/", b"//mcp", b"/mcp?x=1&y", b"/MCP", b"/mcp/../mcp",
        b"/%2e%2e/", b"/%00", b"*", b"http://127.0.0.1/mcp", b"http://[x/mcp",
        b"/health", b"/.well-known/oauth-protected-resource", b"/mcp#f", b"",
        b"/\xff\xfe", b"/" + b"a" * 70000, b"mcp", b"/mcp\t/x",
        b"/" + b"%" * 20]
    VERSIONS = [b"HTTP/1.1"] * 6 + [
        b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1.1", b"HTTP/x",
        b"http/1.1", b"", b"HTTP/1.10", b"HTTP/01.1", b"HTTP/1.1 extra",
        b"HTTP/9999999999999999999.1"]
    BODIES = [b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
              json.dumps(initialize_message()).encode(),
              b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":'
              b'{"name":"get_weather","arguments":{"city":"Hangzhou"}}}',
              b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
              b"", b"{", b"\xff\xfe\x00", b"[]", b"null"]
    LENGTHS = [b"-1", b"99999999999999999999999", b"1e3", b"0x10", b" 5 ",
               b"+1", b"", b"\xb2", b"5, 5", b"18446744073709551617"]
    CHUNK_SIZES = [b"zz", b"-1", b"ffffffffffffffff", b"fffffffffffffffff",
                   b"", b"1;ext=\xff", b"0x5", b" 5", b"5 5"]

    def __init__(self, seed, session):
        self.random, self.session = random.Random(seed), session.encode()

    def pick(self, options):
        return self.random.choice(options)

    def chance(self, p):
        return self.random.random() < p

    def next(self):
        r = self.random
        line = b" ".join(part for part in (
            self.pick(self.METHODS), self.pick(self.TARGETS),
            self.pick(self.VERSIONS)) if part or self.chance(0.5))
        if self.chance(0.03):
            line = self.pick([b"", b"\x16\x03\x01\x02\x00", b"GET",
                              b"\r\n\r\nGET /mcp HTTP/1.1", b"A" * 70000])
        body = self.pick(self.BODIES)
        headers = self.headers(body)
        if self.chance(0.25):
            body, headers = self.chunked(body, headers)
        crlf = b"\n" if self.chance(0.05) else b"\r\n"
        data = line + crlf + crlf.join(headers) + crlf + crlf + body
        if self.chance(0.08):
            data = data[:r.randrange(len(data) + 1)]
        if self.chance(0.05):       # a second request on the connection
            data += (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: 2\r\n\r\n{}")
        return data

    def headers(self, body):
        r = self.random
        headers = []
        optional = [
            (0.9, b"Host", [b"127.0.0.1"] * 8 + [
                b"evil.example.com", b"[::1", b"", b"localhost:\xff",
                b"127.0.0.1:99999999", b"localhost:8000\"x"]),
            (0.8, b"Content-Type", [b"application/json"] * 6 + [
                b"text/plain", b"application/json; charset=latin-1",
                b"application/json; charset=\"utf-8", b"", b"\xff/\xff"]),
            (0.8, b"Accept", [ACCEPT_BOTH.encode()] * 4 + [
                ACCEPT_JSON.encode(), ACCEPT_SSE.encode(),
                ACCEPT_NDJSON.encode(), b"text/html", b"*/*;q=x", b"",
                b"application/json;q=0, text/event-stream;q=0"]),
            (0.5, b"Mcp-Session-Id", [self.session] * 3 + [
                b"x", b"", b"\xff\xfe", b"a" * 5000, self.session + b"x"]),
            (0.4, b"MCP-Protocol-Version", [
                LATEST.encode(), b"2025-03-26", b"2026-07-28", b"1999-01-01",
                b"", b"\xff"]),
            (0.1, b"Last-Event-ID", [b"x.1.1", b"", b"\xe9.1.1",
                                     b"1.99999999999999999999.1"]),
            (0.1, b"Authorization", [b"Bearer x", b"Basic \xff", b""]),
            (0.1, b"Origin", [b"http://evil.example.com", b"null",
                              b"http://[::1", b"http://localhost:3000"]),
            (0.05, b"Expect", [b"100-continue", b"x"]),
            (0.05, b"Connection", [b"close", b"keep-alive", b"upgrade"]),
        ]
        for p, name, values in optional:
            if self.chance(p):
                headers.append(name + b": " + self.pick(values))
        if self.chance(0.85):
            headers.append(b"Content-Length: %d" % len(body))
        if self.chance(0.1):
            headers.append(b"Content-Length: " + self.pick(self.LENGTHS))
        if self.chance(0.05):
            headers.append(b"Content-Length: %d" % (len(body) + r.choice(
                [-5, -1, 1, 100, 10 ** 9])))
        if self.chance(0.04):
            headers += [b"X-Fuzz-%d: %d" % (i, i)
                        for i in range(r.randrange(50, 150))]
        if self.chance(0.03):
            headers.append(b"X-Huge: " + b"h" * r.choice([8000, 70000]))
        if self.chance(0.04):
            headers.append(self.pick([b"no colon here", b" folded: x",
                                      b": empty name", b"Bad Name: x",
                                      b"X-Nul: a\x00b", b"\xff: \xff"]))
        r.shuffle(headers)
        return headers

    def chunked(self, body, headers):
        """ The body in chunked coding, usually broken somewhere. """
        r = self.random
        headers = [h for h in headers if not h.lower().startswith(
            b"content-length")] + [b"Transfer-Encoding: " + self.pick(
                [b"chunked"] * 5 + [b"gzip", b"chunked, chunked",
                                    b"identity", b" chunked", b"gzip, chunked"])]
        if self.chance(0.15):
            headers.append(b"Content-Length: 5")
        cut = r.randrange(len(body) + 1)
        parts = [body[:cut], body[cut:]]
        data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
        data += b"0\r\n\r\n"
        fault = r.randrange(7)
        if fault == 1:
            data = self.pick(self.CHUNK_SIZES) + b"\r\n" + data
        elif fault == 2:
            data = data.replace(b"\r\n", b"", 1)
        elif fault == 3:
            data = data[:-5]                        # no last chunk
        elif fault == 4:
            data = b"%x\r\n" % (len(body) + 10) + body + b"\r\n0\r\n\r\n"
        elif fault == 5:
            data = data.replace(b"0\r\n\r\n", b"0\r\nTrailer: x\r\n\r\n")
        return data, headers


class HTTPFuzzTests(ServerTestCase):
    """ Malformed HTTP from a seeded fuzzer (checklist section 7): every
    answer is an HTTP response below 500 without a traceback, no exchange
    hangs, no connection thread is left behind, and the server still
    serves normally afterwards. """

    settings = {"request_timeout": 1.0, "keepalive": 0.2}

    @classmethod
    def setUpClass(cls):
        super(HTTPFuzzTests, cls).setUpClass()
        cls.dispatcher.workers.idle_timeout = 0.3   # default 5 s

    def test_malformed_http(self):
        fuzzer = _HTTPFuzzer(_FUZZ_SEED, self.initialize())
        threads, fds = threading.active_count(), _fd_count()
        statuses, unanswered, tried = collections.Counter(), 0, 0
        deadline = time.monotonic() + _FUZZ_SECONDS
        while time.monotonic() < deadline and tried < _FUZZ_MAX_INPUTS:
            data = fuzzer.next()
            tried += 1
            raw, hung = _exchange_closing(
                self.port, data, self.config.request_timeout + 5.0)
            self.assertFalse(hung, "no end to the exchange for %r"
                             % data[:300])
            self.assertNotIn(b"Traceback", raw)
            if not raw:
                unanswered += 1         # e.g. a body cut short: no answer
                continue
            self.assertTrue(raw.startswith(b"HTTP/1.1 "), (data[:300],
                                                          raw[:300]))
            for status in _statuses(raw):
                statuses[status] += 1
                self.assertLess(status, 500, (data[:300], raw[:300]))
        self.assertServing()
        _wait_settled(self, threads, fds, "after the HTTP fuzzer")
        _report("HTTP fuzzer", "%d inputs (seed %d, %g s): %d responses "
                "by status %s, %d connections closed without an answer" % (
                    tried, _FUZZ_SEED, _FUZZ_SECONDS, sum(statuses.values()),
                    dict(sorted(statuses.items())), unanswered))


###############################################################################
# Issue 8: a fuzzer for JSON-RPC ##############################################
###############################################################################

class _RPCFuzzer(object):
    """ JSON-RPC messages from a seeded generator: valid templates with
    every field in turn given a wrong type, deleted, or joined by unknown
    fields; deep nesting; huge strings and arrays; lone surrogates; NaN;
    invalid UTF-8; batches where they are not allowed; bytes flipped and
    bodies cut short.  next() returns (body bytes, target), where target
    names the headers to send and mirror the (method, name) a 2026-07-28
    client would put in its Mcp-Method and Mcp-Name headers. """

    TARGETS = ("session", "session", "session", "old-session", "none",
               "modern")

    def __init__(self, seed):
        self.random = random.Random(seed)

    def templates(self):
        modern = _StreamTestCase.modern_message
        return [
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list",
             "params": {"cursor": "x"}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
                "name": "get_weather", "arguments": {"city": "Hangzhou"},
                "_meta": {"progressToken": "p"}}},
            {"jsonrpc": "2.0", "id": "f", "method": "tools/call", "params": {
                "name": "get_forecast", "arguments": {"city": "Hangzhou",
                                                      "days": 3}}},
            {"jsonrpc": "2.0", "id": 5, "method": "logging/setLevel",
             "params": {"level": "debug"}},
            {"jsonrpc": "2.0", "id": 11, "method": "resources/read",
             "params": {"uri": "weather://Hangzhou/current"}},
            {"jsonrpc": "2.0", "id": 12, "method": "resources/subscribe",
             "params": {"uri": "weather://Hangzhou/forecast"}},
            {"jsonrpc": "2.0", "id": 13, "method": "prompts/get", "params": {
                "name": "weather_report", "arguments": {"city": "Hangzhou"}}},
            {"jsonrpc": "2.0", "id": 14, "method": "completion/complete",
             "params": {"ref": {"type": "ref/prompt",
                                "name": "weather_report"},
                        "argument": {"name": "city", "value": "Ha"}}},
            initialize_message(request_id=6),
            {"jsonrpc": "2.0", "method": "notifications/cancelled",
             "params": {"requestId": 3, "reason": "x"}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 7, "result": {}},
            {"jsonrpc": "2.0", "id": 8, "error": {"code": -1,
                                                  "message": "x"}},
            modern("server/discover", request_id=9),
            modern("tools/call", {"name": "get_weather",
                                  "arguments": {"city": "Hangzhou"}},
                   request_id=10),
        ]

    @staticmethod
    def paths(value, prefix=()):
        """ Every place in a JSON value, as a tuple of keys and indexes. """
        yield prefix
        if isinstance(value, dict):
            for key in list(value):
                for path in _RPCFuzzer.paths(value[key], prefix + (key,)):
                    yield path
        elif isinstance(value, list):
            for index in range(min(len(value), 5)):
                for path in _RPCFuzzer.paths(value[index], prefix + (index,)):
                    yield path

    @staticmethod
    def replace(message, path, value):
        if not path:
            return value
        parent = message
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = value
        return message

    def deep(self):
        depth = self.random.choice([40, 500, 5000, 100000])
        return self.random.choice([
            json.loads("[" * min(depth, 500) + "]" * min(depth, 500)),
            RawJSON(b"[" * depth + b"]" * depth),
            RawJSON(b'{"a":' * depth + b"1" + b"}" * depth)])

    def mutate(self, message):
        r = self.random
        places = [p for p in self.paths(message)]
        path = r.choice(places)
        action = r.randrange(6)
        if action <= 2:
            return self.replace(message, path,
                                copy.deepcopy(r.choice(_WRONG_VALUES)))
        if action == 3 and path:
            parent = message
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
            return message
        if action == 4:
            return self.replace(message, path, self.deep())
        if isinstance(message, dict):
            message[r.choice(["extra", "jsonrpc", "id", "_meta", "\ud800",
                              "x" * 1000])] = copy.deepcopy(
                                  r.choice(_WRONG_VALUES))
        return message

    def next(self):
        r = self.random
        message = r.choice(self.templates())
        mirror = (message.get("method"), message.get("params", {}).get(
            "name"))
        for _ in range(r.choice([0, 1, 1, 1, 2, 3])):
            message = self.mutate(message)
        if r.random() < 0.12:
            message = r.choice([[message], [message, message], [],
                                [[message]], [1, 2], [message, None]])
        target = r.choice(self.TARGETS)
        body = self.encode(message)
        if r.random() < 0.1:
            body = self.damage(body)
        return body, target, mirror

    def encode(self, message):
        """ JSON text, sometimes as raw UTF-8 with lone surrogates left in
        (invalid UTF-8); RawJSON parts are spliced in as they are. """
        raw = []

        def placeholder(value):
            raw.append(value.data)
            return "\x00raw%d\x00" % (len(raw) - 1)

        text = json.dumps(message, default=placeholder,
                          ensure_ascii=self.random.random() < 0.7)
        data = text.encode("utf-8", "surrogatepass")
        for index, part in enumerate(raw):
            data = data.replace(json.dumps("\x00raw%d\x00" % index).encode(),
                                part)
        return data

    def damage(self, body):
        r = self.random
        if not body:
            return b"\xff"
        at = r.randrange(len(body))
        return r.choice([body[:at], body[:at] + b"\xff" + body[at:],
                         body[:at] + b"\xc0\xaf" + body[at + 1:],
                         body[:at] + bytes([r.randrange(256)]) + body[at + 1:],
                         body + b"garbage", b"\xef\xbb\xbf" + body])


class RawJSON(object):
    """ Bytes to splice into a fuzzed JSON body as they are. """

    def __init__(self, data):
        self.data = data


class RPCFuzzTests(_StreamTestCase):
    """ JSON-RPC bodies from a seeded fuzzer (section 7, 7.1, 7.2): never a
    5xx, never a hang, never a traceback; every answer is valid UTF-8 and
    valid JSON-RPC in its framing; the server serves normally afterwards. """

    settings = {"keepalive": 0.2}

    @classmethod
    def setUpClass(cls):
        super(RPCFuzzTests, cls).setUpClass()
        cls.dispatcher.workers.idle_timeout = 0.3

    def headers_for_target(self, target, sessions, mirror):
        if target == "session":
            return {"Mcp-Session-Id": sessions[0],
                    "MCP-Protocol-Version": LATEST}
        if target == "old-session":          # batches are allowed here
            return {"Mcp-Session-Id": sessions[1]}
        if target == "modern":
            method, name = mirror
            headers = {"MCP-Protocol-Version": _MODERN,
                       "Mcp-Method": method or "ping"}
            if name:
                headers["Mcp-Name"] = name
            return headers
        return {}

    def assertWellFormed(self, reply, body):
        context = (body[:200], reply.status, reply.body[:300])
        self.assertLess(reply.status, 500, context)
        self.assertNotIn(b"Traceback", reply.body, context)
        reply.body.decode("utf-8")
        if reply.status == 202:
            self.assertEqual(reply.body, b"", context)
            return
        messages = reply.messages()
        self.assertTrue(messages, context)
        for message in messages:
            if isinstance(message, list):       # a batch answer
                for item in message:
                    self.assertEqual(item.get("jsonrpc"), "2.0", context)
            else:
                self.assertEqual(message.get("jsonrpc"), "2.0", context)

    def test_malformed_json_rpc(self):
        sessions = [self.initialize(), self.initialize("2025-03-26")]
        fuzzer = _RPCFuzzer(_FUZZ_SEED)
        threads, fds = threading.active_count(), _fd_count()
        statuses, tried = collections.Counter(), 0
        deadline = time.monotonic() + _FUZZ_SECONDS
        while time.monotonic() < deadline and tried < _FUZZ_MAX_INPUTS:
            body, target, mirror = fuzzer.next()
            tried += 1
            try:
                reply = self.post(body, self.headers_for_target(
                    target, sessions, mirror))
            except socket.timeout:
                self.fail("no answer to %r" % body[:300])
            statuses[reply.status] += 1
            self.assertWellFormed(reply, body)
        self.assertServing()
        _wait_settled(self, threads, fds, "after the JSON-RPC fuzzer")
        _report("JSON-RPC fuzzer", "%d inputs (seed %d, %g s): statuses %s"
                % (tried, _FUZZ_SEED, _FUZZ_SECONDS,
                   dict(sorted(statuses.items()))))


class OddBatchTests(ServerTestCase):
    """ Found by the JSON-RPC fuzzer (seeds 2-5): a 2025-03-26 batch whose
    message has a method that is not a string (a list, an object) got 500
    over HTTP and broke stdio.  Each such message gets its -32600 in the
    batch's answer (7.1), the others their results. """

    BATCH = [{"jsonrpc": "2.0", "id": 1, "method": []},
             {"jsonrpc": "2.0", "id": 2, "method": {"a": 1}},
             {"jsonrpc": "2.0", "method": [None]},
             {"jsonrpc": "2.0", "id": 3, "method": "ping"}]

    def check(self, answer):
        by_id = dict((m.get("id"), m) for m in answer)
        self.assertEqual(by_id[1]["error"]["code"], -32600)
        self.assertEqual(by_id[2]["error"]["code"], -32600)
        self.assertEqual(by_id[3], {"jsonrpc": "2.0", "id": 3, "result": {}})

    def test_over_http(self):
        sid = self.initialize("2025-03-26")
        reply = self.post(self.BATCH, {"Mcp-Session-Id": sid,
                                       "Accept": ACCEPT_JSON})
        self.assertEqual(reply.status, 200, reply.body)
        self.check(reply.json())

    def test_over_stdio(self):
        lines = [initialize_message("2025-03-26"), self.BATCH]
        done = subprocess.run(
            [sys.executable, SERVER_FILE, "--stdio"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=TIMEOUT,
            env=_server_env(self.upstream),
            input=b"".join(json.dumps(l).encode() + b"\n" for l in lines))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn(b"Traceback", done.stderr)
        answers = [json.loads(l) for l in done.stdout.splitlines()]
        self.check(answers[-1])


###############################################################################
# Issue 8: slow clients, floods of initialize, one host's share ###############
###############################################################################

class _SlowClient(threading.Thread):
    """ Sends ``first`` at once, then data a byte every ``pause`` seconds
    (slowloris), until the server speaks or closes, then reads what it
    says.  After join(): ``received`` (bytes) and ``cut`` (whether the
    server ended the exchange before all the data was sent). """

    def __init__(self, port, data, first=b"", pause=0.02):
        threading.Thread.__init__(self, daemon=True)
        self.port, self.data, self.first, self.pause = port, data, first, \
            pause
        self.received, self.cut, self.sending = b"", False, True

    def run(self):
        sock = socket.create_connection(("127.0.0.1", self.port), TIMEOUT)
        try:
            sock.sendall(self.first)
            for at in range(len(self.data)):
                if select.select([sock], [], [], self.pause)[0]:
                    self.cut = True             # the server spoke first
                    break
                try:
                    sock.sendall(self.data[at:at + 1])
                except OSError:
                    self.cut = True
                    break
            self.sending = False
            self.received = raw_exchange_rest(sock)
        finally:
            self.sending = False
            sock.close()


class SlowClientTests(ServerTestCase):
    """ --request-timeout: a client that sends its request line, headers or
    body too slowly, or nothing at all, gets 408 and its connection closes;
    meanwhile every other client is served.  Between requests, a kept-alive
    connection may idle for --idle-timeout instead. """

    settings = {"request_timeout": 0.5, "idle_timeout": 30.0}

    def assertCut(self, client):
        self.assertTrue(client.cut, "the server let a slow client finish")
        self.assertEqual(status_of(client.received), 408, client.received)
        self.assertIn(b'"code":-32600', client.received)

    def test_slow_headers_get_408_and_starve_no_one(self):
        """ Eight clients send headers a byte every 20 ms (about 9 s for
        the whole head): each is cut with 408, and while they trickle,
        other clients' requests are answered. """
        with self.assertLogs("mcp_weather", "WARNING") as logs:
            slow = [_SlowClient(self.port, SLOW_HEAD) for _ in range(8)]
            for client in slow:
                client.start()
            served = 0
            while any(client.sending for client in slow) and served < 20:
                self.assertServing()
                served += 1
            self.assertTrue(served, "the slow clients were cut before any "
                            "other request could be tried")
            for client in slow:
                client.join(TIMEOUT)
                self.assertFalse(client.is_alive())
                self.assertCut(client)
        lines = [l for l in logs.output if "408" in l]
        self.assertEqual(len(lines), 8, logs.output)
        self.assertIn("(--request-timeout)", lines[0])

    def test_slow_body_gets_408(self):
        """ The head at once, then the body a byte at a time: 408 too, and
        the access log has the request with status 408. """
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping",
                           "params": {"pad": "p" * 400}}).encode()
        head = raw_post(body, target=b"/mcp?t=slow-body").split(
            b"\r\n\r\n")[0] + b"\r\n\r\n"
        with self.assertLogs("mcp_weather", "INFO") as logs:
            client = _SlowClient(self.port, body, first=head)
            client.run()
            wait_for(lambda: any("t=slow-body 408" in line
                                 for line in logs.output))
        self.assertCut(client)

    def test_silent_connection_is_closed(self):
        """ A connection that never sends a byte is closed after
        --request-timeout (its first request is timed from the connection),
        not held for --idle-timeout. """
        sock = socket.create_connection(("127.0.0.1", self.port), TIMEOUT)
        self.addCleanup(sock.close)
        raw = raw_exchange_rest(sock)
        self.assertEqual(status_of(raw), 408, raw)

    def test_idle_keepalive_connection_outlives_request_timeout(self):
        """ Between requests the idle timeout applies: a connection that
        rests longer than --request-timeout still serves its next
        request. """
        sid = self.initialize()
        conn = self.connect()
        self.addCleanup(conn.close)
        headers = {"Content-Type": "application/json", "Accept": ACCEPT_JSON,
                   "Mcp-Session-Id": sid, "MCP-Protocol-Version": LATEST}
        ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        conn.request("POST", "/mcp", ping, headers)
        self.assertEqual(conn.getresponse().read(), b'{"jsonrpc":"2.0",'
                         b'"id":1,"result":{}}\n')
        sock = conn.sock
        time.sleep(self.config.request_timeout * 2)     # rest, on purpose
        conn.request("POST", "/mcp", ping, headers)
        self.assertEqual(conn.getresponse().status, 200)
        self.assertIs(conn.sock, sock, "the connection was not kept")


class IdleTimeoutTests(ServerTestCase):
    """ --idle-timeout still closes a kept-alive connection that rests too
    long, quietly (no 408: no request was under way). """

    settings = {"request_timeout": 5.0, "idle_timeout": 0.3}

    def test_idle_connection_closes_quietly(self):
        raw = raw_exchange(self.port, raw_post(
            b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
            [b"MCP-Protocol-Version: " + LATEST.encode()]).replace(
                b"Connection: close\r\n", b""), timeout=TIMEOUT)
        self.assertEqual(_statuses(raw), [400], raw)


class InitializeFloodTests(ServerTestCase):
    """ B-5: a flood of initialize stays within --max-sessions (the least
    recently used idle sessions make room), every request is answered,
    and the memory the flood holds stops growing at the cap. """

    settings = {"max_sessions": 40}

    def flood(self, count, threads=8):
        statuses, peak = collections.Counter(), [0]
        lock = threading.Lock()

        def client(n):
            for _ in range(n):
                reply = self.post(initialize_message())
                with lock:
                    statuses[reply.status] += 1
                    peak[0] = max(peak[0], len(self.dispatcher.sessions))

        workers = [threading.Thread(target=client, args=(count // threads,))
                   for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(TIMEOUT * 4)
        return statuses, peak[0]

    def test_flood_stays_within_max_sessions(self):
        self.dispatcher.sessions.close_all()
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        statuses, peak = self.flood(160)
        at_cap = tracemalloc.get_traced_memory()[0]
        more, peak2 = self.flood(400)
        after = tracemalloc.get_traced_memory()[0]
        statuses.update(more)
        self.assertEqual(dict(statuses), {200: 560})
        self.assertLessEqual(max(peak, peak2), 40)
        self.assertEqual(len(self.dispatcher.sessions), 40)
        # 400 more sessions held at ~3 KB each would be ~1.2 MB more.
        self.assertLess(after - at_cap, 400 * 1024,
                        "memory grew by %d bytes" % (after - at_cap))
        _report("initialize flood", "560 initialize from 8 threads, "
                "--max-sessions 40: at most %d live; traced memory %+d "
                "bytes over the last 400" % (max(peak, peak2),
                                             after - at_cap))


def _post_from(address, port, body, headers=None):
    """ POST /mcp from a given loopback source address (127.0.0.2 is
    another client, as far as the server can tell). """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT,
                                      source_address=(address, 0))
    try:
        merged = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        merged.update(headers or {})
        conn.request("POST", "/mcp", json.dumps(body).encode(), merged)
        response = conn.getresponse()
        return Reply(response.status, response.msg, response.read())
    finally:
        conn.close()


@unittest.skipUnless(sys.platform.startswith("linux"),
                     "127.0.0.2 is a local address on Linux")
class ClientSessionCapTests(_StreamTestCase):
    """ --max-client-sessions (B-5): one client address holds at most N
    live sessions; a flood from it evicts its own oldest idle sessions,
    never another client's; when all of its sessions are busy, 429. """

    settings = {"max_client_sessions": 3}

    def initialize_from(self, address):
        reply = _post_from(address, self.port, initialize_message())
        self.assertEqual(reply.status, 200, reply.body)
        return reply.headers.get("Mcp-Session-Id")

    def alive(self, sid, address="127.0.0.1"):
        return _post_from(address, self.port, {
            "jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"Mcp-Session-Id": sid}).status == 200

    def test_a_flood_evicts_only_its_own_sessions(self):
        self.dispatcher.sessions.close_all()
        other = self.initialize_from("127.0.0.2")
        mine = [self.initialize_from("127.0.0.1") for _ in range(10)]
        self.assertEqual([self.alive(sid) for sid in mine],
                         [False] * 7 + [True] * 3)
        self.assertTrue(self.alive(other, "127.0.0.2"))
        self.assertEqual(len(self.dispatcher.sessions), 4)

    def test_all_busy_is_429_and_mints_nothing(self):
        self.dispatcher.sessions.close_all()
        tool = self.gated()
        busy = [self.initialize() for _ in range(3)]
        for sid in busy:
            self.open_call(sid, tool.name, meta=_progress()).until_message(
                _is_method("notifications/progress"))
        reply = self.post(initialize_message())
        self.assertRPCError(reply, 429, -32600, 0)
        self.assertEqual(reply.headers.get("Retry-After"), "5")
        self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        self.assertEqual(len(self.dispatcher.sessions), 3)
        tool.gate.set()
        wait_for(lambda: tool.finished_runs == 3)
        wait_for(lambda: not any(s.busy() for s in
                                 self.dispatcher.sessions.all()))
        self.assertTrue(self.initialize())
        self.assertEqual(len(self.dispatcher.sessions), 3)


###############################################################################
# Issue 8: clients that vanish leave nothing behind (B-4) #####################
###############################################################################

class VanishingClientTests(_StreamTestCase):
    """ Clients that vanish mid-stream (closing or resetting the connection
    during a call's SSE answer, a GET stream or a 2026-07-28 call) leave
    threads and file descriptors at their baseline.  The soak script runs
    the same with 1,000 clients (soak/soak.py --vanish 1000). """

    settings = {"keepalive": 0.2}
    CLIENTS = 120

    @classmethod
    def setUpClass(cls):
        super(VanishingClientTests, cls).setUpClass()
        cls.dispatcher.workers.idle_timeout = 0.3

    def vanish(self, tool, sid, i):
        """ Client i opens a stream, reads into it, then disappears. """
        kind = i % 4
        if kind == 0:
            call = self.open_call(sid, tool.name, meta=_progress(),
                                  request_id=i)
            call.until_message(_is_method("notifications/progress"))
        elif kind == 1:
            call = self.open_get(sid)
            call.until(lambda e: e.get("id"))
        elif kind == 2:
            call = self.open_modern("tools/call", {
                "name": tool.name, "arguments": {}, "_meta": _progress()},
                request_id=i)
            call.until_message(_is_method("notifications/progress"))
        else:
            call = self.open_call(sid, tool.name, meta=_progress(),
                                  request_id=i, accept=ACCEPT_NDJSON)
            call.response.readline()
        if i % 2:
            call.reset()
        else:
            call.cut()

    def test_vanished_clients_leave_no_threads_or_descriptors(self):
        tool = self.gated(steps=2)
        sid = self.initialize()
        threads, fds = threading.active_count(), _fd_count()
        for i in range(self.CLIENTS):
            self.vanish(tool, self.initialize() if i % 4 == 1 else sid, i)
        tool.gate.set()
        peak = threading.active_count()
        _wait_settled(self, threads, fds, "after %d vanished clients"
                      % self.CLIENTS)
        _report("vanishing clients", "%d clients cut or reset mid-stream: "
                "threads %d before, %d at the peak, %d after; descriptors "
                "%s before, %s after" % (self.CLIENTS, threads, peak,
                                         threading.active_count(), fds,
                                         _fd_count()))


###############################################################################
# Issue 8: the new settings on the command line ###############################
###############################################################################

class ReliabilitySettingsTests(unittest.TestCase):
    """ Every new knob is a flag and an environment variable in --help; a
    bad TLS file stops the server with a message, not a traceback. """

    FLAGS = ("--request-timeout", "--tls-cert", "--tls-key", "--auth-server",
             "--resource-url", "--introspection-url",
             "--introspection-client-id", "--introspection-client-secret",
             "--required-scope", "--introspection-cache",
             "--max-client-sessions")
    ENV_VARS = ("MCP_REQUEST_TIMEOUT", "MCP_TLS_CERT", "MCP_TLS_KEY",
                "MCP_AUTH_SERVER", "MCP_RESOURCE_URL", "MCP_INTROSPECTION_URL",
                "MCP_INTROSPECTION_CLIENT_ID",
                "MCP_INTROSPECTION_CLIENT_SECRET", "MCP_REQUIRED_SCOPE",
                "MCP_INTROSPECTION_CACHE", "MCP_MAX_CLIENT_SESSIONS")

    def test_help_lists_the_new_settings(self):
        env = clean_environment()
        env["COLUMNS"] = "200"
        done = subprocess.run([sys.executable, SERVER_FILE, "--help"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, timeout=TIMEOUT)
        text = done.stdout.decode("utf-8")
        for name in self.FLAGS + self.ENV_VARS:
            self.assertIn(name, text)

    def test_unreadable_certificate_is_a_clear_error(self):
        done = subprocess.run([sys.executable, SERVER_FILE, "--port", "0",
                               "--tls-cert", "/nonexistent/cert.pem"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=clean_environment(), timeout=TIMEOUT)
        self.assertEqual(done.returncode, 2)
        self.assertIn(b"--tls-cert /nonexistent/cert.pem", done.stderr)
        self.assertNotIn(b"Traceback", done.stderr)
