#!/usr/bin/env python3
"""mcp_client.py: connect any OpenAI-compatible model to several MCP servers.

    python mcp_client.py                         chat (config.json beside me)
    python mcp_client.py ask "Weather in Hangzhou and Berlin?"
    python mcp_client.py tools                   what every server offers
    python mcp_client.py call weather get_weather city=Hangzhou
    python mcp_client.py resources               resources and templates
    python mcp_client.py read weather weather://Hangzhou/current
    python mcp_client.py prompts
    python mcp_client.py prompt weather weather_report city=Hangzhou
    python mcp_client.py --trace call ...        show every exchange
    python mcp_client.py -v tools                say which era each server
                                                 speaks, log its messages

config.json takes the ``mcpServers`` of Claude Desktop as they are:
``{"command", "args", "env", "cwd"}`` starts a stdio server, ``{"url",
"headers"}`` reaches an HTTP one; ``"sampling"`` and ``"elicitation"``
("ask", "allow", "deny"), ``"roots"`` and ``"era"`` are our additions.

The file reads top to bottom as the client half of the lesson that
mcp_weather.py teaches from the server side, each section using only the
ones above it:

    Errors              what can go wrong, each as one line for a person
    The wire            SSE and NDJSON readers, deadlines, connections
    Authorization       OAuth 2.1 for servers that answer 401 (C16), one
                        class per step of the flow: 1 discovery (PRM and
                        AS metadata), 2 client registration (pre-registered,
                        CIMD, dynamic), 3 the authorization code with PKCE
                        and its redirect listener (or the device grant),
                        4 tokens (exchange, refresh, storage, DPoP),
                        5 client credentials and other machine grants;
                        then OAuth, which runs them on a 401 or 403
    Messages            JSON-RPC responses and errors, Mcp-* header values
    The protocol core   what every transport shares: JSONRPCSession (ids,
                        deadlines, cancelling, answering what the server
                        asks: sampling, elicitation, roots), MCPLifecycle
                        (the eras: server/discover or initialize) and
                        MCPRequests (tools, resources, prompts, MRTR)
    Streamable HTTP     HTTPTransport (POST, session header, status and
                        authorization), Waiter (one response through JSON,
                        SSE or NDJSON framing, resumption), HTTPStreams (the
                        GET stream, subscriptions/listen); MCPClient is the
                        core plus these (checklist 3)
    stdio               StdioClient: the same core over a child's stdin
                        and stdout
    Legacy HTTP+SSE     LegacySSEClient: the transport of 2024-11-05 (C15)
    Tools for a model   names and schemas an OpenAI-compatible API accepts
    MultiServerClient   every configured server, concurrently
    Chat                the model, its tool calls, and the person
    Host                what servers ask of the person and the model:
                        sampling, elicitation, roots
    Configuration       config.json and environment overrides
    Command line        main(argv)

One server, without a model::

    client = MCPClient("http://127.0.0.1:8000/mcp")
    client.connect()        # server/discover (2026-07-28), else initialize
    print(client.call_tool("get_weather", {"city": "Hangzhou"}))
    client.close()

    client = StdioClient("python3", ["mcp_weather.py", "--stdio"],
                         on_elicitation=lambda params, client: {
                             "action": "decline"})

Requests from servers go to the handlers given as keywords
(``on_sampling``, ``on_elicitation``, ``roots``, ``on_log``,
``on_list_changed``; see MCPClient); Host supplies them for the command
line.

Only the standard library is imported; llm.py (beside this file) is the
model's client.  The HTTP side uses http.client rather than urllib so that
each call can reuse a kept-alive connection and set its socket timeout as
its deadline moves (a progress notification pushes it back, C14).
"""

__version__ = "1.0.0"

import argparse
import atexit
import base64
import collections
import contextlib
import copy
import hashlib
import http.client
import http.server
import itertools
import json
import logging
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

# Imported where they are used, not here, because only some runs need them
# and a client starts faster and smaller without (issue 19): llm (the host's
# model: chat only; it brings urllib.request), subprocess (stdio servers),
# webbrowser (OAuth in a browser; it brings subprocess too), urllib.request
# and urllib.error (OAuth's requests).  tests/test_startup.py checks that
# `import mcp_client` loads none of them.

# Two eras (checklist 1.1): the handshake era (initialize, sessions), whose
# latest revision is PROTOCOL_VERSION, and the stateless 2026-07-28 era,
# where every request names its version in params._meta (1.3).
PROTOCOL_VERSION = "2025-11-25"
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
MODERN_VERSION = "2026-07-28"
MODERN_VERSIONS = ("2026-07-28",)
CLIENT_INFO = {"name": "mcp-weather-client", "version": __version__}

META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

# JSON-RPC codes the client reads or sends (checklist 7.1).
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
HEADER_MISMATCH = -32020            # 2026-07-28
MISSING_CAPABILITY = -32021         # 2026-07-28
UNSUPPORTED_VERSION = -32022        # 2026-07-28
USER_REJECTED = -1                  # the person said no (as the SDKs do)

log = logging.getLogger("mcp_client")


# ==========================================================================
# Errors
# ==========================================================================

class MCPError(Exception):
    """ The server answered the request with a JSON-RPC error (over HTTP,
    ``status`` is the HTTP status that carried it). """

    status = None

    def __init__(self, code, message, data=None):
        Exception.__init__(self, "%s (%s)" % (message, code))
        self.code, self.message, self.data = code, message, data


class TransportError(Exception):
    """ No answer could be had: server down, bad HTTP status (``status``),
    a content type that is not MCP (C3), a stream that could not resume, a
    stdio child that exited. """

    status = None


@contextlib.contextmanager
def closed_on_failure(closable, describe):
    """ Run the block; when the connection fails in it, close ``closable``
    (its socket is in an unknown state and must not go back to the pool).
    A timeout goes on as it is (the caller's deadline decides); any other
    socket or HTTP failure becomes TransportError(describe(error)). """
    try:
        yield
    except socket.timeout:
        closable.close()
        raise
    except (OSError, http.client.HTTPException) as error:
        closable.close()
        raise TransportError(describe(error))


class StreamBroken(TransportError):
    """ A 2026-07-28 stream ended before its response: there is no
    resumption in that era, so the request is issued again (C17). """


class SessionExpired(TransportError):
    """ 404 for a request that carried Mcp-Session-Id (C10). """


class CallTimeout(TransportError):
    """ The call's deadline passed (C14); a cancellation was sent. """


class CallCancelled(TransportError):
    """ The call was cancelled on our side (Ctrl-C, or cancel_all). """


class SchemaProblem(ValueError):
    """ An inputSchema that cannot be made acceptable to a model's API. """


# ==========================================================================
# The wire: SSE and NDJSON readers, deadlines, connections
# ==========================================================================

class SSEReader(object):
    """ Server-sent events from a binary file, per the SSE standard (C5).

    ``events()`` yields the JSON text of each event that has data; it also
    yields None for every comment line (``: keep-alive``) so the caller can
    check its deadline while the server is quiet.  Events with empty data
    (the 2025-11-25 priming event) are not yielded, but their id counts.
    ``last_id`` and ``retry`` (milliseconds) are kept for resumption (C7).
    """

    def __init__(self, fp, last_id=None, retry=None, on_line=None):
        self.fp = fp
        self.last_id = last_id
        self.retry = retry
        self.on_line = on_line
        self.event = "message"      # the type of the event just yielded
        self.pending = None

    def events(self):
        data = []
        while True:
            raw = self.fp.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if self.on_line:
                self.on_line(line)
            if not line:
                text = "\n".join(data)
                data = []
                self.event, self.pending = self.pending or "message", None
                if text.strip():
                    yield text
            elif line.startswith(":"):
                yield None
            else:
                self.field(line, data)

    def field(self, line, data):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "event":
            self.pending = value     # 2024-11-05 sends "endpoint" first
        elif name == "retry" and value.isdigit():
            self.retry = int(value)


def ndjson_events(fp, on_line=None):
    """ One JSON text per non-empty line (application/x-ndjson). """
    while True:
        raw = fp.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").strip()
        if on_line:
            on_line(line)
        if line:
            yield line


class Deadline(object):
    """ When a call gives up (C14): ``idle`` seconds after the start or the
    last progress notification, and never later than ``hard`` seconds
    after the start, however much progress there was. """

    def __init__(self, idle, hard):
        self.idle = idle
        now = time.monotonic()
        self.hard_at = now + max(hard, idle)
        self.idle_at = now + idle

    def progressed(self):
        self.idle_at = time.monotonic() + self.idle

    def left(self):
        return min(self.idle_at, self.hard_at) - time.monotonic()

    def check(self):
        if self.left() <= 0:
            raise socket.timeout("deadline passed")


def essence(content_type):
    """ The media type without parameters, lowercased (C3). """
    return (content_type or "").split(";")[0].strip().lower()


class ConnectionPool(object):
    """ Kept-alive connections to one server, one per concurrent call.

    http.client connections are not thread-safe, so a call takes one for
    itself and gives it back only when its answer was read to the end.
    """

    def __init__(self, url, connect_timeout):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("not an http(s) URL: %r" % url)
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port
        self.target = (parts.path or "/") + (
            "?" + parts.query if parts.query else "")
        self.connect_timeout = connect_timeout
        self.idle = []
        self.lock = threading.Lock()

    def take(self, timeout):
        """ (connection, reused): a kept-alive one when there is one.

        A connection the server closed while it sat idle (mcp_weather.py
        closes them after --idle-timeout) is readable at EOF: it is
        dropped here rather than failing the next request.  poll(), not
        select(), which takes no descriptor past FD_SETSIZE (1024) and
        would drop every connection of a busy process (issue 18).
        """
        while True:
            with self.lock:
                if not self.idle:
                    break
                connection = self.idle.pop()
            if connection.sock is not None:
                if hasattr(select, "poll"):
                    poller = select.poll()
                    poller.register(connection.sock, select.POLLIN)
                    readable = poller.poll(0)
                else:                           # Windows: no such limit
                    readable = select.select([connection.sock], [], [], 0)[0]
                if not readable:
                    return connection, True
            connection.close()
        factory = http.client.HTTPSConnection if self.scheme == "https" \
            else http.client.HTTPConnection
        timeout = min(self.connect_timeout, max(timeout, 0.01))
        return factory(self.host, self.port, timeout=timeout), False

    def give_back(self, connection, response):
        if response.will_close or connection.sock is None:
            connection.close()
            return
        with self.lock:
            self.idle.append(connection)

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


class Channel(object):
    """ One HTTP exchange in progress: the response being read, its
    connection, and the socket under both.

    The socket is kept apart because http.client drops ``connection.sock``
    when a response will close the connection; the deadline still has to
    reach the socket (``settimeout``), and Ctrl-C has to stop a blocked
    read (``shutdown``).
    """

    def __init__(self, pool, connection, response, sock):
        self.pool, self.connection = pool, connection
        self.response, self.sock = response, sock

    def settimeout(self, seconds):
        self.sock.settimeout(max(seconds, 0.01))

    def finish(self):
        """ The answer was read to its end: keep the connection alive. """
        self.pool.give_back(self.connection, self.response)

    def close(self):
        self.response.close()
        self.connection.close()

    def shutdown(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# ==========================================================================
# Authorization (OAuth 2.1)
# ==========================================================================
#
# A server that answers 401 sits behind the MCP authorization spec (checklist
# C16): the MCP server is an OAuth 2.1 *protected resource* and some
# *authorization server* (AS) issues the tokens.  The client's side, in the
# order it happens:
#
#   1. discovery: the 401's WWW-Authenticate names the Protected Resource
#      Metadata (RFC 9728), else it is looked up at well-known URLs; its
#      "resource" must name this server, and it lists the authorization
#      servers, whose metadata (RFC 8414, or OpenID discovery) gives the
#      endpoints; its "issuer" must be the URL it was looked up for;
#   2. client registration: pre-registered in config.json, a Client ID
#      Metadata Document URL, or Dynamic Client Registration (RFC 7591);
#   3. the authorization code grant with PKCE (S256), "state", "resource"
#      (RFC 8707) and the response's "iss" checked (RFC 9207); the code comes
#      back to a listener on a loopback port (RFC 8252), or pasted;
#   4. tokens: traded for the code, kept in a file only the user can read,
#      refreshed before they expire, sent only to this server;
#   5. or, for a client with no person, client credentials (or another
#      machine grant) in place of step 3.
#
# MCPClient meets this section at two points only: request_headers asks
# OAuth.header() for the Authorization value, and a 401/403 goes to
# OAuth.challenged(), which answers whether to send the request again.
#
# The helpers come first (the token file, challenge parsing, PKCE, the
# well-known URLs, one request to an AS, and ES256 signing for
# private_key_jwt and DPoP); then one class per step above, each a mixin of
# OAuth, the last class of the section, which runs the steps.

OAUTH_TIMEOUT = 30.0            # seconds for one request to an AS
DEFAULT_TOKEN_FILE = os.path.join("mcp-weather", "tokens.json")


class AuthError(TransportError):
    """ Authorization failed; one line: which server, which step, what the
    server said. """

    def __init__(self, server, step, said):
        TransportError.__init__(self, "%s: authorization failed at %s: %s"
                                % (server, step, said))


def token_file(environ=None):
    """ Where tokens live: $MCP_CLIENT_TOKENS, else the XDG config directory
    ($XDG_CONFIG_HOME or ~/.config)/mcp-weather/tokens.json. """
    environ = os.environ if environ is None else environ
    if environ.get("MCP_CLIENT_TOKENS"):
        return environ["MCP_CLIENT_TOKENS"]
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config")
    return os.path.join(base, DEFAULT_TOKEN_FILE)


class TokenStore(object):
    """ Registrations and tokens, by server URL and then by issuer.

        {"https://mcp.example.com/mcp": {
            "issuer": "https://auth.example.com",
            "issuers": {"https://auth.example.com": {
                "client": {"client_id": ..., ...},
                "tokens": {"access_token": ..., "expires_at": ...}}}}}

    The file is written whole to a temporary file created 0600 in a 0700
    directory, then renamed over the old one: a token is never readable by
    another user, not even for a moment, and a crash leaves the old file.
    """

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self, data):
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o700)
        temporary = "%s.%d.tmp" % (self.path, os.getpid())
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                             0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.chmod(temporary, 0o600)      # even if it existed with other bits
        os.replace(temporary, self.path)

    def server(self, url):
        return self.load().get(url) or {}

    def update(self, url, change):
        """ change(entry) edits the server's entry in place, under a lock. """
        with self.lock:
            data = self.load()
            entry = data.setdefault(url, {})
            change(entry)
            if not entry:
                del data[url]
            self.save(data)

    def forget(self, url):
        """ logout: everything about the server; True if there was any. """
        with self.lock:
            data = self.load()
            if url not in data:
                return False
            del data[url]
            self.save(data)
            return True


def challenge_params(header):
    """ The parameters of a Bearer challenge (RFC 6750 section 3) as a dict:
    ``Bearer resource_metadata="...", scope="a b", error="..."``. """
    params = {}
    if not header:
        return params
    for match in re.finditer(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*'
                             r'(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))', header):
        value = match.group(2)
        if value is None:
            value = match.group(3)
        else:
            value = re.sub(r"\\(.)", r"\1", value)
        params[match.group(1).lower()] = value
    return params


def base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_pair():
    """ PKCE (RFC 7636): a random verifier and its S256 challenge. """
    verifier = base64url(secrets.token_bytes(32))
    challenge = base64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


def origin_of(url):
    parts = urllib.parse.urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def same_origin(one, other):
    return origin_of(one).lower() == origin_of(other).lower()


def prm_urls(server_url):
    """ RFC 9728 section 3.1: the well-known name inserted between host and
    path; then at the root (the MCP spec's fallback order). """
    parts = urllib.parse.urlsplit(server_url)
    root = origin_of(server_url) + "/.well-known/oauth-protected-resource"
    path = parts.path.rstrip("/")
    return [root + path, root] if path else [root]


def as_metadata_urls(issuer):
    """ RFC 8414 section 3.1 and OpenID Connect Discovery, in the MCP spec's
    order: for an issuer with a path, the well-known name is inserted after
    the host (OAuth, then OpenID), then OpenID's appended form; without a
    path, OAuth then OpenID at the root. """
    parts = urllib.parse.urlsplit(issuer)
    origin = origin_of(issuer)
    path = parts.path.rstrip("/")
    if not path:
        return [origin + "/.well-known/oauth-authorization-server",
                origin + "/.well-known/openid-configuration"]
    return [origin + "/.well-known/oauth-authorization-server" + path,
            origin + "/.well-known/openid-configuration" + path,
            origin + path + "/.well-known/openid-configuration"]


def resource_covers(resource, server_url):
    """ RFC 9728 section 3.3 and RFC 8707: the PRM's resource must name this
    server: the same URL, or a parent of it on the same origin. """
    if not resource or not same_origin(resource, server_url):
        return False
    mine = urllib.parse.urlsplit(server_url).path.rstrip("/") + "/"
    theirs = urllib.parse.urlsplit(resource).path.rstrip("/") + "/"
    return mine.startswith(theirs)


def oauth_request(url, form=None, body=None, headers=None, method=None,
                  timeout=OAUTH_TIMEOUT, reply_headers=None):
    """ One request to an AS or a metadata URL: (status, dict or None).

    Bodies are forms (token endpoint, RFC 6749 section 4.1.3) or JSON
    (registration); answers are JSON.  A non-2xx status is returned, not
    raised, because the OAuth error body is what the person must see.
    """
    import urllib.error     # here, not on top: only OAuth needs them
    import urllib.request
    data = None
    headers = dict(headers or {})
    headers.setdefault("Accept", "application/json")
    headers.setdefault("User-Agent", MCPClient.user_agent)
    if form is not None:
        data = urllib.parse.urlencode(form).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
        status, raw = response.status, response.read()
        reply_headers is None or reply_headers.update(
            (key.lower(), value) for key, value in response.headers.items())
        response.close()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        reply_headers is None or reply_headers.update(
            (key.lower(), value) for key, value in error.headers.items())
        error.close()
    except (OSError, http.client.HTTPException) as error:
        return None, {"error": "unreachable", "error_description":
                      str(getattr(error, "reason", None) or error)}
    try:
        answer = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        answer = None
    return status, answer if isinstance(answer, dict) else None


def said(status, answer):
    """ What an AS said, for the one-line error. """
    if status is None:
        return "cannot connect (%s)" % (answer or {}).get("error_description")
    answer = answer or {}
    text = "HTTP %d" % status
    if answer.get("error"):
        text += " %s" % answer["error"]
    if answer.get("error_description"):
        text += ": %s" % answer["error_description"]
    return text


# -- private_key_jwt: an ES256 client assertion (RFC 7523, RFC 7518 3.4) --
#
# The standard library has no elliptic curves, but ECDSA over P-256 is a
# page of integer arithmetic: the key is read from its PEM (PKCS#8 or SEC 1)
# with a small DER reader, and the signature is (r, s) for a random nonce
# from the secrets module.  Python's integers are not constant-time; that
# is acceptable for a client signing its own short-lived assertions on its
# own machine, and is why this is used only for the client credentials
# extension, never for anything a remote party can time at will.

P256_P = 2 ** 256 - 2 ** 224 + 2 ** 192 + 2 ** 96 - 1
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_A = P256_P - 3
P256_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
          0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
P256_OID = bytes.fromhex("2a8648ce3d030107")


def p256_add(one, other):
    """ The group law on P-256 in affine coordinates; None is infinity. """
    if one is None:
        return other
    if other is None:
        return one
    (x1, y1), (x2, y2) = one, other
    if x1 == x2 and (y1 + y2) % P256_P == 0:
        return None
    if one == other:
        slope = (3 * x1 * x1 + P256_A) * pow(2 * y1, P256_P - 2, P256_P)
    else:
        slope = (y2 - y1) * pow(x2 - x1, P256_P - 2, P256_P)
    x3 = (slope * slope - x1 - x2) % P256_P
    return x3, (slope * (x1 - x3) - y1) % P256_P


def p256_multiply(k, point=P256_G):
    result = None
    while k:
        if k & 1:
            result = p256_add(result, point)
        point = p256_add(point, point)
        k >>= 1
    return result


def der_items(data):
    """ The (tag, value) pairs of a DER sequence's contents. """
    items, at = [], 0
    while at < len(data):
        tag, length = data[at], data[at + 1]
        at += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[at:at + size], "big")
            at += size
        items.append((tag, data[at:at + length]))
        at += length
    return items


def ec_private_key(pem):
    """ The P-256 private scalar of a PEM key: PKCS#8 ("PRIVATE KEY") or
    SEC 1 ("EC PRIVATE KEY").  ValueError for anything else. """
    body = "".join(line for line in pem.strip().splitlines()
                   if not line.startswith("-----"))
    items = der_items(der_items(base64.b64decode(body))[0][1])
    if len(items) >= 3 and items[1][0] == 0x30:       # PKCS#8
        if P256_OID not in items[1][1]:
            raise ValueError("the key is not on the P-256 curve")
        items = der_items(der_items(items[2][1])[0][1])
    if len(items) < 2 or items[1][0] != 0x04:
        raise ValueError("not an EC private key")
    return int.from_bytes(items[1][1], "big")


def es256_sign(private, message):
    """ ECDSA P-256 with SHA-256: the JWS signature, r and s as 32 bytes
    each (RFC 7518 section 3.4). """
    digest = int.from_bytes(hashlib.sha256(message).digest(), "big")
    while True:
        k = secrets.randbelow(P256_N - 1) + 1
        r = p256_multiply(k)[0] % P256_N
        s = pow(k, P256_N - 2, P256_N) * (digest + r * private) % P256_N
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def client_assertion(client_id, audience, pem):
    """ A signed JWT that authenticates the client (RFC 7523 section 3):
    iss and sub are the client, aud the authorization server's issuer. """
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience,
              "iat": now, "exp": now + 300,
              "jti": base64url(secrets.token_bytes(16))}
    return jws_es256({"alg": "ES256", "typ": "JWT"}, claims,
                     ec_private_key(pem))


def jws_es256(header, claims, private):
    """ A compact JWS (RFC 7515 section 7.1) signed with ES256. """
    signing_input = ".".join(base64url(json.dumps(part, separators=(
        ",", ":")).encode("utf-8")) for part in (header, claims))
    signature = es256_sign(private, signing_input.encode("ascii"))
    return signing_input + "." + base64url(signature)


