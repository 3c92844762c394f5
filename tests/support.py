"""The fixtures every test module imports: fakes on loopback, HTTP
helpers, base TestCases.  No tests here (unittest's discovery skips this
file; ../test_mcp.py loads the tests/test_*.py modules).

Open-Meteo and Seniverse are faked by a small HTTP server on loopback that
answers with the sample bodies of ../shared/upstream/ (embedded below, so
the tests do not depend on that folder); the OpenAI-compatible chat API,
MCP servers and authorization servers the client talks to are faked the
same way.  Nothing reaches the internet.

Checklist items (S.., C.., section numbers) refer to
../shared/spec/streamable-http-checklist.md; "B-n" to section B of
../shared/field-notes.md.

What a test module imports from here (names and behaviour kept stable):

    FakeUpstream       fake Open-Meteo + Seniverse, records every request
    loopback_http_server  a quiet HTTP server on loopback, in a thread
    ServerTestCase     a TestCase with a server and a fake upstream per class
    Reply              (status, headers, body) of one HTTP exchange
    http_request       one raw HTTP exchange with http.client
    parse_sse          SSE body bytes -> list of event dicts (+ .comments)
    sse_messages       the JSON-RPC messages of parsed SSE events
    parse_ndjson       NDJSON body bytes -> list of JSON values
    iter_lines         lines of a streaming http.client response, as sent
    wait_for           poll a condition until a deadline
    ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_SSE, ACCEPT_NDJSON, VERSIONS, LATEST,
    TIMEOUT, HERE (the repository's root), SERVER_FILE
    GEOCODING_BODY, CURRENT_BODY, ... the upstream sample bodies

    initialize_message   an initialize request body
    raw_exchange / raw_post / status_of   HTTP bytes on a raw socket, for
                       what http.client cannot send
    sweep_nesting      deeper and deeper JSON until the server refuses it
    ServerProcess, spawn_server, stop_process   the server as a subprocess
    _StreamTestCase, _EventStream, _GatedTool   streams read event by event
                       and tools a test holds open (issues 3 and 4)
    _UpstreamTestCase  a fake upstream (and a _WeatherServer) per class,
                       for tests that start their own servers
    _ClientTestCase, _FakeChatAPI, _FakeMCPServer, _WeatherServer   the
                       client's peers (issue 5)
    _Issue6TestCase    resources, prompts and requests to the client
    _RawUpstream, _FaultyUpstream, RawUpstream, _RawUpstreamTestCase
                       upstreams that misbehave, and a server beside one
    _FakeAuthServer, INTROSPECTION, _make_certificate   OAuth and HTTPS
    WithTaskTools, EXTENSION   tools that run as tasks (issue 18)
    ListenTestCase, SUBSCRIPTION, ACK   subscriptions/listen streams
    read_head, read_keepalives   a stream read on a raw socket
    ScriptedServer, result, error, DISCOVER, INITIALIZE   a scripted MCP
                       server for the client tests of issue 16

A test module imports what it uses from here by name; it imports nothing
from another test module (unittest would run an imported test class
twice), so a fixture two modules share lives here.
"""

import base64
import collections
import contextlib
import http.client
import http.server
import json
import io
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import unittest.mock
import urllib.parse

try:
    import ssl          # missing only from unusual builds: HTTPS tests skip
except ImportError:
    ssl = None

import mcp_client
import mcp_weather

# The server logs to the "mcp_weather" logger; without a handler Python's
# last-resort handler would print its warnings (403s, upstream failures)
# between test results.  assertLogs still sees every record.
logging.getLogger("mcp_weather").addHandler(logging.NullHandler())

# Compatibility: Python 3.6.  What 3.7 added, from mcp_weather's own block
# (the standard library's names on 3.7+).
ThreadingHTTPServer = mcp_weather.ThreadingHTTPServer

# The repository's root (this file is in its tests/ folder).
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_FILE = os.path.join(HERE, "mcp_weather.py")

VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST = "2025-11-25"

ACCEPT_BOTH = "application/json, text/event-stream"
ACCEPT_JSON = "application/json"
ACCEPT_SSE = "text/event-stream"
ACCEPT_NDJSON = "application/x-ndjson"

TIMEOUT = 15.0          # seconds a test waits for any one answer


###############################################################################
# Upstream samples (../shared/upstream/), byte for byte ######################
###############################################################################

# GET /v1/search?name=Hangzhou&count=1&language=en&format=json
GEOCODING_BODY = (
    '{"results":[{"id":1808926,"name":"Hangzhou","latitude":30.29365,'
    '"longitude":120.16142,"elevation":14.0,"feature_code":"PPLA",'
    '"country_code":"CN","admin1_id":1784764,"timezone":"Asia/Shanghai",'
    '"population":6241971,"country_id":1814991,"country":"China",'
    '"admin1":"Zhejiang"}],"generationtime_ms":0.6234646}')
# The same for a name with no match: there is NO "results" key.
GEOCODING_NONE_BODY = '{"generationtime_ms":0.34201145}'
# GET /v1/forecast?latitude=..&longitude=..&current=...&timezone=auto
CURRENT_BODY = (
    '{"latitude":30.25,"longitude":120.125,"generationtime_ms":'
    '0.0429153442382812,"utc_offset_seconds":28800,"timezone":'
    '"Asia/Shanghai","timezone_abbreviation":"GMT+8","elevation":14.0,'
    '"current_units":{"time":"iso8601","interval":"seconds",'
    '"temperature_2m":"°C","relative_humidity_2m":"%",'
    '"apparent_temperature":"°C","weather_code":"wmo code",'
    '"wind_speed_10m":"km/h"},"current":{"time":"2025-01-15T20:00",'
    '"interval":900,"temperature_2m":4.8,"relative_humidity_2m":71,'
    '"apparent_temperature":1.9,"weather_code":3,"wind_speed_10m":7.6}}')
# GET /v1/forecast?...&daily=...&forecast_days=3&timezone=auto
DAILY_BODY = (
    '{"latitude":30.25,"longitude":120.125,"generationtime_ms":'
    '0.0710487365722656,"utc_offset_seconds":28800,"timezone":'
    '"Asia/Shanghai","timezone_abbreviation":"GMT+8","elevation":14.0,'
    '"daily_units":{"time":"iso8601","weather_code":"wmo code",'
    '"temperature_2m_max":"°C","temperature_2m_min":"°C",'
    '"precipitation_sum":"mm","precipitation_probability_max":"%"},'
    '"daily":{"time":["2025-01-15","2025-01-16","2025-01-17"],'
    '"weather_code":[3,61,1],"temperature_2m_max":[8.1,6.4,9.9],'
    '"temperature_2m_min":[1.2,3.0,0.4],"precipitation_sum":[0.0,5.2,0.0],'
    '"precipitation_probability_max":[8,85,3]}}')
# HTTP 400 from the forecast endpoint for bad parameters.
OPEN_METEO_ERROR_BODY = (
    '{"error":true,"reason":"Latitude must be in range of -90 to 90°. '
    'Given: 123.0."}')
# GET /v3/weather/now.json?key=KEY&location=hangzhou&language=zh-Hans&unit=c
SENIVERSE_NOW_BODY = (
    '{"results":[{"location":{"id":"WTMKQ069CCJ7","name":"杭州",'
    '"country":"CN","path":"杭州,杭州,浙江,中国","timezone":"Asia/Shanghai",'
    '"timezone_offset":"+08:00"},"now":{"text":"多云","code":"4",'
    '"temperature":"12"},"last_update":"2025-01-15T20:00:00+08:00"}]}')
# HTTP 403 from Seniverse for a bad key.
SENIVERSE_ERROR_BODY = (
    '{"status":"The API key is invalid.","status_code":"AP010003"}')
# Not in ../shared/upstream: the README there says Seniverse answers an
# unknown location with 404 and status_code AP010010; daily.json follows
# Seniverse's documented shape (results[0].daily[] with date, text_day,
# code_day, high, low, rainfall as strings).
SENIVERSE_UNKNOWN_BODY = (
    '{"status":"The location can not be found.","status_code":"AP010010"}')
SENIVERSE_DAILY_BODY = (
    '{"results":[{"location":{"id":"WTMKQ069CCJ7","name":"杭州",'
    '"country":"CN","path":"杭州,杭州,浙江,中国","timezone":"Asia/Shanghai",'
    '"timezone_offset":"+08:00"},"daily":[{"date":"2025-01-15",'
    '"text_day":"多云","code_day":"4","text_night":"阴","code_night":"9",'
    '"high":"12","low":"5","rainfall":"0.0","precip":"0",'
    '"wind_direction":"东","wind_direction_degree":"90","wind_speed":"8.4",'
    '"wind_scale":"2","humidity":"70"},{"date":"2025-01-16",'
    '"text_day":"小雨","code_day":"13","text_night":"小雨","code_night":"13",'
    '"high":"9","low":"4","rainfall":"5.2","precip":"0.85",'
    '"wind_direction":"北","wind_direction_degree":"0","wind_speed":"10.0",'
    '"wind_scale":"2","humidity":"88"}],'
    '"last_update":"2025-01-15T18:00:00+08:00"}]}')
MALFORMED_BODY = '{"results": [{"name": "Hangzhou", "latitude": 30.2'


###############################################################################
# Fixtures ####################################################################
###############################################################################

def wait_for(predicate, timeout=TIMEOUT, interval=0.01, message=None):
    """ Poll predicate() until it returns a true value, and return that
    value; fail (AssertionError) once timeout seconds have passed.  Use it
    instead of sleeping: it waits exactly as long as needed. """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or "condition not met within %g s"
                                 % timeout)
        time.sleep(interval)


def loopback_http_server(name, **methods):
    """ A quiet HTTP/1.1 server on 127.0.0.1 (a free port), serving in a
    daemon thread; methods maps handler method names (do_GET, do_POST) to
    functions that take the handler.  Returns (server, thread); stop it
    with server.shutdown() and server.server_close(). """
    def method(function):           # a plain function binds to the handler
        return lambda handler: function(handler)

    attributes = dict((n, method(f)) for n, f in methods.items())
    attributes.update(protocol_version="HTTP/1.1",
                      log_message=lambda handler, *args: None)
    handler = type("Handler", (http.server.BaseHTTPRequestHandler,),
                   attributes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                              name=name, daemon=True)
    thread.start()
    return server, thread


