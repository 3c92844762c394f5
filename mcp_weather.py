#!/usr/bin/env python3
"""mcp-weather: a Model Context Protocol server over Streamable HTTP, in one file.

Copy this file onto any host with CPython 3.6 or newer and run it:

    python mcp_weather.py                      # http://127.0.0.1:8000/mcp
    python mcp_weather.py --stateless          # behind a load balancer
    python mcp_weather.py --stdio              # for clients that spawn servers

It answers every MCP client: the official SDKs, MCP Inspector, our own
mcp_client.py and the tutorial's line-reading client.  It needs no package
beyond the standard library, and no API key (weather comes from Open-Meteo;
set SENIVERSE_KEY to use Seniverse instead).

The file reads top to bottom as a lesson in the protocol, in the order its
parts depend on each other.  Each section opens with a banner; the map:

Compatibility: Python 3.6
    What CPython 3.7 added and this file uses, defined once by feature
    tests (ThreadingHTTPServer, str.isascii, TLS 1.2 as the floor).  On
    3.7 and later every name is the standard library's own.

Configuration
    Every knob in one place: the protocol revisions of each era (legacy
    2025 revisions with initialize and sessions, stateless 2026-07-28;
    checklist 1.1), Config's class attributes, and for each its flag and
    environment variable, parsed strictly (parse_setting).

JSON and JSON-RPC
    Strict JSON (UTF-8, S8; no NaN, no million-digit integers), the
    JSON-RPC 2.0 message kinds (request, notification, response; 4.0),
    the error codes and the HTTP status each maps to (7.1, 7.2): RPCError
    is how every handler below says no.

JSON Schema (a small subset of 2020-12)
    The validator tools/call checks arguments with (5.3): compiled once per
    schema, every problem reported with its path, so that a model can
    correct its call.

Tools
    Tool (name, description, inputSchema, outputSchema, annotations,
    taskSupport; 5.2), the parameters a tool marks x-mcp-header for
    2026-07-28 (S60), the registries that list changes come from, and the
    content blocks a tool may return (text, image, audio, resource links,
    embedded resources), fitted to each revision.

Resources and prompts
    Resource, ResourceTemplate (URI templates) and Prompt, and how their
    functions' return values become resources/read contents and
    prompts/get messages.

Sessions and streams
    What a server keeps between HTTP requests, under sub-banners: the
    requests it may send a client (sampling, elicitation, roots; S23, S24)
    and MRTR's sealed requestState; Cancellation (6.2); Stream, the
    ordered, replayable outbox of one SSE stream, and Session (S38-S51);
    Listener, one subscriptions/listen stream; SessionStore, bounded and
    expiring (B-5); the threads (Turns, WorkerPool, Alarms); and "A call":
    Call, what a handler uses to talk back (progress 6.1, logging 6.3),
    with the questions to the client in ClientQuestions, how they travel
    in ClientRequests, and their 2026-07-28 form in InputRounds.

Tasks
    The tasks extension of 2026-07-28 and the tasks utility of 2025-11-25:
    a tools/call answered with a task handle, polled with tasks/get,
    answered in the end; Task, TaskCall and the Tasks store with its
    bound and its reaper.

The MCP dispatcher
    The protocol itself, with no HTTP in it.  One class per feature, each
    under its own sub-banner: FeatureCommon (pages and cursors, 6.4),
    ToolsFeature (5), TasksFeature, ResourcesFeature with ResourceWatch,
    PromptsFeature and CompletionFeature (6.5), LoggingFeature (6.3),
    ServerNotifications (S34) and ListenFeature (subscriptions/listen);
    then MCPDispatcher, which composes them and owns the method tables
    and the lifecycle: dispatch, errors, capabilities (4.1), initialize
    and ping (4.1, 4.2), server/discover and the 2026-07-28 checks (1.3,
    4.3, S62-S64).

HTTP/1.1 messages
    Header fields read straight off the socket without the email package
    (HeaderFields, read_headers): the same case-insensitive view
    http.client offers, at a fraction of the cost per request.

Weather
    The upstream side: Upstream and UpstreamConnection (kept-alive HTTP/1.1
    with deadlines and size bounds, cut off at once when a call is
    cancelled), a TTL cache, and the Open-Meteo and Seniverse providers.

Weather tools
    get_weather, get_forecast and get_forecasts, the weather:// resources
    and templates, the weather_report prompt and its completions, and
    build_dispatcher(): the example that puts the sections above to use.

Authorization: an OAuth 2.0 resource server
    Bearer tokens checked by introspection (RFC 7662) with a cache, the
    audience and scopes a token must carry (S69-S71), and the principal a
    session is bound to (S47); last, BearerAuthorization, the handler's
    part that checks a request's token (a static --token or an OAuth
    one), answers 401 or 403 with a WWW-Authenticate challenge (S66-S68)
    and serves the protected-resource metadata (RFC 9728, S65-S67).

HTTP transport
    Streamable HTTP on http.server, one class a concern, each under its
    own sub-banner, in the order they build on each other:
    HTTP11RequestHandler, the connection (TLS handshake, keep-alive, each
    request read within --request-timeout, the Date header, the access
    log); RequestChecks, reading and checking a request (path, S1; Host
    and Origin, S2-S6; Content-Type and body, S8-S10; the session,
    S48-S49; the version and the 2026-07-28 headers, S53-S62);
    AnswerWriter, the framing chosen from Accept (JSON, SSE or NDJSON;
    S9, S15-S17, S31) and written, keep-alives, a client gone;
    StreamDelivery, a stream's messages as they come, JSON that turns
    into SSE, early close for polling and resumption (S19-S30, S39-S42);
    then MCPRequestHandler, which only routes POST, GET (S32-S36), DELETE
    (S50) and OPTIONS.  Last, KeepAlives (one thread for the keep-alives
    of idle streams), ClientSessions and MCPServer.

Worker processes
    --workers: one listening socket shared by several processes, so every
    core of one host serves one port; the parent restarts a worker that
    dies.

stdio transport
    The same dispatcher over stdin and stdout: one message per line, one
    implicit session.

Command line
    main(argv): the flags, logging, and the choice of transport.

Cookbook:

1. Add a tool to the weather server (same flags, same transports)::

    import mcp_weather

    def my_tools(dispatcher):
        @dispatcher.tool("add", "Add two numbers.", {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"]})
        def add(arguments, call):
            return str(arguments["a"] + arguments["b"])

    mcp_weather.main(setup=my_tools)

2. A server with only your tools: ``main(setup=my_tools, weather=False)``.

3. Drive the protocol without HTTP (tests, notebooks)::

    dispatcher = mcp_weather.build_dispatcher()
    sent = []
    dispatcher.handle({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                      sent.append, version="2025-11-25")
"""

__author__ = "mcp-weather maintainers"
__version__ = "1.0.0"
__license__ = "MIT"

import argparse
import base64
import binascii
import collections
import copy
import functools
import hashlib
import heapq
import hmac
import http.client
import http.server
import io
import itertools
import json
import logging
import math
import os
import re
import secrets
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import weakref

try:
    import ssl          # missing only from unusual builds: then no HTTPS
except ImportError:     # pragma: no cover
    ssl = None

try:
    import resource     # Unix only: elsewhere the process limits stay as-is
except ImportError:     # pragma: no cover
    resource = None

log = logging.getLogger("mcp_weather")


###############################################################################
# Compatibility: Python 3.6 ###################################################
###############################################################################
# The enterprise hosts this file is copied onto often have no interpreter but
# Python 3.6 (RHEL 8's platform-python, RHEL 7.7+, SLES 15).  What CPython 3.7
# added and this file uses is defined here once, by feature detection: on 3.7
# and later every name below is the standard library's own, nothing dropped.

if hasattr(http.server, "ThreadingHTTPServer"):
    ThreadingHTTPServer = http.server.ThreadingHTTPServer
else:
    class ThreadingHTTPServer(socketserver.ThreadingMixIn,
                              http.server.HTTPServer):
        """ http.server.ThreadingHTTPServer of 3.7: one daemon thread per
        connection.  Daemon threads are not joined by server_close() on
        3.7+ either (block_on_close applies to non-daemon threads only). """
        daemon_threads = True

if hasattr(str, "isascii"):
    str_isascii = str.isascii
else:
    def str_isascii(text):
        """ str.isascii of 3.7: every character below U+0080. """
        try:
            text.encode("ascii")
        except UnicodeEncodeError:
            return False
        return True


def set_minimum_tls_1_2(context):
    """ Refuse SSL 3, TLS 1.0 and 1.1 on an ssl.SSLContext: with
    minimum_version where it exists (3.7+), else with the OP_NO_* options
    that 3.7 deprecated in its favour. """
    if hasattr(context, "minimum_version"):
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    else:                                                   # 3.6
        context.options |= ssl.OP_NO_SSLv3 | ssl.OP_NO_TLSv1 | \
            ssl.OP_NO_TLSv1_1


###############################################################################
# Configuration ###############################################################
###############################################################################

SERVER_NAME = "mcp-weather"
SERVER_TITLE = "MCP Weather"

# Protocol revisions.  The three "legacy" ones use the initialize handshake
# and sessions; 2026-07-28 is stateless: every request carries its version in
# params._meta (checklist 1.1).  Dates compare correctly as strings.
LEGACY_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS = ("2026-07-28",)
LATEST_LEGACY = LEGACY_VERSIONS[-1]
ASSUMED_VERSION = "2025-03-26"      # no header and no session (S54)

INSTRUCTIONS = (
    "Weather tools. get_weather gives current conditions for a city; "
    "get_forecast gives a daily forecast for 1 to 7 days; get_forecasts "
    "gives forecasts for many cities at once (as a task, for clients that "
    "take tasks). City names may be "
    "written in any language or script (Hangzhou, 杭州, São Paulo). "
    "Each result has a readable text and, for clients that support it, "
    "structured data. The same weather can be read as the resources "
    "weather://{city}/current and weather://{city}/forecast.")


class Config(object):
    """ Every knob of the server, with its default.

    Each attribute is also a command-line flag (``session_ttl`` is
    ``--session-ttl``) and an environment variable, listed in OPTIONS below.
    Build one with keyword overrides: ``Config(port=0, stateless=True)``.
    """

    host = "127.0.0.1"          # loopback by default (S4)
    port = 8000
    path = "/mcp"               # also answered at /mcp/, never redirected
    stateless = False           # no sessions: for load balancers (B-1)
    stdio = False
    log_level = "info"
    trace = False               # log every JSON-RPC message in and out
    token = ()                  # accepted bearer tokens; empty: no auth
    auth_server = ""            # OAuth authorization server (S65-S71)
    resource_url = ""           # the audience tokens must name; "": Host
    introspection_url = ""      # RFC 7662 endpoint; "": discovered
    introspection_client_id = ""
    introspection_client_secret = ""
    required_scope = ()         # scopes every token must carry (S71)
    introspection_cache = 60.0  # seconds an active token is trusted
    allow_origin = ()           # extra Origins allowed (S2, S3)
    allow_host = ()             # extra Host names allowed (field notes B-16)
    session_ttl = 1800.0        # idle seconds before a session expires
    max_sessions = 10000        # live sessions; LRU idle one evicted (B-5)
    max_client_sessions = 0     # live sessions per client address; 0: any
    max_client_listens = 16     # open listen streams per client; 0: any
    watch_interval = 60.0       # s between re-reads of watched resources
    max_body = 4 * 1024 * 1024  # bytes; larger bodies get 413
    keepalive = 15.0            # seconds between SSE keep-alive comments
    idle_timeout = 120.0        # seconds an idle keep-alive connection lives
    thread_stack = 0            # KiB of stack per thread; 0: the system's
    request_timeout = 10.0      # seconds to send one request (slowloris)
    tls_cert = ""               # PEM certificate chain: serve HTTPS
    tls_key = ""                # PEM private key; "": inside tls_cert
    node_id = ""                # session id prefix; "" picks a random one
    page_size = 50              # tools per tools/list page
    list_ttl = 60.0             # ttlMs hint on 2026-07-28 list results
    replay_buffer = 256         # events kept per stream for Last-Event-ID
    retained_streams = 16       # finished streams kept per session
    sse_retry = 1000            # ms clients wait before reconnecting (S21)
    sse_poll_after = 0.0        # close long POST streams after N s (S20)
    shutdown_timeout = 10.0     # seconds in-flight requests get on SIGTERM
    client_request_timeout = 300.0  # seconds a tool waits for the client
    state_secret = ""           # signs 2026-07-28 requestState; "": random
    task_ttl = 3600.0           # seconds a task is kept after it is made
    max_tasks = 1000            # tasks kept; the oldest finished one goes
    task_poll_interval = 1.0    # seconds; the pollIntervalMs tasks suggest
    workers = 1                 # processes sharing the port; needs stateless
    provider = "auto"           # open-meteo, seniverse, or auto
    seniverse_key = ""
    seniverse_language = "en"
    geocoding_url = "https://geocoding-api.open-meteo.com/v1/search"
    forecast_url = "https://api.open-meteo.com/v1/forecast"
    seniverse_url = "https://api.seniverse.com/v3/weather/now.json"
    seniverse_daily_url = ""    # "" derives daily.json from seniverse_url
    weather_timeout = 10.0      # seconds per upstream request
    cache_ttl = 600.0           # seconds; 0 disables the weather cache

    def __init__(self, **overrides):
        for name, value in overrides.items():
            if not hasattr(Config, name) or name.startswith("_"):
                raise TypeError("unknown setting %r" % name)
            setattr(self, name, value)

    @classmethod
    def from_env(cls, environ=None, **overrides):
        """ A Config from environment variables, then keyword overrides. """
        environ = os.environ if environ is None else environ
        values = {}
        for name, env, _ in OPTIONS:
            if environ.get(env, "") != "":
                values[name] = parse_setting(name, environ[env], env)
        values.update(overrides)
        return cls(**values)


# name, environment variable, help.  The type follows the default's type.
OPTIONS = [
    ("host", "MCP_HOST", "address to listen on (default 127.0.0.1; "
     "0.0.0.0 exposes the server to the network)"),
    ("port", "MCP_PORT", "TCP port (default 8000; 0 picks a free one)"),
    ("path", "MCP_PATH", "endpoint path (default /mcp; /mcp/ works too)"),
    ("stateless", "MCP_STATELESS", "issue no sessions: every POST stands "
     "alone, GET and DELETE answer 405. Use behind load balancers and for "
     "clients that never send Mcp-Session-Id"),
    ("stdio", "MCP_STDIO", "serve JSON-RPC over stdin/stdout instead of "
     "HTTP (logs go to stderr)"),
    ("log_level", "MCP_LOG_LEVEL", "debug, info, warning or error"),
    ("trace", "MCP_TRACE", "log every JSON-RPC message in and out"),
    ("token", "MCP_AUTH_TOKEN", "require 'Authorization: Bearer TOKEN' "
     "(repeat or separate with commas to accept several)"),
    ("auth_server", "MCP_AUTH_SERVER", "OAuth 2.0 authorization server "
     "(its issuer URL): publish protected-resource metadata naming it and "
     "accept the tokens it issues, checked by introspection"),
    ("resource_url", "MCP_RESOURCE_URL", "this server's public URL, the "
     "audience OAuth tokens must name (default: from the Host header)"),
    ("introspection_url", "MCP_INTROSPECTION_URL", "OAuth token "
     "introspection endpoint (default: from the authorization server's "
     "metadata)"),
    ("introspection_client_id", "MCP_INTROSPECTION_CLIENT_ID", "client id "
     "this server uses to call the introspection endpoint"),
    ("introspection_client_secret", "MCP_INTROSPECTION_CLIENT_SECRET",
     "client secret for the introspection endpoint (prefer the environment "
     "variable: other users can read flags with ps)"),
    ("required_scope", "MCP_REQUIRED_SCOPE", "an OAuth scope every token "
     "must carry, else 403 (repeatable, comma-separated)"),
    ("introspection_cache", "MCP_INTROSPECTION_CACHE", "seconds an active "
     "token's introspection answer is reused (default 60; 0 asks every "
     "time)"),
    ("allow_origin", "MCP_ALLOWED_ORIGINS", "an Origin allowed besides "
     "loopback ones, e.g. https://app.example.com, or * for any "
     "(repeatable, comma-separated)"),
    ("allow_host", "MCP_ALLOWED_HOSTS", "a Host name allowed besides "
     "loopback ones, for reverse proxies (repeatable, comma-separated)"),
    ("session_ttl", "MCP_SESSION_TTL", "seconds before an idle session "
     "expires (default 1800)"),
    ("max_sessions", "MCP_MAX_SESSIONS", "most live sessions; the least "
     "recently used idle one is evicted first (default 10000)"),
    ("max_client_sessions", "MCP_MAX_CLIENT_SESSIONS", "most live sessions "
     "per client address; that client's least recently used idle one is "
     "evicted first (default 0: no cap)"),
    ("max_client_listens", "MCP_MAX_CLIENT_LISTENS", "most open "
     "2026-07-28 subscriptions/listen streams per client (its token, else "
     "its address); more are refused (default 16; 0: no cap)"),
    ("watch_interval", "MCP_WATCH_INTERVAL", "seconds between re-reads of "
     "the resources clients watch (subscribe, listen), to tell them when "
     "one changed; nothing is read while nobody watches (default 60; "
     "0: never)"),
    ("max_body", "MCP_MAX_BODY", "largest request body in bytes "
     "(default 4194304)"),
    ("keepalive", "MCP_KEEPALIVE", "seconds between SSE keep-alive "
     "comments (default 15)"),
    ("idle_timeout", "MCP_IDLE_TIMEOUT", "seconds an idle HTTP keep-alive "
     "connection is held open (default 120)"),
    ("thread_stack", "MCP_THREAD_STACK", "KiB of stack reserved for each "
     "thread (one per open connection); 0 keeps the system's, ulimit -s, "
     "often 8192. Python 3.13 needs 2048 for JSON nested as deep as it "
     "parses (default 0)"),
    ("request_timeout", "MCP_REQUEST_TIMEOUT", "seconds a client has to "
     "send a whole request, head and body (and, with TLS, to finish the "
     "handshake); slower clients get 408 (default 10)"),
    ("tls_cert", "MCP_TLS_CERT", "PEM certificate file (with its chain): "
     "serve HTTPS instead of HTTP"),
    ("tls_key", "MCP_TLS_KEY", "PEM private key file for --tls-cert "
     "(default: inside the certificate file)"),
    ("node_id", "MCP_NODE_ID", "prefix of every session id, so a router "
     "can send a session back to its node (default: random)"),
    ("page_size", "MCP_PAGE_SIZE", "tools per tools/list page (default 50)"),
    ("list_ttl", "MCP_LIST_TTL", "seconds 2026-07-28 clients may cache "
     "discover and list results (default 60)"),
    ("replay_buffer", "MCP_REPLAY_BUFFER", "events kept per SSE stream for "
     "resumption with Last-Event-ID (default 256)"),
    ("retained_streams", "MCP_RETAINED_STREAMS", "finished streams kept per "
     "session for resumption (default 16)"),
    ("sse_retry", "MCP_SSE_RETRY", "milliseconds clients wait before "
     "reconnecting, sent as the SSE retry field (default 1000)"),
    ("sse_poll_after", "MCP_SSE_POLL_AFTER", "close a POST's SSE stream "
     "after this many seconds so 2025-11-25 clients poll with GET "
     "(default 0: never)"),
    ("shutdown_timeout", "MCP_SHUTDOWN_TIMEOUT", "seconds in-flight "
     "requests get to finish on SIGTERM or SIGINT (default 10)"),
    ("client_request_timeout", "MCP_CLIENT_REQUEST_TIMEOUT", "seconds a "
     "tool waits for the client to answer sampling, elicitation or roots "
     "requests; a person may be typing (default 300)"),
    ("state_secret", "MCP_STATE_SECRET", "key that seals the requestState "
     "of 2026-07-28 multi-round requests; give every replica behind a load "
     "balancer the same one (default: random at start, shared by --workers)"),
    ("task_ttl", "MCP_TASK_TTL", "seconds a task (a tools/call answered "
     "later) is kept from its creation, then forgotten; one still running "
     "is cancelled (default 3600)"),
    ("max_tasks", "MCP_MAX_TASKS", "most tasks kept at once; the oldest "
     "finished one is forgotten first, and when all are running new ones "
     "are refused (default 1000)"),
    ("task_poll_interval", "MCP_TASK_POLL_INTERVAL", "seconds between "
     "tasks/get polls that tasks suggest to clients (default 1)"),
    ("workers", "MCP_WORKERS", "processes that share the port, e.g. one "
     "per core; Linux only, and only with --stateless (default 1)"),
    ("provider", "WEATHER_PROVIDER", "open-meteo, seniverse, or auto "
     "(seniverse when SENIVERSE_KEY is set)"),
    ("seniverse_key", "SENIVERSE_KEY", "Seniverse API key"),
    ("seniverse_language", "SENIVERSE_LANGUAGE", "Seniverse language, "
     "e.g. en or zh-Hans (default en)"),
    ("geocoding_url", "WEATHER_GEOCODING_URL", "Open-Meteo geocoding URL"),
    ("forecast_url", "WEATHER_FORECAST_URL", "Open-Meteo forecast URL"),
    ("seniverse_url", "SENIVERSE_URL", "Seniverse now.json URL"),
    ("seniverse_daily_url", "SENIVERSE_DAILY_URL", "Seniverse daily.json "
     "URL (default: beside SENIVERSE_URL)"),
    ("weather_timeout", "WEATHER_TIMEOUT", "seconds per upstream request "
     "(default 10)"),
    ("cache_ttl", "WEATHER_CACHE_TTL", "seconds weather and places are "
     "cached; 0 disables (default 600)"),
]


def parse_setting(name, text, where):
    """ Convert one flag or environment value to the type of its default. """
    default = getattr(Config, name)
    try:
        if isinstance(default, bool):
            if text.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if text.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("expected true or false")
        if isinstance(default, tuple):
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return type(default)(text)
    except ValueError as exc:
        raise SystemExit("%s: bad value %r (%s)" % (where, text, exc))


###############################################################################
# JSON and JSON-RPC ###########################################################
###############################################################################

MAX_INT_DIGITS = 4300   # like Python 3.11's limit; stops quadratic int()

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020        # 2026-07-28 (S56, S59)
MISSING_CAPABILITY = -32021     # 2026-07-28 (S62)
UNSUPPORTED_VERSION = -32022    # 2026-07-28 (checklist 1.3)
URL_ELICITATION_REQUIRED = -32042   # 2025-11-25 only (Call.require_url)


class RPCError(Exception):
    """ A JSON-RPC error, with the HTTP status it travels with.

    Most errors ride in a 200 response; transport-level ones (a body that is
    not JSON, a bad envelope, a missing session) carry 4xx (checklist 7.2).
    """

    def __init__(self, code, message, data=None, status=200, headers=()):
        Exception.__init__(self, message)
        self.code, self.message, self.data = code, message, data
        self.status, self.headers = status, list(headers)

    def response(self, request_id=None):
        """ The error response; the id is omitted when unknown (7.1). """
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        message = {"jsonrpc": "2.0", "error": error}
        if request_id is not None:
            message["id"] = request_id
        return message


def _strict_int(text):
    if len(text) > MAX_INT_DIGITS:
        raise ValueError("integer with more than %d digits" % MAX_INT_DIGITS)
    return int(text)