def dpop_proof(private, method, url, token=None, nonce=None):
    """ A DPoP proof (RFC 9449 section 4.2): a JWT signed with the key whose
    public half rides in its header; htm and htu name the request, ath
    the token it goes with, jti makes each one unique. """
    x, y = p256_multiply(private)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": {
        "kty": "EC", "crv": "P-256", "x": base64url(x.to_bytes(32, "big")),
        "y": base64url(y.to_bytes(32, "big"))}}
    claims = {"jti": base64url(secrets.token_bytes(16)), "htm": method,
              "htu": url.split("?")[0].split("#")[0], "iat": int(time.time())}
    if token:
        claims["ath"] = base64url(hashlib.sha256(token.encode()).digest())
    if nonce:
        claims["nonce"] = nonce
    return jws_es256(header, claims, private)


# ==========================================================================
# Authorization, step 1: discovery (RFC 9728, RFC 8414)
# ==========================================================================

class OAuthDiscovery(object):
    """ Step 1 (C16): who issues tokens for this server, and where.

    The 401's ``WWW-Authenticate`` names the Protected Resource Metadata
    (RFC 9728), else it is looked up at the path-based, then the root
    well-known URL (the server's side: S66, S67); its ``resource`` must
    name this server and its ``authorization_servers`` list the AS (S65).
    The AS metadata (RFC 8414, else OpenID Discovery) gives the endpoints;
    its ``issuer`` must be the URL it was looked up for.  A 2025-03-26
    server has no PRM: its origin is the AS, at default endpoints when it
    publishes no metadata (S72).
    """

    def show(self, text):
        if self.trace:
            self.trace("[%s] oauth: %s" % (self.name, text))

    def fetch_json(self, url):
        self.show("GET %s" % url)
        status, answer = oauth_request(url)
        self.show("%s %s" % (status, url))
        return status, answer

    def discover(self, params):
        """ PRM, then the AS and its metadata: a dict with ``prm``,
        ``issuer``, ``metadata`` and ``resource``. """
        prm = self.protected_resource(params.get("resource_metadata"))
        if prm is None:
            # 2025-03-26: no PRM; the MCP server's origin is the AS.
            issuer = origin_of(self.url)
            resource = self.url
        else:
            servers = prm.get("authorization_servers") or []
            if not servers:
                raise AuthError(self.name, "protected resource metadata",
                                "it lists no authorization_servers")
            issuer, resource = servers[0], prm["resource"]
        metadata = self.server_metadata(issuer, legacy=prm is None)
        return {"prm": prm or {}, "issuer": issuer, "metadata": metadata,
                "resource": resource}

    def protected_resource(self, advertised):
        """ RFC 9728: from the challenge's URL, else path-based, then root.
        Its ``resource`` must be this server (a mismatch is refused: it
        would send our token to whoever wrote the document). """
        urls = [advertised] if advertised else prm_urls(self.url)
        for url in urls:
            status, answer = self.fetch_json(url)
            if status == 200 and answer is not None:
                resource = answer.get("resource")
                if not resource_covers(resource, self.url):
                    raise AuthError(
                        self.name, "protected resource metadata",
                        "its resource %r is not this server (%s); refused"
                        % (resource, self.url))
                return answer
        if advertised:
            raise AuthError(self.name, "protected resource metadata",
                            "%s answered %s" % (advertised, status))
        return None

    def server_metadata(self, issuer, legacy=False):
        """ RFC 8414 / OpenID Discovery, in as_metadata_urls order; the
        document's ``issuer`` must equal the issuer it was fetched for
        (RFC 8414 section 3.3).  Without PRM (2025-03-26) a server that
        publishes no metadata gets the default endpoints at its root. """
        for url in as_metadata_urls(issuer):
            status, answer = self.fetch_json(url)
            if status == 200 and answer is not None:
                if answer.get("issuer") != issuer:
                    raise AuthError(
                        self.name, "authorization server metadata",
                        "%s names issuer %r, expected %r; refused"
                        % (url, answer.get("issuer"), issuer))
                return answer
        if legacy and self.explicit:
            root = origin_of(issuer)
            return {"authorization_endpoint": root + "/authorize",
                    "token_endpoint": root + "/token",
                    "registration_endpoint": root + "/register"}
        raise AuthError(self.name, "authorization server metadata",
                        "none found for %s" % issuer)


# ==========================================================================
# Authorization, step 2: client registration
# ==========================================================================

class OAuthRegistration(object):
    """ Step 2 (C16): an identity for this client at the AS.

    In this order: a client pre-registered in config.json (``client_id``,
    ``client_secret``), a Client ID Metadata Document URL (CIMD:
    ``client_metadata_url``, when the AS says
    ``client_id_metadata_document_supported``), a registration kept from an
    earlier run, else Dynamic Client Registration (RFC 7591).  Then how the
    client proves it at the token endpoint (RFC 6749 section 2.3): none,
    client_secret_basic, client_secret_post, or private_key_jwt (RFC 7523,
    signed by the ES256 helpers above).
    """

    def client_for(self, context, redirect_uri, device=False):
        """ Pre-registered (config.json), a Client ID Metadata Document URL
        when the AS supports it, a registration kept from before, else
        Dynamic Client Registration (RFC 7591). """
        settings, metadata = self.settings, context["metadata"]
        if settings.get("client_id"):
            return {"client_id": settings["client_id"],
                    "client_secret": settings.get("client_secret"),
                    "token_endpoint_auth_method":
                        settings.get("token_endpoint_auth_method")}
        if settings.get("client_metadata_url") and \
                metadata.get("client_id_metadata_document_supported"):
            return {"client_id": settings["client_metadata_url"],
                    "token_endpoint_auth_method": "none"}
        kept = self.state_for(context["issuer"]).get("client")
        if kept and kept.get("client_id"):
            return kept
        return self.register(context, redirect_uri, device)

    def register(self, context, redirect_uri, device=False):
        endpoint = context["metadata"].get("registration_endpoint")
        if not endpoint:
            raise AuthError(self.name, "client registration", "%s offers no "
                            "registration_endpoint; put a client_id in "
                            "config.json (\"oauth\")" % context["issuer"])
        supported = context["metadata"].get(
            "token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "none" if "none" in supported else supported[0]
        grants = ["urn:ietf:params:oauth:grant-type:device_code"] if device \
            else ["authorization_code"]
        if "refresh_token" in (context["metadata"].get(
                "grant_types_supported") or ["refresh_token"]):
            grants.append("refresh_token")
        request = {"client_name": self.client_name,
                   "redirect_uris": [redirect_uri] if redirect_uri else [],
                   "grant_types": grants,
                   "response_types": [] if device else ["code"],
                   "token_endpoint_auth_method": method,
                   "application_type": "native"}
        self.show("POST %s (registration)" % endpoint)
        status, answer = oauth_request(endpoint, body=request)
        if status not in (200, 201) or not (answer or {}).get("client_id"):
            raise AuthError(self.name, "client registration",
                            said(status, answer))
        client = {"client_id": answer["client_id"],
                  "client_secret": answer.get("client_secret"),
                  "token_endpoint_auth_method":
                      answer.get("token_endpoint_auth_method") or
                      (method if answer.get("client_secret") or
                       method == "none" else "none"),
                  "redirect_uri": redirect_uri}
        self.remember(context["issuer"], client=client)
        return client

    def client_auth(self, client, metadata, form, headers):
        """ Token endpoint client authentication (RFC 6749 section 2.3):
        the registered method, else what the AS offers for a secret. """
        method = client.get("token_endpoint_auth_method")
        secret = client.get("client_secret")
        if not method:
            supported = metadata.get(
                "token_endpoint_auth_methods_supported") or \
                ["client_secret_basic"]
            method = "none" if not secret else \
                "client_secret_post" if "client_secret_basic" not in \
                supported and "client_secret_post" in supported else \
                "client_secret_basic"
        if method == "private_key_jwt":
            form["client_id"] = client["client_id"]
            form["client_assertion_type"] = \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            try:
                form["client_assertion"] = client_assertion(
                    client["client_id"], metadata.get("issuer") or
                    origin_of(metadata["token_endpoint"]),
                    self.private_key())
            except (ValueError, IndexError) as error:
                raise AuthError(self.name, "client authentication", "the "
                                "private_key_pem is not a P-256 key (%s)"
                                % error)
        elif method == "client_secret_basic" and secret:
            pair = "%s:%s" % (urllib.parse.quote(client["client_id"], ""),
                              urllib.parse.quote(secret, ""))
            headers["Authorization"] = "Basic " + base64.b64encode(
                pair.encode("utf-8")).decode("ascii")
        elif method == "client_secret_post" and secret:
            form["client_id"] = client["client_id"]
            form["client_secret"] = secret
        elif client.get("client_id"):
            form["client_id"] = client["client_id"]

    def private_key(self):
        """ The PEM of private_key_pem, or of the file private_key_file. """
        return self.secret_setting("private_key_pem", "private_key_file",
                                   "client authentication", "private key",
                                   strip=False)

    def secret_setting(self, key, file_key, step, what, strip=True):
        """ A secret of config.json's "oauth" (a private key here; an
        assertion or an ID token in step 5): the value of ``key``, else the
        content of the file ``file_key`` names, read anew each time. """
        if self.settings.get(key):
            return self.settings[key]
        try:
            with open(self.settings.get(file_key) or "",
                      encoding="ascii") as handle:
                text = handle.read()
        except (OSError, ValueError) as error:
            raise AuthError(self.name, step, "no %s: set %s (%s)"
                            % (what, file_key, error))
        return text.strip() if strip else text


# ==========================================================================
# Authorization, step 3: the authorization code grant with PKCE
# ==========================================================================

class LoopbackServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """ A thread per connection: browsers open spare connections and send
    nothing on them, which must not hold up the one that brings the code. """
    daemon_threads = True


class RedirectListener(object):
    """ The loopback redirect URI of a native app (RFC 8252 section 7.3):
    http://127.0.0.1:PORT/callback on a port the system picks.  It answers
    the browser with a short page and keeps the query of the first request
    to /callback. """

    page = ("<!doctype html><title>mcp_client.py</title><p>%s "
            "You can close this tab.</p>")

    def __init__(self, port=0):
        listener = self
        self.query = None
        self.arrived = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 30.0  # a spare connection's thread ends in time

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != "/callback":
                    self.send_error(404)
                    return
                query = urllib.parse.parse_qs(parts.query)
                text = "Authorization failed: %s." % query["error"][0] \
                    if "error" in query else "Authorization received."
                body = (listener.page % text).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                listener.deliver(parts.query)

            def log_message(self, *args):
                pass            # never log the query: it holds the code

        try:
            self.server = LoopbackServer(("127.0.0.1", port), Handler)
        except OSError:
            self.server = LoopbackServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = "http://127.0.0.1:%d/callback" % \
            self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1})
        self.thread.daemon = True
        self.thread.start()

    def deliver(self, query):
        if self.query is None:
            self.query = query
        self.arrived.set()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class OAuthCodeGrant(object):
    """ Step 3 (C16): the person authorizes this client.

    The scopes come first (pick_scopes: config.json, the challenge's
    ``scope`` (S68, S71), the PRM's scopes_supported).  The browser goes
    to the authorization endpoint with PKCE (S256), ``state`` and
    ``resource`` (RFC 8707); the code comes back to the RedirectListener on
    a loopback port (RFC 8252), or the address is pasted; the answer's
    ``state`` and ``iss`` (RFC 9207) are checked, and the code is traded
    for tokens (step 4).  A host without a browser uses the device grant
    (RFC 8628) instead.
    """

    def pick_scopes(self, context, params):
        """ The MCP spec's scope selection: config.json's scope, else the
        challenge's, else the PRM's scopes_supported, else none; plus
        offline_access when the AS lists it (so that a refresh token comes
        back), plus what was asked before (step-up union). """
        text = self.settings.get("scope") or params.get("scope")
        if text is None:
            text = " ".join(context["prm"].get("scopes_supported") or [])
        scopes = set(text.split()) | self.requested
        if scopes and "offline_access" in (
                context["metadata"].get("scopes_supported") or []):
            scopes.add("offline_access")
        return scopes

    def authorize(self, context, scopes):
        """ Send the person to the AS and trade the code for tokens. """
        if self.settings.get("grant") in ("client_credentials", "jwt_bearer",
                                          "enterprise"):
            return self.machine_grant(context, scopes)
        metadata = context["metadata"]
        if metadata.get("device_authorization_endpoint") and \
                not self.browser_available():
            return self.device_grant(context, scopes)
        kept = self.state_for(context["issuer"]).get("client") or {}
        port = urllib.parse.urlsplit(kept.get("redirect_uri") or "").port
        listener = RedirectListener(self.settings.get("redirect_port") or
                                    port or 0)
        try:
            client = self.client_for(context, listener.redirect_uri)
            self.remember(context["issuer"], client=client)
            verifier, challenge = pkce_pair()
            state = base64url(secrets.token_bytes(16))
            query = {"response_type": "code", "client_id": client["client_id"],
                     "redirect_uri": listener.redirect_uri, "state": state,
                     "code_challenge": challenge,
                     "code_challenge_method": "S256",
                     "resource": context["resource"]}
            if scopes:
                query["scope"] = " ".join(sorted(scopes))
            self.requested = set(scopes)
            endpoint = metadata.get("authorization_endpoint")
            if not endpoint:
                raise AuthError(self.name, "authorization", "the "
                                "authorization server has no "
                                "authorization_endpoint")
            url = endpoint + ("&" if "?" in endpoint else "?") + \
                urllib.parse.urlencode(query)
            answer = self.wait_for_code(url, listener)
        finally:
            listener.close()
        self.check_response(answer, state, metadata, context["issuer"])
        form = {"grant_type": "authorization_code", "code": answer["code"],
                "redirect_uri": listener.redirect_uri,
                "code_verifier": verifier, "resource": context["resource"]}
        self.token_request(context, client, form, "token exchange")

    def browser_available(self):
        """ False on a host without a browser (an SSH session), or when
        config.json says ``"browser": false``. """
        if not self.settings.get("browser", True):
            return False
        import webbrowser
        if self.open_browser is not webbrowser.open:
            return True
        try:
            webbrowser.get()
            return True
        except webbrowser.Error:
            return False

    def device_grant(self, context, scopes):
        """ The device authorization grant (RFC 8628) for a host without
        a browser: the person opens a short URL on any device and types a
        code, while this client polls the token endpoint. """
        metadata = context["metadata"]
        client = self.client_for(context, None, device=True)
        self.remember(context["issuer"], client=client)
        form = {"resource": context["resource"]}
        if scopes:
            form["scope"] = " ".join(sorted(scopes))
        self.requested = set(scopes)
        headers = {}
        self.client_auth(client, metadata, form, headers)
        endpoint = metadata["device_authorization_endpoint"]
        self.show("POST %s (device authorization)" % endpoint)
        status, answer = oauth_request(endpoint, form=form, headers=headers)
        if status != 200 or not (answer or {}).get("device_code"):
            raise AuthError(self.name, "device authorization",
                            said(status, answer))
        self.say("%s: on any device, open %s and enter the code %s" % (
            self.name, answer.get("verification_uri_complete") or
            answer.get("verification_uri"), answer.get("user_code")))
        interval = float(answer.get("interval", 5))
        deadline = time.time() + float(answer.get("expires_in") or
                                       self.redirect_timeout)
        while True:
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:"
                    "device_code", "device_code": answer["device_code"],
                    "resource": context["resource"]}
            try:
                return self.token_request(context, client, form,
                                          "device authorization")
            except AuthError as error:
                text = str(error)
                if time.time() > deadline or not (
                        "authorization_pending" in text or
                        "slow_down" in text):
                    raise
                if "slow_down" in text:
                    interval += 5       # RFC 8628 section 3.5
            time.sleep(interval)

    def wait_for_code(self, url, listener):
        """ Open the browser (webbrowser honours $BROWSER); without one,
        print the URL and read the redirected URL pasted back.  Either way
        the listener may get the code first. """
        opened = False
        if self.settings.get("browser", True):
            self.say("%s: opening the browser to authorize; if nothing "
                     "opens, visit:\n  %s" % (self.name, url))
            try:
                opened = self.open_browser(url)
            except Exception as error:   # a broken $BROWSER is not fatal
                log.warning("%s: cannot open a browser: %s", self.name, error)
        if not opened:
            self.say("%s: open this URL in a browser, authorize, then paste "
                     "the address the browser ends on here:\n  %s"
                     % (self.name, url))
            reader = threading.Thread(target=self.read_pasted,
                                      args=(listener,))
            reader.daemon = True
            reader.start()
        if not listener.arrived.wait(self.redirect_timeout):
            raise AuthError(self.name, "authorization", "no answer from the "
                            "browser within %g s" % self.redirect_timeout)
        if listener.query is None:
            raise AuthError(self.name, "authorization", "nothing was pasted")
        answer = urllib.parse.parse_qs(listener.query)
        return {key: values[0] for key, values in answer.items()}

    def read_pasted(self, listener):
        """ The whole address, or just its query (code=...&state=...). """
        line = (self.read_line() or "").strip()
        if line:
            listener.deliver(line.partition("?")[2] if "?" in line else line)
        else:
            listener.arrived.set()

    def check_response(self, answer, state, metadata, issuer):
        """ RFC 6749 section 4.1.2 and RFC 9207: the state we sent, no
        error, a code, and ``iss`` equal to the issuer (simple string
        comparison, RFC 9207 section 2.4): required when the AS says it
        sends it, and a wrong one is refused even when it did not say. """
        if answer.get("error"):
            raise AuthError(self.name, "authorization", "%s%s" % (
                answer["error"], ": " + answer["error_description"]
                if answer.get("error_description") else ""))
        if answer.get("state") != state:
            raise AuthError(self.name, "authorization", "the state in the "
                            "answer is not the one sent; refused")
        expected = metadata.get("issuer", issuer)
        if "iss" in answer:
            if answer["iss"] != expected:
                raise AuthError(self.name, "authorization", "iss %r is not "
                                "the issuer %r; refused"
                                % (answer["iss"], expected))
        elif metadata.get("authorization_response_iss_parameter_supported"):
            raise AuthError(self.name, "authorization", "the answer has no "
                            "iss, which %s promised; refused" % expected)
        if not answer.get("code"):
            raise AuthError(self.name, "authorization", "no code in the "
                            "answer")


# ==========================================================================
# Authorization, step 4: tokens (exchange, refresh, storage, DPoP)
# ==========================================================================