class FakeUpstream(object):
    """ Fake Open-Meteo (geocoding + forecast) and Seniverse on 127.0.0.1.

    start() / stop().  Endpoint URLs, to hand to mcp_weather.Config:
    ``geocoding_url`` (/v1/search), ``forecast_url`` (/v1/forecast),
    ``seniverse_url`` (/v3/weather/now.json; daily.json sits beside it).

    Every request it gets is appended to ``requests`` as a dict:
    ``kind`` ("geocoding", "forecast", "seniverse" or "seniverse_daily"),
    ``path``, ``query`` (dict name -> last value, decoded), ``raw_query``
    (the query string as sent), ``headers`` (a dict) and ``client`` (the
    client's port: one per connection).  ``of(kind)``
    filters them; ``wait_requests(n)`` waits until n have arrived.

    Answers (the samples above, Content-Type application/json):
      geocoding   GEOCODING_BODY, except GEOCODING_NONE_BODY (no "results")
                  for unknown names: any name containing "nowhere" (any
                  case) or listed in the ``unknown`` set
      forecast    DAILY_BODY when the query has "daily", else CURRENT_BODY
      seniverse   SENIVERSE_NOW_BODY / SENIVERSE_DAILY_BODY; 404 with
                  SENIVERSE_UNKNOWN_BODY for unknown names (as above)

    Knobs, per kind, reset by reset() (ServerTestCase.setUp calls it):
      ``delay[kind] = seconds``   wait before answering (cut short by stop)
      ``fail[kind] = status``     answer that HTTP status with the error
                                  sample (OPEN_METEO_ERROR_BODY or
                                  SENIVERSE_ERROR_BODY)
      ``malformed.add(kind)``     answer 200 with truncated JSON
      ``hang_up.add(kind)``       close the connection after answering,
                                  without saying so (an idle close)
      ``hold(kind)``              returns a threading.Event: requests of
                                  that kind wait until it is set (or stop)
    """

    KINDS = {"/v1/search": "geocoding", "/v1/forecast": "forecast",
             "/v3/weather/now.json": "seniverse",
             "/v3/weather/daily.json": "seniverse_daily"}

    def __init__(self):
        self.requests = []
        self.unknown = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.server = None
        self.reset()

    def reset(self):
        """ Forget recorded requests and clear every knob. """
        with self._lock:
            del self.requests[:]
        self.delay, self.fail, self.malformed = {}, {}, set()
        self.hang_up = set()
        self.gates = {}
        self.unknown = set()

    def hold(self, kind):
        gate = self.gates[kind] = threading.Event()
        return gate

    def of(self, kind):
        with self._lock:
            return [r for r in self.requests if r["kind"] == kind]

    def wait_requests(self, count, kind=None, timeout=TIMEOUT):
        """ Wait until at least count requests (of kind) were received. """
        return wait_for(lambda: len(self.of(kind) if kind else
                                    list(self.requests)) >= count, timeout,
                        message="fake upstream got fewer than %d %s "
                        "requests" % (count, kind or ""))

    def is_unknown(self, name):
        return "nowhere" in name.casefold() or name in self.unknown

    def start(self):
        self.server, self.thread = loopback_http_server(
            "fake-upstream", do_GET=self.answer)
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.base_url = base
        self.geocoding_url = base + "/v1/search"
        self.forecast_url = base + "/v1/forecast"
        self.seniverse_url = base + "/v3/weather/now.json"
        return self

    def stop(self):
        self._stopping.set()
        for gate in list(self.gates.values()):
            gate.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def answer(self, handler):
        parts = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parts.query,
                                            keep_blank_values=True))
        kind = self.KINDS.get(parts.path, "other")
        with self._lock:
            self.requests.append({
                "kind": kind, "path": parts.path, "query": query,
                "raw_query": parts.query, "headers": dict(handler.headers),
                "client": handler.client_address[1]})
        gate = self.gates.get(kind)
        if gate is not None:
            gate.wait(TIMEOUT)
        if self.delay.get(kind):
            self._stopping.wait(self.delay[kind])
        seniverse = kind.startswith("seniverse")
        status, body = 200, None
        if kind in self.fail:
            status = self.fail[kind]
            body = SENIVERSE_ERROR_BODY if seniverse else \
                OPEN_METEO_ERROR_BODY
        elif kind in self.malformed:
            body = MALFORMED_BODY
        elif kind == "geocoding":
            body = GEOCODING_NONE_BODY if self.is_unknown(
                query.get("name", "")) else GEOCODING_BODY
        elif kind == "forecast":
            body = DAILY_BODY if "daily" in query else CURRENT_BODY
        elif seniverse and self.is_unknown(query.get("location", "")):
            status, body = 404, SENIVERSE_UNKNOWN_BODY
        elif seniverse:
            body = SENIVERSE_DAILY_BODY if kind == "seniverse_daily" else \
                SENIVERSE_NOW_BODY
        else:
            status, body = 404, '{"error":true,"reason":"no such path"}'
        data = body.encode("utf-8")
        handler.close_connection = kind in self.hang_up
        try:
            handler.send_response(status)
            handler.send_header("Content-Type",
                                "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass            # the server under test gave up (timeouts)


class Reply(collections.namedtuple("Reply", "status headers body")):
    """ One HTTP answer: status (int), headers (http.client.HTTPMessage,
    case-insensitive .get), body (bytes, chunked encoding removed). """

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def events(self):
        return parse_sse(self.body)

    def messages(self):
        """ The JSON-RPC messages of the body, whatever its framing. """
        media = self.media_type
        if media == "text/event-stream":
            return sse_messages(parse_sse(self.body))
        if media == "application/x-ndjson":
            return parse_ndjson(self.body)
        return [self.json()] if self.body else []

    @property
    def media_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0] \
            .strip().lower()


def http_request(port, method, path, body=None, headers=None,
                 timeout=TIMEOUT, host="127.0.0.1"):
    """ One HTTP exchange on a new connection; returns a Reply.  body is
    bytes, str, or any other value (sent as JSON).  headers is a dict;
    http.client adds Host (unless given) and Content-Length. """
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, resp.msg, resp.read())
    finally:
        conn.close()


class SSEEvents(list):
    """ A list of SSE events; ``comments`` holds the comment lines (the
    text after ':'), such as keep-alives. """
    comments = ()


def parse_sse(body):
    """ Parse an SSE body (bytes or str) as the HTML standard does: lines
    end with CRLF, LF or CR; a blank line ends an event.

    Returns an SSEEvents list of dicts, one per event that had any field:
    ``id``, ``event``, ``data`` (lines joined with '\\n'; None when no data
    field), ``retry`` (int or None) and ``data_lines`` (how many data
    lines).  Comment lines (starting with ':') are not events: they are in
    the list's ``comments`` attribute. """
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    events, comments = SSEEvents(), []
    current = {}
    for line in re.split(r"\r\n|\r|\n", body):
        if line == "":
            if current:
                data = current.get("data")
                events.append({
                    "id": current.get("id"), "event": current.get("event"),
                    "data": None if data is None else "\n".join(data),
                    "retry": current.get("retry"),
                    "data_lines": len(data or ())})
            current = {}
            continue
        if line.startswith(":"):
            comments.append(line[1:])
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            current.setdefault("data", []).append(value)
        elif name == "retry":
            current["retry"] = int(value) if value.isdigit() else None
        elif name in ("id", "event"):
            current[name] = value
        else:
            current.setdefault("unknown", []).append(line)
    events.comments = comments
    return events


def sse_messages(events):
    """ The JSON-RPC messages carried by events (those with non-empty
    data; priming events carry none). """
    return [json.loads(e["data"]) for e in events if e["data"]]


def parse_ndjson(body):
    """ NDJSON: one JSON value per line; blank lines (keep-alives) skipped. """
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return [json.loads(line) for line in body.split("\n") if line.strip()]


def iter_lines(response):
    """ Yield the lines (bytes, without the line end) of a streaming
    http.client response as they arrive; chunked coding is undone. """
    while True:
        line = response.readline()
        if not line:
            return
        yield line.rstrip(b"\r\n")


def iter_sse(response):
    """ Yield SSE events (dicts as in parse_sse, plus comments as
    {"comment": text}) of a streaming response as they arrive. """
    block = []
    for line in iter_lines(response):
        text = line.decode("utf-8")
        if text.startswith(":"):
            yield {"comment": text[1:]}
        elif text:
            block.append(text)
        elif block:
            for event in parse_sse("\n".join(block) + "\n\n"):
                yield event
            block = []


def close_weather_connections(dispatcher):
    """ Close a server's kept-alive weather connections: a bounded pool, not
    a leak, but sockets left open when a test class ends (ResourceWarning at
    exit) or counted as the work's leftovers. """
    provider = getattr(dispatcher, "provider", None)
    if provider is not None:
        provider.upstream.close_idle()