def _strict_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range: %s" % text[:40])
    return value


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def parse_json(data):
    """ Parse a UTF-8 JSON body (S8), refusing what JSON does not allow.

    Python's json module accepts NaN and Infinity and will happily spend
    minutes converting a million-digit integer; a server must not.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RPCError(PARSE_ERROR, "Parse error: body is not valid UTF-8 "
                       "(byte %d)" % exc.start, status=400)
    try:
        return STRICT_JSON.decode(text.lstrip("\ufeff"))
    except RecursionError:
        raise RPCError(PARSE_ERROR, "Parse error: JSON nested too deeply",
                       status=400)
    except ValueError as exc:
        raise RPCError(PARSE_ERROR, "Parse error: %s" % exc, status=400)


def encode_json(message):
    """ Compact UTF-8 JSON.  A lone surrogate from the client is written back
    as its \\uXXXX escape, which is still valid JSON.  A listing whose
    entries are kept encoded (EncodedDict: tools/list) is spliced together
    from them instead of being encoded again.  An integer (a request id,
    in every response) is written directly: the encoder's general path
    costs many times more for a bare number, and gives the same digits. """
    if type(message) is int:
        return b"%d" % message
    if type(message) is dict:
        spliced = splice_listing(message)
        if spliced is not None:
            return spliced
    return COMPACT_JSON.encode(message).encode("utf-8", "backslashreplace")


class EncodedDict(dict):
    """ A read-only dict kept with its JSON (``.json``), for entries that
    many responses repeat unchanged (the tools of tools/list). """

    def __init__(self, *args, **kwargs):
        dict.__init__(self, *args, **kwargs)
        self.json = encode_json(self)

    def _read_only(self, *args, **kwargs):
        raise TypeError("an EncodedDict is kept encoded: copy it to change "
                        "it")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):           # copies and pickles are plain dicts
        return dict, (dict(self),)

    def __deepcopy__(self, memo):
        return copy.deepcopy(dict(self), memo)


def splice_listing(message):
    """ The JSON of a response {"jsonrpc", "id", "result": {field: [entry,
    ...], "nextCursor"?}} whose entries are all EncodedDicts, made of their
    kept JSON: byte for byte what encoding it whole would give.  None for
    any other message. """
    if type(message) is not dict or \
            list(message) != ["jsonrpc", "id", "result"] or \
            message["jsonrpc"] != "2.0" or type(message["result"]) is not dict:
        return None
    result = message["result"]
    fields = list(result)
    if not fields or fields[1:] not in ([], ["nextCursor"]):
        return None
    entries = result[fields[0]]
    if type(entries) is not list or not entries or \
            not all(type(entry) is EncodedDict for entry in entries):
        return None
    tail = b""
    if len(fields) == 2:
        tail = b',"nextCursor":' + encode_json(result["nextCursor"])
    return b'{"jsonrpc":"2.0","id":%s,"result":{%s:[%s]%s}}' % (
        encode_json(message["id"]), encode_json(fields[0]),
        b",".join(entry.json for entry in entries), tail)


# One decoder and one encoder for every message: json.loads() and
# json.dumps() build a new one per call when given options.
STRICT_JSON = json.JSONDecoder(parse_int=_strict_int,
                               parse_float=_strict_float,
                               parse_constant=_reject_constant)
COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                                allow_nan=False)


def is_request_id(value):
    """ Ids are strings or integers, never null, floats or booleans (4.0). """
    return isinstance(value, str) or (isinstance(value, int)
                                      and not isinstance(value, bool))


def message_kind(message):
    """ Classify one JSON-RPC message: 'request', 'notification' or
    'response'.  Raise RPCError(-32600) for anything else.
    """
    if not isinstance(message, dict):
        raise RPCError(INVALID_REQUEST, "Invalid Request: a JSON-RPC message "
                       "is an object", status=400)
    if message.get("jsonrpc") != "2.0":
        raise RPCError(INVALID_REQUEST, "Invalid Request: 'jsonrpc' must be "
                       "\"2.0\"", status=400)
    if "method" in message:
        if not isinstance(message["method"], str):
            raise RPCError(INVALID_REQUEST, "Invalid Request: 'method' must "
                           "be a string", status=400)
        params = message.get("params", {})
        if not isinstance(params, dict):
            raise RPCError(INVALID_REQUEST, "Invalid Request: 'params' must "
                           "be an object", status=400)
        if "id" not in message:
            return "notification"
        if not is_request_id(message["id"]):
            raise RPCError(INVALID_REQUEST, "Invalid Request: 'id' must be a "
                           "string or an integer", status=400)
        return "request"
    if "id" in message and (("result" in message) != ("error" in message)):
        return "response"
    raise RPCError(INVALID_REQUEST, "Invalid Request: neither a request, a "
                   "notification nor a response", status=400)


def request_key(request_id):
    """ A request id as the key of its call among a session's calls in
    flight: its JSON text, which tells 1 from "1". """
    return encode_json(request_id).decode("utf-8")


def readable_id(message):
    """ The id of a message if it is a usable one, else None (7.1). """
    if isinstance(message, dict) and is_request_id(message.get("id")):
        return message["id"]
    return None


def notification(method, params):
    return {"jsonrpc": "2.0", "method": method, "params": params}


###############################################################################
# JSON Schema (a small subset of 2020-12) #####################################
###############################################################################

# Keywords covered: type (one or a list), enum, const, properties, required,
# additionalProperties, items, minItems, maxItems, minLength, maxLength,
# pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum.  Others are
# ignored, which JSON Schema allows for unknown keywords.

def _is_integer(value):
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _instance_test(python):
    return lambda value: isinstance(value, python)


_TYPE_TESTS = {"integer": _is_integer, "number": _is_number,
               "string": _instance_test(str), "object": _instance_test(dict),
               "array": _instance_test(list), "boolean": _instance_test(bool),
               "null": _instance_test(type(None))}


def _never(value):
    return False


def _same(a, b):
    """ JSON equality: in JSON, true is not 1. """
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _describe(value):
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


_COMPILED = {}          # id(schema) -> (schema, check); see validate()


def validate(schema, value, path="arguments"):
    """ Check value against a JSON Schema; return a list of problems.

    A schema is compiled into a check function the first time it is used
    (a tool's output is validated on every call, 5.3), so a schema must not
    be changed in place once used; a new one is compiled afresh. """
    entry = _COMPILED.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_COMPILED) >= 256:       # schemas made per call: stay small
            _COMPILED.clear()
        entry = _COMPILED[id(schema)] = (schema, compile_schema(schema))
    problems = []
    entry[1](value, path, problems)
    return problems


def compile_schema(schema):
    """ check(value, path, problems) for one schema: its keywords are read
    here, once, and the check does only what they ask. """
    if schema is False:
        def refuse(value, path, problems):
            problems.append("%s is not allowed" % _at(path))
        return refuse
    if not isinstance(schema, dict):
        return _accept
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        tests = [_TYPE_TESTS.get(name, _never) for name in types]
        type_ok = tests[0] if len(tests) == 1 else \
            (lambda value: any(test(value) for test in tests))
    enum, const = schema.get("enum"), schema.get("const")
    has_enum, has_const = "enum" in schema, "const" in schema
    string, number = _string_check(schema), _number_check(schema)
    obj, array = _object_check(schema), _array_check(schema)

    def check(value, path, problems):
        if types is not None and not type_ok(value):
            problems.append("%s must be of type %s, not %s" % (
                _at(path), " or ".join(types), _describe(value)))
            return
        if has_enum and not any(_same(value, v) for v in enum):
            problems.append("%s must be one of %s"
                            % (_at(path), json.dumps(enum)))
        if has_const and not _same(value, const):
            problems.append("%s must be %s" % (_at(path), json.dumps(const)))
        if isinstance(value, str):
            string(value, path, problems)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if number is not None:
                number(value, path, problems)
        elif isinstance(value, dict):
            if obj is not None:
                obj(value, path, problems)
        elif isinstance(value, list):
            if array is not None:
                array(value, path, problems)
    return check


def _accept(value, path, problems):
    pass


def _at(path):
    """ A value's place as text: checks pass (parent, key) pairs down,
    and only a problem needs them spelt out. """
    if isinstance(path, str):
        return path
    parent, key = path
    if isinstance(key, int):
        return "%s[%d]" % (_at(parent), key)
    return "%s.%s" % (_at(parent), key)


def _string_check(schema):
    least, most = schema.get("minLength", 0), schema.get("maxLength")
    pattern = schema.get("pattern")
    if pattern is not None:
        try:
            search = re.compile(pattern).search
        except re.error:            # raised when used, as re.search would
            search = lambda value: re.search(pattern, value)   # noqa: E731

    def check(value, path, problems):
        try:
            if not str_isascii(value):
                value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape
            problems.append("%s is not valid Unicode text" % _at(path))
            return
        if len(value) < least:
            problems.append("%s must have at least %d character(s)"
                            % (_at(path), least))
            return
        if most is not None and len(value) > most:
            problems.append("%s must have at most %d characters"
                            % (_at(path), most))
        if pattern is not None and not search(value):
            problems.append("%s must match %s" % (_at(path), pattern))
    return check


def _number_check(schema):
    bounds = [(schema[keyword], ok, words) for keyword, ok, words in (
        ("minimum", lambda v, b: v >= b, "at least"),
        ("maximum", lambda v, b: v <= b, "at most"),
        ("exclusiveMinimum", lambda v, b: v > b, "more than"),
        ("exclusiveMaximum", lambda v, b: v < b, "less than"))
        if keyword in schema]
    if not bounds:
        return None

    def check(value, path, problems):
        for bound, ok, words in bounds:
            if not ok(value, bound):
                problems.append("%s must be %s %s"
                                % (_at(path), words, bound))
    return check


def _object_check(schema):
    required = list(schema.get("required", ()))
    properties = dict((name, compile_schema(item)) for name, item in
                      schema.get("properties", {}).items())
    extra = schema.get("additionalProperties", True)
    other = None if extra is False else compile_schema(extra)
    if not required and not properties and other is _accept:
        return None

    def check(value, path, problems):
        for name in required:
            if name not in value:
                problems.append("%s.%s is required" % (_at(path), name))
        for name, item in value.items():
            item_check = properties.get(name, other)
            if item_check is None:
                problems.append("%s is not an accepted argument"
                                % _at((path, name)))
            else:
                item_check(item, (path, name), problems)
    return check


def _array_check(schema):
    least, most = schema.get("minItems", 0), schema.get("maxItems")
    items = compile_schema(schema["items"]) if "items" in schema else None

    def check(value, path, problems):
        if len(value) < least:
            problems.append("%s needs at least %d items" % (_at(path), least))
        if most is not None and len(value) > most:
            problems.append("%s takes at most %d items" % (_at(path), most))
        if items is not None:
            for index, item in enumerate(value):
                items(item, (path, index), problems)
    return check


###############################################################################
# Tools #######################################################################
###############################################################################

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")   # 5.2, 2025-11-25


class ToolError(Exception):
    """ Raise from a tool to report a failure the model should read: it
    becomes a result with isError true, not a protocol error (5.3). """


# 2026-07-28 (S60): a tool may mark a parameter {"x-mcp-header": "Region"};
# clients then copy its value into an "Mcp-Param-Region" header, so that
# proxies and gateways can route on it without reading the body, and the
# server checks the header against the body (check_param_headers, HTTP).
# Only string, integer and boolean properties reached from the root by
# "properties" alone may carry one; the name is an HTTP token.
PARAM_HEADER_TYPES = ("string", "integer", "boolean")
HTTP_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def param_headers(schema, path=()):
    """ [(path, header name)] of the parameters marked x-mcp-header in a
    tool's inputSchema: path is the chain of property names, e.g.
    ("region",), and the header is "Mcp-Param-" + the annotation. """
    found = []
    properties = schema.get("properties") if isinstance(schema, dict) \
        else None
    for name, sub in (properties or {}).items():
        if not isinstance(sub, dict):
            continue
        if "x-mcp-header" in sub:
            found.append((path + (name,),
                          "Mcp-Param-%s" % sub["x-mcp-header"]))
        found.extend(param_headers(sub, path + (name,)))
    return found


def param_header_problem(schema):
    """ What is wrong with a schema's x-mcp-header marks, or None: a name
    that is not an HTTP token, a type other than string, integer or
    boolean, or a name used twice (header names ignore case). """
    seen = set()
    for path, header in param_headers(schema):
        where = ".".join(path)
        node = schema
        for name in path:
            node = node["properties"][name]
        mark = node["x-mcp-header"]
        if not isinstance(mark, str) or not HTTP_TOKEN.match(mark):
            return "%s: x-mcp-header must be an HTTP token" % where
        if node.get("type") not in PARAM_HEADER_TYPES:
            return "%s: x-mcp-header needs type string, integer or " \
                "boolean" % where
        if header.lower() in seen:
            return "%s: header %s is named twice" % (where, header)
        seen.add(header.lower())
    return None


class Tool(object):
    """ One tool: what tools/list shows and the function tools/call runs.

    The function takes (arguments, call) and returns a string (one text
    block), a list of content blocks (strings become text blocks; see
    image_content() and friends below), a dict with "content" (a whole
    CallToolResult), or any other dict (structured content, also sent as
    JSON text).
    """

    def __init__(self, name, description, input_schema, function,
                 title=None, output_schema=None, annotations=None,
                 requires=(), task_support="forbidden", defer_task=False):
        if not TOOL_NAME.match(name):
            raise ValueError("tool names are 1-128 of A-Z a-z 0-9 _ - .")
        if not isinstance(input_schema, dict) or \
                input_schema.get("type") != "object":
            raise ValueError("a tool's inputSchema must have type object")
        problem = param_header_problem(input_schema)
        if problem:
            raise ValueError("tool %s: %s (S60)" % (name, problem))
        if task_support not in ("forbidden", "optional", "required"):
            raise ValueError("task_support: forbidden, optional or required")
        self.name = self.key = name
        self.description = description
        self.input_schema, self.function = input_schema, function
        self.title, self.output_schema = title, output_schema
        self.annotations = annotations
        self.requires = tuple(requires)     # client capabilities it needs
        # Tasks (the 2026-07-28 tasks extension, see Tasks): "optional" or
        # "required" tools may answer with a task handle.  A defer_task
        # tool runs on the request first (it may ask the client, MRTR) and
        # returns call.as_task(work) for the part that becomes the task.
        self.task_support, self.defer_task = task_support, defer_task

    def missing_capabilities(self, declared):
        """ The client capabilities this tool needs that were not declared
        (a capability is declared as an object, e.g. "sampling": {}). """
        return [name for name in self.requires
                if not isinstance(declared.get(name), dict)]

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        object.__setattr__(self, "entries", {})     # describe() anew

    def describe(self, version):
        """ The Tool object for tools/list; fields a revision lacks are left
        out (title and outputSchema arrived in 2025-06-18).  It is built
        once per kind of revision and kept, encoded (EncodedDict), until an
        attribute of the tool is set: change a tool through its attributes,
        not inside its schemas. """
        later = version >= "2025-06-18"
        kind = (later, version >= "2025-11-25")     # tasks from 2025-11-25
        entry = self.entries.get(kind)
        if entry is None:
            entry = {"name": self.name, "description": self.description,
                     "inputSchema": self.input_schema}
            if self.annotations:
                entry["annotations"] = self.annotations
            if later:
                if self.title:
                    entry["title"] = self.title
                if self.output_schema:
                    entry["outputSchema"] = self.output_schema
            if kind[1] and self.task_support != "forbidden":
                entry["execution"] = {"taskSupport": self.task_support}
            entry = self.entries[kind] = EncodedDict(entry)
        return entry


class Registry(object):
    """ The things of one kind a dispatcher offers (tools, prompts,
    resources, resource templates), by key (name or URI), in registration
    order: a deterministic order, as 2026-07-28 asks.  Listeners hear about
    every change, which is how notifications/*/list_changed reach clients. """

    def __init__(self):
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()
        self.listeners = []

    def add(self, item):
        """ Offer item (replacing one with the same key); the listeners
        hear of it, so clients get notifications/*/list_changed. """
        with self._lock:
            self._items[item.key] = item
        self._changed()
        return item

    def remove(self, key):
        """ Stop offering the item with this key; returns it, or None if
        there was none (then nothing changed and nobody is told). """
        with self._lock:
            removed = self._items.pop(key, None)
        if removed is not None:
            self._changed()
        return removed

    def get(self, key):
        return self._items.get(key)

    def list(self):
        with self._lock:
            return list(self._items.values())

    def __len__(self):
        return len(self._items)

    def _changed(self):
        for listener in list(self.listeners):
            listener()


class ToolRegistry(Registry):
    """ The tools a dispatcher offers, with the decorator that adds one. """

    def tool(self, name, description, input_schema, **options):
        """ Decorator: register a function as a tool.  Options: title,
        output_schema, annotations, requires (the client capabilities it
        cannot work without, e.g. ["sampling"]), task_support ("optional"
        or "required": it may run as a task, see Tasks) and defer_task. """
        def register(function):
            self.add(Tool(name, description, input_schema, function,
                          **options))
            return function
        return register


# Content blocks (5.3): what tool results and prompt messages are made of.
# Binary data travels as base64 text.

def text_content(text):
    return {"type": "text", "text": text}


def image_content(data, mime_type="image/png"):
    """ An image: data is bytes, or text already in base64. """
    return {"type": "image", "data": as_base64(data), "mimeType": mime_type}


def audio_content(data, mime_type="audio/wav"):
    """ A sound clip (2025-03-26 and later): bytes, or base64 text. """
    return {"type": "audio", "data": as_base64(data), "mimeType": mime_type}


def embedded_resource(uri, content, mime_type=None):
    """ A resource carried inline: text (str) or a blob (bytes). """
    return {"type": "resource",
            "resource": resource_contents(uri, content, mime_type)}


def resource_link(uri, name, **fields):
    """ A link to a resource the client may read later with resources/read
    (2025-06-18 and later).  fields: title, description, mimeType, size. """
    block = {"type": "resource_link", "uri": uri, "name": name}
    block.update(fields)
    return block


def resource_contents(uri, content, mime_type=None):
    """ One entry of resources/read "contents": text or base64 blob. """
    entry = {"uri": uri}
    if mime_type:
        entry["mimeType"] = mime_type
    if isinstance(content, bytes):
        entry["blob"] = as_base64(content)
    else:
        entry["text"] = content
    return entry


def as_base64(data):
    if isinstance(data, bytes):
        return base64.b64encode(data).decode("ascii")
    return data


def content_blocks(items):
    """ A list of content blocks from strings (text) and blocks. """
    return [text_content(item) if isinstance(item, str) else item
            for item in items]


def fit_content(block, version):
    """ A block the negotiated revision knows: resource_link arrived in
    2025-06-18, so older clients get the link as text. """
    if block.get("type") == "resource_link" and version < "2025-06-18":
        return text_content("%s: %s" % (block.get("name"), block.get("uri")))
    return block


def tool_result(value, tool, version):
    """ Shape what a tool function returned into a CallToolResult.

    structuredContent exists from 2025-06-18 on; for older sessions it is
    dropped, and the JSON text block carries the same data (5.3).
    """
    if isinstance(value, str):
        result = {"content": [text_content(value)]}
    elif isinstance(value, list):
        result = {"content": content_blocks(value)}
    elif isinstance(value, dict) and "content" in value:
        result = dict(value)
    elif isinstance(value, dict):
        result = {"content": [text_content(json.dumps(value,
                                                      ensure_ascii=False))],
                  "structuredContent": value}
    else:
        raise TypeError("tool %s returned %s" % (tool.name, type(value)))
    result["content"] = [fit_content(block, version)
                         for block in result["content"]]
    if version < "2025-06-18":
        result.pop("structuredContent", None)
    return result


def tool_error(message):
    return {"content": [text_content(message)], "isError": True}


###############################################################################
# Resources and prompts #######################################################
###############################################################################

# Resources are data a client reads by URI (resources/list, resources/read),
# some of them named by URI templates (resources/templates/list).  Prompts
# are message templates a person picks in the client (prompts/list,
# prompts/get).  completion/complete suggests values for their arguments.
# Their handlers take (arguments, call) like tools: a template's arguments
# are the variables of the URI, a prompt's the strings the client sent.

URI_VARIABLE = re.compile(r"\{([A-Za-z0-9_]+)\}")


class NotFound(ToolError):
    """ Raise from a resource or prompt handler when what the request names
    does not exist (an unknown city): resources/read answers "Resource not
    found" with the URI (-32002, or -32602 in 2026-07-28); prompts/get
    answers -32602.  A tool that raises it gets an isError result. """


class Resource(object):
    """ A resource with a fixed URI.  The function takes (arguments, call),
    arguments being {} here, and returns text (str), a blob (bytes), a dict
    (sent as JSON text), a list of contents, or {"contents": [...]}. """

    def __init__(self, uri, name, function, description=None,
                 mime_type=None, title=None, annotations=None, size=None):
        self.uri = self.key = uri
        self.name, self.function = name, function
        self.description, self.mime_type = description, mime_type
        self.title, self.annotations, self.size = title, annotations, size

    def describe(self, version):
        """ The Resource object for resources/list (title: 2025-06-18). """
        entry = {"uri": self.uri, "name": self.name}
        for field, value in (("description", self.description),
                             ("mimeType", self.mime_type),
                             ("annotations", self.annotations),
                             ("size", self.size)):
            if value is not None:
                entry[field] = value
        if self.title and version >= "2025-06-18":
            entry["title"] = self.title
        return entry

    def match(self, uri):
        """ The template variables of uri if this names it, else None. """
        return {} if uri == self.uri else None


class ResourceTemplate(Resource):
    """ Resources named by a URI template.  Templates are RFC 6570 level 1:
    ``{name}`` stands for one non-empty path segment (no "/", "?" or "#"),
    percent-decoded before the function sees it as arguments["name"]. """

    def __init__(self, uri_template, name, function, **options):
        Resource.__init__(self, uri_template, name, function, **options)
        parts = URI_VARIABLE.split(uri_template)
        self.variables = parts[1::2]
        if len(set(self.variables)) != len(self.variables):
            raise ValueError("a URI template names each variable once")
        self.pattern = re.compile("".join(
            re.escape(part) if i % 2 == 0 else "(?P<%s>[^/?#]+)" % part
            for i, part in enumerate(parts)) + "$")

    def describe(self, version):
        entry = Resource.describe(self, version)
        entry["uriTemplate"] = entry.pop("uri")
        return entry

    def match(self, uri):
        found = self.pattern.match(uri)
        if found is None:
            return None
        return dict((name, urllib.parse.unquote(value))
                    for name, value in found.groupdict().items())


def read_contents(value, uri, mime_type=None):
    """ Shape what a resource function returned into the "contents" of a
    ReadResourceResult: every entry names its URI. """
    if isinstance(value, dict) and "contents" in value:
        value = value["contents"]
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
        mime_type = "application/json"
    if isinstance(value, (str, bytes)):
        return [resource_contents(uri, value, mime_type)]
    if not isinstance(value, list):
        raise TypeError("resource %s returned %s" % (uri, type(value)))
    return [resource_contents(uri, item, mime_type)
            if isinstance(item, (str, bytes)) else dict({"uri": uri}, **item)
            for item in value]


class Prompt(object):
    """ A prompt: a named message template with string arguments.

    arguments lists them: a name (required) or a dict with name,
    description and required.  The function takes (arguments, call) and
    returns a string (one user message), a list of messages (a string or a
    content block is a user message; a dict with "role" is a whole
    message), or {"messages": [...], "description": ...}.
    """

    def __init__(self, name, description, function, arguments=(),
                 title=None):
        self.name = self.key = name
        self.description, self.function, self.title = \
            description, function, title
        self.arguments = [{"name": a, "required": True}
                          if isinstance(a, str) else dict(a)
                          for a in arguments]

    def describe(self, version):
        entry = {"name": self.name, "description": self.description}
        if self.arguments:
            entry["arguments"] = self.arguments
        if self.title and version >= "2025-06-18":
            entry["title"] = self.title
        return entry

    def missing(self, arguments):
        """ The required arguments that were not given. """
        return [a["name"] for a in self.arguments
                if a.get("required") and a["name"] not in arguments]


def prompt_message(item, version):
    """ One PromptMessage from a string, a content block or a message. """
    if isinstance(item, str):
        item = text_content(item)
    if "role" not in item:
        item = {"role": "user", "content": item}
    return dict(item, content=fit_content(item["content"], version))


def prompt_result(value, version):
    """ Shape what a prompt function returned into a GetPromptResult. """
    if isinstance(value, dict) and "messages" in value:
        result = dict(value)
    else:
        result = {"messages": value if isinstance(value, list) else [value]}
    result["messages"] = [prompt_message(m, version)
                          for m in result["messages"]]
    return result


###############################################################################
# Sessions and streams ########################################################
###############################################################################

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical",
              "alert", "emergency")   # RFC 5424, least severe first (6.3)


MAX_SUBSCRIPTIONS = 1000              # resource URIs one session may watch


# -- Requests to the client: sampling, elicitation, roots (S23, S24) ----------

# Requests a server may send to a client: the client capability each needs,
# and the first revision that has it.
CLIENT_METHODS = {
    "sampling/createMessage": ("sampling", "2025-03-26"),
    "elicitation/create": ("elicitation", "2025-06-18"),
    "roots/list": ("roots", "2025-03-26"),
}


def sampling_request(messages, max_tokens=1000, **params):
    """ (method, params) of sampling/createMessage; messages are strings
    (user text) or SamplingMessage dicts. """
    params.update(maxTokens=max_tokens, messages=[
        {"role": "user", "content": text_content(m)}
        if isinstance(m, str) else m for m in messages])
    return "sampling/createMessage", params


def elicitation_request(message, requested_schema):
    """ (method, params) of elicitation/create. """
    return "elicitation/create", {"message": message,
                                  "requestedSchema": requested_schema}


def url_elicitation_request(message, url, elicitation_id=None):
    """ (method, params) of a URL-mode elicitation/create (2025-11-25):
    the client shows message and offers to open url, where the person
    does what must not pass through the client (sign in, pay, enter a
    secret).  The answer says only whether they agreed to go; the
    server learns the outcome out of band.  elicitationId names the
    interaction in 2025-11-25 (2026-07-28 dropped it). """
    params = {"mode": "url", "message": message, "url": url}
    if elicitation_id is not None:
        params["elicitationId"] = elicitation_id
    return "elicitation/create", params


def request_feature(method, params):
    """ The part of a client capability a request needs beyond the
    capability itself: "url" or "form" for elicitation (a client declares
    the modes it has; {} alone means form), "tools" for sampling that
    offers the model tools (2025-11-25), else None. """
    if method == "elicitation/create":
        return "url" if params.get("mode") == "url" else "form"
    if method == "sampling/createMessage" and \
            ("tools" in params or "toolChoice" in params):
        return "tools"
    return None


def answer_problem(method, result):
    """ What is wrong with a client's result for method, or None. """
    if not isinstance(result, dict):
        return "is not an object"
    if method == "elicitation/create" and \
            result.get("action") not in ("accept", "decline", "cancel"):
        return "has no action accept, decline or cancel"
    if method == "sampling/createMessage" and "content" not in result:
        return "has no content"
    if method == "roots/list" and not isinstance(result.get("roots"), list):
        return "has no roots list"
    return None


class InputRequired(Exception):
    """ 2026-07-28: a handler needs answers from the client first.  Raised
    by Call.ask_all; the request ends with an InputRequiredResult. """

    def __init__(self, requests):
        Exception.__init__(self, ", ".join(requests))
        self.requests = requests


def seal(payload, secret):
    """ JSON made tamper-evident: base64url(JSON) "." base64url(HMAC). """
    data = base64.urlsafe_b64encode(encode_json(payload))
    mac = hmac.new(secret, data, hashlib.sha256).digest()
    return (data + b"." + base64.urlsafe_b64encode(mac)).decode("ascii")


def unseal(token, secret):
    """ The payload of a sealed token, or None if it was altered. """
    if not isinstance(token, str):
        return None
    data, _, mac = token.encode("utf-8", "replace").partition(b".")
    expected = base64.urlsafe_b64encode(
        hmac.new(secret, data, hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = parse_json(base64.urlsafe_b64decode(data))
    except (RPCError, ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def missing_capability(names):
    """ -32021 with requiredCapabilities, HTTP 400 (2026-07-28, S62). """
    return RPCError(MISSING_CAPABILITY, "Missing required client "
                    "capability: %s" % ", ".join(names),
                    data={"requiredCapabilities": dict((n, {})
                                                       for n in names)},
                    status=400)


# -- Cancellation (6.2) -------------------------------------------------------

class Cancelled(Exception):
    """ The client cancelled the request: stop, and send no response. """


class ClientRequestError(ToolError):
    """ A request to the client (sampling, elicitation, roots) could not be
    sent, was refused, or got no answer in time.  Uncaught in a tool, it
    becomes an isError result that says why.  ``error`` holds the client's
    JSON-RPC error, if it sent one. """

    def __init__(self, message, error=None):
        ToolError.__init__(self, message)
        self.error = error


class Cancellation(object):
    """ The cancel flag of one request, set by notifications/cancelled or,
    in 2026-07-28, by the transport when the client closes the stream.
    Setting it also wakes every wait registered with wake_on_cancel(), so
    a handler blocked on upstream I/O returns at once.

    Every request has one, and almost none is ever waited on, so the flag
    is a plain boolean: wait() makes its own Event, only when called. """

    def __init__(self):
        self._set = False
        self._lock = threading.Lock()
        self._waiters = []

    def set(self):
        with self._lock:
            self._set = True
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.set()

    def is_set(self):
        return self._set

    def wait(self, timeout=None):
        """ Wait until cancelled (True) or for timeout seconds (False). """
        waiter = threading.Event()
        self.wake_on_cancel(waiter)
        try:
            return waiter.wait(timeout)
        finally:
            self.forget(waiter)

    def wake_on_cancel(self, waiter):
        """ Register a threading.Event to set on cancel (at once if the
        request is already cancelled); forget() it when done. """
        with self._lock:
            self._waiters.append(waiter)
            if self._set:
                waiter.set()

    def forget(self, waiter):
        with self._lock:
            self._waiters.remove(waiter)


# -- Streams and sessions (2.3-2.6) -------------------------------------------

class Stream(object):
    """ The ordered outbox of one SSE stream.

    Every POST whose answer is or may become SSE or NDJSON gets a stream (a
    quick request answered in JSON has none: answer_at_once), and each
    session has one standalone stream for GET.  Handlers push messages;
    the HTTP writer (or several, one after another, when a client
    reconnects) reads them.  Each message gets the next sequence number,
    and the last ``limit`` stay buffered so that a client that lost its
    connection can resume with Last-Event-ID and miss nothing (S38-S42).
    The limit bounds what is kept for replay, never what a connected
    writer has yet to send.  A stream that can never be resumed
    (stateless mode) forgets what it has written.
    """

    def __init__(self, number, limit, replayable=True):
        self.number, self.limit, self.replayable = number, limit, replayable
        self.events = collections.deque()     # (seq, message), seq ascending
        self.seq = 0
        self.sent = 0                         # last seq a writer has sent
        self.finished = False
        self.generation = 0                   # bumped per attached writer
        self.live = False                     # a writer is attached now
        self.carries_requests = True          # False: answered as JSON
        self.ends_without_turn = False        # a listen stream's last words
        self.cut_at = None                    # see cut()
        self.dropped = None                   # see let_go()
        self.cond = threading.Condition()
        # Called when a notification or request is pushed, or a cut asked,
        # while the call runs on its connection's thread (Inline).
        self.wake_writer = None

    def push(self, message):
        """ Append a message; False if the stream is already finished. """
        with self.cond:
            if self.finished:
                return False
            self.seq += 1
            self.events.append((self.seq, message))
            self._trim()
            self.cond.notify_all()
        if self.wake_writer is not None and "method" in message:
            self.wake_writer()
        return True

    def _trim(self):
        while self.replayable and len(self.events) > self.limit and (
                self.events[0][0] <= self.sent or not self.live):
            self.events.popleft()

    def mark_sent(self, seq):
        """ The attached writer has written every event up to seq. """
        with self.cond:
            self.sent = max(self.sent, seq)
            self._trim()

    def finish(self):
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def cut(self):
        """ Ask the writer to close its connection once the events pushed so
        far are written, without finishing the stream: the client comes
        back with GET and Last-Event-ID for the rest (S20, SEP-1699). """
        with self.cond:
            self.cut_at = self.seq
            self.cond.notify_all()
        if self.wake_writer is not None:
            self.wake_writer()

    def take_cut(self):
        """ The sequence number to cut after, once; None if none asked. """
        with self.cond:
            cut, self.cut_at = self.cut_at, None
            return cut

    def attach(self):
        """ Take over the stream for a new connection; an older writer sees
        the change and lets go (a new GET replaces the old one, B-17). """
        with self.cond:
            self.generation += 1
            self.live = True
            self.cond.notify_all()
            return self.generation

    def let_go(self, generation):
        """ Tell the writer of that generation to stop waiting: its client
        is gone (seen by KeepAlives, while the writer sleeps). """
        with self.cond:
            self.dropped = generation
            self.cond.notify_all()

    def release(self, generation):
        """ The writer of that generation is done with the stream. """
        with self.cond:
            if generation == self.generation:
                self.live = False
                self._trim()

    def holds(self, seq):
        """ Whether every event after seq is still buffered. """
        with self.cond:
            oldest = self.events[0][0] if self.events else self.seq + 1
            return oldest - 1 <= seq <= self.seq

    def wait(self, after, generation, timeout):
        """ Wait up to timeout (None: for as long as it takes) for events
        after seq `after`.

        Returns (events, finished, attached): attached is False once another
        writer has taken the stream over (or was told to let go).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                if generation != self.generation or \
                        generation == self.dropped:
                    return [], False, False
                pending = self._after(after)
                if pending or self.finished or self.cut_at is not None:
                    return pending, self.finished, True
                if deadline is None:
                    self.cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return [], False, True
                self.cond.wait(remaining)

    def _after(self, seq):
        if not self.events or self.events[-1][0] <= seq:
            return []
        start = max(0, seq - self.events[0][0] + 1)
        return list(itertools.islice(self.events, start, None))

    def forget(self, upto):
        """ Drop written events of a stream nobody can resume. """
        with self.cond:
            while self.events and self.events[0][0] <= upto:
                self.events.popleft()


class Session(object):
    """ What a legacy (2025) session remembers between HTTP requests:
    the negotiated version, the log level, in-flight calls, and streams. """

    def __init__(self, session_id, version, client_info=None,
                 capabilities=None, principal="", config=None):
        config = config or Config
        self.id = session_id
        # The tag is what event ids carry: derived from the id, so an event
        # id can name its session without repeating the secret id itself.
        self.tag = hashlib.sha256((session_id or "stdio").encode()
                                  ).hexdigest()[:12]
        self.version = version
        self.client_info = client_info or {}
        self.client_capabilities = capabilities or {}
        self.principal = principal
        self.log_level = None           # no log messages until setLevel
        self.last_seen = time.monotonic()
        self.closed = False
        self.replay_limit = config.replay_buffer
        self.retained = config.retained_streams
        self.lock = threading.Lock()
        self.inflight = {}              # request id key -> Call
        self.streams = collections.OrderedDict()   # number -> Stream
        self.next_stream = 1
        self.standalone = Stream(0, self.replay_limit)
        self.writers = 0                # HTTP connections streaming now
        self.subscriptions = set()      # resource URIs (resources/subscribe)
        self.awaited = {}               # our request id -> _Slot for answer
        self.request_ids = itertools.count(1)

    @property
    def short(self):
        """ A short id for logs; the secret part is never logged whole. """
        return (self.id or "stdio")[-8:]

    def open_stream(self, replayable=True):
        """ A new numbered stream for one POST.  Numbers are never reused,
        so event ids stay unique within the session (S39). """
        with self.lock:
            stream = Stream(self.next_stream, self.replay_limit, replayable)
            self.next_stream += 1
            if replayable:
                self.streams[stream.number] = stream
                self._trim_streams()
            return stream

    def _trim_streams(self):
        """ Forget the oldest finished streams beyond --retained-streams.
        Streams are kept in the order they opened, so the search stops at
        the first few finished ones instead of looking at every stream. """
        excess = len(self.streams) - self.retained
        if excess <= 0:
            return
        finished = (n for n, s in self.streams.items() if s.finished)
        for number in list(itertools.islice(finished, excess)):
            del self.streams[number]

    def stream(self, number):
        if number == 0:
            return self.standalone
        with self.lock:
            return self.streams.get(number)

    def event_id(self, stream, seq):
        """ Event ids encode session, stream and sequence (S39, S40). """
        return "%s.%d.%d" % (self.tag, stream.number, seq)

    def parse_event_id(self, event_id):
        """ Map a Last-Event-ID back to (stream, seq) of *this* session, or
        raise RPCError.  An id of another session is refused outright:
        replaying it would leak that session's messages (B-18). """
        parts = event_id.strip().split(".")
        if len(parts) != 3 or not parts[1].isdigit() or \
                not parts[2].isdigit():
            raise RPCError(INVALID_REQUEST, "Last-Event-ID %r is not an "
                           "event id of this server" % event_id[:80],
                           status=400)
        if not hmac.compare_digest(parts[0].encode("utf-8", "replace"),
                                   self.tag.encode()):
            raise RPCError(INVALID_REQUEST, "Last-Event-ID belongs to "
                           "another session", status=400)
        stream = self.stream(int(parts[1]))
        seq = int(parts[2])
        if stream is None or not stream.holds(seq):
            raise RPCError(INVALID_REQUEST, "the events after %s are no "
                           "longer buffered (--replay-buffer, "
                           "--retained-streams)" % event_id[:80], status=400)
        return stream, seq

    def track(self, call):
        with self.lock:
            self.inflight[call.key] = call

    def untrack(self, call):
        with self.lock:
            if self.inflight.get(call.key) is call:
                del self.inflight[call.key]

    def cancel(self, request_id):
        with self.lock:
            call = self.inflight.get(request_key(request_id))
        if call is not None:
            call.cancel()
        return call is not None

    def busy(self):
        return bool(self.inflight) or self.writers > 0

    def subscribe(self, uri):
        with self.lock:
            if uri not in self.subscriptions and \
                    len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
                raise RPCError(INVALID_PARAMS, "Too many subscriptions: at "
                               "most %d per session" % MAX_SUBSCRIPTIONS)
            self.subscriptions.add(uri)

    def unsubscribe(self, uri):
        with self.lock:
            self.subscriptions.discard(uri)

    def expect_answer(self):
        """ A fresh id for a request to the client, and the slot where the
        client's answer will land (see settle). """
        with self.lock:
            request_id = "%s-%d" % (SERVER_NAME, next(self.request_ids))
            slot = self.awaited[request_id] = _Slot()
        return request_id, slot

    def settle(self, message):
        """ Hand the client's answer to the call waiting for it; False if no
        call waits for that id (a late answer, or one never asked for). """
        with self.lock:
            slot = self.awaited.pop(readable_id(message), None)
        if slot is None:
            return False
        slot.append(message)
        slot.ready.set()
        return True

    def stop_waiting(self, request_id):
        with self.lock:
            self.awaited.pop(request_id, None)

    def log(self, level, data, logger=SERVER_NAME):
        """ A log message not tied to any request: it goes on the session's
        GET stream (S34, 6.3), if the client's level lets it through. """
        if self.log_level is not None and \
                LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.log_level):
            self.standalone.push(notification("notifications/message", {
                "level": level, "logger": logger, "data": data}))

    def close(self):
        """ End the session: cancel its calls and end its streams, the only
        time a stream ends before its response (S25, S26). """
        self.closed = True
        with self.lock:
            calls = list(self.inflight.values())
            streams = list(self.streams.values()) + [self.standalone]
        for call in calls:
            call.cancel()
        for stream in streams:
            stream.finish()


# -- Listen streams (2026-07-28) ----------------------------------------------

# subscriptions/listen (2026-07-28): what a client may ask to hear, as the
# filter's flag and the notification it lets through.
LISTEN_FLAGS = (("toolsListChanged", "notifications/tools/list_changed"),
                ("promptsListChanged", "notifications/prompts/list_changed"),
                ("resourcesListChanged",
                 "notifications/resources/list_changed"))
META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"


class Listener(object):
    """ One open subscriptions/listen request (2026-07-28, SEP-2575): the
    notifications its client asked for and the server agreed to send (the
    honoured filter), and the stream they go on.

    2026-07-28 has no GET stream and no resources/subscribe: a client that
    wants to hear of list changes or resource updates POSTs
    subscriptions/listen, and the answer is an SSE stream that stays open.
    Its first message is notifications/subscriptions/acknowledged with the
    honoured filter; then come the changes it asked for, and nothing else
    (the server MUST NOT send types the client did not request).  Every
    message carries _meta["io.modelcontextprotocol/subscriptionId"], the id
    of the listen request (5.1).  The stream ends with a response to the
    listen request when the server ends it gracefully (shutdown); a client
    that closes the stream ends the subscription (6.2).  Nothing is
    replayed: a client that re-listens reads again what it cares about.
    """

    def __init__(self, request_id, honoured, send, stream=None, client="",
                 session=None, principal=""):
        self.id, self.honoured = request_id, honoured
        self.methods = frozenset(method for flag, method in LISTEN_FLAGS
                                 if honoured.get(flag) is True)
        self.uris = frozenset(honoured.get("resourceSubscriptions", ()))
        self.task_ids = frozenset(honoured.get("taskIds", ()))
        self.send, self.stream = send, stream
        self.client, self.session = client, session
        self.principal = principal      # whose tasks it may hear of
        self.ended = False

    def wants(self, message):
        """ Whether the honoured filter lets this notification through. """
        method = message.get("method")
        if method == "notifications/resources/updated":
            return message["params"].get("uri") in self.uris
        if method == "notifications/tasks":             # Tasks
            return message["params"].get("taskId") in self.task_ids
        return method in self.methods

    def asks_nothing(self):
        return not (self.methods or self.uris or self.task_ids)

    def tagged(self, message):
        """ The message with the subscription id in params._meta. """
        params = dict(message.get("params") or {})
        params["_meta"] = dict(params.get("_meta") or {},
                               **{META_SUBSCRIPTION: self.id})
        return dict(message, params=params)

    def notify(self, message):
        """ Send a notification if the filter lets it through.  A client
        that stops reading must not make the server hold its backlog
        forever: past the stream's limit the subscription is dropped (the
        stream ends without a response; the client listens again). """
        if self.ended or not self.wants(message):
            return
        stream = self.stream
        if stream is not None and not stream.replayable and \
                len(stream.events) >= stream.limit:
            log.warning("listen %s: the client reads nothing; %d events "
                        "wait: subscription dropped", str(self.id)[:40],
                        len(stream.events))
            self.ended = True
            stream.finish()
            return
        self.send(self.tagged(message))

    def end(self, result):
        """ End the subscription gracefully: the response to the listen
        request (its result carries the subscription id), then the end of
        the stream.  Used when the server shuts down. """
        if self.ended:
            return
        self.ended = True
        self.send({"jsonrpc": "2.0", "id": self.id, "result": result})
        if self.stream is not None:
            self.stream.finish()


# -- The session store (2.6; field notes B-5) ---------------------------------

class SessionStore(object):
    """ Live sessions, with an idle timeout on by default and a cap (B-5).

    Session ids are ``<node-id>.<128+ random bits>``: the prefix lets a
    router send a session back to the node that holds it (field notes B-2,
    C-2), and the rest is unguessable (S46, S47).
    """

    def __init__(self, config):
        self.node_id = config.node_id or secrets.token_hex(3)
        if not re.match(r"^[A-Za-z0-9_-]{1,32}$", self.node_id):
            raise ValueError("node id: 1-32 of A-Z a-z 0-9 _ -")
        self.config = config
        self.ttl = config.session_ttl
        self.limit = config.max_sessions
        self._sessions = collections.OrderedDict()   # LRU order
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._sessions)

    def make_room(self):
        """ Ensure a new session fits: expired ones go, then the least
        recently used idle one; if all are busy, 503. """
        with self._lock:
            self._make_room()

    def _make_room(self):
        self._sweep()
        if len(self._sessions) >= self.limit and not self._evict():
            raise RPCError(INTERNAL_ERROR, "Too many sessions: %d live, none "
                           "idle (--max-sessions)" % self.limit, status=503)

    def create(self, version, client_info, capabilities, principal=""):
        with self._lock:
            self._make_room()
            session_id = "%s.%s" % (self.node_id, secrets.token_urlsafe(18))
            session = Session(session_id, version, client_info, capabilities,
                              principal, self.config)
            self._sessions[session_id] = session
            return session

    def get(self, session_id, principal=""):
        """ The live session with this id, or None if unknown, expired, or
        made with another token (a session is bound to its token, S47). """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._expired(session, time.monotonic()):
                self._drop(session_id)
                return None
            if not hmac.compare_digest(session.principal, principal):
                return None
            session.last_seen = time.monotonic()
            self._sessions.move_to_end(session_id)
            return session

    def close(self, session_id):
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()

    def close_all(self):
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()

    def all(self):
        with self._lock:
            return list(self._sessions.values())

    def _expired(self, session, now):
        return not session.busy() and now - session.last_seen > self.ttl

    def _sweep(self):
        """ Drop expired sessions.  The dict is in least-recently-used
        order, so the walk stops at the first session seen within the TTL:
        the cost is the number of expired sessions, not of live ones. """
        now, expired = time.monotonic(), []
        for session in self._sessions.values():
            if now - session.last_seen <= self.ttl:
                break
            if not session.busy():
                expired.append(session.id)
        for sid in expired:
            self._drop(sid)

    def _evict(self):
        for sid, session in self._sessions.items():     # oldest first
            if not session.busy():
                log.info("session %s evicted: --max-sessions %d reached",
                         session.short, self.limit)
                self._drop(sid)
                return True
        return False

    def _drop(self, session_id):
        self._sessions.pop(session_id).close()


# -- Threads: turns, workers, alarms ------------------------------------------

class Turns(object):
    """ Connection threads take turns at running Python, first come first
    served, from a request's last byte read to its answer written.  A
    thread gives its turn up whenever it waits.  Waiting for its stream's
    next message (MCPRequestHandler.wait_for), it takes the turn again
    after, at the back of the line, when a message came (a keep-alive goes
    out without one).  Waiting inside a call, for a weather
    service, a worker or a client's answer, it goes on without a turn once
    the wait is over, until it next waits for its stream: a call already
    under way then finishes before new ones start, which costs less and
    shortens the latency tail (bench/README.md).  Workers do not take
    turns: measured, their hand-overs cost more than they saved.

    Without turns, the GIL goes to whichever thread asks at the right
    moment: one back from a short system call beats threads that have
    waited longer, so under load some requests wait many 5 ms switch
    intervals and the latency tail is long.  Turns are only about order,
    never about safety: a holder that keeps its turn longer than
    ``patience`` seconds (blocked on a client that does not read) loses
    it to the next in line, and goes on without it. """

    patience = 0.05

    def __init__(self):
        self._lock = threading.Lock()
        self._line = collections.deque()    # [ticket lock, thread] waiting
        self._holder = None                 # the thread holding the turn
        self._since = 0.0                   # when it took it

    def take(self):
        me = threading.get_ident()
        with self._lock:
            if self._holder is None or self._holder == me:
                self._holder, self._since = me, time.monotonic()
                return
            # [given, thread, first in line, told it is first]
            ticket = [threading.Lock(), me, threading.Lock(), False]
            ticket[0].acquire()
            ticket[2].acquire()
            self._line.append(ticket)
            self._tell_first()
        # Only the first in line watches the holder's patience; the others
        # sleep until they are first.  When every waiter watched, each
        # waking every millisecond once the holder was late, thousands of
        # threads in line (a notification to 10,000 GET streams) spun and
        # the line took minutes to go through (issue 18).
        ticket[2].acquire()
        while True:
            with self._lock:
                wait = self._since + self.patience - time.monotonic()
            if ticket[0].acquire(timeout=max(wait, 0.001)):
                return                      # given to us by give()
            with self._lock:
                if ticket[0].acquire(False):
                    return                  # given to us just now
                if time.monotonic() - self._since >= self.patience:
                    self._line.popleft()    # the holder is stuck: take it
                    self._holder, self._since = me, time.monotonic()
                    self._tell_first()
                    return

    def give(self):
        """ Give the turn to the next in line, if this thread holds it. """
        with self._lock:
            if self._holder != threading.get_ident():
                return
            if self._line:
                ticket = self._line.popleft()
                self._holder, self._since = ticket[1], time.monotonic()
                ticket[0].release()
                self._tell_first()
            else:
                self._holder = None

    def _tell_first(self):
        """ Wake the first in line, once, to watch the holder (under the
        lock). """
        if self._line and not self._line[0][3]:
            self._line[0][3] = True
            self._line[0][2].release()


class WorkerPool(object):
    """ Threads for work that may block (tool calls, upstream requests),
    reused: starting a thread costs more than a cached weather call.  A
    task goes to the most recently idle worker, or to a new thread when
    none is idle, so a blocked tool never delays another; a worker idle for
    ``idle_timeout`` seconds ends, so nothing accumulates.  It holds the
    Turns of the connection threads, so that what they run can give its
    turn up while it waits (Upstream, Call.run_abandonable), and the
    process's Alarms. """

    idle_timeout = 5.0

    def __init__(self):
        self._lock = threading.Lock()
        self._idle = []                 # slots of waiting workers, LIFO
        self.busy = 0                   # tasks running now
        self.turns = Turns()            # taken by the HTTP transport
        self.alarms = Alarms()          # deadlines without socket timeouts

    def run(self, function):
        with self._lock:
            self.busy += 1
            slot = self._idle.pop() if self._idle else None
        if slot is None:
            threading.Thread(target=self._work, args=(function,),
                             name="worker", daemon=True).start()
        else:
            slot.append(function)
            slot.ready.set()

    def _work(self, function):
        slot = _Slot()
        while function is not None:
            try:
                function()
            except Exception:           # tasks report their own errors
                log.exception("worker task failed")
            function = self._next_task(slot)

    def _next_task(self, slot):
        slot.ready.clear()
        with self._lock:                # idle as soon as no longer busy
            self.busy -= 1
            self._idle.append(slot)
        if not slot.ready.wait(self.idle_timeout):
            with self._lock:
                if slot in self._idle:          # still unclaimed: retire
                    self._idle.remove(slot)
                    return None
            slot.ready.wait()                   # claimed just now
        return slot.pop()


class _Slot(list):
    """ Where a task is handed to one waiting worker. """

    def __init__(self):
        list.__init__(self)
        self.ready = threading.Event()


class StandIn(object):
    """ Work a busy thread means to do itself once it is free, unless it
    is needed sooner: start() then runs it at once on a worker.  The
    owner's finish() takes it back if it never started (False), or waits
    for the worker to end it (True) and raises what it raised. """

    __slots__ = ("function", "workers", "_lock", "_state", "_done",
                 "_error")

    def __init__(self, function, workers):
        self.function, self.workers = function, workers
        self._lock = threading.Lock()
        self._state = self._done = self._error = None

    def start(self):
        with self._lock:
            if self._state is not None:
                return
            self._state, self._done = "started", threading.Event()
        self.workers.run(self._run)

    def _run(self):
        try:
            self.function()
        except Exception as exc:        # the owner raises it
            self._error = exc
        finally:
            self.workers.turns.give()   # if the function took a turn
            self._done.set()

    def finish(self):
        with self._lock:
            if self._state is None:
                self._state = "kept"
                return False
        self.workers.turns.give()       # a wait: the line goes on (Turns)
        self._done.wait()
        if self._error is not None:
            raise self._error
        return True


class Alarm(object):
    """ One deadline of Alarms: cleared by its owner, or fired. """

    __slots__ = ("due", "function", "done", "fired")

    def __init__(self, due, function):
        self.due, self.function = due, function
        self.done = self.fired = False


class Alarms(object):
    """ Run a function when a deadline passes, unless the alarm was
    cleared first: one thread watches every deadline of the process.

    Setting and clearing an alarm is a list operation under a lock, with
    no system call, so that the common case, a deadline that never
    passes, costs next to nothing.  That is why it exists: a socket
    timeout costs a system call to set and a poll() before every read and
    write, each a moment when the thread lets the GIL go, and under load
    every such moment is a thread switch (measured in bench/RESULTS.md).
    Alarms with the same delay fall due in the order they were set, so
    they wait in one queue per delay, soonest first, and the watcher sleeps
    until the soonest of all; a new alarm wakes it only when it falls due
    before that.  Cleared alarms leave their queue when they reach its head
    (at the next set() or wake-up), so a queue holds at most the alarms set
    during one delay.  A watcher with nothing to watch for ``idle_timeout``
    seconds ends, as idle workers do, and the next set() starts another. """

    idle_timeout = 5.0

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._queues = {}           # delay -> deque of Alarm, soonest first
        self._wake_at = None        # when the watcher wakes; None: not before
        self._watcher = None        # the watching thread, started by set()
        #                             (so --workers children start theirs)

    def set(self, delay, function):
        """ Call function() in about delay seconds, unless cleared. """
        with self._cond:
            alarm = Alarm(time.monotonic() + delay, function)
            queue = self._queues.get(delay)
            if queue is None:
                queue = self._queues[delay] = collections.deque()
            while queue and queue[0].done:
                queue.popleft()
            queue.append(alarm)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch,
                                                 name="alarms", daemon=True)
                self._watcher.start()
            elif self._wake_at is None or alarm.due < self._wake_at:
                self._cond.notify()
        return alarm

    def clear(self, alarm):
        """ Stop the alarm, if it has not fired: whether it has (then its
        function runs, or ran, on the watcher's thread). """
        with self._cond:
            alarm.done = True
            return alarm.fired

    def _watch(self):
        with self._cond:
            while True:
                now, due = time.monotonic(), []
                self._wake_at = None
                for delay, queue in list(self._queues.items()):
                    while queue and (queue[0].done or queue[0].due <= now):
                        alarm = queue.popleft()
                        if not alarm.done:
                            alarm.done = alarm.fired = True
                            due.append(alarm)
                    if not queue:
                        del self._queues[delay]
                    elif self._wake_at is None or \
                            queue[0].due < self._wake_at:
                        self._wake_at = queue[0].due
                if due:
                    self._cond.release()
                    try:
                        for alarm in due:
                            self._fire(alarm)
                    finally:
                        self._cond.acquire()
                    continue
                if self._wake_at is not None:
                    self._cond.wait(self._wake_at - now)
                elif not self._cond.wait(self.idle_timeout) and \
                        not self._queues:
                    self._watcher = None        # idle: set() starts another
                    return

    @staticmethod
    def _fire(alarm):
        try:
            alarm.function()
        except Exception:       # one failing alarm must not stop the rest
            log.exception("alarm failed")


# -- A call: one request being handled ----------------------------------------

class ClientQuestions(object):
    """ What a handler may ask the client (S23): sampling, elicitation,
    roots.

    MCP lets a server ask the client back while it handles a request:
    sampling/createMessage has the client's language model write a reply
    (with tools of this server offered to it, from 2025-11-25),
    elicitation/create asks the person for a few values (form mode,
    2025-06-18) or to visit a URL (URL mode, 2025-11-25), roots/list
    names the places the person lets the server look at.  Each needs the
    client capability of the same name (4.1).  These methods build the
    request and hand it to ask() (ClientRequests), which knows how each
    era carries it.
    """

    def sample(self, messages, max_tokens=1000, key=None, tools=None,
               tool_choice=None, **params):
        """ Ask the client's language model for a reply
        (sampling/createMessage).  messages are strings (user text) or
        SamplingMessage dicts; params adds systemPrompt, temperature,
        modelPreferences and the like.  Returns the CreateMessageResult:
        {"role", "content", "model", "stopReason"}.  key names the request
        in a 2026-07-28 InputRequiredResult (see ask_all).

        tools (2025-11-25, client capability sampling.tools) offers the
        model tools: names of this server's tools, Tool objects, or Tool
        dicts; tool_choice is "auto", "required" or "none".  A reply that
        wants tools run has stopReason "toolUse" and tool_use blocks in
        its content (a list); run_tool_use() runs one of this server's
        tools for such a block, and the next sample() sends the results
        back (docs/extending.md, "Asking the client"). """
        if tools is not None:
            params["tools"] = [self.tool_definition(t) for t in tools]
        if tool_choice is not None:
            params["toolChoice"] = {"mode": tool_choice} \
                if isinstance(tool_choice, str) else tool_choice
        return self.ask(sampling_request(messages, max_tokens, **params), key)

    def tool_definition(self, tool):
        """ A Tool dict for sampling: a name of this server's tools, a Tool,
        or a dict as it is. """
        if isinstance(tool, str):
            found = self.dispatcher.tools.get(tool)
            if found is None:
                raise ValueError("no tool named %r to offer" % tool)
            tool = found
        if isinstance(tool, Tool):
            return dict(tool.describe(self.version))
        return tool

    def run_tool_use(self, block):
        """ Run one of this server's tools for a tool_use block of a
        sampling reply; returns the tool_result block to send back in the
        next user message (an error result if the tool is unknown, the
        input invalid, or the tool failed). """
        def result(content, is_error=False, structured=None):
            out = {"type": "tool_result", "toolUseId": block.get("id"),
                   "content": content}
            if is_error:
                out["isError"] = True
            if structured is not None:
                out["structuredContent"] = structured
            return out
        tool = self.dispatcher.tools.get(block.get("name")) \
            if isinstance(block.get("name"), str) else None
        arguments = block.get("input")
        if tool is None:
            return result([text_content("No tool named %r" % str(
                block.get("name"))[:100])], True)
        problems = validate(tool.input_schema, arguments) \
            if isinstance(arguments, dict) else ["input is not an object"]
        if problems:
            return result([text_content("Invalid input for %s: %s" % (
                tool.name, "; ".join(problems)))], True)
        try:
            value = tool_result(tool.function(arguments, self), tool,
                                self.version)
        except (Cancelled, InputRequired, RPCError):
            raise
        except ToolError as exc:
            return result([text_content(str(exc))], True)
        except Exception:
            log.exception("tool %s (for the client's model) failed",
                          tool.name)
            return result([text_content("%s failed" % tool.name)], True)
        return result(value["content"], value.get("isError", False),
                      value.get("structuredContent"))

    def elicit(self, message, requested_schema, key=None):
        """ Ask the person for input (elicitation/create, 2025-06-18 on).
        requested_schema is a flat object schema of strings, numbers,
        booleans and enums.  Returns the ElicitResult: {"action": "accept",
        "decline" or "cancel", "content": {...} when accepted}. """
        return self.ask(elicitation_request(message, requested_schema), key)

    def elicit_url(self, message, url, elicitation_id=None, key=None):
        """ URL-mode elicitation (2025-11-25): ask the person to open url,
        for what must not pass through the client (signing in to another
        service, paying, typing a secret).  Returns the ElicitResult:
        {"action": "accept"} means they agreed to go, not that they are
        done; the server learns that at url, and may then tell the client
        with complete_elicitation().  Needs the client capability
        elicitation.url.  elicitation_id (2025-11-25; random if not given)
        names the interaction; 2026-07-28 has none. """
        if not self.modern and elicitation_id is None:
            elicitation_id = secrets.token_urlsafe(12)
        return self.ask(url_elicitation_request(
            message, url, None if self.modern else elicitation_id), key)

    def require_url(self, message, url, elicitation_id=None, key=None):
        """ The request cannot go on until the person has been to url:
        end it, telling the client where to send them, and let it retry.
        In 2025-11-25 this is the error -32042 (URLElicitationRequired)
        with data.elicitations; in 2026-07-28, which dropped that error,
        the same is an InputRequiredResult carrying the URL elicitation,
        and the retry brings the person's answer (returned here). """
        if self.modern:
            return self.elicit_url(message, url, key=key)
        # An error needs no session and no stream: only a client that
        # knows URL mode, at a revision that has it.
        if self.version < "2025-11-25" or \
                not self.client_supports("elicitation", "url"):
            raise ClientRequestError("URL elicitation needs protocol "
                                     "2025-11-25 and a client that declared "
                                     "elicitation.url")
        request = url_elicitation_request(
            message, url, elicitation_id or secrets.token_urlsafe(12))[1]
        raise RPCError(URL_ELICITATION_REQUIRED, "URL elicitation "
                       "required: %s" % message[:200],
                       data={"elicitations": [request]})

    def complete_elicitation(self, elicitation_id):
        """ Tell a 2025-11-25 client that the interaction it sent the
        person to (elicit_url, require_url) is done, so it can retry or
        move on: notifications/elicitation/complete on the session's GET
        stream.  False where there is nobody to tell (2026-07-28 removed
        the notification; no session). """
        if self.modern or self.session is None or \
                self.version < "2025-11-25":
            return False
        self.session.standalone.push(notification(
            "notifications/elicitation/complete",
            {"elicitationId": elicitation_id}))
        return True

    def list_roots(self, key=None):
        """ The client's roots (roots/list): [{"uri": "file:///...",
        "name": ...}], the places the person lets the server look at. """
        return self.ask(("roots/list", {}), key)["roots"]


class ClientRequests(object):
    """ How a request reaches the client and its answer comes back.

    In a 2025 session the request goes on the stream of the request being
    handled (S23), the client POSTs its answer back (202, S15), and
    MCPDispatcher.on_response hands it to the waiting call.  2026-07-28
    has no server-to-client requests (S24): the handler's questions end
    the round with an InputRequiredResult, and the client retries with the
    answers (InputRounds).  Either way a request may go only where the
    spec allows it (check_can_ask): the revision, the client's declared
    capabilities and, in 2025, a session with a stream that carries
    events.
    """

    def ask(self, request, key=None):
        """ One (method, params) request to the client; its result. """
        key = key or "%s-%d" % (request[0].split("/")[0], len(self.asked) + 1)
        return self.ask_all(collections.OrderedDict([(key, request)]))[key]

    def ask_all(self, requests):
        """ Ask the client several things: requests maps keys to (method,
        params) pairs; returns a dict of the same keys with each result.

        Legacy sessions: each request goes on this request's stream (S23)
        and waits for the answer, which the client POSTs back (202, S15).
        2026-07-28 has no server-to-client requests (S24): the first time
        round, this raises InputRequired and the call ends with an
        InputRequiredResult listing what is missing; the client retries
        with inputResponses (and the sealed requestState), the handler runs
        again from the start, and this time the answers are here (MRTR). """
        for key, (method, params) in requests.items():
            self.check_can_ask(method, request_feature(method, params))
            self.asked.append(key)
        if self.modern:
            return self.answers_given(requests)
        return dict((key, self.wait_for_answer(method, params))
                    for key, (method, params) in requests.items())

    def wait_for_answer(self, method, params):
        """ Send one request to the client and wait for its answer, handed
        over by MCPDispatcher.on_response.  Gives up after
        --client-request-timeout seconds, telling the client with
        notifications/cancelled, and at once when this call is cancelled.
        Raises ClientRequestError when there is no usable answer. """
        session, timeout = self.session, \
            self.dispatcher.config.client_request_timeout
        request_id, slot = session.expect_answer()
        self.cancelled.wake_on_cancel(slot.ready)
        try:
            self.send({"jsonrpc": "2.0", "id": request_id, "method": method,
                       "params": params})
            self.dispatcher.workers.turns.give()    # a wait (Turns)
            slot.ready.wait(timeout)
        finally:
            self.cancelled.forget(slot.ready)
            session.stop_waiting(request_id)
        self.check_cancelled()
        if not slot:
            log.warning("session %s: no answer to %s %s within %g s "
                        "(--client-request-timeout)", session.short, method,
                        request_id, timeout)
            self.send(notification("notifications/cancelled", {
                "requestId": request_id, "reason": "timed out"}))
            raise ClientRequestError("the client did not answer %s within "
                                     "%g s" % (method, timeout))
        answer = slot[0]
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) \
                else {}
            raise ClientRequestError("the client refused %s: %s" % (
                method, str(error.get("message", "no reason given"))[:200]),
                error)
        problem = answer_problem(method, answer.get("result"))
        if problem:
            raise ClientRequestError("the client's answer to %s %s"
                                     % (method, problem))
        return answer["result"]

    def check_can_ask(self, method, feature=None):
        """ A request may go to the client only where the spec allows it:
        a revision that has the method, a capability the client declared
        (4.1; in 2026-07-28 a missing one is -32021, S62), the feature
        inside it that the request needs (URL-mode elicitation, sampling
        with tools: 2025-11-25 on), and, for legacy sessions, a session
        and a stream the client reads as events. """
        capability, since = CLIENT_METHODS[method]
        if self.modern:
            if not self.client_supports(capability):
                raise missing_capability([capability])
            if feature and not self.client_supports(capability, feature):
                error = missing_capability(["%s.%s" % (capability,
                                                       feature)])
                error.data = {"requiredCapabilities": {
                    capability: {feature: {}}}}
                raise error
            return
        if self.session is None:
            raise ClientRequestError("%s needs a session; this server runs "
                                     "--stateless" % method)
        if self.version < since:
            raise ClientRequestError("%s needs protocol %s or later; the "
                                     "session uses %s" % (method, since,
                                                          self.version))
        if not self.client_supports(capability):
            raise ClientRequestError("the client did not declare the %s "
                                     "capability, so it cannot answer %s"
                                     % (capability, method))
        if feature and feature != "form" and self.version < "2025-11-25":
            raise ClientRequestError("%s with %s needs protocol 2025-11-25 "
                                     "or later; the session uses %s"
                                     % (method, feature, self.version))
        if feature and not self.client_supports(capability, feature):
            raise ClientRequestError("the client did not declare %s.%s, so "
                                     "it cannot answer this %s" % (
                                         capability, feature, method))
        if self.stream is not None and not self.stream.carries_requests:
            raise ClientRequestError("the client accepts only JSON answers "
                                     "(no text/event-stream), so %s cannot "
                                     "reach it" % method)

    @property
    def client_capabilities(self):
        """ What the client declared: in initialize (legacy sessions) or in
        this request's _meta (2026-07-28). """
        if self.modern:
            declared = self.meta.get(META_CAPABILITIES)
        else:
            declared = self.session.client_capabilities if self.session \
                else None
        return declared if isinstance(declared, dict) else {}

    def client_supports(self, capability, feature=None):
        """ Whether the client declared a capability ("sampling",
        "elicitation", "roots"), so a handler can ask only what it may;
        with feature, a part of it: ("elicitation", "url") for URL mode,
        ("sampling", "tools") for sampling with tools.  An elicitation
        capability that names no mode means form mode (2025-11-25). """
        declared = self.client_capabilities.get(capability)
        if not isinstance(declared, dict):
            return False
        if feature == "form" and capability == "elicitation":
            return isinstance(declared.get("form"), dict) or \
                "url" not in declared
        return feature is None or isinstance(declared.get(feature), dict)