class OAuthTokens(object):
    """ Step 4 (C16): the tokens, and the state they are kept in.

    token_request trades a grant (a code, a device code, a refresh token,
    client credentials) at the token endpoint, always with the
    ``resource`` the token is for (RFC 8707: the server takes only tokens
    issued for it, S69); keep_tokens stores the answer in the TokenStore
    (a file only the user can read) by server and issuer; refresh runs the
    refresh_token grant before expiry or after a 401 (S70).  A token bound
    to a key of this client (DPoP, RFC 9449) carries a proof on every
    request.
    """

    def current(self):
        """ The state of the issuer in use.  Kept in memory between
        changes, so that a request does not read the file; a 401 reads it
        again (state_for), which picks up another process's login. """
        if self.memo is None:
            entry = self.store.server(self.url)
            self.memo = (entry.get("issuers") or {}).get(
                entry.get("issuer")) or {}
        return self.memo

    def state_for(self, issuer):
        entry = self.store.server(self.url)
        return (entry.get("issuers") or {}).get(issuer) or {}

    def remember(self, issuer, client=None, tokens=None):
        def change(entry):
            entry["issuer"] = issuer
            state = entry.setdefault("issuers", {}).setdefault(issuer, {})
            if client is not None:
                state["client"] = client
            if tokens is not None:
                state["tokens"] = tokens
        self.store.update(self.url, change)
        self.memo = None

    def token_request(self, context, client, form, step, old=None):
        endpoint = context["metadata"].get("token_endpoint")
        if not endpoint:
            raise AuthError(self.name, step, "the authorization server has "
                            "no token_endpoint")
        headers = {}
        self.client_auth(client, context["metadata"], form, headers)
        key = self.dpop_key(context)
        for attempt in (1, 2):      # a second time with the AS's DPoP nonce
            if key:
                headers["DPoP"] = dpop_proof(key, "POST", endpoint,
                                             nonce=self.as_nonce)
            self.show("POST %s (%s)" % (endpoint, step))
            reply = {}
            status, answer = oauth_request(endpoint, form=form,
                                           headers=headers,
                                           reply_headers=reply)
            self.show("%s %s" % (status, endpoint))
            if key and (answer or {}).get("error") == "use_dpop_nonce" and \
                    reply.get("dpop-nonce") and attempt == 1:
                self.as_nonce = reply["dpop-nonce"]     # RFC 9449 section 8
                continue
            break
        if status != 200 or not (answer or {}).get("access_token"):
            raise AuthError(self.name, step, said(status, answer))
        self.keep_tokens(context, answer, old)

    def keep_tokens(self, context, answer, old=None):
        tokens = {"access_token": answer["access_token"],
                  "token_type": answer.get("token_type", "Bearer"),
                  "scope": answer.get("scope"),
                  "resource": context["resource"],
                  "token_endpoint": context["metadata"].get("token_endpoint")}
        if answer.get("expires_in"):
            tokens["expires_at"] = time.time() + float(answer["expires_in"])
        refresh = answer.get("refresh_token") or (old or {}).get(
            "refresh_token")
        if refresh:
            tokens["refresh_token"] = refresh
        self.remember(context["issuer"], tokens=tokens)

    def refresh(self, state, context=None):
        """ The refresh_token grant (RFC 6749 section 6), with the same
        resource; False (and the token dropped) when the AS refuses. """
        tokens = state.get("tokens") or {}
        if not tokens.get("refresh_token"):
            return False
        entry = self.store.server(self.url)
        issuer = context["issuer"] if context else entry.get("issuer")
        context = context or {
            "issuer": issuer, "resource": tokens.get("resource") or self.url,
            "metadata": {"issuer": issuer,
                         "token_endpoint": tokens.get("token_endpoint")}}
        client = state.get("client") or {}
        if self.settings.get("client_id"):
            client = self.client_for(context, None)
        form = {"grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "resource": context["resource"]}
        try:
            self.token_request(context, client, form, "token refresh", tokens)
            return True
        except AuthError as error:
            log.info("%s", error)
            self.remember(issuer, tokens={})
            return False

    # -- DPoP (RFC 9449): tokens bound to a key of this client --------------

    def dpop_key(self, context):
        """ The P-256 key that DPoP proofs are signed with, made once per
        server and issuer, when the AS signs DPoP with ES256; else None. """
        algorithms = context["metadata"].get(
            "dpop_signing_alg_values_supported") or []
        if "ES256" not in algorithms:
            return None
        state = self.state_for(context["issuer"])
        if not state.get("dpop_key"):
            key = "%064x" % (secrets.randbelow(P256_N - 1) + 1)
            self.store.update(self.url, lambda entry: entry.setdefault(
                "issuers", {}).setdefault(context["issuer"], {}).update(
                    dpop_key=key))
            return int(key, 16)
        return int(state["dpop_key"], 16)

    def proof(self, method):
        """ The DPoP header for one request to the MCP server, when the
        token is DPoP-bound (RFC 9449 section 7): {} for a Bearer token. """
        with self.lock:
            state = self.current()
            tokens = state.get("tokens") or {}
            if tokens.get("token_type", "").lower() != "dpop" or \
                    not state.get("dpop_key"):
                return {}
            return {"DPoP": dpop_proof(int(state["dpop_key"], 16), method,
                                       self.url, tokens["access_token"],
                                       self.rs_nonce)}


# ==========================================================================
# Authorization, step 5: client credentials and other machine grants
# ==========================================================================

class OAuthMachineGrants(object):
    """ Step 5 (C16): a client with no person (config.json ``"grant"``).

    ``client_credentials`` (RFC 6749 section 4.4), the client
    authenticated by its secret or private_key_jwt; ``jwt_bearer`` (RFC
    7523), a workload's own assertion; ``enterprise``, the person's ID
    token exchanged at the company's identity provider (RFC 8693) for an
    identity assertion grant (ID-JAG).
    """

    def machine_grant(self, context, scopes):
        """ A machine client, no person: ``client_credentials`` (the
        client authenticates itself at the token endpoint), or
        ``jwt_bearer`` (RFC 7523 section 2.1, workload identity: a JWT the
        platform gives this workload, read anew each time from
        ``assertion_file``, is traded for a token).  A refusal is final:
        the same assertion would be refused again. """
        form = {"grant_type": "client_credentials",
                "resource": context["resource"]}
        if self.settings["grant"] == "jwt_bearer":
            form["grant_type"] = "urn:ietf:params:oauth:grant-type:jwt-bearer"
            form["assertion"] = self.workload_assertion()
        elif self.settings["grant"] == "enterprise":
            form["grant_type"] = "urn:ietf:params:oauth:grant-type:jwt-bearer"
            form["assertion"] = self.identity_assertion(context)
        if scopes:
            form["scope"] = " ".join(sorted(scopes))
        self.requested = set(scopes)
        client = {}                 # jwt_bearer: the assertion says who
        if self.settings.get("client_id"):
            client = self.client_for(context, None)
        elif self.settings["grant"] == "client_credentials":
            raise AuthError(self.name, "client_credentials", "set client_id "
                            "and client_secret (or private_key_file) under "
                            "\"oauth\" in config.json")
        self.token_request(context, client, form, self.settings["grant"])

    def workload_assertion(self):
        return self.secret_setting("assertion", "assertion_file",
                                   "jwt_bearer", "assertion")

    def identity_assertion(self, context):
        """ Enterprise-managed authorization: the person's ID token from
        the company's identity provider (``id_token_file``, from its SSO
        login) is exchanged there (RFC 8693 token exchange) for an
        identity assertion grant (ID-JAG) addressed to this server's
        authorization server, which is then the jwt-bearer assertion. """
        settings = self.settings
        endpoint = settings.get("idp_token_endpoint")
        if not endpoint:
            raise AuthError(self.name, "enterprise", "set idp_token_endpoint"
                            " under \"oauth\" in config.json")
        id_token = self.secret_setting("id_token", "id_token_file",
                                       "enterprise", "ID token")
        prefix = "urn:ietf:params:oauth:"
        form = {"grant_type": prefix + "grant-type:token-exchange",
                "subject_token": id_token,
                "subject_token_type": prefix + "token-type:id_token",
                "requested_token_type": prefix + "token-type:id-jag",
                "audience": context["issuer"],
                "resource": context["resource"]}
        headers = {}
        if settings.get("idp_client_id"):
            self.client_auth({"client_id": settings["idp_client_id"],
                              "client_secret":
                                  settings.get("idp_client_secret")},
                             {}, form, headers)
        self.show("POST %s (token exchange)" % endpoint)
        status, answer = oauth_request(endpoint, form=form, headers=headers)
        self.show("%s %s" % (status, endpoint))
        if status != 200 or not (answer or {}).get("access_token"):
            raise AuthError(self.name, "identity provider token exchange",
                            said(status, answer))
        return answer["access_token"]


# ==========================================================================
# Authorization: OAuth, the flow as the transport meets it
# ==========================================================================

class OAuth(OAuthDiscovery, OAuthRegistration, OAuthCodeGrant, OAuthTokens,
            OAuthMachineGrants):
    """ OAuth 2.1 for one MCP server (the MCP authorization spec, C16).

    Settings (config.json ``"oauth"`` of a server, all optional):
    ``client_id``, ``client_secret``, ``token_endpoint_auth_method`` (a
    pre-registered client), ``scope`` (asked for instead of the server's
    hint), ``client_metadata_url`` (a Client ID Metadata Document, used
    when the AS supports it), ``browser`` (false: the device grant, else
    print the URL and read the redirected URL back), ``redirect_port``;
    for a client with no person, ``grant``: "client_credentials" (with a
    secret, or ``private_key_file`` for private_key_jwt), "jwt_bearer"
    (``assertion_file``) or "enterprise" (``id_token_file``,
    ``idp_token_endpoint``, ``idp_client_id``).

    ``header()`` is the Authorization value, ``proof(method)`` the DPoP
    header when the token is bound to a key; ``challenged(status, header,
    sent, nonce)`` handles a 401 or 403 and says whether to retry.  Tokens
    never leave this object except in that header, to the one server.
    """

    client_name = "mcp-weather-client"
    redirect_timeout = 300.0    # seconds to wait for the browser
    refresh_margin = 60.0       # refresh this many seconds before expiry
    step_up_limit = 3           # authorizations for one request, at most

    def __init__(self, server_url, name="server", settings=None, store=None,
                 trace=None, open_browser=None, read_line=None, say=None,
                 explicit=True):
        self.url, self.name = server_url, name
        self.settings = dict(settings or {})
        self.store = store or TokenStore(token_file())
        self.trace = trace
        if open_browser is None:
            import webbrowser   # here, not on top: only OAuth needs it
            open_browser = webbrowser.open
        self.open_browser = open_browser
        self.read_line = read_line or sys.stdin.readline
        self.say = say or (lambda text: (sys.stderr.write(text + "\n"),
                                         sys.stderr.flush()))
        # explicit: configured with "oauth"; only then are the 2025-03-26
        # default endpoints guessed for a server that publishes nothing.
        self.explicit = explicit
        self.lock = threading.RLock()
        self.requested = set()      # scopes asked for so far (step-up union)
        self.memo = None            # current(), between changes
        self.as_nonce = self.rs_nonce = None    # DPoP nonces (RFC 9449)

    # -- what the transport calls -----------------------------------------

    def header(self):
        """ "Bearer <token>" (or "DPoP <token>"), refreshed first if it is
        about to expire (RFC 6749 section 6), or None when there is no token
        yet. """
        with self.lock:
            state = self.current()
            tokens = state.get("tokens") or {}
            if not tokens.get("access_token"):
                return None
            expires = tokens.get("expires_at")
            if expires and time.time() > expires - self.refresh_margin:
                if not self.refresh(state):
                    return None
                tokens = self.current().get("tokens") or {}
            scheme = "DPoP" if tokens.get("token_type", "").lower() == \
                "dpop" else "Bearer"
            return scheme + " " + tokens["access_token"]

    def challenged(self, status, www_authenticate, sent=None, nonce=None):
        """ A 401 (no token, or refused) or 403 ``insufficient_scope``:
        discover, (re-)register and authorize, then return True to retry.
        ``sent`` is the Authorization value the refused request carried. """
        params = challenge_params(www_authenticate)
        with self.lock:
            if nonce and params.get("error") == "use_dpop_nonce":
                self.rs_nonce = nonce       # RFC 9449 section 9: retry
                return True
            if status == 403:
                return self.forbidden(params)
            return self.unauthorized(params, sent)

    def unauthorized(self, params, sent=None):
        """ A 401: discovery runs again every time, because the server may
        have moved to another AS (then its own registration is used or made
        there).  A refused token is refreshed when it can be, a token newer
        than the one refused (another thread's) is just retried, else the
        person is asked. """
        self.memo = None
        context = self.discover(params)
        state = self.state_for(context["issuer"])
        tokens = state.get("tokens") or {}
        current = tokens.get("access_token")
        now = current and self.header()
        if current and sent == now and \
                tokens.get("refresh_token") and \
                params.get("error") != "insufficient_scope":
            if self.refresh(state, context):
                return True
        elif current and sent != now:
            self.remember(context["issuer"])    # a newer token: use it
            return True
        self.authorize(context, self.pick_scopes(context, params))
        return True

    def forbidden(self, params):
        """ Step-up (the MCP spec's scope challenge): authorize again for the
        union of what was asked before and the challenged scope; a scope
        already asked for will not be granted by asking again. """
        if params.get("error") != "insufficient_scope":
            return False
        wanted = set((params.get("scope") or "").split())
        if not wanted or wanted <= self.requested:
            return False
        context = self.discover(params)
        self.authorize(context, self.requested | wanted)
        return True

    # -- the command line ---------------------------------------------------

    def login(self):
        """ Authorize now (``mcp_client.py login SERVER``), without waiting
        for a call: one ping without a token brings the server's challenge
        (its metadata URL and scope), then the person is asked. """
        with self.lock:
            reply = {}
            status, _ = oauth_request(self.url, body={
                "jsonrpc": "2.0", "id": 0, "method": "ping"}, headers={
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": PROTOCOL_VERSION},
                reply_headers=reply)
            params = challenge_params(reply.get("www-authenticate")) \
                if status in (401, 403) else {}
            context = self.discover(params)
            self.authorize(context, self.pick_scopes(context, params))

    def logout(self):
        """ Forget this server's tokens and registrations. """
        self.memo = None
        return self.store.forget(self.url)


# ==========================================================================
# Messages: JSON-RPC responses and errors, Mcp-* header values
# ==========================================================================

def response_result(answer):
    """ The result of a JSON-RPC response, or its error raised. """
    if "error" in answer:
        error = answer["error"] if isinstance(answer["error"], dict) \
            else {"message": str(answer["error"])}
        raise MCPError(error.get("code"), error.get("message", ""),
                       error.get("data"))
    result = answer.get("result")
    return result if isinstance(result, dict) else {}


def json_rpc_error(body):
    """ The ``error`` object of a JSON-RPC error body, or None. """
    try:
        error = json.loads(body.decode("utf-8")).get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, dict) and "code" in error else None


def parse_message(text):
    try:
        return json.loads(text)
    except ValueError:
        raise TransportError("the server sent something that is not JSON: "
                             "%s" % text[:200])


def as_messages(value):
    """ A message or a batch (2025-03-26) as a list of messages. """
    return value if isinstance(value, list) else [value]


def supported_versions(error):
    """ The ``supported`` list of an UnsupportedProtocolVersion error
    (-32022, 1.3), or of any error that names one; [] otherwise. """
    data = getattr(error, "data", None)
    supported = data.get("supported") if isinstance(data, dict) else None
    return [v for v in supported if isinstance(v, str)] \
        if isinstance(supported, list) else []


def header_value(value):
    """ A value for Mcp-Name or Mcp-Param-* (SEP-2243): booleans as
    true/false, numbers as JSON writes them, text as itself when it is
    visible ASCII without surrounding spaces, else ``=?base64?...?=``. """
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else json.dumps(value)
    if text == text.strip() and all(" " <= c <= "~" for c in text):
        return text
    return "=?base64?%s?=" % base64.b64encode(
        text.encode("utf-8")).decode("ascii")


HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")    # RFC 9110


def header_params(tool):
    """ [(argument, header name, type)] for a tool's ``x-mcp-header``
    annotations (SEP-2243).  Raises SchemaProblem when they cannot be
    honoured: an empty name, one that is not an HTTP token, a duplicate
    (names compare without case), or a parameter that is not a string,
    integer or boolean. """
    schema = tool.get("inputSchema") if isinstance(tool, dict) else None
    properties = schema.get("properties") if isinstance(schema, dict) \
        else None
    found, seen = [], set()
    for argument, part in sorted((properties or {}).items()):
        if not isinstance(part, dict) or "x-mcp-header" not in part:
            continue
        header = part["x-mcp-header"]
        if not isinstance(header, str) or not header:
            raise SchemaProblem("x-mcp-header of %r is empty" % argument)
        if not HEADER_TOKEN.match(header):
            raise SchemaProblem("x-mcp-header %r of %r is not a header name"
                                % (header, argument))
        if header.lower() in seen:
            raise SchemaProblem("x-mcp-header %r appears twice" % header)
        kind = part.get("type")
        if kind not in ("string", "integer", "boolean"):
            raise SchemaProblem("x-mcp-header %r is on a %s parameter; only "
                                "strings, integers and booleans can be "
                                "headers" % (header, kind))
        seen.add(header.lower())
        found.append((argument, header, kind))
    return found


def directory_root(path):
    """ A Root for a local directory: a file:// URI and its name. """
    path = os.path.abspath(path)
    uri = "file://" + urllib.parse.quote(path.replace(os.sep, "/"))
    return {"uri": uri, "name": os.path.basename(path) or path}


# ==========================================================================
# The protocol client core: what every transport shares
# ==========================================================================
#
# An MCP client is a JSON-RPC session (ids, deadlines, requests in flight,
# answers to what the server asks), a lifecycle (which era; the handshake
# or server/discover) and the MCP API on top (tools, resources, prompts).
# None of it knows how a message travels: a transport provides
# ``exchange`` (one request, its response), ``post_no_answer`` (a
# notification or a response) and ``close``.  MCPClient is these three
# classes plus the Streamable HTTP transport; StdioClient and
# LegacySSEClient are MCPClient with that transport replaced.  The knobs
# they all read (timeout, era, ...) are MCPClient's.

class JSONRPCSession(object):
    """ The JSON-RPC session (checklist 4.0, 6.1, 6.2).

    Each request gets a fresh id, the 2026-07-28 ``_meta`` (C17) and a
    progressToken when progress is wanted; a deadline that progress
    notifications push back (C14); a cancellation when the client stops
    waiting (C13).  What the server asks (ping, roots/list,
    sampling/createMessage, elicitation/create; in 2026-07-28 listed in
    inputRequests) is answered by the handlers the host gave, and only
    those are declared as capabilities; notifications (logs, list changes)
    go to ``on_log`` and ``on_list_changed``.
    """

    def client_capabilities(self):
        """ ClientCapabilities (4.1): only what a handler exists for. """
        capabilities = {"roots": {"listChanged": True}}
        if self.modern:
            capabilities["roots"] = {}          # 2026-07-28 (4.3)
        if self.on_sampling is not None:
            capabilities["sampling"] = {"tools": {}}
        if self.on_elicitation is not None:
            capabilities["elicitation"] = {"form": {}, "url": {}}
        return capabilities

    def new_request(self, method, params, on_progress):
        """ (message, progress token) of a new request: a fresh id, the
        2026-07-28 _meta, and a progressToken when progress is wanted
        (6.1). """
        request_id = next(self.ids)
        params = self.with_meta(params)
        token = None
        if on_progress is not None:
            token = "%s-%d" % (self.name, request_id)
            params["_meta"] = dict(params.get("_meta") or {},
                                   progressToken=token)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params:
            message["params"] = params
        return message, token

    def call_deadline(self, timeout):
        """ (idle seconds, Deadline): a progress notification pushes the
        idle limit back, up to max_timeout in all (C14). """
        idle = self.timeout if timeout is None else timeout
        return idle, Deadline(idle, max(self.max_timeout, idle))

    @contextlib.contextmanager
    def cancelled_if_abandoned(self, waiter, idle):
        """ A request we stop waiting for, at its deadline or on ^C, is
        cancelled (C13, C14), so that the server stops its work too. """
        try:
            yield
        except socket.timeout:
            self.cancel(waiter, "timed out")
            raise CallTimeout("%s: no answer to %s within %g s"
                              % (self.name, waiter.method, idle))
        except KeyboardInterrupt:
            self.cancel(waiter, "interrupted by the user")
            raise

    def with_meta(self, params):
        """ A copy of params; in 2026-07-28 with the _meta every request
        carries: version, capabilities, clientInfo (C17, 1.3). """
        params = dict(params or {})
        if self.modern:
            params["_meta"] = dict(params.get("_meta") or {}, **{
                META_VERSION: self.version,
                META_CAPABILITIES: self.client_capabilities(),
                META_CLIENT_INFO: CLIENT_INFO})
        return params

    def cancel(self, waiter, reason):
        """ Tell the server to stop a request (C13); the waiter stops
        reading.  initialize is never cancelled (lifecycle 4.1).  In
        2026-07-28 closing the stream is the cancellation (C17). """
        waiter.cancelled = True
        if waiter.method == "initialize":
            return
        if self.modern:
            if waiter.channel is not None:
                waiter.channel.shutdown()
            return
        request_id = waiter.request_id
        try:
            self.notify("notifications/cancelled",
                        {"requestId": request_id, "reason": reason},
                        timeout=5.0)
        except (TransportError, OSError, http.client.HTTPException) as error:
            log.debug("%s: could not send the cancellation: %s",
                      self.name, error)

    def cancel_all(self, reason="cancelled"):
        """ Cancel every call in flight (Ctrl-C in chat): each gets a
        notifications/cancelled and its reader stops at once. """
        with self.lock:
            waiters = list(self.inflight.values())
        for waiter in waiters:
            self.cancel(waiter, reason)
            if waiter.channel is not None:
                waiter.channel.shutdown()

    def notify(self, method, params=None, timeout=None):
        """ POST a notification; the server answers 202 (C4). """
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.post_no_answer(message, timeout)

    # -- requests from the server (and 2026-07-28 input requests) ----------

    def serve_request(self, method, params):
        """ The result for a request the server sent (or, in 2026-07-28,
        listed in inputRequests): ping (4.2), roots/list,
        sampling/createMessage, elicitation/create.  Raises MCPError to
        refuse; what this client did not declare is -32601. """
        if method == "ping":
            return {}
        if method == "roots/list":
            return {"roots": self.list_roots()}
        handler = {"sampling/createMessage": self.on_sampling,
                   "elicitation/create": self.on_elicitation}.get(method)
        if handler is None:
            raise MCPError(METHOD_NOT_FOUND, "Method not found: %s"
                           % (method,))
        result = handler(params, self)
        if not isinstance(result, dict):
            raise MCPError(-32603, "the %s handler gave no result" % method)
        return result

    def list_roots(self):
        """ roots: the configured list, or the current directory. """
        roots = self.roots() if callable(self.roots) else self.roots
        if roots is None:
            roots = [directory_root(os.getcwd())]
        return [dict(root) for root in roots]

    def roots_changed(self):
        """ notifications/roots/list_changed, after ``roots`` changed. """
        if self.version is not None and not self.modern:
            self.notify("notifications/roots/list_changed")

    def reply_to(self, message):
        """ The JSON-RPC response to a request from the server. """
        try:
            result = self.serve_request(message.get("method"),
                                        message.get("params") or {})
        except MCPError as error:
            body = {"code": error.code, "message": error.message}
            if error.data is not None:
                body["data"] = error.data
            return {"jsonrpc": "2.0", "id": message["id"], "error": body}
        except Exception as error:      # a handler's bug is the server's no
            log.warning("%s: answering %s failed: %s", self.name,
                        message.get("method"), error, exc_info=True)
            return {"jsonrpc": "2.0", "id": message["id"], "error": {
                "code": -32603, "message": "Internal error: %s" % error}}
        return {"jsonrpc": "2.0", "id": message["id"], "result": result}

    def notification(self, message):
        """ A notification from the server, outside any request's own
        (progress goes to its waiter): logs and list changes. """
        method, params = message.get("method"), message.get("params") or {}
        if method == "notifications/message":
            if self.on_log:
                self.on_log(self.name, params)
            else:
                log.info("%s: [%s] %s", self.name,
                         params.get("level", "info"), params.get("data"))
        elif method.endswith("/list_changed"):
            if method == "notifications/tools/list_changed":
                self.tool_params.clear()
                self.refused_tools.clear()
            log.info("%s: %s", self.name, method)
            if self.on_list_changed:
                self.on_list_changed(self.name, method)


class MCPLifecycle(object):
    """ The lifecycle (checklist 1.1-1.3, 4.1, 4.3): reach the server in an
    era both speak.  2026-07-28 asks ``server/discover`` and has no session;
    the handshake era sends ``initialize`` and ``notifications/initialized``
    and keeps a session, started anew after a 404 (C10).  Which era is
    tried first, and when the other is, is MCPClient's docstring. """

    def describe_server(self):
        """ "name version" from serverInfo, for logs and listings. """
        info = self.server_info
        return " ".join(str(info[key]) for key in ("name", "version")
                        if info.get(key)) or "an unnamed server"

    def describe_era(self):
        if self.modern:
            return "MCP %s (stateless: server/discover)" % self.version
        return "MCP %s (initialize, session %s)" % (
            self.version, self.session_id or "none: stateless")

    def connect(self):
        """ Reach the server in an era both speak; return what it said
        about itself (the DiscoverResult or the InitializeResult).

        The first era tried follows ``era`` (and, after a first connect,
        the era that worked: C18); the other one is tried when the answer
        shows the server does not speak the first (see ``era_refused``).
        """
        first = self.chosen_era or ("legacy" if self.era == "legacy"
                                    else "modern")
        order = [first]
        if self.era == "auto" or (self.era == "legacy" and
                                  self.chosen_era is None):
            order.append("legacy" if first == "modern" else "modern")
        problems = {}
        for era in order:
            try:
                if era == "modern":
                    result = self.discover()
                else:
                    result = self.initialize()
            except (MCPError, TransportError) as error:
                self.reset_connection()
                if not self.era_refused(error, era) or era == order[-1]:
                    # The handshake's error says more: it is what the
                    # server says to the requests it has known longest.
                    raise problems.get("legacy", error)
                log.info("%s: the server does not speak the %s era (%s); "
                         "trying %s", self.name,
                         "2026-07-28" if era == "modern" else "2025",
                         error, "the 2025 handshake" if era == "modern"
                         else "2026-07-28")
                problems[era] = error
                continue
            self.chosen_era = era
            log.info("%s: connected to %s, %s%s", self.name,
                     self.describe_server(), self.describe_era(),
                     " after falling back" if problems else "")
            return result

    def era_refused(self, error, era):
        """ Whether an error to discover or initialize means "not my era"
        rather than "unreachable" (C15, C18): a JSON-RPC error, or an HTTP
        4xx other than 401/403 (those are about credentials).  -32020 and
        -32021 come only from a 2026-07-28 server (C18): to discover, it
        speaks the era and refuses the request itself, so that error
        stands; to initialize, they say "ask me the 2026 way". """
        if isinstance(error, MCPError):
            return era == "legacy" or error.code not in (
                HEADER_MISMATCH, MISSING_CAPABILITY)
        status = error.status
        return status is not None and 400 <= status < 500 and \
            status not in (401, 403)

    def reset_connection(self):
        with self.lock:
            self.session_id = self.version = None
            self.modern = False

    def discover(self):
        """ server/discover (4.3) at ``modern_version``; a -32022 that
        lists another 2026-era version we speak is retried with it (1.3).
        """
        version = self.modern_version
        for attempt in (1, 2):
            with self.lock:
                self.session_id = None
                self.version, self.modern = version, True
            try:
                result = self.exchange("server/discover", None, None, None)
                break
            except MCPError as error:
                supported = supported_versions(error)
                usable = [v for v in supported if v in MODERN_VERSIONS]
                if error.code != UNSUPPORTED_VERSION or not usable or \
                        attempt == 2:
                    raise
                version = max(usable)
                log.info("%s: the server asks for MCP %s; retrying with it",
                         self.name, version)
        offered = result.get("supportedVersions")
        if not isinstance(offered, list):
            raise MCPError(INVALID_PARAMS, "%s answered server/discover "
                           "without supportedVersions" % self.name)
        if version not in offered:
            usable = [v for v in offered if v in MODERN_VERSIONS]
            if not usable:
                raise MCPError(UNSUPPORTED_VERSION, "the server speaks %s"
                               % ", ".join(map(str, offered)),
                               {"supported": offered})
            self.version = max(usable)
        meta = result.get("_meta") or {}
        self.server_info = result.get("serverInfo") or \
            meta.get(META_SERVER_INFO) or {}
        self.capabilities = result.get("capabilities") or {}
        self.instructions = result.get("instructions")
        return result

    def initialize(self):
        """ initialize, then notifications/initialized (lifecycle 4.1).

        The session id comes from the response that carried it (C9); a
        version this client does not speak ends the connection with a clear
        error.  2024-11-05, which many stdio servers still negotiate, is
        accepted.
        """
        with self.lock:
            self.session_id = self.version = None
            self.modern = False
            self.generation += 1
        result = self.exchange("initialize", {
            "protocolVersion": self.protocol_version,
            "capabilities": self.client_capabilities(),
            "clientInfo": CLIENT_INFO}, None, None)
        version = result.get("protocolVersion")
        if version not in SUPPORTED_VERSIONS:
            self.close()
            raise TransportError(
                "%s speaks MCP %s; this client speaks %s"
                % (self.name, version, ", ".join(
                    SUPPORTED_VERSIONS + MODERN_VERSIONS)))
        self.version = version
        self.server_info = result.get("serverInfo") or {}
        self.capabilities = result.get("capabilities") or {}
        self.instructions = result.get("instructions")
        self.notify("notifications/initialized")
        self.open_standalone()
        return result

    def reinitialize(self, generation):
        """ Start a new session after a 404 (C10), unless another thread
        already did since ``generation``.  The calls of one round run at
        once and all meet the 404: the first starts the new session, the
        others wait for it here and then retry in it. """
        with self.connecting:
            if generation != self.generation:
                return
            log.warning("%s: session %s is gone (404); starting a new one",
                        self.name, self.session_id)
            self.initialize()

    def ensure_connected(self):
        with self.connecting:   # never send while a session is starting
            if self.version is None:
                self.connect()


class MCPRequests(object):
    """ The MCP API: tools (5), resources, prompts, completion (6.5) and
    ping (4.2), each a ``request``: paginated lists followed to the end
    (6.4), a 404 or a broken stream retried once (C10, C17), and in
    2026-07-28 an ``input_required`` result answered and the request sent
    again (MRTR, SEP-2322). """

    def request(self, method, params=None, on_progress=None, timeout=None):
        """ Send one request and return its result.

        ``on_progress(progress, total, message)`` is called for each
        progress notification, and each one pushes the deadline back
        ``timeout`` seconds (default ``self.timeout``), never past
        ``max_timeout``.  Raises MCPError for a JSON-RPC error and
        TransportError (or CallTimeout) when no answer can be had.

        In the 2026-07-28 era an ``input_required`` result is answered
        (``answer_inputs``) and the request sent again, under a new id,
        with ``inputResponses`` and the server's ``requestState`` echoed
        unchanged (and none when the server gave none: SEP-2322).
        """
        self.ensure_connected()
        first = dict(params or {})
        params = first
        for _ in range(self.max_input_rounds + 1):
            result = self.request_once(method, params, on_progress, timeout)
            if not self.modern:
                return result
            kind = result.get("resultType", "complete")
            if kind == "complete":
                return result
            if kind != "input_required":
                raise MCPError(INVALID_PARAMS, "%s answered %s with "
                               "resultType %r, which is not a result this "
                               "client knows (C17)" % (self.name, method,
                                                       kind))
            params = dict(first, inputResponses=self.answer_inputs(
                result.get("inputRequests")))
            if "requestState" in result:
                params["requestState"] = result["requestState"]
        raise MCPError(INVALID_PARAMS, "%s asked for input %d times in a "
                       "row for %s; giving up" % (
                           self.name, self.max_input_rounds, method))

    def request_once(self, method, params, on_progress, timeout):
        """ One request; in the handshake era a 404 for the session starts
        a new one and the request is sent once more (C10); in 2026-07-28 a
        broken stream is re-issued once under a new id (C17). """
        generation = self.generation
        try:
            return self.exchange(method, params, on_progress, timeout)
        except SessionExpired:
            self.reinitialize(generation)
        except StreamBroken as error:
            log.warning("%s: %s; issuing %s again under a new id",
                        self.name, error, method)
        return self.exchange(method, params, on_progress, timeout)

    def answer_inputs(self, requests):
        """ The inputResponses for a 2026-07-28 InputRequiredResult: each
        input request answered as if the server had sent it (MRTR). """
        if not isinstance(requests, dict):
            raise MCPError(INVALID_PARAMS, "%s sent input_required without "
                           "inputRequests" % self.name)
        answers = {}
        for key, wanted in requests.items():
            wanted = wanted if isinstance(wanted, dict) else {}
            answers[key] = self.serve_request(wanted.get("method"),
                                              wanted.get("params") or {})
        return answers

    def list_tools(self):
        """ Every tool, following nextCursor through the pages.  A tool
        whose ``x-mcp-header`` annotations cannot be honoured is left out
        (and kept in ``refused_tools``, with why): calling it would send
        headers the server cannot check (SEP-2243). """
        tools = []
        for tool in self.list_all("tools/list", "tools"):
            name = tool.get("name") if isinstance(tool, dict) else None
            try:
                self.tool_params[name] = header_params(tool)
            except SchemaProblem as problem:
                self.refused_tools[name] = str(problem)
                log.warning("%s: tool %r left out: %s", self.name, name,
                            problem)
                continue
            self.refused_tools.pop(name, None)
            tools.append(tool)
        return tools

    def list_all(self, method, key):
        """ Every item of a paginated list (6.4).  A missing nextCursor is
        the end; in 2026-07-28 an empty string is a cursor like any other.
        """
        items, cursor = [], None
        while True:
            result = self.request(method, {"cursor": cursor}
                                  if cursor is not None else None)
            items.extend(result.get(key) or [])
            cursor = result.get("nextCursor")
            if cursor is None or (cursor == "" and not self.modern):
                return items

    def call_tool(self, name, arguments=None, on_progress=None,
                  timeout=None):
        """ The CallToolResult: ``content``, maybe ``structuredContent``,
        and ``isError`` when the tool failed (that is not an exception). """
        self.ensure_connected()
        if self.modern and name not in self.tool_params and \
                name not in self.refused_tools:
            self.list_tools()       # its x-mcp-header annotations (C17)
        if name in self.refused_tools:
            raise MCPError(INVALID_PARAMS, "%s: tool %r is refused: %s" % (
                self.name, name, self.refused_tools[name]))
        return self.request("tools/call", {"name": name,
                                           "arguments": arguments or {}},
                            on_progress, timeout)

    def list_resources(self):
        return self.list_all("resources/list", "resources")

    def list_resource_templates(self):
        return self.list_all("resources/templates/list",
                             "resourceTemplates")

    def read_resource(self, uri):
        """ The ReadResourceResult: ``contents``, text or base64 blobs. """
        return self.request("resources/read", {"uri": uri})

    def list_prompts(self):
        return self.list_all("prompts/list", "prompts")

    def get_prompt(self, name, arguments=None):
        """ The GetPromptResult: ``messages`` and maybe ``description``. """
        params = {"name": name}
        if arguments:
            params["arguments"] = dict((str(k), str(v))
                                       for k, v in arguments.items())
        return self.request("prompts/get", params)

    def complete(self, ref, argument, value, context=None):
        """ completion/complete (6.5): the suggested values for one
        argument of a prompt ({"type": "ref/prompt", "name"}) or a resource
        template ({"type": "ref/resource", "uri"}). """
        params = {"ref": ref, "argument": {"name": argument,
                                           "value": value}}
        if context:
            params["context"] = {"arguments": context}
        result = self.request("completion/complete", params)
        return (result.get("completion") or {}).get("values") or []

    def subscribe(self, uri):
        return self.request("resources/subscribe", {"uri": uri})

    def ping(self):
        return self.request("ping")


# ==========================================================================
# Streamable HTTP: the transport of MCPClient (checklist section 3)
# ==========================================================================

class HTTPTransport(object):
    """ Messages over Streamable HTTP: each one its own POST (C1) with
    ``Accept: application/json, text/event-stream`` (C2), the session id
    and negotiated version as headers (C9, C12), in 2026-07-28 the
    ``Mcp-Method``/``Mcp-Name``/``Mcp-Param-*`` headers (C17), and the
    ``Authorization`` of the token or of OAuth (C16).  A 401/403 goes to
    OAuth and the request is sent again; another error status becomes
    one line (MCPError or TransportError).  The response itself is read
    by a Waiter; ``close`` DELETEs the session (C11). """

    def make_pool(self):
        return ConnectionPool(self.url, self.connect_timeout)

    def exchange(self, method, params, on_progress, timeout):
        """ One request, one response, whatever the framing. """
        message, token = self.new_request(method, params, on_progress)
        idle, deadline = self.call_deadline(timeout)
        waiter = Waiter(self, message["id"], method, token, on_progress,
                        deadline, self.modern_headers(message))
        with self.cancelled_if_abandoned(waiter, idle):
            return waiter.run(message)

    def post_no_answer(self, message, timeout=None):
        """ POST a notification or a response: 202 and no body (C4). """
        wait = self.timeout if timeout is None else timeout
        channel = self.open("POST", message, Deadline(wait, wait))
        body = channel.response.read()
        channel.finish()
        if channel.response.status >= 400:
            raise self.status_error(channel.response, body)

    def request_headers(self, session, extra=None):
        headers = dict(self.headers)
        headers.update({"Accept": "application/json, text/event-stream",
                        "User-Agent": self.user_agent})
        if self.token:
            headers["Authorization"] = "Bearer " + self.token     # C16
        elif self.oauth:
            value = self.oauth.header()       # the section Authorization
            if value:
                headers["Authorization"] = value
        if session and not self.modern:
            headers["Mcp-Session-Id"] = session                   # C9
        if self.version:
            headers["MCP-Protocol-Version"] = self.version        # C12, C17
        headers.update(extra or {})
        return headers

    def modern_headers(self, message):
        """ Mcp-Method, Mcp-Name and Mcp-Param-* for a 2026-07-28 request
        (C17, S58-S60): what a proxy routes on without reading the body. """
        if not self.modern:
            return {}
        method, params = message["method"], message.get("params") or {}
        headers = {"Mcp-Method": header_value(method)}
        if method in ("tools/call", "prompts/get", "resources/read"):
            name = params.get("uri" if method == "resources/read"
                              else "name")
            headers["Mcp-Name"] = header_value(name)
        if method == "tools/call":
            arguments = params.get("arguments") or {}
            for argument, header, _ in self.tool_params.get(
                    params.get("name"), ()):
                value = arguments.get(argument)
                if value is not None:       # null or absent: no header
                    headers["Mcp-Param-" + header] = header_value(value)
        return headers

    def open(self, method, message, deadline, session=None, extra=None,
             authorized=0):
        """ Send one HTTP request; return its Channel once the status line
        and headers are in.

        A kept-alive connection the server closed just as it was taken
        fails on first use; that case is retried once on a fresh
        connection, except for tools/call: the server may have read the
        request before closing, and a tool must not run twice.
        """
        session = session or self.session_id
        headers = self.request_headers(session, extra)
        if self.oauth:
            headers.update(self.oauth.proof(method))    # DPoP, RFC 9449
        body = None
        if message is not None:
            # Always a Content-Length body: some proxies refuse chunked
            # requests (field notes B-21).
            body = json.dumps(message).encode("utf-8")
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            connection, reused = self.pool.take(deadline.left())
            unreachable = lambda error: "cannot reach %s at %s: %s" % (
                self.name, self.url, getattr(error, "strerror", None)
                or error)
            with closed_on_failure(connection, unreachable):
                try:
                    self.show_request(method, headers, body)
                    connection.request(method, self.pool.target, body,
                                       headers)
                    sock = connection.sock
                    sock.settimeout(max(deadline.left(), 0.01))
                    response = connection.getresponse()
                except (http.client.RemoteDisconnected, BrokenPipeError,
                        ConnectionResetError) as error:
                    connection.close()
                    if reused and attempt == 1 and \
                            (message or {}).get("method") != "tools/call":
                        continue
                    raise TransportError("%s closed the connection: %s"
                                         % (self.name, error))
            self.show_response(response)
            channel = Channel(self.pool, connection, response, sock)
            if self.authorize_again(channel, headers, authorized):
                return self.open(method, message, deadline, session, extra,
                                 authorized + 1)
            return channel

    def status_error(self, response, body):
        """ A TransportError (or MCPError) for an HTTP error status. """
        status = response.status
        error = json_rpc_error(body)
        text = error.get("message", "") if error else \
            " ".join(body.decode("utf-8", "replace").split())[:200]
        if status in (401, 403):
            problem = TransportError(self.auth_problem(response, text))
        elif error:
            problem = MCPError(error["code"], text, error.get("data"))
        else:
            problem = TransportError("%s answered HTTP %d %s%s"
                                     % (self.name, status, response.reason,
                                        ": " + text if text else ""))
        problem.status = status
        return problem

    def authorize_again(self, channel, headers, authorized):
        """ A 401/403 from a server with OAuth: authorize (the section
        Authorization) and say whether to send the request again. """
        response = channel.response
        challenge = response.getheader("WWW-Authenticate", "")
        if self.oauth is None or response.status not in (401, 403) or \
                authorized >= self.oauth.step_up_limit or \
                (response.status == 403 and
                 "insufficient_scope" not in challenge):
            return False
        response.read()
        channel.finish()
        return self.oauth.challenged(response.status, challenge,
                                     headers.get("Authorization"),
                                     response.getheader("DPoP-Nonce"))

    def auth_problem(self, response, reason):
        """ 401/403, with the server's WWW-Authenticate challenge (C16). """
        challenge = response.getheader("WWW-Authenticate", "")
        hint = "a bearer token is missing" if not self.token else \
            "the bearer token was refused"
        text = "%s answered HTTP %d: %s" % (self.name, response.status, hint)
        if reason:
            text += " (%s)" % reason
        if challenge:
            text += "; WWW-Authenticate: %s" % challenge
        return text

    def close(self):
        """ DELETE the session (C11; 404 and 405 are fine), drop sockets. """
        for attribute in ("standalone", "subscription"):
            channel = getattr(self, attribute)
            setattr(self, attribute, None)
            if channel is not None:     # closing is cancelling (C17)
                channel.shutdown()
        self.closing = True             # the GET reader stops here
        readers, self.readers = self.readers, []
        for thread in readers:
            if thread is not threading.current_thread():
                thread.join(1.0)
        session, self.session_id = self.session_id, None
        if session:
            try:
                channel = self.open("DELETE", None, Deadline(5.0, 5.0),
                                    session=session)
                channel.response.read()
                channel.finish()
            except (TransportError, OSError, http.client.HTTPException):
                pass    # the server is gone: nothing left to free
        self.version = None         # a later request starts a new session
        self.pool.close()

    # -- tracing (for teaching: --trace shows the wire) ---------------------

    def show(self, text):
        if self.trace:
            self.trace("[%s] %s" % (self.name, text))

    def show_request(self, method, headers, body):
        if not self.trace:
            return
        lines = ["> %s %s" % (method, self.url)]
        for key, value in headers.items():
            if key.lower() == "authorization":
                value = value.split(" ")[0] + " ***"
            lines.append(">   %s: %s" % (key, value))
        if body:
            lines.append(">   " + body.decode("utf-8"))
        self.show("\n".join(lines))

    def show_response(self, response):
        if not self.trace:
            return
        lines = ["< %d %s" % (response.status, response.reason)]
        for key, value in response.getheaders():
            if key.lower() in ("content-type", "mcp-session-id",
                               "mcp-protocol-version", "www-authenticate"):
                lines.append("<   %s: %s" % (key, value))
        self.show("\n".join(lines))


class Waiter(object):
    """ Waits for the response to one request, through every framing.

    It POSTs the request, reads JSON, SSE or NDJSON (C3), hands progress
    and log notifications on, answers the server's own requests (ping),
    and when an SSE stream ends without the response, resumes it with GET
    and Last-Event-ID (C7), as long as the deadline allows.
    """

    def __init__(self, client, request_id, method, token, on_progress,
                 deadline, extra=None):
        self.client, self.request_id, self.method = client, request_id, method
        self.token, self.on_progress = token, on_progress
        self.deadline = deadline
        self.extra = extra          # 2026-07-28 headers (C17)
        self.channel = None
        self.cancelled = False

    def run(self, message):
        client = self.client
        with client.lock:
            client.inflight[self.request_id] = self
        try:
            session = client.session_id
            self.channel = client.open("POST", message, self.deadline,
                                       extra=self.extra)
            return self.result(self.read(self.channel, session))
        except KeyboardInterrupt:
            # Ctrl-C mid-read: nobody will read the rest of this answer.
            if self.channel is not None:
                self.channel.close()
            raise
        finally:
            with client.lock:
                client.inflight.pop(self.request_id, None)

    def read(self, channel, session):
        """ The response message, read the way the Content-Type says. """
        client, response = self.client, channel.response
        kind = essence(response.getheader("Content-Type"))
        if response.status >= 400 or response.status in (202, 204) or \
                not kind:
            return self.no_answer(channel, session)
        if self.method == "initialize":
            client.session_id = response.getheader("Mcp-Session-Id")  # C9
        if kind == "application/json":
            return self.read_json(channel)
        if kind == "text/event-stream":
            return self.read_sse(channel)
        if kind == "application/x-ndjson":
            answer = self.read_stream(
                ndjson_events(response, self.trace_line), channel)
            if answer is None:
                raise TransportError("%s: the NDJSON stream ended before "
                                     "the response" % client.name)
            return answer
        channel.close()
        raise TransportError("%s answered with Content-Type %r, which is "
                             "not MCP (C3)" % (client.name, kind))

    def no_answer(self, channel, session):
        """ An error status, or a status with no body: never a response. """
        client, response = self.client, channel.response
        body = response.read()
        channel.finish()
        if response.status == 404 and session:
            raise SessionExpired("%s: session %s not found (404)"
                                 % (client.name, session))
        if response.status >= 400:
            raise client.status_error(response, body)
        # A request answered with 202 can never get its response: say so
        # instead of waiting for it (field notes B-24).
        raise TransportError("%s answered %s with HTTP %d and no body: no "
                             "response can come" % (client.name, self.method,
                                                    response.status))

    def read_json(self, channel):
        with closed_on_failure(channel, lambda error:
                               "%s: the answer broke off: %s"
                               % (self.client.name, error)):
            body = channel.response.read()
        channel.finish()
        text = body.decode("utf-8", "replace")
        self.trace_line(text)
        answer = None
        for message in as_messages(parse_message(text)):
            answer = self.handle(message) or answer
        if answer is None:
            raise TransportError("%s answered without the response to "
                                 "request %s" % (self.client.name,
                                                 self.request_id))
        return answer

    def read_sse(self, channel):
        """ Read an SSE stream; when it ends without the response, resume
        it from the last event id (C6, C7).  Streams that bring nothing new
        count as failures; ``resume_attempts`` of them in a row end it. """
        reader = SSEReader(channel.response, on_line=self.trace_line)
        failures = 0
        while True:
            seen = reader.last_id
            answer = self.read_stream(reader.events(), channel)
            if answer is not None:
                return answer
            failures = 0 if reader.last_id != seen else failures + 1
            if self.client.modern:
                raise StreamBroken("%s: the stream of %s ended before its "
                                   "response" % (self.client.name,
                                                 self.method))
            if reader.last_id is None:
                raise TransportError("%s: the stream ended before the "
                                     "response, with no event id to resume "
                                     "from" % self.client.name)
            if failures >= self.client.resume_attempts:
                raise TransportError("%s: the stream ended before the "
                                     "response; %d attempts to resume "
                                     "brought nothing" % (self.client.name,
                                                          failures))
            channel = self.resume(reader)

    def resume(self, reader):
        """ GET the stream again after the last event id, once the server's
        ``retry`` has passed (C6). """
        wait = (reader.retry if reader.retry is not None
                else self.client.default_retry) / 1000.0
        if wait >= self.deadline.left():
            raise socket.timeout("the deadline comes before the retry")
        time.sleep(wait)
        log.info("%s: stream ended before the response; resuming after "
                 "event %s", self.client.name, reader.last_id)
        channel = self.client.open("GET", None, self.deadline, extra={
            "Accept": "text/event-stream", "Last-Event-ID": reader.last_id})
        self.channel = channel
        response = channel.response
        if response.status != 200 or essence(response.getheader(
                "Content-Type")) != "text/event-stream":
            body = response.read()
            channel.close()
            raise TransportError("%s refused to resume the stream: %s" % (
                self.client.name, self.client.status_error(response, body)))
        reader.fp = response
        return channel

    def read_stream(self, texts, channel):
        """ Handle each message of a stream until our response comes.

        Returns the response, or None when the stream ended or broke
        first.  Keep-alive comments (None) only serve to check the
        deadline: they are not progress (C14).
        """
        try:
            for text in texts:
                if self.cancelled:
                    break
                self.deadline.check()
                if text is not None:
                    answer = None
                    for message in as_messages(parse_message(text)):
                        answer = self.handle(message) or answer
                    if answer is not None:
                        channel.close()     # do not wait for the end
                        return answer
                # Only now: a progress notification just handled has
                # pushed the deadline back, and the next read may wait
                # that long (C14).
                channel.settimeout(self.deadline.left())
        except socket.timeout:
            channel.close()
            raise
        except (OSError, ValueError, http.client.HTTPException) as error:
            log.info("%s: stream broke: %s", self.client.name, error)
        channel.close()
        if self.cancelled:
            raise CallCancelled("%s: %s cancelled" % (self.client.name,
                                                      self.method))
        return None

    def handle(self, message):
        """ Route one incoming message; return it when it is our answer. """
        if not isinstance(message, dict):
            return None
        method = message.get("method")
        if method is None:
            if message.get("id") == self.request_id:
                return message
            log.debug("%s: ignoring a response to %r", self.client.name,
                      message.get("id"))
        elif "id" in message:
            self.answer_server_request(message)
        elif method == "notifications/progress":
            self.progress(message.get("params") or {})
        else:
            self.client.notification(message)
        return None

    def progress(self, params):
        """ Our token's progress pushes the deadline back (C14). """
        if self.token is None or params.get("progressToken") != self.token:
            return
        self.deadline.progressed()
        self.on_progress(params.get("progress"), params.get("total"),
                         params.get("message"))

    def answer_server_request(self, message):
        """ Answer the server's request (ping 4.2, roots, sampling,
        elicitation: MCPClient.serve_request) with a POST (S23, C4).  The
        time a person takes to answer does not count against the call's
        deadline.  2026-07-28 has no such requests and clients never send
        responses (C17): one that comes anyway is only logged. """
        client = self.client
        if client.modern:
            log.warning("%s: ignoring a %s request: 2026-07-28 servers ask "
                        "through input_required", client.name,
                        message.get("method"))
            return
        reply = client.reply_to(message)
        self.deadline.progressed()
        try:
            client.post_no_answer(reply, timeout=10.0)
        except (TransportError, OSError, http.client.HTTPException) as error:
            log.warning("%s: could not answer %s: %s", client.name,
                        message["method"], error)

    def result(self, answer):
        return response_result(answer)

    def trace_line(self, line):
        self.client.show("< " + line if line else "<")


class HTTPStreams(object):
    """ The long-lived streams of Streamable HTTP: the standalone GET
    stream of the handshake era (C8), on which a server sends its own
    requests and notifications, resumed with Last-Event-ID (C6, C7); and
    the 2026-07-28 ``subscriptions/listen`` request, whose stream brings
    the list changes asked for.  Each is read by a daemon thread. """

    def wants_standalone(self):
        """ Whether to open the GET stream: only when something here would
        answer or show what comes on it (a server may send its requests
        and notifications there rather than on a call's stream). """
        return self.standalone_stream and self.pool is not None and any(
            handler is not None for handler in (
                self.on_sampling, self.on_elicitation, self.on_log,
                self.on_list_changed, self.roots))

    def open_standalone(self):
        self.closing = False
        if self.wants_standalone() and self.session_id is not None:
            self.start_reader(self.listen_standalone, "get-stream",
                              self.generation)

    def start_reader(self, target, what, *args):
        """ A daemon thread reading a long-lived stream; close() waits a
        moment for it, so that it never dies noisily at exit. """
        def run():
            try:
                target(*args)
            except Exception as error:     # a stream cut by close()
                log.debug("%s: %s ended: %s", self.name, what, error)
        thread = threading.Thread(target=run, daemon=True,
                                  name="%s-%s" % (self.name, what))
        self.readers.append(thread)
        thread.start()

    def listen_standalone(self, generation):
        """ GET the endpoint with Accept: text/event-stream (C8) and serve
        what arrives until the session ends: 405 means the server has no
        such stream; a drop is resumed after ``retry`` with Last-Event-ID
        (C6, C7), ``resume_attempts`` times in a row at most. """
        reader = SSEReader(None, on_line=lambda line: self.show(
            "< (GET) " + line if line else "<"))
        failures = 0
        while generation == self.generation and self.session_id and \
                not self.closing:
            extra = {"Accept": "text/event-stream"}
            if reader.last_id is not None:
                extra["Last-Event-ID"] = reader.last_id
            try:
                channel = self.open("GET", None, Deadline(60.0, 60.0),
                                    extra=extra)
            except (TransportError, OSError, socket.timeout):
                return
            response = channel.response
            if response.status != 200 or essence(response.getheader(
                    "Content-Type")) != "text/event-stream":
                response.read()
                channel.close()
                log.debug("%s: no standalone stream (HTTP %d)", self.name,
                          response.status)
                return
            self.standalone = channel
            channel.sock.settimeout(None)     # quiet for hours is fine
            seen = reader.last_id
            reader.fp = response
            try:
                for text in reader.events():
                    if text is not None:
                        for message in as_messages(parse_message(text)):
                            self.standalone_message(message)
            except (OSError, ValueError, TransportError,
                    http.client.HTTPException) as error:
                log.debug("%s: the GET stream broke: %s", self.name, error)
            channel.close()
            failures = 0 if reader.last_id != seen else failures + 1
            if failures >= self.resume_attempts or reader.last_id is None:
                return
            time.sleep((reader.retry if reader.retry is not None
                        else self.default_retry) / 1000.0)

    def standalone_message(self, message):
        """ A message on the GET stream: requests are answered by POST
        (S23, C4), progress goes to its call, the rest to notification.
        """
        if not isinstance(message, dict) or "method" not in message:
            return
        if "id" in message:
            reply = self.reply_to(message)
            try:
                self.post_no_answer(reply, timeout=10.0)
            except (TransportError, OSError,
                    http.client.HTTPException) as error:
                log.warning("%s: could not answer %s: %s", self.name,
                            message["method"], error)
        elif message["method"] == "notifications/progress":
            params = message.get("params") or {}
            with self.lock:
                waiters = list(self.inflight.values())
            for waiter in waiters:
                waiter.progress(params)
        else:
            self.notification(message)

    # -- 2026-07-28: subscriptions/listen ------------------------------------

    def listen_filter(self):
        """ The list changes the server says it announces (capabilities
        ``listChanged``), as a subscriptions/listen filter. """
        wanted = {}
        for kind in ("tools", "prompts", "resources"):
            if (self.capabilities.get(kind) or {}).get("listChanged"):
                wanted[kind + "ListChanged"] = True
        return wanted

    def listen(self, notifications=None):
        """ 2026-07-28 subscriptions/listen: one long-lived request whose
        stream brings the change notifications asked for (default: every
        list change the server announces), each handed to
        ``notification`` (so ``on_list_changed`` hears them).  Returns the
        filter the server acknowledged; the stream is read in a thread
        until close().  The handshake era needs none of this (changes come
        on the GET stream): it returns None there. """
        self.ensure_connected()
        if not self.modern:
            return None
        wanted = self.listen_filter() if notifications is None \
            else notifications
        message = {"jsonrpc": "2.0", "id": next(self.ids),
                   "method": "subscriptions/listen",
                   "params": self.with_meta({"notifications": wanted})}
        channel = self.open("POST", message, Deadline(self.timeout,
                                                      self.timeout),
                            extra=self.modern_headers(message))
        response = channel.response
        if essence(response.getheader("Content-Type")) != \
                "text/event-stream":
            body = response.read()
            channel.close()
            error = json_rpc_error(body)
            if response.status < 400 and error is None:
                raise TransportError("%s answered subscriptions/listen "
                                     "without a stream" % self.name)
            problem = self.status_error(response, body) \
                if response.status >= 400 else MCPError(
                    error["code"], error.get("message", ""),
                    error.get("data"))
            raise problem
        reader = SSEReader(response, on_line=lambda line: self.show(
            "< (listen) " + line if line else "<"))
        events = reader.events()
        acknowledged = None
        for text in events:
            if text is None:
                continue
            for item in as_messages(parse_message(text)):
                if isinstance(item, dict) and item.get("method") == \
                        "notifications/subscriptions/acknowledged":
                    acknowledged = (item.get("params") or {}).get(
                        "notifications") or {}
            if acknowledged is not None:
                break
        if acknowledged is None:
            channel.close()
            raise TransportError("%s ended subscriptions/listen without "
                                 "acknowledging it" % self.name)
        channel.sock.settimeout(None)
        self.subscription = channel
        self.start_reader(self.read_subscription, "listen", channel, events)
        return acknowledged

    def read_subscription(self, channel, events):
        try:
            for text in events:
                if text is None:
                    continue
                for item in as_messages(parse_message(text)):
                    if isinstance(item, dict) and "method" in item and \
                            "id" not in item:
                        self.notification(item)
        except (OSError, ValueError, TransportError,
                http.client.HTTPException) as error:
            log.debug("%s: the subscription stream broke: %s", self.name,
                      error)
        channel.close()


class MCPClient(MCPRequests, MCPLifecycle, JSONRPCSession, HTTPStreams,
                HTTPTransport):
    """ A client of one MCP server over Streamable HTTP (checklist section 3).

    The protocol core (JSONRPCSession, MCPLifecycle, MCPRequests: ids,
    eras, MRTR, requests from the server) over the Streamable HTTP
    transport (HTTPTransport and HTTPStreams: ``exchange``,
    ``post_no_answer``, ``open``), which StdioClient replaces with a
    child's stdin and stdout.  The knobs of them all are here.

    Eras (checklist 1.1-1.3): with ``era = "auto"`` (the default) the first
    request is ``server/discover`` with the 2026-07-28 ``_meta``; a server
    that does not speak that era is asked ``initialize`` instead (C18), and a
    server that answers ``initialize`` with a 2026-only version list is asked
    ``server/discover`` (``era = "legacy"`` starts there).  ``era =
    "modern"`` or ``"legacy"`` never falls back.  The era chosen is kept for
    the client's life (C18: cache the era) and logged at INFO (``-v``).

    Handshake era: every message is its own POST (C1) that accepts both JSON
    and SSE (C2); the answer is read by its Content-Type (C3):
    ``application/json``, ``text/event-stream`` or ``application/x-ndjson``.
    After ``initialize`` the session id and the negotiated version ride on
    every request (C9, C12).  A 404 for the session re-initializes once and
    retries once (C10, field notes B-7).  An SSE stream that drops before
    the response is resumed with GET and Last-Event-ID after waiting
    ``retry`` (C5-C7).  A call ends at its deadline, with a cancellation
    sent (C13, C14).  Requests from the server (ping, roots/list,
    sampling/createMessage, elicitation/create) are answered by the
    handlers below and POSTed back.

    2026-07-28 era (C17): no session; every request carries ``_meta``
    (protocolVersion, clientCapabilities, clientInfo) and the headers
    ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name`` and
    ``Mcp-Param-*`` (from ``x-mcp-header``; a tool whose annotations cannot
    be honoured is left out of ``list_tools``).  A result's ``resultType``
    is ``complete`` when absent; ``input_required`` is answered with the
    same handlers and the request retried under a new id with
    ``inputResponses`` and the ``requestState`` echoed (MRTR, SEP-2322); an
    unknown one is an error.  A stream that breaks is re-issued once under
    a new id; cancelling closes the stream.

    Handlers for what servers ask (the host supplies them; absent ones are
    not declared as capabilities, so a server does not ask):

        on_sampling(params, client)     -> CreateMessageResult
        on_elicitation(params, client)  -> ElicitResult
        roots                           list of {"uri", "name"}, or a
                                        callable returning one; default:
                                        the current directory (file://)
        on_log(name, params)            notifications/message
        on_list_changed(name, method)   notifications/*/list_changed

    A handler raises MCPError to refuse (sent to the server as the error).
    Knobs are attributes, settable as keywords.
    """

    timeout = 60.0              # seconds a call may go without progress
    max_timeout = 600.0         # seconds a call may take, progress or not
    connect_timeout = 10.0      # seconds to open a TCP connection
    resume_attempts = 5         # GETs in a row that bring nothing new
    default_retry = 1000        # ms before resuming when no retry: came
    protocol_version = PROTOCOL_VERSION     # offered in initialize
    modern_version = MODERN_VERSION         # sent in 2026-07-28 _meta
    era = "auto"                # "auto", "modern" (2026-07-28), "legacy"
    max_input_rounds = 10       # input_required rounds before giving up
    standalone_stream = True    # GET stream for the server's requests (C8)
    user_agent = "mcp-weather-client/" + __version__
    oauth = None                # an OAuth, for a server that answers 401

    def __init__(self, url, name="server", headers=None, token=None,
                 trace=None, on_log=None, on_sampling=None,
                 on_elicitation=None, roots=None, on_list_changed=None,
                 **knobs):
        for key, value in knobs.items():
            if not hasattr(type(self), key) or key.startswith("_"):
                raise TypeError("unknown MCPClient setting %r" % key)
            setattr(self, key, value)
        if self.era not in ("auto", "modern", "legacy"):
            raise TypeError("era must be auto, modern or legacy, not %r"
                            % (self.era,))
        self.url, self.name = url, name
        self.headers = dict(headers or {})
        self.token = token
        self.trace = trace          # callable(text), for --trace
        self.on_log = on_log        # callable(name, params) for logs
        self.on_sampling = on_sampling
        self.on_elicitation = on_elicitation
        self.on_list_changed = on_list_changed
        self.roots = roots
        self.pool = self.make_pool()
        self.standalone = None      # the GET stream's Channel, when open
        self.subscription = None    # the subscriptions/listen stream
        self.readers = []           # threads reading those streams
        self.closing = False        # close() has begun
        self.session_id = None
        self.version = None
        self.modern = False         # the 2026-07-28 era was chosen
        self.chosen_era = None      # kept after the first connect (C18)
        self.server_info = {}
        self.capabilities = {}
        self.instructions = None
        self.tool_params = {}       # tool -> [(argument, header, type)]
        self.refused_tools = {}     # tool -> why its annotations fail
        self.generation = 0         # counts initializations, for C10
        self.connecting = threading.Lock()  # held while a session starts
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.inflight = {}          # request id -> Waiter

    def __repr__(self):
        return "<MCPClient %s %s>" % (self.name, self.url)


# ==========================================================================
# StdioClient: a server this client starts as a child process
# ==========================================================================

# What a child inherits from our environment: enough to find programs and
# the home directory, and the locale; never the rest, which holds the LLM's
# key and tokens of other servers (issue 16).  The TypeScript SDK keeps the
# same short list; its entry's "env" adds the rest.
SAFE_ENVIRONMENT = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE",
    "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR",
    # Windows
    "APPDATA", "HOMEDRIVE", "HOMEPATH", "LOCALAPPDATA",
    "PROCESSOR_ARCHITECTURE",
    "PROGRAMFILES", "SYSTEMDRIVE", "SYSTEMROOT", "TEMP", "TMP", "USERNAME",
    "USERPROFILE", "PATHEXT", "COMSPEC", "WINDIR")