class ServerTestCase(unittest.TestCase):
    """ A TestCase with a FakeUpstream and an mcp_weather server per class.

    ``settings`` (class attribute): extra mcp_weather.Config overrides, on
    top of port=0, the fake's URLs, cache_ttl=0, keepalive=5.0 and
    weather_timeout=5.0.  setUpClass starts both; ``cls.port``,
    ``cls.server``, ``cls.dispatcher``, ``cls.config``, ``cls.upstream``.
    setUp resets the fake's records and knobs.

    Helpers (all through http.client, one new connection per request):
      post(body, headers=None, path=None)   -> Reply
      request(method, body=None, headers=None, path=None) -> Reply
      rpc(method, params=None, session=None, ...) -> Reply
      initialize(version=LATEST, ...)       -> session id (None when the
          server is stateless); also sends notifications/initialized.
          The InitializeResult is in self.init_result, the whole Reply in
          self.init_reply.
      call_tool(name, arguments, session=None, accept=ACCEPT_BOTH,
                meta=None, ...)             -> Reply
      result_of(reply)                      -> the JSON-RPC response object

    Headers: post() sends Content-Type application/json and Accept
    ACCEPT_BOTH unless the headers dict overrides them; a header whose
    value is None is not sent.  rpc() adds Mcp-Session-Id and, for sessions
    negotiated at 2025-06-18 or later, MCP-Protocol-Version (S53) as a
    spec client does; protocol_version=None leaves it out, a string sends
    that value.
    """

    settings = {}
    path = "/mcp"
    AUTO = object()

    @classmethod
    def base_settings(cls, upstream):
        return dict(port=0, geocoding_url=upstream.geocoding_url,
                    forecast_url=upstream.forecast_url,
                    seniverse_url=upstream.seniverse_url, cache_ttl=0,
                    keepalive=5.0, weather_timeout=5.0)

    @classmethod
    def setUpClass(cls):
        super(ServerTestCase, cls).setUpClass()
        cls.upstream = FakeUpstream().start()
        options = cls.base_settings(cls.upstream)
        options.update(cls.settings)
        try:
            cls.config = mcp_weather.Config(**options)
            cls.server = mcp_weather.make_server(cls.config)
        except Exception:
            cls.upstream.stop()
            raise
        cls.dispatcher = cls.server.dispatcher
        cls.port = cls.server.server_address[1]
        cls.server_thread = threading.Thread(
            target=cls.server.serve_forever, args=(0.05,),
            name="mcp-server", daemon=True)
        cls.server_thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.dispatcher.sessions.close_all()
        close_weather_connections(cls.dispatcher)
        cls.upstream.stop()
        super(ServerTestCase, cls).tearDownClass()

    def setUp(self):
        self.upstream.reset()
        self.versions = getattr(self, "versions", {})

    # -- raw HTTP ------------------------------------------------------------

    def request(self, method, body=None, headers=None, path=None):
        return http_request(self.port, method, path or self.path, body,
                            headers)

    def post(self, body, headers=None, path=None):
        merged = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        merged.update(headers or {})
        merged = dict((k, v) for k, v in merged.items() if v is not None)
        return self.request("POST", body, merged, path)

    def connect(self, timeout=TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def open_post(self, body, headers):
        """ Send a POST and return (connection, response) without reading
        the body, to read a stream as it comes.  Close the connection. """
        conn = self.connect()
        conn.request("POST", self.path, body=json.dumps(body).encode(),
                     headers=dict({"Content-Type": "application/json"},
                                  **headers))
        return conn, conn.getresponse()

    # -- JSON-RPC ------------------------------------------------------------

    def headers_for(self, session=None, accept=ACCEPT_BOTH,
                    protocol_version=AUTO, headers=None):
        result = {"Accept": accept}
        if session:
            result["Mcp-Session-Id"] = session
        if protocol_version is ServerTestCase.AUTO:
            version = self.versions.get(session)
            protocol_version = version if version and \
                version >= "2025-06-18" else None
        if protocol_version is not None:
            result["MCP-Protocol-Version"] = protocol_version
        result.update(headers or {})
        return result

    def rpc(self, method, params=None, session=None, request_id=1,
            accept=ACCEPT_BOTH, protocol_version=AUTO, headers=None):
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, self.headers_for(
            session, accept, protocol_version, headers))

    def notify(self, method, params=None, session=None, headers=None,
               protocol_version=AUTO):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, self.headers_for(
            session, ACCEPT_BOTH, protocol_version, headers))

    def initialize(self, version=LATEST, headers=None, client_info=None,
                   initialized=True):
        """ initialize (and notifications/initialized); returns the
        Mcp-Session-Id, or None when the server issued none. """
        params = {"protocolVersion": version, "capabilities": {},
                  "clientInfo": client_info or {"name": "test_mcp",
                                                "version": "1.0"}}
        reply = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": params}, headers)
        self.assertEqual(reply.status, 200, reply.body)
        messages = reply.messages()
        self.assertEqual(len(messages), 1, reply.body)
        self.assertIn("result", messages[0], reply.body)
        self.init_reply, self.init_result = reply, messages[0]["result"]
        session = reply.headers.get("Mcp-Session-Id")
        self.versions[session] = self.init_result["protocolVersion"]
        if initialized:
            extra = dict(headers or {})
            extra.pop("Accept", None)
            note = self.notify("notifications/initialized", session=session,
                               headers=extra)
            self.assertEqual(note.status, 202, note.body)
        return session

    def call_tool(self, name, arguments, session=None, accept=ACCEPT_BOTH,
                  meta=None, request_id=7, protocol_version=AUTO,
                  headers=None):
        params = {"name": name, "arguments": arguments}
        if meta is not None:
            params["_meta"] = meta
        return self.rpc("tools/call", params, session, request_id, accept,
                        protocol_version, headers)

    def list_page(self, method, cursor, session):
        """ The result of a paginated list method (tools/list,
        prompts/list, ...) asked for the page at ``cursor``. """
        return self.result_of(self.rpc(method, {"cursor": cursor},
                                       session))["result"]

    def assertNames(self, items, names):
        """ The "name" of each item (tools, prompts, ...) in order. """
        self.assertEqual([item["name"] for item in items], names)

    def result_of(self, reply, request_id=None):
        """ The JSON-RPC response in reply (the last message, for streams);
        asserts it is the only response and, if given, its id. """
        responses = [m for m in reply.messages() if "method" not in m]
        self.assertEqual(len(responses), 1, reply.body)
        if request_id is not None:
            self.assertEqual(responses[0].get("id"), request_id)
        return responses[0]

    def assertRPCError(self, reply, status, code, request_id=None):
        """ reply is a JSON body with a JSON-RPC error of code; the id is
        request_id, or absent when request_id is None (7.1). """
        self.assertEqual(reply.status, status, reply.body)
        self.assertEqual(reply.media_type, "application/json", reply.body)
        message = reply.json()
        self.assertEqual(message.get("jsonrpc"), "2.0")
        self.assertEqual(message["error"]["code"], code, reply.body)
        self.assertIsInstance(message["error"]["message"], str)
        if request_id is None:
            self.assertNotIn("id", message)
        else:
            self.assertEqual(message["id"], request_id)
        self.assertNotIn(b"Traceback", reply.body)
        return message

    def assertServing(self):
        """ The server still answers a ping (after hostile input). """
        reply = self.post({"jsonrpc": "2.0", "id": "alive", "method":
                           "ping"}, {"Mcp-Session-Id": self.alive_session()})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.json(), {"jsonrpc": "2.0", "id": "alive",
                                        "result": {}})

    def alive_session(self):
        if self.dispatcher.stateless:
            return None
        return self.initialize(initialized=False)


def initialize_message(version=LATEST, request_id=0, **params):
    body = {"protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "test_mcp", "version": "1.0"}}
    body.update(params)
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize",
            "params": body}


def visible_ascii(text):
    return all(0x21 <= ord(c) <= 0x7E for c in text)


def tool_by_name(tools, name):
    matches = [t for t in tools if t["name"] == name]
    return matches[0] if matches else None


###############################################################################
# Raw HTTP on a socket, for what http.client cannot send (section 7) ##########
###############################################################################

def raw_exchange(port, data, timeout=5.0):
    """ Send bytes on a new TCP connection and read until the server
    closes it (or timeout); returns the bytes received. """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return received
            if not chunk:
                return received
            received += chunk
    finally:
        sock.close()


def raw_post(body, headers=(), target=b"/mcp"):
    """ The bytes of a POST with Content-Length and Connection: close. """
    lines = [b"POST " + target + b" HTTP/1.1", b"Host: 127.0.0.1",
             b"Content-Type: application/json", b"Accept: " +
             ACCEPT_JSON.encode(), b"Connection: close"]
    lines += list(headers)
    if not any(h.lower().startswith((b"content-length",
                                     b"transfer-encoding"))
               for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def status_of(raw):
    """ The status of the first response in raw bytes, or None. """
    match = re.match(br"HTTP/1\.1 (\d{3}) ", raw)
    return int(match.group(1)) if match else None


def sweep_nesting(test, send):
    """ POST pings whose params hold a nested list of every depth from
    just below the JSON parser's limit up to it; each must be answered
    (2xx or 4xx).  The limit is found by bisection (a -32700 above it). """
    def body(depth):
        return (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":' +
                b"[" * depth + b"]" * depth + b"}}")

    def answer(depth):
        try:
            return send(body(depth))
        except (http.client.HTTPException, OSError):
            return None

    low, high = 10, 200000
    while high - low > 1:
        middle = (low + high) // 2
        reply = answer(middle)
        if reply is not None and reply.status == 400:
            high = middle
        else:
            low = middle
    for depth in range(max(10, high - 60), high + 2):
        reply = answer(depth)
        test.assertIsNotNone(reply, "no answer at nesting depth %d" % depth)
        test.assertIn(reply.status, (200, 400), reply.body)


###############################################################################
# The server as a subprocess ##################################################
###############################################################################

def clean_environment():
    """ os.environ without the server's own variables. """
    names = [name for _, name, _ in mcp_weather.OPTIONS]
    return dict((k, v) for k, v in os.environ.items() if k not in names)


class ServerProcess(object):
    """ A server in a subprocess (environment cleaned of MCP_* and weather
    variables): waits for its "listening on http://127.0.0.1:PORT" log
    line; ``port``, ``lines`` (stderr so far), ``stop()`` sends SIGTERM
    and returns the exit status.  Use as a context manager. """

    def __init__(self, argv):
        import queue
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=clean_environment())
        self.queue, self.lines, self.port = queue.Queue(), [], None
        threading.Thread(target=self.read, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while self.port is None:
            try:
                line = self.queue.get(timeout=max(0.01, deadline -
                                                  time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.close()
                raise AssertionError("no 'listening on' line: %r"
                                     % self.lines)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/",
                              line)
            if match:
                self.port = int(match.group(1))

    def read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            self.queue.put(line)
        self.queue.put(None)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(TIMEOUT)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


###############################################################################
# Issues 3 and 4: streams that survive, and the 2026-07-28 era ################
###############################################################################

# The GET stream (S32-S36), resumable SSE (S38-S42, field notes B-17, B-18),
# cancellation (6.2), logging (6.3), stdio, graceful shutdown, threads that
# do not pile up (B-4); then server/discover, per-request _meta, the Mcp-*
# headers (checklist 1.3, 2.8, S56-S64) and both eras side by side.  Slow or
# chatty behaviour comes from tools registered for one test (_GatedTool)
# that wait on an Event the test controls, never from sleeps.

# Written out, not taken from mcp_weather, so a typo there would show here.
_MODERN = "2026-07-28"
_META = "io.modelcontextprotocol/"       # the prefix of the reserved keys
_META_VERSION = _META + "protocolVersion"
_META_CAPS = _META + "clientCapabilities"
_META_CLIENT = _META + "clientInfo"
_META_LOG = _META + "logLevel"
_META_SERVER = _META + "serverInfo"
_PROMPT = 5.0      # seconds within which a cancelled stream must end


###############################################################################
# Helpers #####################################################################
###############################################################################

class _EventStream(object):
    """ One HTTP exchange whose answer is read as it arrives, event by
    event (iter_sse), and that a test can cut at any point.

    ``events`` holds everything read so far: SSE event dicts as parse_sse
    makes them, and {"comment": text} for comment lines.  ``ended`` is True
    once the server ended the body cleanly (the last chunk of a chunked
    body); a connection that drops without it raises in next_event().
    """

    def __init__(self, port, method, body=None, headers=None,
                 receive_buffer=None, wait_head=True):
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
        self.conn = http.client.HTTPConnection("127.0.0.1", port,
                                               timeout=TIMEOUT)
        if receive_buffer:          # a slow reader: set before connecting
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                            receive_buffer)
            sock.settimeout(TIMEOUT)
            sock.connect(("127.0.0.1", port))
            self.conn.sock = sock
        self.conn.request(method, "/mcp", body=body, headers=headers or {})
        self.events, self.ended = [], False
        if wait_head:
            self.read_head()

    def read_head(self):
        """ Wait for the status line and headers. """
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.msg
        self._iter = iter_sse(self.response)

    def next_event(self, deadline):
        """ The next event or comment, or None at the clean end of the
        body; fails the test once the deadline (time.monotonic) passed. """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no SSE event before the deadline; read "
                                 "so far: %r" % (self.events,))
        if self.conn.sock is not None:
            self.conn.sock.settimeout(remaining)
        try:
            event = next(self._iter)
        except StopIteration:
            self.ended = True
            return None
        except socket.timeout:
            raise AssertionError("no SSE event before the deadline; read "
                                 "so far: %r" % (self.events,))
        self.events.append(event)
        return event

    def until(self, predicate, timeout=TIMEOUT):
        """ Read until an event satisfies predicate; return it. """
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(deadline)
            if event is None:
                raise AssertionError("the stream ended before the expected "
                                     "event; read: %r" % (self.events,))
            if predicate(event):
                return event

    def until_message(self, predicate, timeout=TIMEOUT):
        """ Read until a JSON-RPC message satisfies predicate; return the
        message (its event is self.events[-1]). """
        found = self.until(lambda e: bool(e.get("data")) and
                           predicate(json.loads(e["data"])), timeout)
        return json.loads(found["data"])

    def rest(self, timeout=TIMEOUT):
        """ Read to the clean end of the body; return the events read. """
        deadline = time.monotonic() + timeout
        start = len(self.events)
        while self.next_event(deadline) is not None:
            pass
        return self.events[start:]

    def cut(self):
        """ Close the connection, as a client that goes away does. """
        self.conn.close()

    def reset(self):
        """ Close the connection with a TCP reset, as a client's stack does
        when it closes a socket with unread data in it. """
        if self.conn.sock is not None:
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
        self.conn.close()