class InputRounds(object):
    """ Multi-round-trip requests (MRTR, 2026-07-28): questions as results.

    A tools/call, prompts/get or resources/read whose handler asks the
    client something ends with {"resultType": "input_required",
    "inputRequests": {key: request}, "requestState": ...} (S63).  The
    client answers each request and sends the same request again with
    inputResponses and the requestState; the handler runs again from the
    start and this time finds its answers.  requestState is sealed
    (HMAC) and bound to the request, since the client could change it;
    it also carries the handler's own ``call.state`` between rounds.
    """

    def answers_given(self, requests):
        """ 2026-07-28: the answers the client sent with this retry (or in
        earlier rounds, kept in requestState), or InputRequired. """
        found, missing = {}, collections.OrderedDict()
        for key, (method, params) in requests.items():
            answer = self.inputs.get(key)
            if answer is None:
                missing[key] = {"method": method, "params": params}
                continue
            problem = answer_problem(method, answer)
            if problem:
                raise RPCError(INVALID_PARAMS, "Invalid params: "
                               "inputResponses.%s %s" % (key[:60], problem))
            found[key] = self.used_inputs[key] = answer
        if missing:
            raise InputRequired(missing)
        return found

    def load_inputs(self, secret):
        """ 2026-07-28 retries of tools/call, prompts/get and resources/read
        carry inputResponses and the requestState this server sealed.
        Malformed ones are -32602; a state that fails its integrity check
        or belongs to another request is -32602 too (MRTR: requestState is
        attacker-controlled). """
        responses = self.params.get("inputResponses", {})
        if not isinstance(responses, dict):
            raise RPCError(INVALID_PARAMS, "Invalid params: inputResponses "
                           "must be an object")
        sealed = self.params.get("requestState")
        state = {"request": self.fingerprint(), "inputs": {}, "state": {}}
        if sealed is not None:
            state = unseal(sealed, secret)
            if state is None or state.get("request") != self.fingerprint():
                raise RPCError(INVALID_PARAMS, "Invalid params: requestState "
                               "failed its integrity check")
        self.inputs = dict(state["inputs"], **responses)
        self.state = state["state"]

    def fingerprint(self):
        """ What a requestState is bound to: method, name or URI, and the
        arguments, so that it cannot be replayed on another request. """
        subject = dict((k, self.params.get(k))
                       for k in ("name", "uri", "arguments"))
        return hashlib.sha256(encode_json([self.method, subject])).hexdigest()

    def input_required(self, requests, secret):
        """ The InputRequiredResult that ends this round (2026-07-28): what
        the client must answer, and the sealed state of the next round:
        the answers used so far and the handler's own ``call.state``. """
        return {"resultType": "input_required", "inputRequests": requests,
                "requestState": seal({"request": self.fingerprint(),
                                      "inputs": self.used_inputs,
                                      "state": self.state}, secret)}


class Call(ClientQuestions, ClientRequests, InputRounds):
    """ One request being handled: what a method or tool needs to talk back.

    ``progress`` and ``log`` send notifications related to this request on
    its own stream (S23, S24); ``cancelled`` is set when the client cancels
    (6.2) or, in 2026-07-28, closes the stream (S29).  ``sample``,
    ``elicit`` and ``list_roots`` ask the client something and wait for the
    answer, which it POSTs back; ``close_stream`` lets a long call free its
    connection (S20).  The questions to the client are ClientQuestions,
    how they travel ClientRequests, and their 2026-07-28 form InputRounds.
    """

    def __init__(self, dispatcher, message, send, session, version,
                 cancelled=None, principal="", stream=None, client=""):
        self.dispatcher, self.principal = dispatcher, principal
        self.client = client or principal   # whose listen streams (bound)
        self.listener = None                # subscriptions/listen: its own
        self.stream = stream
        self.id = message["id"]
        self.key = request_key(self.id)
        self.method = message["method"]
        self.params = message.get("params") or {}
        self.send, self.session, self.version = send, session, version
        self.meta = self.params.get("_meta")
        if not isinstance(self.meta, dict):
            self.meta = {}
        token = self.meta.get("progressToken")
        self.progress_token = token if is_request_id(token) else None
        self.log_level = session.log_level if session else None
        if self.modern:
            self.log_level = self.meta.get(META_LOG_LEVEL)
        self.cancelled = cancelled or Cancellation()
        self.created_session = None
        self._last_progress = None
        self.asked = []                 # keys of requests to the client
        self.inputs, self.used_inputs = {}, {}    # MRTR answers, by key
        self.state = {}     # a handler's own data across MRTR rounds
        self.may_create_task = False    # set by tools/call (see Tasks)

    @property
    def modern(self):
        return self.version in MODERN_VERSIONS

    def progress(self, progress, total=None, message=None):
        """ Report progress, if the client asked for it with a
        progressToken; values must increase (6.1). """
        if self.progress_token is None or self.cancelled.is_set():
            return
        if self._last_progress is not None and progress <= self._last_progress:
            raise ValueError("progress must increase")
        self._last_progress = progress
        params = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message:
            params["message"] = message
        self.send(notification("notifications/progress", params))

    def log(self, level, data, logger=SERVER_NAME):
        """ Send notifications/message if the client's level lets it
        through (6.3).  Never put secrets in data. """
        if self.log_level is None or self.cancelled.is_set():
            return
        if LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.log_level):
            self.send(notification("notifications/message", {
                "level": level, "logger": logger, "data": data}))

    def cancel(self):
        self.cancelled.set()

    def check_cancelled(self):
        if self.cancelled.is_set():
            raise Cancelled()

    def as_task(self, work):
        """ For a defer_task tool: return call.as_task(work) once what the
        request itself must settle is settled (answers asked by MRTR).
        work(call) then runs as a task when the client takes tasks, else
        at once; it returns what a tool function returns (see Tasks). """
        return TaskWork(work)

    def close_stream(self):
        """ Close this request's SSE connection now, keeping the stream: the
        client reconnects with GET and Last-Event-ID and gets the rest,
        response included (S20, S42).  Only for resumable streams of
        2025-11-25 sessions; returns whether the stream will be cut. """
        stream, session = self.stream, self.session
        if stream is None or not stream.replayable or session is None or \
                session.id is None or self.version < "2025-11-25":
            return False
        stream.cut()
        return True

    def run_abandonable(self, function, timeout):
        """ Run a blocking function (an upstream HTTP call) in a helper
        thread and wait for it, but give up at once if the request is
        cancelled: the wait is abandoned and the helper's late result is
        dropped when it arrives. """
        wake, box = threading.Event(), []

        def work():
            try:
                box.append((True, function()))
            except Exception as exc:     # delivered to the waiting thread
                box.append((False, exc))
            finally:
                wake.set()

        self.cancelled.wake_on_cancel(wake)
        try:
            if not wake.is_set():
                self.dispatcher.workers.run(work)
                self.dispatcher.workers.turns.give()    # a wait (Turns)
                wake.wait(timeout)
        finally:
            self.cancelled.forget(wake)
        self.check_cancelled()
        if not box:
            raise TimeoutError("no answer within %g s" % timeout)
        ok, value = box[0]
        if not ok:
            raise value
        return value


###############################################################################
# Tasks #######################################################################
###############################################################################

# The tasks extension of 2026-07-28 (io.modelcontextprotocol/tasks, SEP-2663).
# A tools/call may be answered with a task handle, a CreateTaskResult
# (resultType "task"), instead of its result: the work goes on in the
# background and the client polls tasks/get, which carries the status and,
# in the end, the result or the error.  Work that needs the client's answer
# parks the task in "input_required" with the questions in inputRequests;
# the client answers with tasks/update (MRTR inside a task).  tasks/cancel
# stops it.  The server alone decides to make a task, and only for a request
# whose capabilities name the extension; a tool that can only run as a task
# refuses other clients with -32021.  There is no tasks/list and no
# tasks/result in this revision of tasks (both -32601).
#
# 2025-11-25 sessions get tasks in their first form (the tasks utility of
# that revision): the client asks for a task with a "task" parameter on
# tools/call and gets {"task": {...}} (ttl and pollInterval, no result);
# tasks/get shows the status, tasks/result waits for the end and returns what
# the call would have returned, tasks/list lists the session's tasks, and
# tasks/cancel of a finished task is -32602.  Progress, questions to the
# client and notifications/tasks/status go on the session's GET stream, with
# io.modelcontextprotocol/related-task in _meta.
#
# Tasks live in this process's memory, bound to the bearer token that made
# them (and to the session, in 2025-11-25), and bounded as sessions are: at
# most --max-tasks, each forgotten --task-ttl seconds after it was made.
# Task ids carry the node id first, like session ids, so that a router can
# send the polls (Mcp-Name: <taskId>) to the node that holds the task; with
# --workers tasks are off, since a poll could reach another process.

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TASK_METHODS = ("tasks/get", "tasks/update", "tasks/cancel")
TASK_TERMINAL = ("completed", "failed", "cancelled")
RELATED_TASK = "io.modelcontextprotocol/related-task"       # 2025-11-25
TASKS_CAPABILITY = {"list": {}, "cancel": {},               # 2025-11-25
                    "requests": {"tools": {"call": {}}}}
TASK_CANCELLED = INTERNAL_ERROR     # what tasks/result of a cancelled task
#                                     answers: the call has no result


def iso_time(seconds):
    """ An ISO 8601 UTC timestamp with milliseconds, as tasks carry. """
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S",
                                       time.gmtime(seconds)),
                         int(seconds * 1000) % 1000)


def declares_tasks(capabilities):
    """ Whether client capabilities name the tasks extension (with an
    object, as every capability is declared). """
    extensions = capabilities.get("extensions") \
        if isinstance(capabilities, dict) else None
    return isinstance(extensions, dict) and \
        isinstance(extensions.get(TASKS_EXTENSION), dict)


def tasks_capability_missing(what):
    """ -32021 naming the extension in requiredCapabilities, HTTP 400: for
    tasks/* and task-only tools asked by a client without it (S62). """
    return RPCError(MISSING_CAPABILITY, "Missing required client "
                    "capability: %s needs the %s extension"
                    % (what[:100], TASKS_EXTENSION),
                    data={"requiredCapabilities": {
                        "extensions": {TASKS_EXTENSION: {}}}}, status=400)


class TasksFull(RPCError):
    """ --max-tasks tasks are running: no room for another. """


class TaskWork(object):
    """ What call.as_task(work) returns: the part of a tool that may run
    as a task. """

    def __init__(self, function):
        self.function = function


class Task(object):
    """ One task: its status and what tasks/get shows of it.  ``changed``
    guards the fields and wakes work that waits for the client's answers. """

    def __init__(self, task_id, principal, ttl, poll_interval, born,
                 scope="", session=None):
        self.id, self.principal = task_id, principal
        self.scope = scope              # the session id (2025-11-25), or ""
        self.session = session          # 2025-11-25: where messages go
        self.ttl, self.poll_interval = ttl, poll_interval
        self.born = born                # Tasks.clock(), for the TTL
        self.created = self.updated = time.time()
        self.status, self.message = "working", None
        self.result = self.error = None
        self.pending = collections.OrderedDict()    # key -> inputRequest
        self.answers = {}               # key -> the client's answer
        self.keys = set()               # every key ever asked: never reused
        self.cancelled = Cancellation()
        self.changed = threading.Condition(threading.Lock())

    @property
    def short(self):
        return self.id[-8:]

    @property
    def finished(self):
        return self.status in TASK_TERMINAL

    def describe(self):
        """ The DetailedTask of tasks/get and notifications/tasks: the Task
        fields, with inputRequests, result or error as the status has them.
        Durations are integer milliseconds (ttlMs, pollIntervalMs). """
        with self.changed:
            task = self.shared_fields(self.status, "ttlMs", "pollIntervalMs")
            if self.status == "input_required":
                task["inputRequests"] = dict(self.pending)
            elif self.status == "completed":
                task["result"] = self.result
            elif self.status == "failed":
                task["error"] = self.error
            return task

    def describe_v1(self):
        """ The Task of 2025-11-25 (tasks/get, tasks/list, tasks/cancel,
        notifications/tasks/status): ttl and pollInterval, never the result.
        There a tool result with isError makes the task "failed". """
        with self.changed:
            status = self.status
            if status == "completed" and isinstance(self.result, dict) and \
                    self.result.get("isError") is True:
                status = "failed"
            return self.shared_fields(status, "ttl", "pollInterval")

    def shared_fields(self, status, ttl, poll_interval):
        """ The fields both revisions of a task have, in this order; ttl
        and poll_interval are the names the revision gives the durations
        (integer milliseconds both).  The caller holds self.changed. """
        task = {"taskId": self.id, "status": status,
                "createdAt": iso_time(self.created),
                "lastUpdatedAt": iso_time(self.updated),
                ttl: max(1, int(self.ttl * 1000)),
                poll_interval: max(1, int(self.poll_interval * 1000))}
        if self.message:
            task["statusMessage"] = self.message
        return task

    def waiting(self, waiting):
        """ 2025-11-25: input_required while a question to the client is
        open, working again once it is answered. """
        with self.changed:
            if self.finished:
                return
            self.status = "input_required" if waiting else "working"
            self.updated = time.time()

    def settle(self, status, result=None, error=None, message=None):
        """ End the task, unless it has ended already (the result of work
        that was cancelled is dropped).  Whether it changed. """
        with self.changed:
            if self.finished:
                return False
            self.status, self.result, self.error = status, result, error
            self.message = message or self.message
            self.pending.clear()
            self.updated = time.time()
            self.changed.notify_all()
            return True

    def note(self, message):
        """ What the work is doing now: the statusMessage. """
        with self.changed:
            if not self.finished:
                self.message, self.updated = message, time.time()

    def ask(self, requests, notify):
        """ Park the work in input_required until the client has answered
        every request (tasks/update); their answers, by the caller's keys.
        A key is never used twice in a task's life (SEP-2663), so a repeated
        one gets a suffix. """
        keys = collections.OrderedDict()
        with self.changed:
            for key, (method, params) in requests.items():
                unique, number = key, 1
                while unique in self.keys:
                    number += 1
                    unique = "%s-%d" % (key, number)
                self.keys.add(unique)
                keys[key] = unique
                self.pending[unique] = {"method": method, "params": params}
            if not self.finished:
                self.status, self.updated = "input_required", time.time()
        notify(self)
        with self.changed:
            while not self.finished and \
                    any(k not in self.answers for k in keys.values()):
                self.changed.wait()
            if self.finished:
                raise Cancelled()
            return dict((key, self.answers.pop(unique))
                        for key, unique in keys.items())

    def answer(self, responses):
        """ tasks/update: take the answers to requests now pending; others
        (never asked, answered already) are ignored, as SEP-2663 asks.  A
        malformed answer is -32602.  Whether anything was taken. """
        with self.changed:
            taken = [(k, v) for k, v in responses.items() if k in self.pending]
            for key, value in taken:
                problem = answer_problem(self.pending[key]["method"], value)
                if problem:
                    raise RPCError(INVALID_PARAMS, "Invalid params: "
                                   "inputResponses.%s %s" % (key[:60],
                                                             problem))
            for key, value in taken:
                del self.pending[key]
                self.answers[key] = value
            if taken:
                if not self.pending and self.status == "input_required":
                    self.status = "working"
                self.updated = time.time()
                self.changed.notify_all()
            return bool(taken)


class TaskCall(Call):
    """ The call a task's work gets.  It is the request's call in all but
    where things go: the request has been answered (with the task handle),
    so progress becomes the task's statusMessage, log messages are dropped
    (the extension gives them no place), and questions to the client
    (call.elicit, call.sample, ...) become the task's inputRequests. """

    def __init__(self, task, call, notify):
        legacy = task.session is not None
        Call.__init__(self, call.dispatcher, {
            "id": call.id, "method": call.method, "params": call.params},
            self.push if legacy else self.drop, task.session, call.version,
            task.cancelled, call.principal)
        self.task, self.notify, self.legacy = task, notify, legacy
        self.state = call.state

    @staticmethod
    def drop(message):
        """ Nothing goes back on the request's stream: it has ended. """

    def push(self, message):
        """ 2025-11-25: progress, log messages and questions go on the
        session's GET stream, marked with the task they belong to. """
        message = dict(message)
        params = dict(message.get("params") or {})
        params["_meta"] = dict(params.get("_meta") or {},
                               **{RELATED_TASK: {"taskId": self.task.id}})
        message["params"] = params
        self.session.standalone.push(message)

    def progress(self, progress, total=None, message=None):
        if message is None:
            message = "%s of %s" % (progress, total) if total is not None \
                else "%s" % progress
        self.task.note(message)
        if self.legacy:
            Call.progress(self, progress, total, message)
        self.notify(self.task)

    def log(self, level, data, logger=SERVER_NAME):
        if self.legacy:
            Call.log(self, level, data, logger)

    def ask_all(self, requests):
        if self.legacy:         # requests on the GET stream, answers POSTed
            self.task.waiting(True)
            self.notify(self.task)
            try:
                return Call.ask_all(self, requests)
            finally:
                self.task.waiting(False)
                self.notify(self.task)
        for key, (method, params) in requests.items():
            self.check_can_ask(method)
            self.asked.append(key)
        return self.task.ask(requests, self.notify)


class Tasks(object):
    """ The tasks of one dispatcher, and the tasks/* methods.

    ``create(call, work)`` makes a task of work(task_call), runs it on a
    worker and returns the CreateTaskResult; it is in the store before that
    returns, so an immediate tasks/get finds it (SEP-2663).  ``listeners``
    hear every change: listener(task_id, detailed_task, principal), where
    notifications/tasks can come from (task_notification).  Bounded and
    reaped like SessionStore: expired tasks go first (the walk stops at the
    first one within its TTL: tasks are kept oldest first; one that asked
    for a shorter ttl is dropped when next looked up), then the oldest
    finished one; if every task is still running, a new one is refused. """

    clock = staticmethod(time.monotonic)    # tests move time on

    def __init__(self, config, workers, node_id):
        self.ttl = config.task_ttl
        self.limit = config.max_tasks
        self.poll_interval = config.task_poll_interval
        self.enabled = config.workers <= 1
        self.workers, self.node_id = workers, node_id
        self._tasks = collections.OrderedDict()     # id -> Task, oldest first
        self._lock = threading.Lock()
        self.listeners = []
        self.tools = 0                  # tools that may run as tasks

    def __len__(self):
        return len(self._tasks)

    def count_tools(self, tools):
        self.tools = sum(1 for tool in tools.list()
                         if tool.task_support != "forbidden")

    def offered_to(self, call):
        """ Whether this request may be answered with a task: a 2026-07-28
        request whose capabilities name the extension, or a 2025-11-25 one
        that asks for a task (its "task" parameter). """
        if call.modern:
            return self.enabled and declares_tasks(call.client_capabilities)
        return self.legacy_offered(call) and \
            isinstance(call.params.get("task"), dict)

    def legacy_offered(self, call):
        """ Whether the 2025-11-25 tasks utility is offered to this call
        (capabilities.tasks in its session's InitializeResult). """
        return self.enabled and bool(self.tools) and not call.modern and \
            call.version >= "2025-11-25"

    @staticmethod
    def scope_of(call):
        """ Whose tasks a call sees: its session's (2025-11-25), or those of
        no session (2026-07-28, and stateless 2025 requests). """
        return (call.session.id or "") if call.session is not None else ""

    def create(self, call, work):
        ttl = self.ttl
        asked = call.params.get("task")
        if not call.modern and isinstance(asked, dict) and \
                _is_number(asked.get("ttl")) and asked["ttl"] > 0:
            ttl = min(ttl, asked["ttl"] / 1000.0)   # a shorter one asked for
        with self._lock:
            self._make_room()
            task = Task("%s.%s" % (self.node_id, secrets.token_urlsafe(18)),
                        call.principal, ttl, self.poll_interval, self.clock(),
                        self.scope_of(call),
                        None if call.modern else call.session)
            self._tasks[task.id] = task
        task_call = TaskCall(task, call, self.notify)
        if task.session is not None:    # ends with its session (close())
            task_call.key = "task:%s" % task.id     # never a request's key
            task.session.track(task_call)
        log.info("task %s: %s %s", task.short, call.method,
                 str(call.params.get("name", ""))[:60])
        if not call.modern:
            created = {"task": task.describe_v1()}
        else:
            created = task.describe()
            created["resultType"] = "task"
        self.workers.run(lambda: self.run(task, work, task_call))
        return created

    def run(self, task, work, task_call):
        """ Run the work to its end: a result is "completed" (tool errors
        too: isError is a result), a JSON-RPC error is "failed". """
        try:
            result = work(task_call)
        except Cancelled:
            changed = task.settle("cancelled")
            if task_call.session is not None and task_call.session.closed:
                log.info("task %s cancelled: its session ended", task.short)
        except RPCError as exc:
            changed = task.settle("failed", error=exc.response()["error"])
        except Exception:
            log.exception("task %s failed", task.short)
            changed = task.settle("failed", error={
                "code": INTERNAL_ERROR,
                "message": "Internal error (see the server log)"})
        else:
            changed = task.settle("completed", result=result)
        finally:
            if task_call.session is not None:
                task_call.session.untrack(task_call)
        if changed:
            self.notify(task)

    def notify(self, task):
        session = task.session
        if session is not None and not session.closed:     # 2025-11-25
            session.standalone.push(notification(
                "notifications/tasks/status", task.describe_v1()))
        if not self.listeners:
            return
        detailed = task.describe()
        for listener in list(self.listeners):
            try:
                listener(task.id, detailed, task.principal)
            except Exception:   # one listener must not stop the task
                log.exception("task listener failed")

    # -- tasks/get, tasks/update, tasks/cancel -------------------------------

    def rpc_get(self, call):
        """ The task as it is now: the DetailedTask (resultType complete),
        or in 2025-11-25 the Task, without its result. """
        task = self.find(call)
        return task.describe() if call.modern else task.describe_v1()

    def rpc_result(self, call):
        """ 2025-11-25: wait until the task ends, then answer what the call
        would have answered: its result, with related-task in _meta, or its
        JSON-RPC error.  Runs on a worker (SLOW_METHODS); a cancelled
        request stops waiting. """
        task = self.find(call)
        call.dispatcher.workers.turns.give()        # a wait (Turns)
        with task.changed:
            while not task.finished:
                task.changed.wait(0.25)
                call.check_cancelled()
            status, result, error = task.status, task.result, task.error
        if status == "completed":
            result = dict(result)
            result["_meta"] = dict(result.get("_meta") or {},
                                   **{RELATED_TASK: {"taskId": task.id}})
            return result
        if status == "failed":
            raise RPCError(error.get("code", INTERNAL_ERROR),
                           error.get("message", "failed"), error.get("data"))
        raise RPCError(TASK_CANCELLED, "Task %s was cancelled"
                       % task.id[:100], data={"taskId": task.id,
                                              "status": "cancelled"})

    def rpc_list(self, call):
        """ 2025-11-25: the tasks this session can see, oldest first, in
        pages of --page-size with an opaque cursor. """
        scope = self.scope_of(call)
        with self._lock:
            self._sweep()
            now = self.clock()      # a shorter ttl asked may end one sooner
            mine = [task for task in self._tasks.values()
                    if task.scope == scope and
                    task.principal == call.principal and
                    not self._expired(task, now)]
        dispatcher = call.dispatcher
        start = dispatcher.decode_cursor(call.params.get("cursor"), len(mine),
                                         "tasks")
        size = max(1, dispatcher.config.page_size)
        result = {"tasks": [task.describe_v1()
                            for task in mine[start:start + size]]}
        if start + size < len(mine):
            result["nextCursor"] = dispatcher.encode_cursor(start + size,
                                                            "tasks")
        return result

    def rpc_update(self, call):
        """ The client's answers to inputRequests: an empty ack; the task
        resumes once every pending request is answered. """
        task = self.find(call)
        responses = call.params.get("inputResponses")
        if not isinstance(responses, dict):
            raise RPCError(INVALID_PARAMS, "Invalid params: tasks/update "
                           "needs an inputResponses object")
        if task.answer(responses):
            self.notify(task)
        return {}

    def rpc_cancel(self, call):
        """ Stop the task: an empty ack.  A running task is cancelled at
        once and its work told to stop; a finished one keeps its status and
        gets the same ack, so a cancel that races the end is no error. """
        task = self.find(call)
        if not call.modern and task.finished:       # 2025-11-25: an error
            raise RPCError(INVALID_PARAMS, "Task %s is %s already: it cannot "
                           "be cancelled" % (task.id[:100], task.status),
                           data={"taskId": task.id, "status": task.status})
        if task.settle("cancelled", message="Cancelled by the client"):
            task.cancelled.set()
            log.info("task %s cancelled", task.short)
            self.notify(task)
        return {} if call.modern else task.describe_v1()

    def find(self, call):
        """ The task params.taskId names, if this client made it; -32602
        when unknown, expired, or another token's (SEP-2663).  A request
        without the extension is -32021 first. """
        if call.modern and not declares_tasks(call.client_capabilities):
            raise tasks_capability_missing(call.method)
        task_id = call.params.get("taskId")
        if not isinstance(task_id, str):
            raise RPCError(INVALID_PARAMS, "Invalid params: %s needs a "
                           "string 'taskId'" % call.method)
        with self._lock:
            task = self._tasks.get(task_id)
            if task is not None and self._expired(task, self.clock()):
                self._drop(task_id)
                task = None
        if task is None or task.scope != self.scope_of(call) or \
                not hmac.compare_digest(
                task.principal.encode("utf-8"),
                call.principal.encode("utf-8")):
            raise RPCError(INVALID_PARAMS, "Unknown task: %s"
                           % task_id[:100], data={"taskId": task_id[:100]})
        return task

    def known_to(self, task_ids, principal):
        """ The ids, of task_ids, of live 2026-07-28 tasks this principal
        made: those a listen stream may hear of (notifications/tasks).
        Another token's task is left out as an unknown one is, so a
        listener learns nothing of tasks that are not its own. """
        now, known = self.clock(), []
        with self._lock:
            for task_id in task_ids:
                task = self._tasks.get(task_id)
                if task is not None and not self._expired(task, now) and \
                        task.scope == "" and hmac.compare_digest(
                        task.principal.encode("utf-8"),
                        principal.encode("utf-8")):
                    known.append(task_id)
        return known

    # -- the bound and the reaper --------------------------------------------

    def _expired(self, task, now):
        return now - task.born > task.ttl

    def _make_room(self):
        self._sweep()
        if len(self._tasks) < self.limit:
            return
        for task_id, task in self._tasks.items():       # oldest first
            if task.finished:
                break
        else:
            raise TasksFull(INTERNAL_ERROR, "Too many tasks: %d running "
                            "(--max-tasks)" % self.limit, status=503)
        self._drop(task_id)

    def _sweep(self):
        now, expired = self.clock(), []
        for task in self._tasks.values():
            if not self._expired(task, now):
                break
            expired.append(task.id)
        for task_id in expired:
            self._drop(task_id)

    def _drop(self, task_id):
        """ Forget a task; one still running is cancelled. """
        task = self._tasks.pop(task_id)
        if task.settle("cancelled", message="Expired (--task-ttl)"):
            task.cancelled.set()

    def close_all(self):
        with self._lock:
            for task_id in list(self._tasks):
                self._drop(task_id)