def child_environment(extra=None, environ=None):
    """ The environment of a stdio child: SAFE_ENVIRONMENT from ours (no
    exported shell functions), then the entry's own ``env``. """
    environ = os.environ if environ is None else environ
    environment = dict((key, environ[key]) for key in SAFE_ENVIRONMENT
                       if key in environ and
                       not environ[key].startswith("()"))
    environment.update((str(k), str(v)) for k, v in (extra or {}).items())
    return environment


class StdioWaiter(object):
    """ Waits for the response to one request sent to a child: the reader
    thread hands it over (``put``), or the child's end (``fail``). """

    channel = None          # MCPClient.cancel_all looks for one

    def __init__(self, request_id, method, token, on_progress, deadline):
        self.request_id, self.method = request_id, method
        self.token, self.on_progress = token, on_progress
        self.deadline = deadline
        self.cancelled = False
        self.answer = None
        self.ready = threading.Event()
        self.busy = lambda: False   # True while a server request is served

    def put(self, message):
        if self.answer is None:
            self.answer = message
            self.ready.set()

    def fail(self, error):
        self.put(error)

    def wait(self):
        """ The response; socket.timeout at the deadline, which progress
        notifications push back (C14). """
        while not self.ready.wait(max(self.deadline.left(), 0.01)):
            if self.busy():     # the person is answering the server
                self.deadline.progressed()
            elif self.deadline.left() <= 0:
                raise socket.timeout("deadline passed")
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class StdioClient(MCPClient):
    """ A client of one MCP server started as a child process (stdio).

    The protocol session is MCPClient's; only the transport differs: each
    message is one line of JSON on the child's stdin, and a reader thread
    takes the lines of its stdout, handing responses to their waiters,
    requests from the server to the handlers (in a thread of their own, as
    a person may take a while) and notifications to the log.

    What stdio servers do in the wild (field notes E-1 to E-4): the child
    gets a small safe environment plus its entry's ``env`` (never the LLM
    key); its stderr goes to our log; a stdout line that is not JSON is
    logged and skipped; a child that exits fails the calls in flight with
    one line and is started again on the next use; a command that does not
    exist is an error for this server only.  ``close()`` follows the spec's
    stdio shutdown: close stdin, wait ``shutdown_wait``, SIGTERM, wait,
    SIGKILL; the child runs in its own process group, which is ended too,
    so a server started through a wrapper (npx, uvx, a shell script) does
    not outlive us as a grandchild.

    The handshake comes first here (``era = "legacy"``, falling back to
    2026-07-28): nearly every published stdio server speaks it, and some
    never answer a request that comes before initialize.
    """

    era = "legacy"
    shutdown_wait = 2.0         # seconds after closing stdin, and SIGTERM

    def __init__(self, command, args=(), env=None, cwd=None, name="server",
                 environ=None, **options):
        self.command, self.args = command, list(args or ())
        self.env, self.cwd = dict(env or {}), cwd
        self.environ = environ
        self.process = None
        self.writing = threading.Lock()
        self.stderr_tail = collections.deque(maxlen=5)
        self.answering = 0          # server requests being answered
        MCPClient.__init__(self, None, name, **options)
        self.url = "stdio: " + " ".join([command] + self.args)

    def make_pool(self):
        return None

    def __repr__(self):
        return "<StdioClient %s %s>" % (self.name, self.url)

    def describe_era(self):
        return MCPClient.describe_era(self).replace(
            ", session none: stateless", ", stdio")

    # -- the child ---------------------------------------------------------

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        """ Start the child, with its stdio as the transport. """
        import subprocess       # here, not on top: only stdio needs it
        argv = [self.command] + self.args
        log.info("%s: starting %s", self.name, " ".join(argv))
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=self.cwd, bufsize=-1,
                env=child_environment(self.env, self.environ),
                start_new_session=(os.name == "posix"))
        except OSError as error:
            raise TransportError("%s: cannot start %r: %s" % (
                self.name, self.command, error.strerror or error))
        self.process = process
        RUNNING_CHILDREN.add(self)
        self.stderr_tail.clear()
        readers = [threading.Thread(target=target, args=(process,),
                                    daemon=True, name="%s-%s" % (
                                        self.name, target.__name__))
                   for target in (self.read_stdout, self.read_stderr)]
        process.stderr_reader = readers[1]      # child_gone() waits for it
        for reader in readers:
            reader.start()

    def connect(self):
        with self.lock:
            if not self.running():
                self.session_id = self.version = None
                self.start()
        return MCPClient.connect(self)

    def ensure_connected(self):
        with self.connecting:
            if self.version is None or not self.running():
                self.connect()

    def close(self):
        """ The stdio shutdown (lifecycle): close stdin, wait, SIGTERM,
        wait, SIGKILL, for the child and its process group. """
        with self.lock:
            process, self.process = self.process, None
            self.version = None
        RUNNING_CHILDREN.discard(self)
        if process is not None:
            stop_child(process, self.shutdown_wait)

    def read_stdout(self, process):
        """ The reader thread: one JSON-RPC message per line (E-4: a line
        that is not JSON is logged and skipped). """
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            self.show("< " + line)
            try:
                messages = as_messages(json.loads(line))
            except ValueError:
                log.warning("%s: skipped a line on stdout that is not "
                            "JSON-RPC: %s", self.name, line[:200])
                continue
            for message in messages:
                if isinstance(message, dict):
                    self.dispatch(message)
        self.child_gone(process)
        process.stdout.close()

    def read_stderr(self, process):
        """ The child's stderr goes to our log, never into the protocol. """
        try:
            for raw in iter(process.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self.stderr_tail.append(line)
                    log.info("%s: stderr: %s", self.name, line)
        except (OSError, ValueError):   # the pipe closed under us (3.6)
            pass
        process.stderr.close()

    def child_gone(self, process):
        """ stdout ended: the child exited (or closed it).  The calls in
        flight fail with one line; the next use starts it again. """
        import subprocess
        try:
            status = process.wait(timeout=self.shutdown_wait)
        except subprocess.TimeoutExpired:
            status = None
        with self.lock:
            mine = self.process is process
            if mine:
                self.version = None
            waiters = list(self.inflight.values()) if mine else []
        if not mine:
            return      # close() ended it
        # Its last words may still be in the stderr pipe when stdout ends:
        # read them to the end (bounded: a grandchild may hold the pipe).
        process.stderr_reader.join(self.shutdown_wait)
        with self.writing:
            try:
                process.stdin.close()
            except OSError:
                pass
        reason = "%s: the server exited%s%s" % (
            self.name, "" if status is None else " (status %s)" % status,
            "; its last words: %s" % self.stderr_tail[-1]
            if self.stderr_tail else "")
        log.warning("%s; it starts again on the next use", reason)
        for waiter in waiters:
            waiter.fail(TransportError(reason))

    def dispatch(self, message):
        method = message.get("method")
        if method is None:
            with self.lock:
                waiter = self.inflight.get(message.get("id"))
            if waiter is not None:
                waiter.put(message)
            else:
                log.debug("%s: ignoring a response to %r", self.name,
                          message.get("id"))
        elif "id" in message:
            threading.Thread(target=self.answer, args=(message,),
                             daemon=True).start()
        elif method == "notifications/progress":
            self.progress(message.get("params") or {})
        else:
            self.notification(message)

    def answer(self, message):
        if self.modern:
            log.warning("%s: ignoring a %s request: 2026-07-28 servers ask "
                        "through input_required", self.name,
                        message.get("method"))
            return
        with self.lock:             # a person's time is not the call's
            self.answering += 1
        try:
            self.send(self.reply_to(message))
        except TransportError as error:
            log.warning("%s: could not answer %s: %s", self.name,
                        message.get("method"), error)
        finally:
            with self.lock:
                self.answering -= 1
                waiters = list(self.inflight.values())
            for waiter in waiters:
                waiter.deadline.progressed()

    def progress(self, params):
        with self.lock:
            waiters = [w for w in self.inflight.values()
                       if w.token is not None and
                       w.token == params.get("progressToken")]
        for waiter in waiters:
            waiter.deadline.progressed()
            waiter.on_progress(params.get("progress"), params.get("total"),
                               params.get("message"))

    # -- the transport -----------------------------------------------------

    def send(self, message):
        """ One line on the child's stdin (E-3: a broken pipe ends this
        server, in one line). """
        text = json.dumps(message, ensure_ascii=False)
        self.show("> " + text)
        with self.writing:
            process = self.process
            if process is None:
                raise TransportError("%s: the server is not running"
                                     % self.name)
            try:
                process.stdin.write((text + "\n").encode("utf-8"))
                process.stdin.flush()
            except (OSError, ValueError):
                raise TransportError("%s: the server's stdin is closed (it "
                                     "exited)" % self.name)

    def exchange(self, method, params, on_progress, timeout):
        message, token = self.new_request(method, params, on_progress)
        idle, deadline = self.call_deadline(timeout)
        request_id = message["id"]
        waiter = StdioWaiter(request_id, method, token, on_progress,
                             deadline)
        waiter.busy = lambda: self.answering > 0
        with self.lock:
            self.inflight[request_id] = waiter
        try:
            with self.cancelled_if_abandoned(waiter, idle):
                self.send(message)
                return response_result(waiter.wait())
        finally:
            with self.lock:
                self.inflight.pop(request_id, None)

    def cancel(self, waiter, reason):
        """ notifications/cancelled (C13; over stdio in both eras: there
        is no stream to close), and the waiter stops at once. """
        waiter.cancelled = True
        waiter.fail(CallCancelled("%s: %s cancelled" % (self.name,
                                                        waiter.method)))
        if waiter.method == "initialize":
            return
        try:
            self.notify("notifications/cancelled", {
                "requestId": waiter.request_id, "reason": reason})
        except TransportError as error:
            log.debug("%s: could not send the cancellation: %s",
                      self.name, error)

    def post_no_answer(self, message, timeout=None):
        self.send(message)


# Every StdioClient with a child, so that none outlives this process even
# when a program forgets close() (E-1): at exit they are closed.
RUNNING_CHILDREN = weakref.WeakSet()


@atexit.register
def close_children():
    for client in list(RUNNING_CHILDREN):
        client.close()


def stop_child(process, wait):
    """ End a stdio child: close its stdin and give it ``wait`` seconds,
    then SIGTERM, then SIGKILL; then the same for what is left of its
    process group (a wrapper's grandchildren, E-2). """
    import subprocess
    try:
        process.stdin.close()
    except OSError:
        pass
    for step in (None, signal.SIGTERM, getattr(signal, "SIGKILL", None)):
        if step is not None:
            signal_child(process, step)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if os.name == "posix":
        end_group(process.pid, wait)
    for stream in (process.stdout, process.stderr):
        try:
            stream.close()
        except OSError:
            pass


def signal_child(process, number):
    try:
        if os.name == "posix":
            os.killpg(process.pid, number)
        else:
            process.terminate() if number == signal.SIGTERM else \
                process.kill()
    except OSError:
        pass        # already gone


def end_group(group, wait):
    """ SIGTERM what is left in a process group, then SIGKILL. """
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, number)
        except OSError:
            return          # nobody left
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except OSError:
                return
            time.sleep(0.02)