def _events_only(events):
    """ SSE events, without comments. """
    return [e for e in events if "comment" not in e]


def _message_events(events):
    """ SSE events that carry a JSON-RPC message (not priming events). """
    return [e for e in events if e.get("data")]


def _messages(events):
    return sse_messages(_message_events(events))


def _is_response(message, request_id=None):
    return "method" not in message and (request_id is None or
                                        message.get("id") == request_id)


def _is_method(name):
    return lambda message: message.get("method") == name


def _split_id(event_id):
    """ "<session tag>.<stream>.<seq>" -> (tag, stream, seq). """
    tag, stream, seq = event_id.split(".")
    return tag, int(stream), int(seq)


def _progress(token="tok"):
    return {"progressToken": token}


class _GatedTool(object):
    """ A tool registered for one test, whose pace the test controls.

    Each run: logs "debug <name> <tag>" and "info <name> <tag>", reports
    progress 1 of ``steps``, counts itself in ``runs``, then waits until
    ``gate`` is set or the call is cancelled.  Cancelled: it records that
    in ``cancelled_runs`` and stops.  Released: progress 2..steps, then the
    text "done <tag>" (the "tag" argument, default "").

    The tool is removed and the gate opened at the end of the test.
    """

    def __init__(self, test, dispatcher, name="gated", steps=3):
        self.name, self.steps = name, steps
        self.gate = threading.Event()
        self.cond = threading.Condition()
        self.runs, self.cancelled_runs, self.finished_runs = 0, 0, 0
        dispatcher.tool(name, "A test tool that waits for the test.", {
            "type": "object",
            "properties": {"tag": {"type": "string"},
                           "steps": {"type": "integer", "minimum": 1}},
            "additionalProperties": False})(self.run)
        test.addCleanup(dispatcher.tools.remove, name)
        test.addCleanup(self.gate.set)

    def run(self, arguments, call):
        steps, tag = arguments.get("steps", self.steps), \
            arguments.get("tag", "")
        call.log("debug", "debug %s %s" % (self.name, tag))
        call.log("info", "info %s %s" % (self.name, tag))
        call.progress(1, steps, "step 1 %s" % tag)
        self._count("runs")
        deadline = time.monotonic() + TIMEOUT
        while not self.gate.is_set():
            if call.cancelled.wait(0.01):
                self._count("cancelled_runs")
                call.check_cancelled()
            if time.monotonic() > deadline:
                raise mcp_weather.ToolError("the test never opened the gate")
        for step in range(2, steps + 1):
            call.progress(step, steps, "step %d %s" % (step, tag))
        self._count("finished_runs")
        return "done %s" % tag

    def _count(self, name):
        with self.cond:
            setattr(self, name, getattr(self, name) + 1)
            self.cond.notify_all()

    def wait(self, name, count, timeout=TIMEOUT):
        """ Wait until counter name (runs, cancelled_runs, finished_runs)
        reaches count. """
        with self.cond:
            ok = self.cond.wait_for(lambda: getattr(self, name) >= count,
                                    timeout)
        if not ok:
            raise AssertionError("%s of %s stayed at %d, expected %d" % (
                name, self.name, getattr(self, name), count))


class _StreamTestCase(ServerTestCase):
    """ ServerTestCase plus streaming requests and 2026-07-28 messages. """

    def add_tool(self, name, description, run):
        """ Register ``run(arguments, call)`` as the tool ``name`` (no
        arguments) for this test only. """
        self.dispatcher.tool(name, description, {"type": "object"})(run)
        self.addCleanup(self.dispatcher.tools.remove, name)

    def gated(self, name="gated", steps=3):
        return _GatedTool(self, self.dispatcher, name, steps)

    def stream(self, method, body=None, headers=None, **options):
        stream = _EventStream(self.port, method, body, headers, **options)
        self.addCleanup(stream.cut)
        return stream

    def open_call(self, session, name, arguments=None, meta=None,
                  request_id=7, accept=ACCEPT_BOTH, headers=None):
        """ POST tools/call (legacy) and return the _EventStream. """
        params = {"name": name, "arguments": arguments or {}}
        if meta is not None:
            params["_meta"] = meta
        merged = self.headers_for(session, accept, headers=headers)
        merged["Content-Type"] = "application/json"
        return self.stream("POST", {"jsonrpc": "2.0", "id": request_id,
                                    "method": "tools/call",
                                    "params": params}, merged)

    def open_get(self, session, last_event_id=None, accept=ACCEPT_SSE):
        headers = self.headers_for(session, accept)
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        return self.stream("GET", None, headers)

    def get(self, session, last_event_id=None, accept=ACCEPT_SSE,
            headers=None):
        """ A GET whose answer is not a stream (an error). """
        merged = self.headers_for(session, accept, headers=headers)
        if last_event_id is not None:
            merged["Last-Event-ID"] = last_event_id
        return self.request("GET", None, merged)

    def session_of(self, sid):
        return self.dispatcher.sessions.get(sid)

    # -- 2026-07-28 ----------------------------------------------------------

    @staticmethod
    def modern_message(method, params=None, request_id=1, **meta):
        """ A 2026-07-28 request: _meta carries version, capabilities and
        client info (IDX26); keyword arguments add or replace _meta keys
        (None removes one). """
        full = {_META_VERSION: _MODERN, _META_CAPS: {},
                _META_CLIENT: {"name": "test_streams", "version": "1.0"}}
        full.update(meta)
        full = dict((k, v) for k, v in full.items() if v is not None)
        params = dict(params or {})
        params["_meta"] = dict(params.get("_meta", {}), **full)
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request_id is not None:
            message["id"] = request_id
        return message

    @staticmethod
    def modern_headers(message, accept=ACCEPT_BOTH, **overrides):
        """ The headers a 2026-07-28 client sends for message (S56, S58);
        overrides replace them (None leaves a header out). """
        headers = {"Accept": accept,
                   "MCP-Protocol-Version": message["params"]["_meta"].get(
                       _META_VERSION),
                   "Mcp-Method": message["method"]}
        if message["method"] == "tools/call":
            headers["Mcp-Name"] = message["params"].get("name")
        for name, value in overrides.items():
            headers[name.replace("_", "-")] = value
        return dict((k, v) for k, v in headers.items() if v is not None)

    def modern(self, method, params=None, request_id=1, headers=None,
               **meta):
        """ POST a 2026-07-28 request; return the Reply. """
        message = self.modern_message(method, params, request_id, **meta)
        merged = self.modern_headers(message)
        merged.update(headers or {})
        merged = dict((k, v) for k, v in merged.items() if v is not None)
        return self.post(message, merged)

    def open_modern(self, method, params=None, request_id=1, headers=None,
                    wait_head=True, **meta):
        message = self.modern_message(method, params, request_id, **meta)
        merged = self.modern_headers(message)
        merged.update(headers or {})
        merged["Content-Type"] = "application/json"
        return self.stream("POST", message, merged, wait_head=wait_head)

    def assertModernResult(self, reply, request_id=1):
        """ A 2026-07-28 success: resultType complete and serverInfo in
        _meta on the result (S63, S64), no session minted (S52). """
        self.assertEqual(reply.status, 200, reply.body)
        self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        result = self.result_of(reply, request_id)["result"]
        self.assertEqual(result["resultType"], "complete")
        self.assertEqual(result["_meta"][_META_SERVER]["name"],
                         "mcp-weather")
        self.assertEqual(result["_meta"][_META_SERVER]["version"],
                         mcp_weather.__version__)
        return result