def task_notification(detailed):
    """ notifications/tasks: the whole DetailedTask, as tasks/get has it;
    delivered on a subscriptions/listen stream to clients that asked for
    the task's id. """
    return notification("notifications/tasks", detailed)


###############################################################################
# The MCP dispatcher ##########################################################
###############################################################################

META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"


def is_modern(message):
    """ A 2026-07-28 request names its version in params._meta (1.3). """
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and META_VERSION in meta


# Methods whose handlers may block (upstream I/O): transports run them off
# the connection's thread so that cancellation and keep-alives still work.
SLOW_METHODS = frozenset(["tools/call", "resources/read", "prompts/get",
                          "completion/complete", "tasks/result"])


def may_block(message):
    """ A request for one of the SLOW_METHODS.  The method is checked to be
    a string first: in a batch, a malformed message (a method that is a
    list, say) reaches this before the dispatcher refuses it. """
    method = message.get("method") if isinstance(message, dict) else None
    return isinstance(method, str) and method in SLOW_METHODS


# The server capability (a path into ServerCapabilities) each method needs:
# without it the method does not exist for the client (4.1; -32601, 7.1).
METHOD_CAPABILITIES = {
    "resources/list": ("resources",),
    "resources/read": ("resources",),
    "resources/templates/list": ("resources",),
    "resources/subscribe": ("resources", "subscribe"),
    "resources/unsubscribe": ("resources", "subscribe"),
    "prompts/list": ("prompts",),
    "prompts/get": ("prompts",),
    "completion/complete": ("completions",),
}
# 2025-11-25 sessions: the tasks utility's methods need capabilities.tasks.
LEGACY_METHOD_CAPABILITIES = {
    "tasks/get": ("tasks",), "tasks/result": ("tasks",),
    "tasks/list": ("tasks", "list"), "tasks/cancel": ("tasks", "cancel"),
}
RESOURCE_NOT_FOUND = -32002     # up to 2025-11-25; 2026-07-28 uses -32602

# The methods that may answer with an InputRequiredResult (2026-07-28, MRTR).
INPUT_METHODS = frozenset(["tools/call", "prompts/get", "resources/read"])


# -- What every feature shares (6.4) ------------------------------------------

class FeatureCommon(object):
    """ What the features below share: lists in pages, and running a
    function a server registered.

    tools/list, resources/list, resources/templates/list and prompts/list
    answer one page at a time (6.4): at most --page-size items, and a
    nextCursor while more follow.  The cursor is opaque to the client,
    which sends it back as it got it; one that this server did not make
    (or made for another list) is -32602.  In 2026-07-28 these results
    carry cache hints, ttlMs and cacheScope (S63), so that a client may
    keep a list for --list-ttl seconds instead of asking again.
    """

    def list_page(self, call, field, items):
        """ One page of a list (tools, resources, resource templates,
        prompts); the cursor is opaque to clients (6.4). """
        start = self.decode_cursor(call.params.get("cursor"), len(items),
                                   field)
        size = max(1, self.config.page_size)
        page = items[start:start + size]
        result = {field: [item.describe(call.version) for item in page]}
        if start + size < len(items):
            result["nextCursor"] = self.encode_cursor(start + size, field)
        if call.modern:
            self.cache_hints(result)
        return result

    @staticmethod
    def encode_cursor(offset, field="tools"):
        return base64.urlsafe_b64encode(
            ("%s:%d" % (field, offset)).encode("ascii")).decode()

    @staticmethod
    def decode_cursor(cursor, count, field="tools"):
        if cursor is None:
            return 0
        try:
            raw = base64.urlsafe_b64decode(str(cursor).encode("ascii"))
            kind, _, offset = raw.decode("ascii").partition(":")
            if kind == field and 0 <= int(offset) <= count:
                return int(offset)
        except (ValueError, binascii.Error, UnicodeError):
            pass
        raise RPCError(INVALID_PARAMS, "Invalid cursor")

    def cache_hints(self, result):
        """ ttlMs and cacheScope on discover and list results (S63). """
        result["ttlMs"] = int(self.config.list_ttl * 1000)
        result["cacheScope"] = "public"
        return result

    @staticmethod
    def run_handler(item, arguments, call):
        """ Run a resource or prompt function.  NotFound is the caller's to
        map; other failures become -32603 with a message a person can read
        (ToolError's text), never a traceback. """
        try:
            return item.function(arguments, call)
        except (Cancelled, RPCError, InputRequired, NotFound):
            raise
        except ToolError as exc:
            raise RPCError(INTERNAL_ERROR, str(exc))
        except Exception:
            log.exception("%s %s failed", call.method, item.key)
            raise RPCError(INTERNAL_ERROR, "%s failed with an internal error "
                           "(see the server log)" % item.key)


# -- Tools (5) ----------------------------------------------------------------

class ToolsFeature(object):
    """ Tools (5): tools/list and tools/call.

    A tool is a function with a name, a description and a JSON Schema for
    its arguments (5.2); tools/list shows them (5.1), tools/call runs one
    (5.3).  Arguments that do not match the schema are the model's
    mistake, not the client's: from 2025-11-25 on they come back as a
    result with isError, which the model can read and correct; before,
    as -32602.  A tool's own failure (ToolError, or any exception) is an
    isError result too, never a protocol error; protocol errors
    (RPCError), cancellation and MRTR's InputRequired pass through.  A
    tool with an outputSchema must return structuredContent that matches
    it (5.3): what does not is logged and becomes an isError result.

    A tool that needs a client capability (sampling, elicitation, roots)
    the client did not declare is refused before it runs: -32021 in
    2026-07-28 (S62), an isError result before.  Tools may run as tasks
    (TasksFeature, the Tasks section).
    """

    def tool(self, name, description, input_schema, **options):
        """ Decorator registering a tool; see ToolRegistry.tool. """
        return self.tools.tool(name, description, input_schema, **options)

    def rpc_tools_list(self, call):
        return self.list_page(call, "tools", self.tools.list())

    def rpc_tools_call(self, call):
        """ Find the tool, check the arguments against its inputSchema,
        run it.  Argument errors are isError results from 2025-11-25 on,
        protocol errors (-32602) before (5.3). """
        name = call.params.get("name")
        if not isinstance(name, str):
            raise RPCError(INVALID_PARAMS, "tools/call needs a string 'name'")
        tool = self.tools.get(name)
        if tool is None:
            raise RPCError(INVALID_PARAMS, "Unknown tool: %s" % name[:100])
        arguments = call.params.get("arguments")
        arguments = {} if arguments is None else arguments
        if not isinstance(arguments, dict):
            raise RPCError(INVALID_PARAMS, "tools/call 'arguments' must be "
                           "an object")
        problems = validate(tool.input_schema, arguments)
        if problems:
            message = "Invalid arguments for %s: %s" % (name,
                                                        "; ".join(problems))
            if call.version >= "2025-11-25":
                return tool_error(message)
            raise RPCError(INVALID_PARAMS, message)
        missing = tool.missing_capabilities(call.client_capabilities)
        if missing and call.modern:
            raise missing_capability(missing)           # S62
        if missing:
            return tool_error("%s needs the client capability %s, which this "
                              "client did not declare" % (name,
                                                          ", ".join(missing)))
        if tool.task_support != "forbidden":            # Tasks
            call.may_create_task = self.tasks.offered_to(call)
            if tool.task_support == "required" and not call.may_create_task:
                if call.modern and self.tasks.enabled:
                    raise tasks_capability_missing(name)
                if self.tasks.legacy_offered(call):
                    raise RPCError(METHOD_NOT_FOUND, "%s runs only as a task: "
                                   "call it with a 'task' parameter" % name)
                return tool_error("%s runs only as a task, which needs "
                                  "protocol 2026-07-28 and the %s extension"
                                  % (name, TASKS_EXTENSION))
            if call.may_create_task and not tool.defer_task:
                created = self.start_task(tool, call, lambda task_call:
                                          self.run_tool(tool, arguments,
                                                        task_call))
                if created is not None:
                    return created
        elif isinstance(call.params.get("task"), dict) and \
                self.tasks.legacy_offered(call):
            raise RPCError(METHOD_NOT_FOUND, "%s does not run as a task "
                           "(its taskSupport is forbidden)" % name)
        return self.run_tool(tool, arguments, call)

    def run_tool(self, tool, arguments, call):
        return self.tool_outcome(tool, call,
                                 lambda: tool.function(arguments, call))

    def tool_outcome(self, tool, call, produce):
        """ The CallToolResult of what produce() returns or raises: tool
        failures are isError results, protocol errors stay errors.  What a
        defer_task tool returns from call.as_task becomes a task when the
        request may have one, else runs now (see Tasks). """
        name = tool.name
        try:
            value = produce()
        except (Cancelled, RPCError, InputRequired):
            raise
        except ToolError as exc:
            return tool_error(str(exc))
        except Exception:
            log.exception("tool %s failed", name)
            return tool_error("%s failed with an internal error (see the "
                              "server log)" % name)
        if isinstance(value, TaskWork):
            created = call.may_create_task and self.start_task(
                tool, call, lambda task_call: self.tool_outcome(
                    tool, task_call, lambda: value.function(task_call)))
            if created:
                return created
            return self.tool_outcome(tool, call, lambda: value.function(call))
        result = tool_result(value, tool, call.version)
        if tool.output_schema and "structuredContent" in result:
            problems = validate(tool.output_schema,
                                result["structuredContent"], "output")
            if problems:        # servers MUST conform to outputSchema (5.3)
                log.error("tool %s: output does not match its outputSchema:"
                          " %s", name, "; ".join(problems[:5]))
                return tool_error("%s produced malformed output (see the "
                                  "server log)" % name)
        return result


# -- Tasks: tool calls answered later -----------------------------------------

class TasksFeature(object):
    """ Tasks: a tools/call answered with a task handle (the Tasks section
    has the store, the statuses and the tasks/* methods, which the method
    table names through ``self.tasks``).

    The server decides to make a task (SEP-2663), only when the request
    may have one (Tasks.offered_to: the tasks extension declared in
    2026-07-28, a "task" parameter in 2025-11-25) and the tool's
    taskSupport allows it.  When --max-tasks tasks are running, a tool
    that may also run at once does; a task-only tool is refused.  Every
    change of a task reaches the 2026-07-28 listen streams that named it
    (notifications/tasks).
    """

    def start_task(self, tool, call, work):
        """ The CreateTaskResult of a new task; None if the store is full
        and the tool may run at once instead (the server decides when to
        make a task: SEP-2663). """
        try:
            return self.tasks.create(call, work)
        except TasksFull:
            if tool.task_support == "required":
                raise
            log.warning("%s runs without a task: %d tasks are running "
                        "(--max-tasks)", tool.name, self.tasks.limit)
            call.may_create_task = False
            return None

    def task_changed(self, task_id, detailed, principal):
        """ Tasks' listener: a task changed; the listen streams that named
        it, of the token that made it, hear notifications/tasks with the
        whole task, as tasks/get has it (the tasks extension). """
        with self.listeners_lock:
            listeners = [l for l in self.listeners if task_id in l.task_ids
                         and hmac.compare_digest(
                             l.principal.encode("utf-8"),
                             principal.encode("utf-8"))]
        if listeners:
            message = task_notification(detailed)
            for listener in listeners:
                listener.notify(message)


# -- Resources ----------------------------------------------------------------

class ResourcesFeature(object):
    """ Resources: resources/list, resources/templates/list,
    resources/read, resources/subscribe and resources/unsubscribe.

    A resource is data a client may read by URI: fixed ones are listed
    with resources/list, families of them as URI templates (RFC 6570
    level 1, ``weather://{city}/current``) with resources/templates/list.
    resources/read finds the fixed resource, else the first template that
    matches, and returns its contents (text or base64 blob, with a MIME
    type).  An unknown URI is an error, never empty contents (SEP-2164):
    -32002 with the URI in data up to 2025-11-25, -32602 in 2026-07-28
    (7.1).  resources/subscribe asks for notifications/resources/updated
    when a resource changes; it needs a session (the GET stream, S34),
    so it is a 2025 method; 2026-07-28 clients name the URIs in a
    subscriptions/listen filter instead (ListenFeature).  The capability
    (resources, with subscribe) is offered only once a resource or a
    template is registered (4.1).
    """

    def resource(self, uri, name, **options):
        """ Decorator registering a resource with a fixed URI; the function
        takes (arguments, call).  Options: description, mime_type, title,
        annotations, size.  See Resource. """
        return self._registrar(self.resources, Resource, uri, name, options)

    def resource_template(self, uri_template, name, **options):
        """ Decorator registering resources named by a URI template such as
        ``weather://{city}/current``; the function gets the variables as
        its arguments.  Options as for resource(). """
        return self._registrar(self.templates, ResourceTemplate,
                               uri_template, name, options)

    @staticmethod
    def _registrar(registry, kind, key, name, options):
        def register(function):
            registry.add(kind(key, name, function, **options))
            return function
        return register

    def rpc_resources_list(self, call):
        """ The resources with fixed URIs; templates are listed apart. """
        return self.list_page(call, "resources", self.resources.list())

    def rpc_templates_list(self, call):
        return self.list_page(call, "resourceTemplates",
                              self.templates.list())

    def rpc_resources_read(self, call):
        """ The contents of one resource: a fixed one, else the first
        template that matches.  An unknown URI is an error, never empty
        contents (SEP-2164): -32002 with the URI in data, -32602 from
        2026-07-28 on (7.1).  2026-07-28 results carry cache hints (S63):
        resources here may change at any time, so ttlMs is 0. """
        uri = self.uri_param(call)
        resource, arguments = self.find_resource(uri)
        if resource is None:
            raise self.resource_not_found(uri, call)
        try:
            value = self.run_handler(resource, arguments, call)
        except NotFound:
            raise self.resource_not_found(uri, call)
        result = {"contents": read_contents(value, uri, resource.mime_type)}
        self.watch.saw(uri, result["contents"])
        if call.modern:
            result.update(ttlMs=0, cacheScope="private")
        return result

    @staticmethod
    def uri_param(call):
        uri = call.params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise RPCError(INVALID_PARAMS, "%s needs a string 'uri'"
                           % call.method)
        return uri

    def find_resource(self, uri):
        """ (resource or template, its arguments) for uri, or (None, None). """
        for resource in self.resources.list() + self.templates.list():
            arguments = resource.match(uri)
            if arguments is not None:
                return resource, arguments
        return None, None

    @staticmethod
    def resource_not_found(uri, call):
        code = INVALID_PARAMS if call.modern else RESOURCE_NOT_FOUND
        return RPCError(code, "Resource not found: %s" % uri[:200],
                        data={"uri": uri})

    def rpc_subscribe(self, call):
        """ Watch a resource: notifications/resources/updated will come on
        the session's GET stream when resource_updated(uri) is called.
        Only with sessions, so only in the legacy era (the capability says
        so, METHOD_CAPABILITIES). """
        uri = self.uri_param(call)
        if self.find_resource(uri)[0] is None:
            raise self.resource_not_found(uri, call)
        call.session.subscribe(uri)
        self.watch.wake()
        return {}

    def rpc_unsubscribe(self, call):
        call.session.unsubscribe(self.uri_param(call))
        self.watch.nudge()
        return {}


class ResourceWatch(object):
    """ Resources that change by themselves, as the weather does.

    While a client watches a URI (resources/subscribe in a 2025 session,
    resourceSubscriptions of a 2026-07-28 listen stream), a thread re-reads
    it every --watch-interval seconds, through resources/read as any client
    would, and when the contents differ from the last read, every watcher
    gets notifications/resources/updated (MCPDispatcher.resource_updated).
    Any other resources/read of a watched URI is compared the same way, so
    a client's read of new data tells the others at once.  Only a digest of
    the last contents is kept.  With nobody watching there is no thread, no
    read and nothing kept: watching costs nothing until someone watches.
    (Reads go through the weather cache: a change shows within
    --cache-ttl plus --watch-interval.)
    """

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        self.seen = {}          # watched URI -> digest of its last contents
        self.lock = threading.Lock()
        self.thread = None
        self.stopped = False
        self.nudged = threading.Event()     # watchers left, or stop()

    def wake(self):
        """ Someone watches a URI now: make sure the thread runs. """
        if self.dispatcher.config.watch_interval <= 0:
            return
        with self.lock:
            if self.thread is None and not self.stopped:
                self.thread = threading.Thread(target=self._run,
                                               name="resource-watch",
                                               daemon=True)
                self.thread.start()

    def nudge(self):
        """ A watcher left: the thread looks whether anyone is left, and
        ends now rather than at its next read if nobody is. """
        self.nudged.set()

    def stop(self):
        self.stopped = True
        self.nudged.set()

    def _run(self):
        due = time.monotonic()
        while True:
            with self.lock:
                uris = self.dispatcher.watched_uris()
                if not uris or self.stopped:
                    self.thread = None          # the next wake() starts one
                    self.seen.clear()
                    return
                for uri in list(self.seen):
                    if uri not in uris:
                        del self.seen[uri]
                for uri in uris:
                    self.seen.setdefault(uri, None)
            if time.monotonic() >= due:
                for uri in sorted(uris):
                    if self.stopped:
                        break
                    self.read(uri)
                due = time.monotonic() + \
                    self.dispatcher.config.watch_interval
            self.nudged.wait(max(0.0, due - time.monotonic()))
            self.nudged.clear()

    def read(self, uri):
        """ resources/read of uri, as a 2025-11-25 client without a session
        would; rpc_resources_read calls saw() with what it read. """
        self.dispatcher.handle({"jsonrpc": "2.0", "id": "watch",
                                "method": "resources/read",
                                "params": {"uri": uri}},
                               lambda message: None, version=LATEST_LEGACY)

    def saw(self, uri, contents):
        """ A read of uri returned contents: if someone watches uri and
        they differ from the last read, tell the watchers. """
        if uri not in self.seen:        # unwatched: the common case, O(1)
            return
        digest = hashlib.sha256(encode_json(contents)).hexdigest()
        with self.lock:
            if uri not in self.seen:
                return
            last, self.seen[uri] = self.seen[uri], digest
        if last is not None and last != digest:
            log.info("resource %s changed: telling its watchers", uri[:200])
            self.dispatcher.resource_updated(uri)


# -- Prompts and completion (6.5) ---------------------------------------------

class PromptsFeature(object):
    """ Prompts: prompts/list and prompts/get.

    A prompt is a message template a person picks (a slash command, say):
    prompts/list shows each with its arguments, prompts/get fills one in
    with the client's arguments, all strings, and returns the messages
    (role and content) to put before the model.  An unknown prompt, a
    required argument missing or an argument that is not a string is
    -32602.  The capability is offered once a prompt is registered.
    """

    def prompt(self, name, description, arguments=(), **options):
        """ Decorator registering a prompt; arguments lists its argument
        names (or dicts with name, description, required).  Option: title.
        See Prompt. """
        def register(function):
            self.prompts.add(Prompt(name, description, function, arguments,
                                    **options))
            return function
        return register

    def rpc_prompts_list(self, call):
        return self.list_page(call, "prompts", self.prompts.list())

    def rpc_prompts_get(self, call):
        """ A prompt filled in with the client's string arguments.  Unknown
        prompts and missing or non-string arguments are -32602. """
        prompt = self.prompts.get(self.name_param(call))
        if prompt is None:
            raise RPCError(INVALID_PARAMS, "Unknown prompt: %s"
                           % call.params["name"][:100])
        arguments = call.params.get("arguments") or {}
        if not isinstance(arguments, dict) or not all(
                isinstance(v, str) for v in arguments.values()):
            raise RPCError(INVALID_PARAMS, "prompts/get 'arguments' must be "
                           "an object of strings")
        missing = prompt.missing(arguments)
        if missing:
            raise RPCError(INVALID_PARAMS, "Prompt %s needs argument(s): %s"
                           % (prompt.name, ", ".join(missing)))
        try:
            value = self.run_handler(prompt, arguments, call)
        except NotFound as exc:
            raise RPCError(INVALID_PARAMS, str(exc))
        return prompt_result(value, call.version)

    @staticmethod
    def name_param(call):
        name = call.params.get("name")
        if not isinstance(name, str):
            raise RPCError(INVALID_PARAMS, "%s needs a string 'name'"
                           % call.method)
        return name


class CompletionFeature(object):
    """ Completion (6.5): completion/complete.

    While a person types an argument of a prompt (ref/prompt) or a
    variable of a resource template (ref/resource), the client may ask for
    suggestions: at most 100 values, with total and hasMore.
    context.arguments holds what was chosen already, so that a city can
    be suggested for the country picked before.  The capability
    (completions) is offered once a completer is registered.
    """

    def completion(self, ref_type, name, argument):
        """ Decorator registering suggestions for one argument of a prompt
        (ref_type "ref/prompt", name its name) or of a resource template
        ("ref/resource", name its URI template).  The function takes (value,
        context, call): the text typed so far, the arguments already chosen
        (a dict), and the call; it returns a list of strings, best first. """
        if ref_type not in ("ref/prompt", "ref/resource"):
            raise ValueError("ref_type is ref/prompt or ref/resource")

        def register(function):
            self.completers[(ref_type, name, argument)] = function
            return function
        return register

    def rpc_complete(self, call):
        """ Suggestions for one argument of a prompt or resource template
        (6.5): at most 100 values, with total and hasMore.  An unknown
        prompt or template is -32602; an argument without a completer
        gets no suggestions. """
        ref, argument = call.params.get("ref"), call.params.get("argument")
        if not isinstance(ref, dict) or not isinstance(argument, dict) or \
                not isinstance(argument.get("name"), str) or \
                not isinstance(argument.get("value", ""), str):
            raise RPCError(INVALID_PARAMS, "completion/complete needs 'ref' "
                           "and 'argument' {name, value}")
        target = self.completion_target(ref)
        context = call.params.get("context") or {}
        chosen = context.get("arguments") if isinstance(context, dict) \
            else None
        completer = self.completers.get((ref["type"], target,
                                         argument["name"]))
        values = []
        if completer is not None:
            values = [str(v) for v in completer(
                argument.get("value", ""),
                chosen if isinstance(chosen, dict) else {}, call)]
        return {"completion": {"values": values[:100], "total": len(values),
                               "hasMore": len(values) > 100}}

    def completion_target(self, ref):
        """ The prompt name or template URI a completion ref names. """
        kind = ref.get("type")
        if kind == "ref/prompt" and isinstance(ref.get("name"), str):
            if self.prompts.get(ref["name"]) is not None:
                return ref["name"]
            raise RPCError(INVALID_PARAMS, "Unknown prompt: %s"
                           % ref["name"][:100])
        if kind == "ref/resource" and isinstance(ref.get("uri"), str):
            if self.templates.get(ref["uri"]) is not None or \
                    self.resources.get(ref["uri"]) is not None:
                return ref["uri"]
            raise RPCError(INVALID_PARAMS, "Unknown resource template: %s"
                           % ref["uri"][:200])
        raise RPCError(INVALID_PARAMS, "completion 'ref' must be "
                       "{type: ref/prompt, name} or {type: ref/resource, uri}")


# -- Logging (6.3) ------------------------------------------------------------

class LoggingFeature(object):
    """ Logging (6.3): logging/setLevel.

    A 2025 client sets the least severe level it wants to hear for its
    session; each Call then sends notifications/message (Call.log) at that
    level or above, on the request's own stream.  In 2026-07-28 there is
    no session: each request names its level in _meta
    (io.modelcontextprotocol/logLevel), checked by check_modern_meta.
    Levels are RFC 5424's (LOG_LEVELS).
    """

    def rpc_set_level(self, call):
        level = call.params.get("level")
        if level not in LOG_LEVELS:
            raise RPCError(INVALID_PARAMS, "Invalid log level %r; use one of "
                           "%s" % (str(level)[:20], ", ".join(LOG_LEVELS)))
        if call.session is not None:
            call.session.log_level = level
        return {}


# -- Notifications: GET streams (S34) and subscriptions/listen ----------------

class ServerNotifications(object):
    """ Messages not tied to a request (S34): list changes and resource
    updates.

    When a registry changes (a tool added or removed, say), or a resource's
    contents change, every client that may care is told: a 2025 session
    on its GET stream (Session.standalone), a 2026-07-28 client on its
    subscriptions/listen streams (ListenFeature.tell_listeners).  Clients
    then ask for the list, or read the resource, again.
    """

    def tools_changed(self):
        """ Tell every session with a GET stream that the list changed. """
        self.broadcast(notification("notifications/tools/list_changed", {}))

    def resources_changed(self):
        self.broadcast(notification("notifications/resources/list_changed",
                                    {}))

    def prompts_changed(self):
        self.broadcast(notification("notifications/prompts/list_changed",
                                    {}))

    def resource_updated(self, uri):
        """ Call when a resource's contents changed: every session that
        subscribed to uri gets notifications/resources/updated on its GET
        stream, every listen stream that names uri gets it too, and the
        clients may read it again.  (ResourceWatch calls it for resources
        that change by themselves.) """
        message = notification("notifications/resources/updated",
                               {"uri": uri})
        for session in self.live_sessions():
            if uri in session.subscriptions:
                session.standalone.push(message)
        self.tell_listeners(message)

    def broadcast(self, message):
        for session in self.live_sessions():
            session.standalone.push(message)
        self.tell_listeners(message)

    def live_sessions(self):
        return self.sessions.all() + list(self.local_sessions)

    def watched_uris(self):
        """ Every resource URI a session or a listen stream watches. """
        uris = set()
        for session in self.live_sessions():
            with session.lock:
                uris.update(session.subscriptions)
        with self.listeners_lock:
            for listener in self.listeners:
                uris.update(listener.uris)
        return uris


class ListenFeature(object):
    """ subscriptions/listen (2026-07-28; 5.1, 6.2): a request that stays
    open.

    2026-07-28 has no sessions and no GET stream (S37, S52): a client that
    wants list changes, resource updates or task changes sends
    subscriptions/listen with a filter, and the response stream stays
    open.  The first message on it is notifications/subscriptions/
    acknowledged with the part of the filter this server honours; the
    notifications follow, each tagged with the subscription (Listener);
    the response comes only when the server ends the stream (shutdown),
    and the client ends it by closing the stream (S29) or, on stdio, by
    notifications/cancelled.  Streams are bounded per client
    (--max-client-listens).
    """

    def rpc_listen(self, call):
        """ Open a listen stream: check the filter, honour what this server
        can send, acknowledge that first, and keep the request open; the
        transport keeps its stream open until the client closes it or
        end_listeners() answers it (Listener).  A filter that asks for
        nothing is -32602; one whose every part is refused is acknowledged
        empty and ended at once.  At most --max-client-listens streams per
        client (its token, else its address): a client that opens more is
        refused, so none can hold every thread. """
        honoured = self.honoured_filter(call)
        listener = Listener(call.id, honoured, call.send, call.stream,
                            call.client, call.session, call.principal)
        limit = self.config.max_client_listens
        with self.listeners_lock:
            mine = sum(1 for other in self.listeners
                       if other.client == call.client)
            if limit and mine >= limit:
                raise RPCError(INVALID_REQUEST, "Too many listen streams: "
                               "at most %d per client (--max-client-listens)"
                               % limit)
            self.listeners.append(listener)
        call.listener = listener
        call.send(listener.tagged(notification(
            "notifications/subscriptions/acknowledged",
            {"notifications": honoured})))
        if listener.uris:
            self.watch.wake()
        if listener.asks_nothing():
            self.unlisten(listener)
            listener.end(self.listen_result(listener, call.version))
        return {}

    def honoured_filter(self, call):
        """ The part of params.notifications this server will send: list
        changes of what it offers, updates of resources that exist.  Types
        it cannot send are left out, never echoed as false. """
        wanted = call.params.get("notifications")
        if not isinstance(wanted, dict):
            raise RPCError(INVALID_PARAMS, "Invalid params: "
                           "subscriptions/listen needs a 'notifications' "
                           "object")
        for flag, _ in LISTEN_FLAGS:
            if not isinstance(wanted.get(flag, False), bool):
                raise RPCError(INVALID_PARAMS, "Invalid params: "
                               "notifications.%s must be a boolean" % flag)
        uris = self.filter_strings(wanted, "resourceSubscriptions", "URIs",
                                   "subscriptions")
        task_ids = self.wanted_task_ids(call, wanted)
        if not uris and not task_ids and \
                not any(wanted.get(flag) for flag, _ in LISTEN_FLAGS):
            raise RPCError(INVALID_PARAMS, "Invalid params: the filter asks "
                           "for no notification (set toolsListChanged, "
                           "promptsListChanged, resourcesListChanged, "
                           "resourceSubscriptions or taskIds)")
        offered = self.capabilities(call.version)
        honoured = {}
        for flag, kind in (("toolsListChanged", "tools"),
                           ("promptsListChanged", "prompts"),
                           ("resourcesListChanged", "resources")):
            if wanted.get(flag) is True and kind in offered:
                honoured[flag] = True
        known = [uri for uri in collections.OrderedDict.fromkeys(uris)
                 if "resources" in offered and
                 self.find_resource(uri)[0] is not None]
        if known:
            honoured["resourceSubscriptions"] = known
        mine = self.tasks.known_to(
            list(collections.OrderedDict.fromkeys(task_ids)), call.principal)
        if mine:
            honoured["taskIds"] = mine
        return honoured

    @staticmethod
    def filter_strings(wanted, field, kinds, many):
        """ notifications.<field> of a listen filter: a list of strings
        (resource URIs, task ids), at most MAX_SUBSCRIPTIONS of them;
        else -32602. """
        values = wanted.get(field, [])
        if not isinstance(values, list) or \
                not all(isinstance(value, str) for value in values):
            raise RPCError(INVALID_PARAMS, "Invalid params: notifications."
                           "%s must be a list of %s" % (field, kinds))
        if len(values) > MAX_SUBSCRIPTIONS:
            raise RPCError(INVALID_PARAMS, "Too many %s: at most %d per "
                           "listen stream" % (many, MAX_SUBSCRIPTIONS))
        return values

    def wanted_task_ids(self, call, wanted):
        """ notifications.taskIds: the tasks whose every change the client
        wants to hear of (notifications/tasks, the tasks extension).  Only
        for a request that declares the extension: else -32021 (S62). """
        task_ids = self.filter_strings(wanted, "taskIds", "task ids",
                                       "task ids")
        if "taskIds" in wanted and call.modern and \
                not declares_tasks(call.client_capabilities):
            raise tasks_capability_missing("subscriptions/listen with taskIds")
        return task_ids

    def listen_result(self, listener, version):
        """ The response that ends a listen stream gracefully. """
        result = {"_meta": {META_SUBSCRIPTION: listener.id}}
        if version in MODERN_VERSIONS:
            result["resultType"] = "complete"
            result["_meta"][META_SERVER_INFO] = self.server_info
        return result

    def tell_listeners(self, message):
        with self.listeners_lock:
            listeners = list(self.listeners)
        for listener in listeners:
            listener.notify(message)

    def unlisten(self, listener):
        """ Forget a listen stream (its client left, or it ended). """
        with self.listeners_lock:
            if listener in self.listeners:
                self.listeners.remove(listener)
        if listener.uris:
            self.watch.nudge()

    def unlisten_by_id(self, request_id, session):
        """ stdio: the client's notifications/cancelled ends its listen
        request (there is no stream to close). """
        with self.listeners_lock:
            found = [l for l in self.listeners
                     if l.id == request_id and l.session is session]
        for listener in found:
            listener.ended = True
            self.unlisten(listener)
        return bool(found)

    def end_listeners(self, session=None, graceful=True):
        """ Shutdown: answer every listen request (of one stdio session,
        if given), which ends its stream gracefully; or, at the end of a
        stdio client's input, just forget them. """
        with self.listeners_lock:         # all at once: O(n), not O(n^2)
            ending = [l for l in self.listeners
                      if session is None or l.session is session]
            self.listeners = [l for l in self.listeners
                              if not (session is None or
                                      l.session is session)]
        if any(listener.uris for listener in ending):
            self.watch.nudge()
        for listener in ending:
            if graceful:
                listener.end(self.listen_result(listener,
                                                MODERN_VERSIONS[-1]))
            listener.ended = True


# -- The dispatcher: method table and lifecycle -------------------------------