# ==========================================================================
# LegacySSEClient: the HTTP+SSE transport of 2024-11-05 (C15)
# ==========================================================================

class LegacySSEClient(StdioClient):
    """ A client of a server that speaks only the old HTTP+SSE transport
    (2024-11-05; the spec's backwards-compatibility section, C15): a GET
    opens a stream whose first event, ``endpoint``, names the URL to POST
    messages to; every answer comes back on that one stream.  So the
    session logic is StdioClient's (a reader hands answers to waiters),
    with the GET stream for stdout and a POST per message for stdin.

    ``fall_back_to_sse(client, error)`` swaps it in when a Streamable HTTP
    ``initialize`` fails with 400, 404 or 405 and a GET of the same URL
    brings that ``endpoint`` event.
    """

    era = "legacy"

    def __init__(self, url, name="server", headers=None, token=None,
                 **options):
        self.process = None         # the GET stream's Channel
        self.command, self.args, self.env, self.cwd = url, [], {}, None
        self.environ = None
        self.writing = threading.Lock()
        self.stderr_tail = collections.deque(maxlen=1)
        self.answering = 0
        self.endpoint = None
        self.ready = threading.Event()
        MCPClient.__init__(self, url, name, headers, token, **options)
        self.posts = None           # ConnectionPool of the endpoint

    def make_pool(self):
        return ConnectionPool(self.url, self.connect_timeout)

    def __repr__(self):
        return "<LegacySSEClient %s %s>" % (self.name, self.url)

    def describe_era(self):
        return "MCP %s (HTTP+SSE, messages to %s)" % (self.version,
                                                       self.endpoint)

    def open_standalone(self):
        pass                        # the one stream is already open

    def running(self):
        return self.process is not None and not self.closing

    def start(self):
        """ GET the stream and wait for its ``endpoint`` event. """
        self.ready.clear()
        self.closing = False
        channel = self.open("GET", None, Deadline(self.connect_timeout,
                                                  self.connect_timeout),
                            extra={"Accept": "text/event-stream"})
        response = channel.response
        if response.status != 200 or essence(response.getheader(
                "Content-Type")) != "text/event-stream":
            body = response.read()
            channel.close()
            raise self.status_error(response, body) \
                if response.status >= 400 else TransportError(
                    "%s: GET %s is not an SSE stream" % (self.name, self.url))
        channel.sock.settimeout(None)
        self.process = channel
        self.start_reader(self.read_events, "sse-stream", channel)
        if not self.ready.wait(self.connect_timeout) or not self.endpoint:
            self.close()
            raise TransportError("%s: the SSE stream sent no endpoint event "
                                 "(not an HTTP+SSE server)" % self.name)
        self.posts = ConnectionPool(self.endpoint, self.connect_timeout)

    def read_events(self, channel):
        reader = SSEReader(channel.response, on_line=lambda line: self.show(
            "< " + line if line else "<"))
        try:
            for text in reader.events():
                if text is None:
                    continue
                if reader.event == "endpoint":
                    self.endpoint = urllib.parse.urljoin(self.url,
                                                         text.strip())
                    self.ready.set()
                    continue
                try:
                    messages = as_messages(json.loads(text))
                except ValueError:
                    log.warning("%s: skipped an event that is not JSON: %s",
                                self.name, text[:200])
                    continue
                for message in messages:
                    if isinstance(message, dict):
                        self.dispatch(message)
        finally:
            self.ready.set()
            self.stream_gone(channel)

    def stream_gone(self, channel):
        with self.lock:
            mine = self.process is channel
            if mine:
                self.process, self.version = None, None
            waiters = list(self.inflight.values()) if mine else []
        channel.close()
        if mine and not self.closing:
            log.warning("%s: the SSE stream ended; it is opened again on "
                        "the next use", self.name)
        for waiter in waiters:
            waiter.fail(TransportError("%s: the SSE stream ended before the "
                                       "answer" % self.name))

    def send(self, message):
        """ POST one message to the endpoint; 202 (or any 2xx) is fine. """
        if self.posts is None:
            raise TransportError("%s: the SSE stream is not open"
                                 % self.name)
        body = json.dumps(message).encode("utf-8")
        headers = self.request_headers(None, {
            "Content-Type": "application/json"})
        connection, _ = self.posts.take(self.connect_timeout)
        try:
            self.show_request("POST", headers, body)
            connection.request("POST", self.posts.target, body, headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise TransportError("cannot reach %s at %s: %s" % (
                self.name, self.endpoint, error))
        self.show_response(response)
        self.posts.give_back(connection, response)
        if response.status >= 400:
            raise self.status_error(response, answer)

    def close(self):
        self.closing = True
        with self.lock:
            channel, self.process = self.process, None
            self.version = None
        if channel is not None:
            channel.shutdown()
        for thread in self.readers:
            if thread is not threading.current_thread():
                thread.join(1.0)
        self.readers = []
        for pool in (self.pool, self.posts):
            if pool is not None:
                pool.close()


def fall_back_to_sse(client, error):
    """ A LegacySSEClient for the server ``client`` could not initialize,
    connected, when ``error`` (from a Streamable HTTP initialize) is a 400,
    404 or 405 and the URL serves the old HTTP+SSE transport (C15); else
    None. """
    if type(client) is not MCPClient or \
            getattr(error, "status", None) not in (400, 404, 405):
        return None
    legacy = LegacySSEClient(
        client.url, client.name, client.headers, client.token,
        trace=client.trace, on_log=client.on_log,
        on_sampling=client.on_sampling, on_elicitation=client.on_elicitation,
        roots=client.roots, on_list_changed=client.on_list_changed,
        timeout=client.timeout, max_timeout=client.max_timeout)
    try:
        legacy.connect()
    except (TransportError, MCPError) as problem:
        log.info("%s: no HTTP+SSE transport either: %s", client.name,
                 problem)
        legacy.close()
        return None
    log.info("%s: the server speaks the old HTTP+SSE transport (C15)",
             client.name)
    return legacy


def connect_client(client):
    """ client.connect(), or the HTTP+SSE client that replaces it (C15);
    returns the client that is connected. """
    try:
        client.connect()
        return client
    except (TransportError, MCPError) as error:
        legacy = fall_back_to_sse(client, error)
        if legacy is None:
            raise
        client.close()
        return legacy


# ==========================================================================
# Tools for a model: names and schemas an OpenAI-compatible API accepts
# ==========================================================================

MAX_NAME = 64               # names match ^[a-zA-Z0-9_-]{1,64}$


def model_tool_name(server, tool, taken=()):
    """ The name a model sees for a server's tool (field notes B-22).

    ``<server>__<tool>``, with every character outside ``[a-zA-Z0-9_-]``
    turned into ``_``.  A name longer than 64 characters, or one that
    collides with a name already ``taken``, keeps its head and gains a
    short hash of the original, so tools that differ only at the end stay
    apart.  Callers keep the reverse map: never split a name to route it.
    """
    original = "%s__%s" % (server, tool)
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", original)
    if len(name) > MAX_NAME or name in taken:
        digest = hashlib.sha1(original.encode("utf-8")).hexdigest()[:8]
        name = name[:MAX_NAME - 9] + "_" + digest
    return name


SCHEMA_TYPES = ("object", "array", "string", "number", "integer",
                "boolean", "null")


def model_parameters(schema):
    """ A tool's inputSchema, fixed for OpenAI-compatible validators (B-23).

    Validators reject what MCP servers happily send: ``$schema``, arrays
    without ``items``, objects without ``properties``, ``required`` names
    that are not properties.  This returns a fixed copy, or raises
    SchemaProblem when the schema is not an object schema at all.
    """
    if schema is None:
        return {"type": "object", "properties": {}}
    if not isinstance(schema, dict):
        raise SchemaProblem("inputSchema is %s, not a JSON object"
                            % type(schema).__name__)
    if schema.get("type", "object") != "object":
        raise SchemaProblem("inputSchema has type %r; tools take an object"
                            % (schema.get("type"),))
    fixed = fix_schema(copy.deepcopy(schema), "inputSchema")
    fixed["type"] = "object"
    fixed.setdefault("properties", {})
    return fixed


def fix_schema(node, where):
    if node is True or node == {}:
        return {}
    if not isinstance(node, dict):
        raise SchemaProblem("%s is not a schema" % where)
    for key in ("$schema", "$id", "$comment"):
        node.pop(key, None)
    kinds = node.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    for kind in kinds:
        if kind is not None and kind not in SCHEMA_TYPES:
            raise SchemaProblem("%s has unknown type %r" % (where, kind))
    if "object" in kinds:
        fix_object(node, where)
    if "array" in kinds:
        items = node.get("items", {})
        node["items"] = fix_schema(items, where + ".items") \
            if not isinstance(items, list) else \
            [fix_schema(item, where + ".items") for item in items]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(node.get(key), list):
            node[key] = [fix_schema(part, "%s.%s" % (where, key))
                         for part in node[key]]
    for key in ("$defs", "definitions"):
        if isinstance(node.get(key), dict):
            node[key] = {name: fix_schema(part, "%s.%s" % (where, name))
                         for name, part in node[key].items()}
    return node


def fix_object(node, where):
    properties = node.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    node["properties"] = {
        name: fix_schema(part, "%s.%s" % (where, name))
        for name, part in properties.items()}
    required = node.get("required")
    if required is not None:
        node["required"] = [name for name in required
                            if name in node["properties"]] \
            if isinstance(required, list) else []
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        node["additionalProperties"] = fix_schema(
            extra, where + ".additionalProperties")


def result_text(result):
    """ A CallToolResult as text for a model or a terminal.

    Text is kept; other content types get a short description, since a
    chat-completions tool message carries text only.
    """
    parts = []
    for item in result.get("content") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            parts.append(item.get("text", ""))
        elif kind == "resource":
            resource = item.get("resource") or {}
            parts.append(resource.get("text") or "[resource %s]"
                         % resource.get("uri", "?"))
        elif kind == "resource_link":
            parts.append("[resource link %s %s]" % (item.get("uri", "?"),
                                                    item.get("name", "")))
        else:
            parts.append("[%s content, %s]" % (kind, item.get("mimeType",
                                                              "?")))
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"]))
    return "\n".join(parts)


# ==========================================================================
# MultiServerClient: every configured server, concurrently
# ==========================================================================

def in_threads(function, argument_tuples):
    """ function(*arguments) for each tuple, all at once, each in its own
    thread; returns when every one has ended.  Ctrl-C interrupts the wait
    (KeyboardInterrupt reaches only the main thread, which waits here). """
    threads = [threading.Thread(target=function, args=tuple(arguments),
                                daemon=True)
               for arguments in argument_tuples]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class ModelTool(object):
    """ One server's tool as a model sees it, and the way back to it. """

    def __init__(self, name, server, tool, parameters):
        self.name, self.server, self.tool = name, server, tool
        self.parameters = parameters

    def spec(self):
        return {"type": "function", "function": {
            "name": self.name,
            "description": (self.tool.get("description") or
                            self.tool.get("title") or self.tool["name"]),
            "parameters": self.parameters}}


class MultiServerClient(object):
    """ Several MCP servers behind one tool list.

    ``connect()`` reaches every server at once; a server that fails is
    reported in ``failures`` (name -> reason) and skipped while the rest
    work.  ``tools`` maps each model-facing name to its server and tool.
    """

    listen_changes = False      # 2026-07-28: subscriptions/listen (chat)

    def __init__(self, clients):
        self.clients = dict(clients)            # name -> MCPClient
        self.failures = {}
        self.tools = {}                         # model name -> ModelTool
        self.dropped = []                       # (server, tool, reason)
        self.stale = set()      # servers whose tools changed since listed
        self.lock = threading.Lock()
        for client in self.clients.values():
            if client.on_list_changed is None:
                client.on_list_changed = self.changed

    def changed(self, server, method):
        """ notifications/tools/list_changed: the tools are listed again
        before the model is next offered them. """
        if method == "notifications/tools/list_changed":
            with self.lock:
                self.stale.add(server)

    def refresh(self):
        with self.lock:
            stale, self.stale = self.stale, set()
        for server in sorted(stale):
            try:
                tools = self.clients[server].list_tools()
            except Exception as error:  # keep the old list; say why
                log.warning("%s: cannot list the changed tools: %s",
                            server, error)
                continue
            for name in [n for n, t in self.tools.items()
                         if t.server == server]:
                del self.tools[name]
            self.dropped = [d for d in self.dropped if d[0] != server]
            for tool in tools:
                self.add_tool(server, tool)
            log.info("%s: the tools changed; %d offered now", server,
                     len(tools))

    def connect(self):
        listed = {}

        def reach(name, client):
            try:
                client = self.clients[name] = connect_client(client)
                listed[name] = client.list_tools()
                if self.listen_changes and client.modern and \
                        client.listen_filter():
                    self.listen(name, client)
            except Exception as error:    # one server never stops the rest
                log.debug("%s: connect failed", name, exc_info=True)
                self.failures[name] = str(error) or type(error).__name__
                client.close()
        in_threads(reach, sorted(self.clients.items()))
        for name in sorted(listed):
            for tool in listed[name]:
                self.add_tool(name, tool)
        return self

    def add_tool(self, server, tool):
        try:
            if not isinstance(tool.get("name"), str):
                raise SchemaProblem("it has no name")
            parameters = model_parameters(tool.get("inputSchema"))
        except SchemaProblem as problem:
            self.dropped.append((server, tool.get("name"), str(problem)))
            log.warning("%s: tool %r left out: %s", server,
                        tool.get("name"), problem)
            return
        name = model_tool_name(server, tool["name"], self.tools)
        self.tools[name] = ModelTool(name, server, tool, parameters)

    def listen(self, name, client):
        """ Open a 2026-07-28 subscription for list changes; a server that
        has none is only logged (its tools stay as listed). """
        try:
            log.info("%s: listening for %s", name, client.listen())
        except (TransportError, MCPError) as error:
            log.info("%s: no subscriptions/listen (%s); list changes will "
                     "not be seen", name, error)

    @property
    def connected(self):
        return sorted(name for name in self.clients
                      if name not in self.failures)

    def specs(self):
        self.refresh()
        return [tool.spec() for tool in self.tools.values()]

    def call(self, name, arguments, on_progress=None):
        """ Run a model's tool call; return (text, is_error).  Failures of
        every kind become text, so the model can read them and go on. """
        tool = self.tools.get(name)
        if tool is None:
            return "Error: there is no tool named %r" % name, True
        client = self.clients[tool.server]
        try:
            result = client.call_tool(tool.tool["name"], arguments,
                                      on_progress)
        except Exception as error:      # the model reads it and goes on
            log.debug("%s: call failed", name, exc_info=True)
            return "Error: %s" % (str(error) or type(error).__name__), True
        return result_text(result), bool(result.get("isError"))

    def cancel_all(self, reason):
        for client in self.clients.values():
            client.cancel_all(reason)

    def close(self):
        for client in self.clients.values():
            client.close()


# ==========================================================================
# Chat: the model, its tool calls, and the person
# ==========================================================================

class Chat(object):
    """ A conversation where the model may call tools.

    Each round the model may ask for several tools at once; they run
    concurrently and each result goes back with its ``tool_call_id``.
    After ``max_tool_rounds`` rounds the model must answer without tools.
    A failing tool is a result the model reads, never a crash.
    """

    def __init__(self, servers, model, system_prompt="", stream=True,
                 max_tool_rounds=8, out=None, err=None):
        self.servers, self.model = servers, model
        self.system_prompt = system_prompt
        self.stream, self.max_tool_rounds = stream, max_tool_rounds
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.reset()

    def reset(self):
        self.messages = []
        if self.system_prompt:
            self.messages.append({"role": "system",
                                  "content": self.system_prompt})

    def ask(self, question):
        """ Add the person's question; return the model's final answer,
        which was also written to ``out`` (as it streamed, if it did).

        If anything fails on the way, the conversation is rewound to
        before the question: an assistant message whose tool calls have
        no results would make the API refuse every later turn.
        """
        start = len(self.messages)
        self.messages.append({"role": "user", "content": question})
        try:
            return self.answer()
        except BaseException:
            del self.messages[start:]
            raise

    def answer(self):
        for round_number in range(self.max_tool_rounds + 1):
            tools = self.servers.specs() \
                if round_number < self.max_tool_rounds else None
            reply = self.model.chat(self.messages, tools, self.stream,
                                    on_text=self.write)
            if not self.stream and reply.content:
                self.write(reply.content)
            self.messages.append(reply.message())
            if not reply.tool_calls:
                self.write("\n")
                return reply.content or ""
            if tools is None:
                break
            self.messages.extend(self.run_tools(reply.tool_calls))
        self.messages.pop()     # tool calls that will never be answered
        self.write("(stopped after %d rounds of tool calls)\n"
                   % self.max_tool_rounds)
        return reply.content or ""

    def run_tools(self, calls):
        """ Run one round's tool calls concurrently; results in order. """
        results = [None] * len(calls)

        def run(index, call):
            results[index] = self.run_tool(call)
        try:
            in_threads(run, enumerate(calls))
        except KeyboardInterrupt:
            self.servers.cancel_all("interrupted by the user")
            raise
        return results

    def run_tool(self, call):
        function = call.get("function") or {}
        name = function.get("name", "")
        try:
            arguments = json.loads(function.get("arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            text = "Error: the arguments are not a JSON object (%s)" % error
        else:
            self.note("[calling %s %s]" % (name, json.dumps(arguments)))
            progress = ProgressLine(name, self.err)
            text, is_error = self.servers.call(name, arguments, progress)
            progress.done()
            if is_error:
                self.note("[%s failed: %s]" % (name, text[:200]))
        return {"role": "tool", "tool_call_id": call.get("id", ""),
                "content": text}

    def write(self, text):
        self.out.write(text)
        self.out.flush()

    def note(self, text):
        self.err.write(text + "\n")
        self.err.flush()


class ProgressLine(object):
    """ Shows a tool's progress notifications (6.1): on a terminal, one
    line rewritten in place and wiped at the end; elsewhere (a log, a
    pipe), one line per notification. """

    def __init__(self, name, stream):
        self.name, self.stream = name, stream
        self.terminal = getattr(stream, "isatty", lambda: False)()
        self.shown = False

    def __call__(self, progress, total, message):
        done = "%s/%s" % (progress, total) if total else str(progress)
        text = "[%s] %s %s" % (self.name, done, message or "")
        if self.terminal:
            self.stream.write("\r\x1b[K" + text.rstrip())
            self.shown = True
        else:
            self.stream.write(text.rstrip() + "\n")
        self.stream.flush()

    def done(self):
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# ==========================================================================
# Host: what servers ask of the person and of the model
# ==========================================================================

class Host(object):
    """ Answers the requests servers send (or list in 2026-07-28
    inputRequests), the way a person using Claude Desktop expects:

    ``sampling/createMessage``: the configured model answers, through
    llm.py, once the person approved it at the terminal (policy ``ask``),
    or at once (``allow``); ``deny`` does not offer sampling at all.
    Tools in the request (2025-11-25) go to the model, and its tool calls
    come back as ``tool_use`` content.

    ``elicitation/create``: form mode asks field by field, validated
    against the requested schema, with its defaults (SEP-1034) and enums
    (SEP-1330); a wrong answer is explained and asked again, never sent.
    URL mode shows the URL and, if the person agrees, opens it
    (``webbrowser``).  Same policies.

    Where no person is at a terminal (stdin is not a tty), ``ask`` declines
    with an error that says so and names the setting to change.
    ``roots``: the entry's list, else the top-level one, else the current
    directory.  Log messages from servers are shown on ``err`` when
    ``show_logs`` (the chat), and logged (``-v``) otherwise.
    """

    def __init__(self, terminal, make_model=None, interactive=None,
                 show_logs=False, open_url=None):
        self.terminal = terminal
        self.make_model = make_model    # () -> llm.ChatClient, on first use
        self.model = None
        if interactive is None:
            interactive = getattr(terminal.stdin, "isatty", lambda: False)()
        self.interactive = interactive
        self.show_logs = show_logs
        self.open_url = open_url or open_in_browser
        self.asking = threading.Lock()  # one question at a time

    def handlers(self, entry):
        """ MCPClient keywords for one server entry. """
        name = entry["name"]
        options = {"on_log": self.server_log}
        if entry.get("roots") is not None:
            options["roots"] = config_roots(entry["roots"])
        if entry.get("sampling", "ask") != "deny":
            options["on_sampling"] = lambda params, client: self.sample(
                name, entry.get("sampling", "ask"), params)
        if entry.get("elicitation", "ask") != "deny":
            options["on_elicitation"] = lambda params, client: self.elicit(
                name, entry.get("elicitation", "ask"), params)
        return options

    # -- the person --------------------------------------------------------

    def say(self, text):
        self.terminal.err.write(text + "\n")
        self.terminal.err.flush()

    def ask(self, prompt):
        """ One line from the person (None at the end of input). """
        self.terminal.err.write(prompt)
        self.terminal.err.flush()
        line = self.terminal.stdin.readline()
        return None if not line else line.rstrip("\r\n")

    def yes(self, prompt):
        answer = self.ask(prompt + " [y/N] ")
        return answer is not None and answer.strip().lower() in ("y", "yes")

    def need_person(self, server, what, policy):
        """ The person must answer, and there is none: a clear error. """
        if not self.interactive:
            raise MCPError(USER_REJECTED, "%s needs a person to approve it "
                           "and none is at a terminal; set \"%s\": \"allow\""
                           " for server %r in config.json to allow it without "
                           "asking" % (what, what.split()[0], server)
                           if policy == "ask" else
                           "%s needs a person at a terminal" % what)

    def server_log(self, server, params):
        """ notifications/message (6.3): in the chat, shown as it comes. """
        data = params.get("data")
        text = data if isinstance(data, str) else json.dumps(data)
        if self.show_logs:
            self.say("[%s %s] %s" % (server, params.get("level", "info"),
                                     text))
        else:
            log.info("%s: [%s] %s", server, params.get("level", "info"),
                     text)

    # -- sampling ----------------------------------------------------------

    def sample(self, server, policy, params):
        """ sampling/createMessage through the configured model. """
        if self.make_model is None:
            raise MCPError(USER_REJECTED, "this client has no model to "
                           "sample with")
        if policy == "ask":
            self.need_person(server, "sampling", policy)
            with self.asking:
                self.say("\n[%s asks the model]" % server)
                for message in params.get("messages") or []:
                    self.say("  %s: %s" % (message.get("role"),
                                           content_text(
                                               message.get("content"))))
                if not self.yes("Allow server %r to use the model for this?"
                                % server):
                    raise MCPError(USER_REJECTED, "the user declined the "
                                   "sampling request")
        if self.model is None:
            self.model = self.make_model()
        messages, tools, options = sampling_request(params)
        reply = self.model.chat(messages, tools, options=options)
        return sampling_result(reply, self.model.model)

    # -- elicitation -------------------------------------------------------

    def elicit(self, server, policy, params):
        """ elicitation/create: form or URL mode (2025-11-25). """
        if params.get("mode") == "url":
            self.need_person(server, "elicitation", "ask")
            with self.asking:
                self.say("\n[%s asks you to open a page] %s\n  %s" % (
                    server, params.get("message", ""), params.get("url")))
                if not self.yes("Open it in your browser?"):
                    return {"action": "decline"}
                self.open_url(params.get("url"))
                return {"action": "accept"}
        schema = params.get("requestedSchema") or {}
        if not self.interactive and policy == "allow":
            content = elicitation_defaults(schema)
            if not validate_elicitation(schema, content):
                return {"action": "accept", "content": content}
        self.need_person(server, "elicitation", policy)
        with self.asking:
            self.say("\n[%s asks] %s" % (server, params.get("message", "")))
            answer = self.ask("Answer? [y]es, [n]o, [c]ancel: ")
            if answer is None or answer.strip().lower() in ("c", "cancel"):
                return {"action": "cancel"}
            if answer.strip().lower() not in ("y", "yes", ""):
                return {"action": "decline"}
            content = self.fill_form(schema)
        if content is None:
            return {"action": "cancel"}
        return {"action": "accept", "content": content}

    def fill_form(self, schema):
        """ Each field in turn, asked until its answer is valid. """
        content = {}
        required = set(schema.get("required") or ())
        for name, field in (schema.get("properties") or {}).items():
            while True:
                line = self.ask(field_prompt(name, field, name in required))
                if line is None:
                    return None
                try:
                    value = field_value(field, line, name in required)
                except ValueError as problem:
                    self.say("  %s" % problem)
                    continue
                if value is not None:
                    content[name] = value
                break
        return content


def open_in_browser(url):
    import webbrowser       # only when a server asks for it
    webbrowser.open(url)


def content_text(content):
    """ SamplingMessage content (one block or a list) as one line. """
    blocks = content if isinstance(content, list) else [content]
    parts = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            parts.append("[calls %s %s]" % (block.get("name"),
                                            json.dumps(block.get("input"))))
        elif block.get("type") == "tool_result":
            parts.append("[result: %s]" % content_text(block.get("content")))
        elif block.get("type") == "resource":
            resource = block.get("resource") or {}
            parts.append(resource.get("text") or "[resource %s]"
                         % resource.get("uri"))
        else:
            parts.append("[%s]" % block.get("type"))
    return " ".join(parts)


def sampling_request(params):
    """ CreateMessageRequest params as (messages, tools, options) for a
    chat-completions API.  tool_use and tool_result blocks (2025-11-25)
    become tool_calls and tool messages. """
    messages = []
    if params.get("systemPrompt"):
        messages.append({"role": "system", "content": params["systemPrompt"]})
    for message in params.get("messages") or []:
        content = message.get("content")
        blocks = content if isinstance(content, list) else [content]
        uses = [b for b in blocks if isinstance(b, dict) and
                b.get("type") == "tool_use"]
        results = [b for b in blocks if isinstance(b, dict) and
                   b.get("type") == "tool_result"]
        for block in results:
            messages.append({"role": "tool", "tool_call_id":
                             block.get("toolUseId", ""),
                             "content": content_text(block.get("content"))})
        rest = [b for b in blocks if b not in uses and b not in results]
        if rest or uses:
            entry = {"role": "assistant" if message.get("role") ==
                     "assistant" else "user",
                     "content": content_text(rest) if rest else None}
            if uses:
                entry["tool_calls"] = [{
                    "id": b.get("id", ""), "type": "function", "function": {
                        "name": b.get("name", ""),
                        "arguments": json.dumps(b.get("input") or {})}}
                    for b in uses]
            messages.append(entry)
    tools = []
    for tool in params.get("tools") or []:
        try:
            tools.append({"type": "function", "function": {
                "name": tool["name"],
                "description": tool.get("description") or tool["name"],
                "parameters": model_parameters(tool.get("inputSchema"))}})
        except (KeyError, TypeError, SchemaProblem) as problem:
            raise MCPError(INVALID_PARAMS, "sampling tool %r: %s"
                           % (tool, problem))
    options = {}
    if params.get("maxTokens"):
        options["max_tokens"] = params["maxTokens"]
    if params.get("temperature") is not None:
        options["temperature"] = params["temperature"]
    if params.get("stopSequences"):
        options["stop"] = params["stopSequences"]
    return messages, tools or None, options


def sampling_result(reply, model):
    """ The model's Reply as a CreateMessageResult. """
    if reply.tool_calls:
        content = []
        if reply.content:
            content.append({"type": "text", "text": reply.content})
        for call in reply.tool_calls:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                arguments = {}
            content.append({"type": "tool_use", "id": call.get("id", ""),
                            "name": function.get("name", ""),
                            "input": arguments})
        return {"role": "assistant", "content": content, "model": model,
                "stopReason": "toolUse"}
    return {"role": "assistant", "model": model,
            "content": {"type": "text", "text": reply.content or ""},
            "stopReason": "maxTokens" if reply.finish_reason == "length"
            else "endTurn"}


def field_choices(field):
    """ [(value, label)] of an enum field (SEP-1330): ``enum`` (with
    ``enumNames``), ``oneOf``/``anyOf`` of ``const`` and ``title``. """
    if isinstance(field.get("enum"), list):
        names = field.get("enumNames") or field["enum"]
        return list(zip(field["enum"], names))
    for key in ("oneOf", "anyOf"):
        if isinstance(field.get(key), list):
            return [(c.get("const"), c.get("title") or c.get("const"))
                    for c in field[key] if isinstance(c, dict)]
    return None


def field_prompt(name, field, required):
    label = field.get("title") or name
    text = "  %s%s" % (label, "" if required else " (optional)")
    if field.get("description"):
        text += " - %s" % field["description"]
    choices = field_choices(field) or (
        field_choices(field.get("items") or {})
        if field.get("type") == "array" else None)
    if choices:
        text += "\n    choose %s: %s" % (
            "one or more, separated by commas" if field.get("type") ==
            "array" else "one", ", ".join("%s" % (v if v == l else
                                                  "%s (%s)" % (v, l))
                                          for v, l in choices))
    if field.get("type") == "boolean":
        text += " [y/n]"
    if "default" in field:
        text += " [default: %s]" % json.dumps(field["default"])
    return text + ": "


def field_value(field, line, required):
    """ The typed value of one answer, or ValueError saying what is wrong.
    An empty answer takes the default (SEP-1034), or leaves an optional
    field out (None). """
    text = line.strip()
    if not text:
        if "default" in field:
            return field["default"]
        if required:
            raise ValueError("an answer is required")
        return None
    kind = field.get("type", "string")
    if kind == "boolean":
        if text.lower() in ("y", "yes", "true"):
            return True
        if text.lower() in ("n", "no", "false"):
            return False
        raise ValueError("answer yes or no")
    if kind == "array":
        value = [part.strip() for part in text.split(",") if part.strip()]
    elif kind in ("integer", "number"):
        try:
            value = int(text) if kind == "integer" else float(text)
        except ValueError:
            raise ValueError("%r is not %s" % (text, "an integer"
                                               if kind == "integer"
                                               else "a number"))
    else:
        value = text
    problem = value_problem(field, value)
    if problem:
        raise ValueError(problem)
    return value


def value_problem(field, value):
    """ Why a value does not fit its (flat) elicitation field, or None. """
    kind = field.get("type", "string")
    types = {"string": str, "boolean": bool, "array": list,
             "integer": int, "number": (int, float)}
    if kind in types and (not isinstance(value, types[kind]) or
                          (kind in ("integer", "number") and
                           isinstance(value, bool))):
        return "expected %s" % kind
    choices = field_choices(field)
    if choices is not None and value not in [v for v, _ in choices]:
        return "%r is not one of the choices" % (value,)
    if kind == "array":
        items = field_choices(field.get("items") or {})
        if items is not None:
            wrong = [v for v in value if v not in [c for c, _ in items]]
            if wrong:
                return "%s: not among the choices" % ", ".join(wrong)
        for key, test in (("minItems", lambda n: len(value) < n),
                          ("maxItems", lambda n: len(value) > n)):
            if key in field and test(field[key]):
                return "%s is %s" % (key, field[key])
    if kind in ("integer", "number"):
        if "minimum" in field and value < field["minimum"]:
            return "the minimum is %s" % field["minimum"]
        if "maximum" in field and value > field["maximum"]:
            return "the maximum is %s" % field["maximum"]
    if kind == "string":
        if len(value) < field.get("minLength", 0):
            return "at least %s characters" % field["minLength"]
        if "maxLength" in field and len(value) > field["maxLength"]:
            return "at most %s characters" % field["maxLength"]
        pattern = FORMATS.get(field.get("format"))
        if pattern and not re.match(pattern, value):
            return "not a valid %s" % field["format"]
    return None


FORMATS = {"email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
           "uri": r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$",
           "date": r"^\d{4}-\d{2}-\d{2}$",
           "date-time": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"}


def elicitation_defaults(schema):
    """ The content an elicitation's defaults give (SEP-1034). """
    return dict((name, field["default"]) for name, field in
                (schema.get("properties") or {}).items()
                if isinstance(field, dict) and "default" in field)


def validate_elicitation(schema, content):
    """ The problems of an ElicitResult's content against its requested
    schema: [] when it may be sent. """
    problems = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or ():
        if name not in content:
            problems.append("%s is required" % name)
    for name, value in content.items():
        field = properties.get(name)
        if not isinstance(field, dict):
            problems.append("%s is not in the form" % name)
            continue
        problem = value_problem(field, value)
        if problem:
            problems.append("%s: %s" % (name, problem))
    return problems


# ==========================================================================
# Configuration: config.json and environment overrides
# ==========================================================================

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "config.json")

LLM_DEFAULTS = {
    "base_url": "https://api.deepseek.com",
    "model": "deepseek-chat",
    "api_key_env": "DEEPSEEK_API_KEY",
    "stream": True,
    "temperature": None,
    "max_tool_rounds": 8,
    "timeout": 120.0,
    "system_prompt": "You are a helpful assistant. Use the tools when they "
                     "help; call several at once when they are independent.",
}

LLM_ENVIRONMENT = {"base_url": "LLM_BASE_URL", "model": "LLM_MODEL"}


class ConfigError(Exception):
    """ config.json or the environment is not usable; one line says why. """


def load_config(path, environ=None):
    """ Read config.json and fill in defaults.  The tutorial's
    ``"endpoint"`` is accepted for ``"url"``. """
    environ = os.environ if environ is None else environ
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise ConfigError("cannot read %s: %s" % (path, error.strerror))
    except ValueError as error:
        raise ConfigError("%s is not valid JSON: %s" % (path, error))
    if not isinstance(data, dict):
        raise ConfigError("%s must hold a JSON object" % path)
    settings = dict(LLM_DEFAULTS, **(data.get("llm") or {}))
    for key, variable in LLM_ENVIRONMENT.items():
        if environ.get(variable):
            settings[key] = environ[variable]
    servers = data.get("mcpServers") or {}
    if not isinstance(servers, dict):
        raise ConfigError("%s: mcpServers must map names to servers" % path)
    roots = data.get("roots")
    servers = dict((name, server_settings(name, entry, environ))
                   for name, entry in servers.items())
    for entry in servers.values():
        if entry["roots"] is None:
            entry["roots"] = roots
    return {"llm": settings, "servers": servers, "roots": roots,
            "environ": environ, "tokens": token_file(environ)}


POLICIES = ("ask", "allow", "deny")


def server_settings(name, entry, environ):
    """ One mcpServers entry, in the conventions of Claude Desktop's file
    (an existing one can be pasted in): ``command``, ``args``, ``env`` and
    ``cwd`` start a stdio child; ``url`` (or ``endpoint``) and ``headers``
    reach an HTTP server.  ``type`` ("stdio", "http", "streamable-http",
    "sse"), as VS Code and Cursor write it, is accepted.  Our own keys:
    ``token_env``, ``timeout``, ``max_timeout``, ``era``, ``sampling`` and
    ``elicitation`` ("ask", "allow" or "deny"; default "ask") and
    ``roots`` (a list of paths or file:// URIs). """
    if not isinstance(entry, dict):
        raise ConfigError("server %r: expected an object with a url or a "
                          "command" % name)
    url = entry.get("url") or entry.get("endpoint")
    command = entry.get("command")
    if entry.get("type") == "stdio" and not command:
        raise ConfigError("server %r has type stdio but no \"command\""
                          % name)
    if not url and not command:
        raise ConfigError("server %r has neither \"command\" nor \"url\""
                          % name)
    settings = {"name": name, "url": None, "command": None,
                "knobs": server_knobs(name, entry),
                "sampling": policy(name, entry, "sampling"),
                "elicitation": policy(name, entry, "elicitation"),
                "roots": entry.get("roots")}
    if command:
        settings.update(stdio_settings(name, entry, command, environ))
        return settings
    if not is_http_url(url):
        raise ConfigError("server %r: url %r is not http://HOST[:PORT]/PATH"
                          " or https://..." % (name, url))
    headers = {}
    for key, value in (entry.get("headers") or {}).items():
        headers[key] = expand(str(value), environ, "server %r header %s"
                              % (name, key))
    token = None
    if entry.get("token_env"):
        token = environ.get(entry["token_env"])
        if not token:
            raise ConfigError("server %r needs a token: set %s"
                              % (name, entry["token_env"]))
    oauth = entry.get("oauth", True)    # false: never authorize
    if not isinstance(oauth, (dict, bool)):
        raise ConfigError("server %r: \"oauth\" must be an object (client_id,"
                          " client_secret, scope, ...) or false" % name)
    if isinstance(oauth, dict):
        oauth = dict((key, expand(value, environ, "server %r oauth %s"
                                  % (name, key)) if isinstance(value, str)
                      else value) for key, value in oauth.items())
    settings.update(url=url, headers=headers, token=token, oauth=oauth)
    return settings


def stdio_settings(name, entry, command, environ):
    args = entry.get("args") or []
    env = entry.get("env") or {}
    if not isinstance(command, str) or not isinstance(args, list) or \
            not isinstance(env, dict):
        raise ConfigError("server %r: command must be a string, args a list "
                          "and env an object" % name)
    return {"command": command, "args": [str(a) for a in args],
            "env": dict((str(k), expand(str(v), environ, "server %r env %s"
                                        % (name, k)))
                        for k, v in env.items()),
            "cwd": entry.get("cwd"), "headers": {}, "token": None}


def server_knobs(name, entry):
    knobs = {}
    try:
        for key in ("timeout", "max_timeout"):
            if key in entry:
                knobs[key] = float(entry[key])
    except (TypeError, ValueError):
        raise ConfigError("server %r: %s must be a number of seconds"
                          % (name, key))
    if "era" in entry:
        if entry["era"] not in ("auto", "modern", "legacy"):
            raise ConfigError("server %r: era must be auto, modern or legacy"
                              % name)
        knobs["era"] = entry["era"]
    return knobs


def policy(name, entry, key):
    value = entry.get(key, "ask")
    if value not in POLICIES:
        raise ConfigError("server %r: %s must be one of %s, not %r" % (
            name, key, ", ".join(POLICIES), value))
    return value


def is_http_url(url):
    """ Checked with the configuration, so that a typo is one line there
    rather than a traceback from ConnectionPool. """
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) \
            and (parts.port is None or parts.port > 0)
    except ValueError:          # a port that is not a number, a bad [::1]
        return False


def expand(text, environ, where):
    """ Replace ``${VAR}`` by the environment variable's value. """
    def value(match):
        name = match.group(1)
        if name not in environ:
            raise ConfigError("%s uses ${%s}, which is not set"
                              % (where, name))
        return environ[name]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value, text)


def make_model(settings, environ=None, trace=None, on_notice=None):
    """ The llm.ChatClient the settings describe.  A missing key is an
    error that names the variable to set, unless ``api_key_env`` is empty
    (Ollama and vLLM need none). """
    environ = os.environ if environ is None else environ
    variable = settings.get("api_key_env") or ""
    key = environ.get("LLM_API_KEY") or (environ.get(variable)
                                         if variable else "")
    if variable and not key:
        raise ConfigError("no API key for %s: set %s (or LLM_API_KEY), or "
                          "set llm.api_key_env to \"\" for a local model"
                          % (settings["base_url"], variable))
    hint = "check %s" % variable if variable else ""
    import llm                  # here, not on top: only the host needs it
    return llm.ChatClient(settings["base_url"], settings["model"], key or "",
                          key_hint=hint, trace=trace, on_notice=on_notice,
                          temperature=settings.get("temperature"),
                          timeout=float(settings.get("timeout") or 120.0))


def make_client(config, name, trace=None, host=None, say=None):
    """ The client of one configured server: a StdioClient for a command,
    an MCPClient for a URL (with an OAuth unless it has a fixed token or
    says ``"oauth": false``); ``host`` (a Host) answers what the server
    asks: sampling, elicitation, roots; ``say`` shows the person an
    authorization URL. """
    entry = config["servers"][name]
    options = dict(entry["knobs"], trace=trace)
    if host is not None:
        options.update(host.handlers(entry))
    elif entry.get("roots") is not None:
        options["roots"] = config_roots(entry["roots"])
    if entry.get("command"):
        return StdioClient(entry["command"], entry["args"], entry["env"],
                           entry["cwd"], name, environ=config.get("environ"),
                           **options)
    return MCPClient(entry["url"], name, entry["headers"], entry["token"],
                     oauth=make_oauth(config, name, trace, say), **options)


def make_oauth(config, name, trace=None, say=None):
    """ The OAuth of an HTTP server; ``say`` shows the person the URL. """
    entry = config["servers"][name]
    settings = entry.get("oauth", True)
    if entry.get("command") or entry["token"] or settings is False:
        return None
    return OAuth(entry["url"], name, settings if isinstance(settings, dict)
                 else {}, TokenStore(config["tokens"]), trace=trace,
                 say=say, explicit=isinstance(settings, dict))


def config_roots(roots):
    """ "roots" from config.json: paths or URIs, as Roots (file://). """
    found = []
    for root in roots or []:
        if isinstance(root, dict) and root.get("uri"):
            found.append({"uri": root["uri"],
                          "name": root.get("name") or root["uri"]})
        elif isinstance(root, str) and "://" in root:
            found.append({"uri": root, "name": root.rstrip("/").rsplit(
                "/", 1)[-1] or root})
        elif isinstance(root, str):
            found.append(directory_root(os.path.expanduser(root)))
    return found


def make_servers(config, only=None, trace=None, host=None, say=None):
    clients = {}
    for name, entry in config["servers"].items():
        if only is None or name == only:
            clients[name] = make_client(config, name, trace, host, say)
    return MultiServerClient(clients)


# ==========================================================================
# Command line
# ==========================================================================

def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        metavar="FILE", help="configuration file (default: "
                        "config.json beside this script)")
    common.add_argument("--trace", action="store_true",
                        default=argparse.SUPPRESS, help="print every HTTP "
                        "exchange with the servers and the model (stderr)")
    common.add_argument("--era", choices=("auto", "modern", "legacy"),
                        default=argparse.SUPPRESS, help="protocol era to "
                        "try first for servers whose entry names none: auto "
                        "(2026-07-28, else the 2025 handshake), modern, "
                        "legacy (env MCP_CLIENT_ERA)")
    common.add_argument("--tokens", default=argparse.SUPPRESS,
                        metavar="FILE", help="where OAuth tokens are kept "
                        "(default: $MCP_CLIENT_TOKENS, else "
                        "~/.config/mcp-weather/tokens.json)")
    common.add_argument("-v", "--verbose", action="store_true",
                        default=argparse.SUPPRESS, help="log connections, "
                        "retries and server log messages")
    parser = argparse.ArgumentParser(
        prog="mcp_client.py", parents=[common],
        description="Chat with an OpenAI-compatible model that can call the "
        "tools of several MCP servers (Streamable HTTP or stdio).  Without a "
        "command, starts an interactive chat.",
        epilog="environment: LLM_BASE_URL, LLM_MODEL and LLM_API_KEY "
        "override config.json; the key is otherwise read from the variable "
        "named by llm.api_key_env (default DEEPSEEK_API_KEY).  Exit status: "
        "0 success, 1 failure, 2 usage or configuration error.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("chat", parents=[common],
                        help="chat interactively (the default)")
    ask = commands.add_parser("ask", parents=[common], help="print one "
                              "answer to QUESTION and exit (for scripts)")
    ask.add_argument("question")
    commands.add_parser("tools", parents=[common],
                        help="list what every server offers")
    call = server_command(commands, common, "call", "call a tool directly, "
                          "without the model", "tool")
    call.add_argument("arguments", nargs="*", metavar="key=value",
                      help="arguments, typed by the tool's inputSchema")
    call.add_argument("--json", dest="json_arguments", metavar="OBJECT",
                      help="arguments as one JSON object instead")
    raw_flag(call, "CallToolResult")
    commands.add_parser("resources", parents=[common], help="list every "
                        "server's resources and resource templates")
    raw_flag(server_command(commands, common, "read", "print a resource",
                            "uri"), "ReadResourceResult")
    commands.add_parser("prompts", parents=[common], help="list every "
                        "server's prompts")
    prompt = server_command(commands, common, "prompt", "print a prompt's "
                            "messages", "name")
    prompt.add_argument("arguments", nargs="*", metavar="key=value")
    raw_flag(prompt, "GetPromptResult")
    login = commands.add_parser("login", parents=[common], help="authorize "
                                "with a server's OAuth now (opens a browser)")
    login.add_argument("server")
    logout = commands.add_parser("logout", parents=[common], help="forget "
                                 "a server's OAuth tokens and registration")
    logout.add_argument("server")
    return parser