###############################################################################
# Issue 3: a server subprocess's environment ##################################
###############################################################################

def _server_env(upstream, **extra):
    """ The environment for a server subprocess: the fake upstream, no
    cache, none of the developer's MCP_* settings. """
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith(("MCP_", "WEATHER_", "SENIVERSE_")))
    env.update({"WEATHER_GEOCODING_URL": upstream.geocoding_url,
                "WEATHER_FORECAST_URL": upstream.forecast_url,
                "WEATHER_CACHE_TTL": "0", "PYTHONUNBUFFERED": "1",
                "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


###############################################################################
# Issue 3: the server as a subprocess on --port 0 #############################
###############################################################################

_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/mcp")


def stop_process(proc):
    """ Kill proc if it still runs, and reap it (a test's cleanup). """
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def spawn_server(test, upstream, *args):
    """ mcp_weather.py as a subprocess on --port 0 against upstream:
    (proc, port, stderr lines, the thread reading them).  The port comes
    from the URL the server logs; test's cleanups stop the process. """
    proc = subprocess.Popen(
        [sys.executable, SERVER_FILE, "--port", "0"] + list(args),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env=_server_env(upstream))
    test.addCleanup(stop_process, proc)
    lines, found = [], threading.Event()

    def pump():
        for raw in iter(proc.stderr.readline, b""):
            lines.append(raw.decode("utf-8", "replace"))
            if _URL.search(lines[-1]):
                found.set()
        proc.stderr.close()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    test.assertTrue(found.wait(TIMEOUT), "".join(lines))
    port = int([_URL.search(l) for l in lines if _URL.search(l)][0]
               .group(1))
    return proc, port, lines, reader


###############################################################################
# Issue 5: the client (mcp_client.py, llm.py) #################################
###############################################################################

# mcp_client.main runs in this process, with a Terminal of StringIOs and an
# environment of the test's own, against three kinds of peer:
#
#   _WeatherServer   an mcp_weather server on the fake upstream whose
#                    handler records every request (method, headers, body)
#   _FakeChatAPI     an OpenAI-compatible chat-completions API answering
#                    from a script, in the formats of ../shared/upstream/
#   _FakeMCPServer   a tiny Streamable HTTP server whose answers to
#                    tools/call a test writes, for framings and mistakes our
#                    own server never produces (202, NDJSON, text/html, ...)
#
# C1-C16 are section 3 of the checklist (the client); B-n the field notes.
# The model's retry waits are recorded instead of slept (make_model is
# wrapped) and every MCPClient deadline is a fraction of a second, so the
# whole block runs in a few seconds.

# As for mcp_weather above: the warnings of clients the tests drive directly
# (a session lost, a stream resumed) are expected, not noise for the run.
logging.getLogger("mcp_client").addHandler(logging.NullHandler())

# OpenAI-compatible chat completions (../shared/upstream/openai-*), byte for
# byte: two parallel tool calls, the answer after the tool results, the same
# tool calls streamed (fragments joined by index), and a refused key.
_CHAT_TOOL_CALLS_BODY = (
    '{"id":"chatcmpl-123","object":"chat.completion","created":1736942400,'
    '"model":"deepseek-chat","choices":[{"index":0,"message":{"role":'
    '"assistant","content":null,"tool_calls":[{"id":"call_0","type":'
    '"function","function":{"name":"weather__get_weather","arguments":'
    '"{\\"city\\": \\"Hangzhou\\"}"}},{"id":"call_1","type":"function",'
    '"function":{"name":"weather__get_weather","arguments":'
    '"{\\"city\\": \\"Berlin\\"}"}}]},"finish_reason":"tool_calls"}],'
    '"usage":{"prompt_tokens":210,"completion_tokens":38,'
    '"total_tokens":248}}')
_CHAT_FINAL_BODY = (
    '{"id":"chatcmpl-124","object":"chat.completion","created":1736942401,'
    '"model":"deepseek-chat","choices":[{"index":0,"message":{"role":'
    '"assistant","content":"Hangzhou is overcast at 4.8 °C; Berlin is '
    'clear at -1.5 °C."},"finish_reason":"stop"}],"usage":{'
    '"prompt_tokens":402,"completion_tokens":24,"total_tokens":426}}')
_CHUNK_HEAD = ('{"id":"chatcmpl-125","object":"chat.completion.chunk",'
               '"created":1736942400,"model":"deepseek-chat","choices":'
               '[{"index":0,"delta":')
_CHAT_STREAM_BODY = "".join(
    'data: %s%s,"finish_reason":%s}]}\n\n' % (_CHUNK_HEAD, delta, finish)
    for delta, finish in (
        ('{"role":"assistant","content":null}', 'null'),
        ('{"tool_calls":[{"index":0,"id":"call_0","type":"function",'
         '"function":{"name":"weather__get_weather","arguments":""}}]}',
         'null'),
        ('{"tool_calls":[{"index":0,"function":{"arguments":'
         '"{\\"city\\": "}}]}', 'null'),
        ('{"tool_calls":[{"index":0,"function":{"arguments":'
         '"\\"Hangzhou\\"}"}}]}', 'null'),
        ('{"tool_calls":[{"index":1,"id":"call_1","type":"function",'
         '"function":{"name":"weather__get_weather","arguments":'
         '"{\\"city\\": \\"Berlin\\"}"}}]}', 'null'),
        ('{}', '"tool_calls"'))) + "data: [DONE]\n\n"
_CHAT_ERROR_401_BODY = (
    '{"error":{"message":"Incorrect API key provided: sk-abc***. You can '
    'find your API key in your account settings.","type":'
    '"invalid_request_error","param":null,"code":"invalid_api_key"}}')
_FINAL_TEXT = "Hangzhou is overcast at 4.8 °C; Berlin is clear at -1.5 °C."
_SYSTEM_PROMPT = "You answer questions about the weather."
_API_KEY = "sk-test-0123456789"


def _completion(content=None, calls=()):
    """ A non-streamed answer shaped like the samples: text, or calls. """
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = list(calls)
    return {"id": "chatcmpl-9", "object": "chat.completion",
            "created": 1736942402, "model": "deepseek-chat",
            "choices": [{"index": 0, "message": message, "finish_reason":
                         "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 9,
                      "total_tokens": 18}}


def _tool_call(call_id, name, **arguments):
    return {"id": call_id, "type": "function", "function": {
        "name": name, "arguments": json.dumps(arguments)}}


def _chunk(delta, finish=None):
    """ One streamed chunk as an SSE event, shaped like the sample's. """
    return "data: %s\n\n" % json.dumps({
        "id": "chatcmpl-126", "object": "chat.completion.chunk",
        "created": 1736942401, "model": "deepseek-chat",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
        ensure_ascii=False)


def _closed_url(path="/mcp"):
    """ A URL where nothing listens: a port bound, then closed again. """
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return "http://127.0.0.1:%d%s" % (port, path)


def _rpc(records, method=None):
    """ The JSON-RPC messages POSTed, as recorded; only ``method``'s when
    given ("response" picks responses: messages without a method). """
    messages = [r["body"] for r in records
                if r["method"] == "POST" and isinstance(r["body"], dict)]
    if method is None:
        return messages
    return [m for m in messages if m.get("method", "response") == method]


def _lower_keys(headers):
    return dict((name.lower(), value) for name, value in headers.items())


###############################################################################
# Fixtures: peers of the client ###############################################
###############################################################################

class _PeerHandler(http.server.BaseHTTPRequestHandler):
    """ The handler of the fake peers below: every request goes to the
    fake's ``answer(handler)``, which writes with send() or send_stream(). """

    protocol_version = "HTTP/1.1"
    fake = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.fake.answer(self)

    do_GET = do_DELETE = do_POST

    def record(self):
        """ This request as a dict: "method", "path", "headers" (lower-case
        names) and "body" (parsed JSON, or None). """
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = None
        return {"method": self.command, "path": self.path,
                "headers": _lower_keys(self.headers), "body": body}

    def send(self, status, content_type=None, text="", headers=()):
        data = text.encode("utf-8")
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_stream(self, content_type, parts, errors):
        """ A chunked body written part by part as it is produced: str parts
        are sent at once; a callable part runs between two writes (what it
        raises goes to ``errors``), so a test can hold the stream until the
        client has shown what came so far. """
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in parts:
            if callable(part):
                try:
                    part()
                except Exception as error:
                    errors.append(error)
                continue
            data = part.encode("utf-8")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")


def _serve_peer(fake, name):
    """ A ThreadingHTTPServer on a free loopback port for fake. """
    handler = type("Handler", (_PeerHandler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), name=name,
                     daemon=True).start()
    return server


def _stop_peer(server):
    server.shutdown()
    server.server_close()


class _FakeChatAPI(object):
    """ A fake OpenAI-compatible API: POST {base_url}/chat/completions.

    Each request takes the next answer of the script, in order:
    ``reply(body, status=200, headers=())`` queues a JSON answer (a dict or
    the exact text), ``stream(*parts)`` a text/event-stream answer (see
    _PeerHandler.send_stream).  With the script used up it answers 500, so
    a client that asks once too often fails its test.  ``requests`` holds
    every request ("path", "headers" with lower-case names, "body"
    parsed); ``bodies()`` their bodies; ``errors`` what callable stream
    parts raised.
    """

    def __init__(self):
        self.script = collections.deque()
        self.requests, self.errors = [], []
        self.lock = threading.Lock()

    def start(self):
        self.server = _serve_peer(self, "fake-chat-api")
        self.base_url = "http://127.0.0.1:%d/v1" \
            % self.server.server_address[1]
        return self

    def stop(self):
        _stop_peer(self.server)

    def reset(self):
        with self.lock:
            self.script.clear()
            del self.requests[:], self.errors[:]

    def reply(self, body, status=200, headers=()):
        if not isinstance(body, str):
            body = json.dumps(body, ensure_ascii=False)
        self.script.append((status, list(headers), body))

    def stream(self, *parts):
        self.script.append((200, [], parts))

    def bodies(self):
        return [request["body"] for request in self.requests]

    def answer(self, handler):
        request = handler.record()
        with self.lock:
            self.requests.append(request)
            step = self.script.popleft() if self.script else (
                500, [], '{"error":{"message":"the test scripted no more '
                'answers"}}')
        status, headers, body = step
        if isinstance(body, str):
            handler.send(status, "application/json", body + "\n", headers)
        else:
            handler.send_stream("text/event-stream", body, self.errors)


class _FakeMCPServer(object):
    """ A minimal Streamable HTTP MCP server at ``url``.

    initialize gets a JSON result (2025-11-25) and a new session id
    ("fake-1", "fake-2", ...); notifications and responses get 202;
    tools/list offers one tool, "echo"; DELETE gets 204 and GET 405.
    tools/call goes to ``on_call(handler, message)`` (default: echo, whose
    text is its arguments as JSON); ``before_initialize()``, when set, runs
    before an initialize is answered.  ``requests`` records every request as
    _PeerHandler.record() makes it; the handler's own is ``handler.request``.
    """

    ECHO = {"name": "echo", "description": "Says its arguments back.",
            "inputSchema": {"type": "object", "properties": {
                "text": {"type": "string"}}}}

    def __init__(self):
        self.requests, self.errors = [], []
        self.sessions = 0
        self.lock = threading.Lock()
        self.on_call = self.echo
        self.before_initialize = None

    def start(self):
        self.server = _serve_peer(self, "fake-mcp")
        self.url = "http://127.0.0.1:%d/mcp" % self.server.server_address[1]
        return self

    def stop(self):
        _stop_peer(self.server)

    @staticmethod
    def response(message, result):
        return json.dumps({"jsonrpc": "2.0", "id": message["id"],
                           "result": result})

    def echo(self, handler, message):
        text = json.dumps(message["params"].get("arguments"), sort_keys=True)
        handler.send(200, "application/json", self.response(
            message, {"content": [{"type": "text", "text": text}]}))

    def answer(self, handler):
        handler.request = request = handler.record()
        with self.lock:
            self.requests.append(request)
        message = request["body"]
        if request["method"] != "POST":
            return handler.send(204 if request["method"] == "DELETE" else 405)
        if "method" not in message or "id" not in message:
            return handler.send(202)
        if message["method"] == "initialize":
            if self.before_initialize:
                self.before_initialize()
            with self.lock:
                self.sessions += 1
                session = "fake-%d" % self.sessions
            return handler.send(200, "application/json", self.response(
                message, {"protocolVersion": LATEST,
                          "capabilities": {"tools": {}},
                          "serverInfo": {"name": "fake", "version": "0"}}),
                [("Mcp-Session-Id", session)])
        if message["method"] == "tools/list":
            return handler.send(200, "application/json", self.response(
                message, {"tools": [self.ECHO]}))
        return self.on_call(handler, message)


class _RecordingHandler(mcp_weather.MCPRequestHandler):
    """ MCPRequestHandler that also appends each request to the server's
    ``recorded`` list: "method", "headers" (lower-case names), "body" (the
    parsed JSON of a POST) and "status" (noted before the status line is
    sent, so a client that has its answer finds it recorded). """

    record = None

    def serve(self, action):
        self.record = {"method": self.command, "body": None, "status": None,
                       "headers": _lower_keys(self.headers)}
        self.server.recorded.append(self.record)
        try:
            mcp_weather.MCPRequestHandler.serve(self, action)
        finally:
            self.record = None

    def head(self, status, headers):
        if self.record is not None:
            self.record["status"] = status
        return mcp_weather.MCPRequestHandler.head(self, status, headers)

    def read_body(self):
        body = mcp_weather.MCPRequestHandler.read_body(self)
        try:
            self.record["body"] = json.loads(body.decode("utf-8"))
        except ValueError:
            pass
        return body


class _WeatherServer(object):
    """ An mcp_weather server in this process, on the fake upstream, with
    ServerTestCase's base settings and ``settings`` on top; ``url``,
    ``dispatcher`` and ``recorded`` (see _RecordingHandler). """

    def __init__(self, upstream, **settings):
        options = ServerTestCase.base_settings(upstream)
        options.update(settings)
        self.server = mcp_weather.MCPServer(mcp_weather.Config(**options),
                                            handler=_RecordingHandler)
        self.server.recorded = self.recorded = []
        self.dispatcher = self.server.dispatcher
        self.url = "http://127.0.0.1:%d/mcp" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,),
                         name="client-test-server", daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.dispatcher.sessions.close_all()
        close_weather_connections(self.dispatcher)


class _UpstreamTestCase(unittest.TestCase):
    """ A fake upstream for the whole class (``upstream``), for tests that
    start their own servers; with ``with_weather``, also an mcp_weather
    server on it whose handler records every request (``weather``, a
    _WeatherServer). """

    with_weather = False

    @classmethod
    def setUpClass(cls):
        super(_UpstreamTestCase, cls).setUpClass()
        cls.upstream = FakeUpstream().start()
        if cls.with_weather:
            cls.weather = _WeatherServer(cls.upstream)

    @classmethod
    def tearDownClass(cls):
        if cls.with_weather:
            cls.weather.stop()
        cls.upstream.stop()
        super(_UpstreamTestCase, cls).tearDownClass()


_MAKE_MODEL = mcp_client.make_model


@contextlib.contextmanager
def _own_root_logging():
    """ main() calls logging.basicConfig(stream=its stderr), which does
    nothing once the root logger has a handler: set the root's handlers
    aside for one run, so each run's warnings reach its own stderr. """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = handlers
        root.setLevel(level)


class _ClientTestCase(_UpstreamTestCase):
    """ A fake upstream, an mcp_weather server (``weather``; server
    "weather" in the default configuration) and a fake chat API
    (``chat_api``) per class, reset before each test.

      run_client(argv, servers=None, environ=None, stdin="", out=None,
                 **llm)   mcp_client.main in this process, with a config
          file of ``servers`` (default: {"weather": its URL}) and ``llm``
          settings over the defaults below; the environment holds only
          DEEPSEEK_API_KEY unless ``environ`` is given.  Returns (exit
          status, stdout, stderr).  The model's retry waits go to
          ``self.sleeps`` instead of sleeping.
      client(url, **knobs)   an MCPClient, closed at the end of the test
      serve(**settings)      another _WeatherServer, for this test
      fake_mcp()             a _FakeMCPServer, for this test
    """

    with_weather = True

    @classmethod
    def setUpClass(cls):
        super(_ClientTestCase, cls).setUpClass()
        cls.chat_api = _FakeChatAPI().start()

    @classmethod
    def tearDownClass(cls):
        cls.chat_api.stop()
        super(_ClientTestCase, cls).tearDownClass()

    def setUp(self):
        self.upstream.reset()
        self.chat_api.reset()
        del self.weather.recorded[:]
        self.sleeps = []
        # These tests are about the 2025 handshake era (sessions, DELETE,
        # resumption, cancellation by notification) and count the requests
        # on the wire.  Since issue 16 the client tries 2026-07-28 first,
        # which mcp_weather also speaks, and opens the standalone GET
        # stream when a host answers requests: they pin the era and leave
        # the GET stream out; tests/test_client_*.py cover both.
        for name, value in (("era", "legacy"), ("standalone_stream", False)):
            patch = unittest.mock.patch.object(mcp_client.MCPClient, name,
                                               value)
            patch.start()
            self.addCleanup(patch.stop)

    def serve(self, **settings):
        server = _WeatherServer(self.upstream, **settings)
        self.addCleanup(server.stop)
        return server

    def fake_mcp(self):
        fake = _FakeMCPServer().start()
        self.addCleanup(fake.stop)
        return fake

    def client(self, url, name="weather", **knobs):
        client = mcp_client.MCPClient(url, name, **knobs)
        self.addCleanup(client.close)
        return client

    def write_config(self, servers=None, **settings):
        model = {"base_url": self.chat_api.base_url,
                 "model": "deepseek-chat", "api_key_env": "DEEPSEEK_API_KEY",
                 "stream": False, "max_tool_rounds": 8,
                 "system_prompt": _SYSTEM_PROMPT}
        model.update(settings)
        if servers is None:
            servers = {"weather": {"url": self.weather.url}}
        folder = tempfile.mkdtemp(prefix="test_mcp_client.")
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, "config.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"llm": model, "mcpServers": servers}, handle)
        return path

    def run_client(self, argv, servers=None, environ=None, stdin="",
                   out=None, **settings):
        path = self.write_config(servers, **settings)
        if environ is None:
            environ = {"DEEPSEEK_API_KEY": _API_KEY}
        out, err = out or io.StringIO(), io.StringIO()
        terminal = mcp_client.Terminal(out, err, io.StringIO(stdin))
        with _own_root_logging(), unittest.mock.patch.object(
                mcp_client, "make_model", self.make_model):
            status = mcp_client.main(["--config", path] + list(argv),
                                     terminal, environ)
        return status, out.getvalue(), err.getvalue()

    def make_model(self, *args, **kwargs):
        model = _MAKE_MODEL(*args, **kwargs)
        model.sleep = self.sleeps.append
        return model

    def in_background(self, function, *args):
        """ Run function(*args) in a thread.  Returns outcome(): waits for
        the thread, then gives {"result": ...} or {"error": exception}. """
        box = {}

        def run():
            try:
                box["result"] = function(*args)
            except BaseException as error:
                box["error"] = error
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, TIMEOUT)

        def outcome():
            thread.join(TIMEOUT)
            return box
        return outcome

    def release_when(self, condition, gate):
        """ In a thread: wait for condition(), then set gate.  Returns a
        list that receives True once condition() held, or False when it
        did not within TIMEOUT (the gate is opened either way). """
        seen = []

        def watch():
            try:
                seen.append(bool(wait_for(condition)))
            except AssertionError:
                seen.append(False)
            finally:
                gate.set()
        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        self.addCleanup(thread.join, TIMEOUT)
        return seen

    def assertOneErrorLine(self, err, *fragments):
        """ stderr has exactly one "error: " line, holding every fragment,
        and no traceback. """
        lines = [line for line in err.splitlines()
                 if line.startswith("error: ")]
        self.assertEqual(len(lines), 1, err)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        self.assertNotIn("Traceback", err)
        return lines[0]


###############################################################################
# Issue 6: resources, prompts, completion, requests to the client ############
###############################################################################

def _text_of(result):
    return result["content"][0]["text"]


class _Issue6TestCase(_StreamTestCase):
    """ _StreamTestCase plus helpers for registrations and for playing a
    client that answers the server's requests. """

    def register(self, registry, key):
        """ Remove what a test registered (registry: dispatcher.tools,
        .resources, .templates or .prompts) when the test ends. """
        self.addCleanup(registry.remove, key)

    def initialize_with(self, capabilities, version=LATEST):
        """ initialize declaring client capabilities (and initialized). """
        reply = self.post(initialize_message(version,
                                             capabilities=capabilities))
        self.assertEqual(reply.status, 200, reply.body)
        sid = reply.headers.get("Mcp-Session-Id")
        self.versions[sid] = reply.json()["result"]["protocolVersion"]
        self.assertEqual(self.notify("notifications/initialized",
                                     session=sid).status, 202)
        return sid

    def asking_tool(self, name, ask, **options):
        """ A tool whose result text is the JSON of ask(call). """
        def run(arguments, call):
            return json.dumps(ask(call), sort_keys=True)
        self.dispatcher.tool(name, "Asks the client something.",
                             {"type": "object"}, **options)(run)
        self.register(self.dispatcher.tools, name)

    def answer(self, session, request, result=None, error=None):
        """ POST the client's response to a request the server sent. """
        message = {"jsonrpc": "2.0", "id": request["id"]}
        if error is not None:
            message["error"] = error
        else:
            message["result"] = result
        return self.post(message, self.headers_for(session))

    def result_message(self, stream, request_id=7):
        return stream.until_message(lambda m: _is_response(m, request_id))

    def modern_call(self, name, arguments=None, capabilities=None,
                    request_id=1, **extra):
        params = dict({"name": name, "arguments": arguments or {}}, **extra)
        return self.modern("tools/call", params, request_id,
                           **{_META_CAPS: capabilities or {}})


###############################################################################
# Issue 7: a weather service in the shapes http.client hid from us ############
###############################################################################

class RawUpstream(object):
    """ A weather service on a raw socket, answering in one of the shapes
    http.client would have handled for us: 'chunked' (Transfer-Encoding:
    chunked, with a chunk extension and a trailer), 'close' (HTTP/1.0, the
    body ends when the connection does) or 'interim' (a 103 first). """

    def __init__(self, shape):
        self.shape, self.requests = shape, []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.base_url = "http://127.0.0.1:%d" % \
            self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,),
                             daemon=True).start()

    def answer(self, conn):
        reader = conn.makefile("rb")
        with conn, reader:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                target = head.split(b" ")[1].decode()
                self.requests.append(target)
                body = (GEOCODING_BODY if target.startswith("/v1/search")
                        else CURRENT_BODY).encode()
                conn.sendall(self.response(body))
                if self.shape == "close":
                    return

    def response(self, body):
        if self.shape == "chunked":
            half = len(body) // 2
            return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n%x;note=1\r\n%s\r\n"
                    b"%x\r\n%s\r\n0\r\nX-Trailer: yes\r\n\r\n" % (
                        half, body[:half], len(body) - half, body[half:]))
        if self.shape == "close":
            return b"HTTP/1.0 200 OK\r\nContent-Type: application/json" \
                b"\r\n\r\n" + body
        return (b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (
                    len(body), body))

    def stop(self):
        self.listener.close()