class MCPDispatcher(ToolsFeature, TasksFeature, ResourcesFeature,
                    PromptsFeature, CompletionFeature, LoggingFeature,
                    ListenFeature, ServerNotifications, FeatureCommon):
    """ The protocol core: the method table and the lifecycle; no HTTP.

    Like the standard library's SimpleXMLRPCDispatcher, it knows nothing of
    the transport.  ``handle(message, send, ...)`` takes one incoming message
    and sends every outgoing one (notifications, then the response) through
    ``send``.  The HTTP handler, the stdio loop and the tests all drive it.

    What it owns itself: the two method tables (``legacy_methods`` for the
    2025 revisions, ``modern_methods`` for 2026-07-28: the same feature
    handlers, a different lifecycle), the dispatch of requests,
    notifications and responses, the errors a request can end with (7.1),
    the capabilities it declares (4.1), and the lifecycle of each era:
    initialize, notifications/initialized and ping for 2025 sessions (4.1,
    4.2), server/discover and the per-request _meta of 2026-07-28 (1.3,
    4.3).  The handlers of each feature come from the classes above, one
    per feature: ToolsFeature, TasksFeature, ResourcesFeature,
    PromptsFeature, CompletionFeature, LoggingFeature, ListenFeature and
    ServerNotifications, over FeatureCommon.  What a handler needs to talk
    back (progress, logging, questions to the client) is its Call.
    """

    server_info = {"name": SERVER_NAME, "title": SERVER_TITLE,
                   "version": __version__}
    instructions = INSTRUCTIONS

    def __init__(self, config=None, tools=None):
        self.config = config or Config()
        self.tools = tools or ToolRegistry()
        self.resources, self.templates = Registry(), Registry()
        self.prompts = Registry()
        self.completers = {}    # (ref type, name or URI, argument) -> func
        self.sessions = SessionStore(self.config)
        self.local_sessions = []        # not in the store: stdio's one
        self.workers = WorkerPool()
        self.stateless = self.config.stateless
        self.trace = self.config.trace
        self.state_secret = self.config.state_secret.encode("utf-8") or \
            secrets.token_bytes(32)
        self.tasks = Tasks(self.config, self.workers, self.sessions.node_id)
        self.legacy_methods, self.modern_methods = self.method_tables()
        self.listeners = []             # open subscriptions/listen streams
        self.listeners_lock = threading.Lock()
        self.watch = ResourceWatch(self)
        self.follow_registries()

    def method_tables(self):
        """ (legacy_methods, modern_methods): method name -> handler, one
        table per era.  Both eras share the features' methods; 2025
        sessions add the lifecycle (initialize, ping), logging/setLevel,
        resources/subscribe and the tasks utility of 2025-11-25;
        2026-07-28 adds server/discover, subscriptions/listen and the
        tasks extension's methods (1.3, 4.3).  A method that is not in the
        request's table, or whose capability is not offered, is -32601. """
        common = {
            "tools/list": self.rpc_tools_list,
            "tools/call": self.rpc_tools_call,
            "resources/list": self.rpc_resources_list,
            "resources/read": self.rpc_resources_read,
            "resources/templates/list": self.rpc_templates_list,
            "prompts/list": self.rpc_prompts_list,
            "prompts/get": self.rpc_prompts_get,
            "completion/complete": self.rpc_complete,
        }
        legacy_methods = dict(common, **{
            "initialize": self.rpc_initialize,
            "ping": self.rpc_ping,
            "logging/setLevel": self.rpc_set_level,
            "resources/subscribe": self.rpc_subscribe,
            "resources/unsubscribe": self.rpc_unsubscribe,
            "tasks/get": self.tasks.rpc_get,            # Tasks (2025-11-25)
            "tasks/result": self.tasks.rpc_result,
            "tasks/list": self.tasks.rpc_list,
            "tasks/cancel": self.tasks.rpc_cancel,
        })
        modern_methods = dict(common, **{
            "server/discover": self.rpc_discover,
            "subscriptions/listen": self.rpc_listen,
            "tasks/get": self.tasks.rpc_get,            # Tasks
            "tasks/update": self.tasks.rpc_update,
            "tasks/cancel": self.tasks.rpc_cancel,
        })
        return legacy_methods, modern_methods

    def follow_registries(self):
        """ Registries tell the dispatcher when they change: clients hear of
        it (ServerNotifications), and Tasks counts the tools that may run
        as tasks (the capability depends on it). """
        self.tools.listeners.append(self.tools_changed)
        self.tools.listeners.append(lambda: self.tasks.count_tools(self.tools))
        self.tasks.count_tools(self.tools)
        self.resources.listeners.append(self.resources_changed)
        self.templates.listeners.append(self.resources_changed)
        self.prompts.listeners.append(self.prompts_changed)
        self.tasks.listeners.append(self.task_changed)

    # -- entry point: one message in, every answer out (4.0) ------------------

    def handle(self, message, send, session=None, version=None,
               cancelled=None, principal="", stream=None, client=""):
        """ Handle one JSON-RPC message; send(...) each outgoing message.

        version is the request's protocol revision: the session's for legacy
        sessions, the MCP-Protocol-Version header (or 2025-03-26) for
        stateless legacy requests, the _meta version for 2026-07-28 ones.
        principal identifies the bearer token, to bind a new session to it;
        client (the token, else the address) bounds listen streams.
        stream, if given, is the Stream that send() feeds (it lets a call
        ask the client something, or close its connection).
        Returns the Call for a request, else None.
        """
        if self.trace:
            self._trace(">>", session, message)
            send = self._traced(send, session)
        try:
            kind = message_kind(message)
        except RPCError as exc:
            send(exc.response(readable_id(message)))
            return None
        if kind == "notification":
            self.on_notification(message, session)
            return None
        if kind == "response":
            self.on_response(message, session)
            return None
        version = version or (session.version if session else ASSUMED_VERSION)
        call = Call(self, message, send, session, version, cancelled,
                    principal, stream, client)
        if session is not None:
            session.track(call)
        try:
            result = self.call_method(call)
            if call.listener is not None:
                pass            # a listen stream: answered when it ends
            elif not call.cancelled.is_set():
                send({"jsonrpc": "2.0", "id": call.id,
                      "result": self.finish_result(result, call)})
        except Cancelled:
            pass                            # no response to a cancelled call
        except RPCError as exc:
            if not call.cancelled.is_set():
                send(exc.response(call.id))
        except RecursionError:
            send(RPCError(INVALID_PARAMS, "Invalid params: nested too "
                          "deeply").response(call.id))
        except Exception:
            log.exception("internal error in %s", call.method)
            send(RPCError(INTERNAL_ERROR, "Internal error (see the server "
                          "log)").response(call.id))
        finally:
            if session is not None:
                session.untrack(call)
        return call

    def _traced(self, send, session):
        def traced(message):
            self._trace("<<", session, message)
            send(message)
        return traced

    @staticmethod
    def _trace(direction, session, message):
        try:
            text = encode_json(message).decode("utf-8", "replace")
        except (ValueError, RecursionError):
            text = "(a message too deeply nested to print)"
        log.info("trace %s %s %s", session.short if session else "-",
                 direction, text)

    def methods_for(self, version):
        if version in MODERN_VERSIONS:
            return self.modern_methods
        return self.legacy_methods

    def call_method(self, call):
        method = self.methods_for(call.version).get(call.method)
        if method is None or not self.offers(call.method, call.version):
            raise RPCError(METHOD_NOT_FOUND, "Method not found: %s"
                           % call.method[:100],
                           status=404 if call.modern else 200)
        if call.modern and call.method in INPUT_METHODS:
            call.load_inputs(self.state_secret)
        try:
            return method(call)
        except InputRequired as exc:
            if call.method not in INPUT_METHODS:
                log.error("%s asked the client for input, which only %s may "
                          "do", call.method, ", ".join(sorted(INPUT_METHODS)))
                raise RPCError(INTERNAL_ERROR, "Internal error (see the "
                               "server log)")
            return call.input_required(exc.requests, self.state_secret)

    def finish_result(self, result, call):
        """ 2026-07-28 results carry resultType ("complete", or
        "input_required" from call_method) and serverInfo (S63, S64). """
        if call.modern:
            result.setdefault("resultType", "complete")
            meta = result.setdefault("_meta", {})
            meta[META_SERVER_INFO] = self.server_info
        return result

    def on_response(self, message, session):
        """ The client's answer to one of our requests (Call.ask) goes to
        the call that waits for it.  Late or unknown answers are ignored,
        as the cancellation rules ask (6.2): the POST still gets 202. """
        if session is None or not session.settle(message):
            log.info("session %s: answer to %r ignored: no request with that "
                     "id is waiting (late, or never sent)",
                     session.short if session else "-",
                     readable_id(message))

    def on_notification(self, message, session):
        """ notifications/initialized needs nothing; cancelled stops a call.
        Unknown notifications are ignored, as JSON-RPC asks. """
        if message["method"] == "notifications/cancelled" and session:
            params = message.get("params") or {}
            request_id = params.get("requestId")
            if is_request_id(request_id):
                found = session.cancel(request_id) or \
                    self.unlisten_by_id(request_id, session)
                log.debug("cancel %r (%s): %s", request_id,
                          str(params.get("reason", ""))[:100],
                          "stopped" if found else "not in flight")

    # -- capabilities: what this server offers, by era (4.1) ------------------

    def capabilities(self, version):
        """ Exactly what this server implements (4.1): resources, prompts
        and completions only once something of the kind is registered.  In
        2026-07-28 list changes and resource updates come on
        subscriptions/listen streams, which need no session, so even a
        --stateless server offers them; in 2025 resources/subscribe needs
        a session (its GET stream). """
        modern = version in MODERN_VERSIONS
        changes = {"listChanged": True}
        result = {"tools": dict(changes), "logging": {}}
        if len(self.resources) or len(self.templates):
            result["resources"] = dict(changes)
            if modern or not self.stateless:
                result["resources"]["subscribe"] = True
        if len(self.prompts):
            result["prompts"] = dict(changes)
        if self.completers:
            result["completions"] = {}
        if modern and self.tasks.enabled and self.tasks.tools:
            result.setdefault("extensions", {})[TASKS_EXTENSION] = {}
        elif version >= "2025-11-25" and self.tasks.enabled and \
                self.tasks.tools:
            result["tasks"] = copy.deepcopy(TASKS_CAPABILITY)
        return result

    def offers(self, method, version):
        """ Whether the capability that method needs was declared.  Most
        methods (tools/list, tools/call, ping...) need none: they are
        offered without building the capabilities, on every request. """
        path = METHOD_CAPABILITIES.get(method, ())
        if version not in MODERN_VERSIONS:
            path = LEGACY_METHOD_CAPABILITIES.get(method, path)
        if not path:
            return True
        offered = self.capabilities(version)
        for name in path:
            offered = offered.get(name) if isinstance(offered, dict) else None
        return offered is not None and offered is not False

    # -- the 2026-07-28 era: checks every request passes (1.3, S62) -----------

    def check_modern_meta(self, message):
        """ Check the _meta every 2026-07-28 request must carry and return
        the protocol version it names.  A missing field, or a bad log level,
        makes the request malformed: -32602 with HTTP 400 (checklist 1.3). """
        params = message.get("params") or {}
        meta = params.get("_meta")
        if not isinstance(meta, dict) or \
                not isinstance(meta.get(META_VERSION), str) or \
                not isinstance(meta.get(META_CAPABILITIES), dict):
            raise RPCError(INVALID_PARAMS, "Invalid params: 2026-07-28 "
                           "requests need params._meta with %s and %s"
                           % (META_VERSION, META_CAPABILITIES), status=400)
        if meta.get(META_LOG_LEVEL, "info") not in LOG_LEVELS:
            raise RPCError(INVALID_PARAMS, "Invalid params: %s must be one "
                           "of %s" % (META_LOG_LEVEL, ", ".join(LOG_LEVELS)),
                           status=400)
        return meta[META_VERSION]

    def check_client_capabilities(self, message):
        """ A 2026-07-28 tools/call of a tool that needs a client capability
        the request's _meta does not declare is refused before it runs:
        -32021 with requiredCapabilities, HTTP 400 (S62). """
        params = message.get("params") or {}
        name = params.get("name")
        declared = (params.get("_meta") or {}).get(META_CAPABILITIES)
        if message.get("method") in TASK_METHODS and \
                not declares_tasks(declared):
            raise tasks_capability_missing(message["method"])   # Tasks
        if message.get("method") == "subscriptions/listen" and \
                "taskIds" in (params.get("notifications") or {}) and \
                not declares_tasks(declared):
            raise tasks_capability_missing(     # Tasks: notifications/tasks
                "subscriptions/listen with taskIds")
        if message.get("method") != "tools/call" or not isinstance(name, str):
            return
        tool = self.tools.get(name)
        if tool is not None and isinstance(declared, dict):
            missing = tool.missing_capabilities(declared)
            if missing:
                raise missing_capability(missing)
            if tool.task_support == "required" and self.tasks.enabled and \
                    not declares_tasks(declared):
                raise tasks_capability_missing(name)            # Tasks

    @staticmethod
    def check_modern_version(version):
        """ A version we do not serve statelessly is -32022, with the list
        to retry with (checklist 1.3); 2025 clients use initialize. """
        if version not in MODERN_VERSIONS:
            raise RPCError(UNSUPPORTED_VERSION, "Unsupported protocol "
                           "version %r (for 2025 revisions, send initialize)"
                           % version[:40],
                           data={"supported": list(MODERN_VERSIONS),
                                 "requested": version}, status=400)
        return version

    # -- lifecycle: initialize and ping (4.1, 4.2), server/discover (4.3) -----

    def rpc_initialize(self, call):
        """ Negotiate: the requested version if we speak it, else our latest
        (1.2); so the tutorial's "2025-05-16" gets "2025-11-25".  A session
        is minted only now, after everything was checked (B-6). """
        params = call.params
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise RPCError(INVALID_PARAMS, "initialize needs a string "
                           "protocolVersion")
        for field in ("capabilities", "clientInfo"):
            if not isinstance(params.get(field, {}), dict):
                raise RPCError(INVALID_PARAMS, "initialize: %s must be an "
                               "object" % field)
        version = requested if requested in LEGACY_VERSIONS else LATEST_LEGACY
        client_info = params.get("clientInfo") or {}
        capabilities = params.get("capabilities") or {}
        if call.session is not None:            # stdio: one implicit session
            call.session.version = version
            call.session.client_info = client_info
            call.session.client_capabilities = capabilities
        elif not self.stateless:
            call.created_session = self.sessions.create(
                version, client_info, capabilities, call.principal)
        log.info("initialize: %s %s asked %s, got %s",
                 str(client_info.get("name", "?"))[:60],
                 str(client_info.get("version", ""))[:20],
                 requested[:20], version)
        result = {"protocolVersion": version,
                  "capabilities": self.capabilities(version),
                  "serverInfo": self.server_info,
                  "instructions": self.instructions}
        if version < "2025-06-18":
            result["serverInfo"] = {"name": SERVER_NAME,
                                    "version": __version__}
        return result

    def rpc_ping(self, call):
        return {}

    def rpc_discover(self, call):
        return self.cache_hints({
            "supportedVersions": list(LEGACY_VERSIONS + MODERN_VERSIONS),
            "capabilities": self.capabilities(call.version),
            "instructions": self.instructions})


###############################################################################
# HTTP/1.1 messages ###########################################################
###############################################################################

# What the HTTP transport and the weather services' client both read: the
# header section of a message (RFC 9112 5) and its numbers.

DIGITS = re.compile(r"^[0-9]+$")               # ASCII only, unlike isdigit()
HEX_DIGITS = re.compile(r"^[0-9A-Fa-f]{1,16}$")
STATUS_CODE = re.compile(r"^[1-5][0-9][0-9]$")
# A request line's version: HTTP/major.minor, numbers of at most 10 digits.
HTTP_VERSION = re.compile(r"^HTTP/([0-9]{1,10})\.([0-9]{1,10})$")

# Header limits: http.client's, which http.server applies (431 beyond them).
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")   # RFC 9110 5.1


class HeaderFields(object):
    """ The header fields of a request or an answer, as http.client's
    HTTPMessage offers them (case-insensitive get() of the first value,
    get_all()), but parsed without the email package, which http.server
    and http.client use and which costs more than the rest of a small
    request. """

    def __init__(self, fields):
        self.fields = fields                    # [(name, value)] in order
        self.index = {}
        for name, value in fields:
            self.index.setdefault(name.lower(), []).append(value)

    def get(self, name, default=None):
        values = self.index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name, default=None):
        return list(self.index.get(name.lower(), ())) or default

    __getitem__ = get

    def __contains__(self, name):
        return name.lower() in self.index

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.fields)

    def keys(self):
        return [name for name, _ in self.fields]

    def values(self):
        return [value for _, value in self.fields]

    def items(self):
        return list(self.fields)

    def __str__(self):
        return "".join("%s: %s\n" % field for field in self.fields) + "\n"


class HeaderError(Exception):
    """ A header section http.server must refuse: status and reason. """

    def __init__(self, status, reason):
        Exception.__init__(self, reason)
        self.status, self.reason = status, reason


def read_headers(rfile):
    """ Read header field lines up to the empty line (RFC 9112 5).  A line
    that is not "name: value" is refused (400), as whitespace before the
    colon must be (5.1); email's parser, which http.server uses, silently
    drops such a line and every field after it.  An obs-fold continuation
    line becomes one space (5.2). """
    fields = []
    while True:
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            raise HeaderError(431, "Line too long")
        if line in (b"\r\n", b"\n", b""):
            return HeaderFields(fields)
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, (value + " " + text.strip(" \t")).strip())
            continue
        if len(fields) >= MAX_HEADERS:
            raise HeaderError(431, "Too many headers")
        name, colon, value = text.partition(":")
        if not colon or not FIELD_NAME.match(name):
            raise HeaderError(400, "Bad request: malformed header field "
                              "%r" % text[:80])
        fields.append((name, value.strip(" \t")))


###############################################################################
# Weather #####################################################################
###############################################################################

# WMO weather interpretation codes, as Open-Meteo reports them.
WMO_CODES = {
    0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast",
    45: "fog", 48: "depositing rime fog",
    51: "light drizzle", 53: "moderate drizzle", 55: "dense drizzle",
    56: "light freezing drizzle", 57: "dense freezing drizzle",
    61: "slight rain", 63: "moderate rain", 65: "heavy rain",
    66: "light freezing rain", 67: "heavy freezing rain",
    71: "slight snowfall", 73: "moderate snowfall", 75: "heavy snowfall",
    77: "snow grains", 80: "slight rain showers",
    81: "moderate rain showers", 82: "violent rain showers",
    85: "slight snow showers", 86: "heavy snow showers",
    95: "thunderstorm", 96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}

MAX_UPSTREAM_BODY = 2 * 1024 * 1024
UPSTREAM_HEADERS = {"Accept": "application/json",
                    "Accept-Encoding": "identity",     # no gzip, please
                    "User-Agent": "%s/%s" % (SERVER_NAME, __version__)}
CACHE_ENTRIES = 1024

# Suggested while a person types a city name (completion/complete), before
# the geocoding search has enough letters, and for Seniverse.
KNOWN_CITIES = (
    "Amsterdam", "Athens", "Auckland", "Bangkok", "Barcelona", "Beijing",
    "Berlin", "Buenos Aires", "Cairo", "Cape Town", "Chengdu", "Chicago",
    "Delhi", "Dubai", "Guangzhou", "Hangzhou", "Hong Kong", "Istanbul",
    "Jakarta", "Lagos", "Lima", "London", "Los Angeles", "Madrid",
    "Melbourne", "Mexico City", "Moscow", "Mumbai", "Nairobi", "New York",
    "Paris", "Rome", "San Francisco", "São Paulo", "Seoul", "Shanghai",
    "Shenzhen", "Singapore", "Stockholm", "Sydney", "Taipei", "Tokyo",
    "Toronto", "Vienna", "Wuhan", "Zurich",
    "北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京")


class WeatherError(ToolError):
    """ An upstream failure, worded for the person who reads the result. """


class PlaceNotFound(WeatherError, NotFound):
    """ The weather service knows no place by that name: an isError result
    for a tool, "Resource not found" for weather://{city}/... """


def describe_wmo(code):
    return WMO_CODES.get(code, "weather code %s" % code)


def redact(url):
    """ A URL fit for logs: API keys never leave the server (6.3). """
    return re.sub(r"(?i)([?&](?:key|apikey|api_key|token)=)[^&]*",
                  r"\1***", url)


def number(value, what):
    """ A finite number from upstream JSON (which may send strings). """
    if value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise WeatherError("the weather service sent a malformed %s" % what)
    if not math.isfinite(result):
        raise WeatherError("the weather service sent a malformed %s" % what)
    return int(result) if result.is_integer() and isinstance(value, int) \
        else result


class TTLCache(object):
    """ A small, thread-safe, least-recently-used cache with expiry. """

    def __init__(self, ttl, size=CACHE_ENTRIES):
        self.ttl, self.size = ttl, size
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key, value):
        if self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Upstream(object):
    """ JSON over HTTP from a weather service: bounded in time and size,
    cut off at once when the call is cancelled, logged without secrets,
    and every failure turned into a WeatherError a person can read.

    Requests go over kept-alive connections that later calls reuse (no
    connect, and no TLS handshake, per request), on the calling thread: a
    cancel shuts the connection down, which wakes a read blocked on it.
    Behind a proxy from the environment (http_proxy, https_proxy), or when
    the service redirects, urllib does the request instead. """

    idle_limit = 8          # kept-alive connections per host
    idle_seconds = 15.0     # an older idle connection is closed, not reused

    def __init__(self, name, timeout):
        self.name, self.timeout = name, timeout
        self._idle = {}                 # (scheme, netloc) -> [connection]
        self._lock = threading.Lock()
        self._proxies = None            # read from the environment once
        self._opener = None             # urllib's, with those proxies
        self._tls = None                # one verifying SSL context

    def get_json(self, url, params, call):
        full = url + ("&" if "?" in url else "?") + query_string(params)
        if call.log_level is not None:      # a client asked for logs (6.3)
            call.log("debug", "GET %s" % redact(full))
        started = time.monotonic()
        try:
            status, body = self.fetch(full, call)
        except (socket.timeout, TimeoutError):
            call.check_cancelled()
            raise self.failed(call, "%s did not answer within %g s"
                              % (self.name, self.timeout))
        except OSError as exc:          # URLError and RemoteDisconnected too
            call.check_cancelled()      # the cancel cut the connection
            reason = getattr(exc, "reason", exc)
            raise self.failed(call, "could not reach %s: %s"
                              % (self.name, reason))
        except http.client.HTTPException as exc:    # e.g. a body cut short
            call.check_cancelled()
            raise self.failed(call, "%s sent a broken answer (%s)"
                              % (self.name, type(exc).__name__))
        call.check_cancelled()
        elapsed = time.monotonic() - started
        if elapsed > self.timeout / 2:
            call.log("warning", "%s took %.1f s" % (self.name, elapsed))
        try:
            data = parse_json(body)
        except RPCError:
            data = None
        if status != 200:
            raise self.failed(call, "%s answered HTTP %d%s" % (
                self.name, status, self.reason(data)), data)
        if data is None:
            raise self.failed(call, "%s sent an answer that is not valid "
                              "JSON" % self.name)
        return data

    def fetch(self, url, call):
        """ (status, body) of a GET, within the timeout; socket.timeout
        after it. """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or self.proxied(parts):
            return self.fetch_with_urllib(url, call)
        target = (parts.path or "/") + ("?" + parts.query if parts.query
                                        else "")
        # The socket blocks without a timeout of its own (Alarms says why):
        # the deadline's alarm cuts the connection, as a cancel does.
        cut, alarms = _ConnectionCutter(), call.dispatcher.workers.alarms
        call.cancelled.wake_on_cancel(cut)
        alarm = alarms.set(self.timeout, cut.set)
        try:
            conn, status, body, reusable = self.exchange(
                parts, target, time.monotonic() + self.timeout, call, cut,
                alarm)
        except Exception:
            if alarms.clear(alarm):
                raise socket.timeout("timed out")
            raise
        finally:
            call.cancelled.forget(cut)
        if alarms.clear(alarm):
            # The deadline cut the connection, and the reads that were
            # under way saw an end of input: a service that trickles its
            # header section forever ends here, its "answer" cut short.
            conn.close()
            raise socket.timeout("timed out")
        if reusable and not call.cancelled.is_set():
            self.checkin(parts, conn)
        else:
            conn.close()
        if 300 <= status < 400:         # urllib follows redirects
            return self.fetch_with_urllib(url, call)
        return status, body

    def exchange(self, parts, target, deadline, call, cut, alarm):
        """ Send the GET on a kept-alive connection, or a new one, and
        read the answer: (connection, status, body, reusable).  A kept-alive
        connection the service has closed meanwhile fails at once; the
        request is then sent once more on a new one (a GET may be
        repeated). """
        while True:
            conn, reused = self.checkout(parts)
            cut.conn = conn
            call.dispatcher.workers.turns.give()    # a wait (Turns)
            try:
                if conn.sock is None:
                    conn.open(time_left(deadline))
                if alarm.fired:         # before the cut could reach it
                    raise socket.timeout("timed out")
                call.check_cancelled()          # cancelled meanwhile
                status, body, reusable = conn.get(target)
                return conn, status, body, reusable
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    ConnectionAbortedError, BrokenPipeError):
                conn.close()
                if reused and not alarm.fired and \
                        not call.cancelled.is_set():
                    continue            # stale: the service closed it
                raise
            except Exception:
                conn.close()
                raise

    def checkout(self, parts):
        """ An idle kept-alive connection to the host, or a new one (not
        yet open): (connection, whether it was reused). """
        key, now = (parts.scheme, parts.netloc), time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn = idle.pop()
                if now - conn.idle_since < self.idle_seconds:
                    return conn, True
                conn.close()
        if parts.scheme == "https" and self._tls is None:
            import ssl          # here, not on top: only HTTPS needs it
            self._tls = ssl.create_default_context()
        return UpstreamConnection(parts, self._tls if parts.scheme ==
                                  "https" else None), False

    def close_idle(self):
        """ Close every kept-alive connection not in use (tests count
        descriptors; a long-idle server need not hold sockets open). """
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def checkin(self, parts, conn):
        conn.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault((parts.scheme, parts.netloc), [])
            if len(idle) < self.idle_limit:
                idle.append(conn)
                return
        conn.close()

    def proxied(self, parts):
        """ Whether the environment names a proxy for this URL; read at
        the first request, as urllib reads it. """
        if self._proxies is None:
            import urllib.request   # here, not on top: most never need it
            self._proxies = urllib.request.getproxies()
        if parts.scheme not in self._proxies:
            return False
        import urllib.request
        return not urllib.request.proxy_bypass(parts.hostname or "")

    def fetch_with_urllib(self, url, call):
        """ Through urllib (proxies, redirects), in a helper thread that a
        cancelled call abandons. """
        import urllib.error
        import urllib.request

        # Our own opener, with the proxies proxied() read: urlopen()'s
        # shared one keeps whatever the environment held at its first use.
        if self._opener is None:
            self._opener = urllib.request.build_opener(
                urllib.request.ProxyHandler(self._proxies))
        opener = self._opener

        def fetch():
            request = urllib.request.Request(url, headers=UPSTREAM_HEADERS)
            deadline = time.monotonic() + self.timeout
            try:
                with opener.open(request, timeout=self.timeout) as r:
                    return r.status, read_within(r, deadline,
                                                 MAX_UPSTREAM_BODY)
            except urllib.error.HTTPError as exc:
                return exc.code, read_within(exc, deadline,
                                             MAX_UPSTREAM_BODY)
        return call.run_abandonable(fetch, self.timeout + 1)

    @staticmethod
    def reason(data):
        """ The error text of Open-Meteo ("reason") or Seniverse ("status"). """
        if isinstance(data, dict):
            text = data.get("reason") or data.get("status")
            if isinstance(text, str):
                return ": " + text[:200]
        return ""

    def failed(self, call, message, data=None):
        log.warning("upstream: %s", message)
        call.log("warning", message)
        error = WeatherError(message)
        error.data = data
        return error


_QUERY_PARTS = {}       # (key, value, type) -> "key=value", URL-encoded


def query_string(params):
    """ urllib.parse.urlencode(params), each pair encoded once: the same
    pairs (the fields asked for, a city's name and coordinates) come back
    call after call, and quoting them again cost more than the request. """
    parts = []
    for key, value in params.items():
        memo = (key, value, type(value))    # True and 1 encode apart
        try:
            part = _QUERY_PARTS.get(memo)
        except TypeError:                   # a list: not kept
            memo = part = None
        if part is None:
            part = urllib.parse.urlencode([(key, value)])
            if memo is not None:
                if len(_QUERY_PARTS) >= 1024:
                    _QUERY_PARTS.clear()
                _QUERY_PARTS[memo] = part
        parts.append(part)
    return "&".join(parts)


def time_left(deadline):
    """ Seconds until deadline, for a socket timeout; socket.timeout once
    it has passed. """
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


class UpstreamConnection(object):
    """ One kept-alive HTTP/1.1 connection to a weather service.  It sends
    a GET and reads the answer itself: the status line, the header fields
    (with read_headers(), as requests are read) and a Content-Length,
    chunked or close-delimited body, all within a deadline.  http.client
    would parse every answer's header section with the email package,
    which costs more than the rest of the exchange. """

    def __init__(self, parts, tls=None):
        self.host = parts.hostname or ""
        try:
            self.port = parts.port or (443 if tls is not None else 80)
        except ValueError as exc:           # e.g. a port beyond 65535
            raise http.client.InvalidURL(str(exc))
        self.request = ("GET %%s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
            parts.netloc.rpartition("@")[2], "".join(
                "%s: %s\r\n" % h for h in UPSTREAM_HEADERS.items())))
        self.tls = tls
        self.sock = self.rfile = None
        self.idle_since = 0.0

    def open(self, timeout):
        """ Connect (and shake hands) within timeout; then the socket
        blocks, and the caller's alarm bounds the exchange. """
        sock = socket.create_connection((self.host, self.port), timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        sock.settimeout(None)
        self.sock, self.rfile = sock, sock.makefile("rb")

    def close(self):
        for part in (self.rfile, self.sock):
            if part is not None:
                part.close()
        self.sock = self.rfile = None

    def get(self, target):
        """ (status, body, whether the connection may be reused).  It may
        block: the caller cuts the connection at its deadline. """
        self.sock.sendall((self.request % target).encode("iso-8859-1"))
        status, version, headers = self.read_head()
        body, complete = self.read_body(status, headers)
        return status, body, complete and version == "HTTP/1.1" and \
            headers.get("Connection", "").lower() != "close"

    def read_head(self):
        """ Status, version and header fields of the final answer (an
        interim 1xx answer is skipped). """
        while True:
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
            if not line:
                raise http.client.RemoteDisconnected("closed without an "
                                                     "answer")
            words = line.decode("iso-8859-1").split(None, 2)
            if len(words) < 2 or not words[0].startswith("HTTP/") or \
                    not STATUS_CODE.match(words[1]):
                raise http.client.BadStatusLine(line[:80])
            try:
                headers = read_headers(self.rfile)
            except HeaderError as exc:
                raise http.client.HTTPException(exc.reason)
            if int(words[1]) >= 200:
                return int(words[1]), words[0], headers

    def read_body(self, status, headers):
        """ The body, at most MAX_UPSTREAM_BODY bytes, and whether all of
        it was read with the connection still usable. """
        if status in (204, 304):
            return b"", True
        codings = (headers.get("Transfer-Encoding") or "").lower()
        if codings.rsplit(",", 1)[-1].strip() == "chunked":
            return self.read_chunked()
        length = (headers.get("Content-Length") or "").strip()
        if not DIGITS.match(length):            # until the service closes
            return self.read_exactly(MAX_UPSTREAM_BODY, True), \
                False
        length = int(length)
        body = self.read_exactly(min(length, MAX_UPSTREAM_BODY))
        return body, length <= MAX_UPSTREAM_BODY

    def read_chunked(self):
        chunks, size = [], 0
        while True:
            field = self.rfile.readline(1024).split(b";")[0].strip()
            if not HEX_DIGITS.match(field.decode("iso-8859-1")):
                raise http.client.HTTPException("malformed chunked body")
            length = int(field, 16)
            if length == 0:
                read_headers(self.rfile)        # trailers, if any
                return b"".join(chunks), True
            if size + length > MAX_UPSTREAM_BODY:
                return b"".join(chunks), False
            chunks.append(self.read_exactly(length + 2)[:-2])
            size += length

    def read_exactly(self, count, until_closed=False):
        """ count bytes (fewer only if until_closed and the service
        closed). """
        chunks, size = [], 0
        while size < count:
            data = self.rfile.read1(count - size)
            if not data:
                if until_closed:
                    break
                raise http.client.IncompleteRead(b"".join(chunks),
                                                 count - size)
            chunks.append(data)
            size += len(data)
        return b"".join(chunks)


class _ConnectionCutter(object):
    """ Registered with a call's Cancellation, and set as the alarm of its
    deadline, while an upstream request runs: shut the connection down,
    so that a read or write blocked on it returns at once. """

    def __init__(self):
        self.conn = None

    def set(self):
        sock = self.conn.sock if self.conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def read_within(response, deadline, limit):
    """ Up to limit bytes of a response body, read by deadline.  Socket
    timeouts bound each read, not their sum: without a deadline, a service
    that trickles its answer a byte at a time would hold a worker thread
    long after the call gave up on it. """
    parts, size = [], 0
    while size < limit:
        if time.monotonic() > deadline:
            raise socket.timeout("the answer was still arriving")
        data = response.read1(min(65536, limit - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


class Place(object):
    """ A resolved place: what the forecast is for. """

    def __init__(self, name, country=None, region=None, latitude=None,
                 longitude=None, timezone=None):
        self.name, self.country, self.region = name, country, region
        self.latitude, self.longitude = latitude, longitude
        self.timezone = timezone

    @property
    def label(self):
        parts = [self.name, self.region, self.country]
        return ", ".join(p for i, p in enumerate(parts)
                         if p and p not in parts[:i])

    def as_dict(self):
        return {"name": self.name, "region": self.region,
                "country": self.country, "latitude": self.latitude,
                "longitude": self.longitude, "timezone": self.timezone}


class Provider(object):
    """ What the weather tools need: locate(), current(), forecast(). """

    name = "?"

    def __init__(self, config):
        self.config = config
        self.upstream = Upstream(self.name, config.weather_timeout)
        self.cache = TTLCache(config.cache_ttl)

    def suggest(self, text, call):
        """ City names that start with text, for completion/complete. """
        prefix = text.strip().casefold()
        return [name for name in KNOWN_CITIES
                if name.casefold().startswith(prefix)]

    def cached(self, key, call, fetch):
        """ A cached upstream answer, logging hits and misses (6.3). """
        value = self.cache.get(key)
        if call.log_level is not None:      # a client asked for logs (6.3)
            call.log("info", "cache %s: %s %s" % (
                "hit" if value is not None else "miss", key[0], key[1]))
        if value is None:
            value = fetch()
            self.cache.put(key, value)
        return value


class OpenMeteo(Provider):
    """ Open-Meteo: geocoding, then the forecast API.  No key needed. """

    name = "Open-Meteo"
    current_fields = ("temperature_2m,relative_humidity_2m,"
                      "apparent_temperature,weather_code,wind_speed_10m")
    daily_fields = ("weather_code,temperature_2m_max,temperature_2m_min,"
                    "precipitation_sum,precipitation_probability_max")

    def locate(self, city, call):
        return self.cached(("place", city.casefold()), call,
                           lambda: self.geocode(city, call))

    def suggest(self, text, call):
        """ Place names from the geocoding search, which matches loosely
        from three characters on; the built-in list for shorter text or
        when the service fails (completion must not break the client). """
        text = text.strip()
        if len(text) < 3:
            return Provider.suggest(self, text, call)
        try:
            data = self.cached(("names", text.casefold()), call,
                               lambda: self.upstream.get_json(
                                   self.config.geocoding_url, {
                                       "name": text, "count": 10,
                                       "language": "en", "format": "json"},
                                   call))
        except WeatherError:
            return Provider.suggest(self, text, call)
        results = data.get("results") if isinstance(data, dict) else None
        names = [r.get("name") for r in results or ()
                 if isinstance(r, dict) and isinstance(r.get("name"), str)]
        return list(collections.OrderedDict.fromkeys(names))

    def geocode(self, city, call):
        data = self.upstream.get_json(self.config.geocoding_url, {
            "name": city, "count": 1, "language": "en", "format": "json"},
            call)
        results = data.get("results") if isinstance(data, dict) else None
        if not results:
            raise PlaceNotFound("No place named %r was found. Check the "
                                "spelling, or try the name in English."
                                % city)
        try:
            top = results[0]
            return Place(top["name"], top.get("country"), top.get("admin1"),
                         number(top["latitude"], "latitude"),
                         number(top["longitude"], "longitude"),
                         top.get("timezone"))
        except (KeyError, TypeError, AttributeError):
            raise WeatherError("Open-Meteo sent a malformed place")

    def forecast_data(self, place, call, **params):
        params.update(latitude=place.latitude, longitude=place.longitude,
                      timezone="auto")
        key = ("weather", place.label) + tuple(sorted(params.items()))
        return self.cached(key, call, lambda: self.upstream.get_json(
            self.config.forecast_url, params, call))

    def current(self, place, call):
        data = self.forecast_data(place, call, current=self.current_fields)
        try:
            now, units = data["current"], data.get("current_units") or {}
            code = int(number(now["weather_code"], "weather code"))
            return {
                "location": place.as_dict(),
                "time": str(now.get("time", "")),
                "temperature": number(now["temperature_2m"], "temperature"),
                "apparent_temperature": number(
                    now.get("apparent_temperature"), "temperature"),
                "humidity": number(now.get("relative_humidity_2m"),
                                   "humidity"),
                "wind_speed": number(now.get("wind_speed_10m"), "wind"),
                "weather_code": code, "conditions": describe_wmo(code),
                "units": {"temperature": units.get("temperature_2m", "°C"),
                          "wind_speed": units.get("wind_speed_10m", "km/h")},
                "provider": self.name}
        except (KeyError, TypeError, AttributeError):
            raise WeatherError("Open-Meteo sent an answer without current "
                               "weather")

    def forecast(self, place, days, call):
        data = self.forecast_data(place, call, daily=self.daily_fields,
                                  forecast_days=days)
        try:
            daily, units = data["daily"], data.get("daily_units") or {}
            rows = []
            for i, date in enumerate(daily["time"][:days]):
                code = int(number(daily["weather_code"][i], "weather code"))
                rows.append({
                    "date": str(date), "weather_code": code,
                    "conditions": describe_wmo(code),
                    "temperature_max": number(
                        daily["temperature_2m_max"][i], "temperature"),
                    "temperature_min": number(
                        daily["temperature_2m_min"][i], "temperature"),
                    "precipitation_sum": number(self.column(
                        daily, "precipitation_sum", i), "precipitation"),
                    "precipitation_probability": number(self.column(
                        daily, "precipitation_probability_max", i),
                        "precipitation")})
            return {"location": place.as_dict(), "days": rows,
                    "units": {"temperature":
                              units.get("temperature_2m_max", "°C"),
                              "precipitation":
                              units.get("precipitation_sum", "mm")},
                    "provider": self.name}
        except (KeyError, TypeError, IndexError, AttributeError):
            raise WeatherError("Open-Meteo sent a malformed forecast")

    @staticmethod
    def column(daily, name, index):
        values = daily.get(name) or []
        return values[index] if index < len(values) else None


class Seniverse(Provider):
    """ Seniverse (心知天气), the tutorial's provider: needs SENIVERSE_KEY.
    It resolves the place itself, from a name in Chinese or English. """

    name = "Seniverse"

    def locate(self, city, call):
        return Place(city)

    def query(self, url, place, call, **extra):
        params = {"key": self.config.seniverse_key, "location": place.name,
                  "language": self.config.seniverse_language, "unit": "c"}
        params.update(extra)
        try:
            data = self.cached((url.rsplit("/", 1)[-1], place.name) +
                               tuple(sorted(extra.items())), call,
                               lambda: self.upstream.get_json(url, params,
                                                              call))
        except WeatherError as exc:
            if isinstance(getattr(exc, "data", None), dict) and \
                    exc.data.get("status_code") == "AP010010":
                raise PlaceNotFound("No place named %r was found."
                                    % place.name)
            raise
        try:
            result = data["results"][0]
            where = result["location"]
            place = Place(where["name"], where.get("country"),
                          where.get("path"), None, None,
                          where.get("timezone"))
            return result, place
        except (KeyError, TypeError, IndexError):
            raise WeatherError("Seniverse sent a malformed answer")

    def current(self, place, call):
        result, place = self.query(self.config.seniverse_url, place, call)
        try:
            now = result["now"]
            return {
                "location": place.as_dict(),
                "time": str(result.get("last_update", "")),
                "temperature": number(now["temperature"], "temperature"),
                "apparent_temperature": number(now.get("feels_like"),
                                               "temperature"),
                "humidity": number(now.get("humidity"), "humidity"),
                "wind_speed": number(now.get("wind_speed"), "wind"),
                "weather_code": int(number(now.get("code", -1), "code")),
                "conditions": str(now.get("text", "")),
                "units": {"temperature": "°C", "wind_speed": "km/h"},
                "provider": self.name}
        except (KeyError, TypeError):
            raise WeatherError("Seniverse sent an answer without current "
                               "weather")

    def forecast(self, place, days, call):
        url = self.config.seniverse_daily_url or re.sub(
            r"now\.json$", "daily.json", self.config.seniverse_url)
        result, place = self.query(url, place, call, start=0, days=days)
        try:
            rows = [{"date": str(day["date"]),
                     "weather_code": int(number(day.get("code_day", -1),
                                                "code")),
                     "conditions": str(day.get("text_day", "")),
                     "temperature_max": number(day["high"], "temperature"),
                     "temperature_min": number(day["low"], "temperature"),
                     "precipitation_sum": number(day.get("rainfall"),
                                                 "precipitation"),
                     "precipitation_probability": None}
                    for day in result["daily"][:days]]
        except (KeyError, TypeError):
            raise WeatherError("Seniverse sent a malformed forecast")
        return {"location": place.as_dict(), "days": rows,
                "units": {"temperature": "°C", "precipitation": "mm"},
                "provider": self.name}


def make_provider(config):
    """ Open-Meteo unless Seniverse is asked for or has a key. """
    choice = config.provider.lower()
    if choice == "auto":
        choice = "seniverse" if config.seniverse_key else "open-meteo"
    if choice == "seniverse":
        if not config.seniverse_key:
            raise ValueError("WEATHER_PROVIDER=seniverse needs SENIVERSE_KEY")
        return Seniverse(config)
    if choice in ("open-meteo", "openmeteo"):
        return OpenMeteo(config)
    raise ValueError("unknown weather provider %r (open-meteo, seniverse)"
                     % config.provider)


###############################################################################
# Weather tools ###############################################################
###############################################################################

CITY = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S",
        "description": "City name in any language or script, e.g. "
                       "Hangzhou, 杭州, São Paulo"}
NUMBER_OR_NULL = {"type": ["number", "null"]}
LOCATION = {
    "type": "object",
    "properties": {"name": {"type": "string"},
                   "region": {"type": ["string", "null"]},
                   "country": {"type": ["string", "null"]},
                   "latitude": NUMBER_OR_NULL, "longitude": NUMBER_OR_NULL,
                   "timezone": {"type": ["string", "null"]}},
    "required": ["name"]}
CURRENT_OUTPUT = {
    "type": "object",
    "properties": {
        "location": LOCATION, "time": {"type": "string"},
        "temperature": {"type": "number"},
        "apparent_temperature": NUMBER_OR_NULL, "humidity": NUMBER_OR_NULL,
        "wind_speed": NUMBER_OR_NULL, "weather_code": {"type": "integer"},
        "conditions": {"type": "string"},
        "units": {"type": "object",
                  "properties": {"temperature": {"type": "string"},
                                 "wind_speed": {"type": "string"}}},
        "provider": {"type": "string"}},
    "required": ["location", "temperature", "conditions", "units",
                 "provider"]}
FORECAST_OUTPUT = {
    "type": "object",
    "properties": {
        "location": LOCATION,
        "days": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "date": {"type": "string"},
                "weather_code": {"type": "integer"},
                "conditions": {"type": "string"},
                "temperature_max": {"type": "number"},
                "temperature_min": {"type": "number"},
                "precipitation_sum": NUMBER_OR_NULL,
                "precipitation_probability": NUMBER_OR_NULL},
            "required": ["date", "conditions", "temperature_max",
                         "temperature_min"]}},
        "units": {"type": "object"}, "provider": {"type": "string"}},
    "required": ["location", "days", "units", "provider"]}