def server_command(commands, common, command, text, what):
    """ A subcommand naming a server and one of its things (a tool, a
    resource's uri, a prompt): ``COMMAND server WHAT``. """
    parser = commands.add_parser(command, parents=[common], help=text)
    parser.add_argument("server")
    parser.add_argument(what)
    return parser


def raw_flag(parser, result):
    """ --raw: print the whole result as JSON instead of its text. """
    parser.add_argument("--raw", action="store_true", help="print the whole "
                        "%s as JSON" % result)


class Terminal(object):
    """ Where the command line writes; the tests hand in their own. """

    def __init__(self, out=None, err=None, stdin=None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stdin = stdin or sys.stdin

    def say(self, text):
        self.out.write(text + "\n")
        self.out.flush()

    def warn(self, text):
        self.err.write(text + "\n")
        self.err.flush()


def main(argv=None, terminal=None, environ=None):
    """ Run the command line; return the exit status. """
    terminal = terminal or Terminal()
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    command = args.command or "chat"
    logging.basicConfig(
        stream=terminal.err, format="%(levelname)s %(message)s",
        level=logging.INFO if getattr(args, "verbose", False)
        else logging.WARNING)
    trace = terminal.warn if getattr(args, "trace", False) else None
    try:
        config = load_config(getattr(args, "config", DEFAULT_CONFIG),
                             environ)
        config["tokens"] = getattr(args, "tokens", config["tokens"])
        if command in ("login", "logout"):
            return run_login(args, config, terminal, trace)
        default_era(config, getattr(args, "era", None) or
                    environ.get("MCP_CLIENT_ERA"))
        config["host"] = Host(terminal, lambda: make_model(
            config["llm"], environ, trace, on_notice=terminal.warn),
            show_logs=command in ("chat", "ask"))
        if command == "call":
            return run_call(args, config, terminal, trace)
        if command == "tools":
            return run_tools(config, terminal, trace)
        if command in LISTINGS:
            return run_listing(command, config, terminal, trace)
        if command in ("read", "prompt"):
            return run_fetch(args, config, terminal, trace)
        return run_chat(args, config, terminal, environ, trace)
    except ConfigError as error:
        terminal.warn("error: %s" % error)
        return 2
    except KeyboardInterrupt:
        terminal.warn("\ninterrupted")
        return 130


def default_era(config, era):
    """ --era / MCP_CLIENT_ERA for the entries that name no era. """
    if not era:
        return
    if era not in ("auto", "modern", "legacy"):
        raise ConfigError("MCP_CLIENT_ERA must be auto, modern or legacy, "
                          "not %r" % era)
    for entry in config["servers"].values():
        entry["knobs"].setdefault("era", era)


def connect_servers(config, terminal, trace, only=None, listen=False):
    servers = make_servers(config, only, trace, config.get("host"),
                           terminal.warn)
    servers.listen_changes = listen
    servers.connect()
    for name, reason in sorted(servers.failures.items()):
        terminal.warn("warning: server %r is unavailable, going on without "
                      "it: %s" % (name, reason))
    return servers


def run_tools(config, terminal, trace):
    servers = connect_servers(config, terminal, trace)
    try:
        for name in servers.connected:
            client = servers.clients[name]
            tools = [tool for tool in servers.tools.values()
                     if tool.server == name]
            terminal.say("%s  %s  (%s, MCP %s)" % (
                name, client.url, client.describe_server(), client.version))
            for tool in tools:
                terminal.say("  %s(%s)  as %s" % (
                    tool.tool["name"], signature(tool.parameters),
                    tool.name))
                description = (tool.tool.get("description") or "").strip()
                if description:
                    terminal.say("      " + description.splitlines()[0])
        for server, tool, reason in servers.dropped:
            terminal.say("  (%s: %s left out: %s)" % (server, tool, reason))
    finally:
        servers.close()
    return 1 if servers.failures else 0


# -- resources and prompts (commands resources, read, prompts, prompt) ------

LISTINGS = {"resources": "resources", "prompts": "prompts"}


def run_listing(command, config, terminal, trace):
    """ Every server's resources and templates, or prompts. """
    servers = connect_servers(config, terminal, trace)
    failed = bool(servers.failures)
    try:
        for name in servers.connected:
            client = servers.clients[name]
            terminal.say("%s  %s  (%s)" % (name, client.url,
                                            client.describe_server()))
            if command not in client.capabilities:
                terminal.say("  (no %s)" % command)
                continue
            try:
                lines = listing_lines(command, client)
            except (TransportError, MCPError) as error:
                terminal.warn("error: %s: %s" % (name, error))
                failed = True
                continue
            for line in lines or ["  (none)"]:
                terminal.say(line)
    finally:
        servers.close()
    return 1 if failed else 0


def listing_lines(command, client):
    lines = []
    if command == "resources":
        for item in client.list_resources():
            lines.append("  %s  %s%s" % (item.get("uri"), item.get("name"),
                                         "  (%s)" % item["mimeType"]
                                         if item.get("mimeType") else ""))
            lines.extend(description_line(item))
        for item in client.list_resource_templates():
            lines.append("  %s  %s  (template)" % (
                item.get("uriTemplate"), item.get("name")))
            lines.extend(description_line(item))
        return lines
    for item in client.list_prompts():
        arguments = ", ".join(
            "%s%s" % (a.get("name"), "" if a.get("required") else "?")
            for a in item.get("arguments") or [] if isinstance(a, dict))
        lines.append("  %s(%s)" % (item.get("name"), arguments))
        lines.extend(description_line(item))
    return lines


def description_line(item):
    text = (item.get("description") or item.get("title") or "").strip()
    return ["      " + text.splitlines()[0]] if text else []


def check_server_name(name, config):
    """ A name on the command line that config.json does not have is one
    line that lists the names it has. """
    if name not in config["servers"]:
        raise ConfigError("no server named %r in the configuration (there "
                          "are: %s)" % (name, ", ".join(
                              sorted(config["servers"])) or "none"))


def command_client(args, config, terminal, trace):
    """ The client of the server a command names (call, read, prompt). """
    check_server_name(args.server, config)
    return make_client(config, args.server, trace, config.get("host"),
                       terminal.warn)


def run_fetch(args, config, terminal, trace):
    """ read SERVER URI, prompt SERVER NAME key=value... """
    client = command_client(args, config, terminal, trace)
    try:
        client = connect_client(client)
        if args.command == "read":
            result = client.read_resource(args.uri)
            text = resource_text(result)
        else:
            arguments = prompt_arguments(client, args.name, args.arguments,
                                         config.get("host"))
            result = client.get_prompt(args.name, arguments)
            text = prompt_text(result)
    except (TransportError, MCPError) as error:
        terminal.warn("error: %s" % error)
        return 1
    finally:
        client.close()
    terminal.say(json.dumps(result, indent=2, ensure_ascii=False)
                 if args.raw else text)
    return 0


def resource_text(result):
    """ A ReadResourceResult as text: text contents as they are, blobs
    described. """
    parts = []
    for item in result.get("contents") or []:
        if not isinstance(item, dict):
            continue
        if "text" in item:
            parts.append(item["text"])
        else:
            size = len(base64.b64decode(item.get("blob") or "")) \
                if isinstance(item.get("blob"), str) else 0
            parts.append("[%s: %d bytes of %s]" % (
                item.get("uri"), size, item.get("mimeType") or "binary"))
    return "\n".join(parts)


def prompt_text(result):
    """ A GetPromptResult's messages as "role: text" lines. """
    return "\n".join("%s: %s" % (message.get("role"), content_text(
        message.get("content"))) for message in result.get("messages") or []
        if isinstance(message, dict))


def prompt_arguments(client, name, words, host=None):
    """ key=value words as prompt arguments.  A required argument left out
    is asked at a terminal, with the server's completions
    (completion/complete, 6.5) offered; elsewhere it is an error. """
    arguments = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise ConfigError("argument %r is not key=value" % word)
        arguments[key] = value
    prompts = dict((p.get("name"), p) for p in client.list_prompts())
    if name not in prompts:
        raise ConfigError("server %r has no prompt %r (it has: %s)" % (
            client.name, name, ", ".join(sorted(prompts)) or "none"))
    missing = [a["name"] for a in prompts[name].get("arguments") or []
               if isinstance(a, dict) and a.get("required") and
               a.get("name") not in arguments]
    if missing and (host is None or not host.interactive):
        raise ConfigError("prompt %r needs %s" % (
            name, ", ".join("%s=..." % m for m in missing)))
    for argument in missing:
        arguments[argument] = ask_argument(client, host, name, argument,
                                           arguments)
    return arguments


def ask_argument(client, host, prompt, argument, known):
    """ One prompt argument from the person, with completions: shown
    once, and on Tab where readline is available. """
    ref = {"type": "ref/prompt", "name": prompt}

    def values(prefix):
        if "completions" not in client.capabilities:
            return []
        try:
            return client.complete(ref, argument, prefix, known)
        except (TransportError, MCPError):
            return []
    suggestions = values("")
    if suggestions:
        host.say("  %s: for example %s" % (argument,
                                           ", ".join(suggestions[:10])))
    with tab_completion(values):
        answer = host.ask("  %s: " % argument)
    if answer is None:
        raise ConfigError("prompt %r needs %s" % (prompt, argument))
    return answer


class tab_completion(object):
    """ Tab completes from ``values(prefix)`` while a line is read, where
    the readline module exists and stdin is a terminal. """

    def __init__(self, values):
        self.values, self.old = values, None

    def __enter__(self):
        try:
            import readline
        except ImportError:
            return self
        if not sys.stdin.isatty():
            return self
        found = []

        def complete(text, state):
            if state == 0:
                found[:] = self.values(text)
            return found[state] if state < len(found) else None
        self.readline, self.old = readline, readline.get_completer()
        readline.set_completer(complete)
        readline.parse_and_bind("tab: complete")
        return self

    def __exit__(self, *exc):
        if self.old is not None or hasattr(self, "readline"):
            self.readline.set_completer(self.old)


def signature(parameters):
    required = set(parameters.get("required") or ())
    return ", ".join(
        "%s%s: %s" % (name, "" if name in required else "?",
                      part.get("type", "any") if isinstance(part, dict)
                      else "any")
        for name, part in parameters.get("properties", {}).items())


def run_call(args, config, terminal, trace):
    client = command_client(args, config, terminal, trace)
    try:
        client = connect_client(client)
        arguments = call_arguments(args, client)
        progress = ProgressLine(args.tool, terminal.err)
        result = client.call_tool(args.tool, arguments, progress)
        progress.done()
    except (TransportError, MCPError) as error:
        terminal.warn("error: %s" % error)
        return 1
    finally:
        client.close()
    if args.raw:
        terminal.say(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        terminal.say(result_text(result))
    return 1 if result.get("isError") else 0


def run_login(args, config, terminal, trace):
    """ ``login SERVER``: authorize now; ``logout SERVER``: forget the
    tokens and the registration kept for it. """
    check_server_name(args.server, config)
    oauth = make_oauth(config, args.server, trace, terminal.warn)
    if oauth is None:
        raise ConfigError("server %r does not use OAuth (it is a stdio "
                          "server, or has a token or \"oauth\": false)"
                          % args.server)
    if args.command == "logout":
        forgot = oauth.logout()
        terminal.say("%s: %s" % (args.server, "logged out" if forgot else
                                 "nothing was stored"))
        return 0
    try:
        oauth.login()
    except TransportError as error:
        terminal.warn("error: %s" % error)
        return 1
    terminal.say("%s: logged in; tokens are in %s"
                 % (args.server, config["tokens"]))
    return 0


def call_arguments(args, client):
    """ The tool's arguments from ``--json`` or ``key=value`` words, each
    value typed by the tool's inputSchema. """
    if args.json_arguments is not None:
        try:
            arguments = json.loads(args.json_arguments)
        except ValueError as error:
            raise ConfigError("--json is not valid JSON: %s" % error)
        if not isinstance(arguments, dict):
            raise ConfigError("--json must be a JSON object")
        return arguments
    tools = {tool.get("name"): tool for tool in client.list_tools()}
    if args.tool not in tools:
        raise ConfigError("server %r has no tool %r (it has: %s)" % (
            args.server, args.tool, ", ".join(sorted(tools)) or "none"))
    properties = (tools[args.tool].get("inputSchema") or {}).get(
        "properties") or {}
    arguments = {}
    for word in args.arguments:
        key, equals, text = word.partition("=")
        if not equals or not key:
            raise ConfigError("argument %r is not key=value" % word)
        arguments[key] = typed_value(text, properties.get(key) or {}, key)
    return arguments


def typed_value(text, schema, key):
    kind = schema.get("type") if isinstance(schema, dict) else None
    kinds = kind if isinstance(kind, list) else [kind]
    if "string" in kinds:
        return text
    if kinds == [None]:
        try:
            return json.loads(text)
        except ValueError:
            return text
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError("%s=%s: expected %s" % (key, text,
                                                  " or ".join(kinds)))
    return value


def run_chat(args, config, terminal, environ, trace):
    settings = config["llm"]
    model = make_model(settings, environ, trace,
                       on_notice=lambda text: terminal.warn(text))
    config["host"].model = model
    servers = connect_servers(config, terminal, trace, listen=True)
    if config["servers"] and not servers.connected:
        terminal.warn("error: no MCP server is reachable")
        servers.close()
        return 1
    chat = Chat(servers, model, settings.get("system_prompt") or "",
                bool(settings.get("stream", True)),
                int(settings.get("max_tool_rounds") or 8),
                terminal.out, terminal.err)
    chat.host = config["host"]
    try:
        if args.command == "ask":
            return ask_once(chat, args.question, terminal)
        return chat_loop(chat, terminal)
    finally:
        servers.close()


def ask_once(chat, question, terminal):
    import llm
    try:
        chat.ask(question)
    except llm.LLMError as error:
        terminal.warn("error: %s" % error)
        return 1
    return 0


def chat_loop(chat, terminal):
    tools = ", ".join(sorted(chat.servers.tools)) or "none"
    terminal.say("Chatting with %s; tools: %s.\nCommands: /tools, /reset, "
                 "/quit (/help for more)." % (chat.model.model, tools))
    while True:
        terminal.out.write("You: ")
        terminal.out.flush()
        line = terminal.stdin.readline()
        if not line:
            terminal.say("")
            return 0
        line = line.strip()
        if line in ("/quit", "/exit", "quit", "exit"):
            return 0
        if line == "/reset":
            chat.reset()
            terminal.say("(conversation cleared)")
        elif line == "/tools":
            for name, tool in sorted(chat.servers.tools.items()):
                terminal.say("  %s  %s" % (name, signature(tool.parameters)))
        elif line.split()[:1] in (["/resources"], ["/prompts"], ["/read"],
                                  ["/prompt"], ["/help"], ["/roots"]):
            chat_command(chat, line, terminal)
        elif line:
            chat_turn(chat, line, terminal)


CHAT_HELP = """\
  /tools                         the tools the model may call
  /resources, /prompts           what the servers offer
  /roots [PATH...]               show, or set, the roots servers may use
  /read SERVER URI               attach a resource to the conversation
  /prompt SERVER NAME key=value  attach a prompt's messages
  /reset                         start a new conversation
  /quit"""


def chat_command(chat, line, terminal):
    """ /resources, /prompts, /read and /prompt in the chat: what is read
    is attached to the conversation as the person's own message (a
    prompt's messages keep their roles), for the model to use next. """
    words = line.split()
    servers = chat.servers
    try:
        if words[0] == "/help":
            terminal.say(CHAT_HELP)
        elif words[0] == "/roots":
            chat_roots(servers, words[1:], terminal)
        elif words[0] in ("/resources", "/prompts"):
            kind = words[0][1:]
            for name in servers.connected:
                client = servers.clients[name]
                if kind in client.capabilities:
                    terminal.say(name)
                    for text in listing_lines(kind, client) or ["  (none)"]:
                        terminal.say(text)
        elif len(words) < 3 or words[1] not in servers.clients:
            terminal.warn("usage: %s SERVER %s (servers: %s)" % (
                words[0], "URI" if words[0] == "/read" else
                "NAME key=value...", ", ".join(servers.connected)))
        elif words[0] == "/read":
            result = servers.clients[words[1]].read_resource(words[2])
            chat.messages.append({"role": "user", "content":
                                  "Resource %s:\n%s" % (
                                      words[2], resource_text(result))})
            terminal.say("(attached %s)" % words[2])
        else:
            client = servers.clients[words[1]]
            arguments = prompt_arguments(client, words[2], words[3:],
                                         chat_host(chat))
            result = client.get_prompt(words[2], arguments)
            for message in result.get("messages") or []:
                chat.messages.append({
                    "role": "assistant" if message.get("role") ==
                    "assistant" else "user",
                    "content": content_text(message.get("content"))})
            terminal.say("(attached prompt %s: %d messages)" % (
                words[2], len(result.get("messages") or [])))
    except (TransportError, MCPError, ConfigError) as error:
        terminal.warn("error: %s" % error)


def chat_roots(servers, paths, terminal):
    """ /roots: each server's roots; /roots PATH...: new roots for every
    server, announced with notifications/roots/list_changed. """
    for name in servers.connected:
        client = servers.clients[name]
        if paths:
            client.roots = config_roots(paths)
            client.roots_changed()
        terminal.say("%s: %s" % (name, ", ".join(
            root["uri"] for root in client.list_roots()) or "none"))


def chat_host(chat):
    return getattr(chat, "host", None)


def chat_turn(chat, line, terminal):
    import llm
    terminal.out.write("AI: ")
    try:
        chat.ask(line)
    except llm.LLMError as error:
        terminal.warn("\nerror: %s" % error)
    except KeyboardInterrupt:
        terminal.warn("\n(interrupted; the question was dropped)")


if __name__ == "__main__":
    sys.exit(main())