###############################################################################
# Issue 8: threads and descriptors given back #################################
###############################################################################

def _report(name, text):
    """ One line for the closing figures, printed only on request. """
    if os.environ.get("TEST_MCP_REPORT"):
        sys.stderr.write("\n[issue 8] %s: %s\n" % (name, text))


def _fd_count():
    """ Open file descriptors of this process (the server runs in it), or
    None where /proc is missing. """
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _settled(threads, fds):
    """ True once the thread and descriptor counts are back at (or below)
    a baseline. """
    now = _fd_count()
    return threading.active_count() <= threads and (
        fds is None or now is None or now <= fds)


def _wait_settled(test, threads, fds, what):
    close_weather_connections(getattr(test, "dispatcher", None))
    try:
        wait_for(lambda: _settled(threads, fds))
    except AssertionError:
        test.fail("%s: threads %d -> %d (%s), descriptors %s -> %s" % (
            what, threads, threading.active_count(),
            ", ".join(t.name for t in threading.enumerate()), fds,
            _fd_count()))


def _set_up_beside(cls, test_class, helper, **settings):
    """ setUpClass for a ServerTestCase whose server needs a helper server
    (anything with stop()) started first: settings are added to the
    class's, and the helper is stopped if the server cannot start. """
    cls.settings = dict(cls.settings, **settings)
    try:
        super(test_class, cls).setUpClass()
    except Exception:
        helper.stop()
        raise