READ_ONLY_WEB = {"readOnlyHint": True, "destructiveHint": False,
                 "idempotentHint": True, "openWorldHint": True}
MAX_FORECAST_CITIES = 50        # cities in one get_forecasts call
FORECASTS_OUTPUT = {
    "type": "object",
    "properties": {
        "forecasts": {"type": "array", "items": FORECAST_OUTPUT},
        "failed": {"type": "array", "items": {
            "type": "object",
            "properties": {"city": {"type": "string"},
                           "error": {"type": "string"}},
            "required": ["city", "error"]}}},
    "required": ["forecasts", "failed"]}


def format_current(data):
    units = data["units"]
    parts = ["%s %s" % (data["temperature"], units["temperature"])]
    if data.get("apparent_temperature") is not None:
        parts[0] += " (feels like %s %s)" % (data["apparent_temperature"],
                                             units["temperature"])
    if data.get("humidity") is not None:
        parts.append("humidity %s %%" % data["humidity"])
    if data.get("wind_speed") is not None:
        parts.append("wind %s %s" % (data["wind_speed"], units["wind_speed"]))
    place = Place(**data["location"]).label
    when = data["time"] + (" " + data["location"]["timezone"]
                           if data["location"].get("timezone") else "")
    return "%s: %s, %s. (%s, %s)" % (place, data["conditions"],
                                     ", ".join(parts), data["provider"],
                                     when.strip())


def format_forecast(data):
    unit = data["units"].get("temperature", "°C")
    lines = ["%d-day forecast for %s (%s):" % (
        len(data["days"]), Place(**data["location"]).label, data["provider"])]
    for day in data["days"]:
        line = "%s: %s, %s to %s %s" % (day["date"], day["conditions"],
                                        day["temperature_min"],
                                        day["temperature_max"], unit)
        if day.get("precipitation_sum") is not None:
            line += ", precipitation %s %s" % (
                day["precipitation_sum"],
                data["units"].get("precipitation", "mm"))
        if day.get("precipitation_probability") is not None:
            line += " (%s %% chance)" % day["precipitation_probability"]
        lines.append(line)
    return "\n".join(lines)


def current_weather(provider, city, call):
    """ Current conditions for a city, reporting progress in three steps
    when the client asked for it (6.1). """
    call.progress(1, 3, "Finding %s" % city)
    place = provider.locate(city, call)
    call.progress(2, 3, "Fetching the weather for %s" % place.label)
    data = provider.current(place, call)
    call.progress(3, 3, "Done")
    return data


def forecast_weather(provider, city, days, call):
    """ A daily forecast for a city, with progress like current_weather. """
    call.progress(1, 3, "Finding %s" % city)
    place = provider.locate(city, call)
    call.progress(2, 3, "Fetching a %d-day forecast for %s"
                  % (days, place.label))
    data = provider.forecast(place, days, call)
    call.progress(3, 3, "Done")
    return data


def many_forecasts(provider, cities, days, call):
    """ Forecasts for many cities, one after the other: progress after each
    (in a task, its statusMessage), and a stop between two when cancelled.
    A city that fails is reported beside the others; all failing is an
    error.  Returns (forecasts, [(city, why)]). """
    forecasts, failed = [], []
    call.progress(0, len(cities), "Fetching %d forecasts" % len(cities))
    for number, city in enumerate(cities, 1):
        call.check_cancelled()
        try:
            place = provider.locate(city, call)
            forecasts.append(provider.forecast(place, days, call))
        except WeatherError as exc:
            failed.append((city, str(exc)))
        call.progress(number, len(cities), "%d of %d cities done (%s)"
                      % (number, len(cities), city[:40]))
    if not forecasts:
        raise WeatherError("; ".join("%s: %s" % f for f in failed)[:2000])
    return forecasts, failed


def add_weather_tools(dispatcher, provider):
    """ Register get_weather, get_forecast and get_forecasts, backed by
    provider. """

    @dispatcher.tool(
        "get_weather", "Current weather for a city: temperature, feels-like "
        "temperature, conditions, humidity and wind.",
        {"type": "object", "properties": {"city": CITY},
         "required": ["city"], "additionalProperties": False},
        title="Current weather", output_schema=CURRENT_OUTPUT,
        annotations=dict(READ_ONLY_WEB, title="Current weather"))
    def get_weather(arguments, call):
        data = current_weather(provider, arguments["city"].strip(), call)
        return {"content": [text_content(format_current(data))],
                "structuredContent": data}

    @dispatcher.tool(
        "get_forecast", "Daily weather forecast for a city, 1 to 7 days "
        "(default 3): conditions, lowest and highest temperature, "
        "precipitation.",
        {"type": "object",
         "properties": {"city": CITY,
                        "days": {"type": "integer", "minimum": 1,
                                 "maximum": 7, "default": 3,
                                 "description": "Number of days, 1-7"}},
         "required": ["city"], "additionalProperties": False},
        title="Weather forecast", output_schema=FORECAST_OUTPUT,
        annotations=dict(READ_ONLY_WEB, title="Weather forecast"))
    def get_forecast(arguments, call):
        data = forecast_weather(provider, arguments["city"].strip(),
                                int(arguments.get("days", 3)), call)
        return {"content": [text_content(format_forecast(data))],
                "structuredContent": data}

    @dispatcher.tool(
        "get_forecasts", "Daily weather forecasts for many cities at once "
        "(up to %d), 1 to 7 days (default 3). Takes a while for many "
        "cities: clients that support tasks get a task to poll."
        % MAX_FORECAST_CITIES,
        {"type": "object",
         "properties": {"cities": {"type": "array", "items": CITY,
                                   "minItems": 1,
                                   "maxItems": MAX_FORECAST_CITIES},
                        "days": {"type": "integer", "minimum": 1,
                                 "maximum": 7, "default": 3,
                                 "description": "Number of days, 1-7"}},
         "required": ["cities"], "additionalProperties": False},
        title="Weather forecasts for many cities",
        output_schema=FORECASTS_OUTPUT,
        annotations=dict(READ_ONLY_WEB, title="Forecasts for many cities"),
        task_support="optional")
    def get_forecasts(arguments, call):
        cities = [city.strip() for city in arguments["cities"]]
        forecasts, failed = many_forecasts(
            provider, cities, int(arguments.get("days", 3)), call)
        text = "\n\n".join([format_forecast(data) for data in forecasts] +
                            ["%s: %s" % f for f in failed])
        return {"content": [text_content(text)], "structuredContent": {
            "forecasts": forecasts,
            "failed": [{"city": c, "error": e} for c, e in failed]}}


CURRENT_URI = "weather://{city}/current"
FORECAST_URI = "weather://{city}/forecast"


def weather_uri(template, city):
    """ The resource URI for a city, percent-encoded as URIs must be. """
    return template.replace("{city}", urllib.parse.quote(city, safe=""))


def checked_city(arguments):
    """ The city of a resource URI; one the tools would refuse names no
    resource (NotFound). """
    city = arguments["city"].strip()
    if validate(CITY, city, "city"):
        raise NotFound("%r is not a city name" % arguments["city"][:100])
    return city


def add_weather_resources(dispatcher, provider):
    """ The weather as resources a person can attach to a conversation
    (weather://Hangzhou/current, weather://Hangzhou/forecast), the
    weather_report prompt, and city names completed as the person types
    (6.5), from the geocoding search or a built-in list. """

    def city_text(uri, name, title, what, text_of):
        """ A weather://{city}/... template read as text_of(city, call). """
        dispatcher.resource_template(
            uri, name, title=title, mime_type="text/plain",
            description="%s, e.g. %s" % (what, uri.replace("{city}",
                                                          "Hangzhou")))(
            lambda arguments, call: text_of(checked_city(arguments), call))

    city_text(CURRENT_URI, "current-weather", "Current weather",
              "Current weather for a city, as one line of text",
              lambda city, call: format_current(
                  current_weather(provider, city, call)))
    city_text(FORECAST_URI, "weather-forecast", "Weather forecast",
              "A 3-day forecast for a city, one line a day",
              lambda city, call: format_forecast(
                  forecast_weather(provider, city, 3, call)))

    @dispatcher.prompt(
        "weather_report", "A short weather report for a city, written from "
        "its current weather and 3-day forecast (both embedded).",
        [{"name": "city", "required": True,
          "description": "City name, e.g. Hangzhou, 杭州, São Paulo"}],
        title="Weather report")
    def weather_report(arguments, call):
        city = checked_city(arguments)
        now = current_weather(provider, city, call)
        days = forecast_weather(provider, city, 3, call)
        return [embedded_resource(weather_uri(CURRENT_URI, city),
                                  format_current(now), "text/plain"),
                embedded_resource(weather_uri(FORECAST_URI, city),
                                  format_forecast(days), "text/plain"),
                "Write a short, friendly weather report for %s from the "
                "current weather and forecast above: what it is like now, "
                "what the next days bring, and whether to take an umbrella "
                "or a warm coat. Give temperatures in %s."
                % (Place(**now["location"]).label,
                   now["units"]["temperature"])]

    @dispatcher.completion("ref/prompt", "weather_report", "city")
    @dispatcher.completion("ref/resource", CURRENT_URI, "city")
    @dispatcher.completion("ref/resource", FORECAST_URI, "city")
    def complete_city(value, context, call):
        return provider.suggest(value, call)


def build_dispatcher(config=None, weather=True):
    """ A dispatcher with the weather tools, resources, prompt and
    completions (config defaults to the environment's). """
    config = config or Config.from_env()
    dispatcher = MCPDispatcher(config)
    if weather:
        provider = dispatcher.provider = make_provider(config)
        add_weather_tools(dispatcher, provider)
        add_weather_resources(dispatcher, provider)
    return dispatcher


###############################################################################
# Authorization: an OAuth 2.0 resource server #################################
###############################################################################

# With --auth-server the server is an OAuth 2.0 protected resource (checklist
# 2.9).  A client that gets 401 reads the WWW-Authenticate challenge, fetches
# the protected-resource metadata it points to (RFC 9728) to learn which
# authorization server to ask, gets a token there for this server's URL (its
# "resource", RFC 8707) and sends it as a bearer token.  The server asks the
# authorization server what the token is worth (introspection, RFC 7662) and
# lets the request in only if the token is active, unexpired, issued for this
# server and carries the required scopes (S69-S71).  Tokens are never passed
# on: the weather services never see them (S69).

PRM_PATH = "/.well-known/oauth-protected-resource"     # RFC 9728 3.1
INTROSPECTION_ENTRIES = 10000   # active tokens remembered at once
MAX_AUTH_BODY = 256 * 1024      # bytes read from the authorization server


class AuthServerUnavailable(Exception):
    """ The authorization server could not say whether a token is good. """


class TokenIntrospector(object):
    """ Asks the authorization server about bearer tokens (RFC 7662).

    Active answers are kept for --introspection-cache seconds, so a busy
    client costs one call per token per period; the checks of
    token_problem() still run on every request, so a cached token stops
    working when it expires.  Other answers are not kept.
    """

    def __init__(self, config):
        self.config = config
        self.endpoint = config.introspection_url or None
        self.cache = TTLCache(config.introspection_cache,
                              INTROSPECTION_ENTRIES)

    def introspect(self, token):
        """ The authorization server's claims about token, a dict; raises
        AuthServerUnavailable when there is no usable answer. """
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        claims = self.cache.get(key)
        if claims is None:
            claims = self.ask(token)
            if claims.get("active") is True:
                self.cache.put(key, claims)
        return claims

    def ask(self, token):
        """ One introspection request: the token in a form, this server's
        client credentials in HTTP Basic (RFC 7662 2.1, RFC 6749 2.3.1). """
        form = urllib.parse.urlencode({"token": token, "token_type_hint":
                                       "access_token"}).encode("utf-8")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.config.introspection_client_id:
            headers["Authorization"] = basic_credentials(
                self.config.introspection_client_id,
                self.config.introspection_client_secret)
        url = self.introspection_endpoint()
        status, claims = self.fetch(url, form, headers)
        if status != 200 or not isinstance(claims, dict):
            raise AuthServerUnavailable(
                "the introspection endpoint %s answered HTTP %d%s" % (
                    url, status, " (check --introspection-client-id and "
                    "its secret)" if status in (401, 403) else ""))
        return claims

    def introspection_endpoint(self):
        if self.endpoint is None:
            self.endpoint = self.discover()
        return self.endpoint

    def discover(self):
        """ introspection_endpoint from the authorization server's metadata
        (RFC 8414, then OpenID Connect discovery), whose issuer must be the
        one configured (RFC 8414 3.3). """
        issuer = self.config.auth_server
        for url in metadata_urls(issuer):
            try:
                status, metadata = self.fetch(url)
            except AuthServerUnavailable as exc:
                log.warning("OAuth discovery: %s", exc)
                continue
            if status != 200 or not isinstance(metadata, dict):
                continue
            endpoint = metadata.get("introspection_endpoint")
            if str(metadata.get("issuer")).rstrip("/") != \
                    issuer.rstrip("/"):
                log.warning("OAuth discovery: %s names issuer %r, not %r",
                            url, metadata.get("issuer"), issuer)
            elif isinstance(endpoint, str) and endpoint:
                log.info("OAuth: tokens are introspected at %s", endpoint)
                return endpoint
        raise AuthServerUnavailable(
            "no introspection_endpoint in the metadata of %s (set "
            "--introspection-url)" % issuer)

    def fetch(self, url, data=None, headers=None):
        """ (status, JSON value or None) of one request to the authorization
        server, bounded by --request-timeout. """
        import urllib.error     # here, not on top, as for Upstream: only
        import urllib.request   # OAuth deployments need them
        headers = dict(headers or {}, Accept="application/json")
        headers["User-Agent"] = "%s/%s" % (SERVER_NAME, __version__)
        request = urllib.request.Request(url, data=data, headers=headers)
        timeout = self.config.request_timeout
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, body = answer.status, read_within(
                    answer, time.monotonic() + timeout, MAX_AUTH_BODY)
        except urllib.error.HTTPError as exc:
            status, body = exc.code, b""
        except (urllib.error.URLError, OSError,
                http.client.HTTPException) as exc:
            raise AuthServerUnavailable("cannot reach %s: %s" % (
                url, getattr(exc, "reason", exc)))
        try:
            return status, parse_json(body)
        except RPCError:
            return status, None


def metadata_urls(issuer):
    """ Where an authorization server publishes its metadata: RFC 8414 3.1
    puts the well-known path before the issuer's path, OpenID Connect
    Discovery after it; MCP clients try the same list. """
    parts = urllib.parse.urlsplit(issuer)
    root, path = "%s://%s" % (parts.scheme, parts.netloc), \
        parts.path.rstrip("/")
    urls = [root + "/.well-known/oauth-authorization-server" + path,
            root + "/.well-known/openid-configuration" + path,
            root + path + "/.well-known/openid-configuration"]
    return list(collections.OrderedDict.fromkeys(urls))


def basic_credentials(client_id, secret):
    """ HTTP Basic for an OAuth client: each part form-encoded first. """
    pair = "%s:%s" % (urllib.parse.quote_plus(client_id),
                      urllib.parse.quote_plus(secret))
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def token_problem(claims, resource, now=None):
    """ Why introspected claims do not let a request in, or None.  S69: the
    token must be active, within its exp and nbf times, and issued for this
    server, i.e. its audience names our resource (RFC 8707); a token meant
    for another service is refused even if it is otherwise valid. """
    now = time.time() if now is None else now
    if claims.get("active") is not True:
        return "the token is not active"
    expires, starts = claims.get("exp"), claims.get("nbf")
    if expires is not None and not (_is_number(expires) and
                                    now < expires):
        return "the token has expired"
    if starts is not None and not (_is_number(starts) and
                                   starts <= now):
        return "the token is not valid yet"
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else \
        audience if isinstance(audience, list) else []
    if not any(isinstance(a, str) and same_resource(a, resource)
               for a in audiences):
        return "the token was issued for another audience, not %s" % resource
    return None


def same_resource(a, b):
    """ Two resource URLs name the same server: scheme and host compare
    without case, and a trailing slash does not count. """
    try:
        a, b = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    except ValueError:
        return False
    return (a.scheme.lower(), a.netloc.lower(), a.path.rstrip("/")) == \
        (b.scheme.lower(), b.netloc.lower(), b.path.rstrip("/"))


def missing_scopes(claims, required):
    scope = claims.get("scope")
    granted = scope.split() if isinstance(scope, str) else []
    return [s for s in required if s not in granted]


def token_principal(claims, token):
    """ Who a token speaks for; sessions are bound to it (S47).  The
    subject, when the authorization server names one: a refreshed token of
    the same user keeps its sessions, another user's token cannot use
    them. """
    subject = claims.get("sub")
    if isinstance(subject, str) and subject:
        seed = "oauth\n%s\n%s" % (claims.get("iss"), subject)
    else:
        seed = "oauth-token\n" + token
    return hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()


# -- How a request is authorized ----------------------------------------------

PLAIN_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|"
                        r"^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


class BearerAuthorization(object):
    """ How a request is authorized, a part of MCPRequestHandler: the
    resource server's side of checklist 2.9.

    check_auth() finds whom the bearer token speaks for (static_principal,
    oauth_principal) or refuses the request with a challenge() that says
    where to get a good token.  The challenge points at the
    protected-resource metadata (RFC 9728), which send_resource_metadata()
    serves at the well-known paths clients try (S65-S67).  It reads
    self.headers, self.config and self.server (its introspector), and
    answers with send_json() (AnswerWriter).
    """

    def check_auth(self):
        """ Bearer tokens (S5, S7): a static --token, or, with
        --auth-server, an OAuth access token that the authorization server
        vouches for (S69).  No token or a bad one is 401, with a challenge
        that says where to get a good one (S66-S68); a good token without
        the required scopes is 403 (S70, S71).  self.principal records who
        the token speaks for: sessions are bound to it (S47). """
        config = self.config
        if not config.token and not config.auth_server:
            return
        scheme, _, value = self.headers.get("Authorization", "").partition(
            " ")
        value, problem = value.strip(), None
        if scheme.lower() == "bearer" and value:
            self.principal = self.static_principal(value)
            if not self.principal and self.server.introspector is not None:
                self.principal, problem = self.oauth_principal(value)
        if not self.principal:
            raise RPCError(INVALID_REQUEST, "Unauthorized: %s" % (
                problem or "send 'Authorization: Bearer <token>'"),
                status=401, headers=[("WWW-Authenticate", self.challenge(
                    "invalid_token" if value else None, problem))])

    def static_principal(self, value):
        """ A --token matched in constant time, or "". """
        value, matched = value.encode("utf-8", "replace"), None
        for token in self.config.token:
            if hmac.compare_digest(value, token.encode("utf-8")):
                matched = token
        return hashlib.sha256(matched.encode()).hexdigest() if matched \
            else ""

    def oauth_principal(self, token):
        """ (principal, "") for a token the authorization server vouches
        for, ("", why not) otherwise; 403 when it lacks a scope (S71), 503
        when the authorization server cannot be asked. """
        client = self.client_address[0]
        try:
            claims = self.server.introspector.introspect(token)
        except AuthServerUnavailable as exc:
            log.error("cannot check the bearer token from %s: %s", client,
                      exc)
            raise RPCError(INTERNAL_ERROR, "Service Unavailable: the "
                           "authorization server could not check the "
                           "token", status=503)
        problem = token_problem(claims, self.resource())
        if problem:
            log.warning("401: bearer token from %s refused: %s", client,
                        problem)
            return "", problem
        missing = missing_scopes(claims, self.config.required_scope)
        if missing:
            log.warning("403: bearer token from %s lacks scope %s", client,
                        " ".join(missing))
            raise RPCError(INVALID_REQUEST, "Forbidden: the token lacks "
                           "scope %s" % " ".join(missing), status=403,
                           headers=[("WWW-Authenticate", self.challenge(
                               "insufficient_scope", "the token lacks "
                               "scope %s" % " ".join(missing)))])
        return token_principal(claims, token), ""

    def challenge(self, error=None, description=None):
        """ WWW-Authenticate for 401 and 403 (RFC 6750 3).  With
        --auth-server it names the scopes to ask for (S68) and where the
        protected-resource metadata is (S66, S67, S71).  A 2025-03-26
        client gets the same 401 (S72), but that revision's model, where
        the MCP server is its own authorization server at its origin, is
        not served here: this server only checks tokens. """
        params = [("realm", "mcp")]
        if error:
            params.append(("error", error))
        if description:
            params.append(("error_description", description))
        if self.config.auth_server:
            if self.config.required_scope:
                params.append(("scope", " ".join(self.config.required_scope)))
            params.append(("resource_metadata", self.metadata_url()))
        return "Bearer " + ", ".join('%s="%s"' % p for p in params)

    # -- OAuth protected-resource metadata (RFC 9728, S65, S67) -------------

    def resource(self):
        """ This server's resource identifier (RFC 8707), the audience its
        tokens must name: --resource-url, or the URL the client used. """
        if self.config.resource_url:
            return self.config.resource_url
        host = self.headers.get("Host", "")
        if not PLAIN_HOST.match(host):          # never echo odd values
            host = urllib.parse.urlsplit(self.server.url).netloc
        return "%s://%s%s" % ("https" if self.server.tls else "http", host,
                              self.config.path.rstrip("/") or "/")

    def metadata_url(self):
        """ RFC 9728 3.1: the well-known path goes between the host and the
        resource's path. """
        parts = urllib.parse.urlsplit(self.resource())
        return "%s://%s%s%s" % (parts.scheme, parts.netloc, PRM_PATH,
                                parts.path.rstrip("/"))

    def metadata_paths(self):
        """ The root form and the path-suffixed forms clients try (S67). """
        paths = [PRM_PATH, PRM_PATH + self.config.path.rstrip("/")]
        if self.config.resource_url:
            paths.append(PRM_PATH + urllib.parse.urlsplit(
                self.config.resource_url).path.rstrip("/"))
        return paths

    def send_resource_metadata(self):
        """ The protected-resource metadata: which authorization server
        issues tokens for this resource (S65), how to send them, and the
        scopes they need. """
        if self.command == "OPTIONS":
            return self.options()
        if self.command not in ("GET", "HEAD"):
            raise RPCError(INVALID_REQUEST, "Method Not Allowed", status=405,
                           headers=[("Allow", "GET")])
        metadata = {"resource": self.resource(),
                    "authorization_servers": [self.config.auth_server],
                    "bearer_methods_supported": ["header"],
                    "resource_name": SERVER_TITLE}
        if self.config.required_scope:
            metadata["scopes_supported"] = list(self.config.required_scope)
        self.send_json(200, metadata)


###############################################################################
# HTTP transport ##############################################################
###############################################################################

# Streamable HTTP in brief (checklist section 2).  One endpoint, /mcp:
#
#   POST  one JSON-RPC message (or, in 2025-03-26, a batch).  Notifications
#         and responses get 202 and no body.  Requests get either one JSON
#         body or an SSE stream that carries related notifications and then
#         the response.  2026-07-28 requests are self-contained; 2025 ones
#         carry the Mcp-Session-Id that initialize returned.
#   GET   an SSE stream for messages not tied to a request, or, with
#         Last-Event-ID, the rest of a stream whose connection was cut.
#   DELETE  ends the session.
#
# The handler, MCPRequestHandler, is put together from one part a concern,
# as http.server builds SimpleHTTPRequestHandler on BaseHTTPRequestHandler.
# Each part is a class under its own heading, in the order they build on
# each other:
#
#   BearerAuthorization   the bearer token (end of the Authorization section)
#   HTTP11RequestHandler  the connection: TLS, one request after another,
#                         each read in bounded time; the Date, the log
#   RequestChecks         reading and checking a request: path, Host and
#                         Origin, Content-Type, body, protocol version
#   AnswerWriter          writing an answer in its framing: JSON, SSE or
#                         NDJSON; keep-alives; a client gone
#   StreamDelivery        a stream's messages as they come; resumption
#   MCPRequestHandler     routes POST, GET, DELETE and OPTIONS
#
# A POST from the socket to the dispatcher and back: handle_one_request()
# -> parse_request() -> do_POST() -> serve(post): check_path(),
# check_host_and_origin(), check_auth() -> post(): check_content_type(),
# read_body(), read_messages(), route() -> answer(): a quick request
# answered in JSON goes answer_at_once(): dispatcher.handle() ->
# send_answer(); any other opens a Stream: dispatcher.handle() ->
# deliver(): await_answer() and send_answer(), or open_stream() and
# pump() -> access_log().

SESSION_REQUIRED = (
    "Bad Request: the Mcp-Session-Id header is required. Send initialize "
    "first and repeat the Mcp-Session-Id it returns on every request; for "
    "clients that do not keep sessions, run the server with --stateless.")
SESSION_UNKNOWN = (
    "Session not found: it expired, was deleted, or never existed. Send "
    "initialize again, without Mcp-Session-Id, to start a new one.")
CORS_HEADERS = ("Content-Type, Authorization, Mcp-Session-Id, "
                "MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name")


# -- The connection: HTTP/1.1 -------------------------------------------------

class RequestTimeout(socket.timeout):
    """ A client took longer than --request-timeout to send a request. """


class RequestReader(io.RawIOBase):
    """ The read side of a connection, under the handler's buffered rfile.

    Between requests, a read waits up to --idle-timeout for the next one.
    While a request is being read (``deadline`` set), each read may only
    wait for what is left of --request-timeout: socket timeouts bound one
    read, so without a deadline a client that sends its headers or body a
    byte at a time (slowloris) could hold its thread for ever.  Writes keep
    the idle timeout.
    """

    def __init__(self, sock, idle_timeout):
        self.sock, self.idle_timeout = sock, idle_timeout
        self.deadline, self.expired = None, False

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.deadline is None:
            return self.sock.recv_into(buffer)
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise socket.timeout("out of time")
            self.sock.settimeout(left)
            return self.sock.recv_into(buffer)
        except socket.timeout:
            self.expired = True
            raise RequestTimeout("request not received in time")
        finally:
            self.sock.settimeout(self.idle_timeout)


class HTTP11RequestHandler(http.server.BaseHTTPRequestHandler):
    """ One HTTP/1.1 connection: what any HTTP server on http.server needs,
    and MCP does not change.

    setup() puts a clock under the read side (RequestReader); handle()
    does the TLS handshake, if any, in the connection's own thread; then
    handle_one_request() serves requests until the connection closes
    (keep-alive: every client message is its own POST, S8, so clients
    reuse connections).  A request's line, headers and body must arrive
    within --request-timeout (else 408), and a kept-alive connection may
    idle --idle-timeout between requests.  parse_request() reads the
    request line by http.server's rules and the header fields without the
    email package (read_headers).  A subclass's do_* methods serve the
    request; while it works it holds a turn (take_turn, Turns), so that
    thousands of threads never queue for the GIL at once.  Each request
    ends in one access-log line (access_log); the Date header is formatted
    once a second.
    """

    protocol_version = "HTTP/1.1"     # keep-alive and chunked streams
    server_version = "%s/%s" % (SERVER_NAME, __version__)
    sys_version = ""
    date_cache = (0, "")  # (second, Date header), see date_time_string()

    @property
    def config(self):
        return self.server.config

    @property
    def dispatcher(self):
        return self.server.dispatcher

    def setup(self):
        self.timeout = self.server.config.idle_timeout
        http.server.BaseHTTPRequestHandler.setup(self)
        # Writes to the socket: this thread's, and KeepAlives' while the
        # thread sleeps on an idle stream (see keep_alive()).
        self.write_lock = threading.Lock()
        self.last_write, self.gone, self.ticked = 0.0, False, None
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.start_access_log()
        self.rfile.close()              # the plain one: ours has a clock
        self.reader = RequestReader(self.connection, self.timeout)
        self.rfile = io.BufferedReader(self.reader)
        # The first request is timed from the connection, TLS included.
        self.reader.deadline = time.monotonic() + self.config.request_timeout

    def handle(self):
        """ The TLS handshake, if any, then requests until the connection
        closes.  The handshake happens here, in the connection's own thread
        and within --request-timeout, not in the accept loop: a client that
        never finishes it holds up no one else. """
        if self.server.tls is not None and not self.tls_handshake():
            return
        http.server.BaseHTTPRequestHandler.handle(self)

    def tls_handshake(self):
        client = self.client_address[0]
        try:
            self.connection.settimeout(max(0.001, self.reader.deadline -
                                           time.monotonic()))
            self.connection.do_handshake()
            return True
        except socket.timeout:
            log.warning("TLS handshake with %s not finished within %g s "
                        "(--request-timeout); connection closed", client,
                        self.config.request_timeout)
        except OSError as exc:              # ssl.SSLError is an OSError
            log.info("TLS handshake with %s failed: %s%s", client, exc,
                     " (a plain-HTTP client: use https://)"
                     if "HTTP_REQUEST" in str(exc) else "")
        finally:
            self.connection.settimeout(self.timeout)
        return False

    def handle_one_request(self):
        """ Read and serve one request.  A kept-alive connection may idle
        for --idle-timeout before its next request begins; from the
        request's first byte (from the connection, for the first request)
        the request line, headers and body must all arrive within
        --request-timeout, or the client gets 408 and the connection
        closes.  So a slow client holds one thread for a bounded time, and
        every other connection has its own thread (starving no one). """
        self.command, self.status, self.reader.expired = None, None, False
        if self.reader.deadline is None:
            if not self.next_request_begins():
                self.close_connection = True
                return
            self.reader.deadline = time.monotonic() + \
                self.config.request_timeout
        try:
            http.server.BaseHTTPRequestHandler.handle_one_request(self)
        finally:
            self.reader.deadline = None
        if self.reader.expired and self.status is None:
            self.request_timed_out()        # in the request line or headers

    def next_request_begins(self):
        """ Wait (up to --idle-timeout) for a byte of the next request. """
        try:
            return bool(self.rfile.peek(1))
        except socket.timeout:
            log.debug("closing the connection from %s: idle for %g s "
                      "(--idle-timeout)", self.client_address[0],
                      self.config.idle_timeout)
        except OSError:
            pass
        return False

    def request_timed_out(self):
        """ 408 for a request that did not arrive in time, then close. """
        log.warning("408: %s did not send its request within %g s "
                    "(--request-timeout); connection closed",
                    self.client_address[0], self.config.request_timeout)
        self.send_error(408, "Request Timeout: the request did not arrive "
                        "within %g s" % self.config.request_timeout)

    def parse_request(self):
        """ The request line, by http.server's rules, and the header fields,
        by read_headers(): http.server would parse them with the email
        package, which costs more than the rest of a small request. """
        if not self.parse_request_line():
            return False
        try:
            self.headers = read_headers(self.rfile)
        except HeaderError as exc:
            self.send_error(exc.status, exc.reason)
            return False
        modern = self.protocol_version >= "HTTP/1.1"
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and modern:
            self.close_connection = False
        if self.headers.get("Expect", "").lower() == "100-continue" and \
                modern and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def parse_request_line(self):
        """ Method, target and version (HTTP/0.9 to 1.1; 2.0 is 505), and
        whether the connection stays open; False once an error was sent. """
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline,
                               "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) >= 3 and not self.take_version(words[-1]):
            return False
        if not 2 <= len(words) <= 3:
            self.send_error(400, "Bad request syntax (%r)" % self.requestline)
            return False
        if len(words) == 2 and words[0] != "GET":
            self.send_error(400, "Bad HTTP/0.9 request type (%r)" % words[0])
            return False
        self.command, self.path = words[:2]
        if self.path.startswith("//"):          # never a scheme-less URL
            self.path = "/" + self.path.lstrip("/")
        return True

    def take_version(self, version):
        """ The request's HTTP version: HTTP/1.1 keeps the connection open,
        HTTP/1.0 closes it, 2.0 and later are refused (505, which
        send_error() makes 400); False once an error was sent. """
        match = HTTP_VERSION.match(version)
        if match is None:
            self.send_error(400, "Bad request version (%r)" % version)
            return False
        number = int(match.group(1)), int(match.group(2))
        if number >= (2, 0):
            self.send_error(505, "Invalid HTTP version (%s)" % version[5:])
            return False
        self.close_connection = number < (1, 1) or \
            self.protocol_version < "HTTP/1.1"
        self.request_version = version
        return True

    def has_body(self):
        return self.headers.get("Content-Length", "0").strip() != "0" or \
            "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def take_turn(self):
        self.dispatcher.workers.turns.take()

    def give_turn(self):
        self.dispatcher.workers.turns.give()

    def version_string(self):
        return self.server_version

    def date_time_string(self, timestamp=None):
        """ The Date header (RFC 9110 6.6.1): formatted once a second, not
        once a response (email.utils does the formatting). """
        if timestamp is not None:
            return http.server.BaseHTTPRequestHandler.date_time_string(
                self, timestamp)
        now = int(time.time())
        second, text = HTTP11RequestHandler.date_cache
        if second != now:
            text = http.server.BaseHTTPRequestHandler.date_time_string(
                self, now)
            HTTP11RequestHandler.date_cache = (now, text)
        return text

    def log_request(self, code="-", size="-"):
        pass                                    # access_log() does it

    def log_message(self, format, *args):
        log.debug("http: " + format, *args)

    def start_access_log(self):
        """ What access_log() says of a request until more is known. """
        self.started, self.status, self.rpc, self.sid = time.monotonic(), \
            None, "-", "-"

    def access_log(self):
        log.info("%s %s %s %s %.1fms %s sid=%s", self.client_address[0],
                 self.command, self.path[:120], self.status or "-",
                 (time.monotonic() - self.started) * 1000, self.rpc,
                 self.sid)


# -- Reading and checking a request -------------------------------------------