###############################################################################
# Issue 8: values of every wrong type, for the fuzzers ########################
###############################################################################

_WRONG_VALUES = [None, True, False, 0, -1, 1.5, -0.0, 2 ** 63, 10 ** 400,
                 1e308, float("nan"), float("inf"), "", "x", "\ud800",
                 "\udfff\ud800", "\x00", "ü€😀", [], [None], {}, {"a": {}},
                 "x" * 100000, [0] * 20000, {"k%d" % i: i for i in range(500)}]


###############################################################################
# Issue 8: slow clients #######################################################
###############################################################################

def raw_exchange_rest(sock):
    """ Read from a connected socket until the server closes it. """
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return received
        if not chunk:
            return received
        received += chunk


# A request head a slow client sends byte by byte (over TCP or TLS).
SLOW_HEAD = (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
             b"X-Padding: " + b"p" * 400 + b"\r\n\r\n")


###############################################################################
# Issue 8: faulty weather services ############################################
###############################################################################

class _RawUpstream(object):
    """ A stand-in web service on a raw socket on loopback, a thread per
    connection: ``serve(conn)`` of a subclass says what it does with each.
    For services that misbehave below what http.server lets one write. """

    name = "raw-upstream"

    def __init__(self):
        self.stopping = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.base_url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True,
                         name=self.name).start()

    def stop(self):
        self.stopping.set()
        self.listener.close()

    def accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True,
                             name=self.name + "-conn").start()


class _RawUpstreamTestCase(ServerTestCase):
    """ A ServerTestCase whose weather service is a _RawUpstream: the
    subclass's setUpClass hands one to beside(), which starts the server
    with its geocoding and forecast URLs pointing there and idle worker
    threads ending after 0.3 s (so a test sees threads given back); the
    upstream stops after the server's class ends. """

    @classmethod
    def beside(cls, upstream):
        cls.raw_upstream = upstream
        _set_up_beside(cls, _RawUpstreamTestCase, upstream,
                       geocoding_url=upstream.base_url + "/v1/search",
                       forecast_url=upstream.base_url + "/v1/forecast")
        cls.dispatcher.workers.idle_timeout = 0.3
        return upstream

    @classmethod
    def tearDownClass(cls):
        cls.raw_upstream.stop()
        super(_RawUpstreamTestCase, cls).tearDownClass()


class _FaultyUpstream(_RawUpstream):
    """ Open-Meteo that misbehaves on purpose, on a raw socket.  Requests
    to ``target`` (a path, default /v1/search) meet ``fault``; others get
    the good samples.  Faults:

      hang        reads the request, never answers
      slow        answers well, but only after ``delay`` seconds
      reset       closes the connection with a TCP reset at once
      close       closes the connection without a word
      500         HTTP 500 with an HTML body
      garbage     200, application/json, bytes that are not JSON
      bad-status  a status line that is not HTTP
      truncated   Content-Length 2000, 40 bytes sent, then a close
      truncated-chunked   a chunk cut short, then a close
      trickle     200, then the body one byte every 50 ms
      huge        200 with a 5 MB body
      wrong-shape 200 with JSON of the wrong shape
    """

    name = "faulty-upstream"

    def __init__(self):
        self.fault, self.target, self.delay = None, "/v1/search", 2.0
        _RawUpstream.__init__(self)

    def serve(self, conn):
        conn.settimeout(TIMEOUT)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ")[1].split(b"?")[0].decode()
            fault = self.fault if path == self.target else None
            self.answer(conn, fault, GEOCODING_BODY if path == "/v1/search"
                        else DAILY_BODY if b"daily=" in head
                        else CURRENT_BODY)
        except OSError:
            pass
        finally:
            conn.close()

    def answer(self, conn, fault, good):
        good = good.encode("utf-8")
        if fault == "hang":
            while not self.stopping.is_set() and conn.recv(1):
                pass            # until the server under test gives up
            return
        if fault == "slow":
            self.stopping.wait(self.delay)
        if fault == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            return
        if fault == "close":
            return
        if fault == "bad-status":
            conn.sendall(b"HELLO THERE\r\n\r\n")
            return
        status, body, length = 200, good, None
        if fault == "500":
            status, body = 500, b"<html><body>Internal Server Error</body>"
        elif fault == "garbage":
            body = b"\x00\xff<html>not json at all"
        elif fault == "huge":
            body = b'{"results":[' + b" " * (5 * 1024 * 1024) + b"]}"
        elif fault == "wrong-shape":
            body = b'{"results":[{"name":"Hangzhou","latitude":"north",' \
                   b'"longitude":[]}]}'
        elif fault == "truncated":
            body, length = good[:40], 2000
        head = b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n" % status
        if fault == "truncated-chunked":
            conn.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" +
                         b"%x\r\n" % len(good) + good[:30])
            return
        conn.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n"
                     b"\r\n" % (length or len(body)))
        if fault == "trickle":
            for byte in body:
                if self.stopping.wait(0.05):
                    return
                conn.sendall(bytes([byte]))
            return
        conn.sendall(body)


###############################################################################
# Issue 8: HTTPS with --tls-cert and --tls-key ################################
###############################################################################

def _make_certificate(directory):
    """ A self-signed certificate for localhost and 127.0.0.1, made with
    the openssl command; (cert path, key path), or None without one. """
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    done = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
         cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    return (cert, key) if done.returncode == 0 else None


###############################################################################
# Issue 8: OAuth 2.0 protected resource (checklist 2.9, S65-S71) ##############
###############################################################################

# The settings of a server whose tokens _FakeAuthServer introspects: the
# scope they must carry and the credentials it introspects them with.
INTROSPECTION = {"required_scope": ("weather",),
                 "introspection_client_id": "mcp-weather",
                 "introspection_client_secret": "s3cr&t"}


class _FakeAuthServer(object):
    """ An OAuth authorization server on loopback: RFC 8414 metadata at
    /.well-known/oauth-authorization-server and an RFC 7662 introspection
    endpoint at /introspect.

    ``tokens`` maps a token to the claims introspection returns (unknown
    tokens are {"active": false}); the claim value FAIL makes the endpoint
    answer HTTP 500 instead.  Introspection needs HTTP Basic with
    ``client_id`` and ``client_secret``, else 401.  ``introspections``
    records (token, form) of each call; ``metadata_requests`` counts
    metadata fetches. """

    FAIL = "fail"

    def __init__(self, client_id="mcp-weather", client_secret="s3cr&t"):
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens, self.introspections, self.metadata_requests = {}, [], 0
        self.server = loopback_http_server("fake-auth", do_GET=self.metadata,
                                           do_POST=self.introspect)[0]
        self.issuer = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def send(self, handler, status, value):
        data = json.dumps(value).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def metadata(self, handler):
        if handler.path != "/.well-known/oauth-authorization-server":
            return self.send(handler, 404, {"error": "not_found"})
        self.metadata_requests += 1
        self.send(handler, 200, {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "introspection_endpoint": self.issuer + "/introspect"})

    def introspect(self, handler):
        length = int(handler.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(
            handler.rfile.read(length).decode()))
        expected = "Basic " + base64.b64encode(("%s:%s" % (
            urllib.parse.quote_plus(self.client_id),
            urllib.parse.quote_plus(self.client_secret))).encode()).decode()
        if handler.path != "/introspect" or \
                handler.headers.get("Authorization") != expected:
            return self.send(handler, 401, {"error": "invalid_client"})
        self.introspections.append((form.get("token"), form))
        claims = self.tokens.get(form.get("token"), {"active": False})
        if claims == self.FAIL:
            return self.send(handler, 500, {"error": "server_error"})
        self.send(handler, 200, claims)


###############################################################################
# Issue 18: tools that run as tasks (the tasks extension) #####################
###############################################################################

EXTENSION = mcp_weather.TASKS_EXTENSION
NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}},
               "required": ["name"]}


def add_test_tools(dispatcher, holder):
    """ Tools that run as tasks: gated (waits for ``holder.gate`` or its
    cancel, and records what it saw in ``holder.seen``), asking, breaking,
    task-only and deferring (MRTR first, then a task). """

    @dispatcher.tool("gated", "Waits for the test's gate.",
                     {"type": "object"}, task_support="optional")
    def gated(arguments, call):
        call.progress(1, 2, "waiting at the gate")
        woken = threading.Event()
        call.cancelled.wake_on_cancel(woken)
        holder.gate.wake_on_cancel(woken)
        woken.wait(TIMEOUT)
        holder.seen["cancelled"] = call.cancelled.is_set()
        call.check_cancelled()
        return "through the gate"

    @dispatcher.tool("ask_two", "Asks two things at once.",
                     {"type": "object"}, task_support="optional")
    def ask_two(arguments, call):
        answers = call.ask_all({
            "first": mcp_weather.elicitation_request("First?", NAME_SCHEMA),
            "second": mcp_weather.elicitation_request("Second?",
                                                      NAME_SCHEMA)})
        return "%s and %s" % (answers["first"]["content"]["name"],
                              answers["second"]["content"]["name"])

    @dispatcher.tool("breaks", "Ends with a JSON-RPC error.",
                     {"type": "object"}, task_support="optional")
    def breaks(arguments, call):
        raise mcp_weather.RPCError(-32603, "broken on purpose")

    @dispatcher.tool("only_task", "Runs only as a task.",
                     {"type": "object"}, task_support="required")
    def only_task(arguments, call):
        return "ran as a task"

    @dispatcher.tool("deferred", "Asks a name (MRTR), then greets as a "
                     "task.", {"type": "object"}, task_support="required",
                     defer_task=True)
    def deferred(arguments, call):
        name = call.elicit("Name?", NAME_SCHEMA, key="name")["content"]["name"]
        return call.as_task(lambda task_call: "Hello, %s!" % name)


class WithTaskTools(object):
    """ Mixin for a TestCase with a server: add_test_tools on its
    dispatcher, a fresh gate per test (opened at its end), and every task
    closed with the class. """

    @classmethod
    def setUpClass(cls):
        super(WithTaskTools, cls).setUpClass()
        cls.gate, cls.seen = mcp_weather.Cancellation(), {}
        add_test_tools(cls.dispatcher, cls)

    @classmethod
    def tearDownClass(cls):
        cls.gate.set()
        cls.dispatcher.tasks.close_all()
        super(WithTaskTools, cls).tearDownClass()

    def setUp(self):
        super(WithTaskTools, self).setUp()
        type(self).gate = mcp_weather.Cancellation()
        self.seen.clear()
        self.addCleanup(lambda: self.gate.set())


###############################################################################
# subscriptions/listen (2026-07-28): a listen stream's helpers ################
###############################################################################

SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
ACK = "notifications/subscriptions/acknowledged"


def is_data(event):
    return bool(event.get("data"))


class ListenTestCase(_StreamTestCase):
    """ Helpers: open a listen stream, read its messages. """

    # A client that closes its listen stream is seen at the next keep-alive
    # (KeepAlives, as for GET streams), so keep-alives come often here.
    settings = {"watch_interval": 0.2, "keepalive": 0.3}

    @classmethod
    def tearDownClass(cls):
        cls.dispatcher.watch.stop()
        super(ListenTestCase, cls).tearDownClass()

    def setUp(self):
        super(ListenTestCase, self).setUp()
        wait_for(lambda: self.dispatcher.listeners == [],
                 message="a listen stream of an earlier test is still open")

    def listen(self, notifications, request_id="L1", accept=ACCEPT_BOTH):
        stream = self.open_modern("subscriptions/listen",
                                  {"notifications": notifications},
                                  request_id, headers={"Accept": accept})
        self.assertEqual(stream.status, 200)
        self.assertEqual(stream.headers.get("Content-Type"),
                         "text/event-stream")
        return stream

    def acknowledged(self, stream, request_id="L1"):
        """ The first message: the acknowledgement, tagged; its filter. """
        first = stream.until(is_data)
        message = json.loads(first["data"])
        self.assertEqual(message["method"], ACK, message)
        self.assertNotIn("id", message)
        self.assertEqual(message["params"]["_meta"][SUBSCRIPTION], request_id)
        return message["params"]["notifications"]

    def listening(self, count=1):
        wait_for(lambda: len(self.dispatcher.listeners) >= count,
                 message="the server holds no listen stream")

    def refused(self, params, request_id=9):
        reply = self.modern("subscriptions/listen", params, request_id)
        return self.assertRPCError(reply, 200, -32602, request_id)

    def change_tools(self):
        self.dispatcher.tool("ephemeral", "Comes and goes.",
                             {"type": "object"})(lambda a, c: "")
        self.dispatcher.tools.remove("ephemeral")

    def change_prompts(self):
        self.dispatcher.prompt("ephemeral", "Comes and goes.")(
            lambda a, c: "")
        self.dispatcher.prompts.remove("ephemeral")


###############################################################################
# Issue 18: raw reads of a stream's head and keep-alives ######################
###############################################################################

def read_head(sock):
    """ Read from sock until the end of an HTTP response head; return what
    came (head and any body bytes after it), or b"" at end of stream. """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def read_keepalives(sock, count, marker=b": keep-alive"):
    """ Read body bytes from sock until marker has come count times; return
    (data, ended), ended True when the server closed first. """
    data = b""
    while data.count(marker) < count:
        chunk = sock.recv(65536)
        if not chunk:
            return data, True
        data += chunk
    return data, False


###############################################################################
# Fakes of the client tests (issue 16): a scripted server, stdio children #####
###############################################################################

# Fakes shared by the client tests of issue 16 (tests/test_client_*.py):
# a scripted Streamable HTTP server and stdio child scripts.
class ScriptedServer(object):
    """ An HTTP MCP endpoint on loopback whose every answer comes from
    ``respond(record)``, a function returning (status, headers, body):
    body is a dict (sent as application/json), bytes (sent as is), None,
    or a function given the response's file to write a stream as it goes.
    ``records`` holds each request: "method", "headers" (lower-case
    names), "body" (parsed JSON or None).  Notifications and responses
    (no "method" or no "id") get 202 unless ``respond`` handles them:
    it is called only for requests, or for everything (GET and DELETE
    too) when ``all_posts``; otherwise GET gets 405 and DELETE 204.
    """

    def __init__(self, respond, all_posts=False):
        self.respond, self.all_posts = respond, all_posts
        self.records = []
        self.lock = threading.Lock()
        self.server, _ = loopback_http_server(
            "scripted-mcp", do_POST=self.handle, do_GET=self.handle,
            do_DELETE=self.handle)
        self.url = "http://127.0.0.1:%d/mcp" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def posts(self, method=None):
        """ The bodies of the POSTed messages (of ``method`` only). """
        with self.lock:
            bodies = [r["body"] for r in self.records
                      if r["method"] == "POST" and isinstance(r["body"],
                                                              dict)]
        return [b for b in bodies if method is None or
                b.get("method") == method]

    def handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        record = {"method": handler.command, "body": body,
                  "headers": dict((k.lower(), v)
                                  for k, v in handler.headers.items())}
        with self.lock:
            self.records.append(record)
        is_request = isinstance(body, dict) and "method" in body and \
            "id" in body
        if handler.command != "POST" and not self.all_posts:
            status, headers, payload = \
                (204 if handler.command == "DELETE" else 405), {}, None
        elif not is_request and not self.all_posts:
            status, headers, payload = 202, {}, None
        else:
            status, headers, payload = self.respond(record)
        if callable(payload):       # a stream written as it goes
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.close_connection = True
            payload(handler.wfile)
            return
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode("utf-8")
            headers = dict({"Content-Type": "application/json"}, **headers)
        payload = payload or b""
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def result(record, value):
    """ (200, {}, a JSON-RPC result for the recorded request). """
    return 200, {}, {"jsonrpc": "2.0", "id": record["body"]["id"],
                     "result": value}


def error(record, status, code, message, data=None):
    body = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return status, {}, {"jsonrpc": "2.0", "id": record["body"].get("id"),
                        "error": body}


DISCOVER = {"resultType": "complete", "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}}, "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": {
                "name": "scripted", "version": "9"}}}

INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
              "serverInfo": {"name": "scripted-legacy", "version": "1"}}