LOOPBACK_IPV4 = re.compile(r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
CHARSET_PARAM = re.compile(r"charset=\"?([\w-]+)", re.I)


def is_loopback(host):
    host = host.strip("[]").lower()
    return host in ("localhost", "::1") or host.endswith(".localhost") or \
        LOOPBACK_IPV4.match(host) is not None


def host_name(value):
    """ The name in a Host header: 'localhost:8000' and '[::1]:80' give
    'localhost' and '::1'. """
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def decode_header_value(raw, name):
    """ Mcp-Method / Mcp-Name values: plain visible ASCII, or the
    =?base64?...?= form for anything else (S59). """
    if raw.startswith("=?base64?") and raw.endswith("?="):
        encoded = raw[9:-2]
        try:
            data = base64.b64decode(encoded, validate=True)
            if base64.b64encode(data).decode("ascii") != encoded:
                raise ValueError("not the canonical encoding")
            return data.decode("utf-8")
        except (binascii.Error, ValueError):
            raise RPCError(HEADER_MISMATCH, "%s: bad base64 value" % name,
                           status=400)
    if not all(" " <= c <= "~" for c in raw):
        raise RPCError(HEADER_MISMATCH, "%s: invalid characters; use the "
                       "=?base64?...?= form" % name, status=400)
    return raw.strip()


def header_rendering(value):
    """ A tool argument as a client writes it into its Mcp-Param-* header
    (S60): booleans as true or false, numbers and strings as text; None
    for values no header can carry (objects, arrays). """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None


def same_param(text, value, rendered):
    """ Whether a decoded Mcp-Param-* value says what the body says.
    Values compare exactly (case and all), except integers, which compare
    as numbers: 42 in the body matches "42" and "42.0" (S59). """
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and re.match(r"^-?[0-9]+(\.0+)?$", text) and value == int(value):
        return int(text.split(".")[0]) == int(value)
    return text == rendered


def param_header_mismatch(raws, header, path, value):
    """ What is wrong with the values of one Mcp-Param-* header (raws) for
    the argument at path (S60), or None. """
    rendered = header_rendering(value)
    if len(raws) > 1:
        return "is sent more than once"
    if not raws:
        return "is missing" if rendered is not None else None
    if rendered is None:
        return "is sent, but the argument %s is not" % ".".join(path) \
            if value is None else \
            "cannot carry the argument %s" % ".".join(path)
    if not same_param(decode_header_value(raws[0], header), value,
                      rendered):
        return "%r does not match the argument %s" % (raws[0][:100],
                                                       ".".join(path))
    return None


def argument_at(arguments, path):
    """ The argument at a chain of property names, or None. """
    for name in path:
        if not isinstance(arguments, dict):
            return None
        arguments = arguments.get(name)
    return arguments


class RequestChecks(object):
    """ Reading and checking a request, a part of MCPRequestHandler.

    Everything about a request is checked before a status line is written,
    so a client never gets a 200 that hides an error (field notes B-8):

      - the target: /mcp and /mcp/ are the endpoint (S1), never a
        redirect (B-15); /health, and the metadata paths (S67);
      - Host and Origin, against DNS rebinding (S2, S3, S6);
      - Content-Type (S8, S10) and the body: Content-Length or chunked
        (B-21), at most --max-body bytes;
      - the protocol version: of a 2025 session (S53-S55), or of a
        self-contained 2026-07-28 request, whose headers mirror its body
        (Mcp-Method, Mcp-Name, Mcp-Param-*: S56-S62);
      - the session a GET or DELETE names (S48, S49).

    A check that fails raises RPCError with the status to answer;
    MCPRequestHandler.serve() writes it (send_rpc_error).
    """

    def check_path(self):
        """ /mcp and /mcp/ are both the endpoint: never a redirect (B-15). """
        try:
            path = urllib.parse.urlsplit(self.path).path
        except ValueError:
            raise RPCError(INVALID_REQUEST, "Bad Request: malformed request "
                           "target", status=400)
        endpoint = self.config.path.rstrip("/") or "/"
        if path in (endpoint, endpoint + "/"):
            return True
        if path == "/health" and self.command == "GET":
            self.send_json(200, {"status": "ok", "server": SERVER_NAME,
                                 "version": __version__})
            return False
        if self.config.auth_server and path in self.metadata_paths():
            self.check_host_and_origin()
            self.send_resource_metadata()
            return False
        raise RPCError(INVALID_REQUEST, "Not Found: the MCP endpoint is %s"
                       % endpoint, status=404)

    def check_host_and_origin(self):
        """ DNS-rebinding protection (S2, S3, S6): on a loopback bind, Host
        must name a loopback address; a present Origin must be loopback or
        allowed by --allow-origin.  Rejections are logged with the value. """
        self.check_host()
        origin = self.headers.get("Origin")
        if origin is not None:
            self.check_origin(origin)

    def check_host(self):
        loopback = self.server.loopback
        host = self.headers.get("Host", "")
        allowed_hosts = self.server.allowed_hosts
        name = host_name(host)
        # Loopback binds accept loopback names; others accept any Host,
        # unless --allow-host lists the only ones to accept.
        if name not in allowed_hosts and (
                (loopback and not is_loopback(name)) or
                (not loopback and allowed_hosts)):
            self.forbid("Host", host, "--allow-host")

    def check_origin(self, origin):
        """ An allowed Origin is echoed for CORS (browser clients). """
        config, loopback = self.config, self.server.loopback
        host = self.headers.get("Host", "")
        try:
            origin_host = urllib.parse.urlsplit(origin).netloc.lower()
        except ValueError:                  # e.g. "http://[::1"
            self.forbid("Origin", origin, "--allow-origin")
        if not ("*" in config.allow_origin or origin in config.allow_origin
                or (loopback and is_loopback(host_name(origin_host)))
                or (not loopback and origin_host == host.lower())):
            self.forbid("Origin", origin, "--allow-origin")
        self.extra_headers += [
            ("Access-Control-Allow-Origin", origin), ("Vary", "Origin"),
            ("Access-Control-Expose-Headers",
             "Mcp-Session-Id, MCP-Protocol-Version")]

    def forbid(self, header, value, flag):
        log.warning("403: %s %r from %s is not allowed (see %s)", header,
                    value[:200], self.client_address[0], flag)
        raise RPCError(INVALID_REQUEST, "Forbidden: %s %r is not allowed"
                       % (header, value[:200]), status=403)

    def check_content_type(self):
        media, _, params = self.headers.get("Content-Type", "").partition(";")
        charset = CHARSET_PARAM.search(params)
        if media.strip().lower() != "application/json" or (
                charset and charset.group(1).lower() not in ("utf-8", "utf8")):
            raise RPCError(INVALID_REQUEST, "Unsupported Media Type: POST "
                           "a UTF-8 application/json body", status=415)

    def read_body(self):
        """ The request body, from Content-Length or chunked encoding, which
        http.server does not decode for us (field notes B-21).  Ambiguous
        framing (RFC 9112 6.3) is refused, so that no second request can
        hide in a body: the connection is closed after the answer. """
        limit = self.config.max_body
        codings = [c.strip().lower()
                   for v in self.headers.get_all("Transfer-Encoding") or ()
                   for c in v.split(",") if c.strip()]
        lengths = set(v.strip()
                      for v in self.headers.get_all("Content-Length") or ())
        if codings:
            body = self.read_coded(codings, bool(lengths), limit)
        else:
            body = self.read_sized(lengths, limit)
        self.body_read = True
        return body

    def read_coded(self, codings, has_length, limit):
        """ A body with Transfer-Encoding, of which only chunked is known.
        The connection closes after the answer when the client asks, when
        Content-Length came too (ambiguous), or when reading fails. """
        asked_to_close = self.close_connection  # "Connection: close"
        self.close_connection = True    # also when Content-Length is set
        if codings != ["chunked"]:
            raise RPCError(INVALID_REQUEST, "Bad Request: unsupported "
                           "Transfer-Encoding %s" % ", ".join(codings),
                           status=400)
        body = self.read_chunked(limit)
        self.close_connection = asked_to_close or has_length
        return body

    def read_sized(self, lengths, limit):
        """ A body of Content-Length bytes: one valid length, at most
        --max-body; a body cut short is a client gone. """
        if not lengths:
            raise RPCError(INVALID_REQUEST, "Length Required: send "
                           "Content-Length or a chunked body", status=411)
        if len(lengths) > 1 or not DIGITS.match(next(iter(lengths))):
            self.close_connection = True
            raise RPCError(INVALID_REQUEST, "Bad Request: invalid or "
                           "conflicting Content-Length", status=400)
        length = int(lengths.pop())
        if length > limit:
            raise self.too_large(limit)
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionError("body cut short")
        return body

    def read_chunked(self, limit):
        chunks, size = [], 0
        while True:
            size_field = self.rfile.readline(1024).split(b";")[0].strip()
            if not HEX_DIGITS.match(size_field.decode("latin-1")):
                raise RPCError(INVALID_REQUEST, "Bad Request: malformed "
                               "chunked body", status=400)
            length = int(size_field, 16)
            if length == 0:
                while self.rfile.readline(8192).strip():
                    pass                        # trailers
                return b"".join(chunks)
            size += length
            if size > limit:
                raise self.too_large(limit)
            chunks.append(self.rfile.read(length))
            self.rfile.readline()

    def too_large(self, limit):
        return RPCError(INVALID_REQUEST, "Payload Too Large: the limit is %d "
                        "bytes (--max-body)" % limit, status=413)

    def looks_modern(self, message):
        """ A 2026-07-28 request: _meta names a version, the version header
        is a 2026 one, or the method exists only in 2026 (checklist 1.3).
        A response or a batch never is: 2026 POSTs carry one request or
        notification (S14), and no notification of the client's means
        anything over HTTP there (S18): closing the stream cancels (S29). """
        header = (self.headers.get("MCP-Protocol-Version") or "").strip()
        return is_modern(message) or header in MODERN_VERSIONS or \
            message.get("method") == "server/discover"

    def legacy_version(self, session):
        """ MCP-Protocol-Version (S53-S55): a value we do not speak is 400;
        absent, the session's version, else 2025-03-26 (S55, S57). """
        header = self.headers.get("MCP-Protocol-Version")
        if header is not None and header.strip() not in LEGACY_VERSIONS:
            raise RPCError(INVALID_REQUEST, "Bad Request: unsupported "
                           "MCP-Protocol-Version %r; supported: %s" % (
                               header[:40], ", ".join(LEGACY_VERSIONS)),
                           data={"supported": list(LEGACY_VERSIONS),
                                 "requested": header[:40]}, status=400)
        if session is not None:
            return session.version
        return header.strip() if header else ASSUMED_VERSION

    def check_modern(self, message):
        """ A 2026-07-28 request is self-contained: version and client
        capabilities in _meta, mirrored by headers that proxies can route on
        (S56-S62).  Checked in this order: _meta (-32602), headers against
        the body (-32020), the version (-32022), all with 400; then an
        unknown method is 404 (S61). """
        dispatcher = self.dispatcher
        version = dispatcher.check_modern_meta(message)
        header = self.headers.get("MCP-Protocol-Version")
        if header is None or header.strip() != version:
            raise RPCError(HEADER_MISMATCH, "the MCP-Protocol-Version header "
                           "must be present and match _meta (%r)"
                           % version[:40], status=400)
        dispatcher.check_modern_version(version)
        method, params = message["method"], message.get("params") or {}
        self.check_mirror("Mcp-Method", method)        # S58
        if method in ("tools/call", "prompts/get", "resources/read"):
            self.check_mirror("Mcp-Name", params.get("name",
                                                     params.get("uri")))
        elif method in TASK_METHODS and isinstance(params.get("taskId"), str):
            self.check_mirror("Mcp-Name", params["taskId"])     # Tasks
        if method == "tools/call":
            self.check_param_headers(params)
        if "id" in message and (method not in dispatcher.modern_methods or
                                not dispatcher.offers(method, version)):
            raise RPCError(METHOD_NOT_FOUND, "Method not found: %s"
                           % method[:100], status=404)
        dispatcher.check_client_capabilities(message)
        return version

    def check_mirror(self, name, expected):
        raw = self.headers.get(name)
        if raw is None:
            raise RPCError(HEADER_MISMATCH, "the %s header is required"
                           % name, status=400)
        if decode_header_value(raw, name) != expected:
            raise RPCError(HEADER_MISMATCH, "the %s header %r does not match "
                           "the body" % (name, raw[:100]), status=400)

    def check_param_headers(self, params):
        """ S60: each parameter of the tool marked x-mcp-header comes with
        its Mcp-Param-{Name} header, saying the same as the body (after
        =?base64?...?= decoding; names ignore case, values do not).  A
        value in the body without its header, a header without a value
        (null counts as absent), a header sent twice, or one that
        disagrees is 400 with -32020, before the tool runs. """
        tool = self.dispatcher.tools.get(params.get("name")) \
            if isinstance(params.get("name"), str) else None
        if tool is None:
            return
        for path, header in param_headers(tool.input_schema):
            value = argument_at(params.get("arguments"), path)
            problem = param_header_mismatch(
                self.headers.get_all(header) or [], header, path, value)
            if problem:
                raise RPCError(HEADER_MISMATCH, "the %s header %s" % (
                    header, problem), status=400)

    def require_session(self):
        sid = self.headers.get("Mcp-Session-Id")
        if not sid:
            raise RPCError(INVALID_REQUEST, SESSION_REQUIRED, status=400)
        session = self.dispatcher.sessions.get(sid, self.principal)
        if session is None:
            raise RPCError(INVALID_REQUEST, SESSION_UNKNOWN, status=404)
        self.sid = session.short
        return session


# -- Choosing the framing and writing it --------------------------------------

def parse_accept(header):
    """ Accept as [(media range, q)], q-values parsed (field notes B-9). """
    ranges = []
    for part in (header or "*/*").split(","):
        fields = part.split(";")
        media = fields[0].strip().lower()
        if not media:
            continue
        q = 1.0
        for field in fields[1:]:
            name, _, value = field.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        ranges.append((media, q))
    return ranges


def quality(ranges, media, wildcards=True):
    """ The q of the most specific range that matches media (RFC 9110). """
    kind = media.split("/")[0] + "/*"
    best, rank = 0.0, -1
    for candidate, q in ranges:
        specificity = {media: 2, kind: 1, "*/*": 0}.get(candidate, -1)
        if specificity > rank and (wildcards or specificity == 2):
            best, rank = q, specificity
    return best


# A client sends the same Accept header with every POST, so the framing is
# remembered per header value: parsing it again cost more than the rest of
# the choice.  The answer depends on the value alone; a value that is 406
# raises each time (lru_cache keeps no exceptions).
@functools.lru_cache(maxsize=64)
def choose_framing(accept):
    """ How to answer a POST, from its Accept header:

    'ndjson'  only when asked for by name (no spec client does: checklist 8);
    'lazy'    JSON and SSE both acceptable: JSON unless something must be
              streamed first (field notes B-11);
    'json' or 'sse' when only one is acceptable; 406 when neither is.
    """
    ranges = parse_accept(accept)
    json_q = quality(ranges, "application/json")
    sse_q = quality(ranges, "text/event-stream")
    ndjson_q = quality(ranges, "application/x-ndjson", wildcards=False)
    if ndjson_q > 0 and ndjson_q >= max(json_q, sse_q):
        return "ndjson"
    if json_q > 0 and sse_q > 0:
        return "lazy"
    if json_q > 0 or sse_q > 0:
        return "json" if json_q > 0 else "sse"
    raise RPCError(INVALID_REQUEST, "Not Acceptable: accept "
                   "application/json, text/event-stream or "
                   "application/x-ndjson", status=406)


def writable_now(sock):
    """ Whether a send on sock would not wait (readable_now's twin). """
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    return bool(poller.poll(0))


def readable_now(sock):
    """ Whether sock has something to read, or its peer's end of stream,
    right now, without waiting.  select.select() cannot take a descriptor
    at or past FD_SETSIZE (1024 on Linux): it raises ValueError, which a
    caller would read as "client gone", so a process holding more than
    about a thousand connections would close every stream above that
    line at its first keep-alive (issue 18).  poll() takes any descriptor;
    select() remains only where poll() is missing (Windows, where it has
    no such limit).  A hang-up or an error counts as readable: the read
    that follows tells which it is. """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class AnswerWriter(object):
    """ Writing answers, a part of MCPRequestHandler.

    choose_framing() reads Accept (S9): one JSON body (S17), or a stream
    of SSE events (S31) or NDJSON lines.  Here is how each is written:
    whole answers in one write (send_whole: a JSON body, S17; 202 and no
    body, S15; an error as a JSON-RPC error body with its status, S16),
    streams in chunks (frame, chunk, end_chunks, write).  keep_alive() is
    KeepAlives' visit to an idle stream, and peer_gone() notices a client
    that closed its end without reading (S29).
    """

    def send_rpc_error(self, exc):
        if self.status is not None:           # a stream was already open
            self.close_connection = True
            return
        if self.command == "POST" and not self.body_read:
            self.close_connection = True      # the body is still unread
        if exc.status >= 500:
            self.close_connection = True
        headers = list(exc.headers)
        if exc.status == 405 and not any(h[0] == "Allow" for h in headers):
            headers.append(("Allow", self.allowed_methods()))
        if exc.status >= 500:
            headers.append(("Retry-After", "5"))
        self.send_json(exc.status, exc.response(self.request_id), headers)

    def allowed_methods(self):
        return "POST" if self.dispatcher.stateless else "GET, POST, DELETE"

    def send_error(self, code, message=None, explain=None):
        """ http.server's own errors (bad request line, headers too long,
        a request too slow) as JSON too.  Two become 4xx: an unknown method
        (501 in http.server) is 405, and an HTTP/2 request line (505) is
        400.  Both are the client's doing, and a 5xx would tell monitoring
        that the server is failing. """
        self.close_connection = True
        self.extra_headers = getattr(self, "extra_headers", [])
        headers = []
        if code == 501:
            code, message = 405, "Method Not Allowed: %s" % message
            headers.append(("Allow", self.allowed_methods()))
        elif code == 505:
            code = 400
        error = RPCError(INVALID_REQUEST, message or
                         self.responses.get(code, ("Error",))[0])
        try:
            self.send_json(code, error.response(), headers)
        except OSError:
            pass

    def head(self, status, headers):
        lines = ["%s %d %s" % (self.protocol_version, status,
                               self.responses.get(status, ("",))[0]),
                 "Server: " + self.version_string(),
                 "Date: " + self.date_time_string()]
        lines.extend("%s: %s" % h for h in list(headers) + self.extra_headers)
        if self.close_connection:
            lines.append("Connection: close")
        self.status = status
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_whole(self, status, headers, body=b""):
        """ Status line, headers and body in one write (one TCP segment for
        small answers: no delayed-ACK stalls).  HEAD answers carry none. """
        if self.command == "HEAD":
            body = b""
        self.wfile.write(self.head(status, headers) + body)

    def send_json(self, status, message, headers=()):
        body = encode_json(message) + b"\n"     # also one line of NDJSON
        self.send_whole(status, [("Content-Type", "application/json"),
                                 ("Content-Length", str(len(body)))] +
                        list(headers), body)

    def send_answer(self, responses, batch, headers):
        if not responses:          # all cancelled: nothing to say (6.2)
            self.send_whole(202, [("Content-Length", "0")] + list(headers))
        else:
            self.send_json(200, responses if batch else responses[0],
                           headers)

    def frame(self, mode, session, stream, seq, message):
        """ One message as an SSE event (S31) or an NDJSON line. """
        data = encode_json(message)
        if mode == "ndjson":
            return data + b"\n"
        if self.resumable(stream, session):
            return b"event: message\nid: %s\ndata: %s\n\n" % (
                session.event_id(stream, seq).encode(), data)
        return b"event: message\ndata: %s\n\n" % data

    def chunk(self, data):
        """ One chunk of a chunked body; HTTP/1.0 clients get raw bytes
        and the connection's end marks the end of the stream. """
        if self.request_version == "HTTP/1.0":
            return data
        return b"%x\r\n%s\r\n" % (len(data), data)

    def keep_alive_chunk(self, mode):
        """ Something to say while a stream is silent, so proxies and
        clients do not time it out (S30, field notes B-13): an SSE comment,
        or an empty NDJSON line. """
        return self.chunk(b": keep-alive\n\n" if mode == "sse" else b"\n")

    def end_chunks(self):
        self.write(self.end_of_chunks())

    def end_of_chunks(self):
        """ The last chunk; HTTP/1.0 streams end with the connection. """
        if self.request_version == "HTTP/1.0":
            self.close_connection = True
            return b""
        return b"0\r\n\r\n"

    def write(self, data):
        """ Write data, after what open_stream() held back (a stream whose
        events were all there at once goes out in a single write) or what
        KeepAlives could not send without waiting. """
        with self.write_lock:
            data, self.unsent = self.unsent + data, b""
            if data:
                self.wfile.write(data)
            self.last_write = time.monotonic()

    def keep_alive(self, now, token):
        """ KeepAlives' visit to this connection's idle stream: write a
        keep-alive when one is due, without ever blocking (the one thread
        serves every stream): nothing is written while this connection's
        thread writes, or while the socket's buffer is full, and what a
        send leaves over waits in ``unsent`` for the next write.  Returns
        when to come back, or None to stop (the stream ended, or its client
        is gone: then the sleeping thread is told, Stream.let_go). """
        ticked = self.ticked
        if ticked is None or ticked is not token:
            return None                 # that stream is over
        keepalive = self.config.keepalive
        if not self.write_lock.acquire(False):
            return now + keepalive              # writing now: not idle
        try:
            if now - self.last_write < keepalive:
                return self.last_write + keepalive
            if self.peer_gone() or len(self.unsent) > MAX_UNSENT_KEEPALIVES:
                self.gone = True
            elif writable_now(self.connection):
                self.send_now(self.unsent + self.keep_alive_chunk(ticked[2]))
            else:                       # a client that does not read
                self.unsent += self.keep_alive_chunk(ticked[2])
            self.last_write = now
        finally:
            self.write_lock.release()
        if self.gone:
            ticked[0].let_go(ticked[1])
            return None
        return now + keepalive

    def send_now(self, data):
        """ Send what the socket takes without waiting (KeepAlives' one
        thread must never block); what is left waits in ``unsent``. """
        try:
            sent = self.connection.send(data, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.gone, sent = True, 0
        self.unsent = data[sent:]

    def peer_gone(self):
        """ Whether the client closed its end, without reading its data.
        A TLS client sends nothing while it reads an answer but its
        close_notify alert, so with TLS anything to read means it left
        (and a TLS socket cannot peek). """
        if self.gone:
            return True
        try:
            readable = readable_now(self.connection)
            if readable and self.server.tls is not None:
                return True
            return bool(readable) and \
                self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


# -- Streams and resumption ---------------------------------------------------

UPGRADE = "upgrade"        # await_answer(): a notification came first
UPGRADE_IDLE = "idle"      # await_answer(): nothing came for a while


class StreamDelivery(object):
    """ Delivering a Stream to the connection, a part of MCPRequestHandler.

    deliver() writes what the dispatcher pushes to a Stream: for a JSON
    answer it waits for the responses (await_answer), and turns into SSE
    ('lazy' framing) when a notification or request comes first (S23) or
    the call is silent for a keep-alive period (B-11, B-13).  A stream
    opens with headers proxies do not buffer (S30) and, for 2025-11-25
    sessions, a priming event (S19); pump() then writes events as they
    come, with keep-alives, may close early so the client polls (S20,
    S21), and ends when the stream does.  A 2025 session's events carry
    ids, so a cut stream resumes with GET and Last-Event-ID (S39-S42).  In
    2026-07-28 a client that closes the stream cancels its call (S29).
    While a call runs on this thread (run_inline), a stand-in takes over
    the writing when something must reach the client sooner.
    """

    peer_poll = 0.25      # seconds between checks that a 2026 client is there

    def deliver(self, stream, framing, session=None, version=None, cursor=0,
                batch=False, headers=(), cancel=None, generation=None,
                since=None):
        """ Write a stream's messages to this connection.

        JSON (framing 'json', or 'lazy' until something must be streamed)
        waits for the responses and sends them as one body; SSE and NDJSON
        write each message as it comes, with keep-alives in between.
        since: when the call began (a stand-in starts late).
        """
        generation = generation or stream.attach()
        if session is not None:
            with session.lock:
                session.writers += 1
        try:
            mode, answer = (framing if framing in ("sse", "ndjson")
                            else None), None
            if mode is None:
                answer = self.await_answer(stream, generation, framing,
                                           cancel, session, since)
                if answer not in (UPGRADE, UPGRADE_IDLE):
                    if answer is not None:
                        self.send_answer(answer, batch, headers)
                    return
                mode, cursor = "sse", 0
            self.open_stream(mode, stream, session, version, cursor, headers,
                             idle=answer == UPGRADE_IDLE)
            self.pump(mode, stream, generation, session, cursor, cancel)
        except OSError:
            # S29: in 2026-07-28 the client is gone, its call is cancelled;
            # a 2025 session has no such cancel: a disconnect is not a
            # cancellation there (S28), notifications/cancelled is.
            if cancel is not None:
                cancel.set()
            raise
        finally:
            stream.release(generation)
            if session is not None:
                with session.lock:
                    session.writers -= 1

    def await_answer(self, stream, generation, framing, cancel, session,
                     since=None):
        """ Collect the responses for one JSON body.  Returns them, UPGRADE
        when a notification comes first or nothing comes for a keep-alive
        period (so proxies do not cut a silent call, field notes B-13), or
        None when the client went away. """
        cursor, responses = 0, []
        started = since or time.monotonic()
        upgrade_after = self.upgrade_after(stream, session)
        while True:
            timeout = self.wait_slice(cancel)
            if framing == "lazy":
                timeout = max(0.01, min(timeout, started + upgrade_after -
                                        time.monotonic()))
            events, finished, attached = self.wait_for(stream, cursor,
                                                       generation, timeout)
            if not attached:
                return None
            if framing == "lazy" and stream.cut_at is not None:
                return UPGRADE                  # Call.close_stream (S20)
            for seq, message in events:
                if "method" in message:
                    if framing == "lazy":
                        return UPGRADE
                else:
                    responses.append(message)
                cursor = seq
            if finished:
                return responses
            if framing == "lazy" and \
                    time.monotonic() - started >= upgrade_after:
                return UPGRADE_IDLE
            if cancel is not None and self.peer_gone():
                cancel.set()                    # S29: closing is cancelling
                return None

    def wait_for(self, stream, cursor, generation, timeout):
        """ stream.wait(), with the turn given up while it may block, and
        taken again only when messages came: a keep-alive, the end of a
        stream or a writer letting go is a few bytes, written without one,
        so thousands of streams waking together (their clients gone, a
        shutdown) never make the line long (Turns, issue 18).  The last
        words of a listen stream (the response that ends it at shutdown, a
        few hundred bytes) go out without one too: 10,000 listen streams
        ending at once in a line of turns took more than --shutdown-timeout
        (5,371 of 10,000 answered in 10 s). """
        if not stream.finished:
            self.give_turn()
        events, finished, attached = stream.wait(cursor, generation, timeout)
        if events and not (finished and stream.ends_without_turn):
            self.take_turn()
        return events, finished, attached

    def wait_slice(self, cancel):
        if cancel is not None:
            return min(self.config.keepalive, self.peer_poll)
        return self.config.keepalive

    def upgrade_after(self, stream, session):
        """ Seconds of silence after which a JSON answer becomes SSE. """
        return min(self.config.keepalive, self.poll_after(stream, session)
                   or self.config.keepalive)

    def poll_after(self, stream, session):
        """ Seconds after which a POST stream is closed for polling: only
        for resumable POST streams of 2025-11-25 sessions (S20); else 0. """
        if stream.number and self.resumable(stream, session) and \
                session.version >= "2025-11-25":
            return self.config.sse_poll_after
        return 0

    def resumable(self, stream, session):
        return session is not None and session.id is not None and \
            stream.replayable

    def open_stream(self, mode, stream, session, version, cursor, headers,
                    idle=False):
        """ Headers for a stream that proxies must not buffer (S30, B-12),
        then, for 2025-11-25 clients of a resumable stream, the priming
        event: an id and empty data, so a reconnect can resume (S19). """
        media = "text/event-stream" if mode == "sse" else \
            "application/x-ndjson"
        first = b""
        if mode == "sse" and self.resumable(stream, session) and \
                version >= "2025-11-25":
            first = self.chunk(b"id: %s\nretry: %d\ndata: \n\n" % (
                session.event_id(stream, cursor).encode(),
                self.config.sse_retry))
        if idle:                # say something now, so proxies wait (B-13)
            first += self.keep_alive_chunk(mode)
        framing = [("Transfer-Encoding", "chunked")]
        if self.request_version == "HTTP/1.0":
            self.close_connection, framing = True, []
        head = self.head(200, [("Content-Type", media),
                               ("Cache-Control", "no-cache, no-transform"),
                               ("X-Accel-Buffering", "no")] + framing +
                         list(headers)) + first
        if stream.finished:     # all there already: one write, in pump()
            self.unsent = head
        else:
            self.wfile.write(head)

    def pump(self, mode, stream, generation, session, cursor, cancel):
        """ Write events as they come until the stream finishes, another
        connection takes it over, or the client goes away.  With
        --sse-poll-after, or when the call asks (Call.close_stream), a POST
        stream is closed early (after a retry field) and the client polls
        with GET (S20, S21). """
        keepalive = self.config.keepalive
        poll_after = self.poll_after(stream, session) if mode == "sse" else 0
        opened = last = self.last_write = time.monotonic()
        ticked = self.ticked = self.server.keepalives.take(
            self, stream, generation, mode) \
            if cancel is None and not poll_after else None
        try:
            while True:
                timeout = None if ticked else self.wait_slice(cancel)
                if poll_after:
                    timeout = max(0.01, min(timeout, opened + poll_after -
                                            time.monotonic()))
                events, finished, attached = self.wait_for(stream, cursor,
                                                           generation, timeout)
                if not attached:
                    break                           # a newer GET took over
                cut_at = stream.take_cut() if mode == "sse" else None
                if cut_at is not None:              # Call.close_stream (S20)
                    events = [e for e in events if e[0] <= cut_at]
                    finished = False
                if events:
                    cursor = self.send_events(mode, stream, session, events,
                                              finished)
                    last = time.monotonic()
                    if finished:
                        return
                if finished:
                    break
                now = time.monotonic()
                if cut_at is not None or (poll_after and
                                          now - opened >= poll_after):
                    self.close_for_polling()
                    break
                if ticked:
                    continue                # KeepAlives writes them
                # Look for a vanished client before a keep-alive (a write to a
                # closed socket may still "succeed" once) and, for 2026-07-28
                # calls, every few tenths of a second (S29).
                due = now - last >= keepalive
                if (due or cancel is not None) and self.peer_gone():
                    break
                if due:
                    self.write(self.keep_alive_chunk(mode))
                    last = now
        finally:
            self.ticked = None                  # KeepAlives lets go
        self.end_stream(cancel)

    def send_events(self, mode, stream, session, events, finished):
        """ Write events in one chunk, the last chunk with them when the
        stream is finished (one write for the end too); returns the cursor
        after them.  A POST's stream finishes with its response (S22), which
        ends it (S27).  A stream nobody can resume forgets what was sent. """
        data = self.chunk(b"".join(
            self.frame(mode, session, stream, seq, message)
            for seq, message in events))
        if finished:
            data += self.end_of_chunks()
        self.write(data)
        cursor = events[-1][0]
        stream.mark_sent(cursor)
        if not stream.replayable:
            stream.forget(cursor)
        return cursor

    def close_for_polling(self):
        """ Close the connection, not the stream: the retry field tells the
        client when to GET the rest with Last-Event-ID (S20, S21). """
        self.write(self.chunk(b"retry: %d\n\n" % self.config.sse_retry))
        self.close_connection = True

    def end_stream(self, cancel):
        """ The end of a stream: the last chunk, unless the client is gone;
        then, in 2026-07-28, its call is cancelled (S29). """
        if self.peer_gone():
            if cancel is not None:
                cancel.set()                    # S29: closing is cancelling
            self.close_connection = True
            return
        self.end_chunks()

    def run_inline(self, work, deliver, stream, framing, cancel, session):
        """ Run calls that may block on this thread, for a JSON answer.

        Most tool calls end in milliseconds with nothing to say before
        their result; handing them to a worker and back costs more under
        load than the rest of the call (bench/RESULTS.md).  While the call
        runs, this thread cannot write, so when something must reach the
        client sooner, a stand-in starts delivering the stream on a worker,
        as this thread would have: a notification or request pushed
        (progress, logs, sampling: the answer becomes SSE, S23) or a cut
        asked (S20); a keep-alive period of silence (B-13); and, for a
        2026-07-28 call, a look for a client that closed (S29).  True if
        the stand-in delivered; else the caller does. """
        workers = self.dispatcher.workers
        standin = StandIn(deliver, workers)
        after = self.stand_in_after(stream, framing, cancel, session)
        alarm = workers.alarms.set(after, standin.start) if after else None
        if framing == "lazy":
            stream.wake_writer = standin.start
        try:
            work()
        finally:
            stream.wake_writer = None
            if alarm is not None:
                workers.alarms.clear(alarm)
            delivered = standin.finish()
        return delivered

    def stand_in_after(self, stream, framing, cancel, session):
        """ Seconds an inline call may run before a stand-in must write
        or watch (the times of await_answer()); None: never. """
        after = self.upgrade_after(stream, session) \
            if framing == "lazy" else None
        if cancel is not None:
            after = min(after or self.peer_poll, self.peer_poll)
        return after


# -- The handler: routing -----------------------------------------------------

def needs_answer(message):
    """ Requests, and anything malformed, get a response. """
    try:
        return message_kind(message) == "request"
    except RPCError:
        return True


class MCPRequestHandler(StreamDelivery, AnswerWriter, BearerAuthorization,
                        RequestChecks, HTTP11RequestHandler):
    """ Streamable HTTP on top of http.server: this class only routes.

    do_POST, do_GET, do_DELETE and do_OPTIONS each serve() one action:
    serve() runs the checks every request gets (check_path,
    check_host_and_origin, check_auth), then post() (S8-S31), get()
    (S32-S36, S41), delete() (S50) or options() (a CORS preflight), and
    turns an RPCError into its answer.  post() reads the body, route()
    picks the era, session and version of the messages (checklist 1.3),
    and answer() hands them to the dispatcher and delivers what it sends;
    listen() and get() open the streams that stay open
    (subscriptions/listen in 2026-07-28; the GET stream and its
    resumption in 2025).  The parts it is made of, and what each does,
    are above: HTTP11RequestHandler, RequestChecks, BearerAuthorization,
    AnswerWriter and StreamDelivery.
    """

    def do_POST(self):
        self.serve(self.post)

    def do_GET(self):
        self.serve(self.get)

    def do_DELETE(self):
        self.serve(self.delete)

    def do_OPTIONS(self):
        self.serve(self.options)

    def do_PUT(self):
        self.serve(self.not_allowed)

    do_PATCH = do_HEAD = do_PUT

    def serve(self, action):
        """ Run one request: checks, then action(); errors become JSON-RPC
        error bodies with the right status; one access-log line at the end. """
        self.start_request()
        try:
            if self.check_path():
                self.check_host_and_origin()
                if self.command != "OPTIONS":
                    self.check_auth()
                action()
        except RPCError as exc:
            self.send_rpc_error(exc)
        except RequestTimeout:
            self.request_timed_out()          # the body came too slowly
        except OSError:
            self.close_connection = True      # the client went away
        except Exception:                     # a bug: say so, keep serving
            log.exception("error handling %s %s", self.command,
                          self.path[:120])
            self.send_rpc_error(RPCError(INTERNAL_ERROR, "Internal error "
                                         "(see the server log)", status=500))
        finally:
            self.give_turn()
            self.access_log()

    def start_request(self):
        """ Fresh state for a request, and its turn (Turns): a POST takes
        it once its body is read, so a slow body holds none. """
        self.start_access_log()
        self.extra_headers, self.request_id, self.body_read = [], None, False
        self.principal, self.unsent = "", b""
        if self.command != "POST" and self.has_body():
            self.close_connection = True      # we never read such bodies
        if self.command != "POST":
            self.take_turn()                  # POST: once its body is read

    # -- POST ----------------------------------------------------------------

    def post(self):
        if self.server.stopping:
            self.close_connection = True
            raise RPCError(INTERNAL_ERROR, "Service Unavailable: shutting "
                           "down", status=503)
        self.check_content_type()
        body = self.read_body()
        self.take_turn()
        payload, messages, batch = self.read_messages(body)
        session, version = self.route(messages, batch)
        if batch and (version or LATEST_LEGACY) != "2025-03-26":
            raise RPCError(INVALID_REQUEST, "Invalid Request: JSON-RPC "
                           "batches are only allowed in protocol 2025-03-26 "
                           "(S13)", status=400)
        if not any(needs_answer(m) for m in messages):
            self.accept(messages, session, version)
            return
        framing = choose_framing(self.headers.get("Accept"))
        if not batch and version in MODERN_VERSIONS and \
                payload.get("method") == "subscriptions/listen":
            self.listen(payload, version, framing)
            return
        self.answer(messages, batch, session, version, framing)

    def read_messages(self, body):
        """ (payload, messages, batch) from a POST body: one message, or a
        batch (S11); the id and method of a single one go to the log. """
        payload = parse_json(body)
        batch = isinstance(payload, list)
        messages = payload if batch else [payload]
        if batch and not messages:
            raise RPCError(INVALID_REQUEST, "Invalid Request: empty batch",
                           status=400)
        if not batch:
            self.request_id = readable_id(payload)
            message_kind(payload)               # 400 for a bad envelope
            self.rpc = payload.get("method", "response")[:40]
        return payload, messages, batch

    def accept(self, messages, session, version):
        """ Notifications and responses only: handled, then 202 and no
        body (S15). """
        for message in messages:
            self.dispatcher.handle(message, lambda m: None, session,
                                   version, principal=self.principal)
        self.send_whole(202, [("Content-Length", "0")])    # S15

    def route(self, messages, batch):
        """ Which era, session and version serve this POST (checklist 1.3):
        a live session goes the 2025 way; a 2026-07-28 request is served
        statelessly (even an "initialize", which 2026 no longer has); an
        initialize starts a session; anything else needs a session, unless
        the server runs --stateless. """
        dispatcher = self.dispatcher
        sid = self.headers.get("Mcp-Session-Id")
        initialize = any(isinstance(m, dict) and
                         m.get("method") == "initialize" for m in messages)
        if initialize and batch:
            raise RPCError(INVALID_REQUEST, "Invalid Request: initialize "
                           "must not be part of a batch (S12)", status=400)
        if sid and not dispatcher.stateless and not initialize:
            session = dispatcher.sessions.get(sid, self.principal)
            if session is not None:
                self.sid = session.short
                return session, self.legacy_version(session)
        if not batch and self.looks_modern(messages[0]):
            return None, self.check_modern(messages[0])
        if initialize:
            if not dispatcher.stateless:
                dispatcher.sessions.make_room()     # 503 now, not a 200 later
                self.server.client_sessions.make_room(self.client_address[0])
            return None, None
        if dispatcher.stateless:
            return None, self.legacy_version(None)
        if sid:
            raise RPCError(INVALID_REQUEST, SESSION_UNKNOWN, status=404)
        raise RPCError(INVALID_REQUEST, SESSION_REQUIRED, status=400)

    def answer(self, messages, batch, session, version, framing):
        """ Run the requests and deliver what they send.  Quick ones
        answered in JSON need no stream (answer_at_once).  Other quick ones
        run on this thread, then their stream is written.  Calls that may
        block (tools) run on a worker thread when the answer is a stream
        (SSE or NDJSON), so this thread can write their notifications as
        they come, send keep-alives, and notice a client that went away;
        when the answer is JSON, they run here too (run_inline). """
        cancelled = Cancellation() if version in MODERN_VERSIONS else None
        slow = any(may_block(m) for m in messages)
        if not slow and framing in ("json", "lazy"):
            with self.server.working():
                self.answer_at_once(messages, batch, session, version,
                                    framing, cancelled)
            return
        stream = self.post_stream(session, framing)
        stream.carries_requests = framing != "json"     # S23 needs a stream
        created, started = [], time.monotonic()

        def work():
            try:
                created.extend(self.run_messages(
                    messages, stream.push, session, version, cancelled,
                    stream))
            finally:
                stream.finish()

        def deliver():
            to, headers = self.session_made(created, session)
            self.deliver(stream, framing, to, version, batch=batch,
                         headers=headers, cancel=cancelled,
                         generation=generation, since=started)

        generation = stream.attach()    # before any event: none is trimmed
        with self.server.working():
            if not slow:
                work()
            elif framing in ("json", "lazy"):
                if self.run_inline(work, deliver, stream, framing,
                                   cancelled, session):
                    return              # a stand-in delivered it
            else:
                self.dispatcher.workers.run(work)
            deliver()

    def answer_at_once(self, messages, batch, session, version, framing,
                       cancelled):
        """ Requests that cannot block (may_block), answered in JSON: run
        here, their responses written as soon as they return, with no
        stream between (a stream costs more than the rest of a ping or a
        tools/list).  What else they send is what a stream would have
        carried: in 'json' framing it is dropped, as a JSON body holds only
        responses; in 'lazy' framing a notification makes the answer SSE
        (S23), so then all of it goes on a stream, in the order sent. """
        sent = []
        created = self.run_messages(messages, sent.append, session, version,
                                    cancelled)
        to, headers = self.session_made(created, session)
        if framing == "json" or all("method" not in m for m in sent):
            self.send_answer([m for m in sent if "method" not in m], batch,
                             headers)
            return
        stream = self.post_stream(session, framing)
        for message in sent:
            stream.push(message)
        stream.finish()
        self.deliver(stream, framing, to, version, batch=batch,
                     headers=headers, cancel=cancelled)

    def post_stream(self, session, framing):
        """ The stream of one POST: numbered in its session, so that SSE
        events can be resumed (S41); outside a session, a passing one. """
        if session is not None:
            return session.open_stream(framing in ("sse", "lazy"))
        return self.passing_stream()

    def run_messages(self, messages, send, session, version, cancelled,
                     stream=None):
        """ Hand each message to the dispatcher; the sessions that an
        initialize among them made. """
        created = []
        for message in messages:
            call = self.dispatcher.handle(message, send, session, version,
                                          cancelled, self.principal, stream)
            if call is not None and call.created_session:
                created.append(call.created_session)
        return created

    def session_made(self, created, session):
        """ The session the answer belongs to, and its headers: an
        initialize's new session is named in Mcp-Session-Id (S45). """
        if not created:
            return session, []
        made = created[0]
        self.sid = made.short
        self.server.client_sessions.add(self.client_address[0], made)
        return made, [("Mcp-Session-Id", made.id)]

    def listen(self, message, version, framing):
        """ subscriptions/listen (2026-07-28): the answer is an SSE stream
        that stays open, carrying the acknowledgement and then the changes
        the client asked for (Listener), with keep-alives like every
        stream.  It ends when the client closes it, or gracefully at
        shutdown, when MCPServer.drain() has the dispatcher answer the
        request.  A refused request (a bad filter, too many streams) is a
        JSON answer.

        Its thread sleeps like a GET stream's (KeepAlives): nothing here
        is to be cancelled, so pump() gets no cancel and takes no look
        every peer_poll seconds, which for thousands of listen streams
        would wake every thread four times a second (issue 18).  A client
        that closed the stream is seen by KeepAlives at its next
        keep-alive (peer_gone), which lets the thread go (Stream.let_go);
        the subscription ends with it (6.2).

        The stream lives in this process: behind several nodes, the
        changes a listener hears are those of the node that holds its
        connection (docs/sessions.md, on load balancers). """
        if framing not in ("sse", "lazy"):
            raise RPCError(INVALID_REQUEST, "Not Acceptable: the answer to "
                           "subscriptions/listen is text/event-stream",
                           status=406)
        stream = self.passing_stream()
        stream.ends_without_turn = True
        cancel = Cancellation()
        generation = stream.attach()
        listener = None
        with self.server.streaming():
            try:
                call = self.dispatcher.handle(
                    message, stream.push, None, version, cancel,
                    self.principal, stream,
                    client=self.principal or self.client_address[0])
                listener = call.listener if call is not None else None
                if listener is None or listener.ended:
                    stream.finish()         # a refusal, or nothing honoured
                self.deliver(stream, "sse" if listener else "json", None,
                             version, generation=generation)
            finally:
                if listener is not None:
                    self.dispatcher.unlisten(listener)
                    listener.ended = True

    # -- GET, DELETE and OPTIONS ---------------------------------------------

    def passing_stream(self):
        """ A Stream outside any session: no event ids, nothing to resume
        (S43, S44), each event forgotten once written. """
        return Stream(0, self.config.replay_buffer, replayable=False)

    def get(self):
        """ The standalone SSE stream (S32-S36): text/event-stream, or 405
        in --stateless mode (S33); it carries requests and notifications,
        never a response (S35).  Or the rest of a stream whose connection
        was cut, from Last-Event-ID (S41, S42). """
        if self.dispatcher.stateless:
            raise RPCError(INVALID_REQUEST, "Method Not Allowed: this server "
                           "runs --stateless and has no GET stream",
                           status=405)
        if quality(parse_accept(self.headers.get("Accept")),
                   "text/event-stream") <= 0:
            raise RPCError(INVALID_REQUEST, "Not Acceptable: GET answers "
                           "text/event-stream", status=406)
        session = self.require_session()
        self.legacy_version(session)
        last = self.headers.get("Last-Event-ID")
        if last:
            stream, cursor = session.parse_event_id(last)
            self.rpc = "resume"
        else:
            stream, cursor = session.standalone, session.standalone.seq
            self.rpc = "listen"
        with self.server.streaming():
            self.deliver(stream, "sse", session, session.version,
                         cursor=cursor)

    def delete(self):
        """ The client ends its session (S50); afterwards its id is 404. """
        if self.dispatcher.stateless:
            raise RPCError(INVALID_REQUEST, "Method Not Allowed: this server "
                           "runs --stateless and has no sessions", status=405)
        session = self.require_session()
        self.dispatcher.sessions.close(session.id)
        log.info("session %s ended by the client", session.short)
        self.send_whole(204, [])

    def options(self):
        """ CORS preflight for browser clients on allowed origins. """
        self.send_whole(204, [
            ("Allow", "GET, POST, DELETE, OPTIONS"),
            ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
            ("Access-Control-Allow-Headers", CORS_HEADERS),
            ("Access-Control-Max-Age", "86400")])

    def not_allowed(self):
        raise RPCError(INVALID_REQUEST, "Method Not Allowed", status=405)


# One thread per open stream (ThreadingHTTPServer), but not one wake-up per
# keep-alive: 10,000 threads each waking every few seconds to write a
# keep-alive, each wake-up a poll() and a send(), each a moment it lets the
# GIL go and must take it back, pile up behind the GIL once a pause (a
# garbage collection, a burst of requests) lines their wake-ups up: then
# they wake together every keep-alive, keep-alives come tens of seconds
# late and new requests wait (measured: soak/streams.py with 4,000 streams,
# issue 18).  So the thread of an idle stream sleeps until its stream has
# something, and one thread, KeepAlives, writes the keep-alives of them all,
# without ever blocking (AnswerWriter.keep_alive).  It sleeps with no
# timeout at all: a wake-up every minute, for threads started together,
# was enough to pile them up again (12,000 streams: a 20 s pause).  What
# wakes it: a message, the stream's end (a session closed, expired or
# evicted, a shutdown), a newer GET taking over, or KeepAlives seeing its
# client gone (Stream.let_go).

MAX_UNSENT_KEEPALIVES = 4096    # bytes unread: the client is gone


class KeepAlives(object):
    """ Keep-alives for the idle streams of one server, from one thread.

    A stream's thread hands its connection over (take) before it waits; a
    heap of (due, connection) says whom to visit next, and each visit
    (AnswerWriter.keep_alive) says when to come back.  The thread
    starts on first use and ends after ``idle_timeout`` seconds with
    nothing to watch.  Not for TLS (a TLS socket cannot send without
    waiting), nor where poll() or MSG_DONTWAIT is missing (Windows): those
    streams' threads write their own keep-alives, as they all used to. """

    idle_timeout = 5.0

    def __init__(self):
        self._cond = threading.Condition()
        self._heap = []
        self._numbers = itertools.count()
        self._running = False
        self.thread = None

    def take(self, handler, stream, generation, mode):
        """ Watch handler's stream from now on; returns the token its
        keep_alive() visits carry, or None when this stream cannot be
        watched and its thread must write its own keep-alives. """
        if handler.server.tls is not None or \
                not hasattr(socket, "MSG_DONTWAIT") or \
                not hasattr(select, "poll"):
            return None
        token = (stream, generation, mode)
        due = time.monotonic() + handler.config.keepalive
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._numbers), handler,
                                        token))
            if not self._running:
                self._running = True
                self.thread = threading.Thread(target=self._run,
                                               name="keep-alives",
                                               daemon=True)
                self.thread.start()
            elif self._heap[0][2] is handler:
                self._cond.notify()
        return token

    def _run(self):
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        if not self._cond.wait(self.idle_timeout) and \
                                not self._heap:
                            self._running = False
                            return
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, handler, token = heapq.heappop(self._heap)
                        break
                    self._cond.wait(wait)
            try:
                due = handler.keep_alive(time.monotonic(), token)
            except Exception:                   # a bug: say so, go on
                log.exception("keep-alive")
                due = None
            if due is not None:
                with self._cond:
                    heapq.heappush(self._heap, (due, next(self._numbers),
                                                handler, token))


class ClientSessions(object):
    """ --max-client-sessions: live sessions per client address.  With only
    the global --max-sessions, one host flooding initialize would evict
    every other client's idle sessions (field notes B-5); with this cap it
    evicts its own.  Sessions are held weakly: an ended one just drops out.
    Behind a reverse proxy every client has the proxy's address, so leave
    it off there (the default). """

    def __init__(self, sessions, limit):
        self.sessions, self.limit = sessions, limit
        self._by_client = {}            # address -> WeakSet of Sessions
        self._lock = threading.Lock()

    def make_room(self, client):
        """ Before a new session for client: at the cap, end its least
        recently used idle session; if all of them are busy, 429. """
        if not self.limit:
            return
        with self._lock:
            live = [s for s in self._by_client.get(client, ())
                    if not s.closed]
        if len(live) < self.limit:
            return
        idle = [s for s in live if not s.busy()]
        if not idle:
            raise RPCError(INVALID_REQUEST, "Too Many Requests: %s has %d "
                           "live sessions, none idle (--max-client-sessions)"
                           % (client, len(live)), status=429,
                           headers=[("Retry-After", "5")])
        oldest = min(idle, key=lambda s: s.last_seen)
        log.info("session %s evicted: --max-client-sessions %d reached by "
                 "%s", oldest.short, self.limit, client)
        self.sessions.close(oldest.id)

    def add(self, client, session):
        if not self.limit:
            return
        with self._lock:
            self._by_client.setdefault(client, weakref.WeakSet()).add(session)
            if len(self._by_client) > 2 * len(self.sessions) + 64:
                self._by_client = dict((c, s) for c, s in
                                       self._by_client.items() if len(s))


def make_tls_context(config):
    """ The TLS context for --tls-cert and --tls-key (TLS 1.2 or later,
    HTTP/1.1 offered by ALPN), or None for plain HTTP. """
    if not config.tls_cert:
        if config.tls_key:
            raise ValueError("--tls-key needs --tls-cert")
        return None
    if ssl is None:
        raise ValueError("--tls-cert: this Python was built without ssl")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    set_minimum_tls_1_2(context)
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError("--tls-cert %s / --tls-key %s: %s" % (
            config.tls_cert, config.tls_key or "-", exc))
    return context


class InFlight(object):
    """ ``with server.working():`` counts a request in flight while it
    runs, for drain(); ``server.streaming()`` a stream.  A small class
    rather than a @contextmanager generator: every request passes here,
    and the generator's machinery cost more than the counting. """

    def __init__(self, server, kind):
        self.server, self.kind = server, kind

    def __enter__(self):
        with self.server.active_cond:
            self.server.active[self.kind] += 1

    def __exit__(self, *exc_info):
        with self.server.active_cond:
            self.server.active[self.kind] -= 1
            self.server.active_cond.notify_all()


class MCPServer(ThreadingHTTPServer):
    """ A threading HTTP server holding the dispatcher: one thread per
    connection, plus the dispatcher's pool of workers for tool calls.
    With --tls-cert the listening socket is wrapped for TLS; each
    connection's handshake happens in its own thread (handle()). """

    daemon_threads = True
    request_queue_size = 1024       # listen backlog, for bursts of clients
    allow_reuse_address = True

    def __init__(self, config=None, dispatcher=None,
                 handler=MCPRequestHandler):
        if dispatcher is not None and config is None:
            config = dispatcher.config
        self.config = config or Config.from_env()
        self.dispatcher = dispatcher or build_dispatcher(self.config)
        if ":" in self.config.host:
            self.address_family = socket.AF_INET6
        self.loopback = is_loopback(self.config.host)
        self.allowed_hosts = [h.lower() for h in self.config.allow_host]
        self.stopping = False
        self.active = collections.Counter()
        self.active_cond = threading.Condition()
        self.tls = make_tls_context(self.config)        # before binding
        self.introspector = TokenIntrospector(self.config) \
            if self.config.auth_server else None
        self.client_sessions = ClientSessions(
            self.dispatcher.sessions, self.config.max_client_sessions)
        self.keepalives = KeepAlives()
        ThreadingHTTPServer.__init__(
            self, (self.config.host, self.config.port), handler)
        if self.tls is not None:
            self.socket = self.tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False)

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can stall
        # for seconds on hosts without DNS; we only need the address.
        if self.config.workers > 1:       # every worker binds the same port
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        """ A client that vanished is routine: one line, no traceback. """
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            log.debug("connection from %s ended: %s", client_address[0], exc)
        else:
            log.exception("error serving %s", client_address[0])

    @property
    def url(self):
        return endpoint_url(self.server_address, self.config.path,
                            self.tls is not None)

    def working(self):
        return InFlight(self, "calls")

    def streaming(self):
        return InFlight(self, "streams")

    def drain(self, timeout):
        """ Graceful stop: refuse new work, let calls in flight deliver
        their responses within timeout, then end the GET streams cleanly. """
        self.stopping = True
        deadline = time.monotonic() + timeout
        with self.active_cond:
            while self.active["calls"] > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("shutdown: %d requests still running after "
                                "%g s", self.active["calls"], timeout)
                    break
                self.active_cond.wait(remaining)
        for session in self.dispatcher.sessions.all():
            session.standalone.finish()
        self.dispatcher.end_listeners()     # their responses end them
        self.dispatcher.watch.stop()
        # Every listen stream's thread writes its response (a message: it
        # takes a turn), so thousands of them need more than a moment: they
        # get what is left of the timeout, at least a second.
        with self.active_cond:
            self.active_cond.wait_for(
                lambda: self.active["streams"] == 0,
                timeout=max(1.0, deadline - time.monotonic()))


def endpoint_url(address, path, tls=False):
    """ http://host:port/path (https:// with TLS) for a bound (host, port,
    ...) address. """
    host = address[0]
    if ":" in host:
        host = "[%s]" % host
    return "%s://%s:%d%s" % ("https" if tls else "http", host, address[1],
                             path)


def make_server(config=None, dispatcher=None):
    """ A bound MCPServer; call serve_forever() to run it. """
    return MCPServer(config, dispatcher)


def serve_http(config, dispatcher=None):
    """ Run until SIGTERM or SIGINT, then shut down gracefully; return 0.
    With --workers N, N processes serve instead (serve_workers). """
    fit_process_limits(config)
    if config.workers > 1:
        return serve_workers(config, dispatcher)
    server = make_server(config, dispatcher)
    log_listening(server.url, config, server.dispatcher)
    return serve_until_stopped(server, stop_on_signals())


# Every open connection holds a descriptor and a thread (ThreadingHTTPServer),
# a GET or listen stream as long as it is open: 10,000 open streams need
# 10,000 of each, plus a few for the rest.  So three limits of the process
# bound the streams it can hold, and the start-up log says which binds first
# (issue 18):
#   - the open-files limit (RLIMIT_NOFILE): its soft value is often 1024,
#     its hard one far higher.  Any process may raise its soft limit up to
#     the hard one, so it is raised at start.  Past it, accept() fails.
#   - the threads it may start: the cgroup's pids.max (systemd's TasksMax=,
#     deploy/mcp-weather@.service) and, but for root, RLIMIT_NPROC (ulimit
#     -u, every process of the user).  Past it, a connection is closed at
#     once ("can't start new thread").
#   - memory.  A thread's stack is reserved, not used: resident memory
#     (RSS) counts only the pages it touches, a few KiB for a thread that
#     waits on its stream, so --thread-stack changes the address space
#     (VmSize), not RSS (bench/README.md has the figures per stream).

STREAM_RESERVE = 64     # descriptors and threads kept for all but streams


def fit_process_limits(config):
    """ At start: set the thread stack, raise the open-files limit, and log
    how many open streams the limits leave room for; warn when that is
    fewer than --max-sessions (each session may hold a GET stream). """
    stack = set_thread_stack(config.thread_stack)
    files = raise_open_files_limit()
    threads, threads_by = thread_limit()
    bounds = []
    if files is not None:
        bounds.append((files[0], "the open-files limit (ulimit -n, "
                       "LimitNOFILE=)"))
    if threads is not None:
        bounds.append((threads, threads_by))
    text = "limits: open files %s, threads %s, thread stack %s" % (
        "unknown" if files is None else "%d%s" % (files[0], "" if
            files[0] == files[1] else " (raised from %d)" % files[1]),
        "unknown" if threads is None else "%d (%s)" % (threads,
                                                       threads_by), stack)
    if not bounds:
        log.info("%s", text)
        return None
    limit, name = min(bounds)
    room = max(0, limit - STREAM_RESERVE)
    if room < config.max_sessions:
        log.warning("%s: %s binds before --max-sessions %d: room for about "
                    "%d open streams", text, name, config.max_sessions, room)
    else:
        log.info("%s: room for about %d open streams", text, room)
    return room


def set_thread_stack(kib):
    """ --thread-stack: the stack each thread started from now on gets;
    returns how to say it.  Too small a stack crashes the process (SIGSEGV)
    on deeply nested JSON before RecursionError can stop it.  Measured
    with bodies nested up to 200,000 deep: Python 3.7 to 3.12 were safe at
    256 KiB (3.11 crashed at 128), Python 3.13.0, whose C recursion limit
    no longer follows sys.getrecursionlimit(), needs 2048 KiB. """
    if not kib:
        return "the system's"
    try:
        threading.stack_size(kib * 1024)
    except (ValueError, RuntimeError) as exc:
        log.warning("--thread-stack %d: %s; keeping the system's", kib, exc)
        return "the system's"
    return "%d KiB" % kib


def raise_open_files_limit():
    """ Raise the soft RLIMIT_NOFILE to the hard one; return (soft now, soft
    before, hard), or None where there is no such limit.  Nothing is asked
    when they are equal already (systemd's LimitNOFILE= sets both, and its
    SystemCallFilter=~@resources kills a process that calls setrlimit). """
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = soft
    if soft == hard:
        return soft, before, hard
    # An infinite hard limit (macOS) still caps the soft one: try less.
    targets = [hard] if hard != resource.RLIM_INFINITY else         [1048576, 65536, 10240]
    for target in targets:
        if soft != resource.RLIM_INFINITY and target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        soft = target
        break
    return soft, before, hard


def thread_limit():
    """ (threads, what limits them) for this process, the lowest of the
    cgroup's pids.max (systemd's TasksMax=) and, but for root, RLIMIT_NPROC;
    (None, "") when neither applies or can be read.  Both count every
    task of their group, so this is an upper bound. """
    limits = []
    try:
        with open("/proc/self/cgroup") as groups:
            for line in groups:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controllers == "":                   # cgroup v2
                    where = "/sys/fs/cgroup%s/pids.max" % path.rstrip("/")
                elif "pids" in controllers.split(","):  # cgroup v1
                    where = "/sys/fs/cgroup/pids%s/pids.max" % \
                        path.rstrip("/")
                else:
                    continue
                try:
                    with open(where) as pids:
                        value = pids.read().strip()
                    limits.append((int(value), "the cgroup's pids.max, "
                                   "TasksMax= under systemd"))
                except (OSError, ValueError):       # absent, or "max"
                    pass
    except (OSError, ValueError):
        pass
    if resource is not None and hasattr(resource, "RLIMIT_NPROC") and \
            os.geteuid() != 0:
        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append((soft, "the user's process limit (ulimit -u)"))
    return min(limits) if limits else (None, "")


def log_listening(url, config, dispatcher, workers=""):
    """ The start-up line (tests and scripts read the URL from it), and a
    warning when anyone on the network could use the server. """
    log.info("%s %s listening on %s (%s, tools: %s%s)", SERVER_NAME,
             __version__, url,
             "stateless" if dispatcher.stateless else "sessions",
             ", ".join(t.name for t in dispatcher.tools.list()) or "none",
             workers)
    loopback = is_loopback(config.host)
    if not loopback and not config.token and not config.auth_server:
        log.warning("listening beyond loopback without --token: anyone who "
                    "can reach %s can use it", url)
    if config.auth_server:
        log.info("OAuth: protected-resource metadata at %s, naming %s",
                 PRM_PATH + config.path.rstrip("/"), config.auth_server)
    if (config.token or config.auth_server) and not config.tls_cert and \
            not loopback:
        log.warning("bearer tokens cross the network in clear text: use "
                    "--tls-cert, or a proxy that terminates TLS")


def stop_on_signals():
    """ An Event that SIGTERM and SIGINT set: the main loop's cue to stop. """
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    return stop


def serve_until_stopped(server, stop):
    """ Serve until stop is set, then drain (MCPServer.drain); return 0. """
    config = server.config
    thread = threading.Thread(target=server.serve_forever, args=(0.2,),
                              name="accept")
    thread.start()
    while not stop.wait(0.2):
        pass
    log.info("shutting down: in-flight requests get up to %g s",
             config.shutdown_timeout)
    server.shutdown()
    server.server_close()          # stop accepting new connections
    server.drain(config.shutdown_timeout)
    thread.join()
    log.info("stopped")
    return 0


###############################################################################
# Worker processes ############################################################
###############################################################################

# One CPython process uses about one core (the GIL).  --workers N runs N
# copies of the HTTP server on one port, one process each: every worker
# opens its own listening socket with SO_REUSEPORT, and the Linux kernel
# spreads new connections over those sockets by a hash of the client's
# address and port.  The kernel knows nothing of Mcp-Session-Id, so a
# session made by one worker would be "not found" on the next connection
# (field notes B-1): workers need --stateless.  Sessions over several
# processes go behind nginx instead, one --node-id per process, routed home
# by the session id's prefix (C-2, deploy/nginx-sessions.conf).
#
# The parent serves nothing.  It reserves the port, forks the workers,
# starts a new worker when one dies, and on SIGTERM or SIGINT passes the
# signal on and waits while every worker drains as a single server would.

WORKERS_NEED_STATELESS = (
    "--workers %d needs --stateless: sessions live in one process's memory, "
    "and the kernel hands each new connection to any worker, so a session's "
    "next request would get 404 from another one (field notes B-1). Run "
    "--stateless, or keep sessions with one process per port, each with "
    "its own --node-id, behind nginx routing every session home: see "
    "deploy/nginx-sessions.conf and docs/deploying.md.")
WORKERS_NEED_LINUX = (
    "--workers needs Linux, where SO_REUSEPORT spreads the connections of "
    "one port over several processes (this system: %s). Run one process "
    "per port behind a proxy instead (deploy/).")
RESTART_FIRST = 0.1     # seconds before a dead worker's first replacement
RESTART_LONGEST = 30.0  # the backoff doubles up to this
HEALTHY_RUN = 30.0      # a worker that lived this long resets its backoff
EXIT_GRACE = 5.0        # beyond --shutdown-timeout, before SIGKILL


def workers_problem(config):
    """ Why --workers cannot run as configured, or None if it can. """
    if config.workers < 1:
        return "--workers: at least 1"
    if config.workers == 1:
        return None
    if config.stdio:
        return "--workers serves HTTP; --stdio is always one process"
    if not config.stateless:
        return WORKERS_NEED_STATELESS % config.workers
    if not sys.platform.startswith("linux") or not hasattr(os, "fork") or \
            not hasattr(socket, "SO_REUSEPORT"):
        return WORKERS_NEED_LINUX % sys.platform
    return None


def reserve_port(config):
    """ Bind, without listening, the address the workers will share.  This
    fails early, in the parent, when the port is taken; it settles --port 0
    to one port for every worker; and, held for the parent's life, it keeps
    the port ours while a dead worker is replaced.  A socket that does not
    listen gets no connections.

    The first bind, without SO_REUSEPORT, is a probe: it fails if anything
    listens on the port, even another copy of this server started by the
    same user, which SO_REUSEPORT alone would let share the port silently.
    """
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    port = config.port
    for shared in (False, True):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if shared:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((config.host, port))
        except OSError:
            sock.close()
            raise
        if not shared:
            port = sock.getsockname()[1]
            sock.close()
    return sock


def serve_workers(config, dispatcher=None):
    """ The parent of --workers N: fork N workers that share the port, keep
    N running, and stop them all on SIGTERM or SIGINT.  Returns 0 when every
    worker drained and exited cleanly, else 1.  The dispatcher (with any
    tools setup() added) is built once, before the fork, so every worker
    serves the same tools. """
    problem = workers_problem(config)
    if problem:
        raise ValueError(problem)
    make_tls_context(config)        # a bad certificate stops us, not each
    dispatcher = dispatcher or build_dispatcher(config)
    reserved = reserve_port(config)
    try:
        config.port = reserved.getsockname()[1]
        log_listening(endpoint_url(reserved.getsockname(), config.path,
                                   bool(config.tls_cert)),
                      config, dispatcher, ", %d workers" % config.workers)
        stop = stop_on_signals()
        pool = WorkerProcesses(config, dispatcher)
        pool.supervise(stop)
        return pool.stop_all()
    finally:
        reserved.close()


class WorkerProcesses(object):
    """ The parent's view of its workers: which pid is which worker, when
    each started, and how long to wait before replacing one that died. """

    def __init__(self, config, dispatcher):
        self.config, self.dispatcher = config, dispatcher
        self.running = {}             # pid -> (number, monotonic start)
        self.failures = collections.Counter()   # number -> quick deaths
        self.due = {}                 # number -> monotonic restart time

    def supervise(self, stop):
        """ Start every worker, then replace dead ones until stop is set. """
        for number in range(1, self.config.workers + 1):
            self.start(number)
        while not stop.wait(0.1):
            for pid, status in self.reap():
                self.schedule_restart(pid, status)
            now = time.monotonic()
            for number, when in list(self.due.items()):
                if when <= now:
                    del self.due[number]
                    self.start(number)

    def start(self, number):
        """ Fork worker `number`.  SIGTERM and SIGINT stay blocked across
        the fork, so one that comes early waits for the worker's own
        handler instead of running the parent's. """
        sys.stderr.flush()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK,
                                         (signal.SIGTERM, signal.SIGINT))
        try:
            pid = os.fork()
            if pid == 0:
                run_worker(number, self.config, self.dispatcher, blocked)
        except OSError as exc:          # out of processes or memory
            log.error("cannot start worker %d: %s; trying again in %g s",
                      number, exc, RESTART_LONGEST)
            self.due[number] = time.monotonic() + RESTART_LONGEST
            return
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.running[pid] = (number, time.monotonic())

    def reap(self):
        """ (pid, wait status) of each worker that has exited. """
        ended = []
        while len(ended) < len(self.running):
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self.running:
                ended.append((pid, status))
        return ended

    def schedule_restart(self, pid, status):
        """ A worker died while it should be serving: log it, and start a
        new one after a backoff that doubles while replacements keep dying
        young (a crash loop must not spin the CPU or flood the log). """
        number, started = self.running.pop(pid)
        lived = time.monotonic() - started
        if lived >= HEALTHY_RUN:
            self.failures[number] = 0
        delay = min(RESTART_LONGEST,
                    RESTART_FIRST * 2 ** self.failures[number])
        self.failures[number] += 1
        self.due[number] = time.monotonic() + delay
        log.warning("worker %d (pid %d) %s after %.1f s; starting another "
                    "in %.1f s", number, pid, describe_exit(status), lived,
                    delay)

    def stop_all(self):
        """ Pass SIGTERM on, wait for every worker to drain (each gets
        --shutdown-timeout, as a single server does), and SIGKILL any that
        hangs past EXIT_GRACE more.  0 if all exited cleanly, else 1. """
        timeout = self.config.shutdown_timeout
        log.info("shutting down %d workers: in-flight requests get up to "
                 "%g s", len(self.running), timeout)
        for pid in self.running:
            os.kill(pid, signal.SIGTERM)
        clean = True
        deadline = time.monotonic() + timeout + EXIT_GRACE
        while self.running and time.monotonic() < deadline:
            for pid, status in self.reap():
                number, _ = self.running.pop(pid)
                if status != 0:
                    clean = False
                    log.error("worker %d (pid %d) %s while stopping", number,
                              pid, describe_exit(status))
            time.sleep(0.05)
        for pid, (number, _) in self.running.items():
            log.error("worker %d (pid %d) still running %g s after SIGTERM: "
                      "killed", number, pid, timeout + EXIT_GRACE)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            clean = False
        self.running.clear()
        log.info("stopped")
        return 0 if clean else 1


def describe_exit(status):
    """ A wait status in words: 'was killed by SIGKILL', 'exited with
    status 1'. """
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "signal %d" % number
        return "was killed by %s" % name
    return "exited with status %d" % os.WEXITSTATUS(status)


def run_worker(number, config, dispatcher, signal_mask):
    """ A worker's whole life, in the child after fork(): its own signal
    handlers, then a server on the shared port until SIGTERM, drained like
    a single server.  Never returns: os._exit keeps the child out of the
    parent's code (and its atexit handlers). """
    status = 1
    try:
        stop = stop_on_signals()
        signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)
        server = make_server(config, dispatcher)
        log.info("worker %d accepting connections", number)
        status = serve_until_stopped(server, stop)
    except BaseException:
        log.exception("worker %d (pid %d) failed", number, os.getpid())
    finally:
        logging.shutdown()
        os._exit(status)


###############################################################################
# stdio transport #############################################################
###############################################################################

def serve_stdio(dispatcher, stdin=None, stdout=None):
    """ The same dispatcher over newline-delimited JSON-RPC on stdin and
    stdout, for clients that spawn their servers.  Only messages go to
    stdout; logs go to stderr.  Returns 0 at end of input, once the calls in
    flight have answered. """
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    lock = threading.Lock()
    session = Session(None, ASSUMED_VERSION, config=dispatcher.config)
    workers = []

    def send(message):
        data = encode_json(message) + b"\n"
        with lock:
            stdout.write(data)
            stdout.flush()

    dispatcher.local_sessions.append(session)
    forwarder = threading.Thread(target=forward_stream, name="stdio-notify",
                                 args=(session.standalone, send), daemon=True)
    forwarder.start()
    for line in iter(stdin.readline, b""):
        if not line.strip():
            continue
        try:
            payload = parse_json(line)
        except RPCError as exc:
            send(exc.response())
            continue
        workers = [w for w in workers if w.is_alive()]
        workers.extend(stdio_message(dispatcher, payload, session, send))
    deadline = time.monotonic() + dispatcher.config.shutdown_timeout
    for worker in workers:
        worker.join(max(0, deadline - time.monotonic()))
    dispatcher.end_listeners(session, graceful=False)
    dispatcher.local_sessions.remove(session)
    session.close()
    forwarder.join(1.0)             # what was pushed before the end goes out
    return 0


def forward_stream(stream, send):
    """ Send what a session's standalone stream receives (list changes,
    resource updates, logs not tied to a request) as it comes: stdio has
    no GET stream, and needs none. """
    generation, cursor = stream.attach(), stream.seq
    while True:
        events, finished, attached = stream.wait(cursor, generation, 60.0)
        for seq, message in events:
            send(message)
            cursor = seq
        stream.mark_sent(cursor)
        if finished or not attached:
            return


def stdio_message(dispatcher, payload, session, send):
    """ Handle one line; a batch (2025-03-26 only) is answered as an
    array.  Returns the worker threads it started. """
    batch = isinstance(payload, list)
    if batch and (not payload or session.version != "2025-03-26"):
        send(RPCError(INVALID_REQUEST, "Invalid Request: batches need "
                      "protocol 2025-03-26").response())
        return []
    messages = payload if batch else [payload]
    responses = []

    def collect(message):
        if batch and "method" not in message:
            responses.append(message)
        else:
            send(message)

    def work():
        for message in messages:
            try:
                version = dispatcher.check_modern_version(
                    dispatcher.check_modern_meta(message)) \
                    if is_modern(message) else None
            except RPCError as exc:
                collect(exc.response(readable_id(message)))
                continue
            dispatcher.handle(message, collect, session, version)
        if responses:
            send(responses)

    if any(may_block(m) for m in messages):
        worker = threading.Thread(target=work, name="call", daemon=True)
        worker.start()
        return [worker]
    work()
    return []


###############################################################################
# Command line ################################################################
###############################################################################

EPILOG = """\
Every flag can also be set by its environment variable (shown in brackets);
flags win.  Examples:

  python mcp_weather.py                          # http://127.0.0.1:8000/mcp
  python mcp_weather.py --stateless --port 9000  # for load balancers
  MCP_AUTH_TOKEN=s3cret python mcp_weather.py --host 0.0.0.0
  python mcp_weather.py --trace                  # show the wire, for teaching
  python mcp_weather.py --stdio                  # spawned by a client

Try it:
  curl -s localhost:8000/mcp -H 'Content-Type: application/json' \\
    -H 'Accept: application/json, text/event-stream' \\
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{
         "protocolVersion":"2025-11-25","capabilities":{},
         "clientInfo":{"name":"curl","version":"1"}}}' -i
"""


def metavar(name, kind):
    """ What a flag takes, as --help shows it: every float is seconds. """
    special = {"port": "PORT", "max_body": "BYTES", "sse_retry": "MS",
               "tls_cert": "FILE", "tls_key": "FILE", "auth_server": "URL"}
    if name in special:
        return special[name]
    if kind is float:
        return "SECONDS"
    return "N" if kind is int else name.split("_")[-1].upper()


def build_parser(defaults):
    parser = argparse.ArgumentParser(
        prog="mcp_weather.py", epilog=EPILOG,
        description="An MCP server with weather tools, over Streamable "
                    "HTTP (or stdio), using only the standard library.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, env, text in OPTIONS:
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        kind = type(getattr(Config, name))
        text = "%s [%s]" % (text, env)
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=default,
                                help=text)
        elif kind is tuple:
            parser.add_argument(flag, action="append", default=None,
                                metavar="VALUE", help=text)
        else:
            parser.add_argument(flag, type=kind, default=default,
                                metavar=metavar(name, kind), help=text)
    parser.add_argument("--version", action="version",
                        version="%s %s" % (SERVER_NAME, __version__))
    return parser


def configure_logging(config):
    level = getattr(logging, config.log_level.upper(), None)
    if not isinstance(level, int):
        raise SystemExit("--log-level: use debug, info, warning or error")
    # With --workers, each line names the process that wrote it.
    pid = "[%(process)d] " if config.workers > 1 else ""
    logging.basicConfig(stream=sys.stderr, level=level,
                        format="%(asctime)s %(levelname)s " + pid +
                        "%(message)s")
    if config.trace and level > logging.INFO:
        log.setLevel(logging.INFO)


def release_start_up_memory():
    """ Give the memory that compiling this file used and freed back to
    the system, once, before serving.

    Imported (``python -m mcp_weather``, or ``import mcp_weather`` from a
    script of your own), the file is compiled without cached bytecode in
    some 15 MiB that are all freed before the first request; glibc's
    allocator keeps freed pages for reuse, so a server that never needs
    them again would hold them all its life, and malloc_trim(0) returns
    them.  Run as a script (``python mcp_weather.py``) CPython keeps the
    script's syntax tree until the script ends: nothing to give back
    then, and the few milliseconds are not spent (bench/README.md, "The
    floor", has the idle RSS of both).  Nothing is done without glibc
    (macOS, musl) nor on 3.6, whose ctypes makes a callback at import:
    that needs writable executable memory, which hardened hosts refuse
    (SELinux deny_execmem, systemd's MemoryDenyWriteExecute=).
    """
    if __name__ == "__main__" and __spec__ is None:
        return                  # run as a script: its syntax tree lives on
    if not sys.platform.startswith("linux") or sys.version_info < (3, 7):
        return
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except Exception:       # no ctypes, no glibc: keep the memory
        pass


def main(argv=None, setup=None, weather=True):
    """ Parse flags (over environment variables), build the dispatcher, and
    serve HTTP or stdio.  setup(dispatcher), if given, can add tools. """
    defaults = Config.from_env()
    parser = build_parser(defaults)
    args = parser.parse_args(argv)
    values = {}
    for name, _, _ in OPTIONS:
        value = getattr(args, name)
        if isinstance(getattr(Config, name), tuple):
            value = tuple(p.strip() for v in value for p in v.split(",")
                          if p.strip()) if value else getattr(defaults, name)
        values[name] = value
    config = Config(**values)
    problem = workers_problem(config)
    if problem:
        parser.error(problem)
    configure_logging(config)
    try:
        dispatcher = build_dispatcher(config, weather=weather)
    except ValueError as exc:
        parser.error(str(exc))
    if setup is not None:
        setup(dispatcher)
    release_start_up_memory()
    if config.stdio:
        return serve_stdio(dispatcher)
    try:
        return serve_http(config, dispatcher)
    except ValueError as exc:               # e.g. an unreadable --tls-cert
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", config.host, config.port,
                  exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
