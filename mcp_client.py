#!/usr/bin/env python3
"""mcp_client.py: connect any OpenAI-compatible model to several MCP servers.

    python mcp_client.py                         chat (config.json beside me)
    python mcp_client.py ask "Weather in Hangzhou and Berlin?"
    python mcp_client.py tools                   what every server offers
    python mcp_client.py call weather get_weather city=Hangzhou
    python mcp_client.py --trace call ...        show every HTTP exchange

The file reads top to bottom as the client half of the lesson that
mcp_weather.py teaches from the server side:

    Errors              what can go wrong, each as one line for a person
    The wire            SSE and NDJSON readers, deadlines, connections
    Authorization       OAuth 2.1 for servers that answer 401
    MCPClient           one Streamable HTTP server (checklist section 3)
    Tools for a model   names and schemas an OpenAI-compatible API accepts
    MultiServerClient   every configured server, concurrently
    Chat                the model, its tool calls, and the person
    Configuration       config.json and environment overrides
    Command line        main(argv)

One server, without a model::

    client = MCPClient("http://127.0.0.1:8000/mcp")
    client.connect()
    print(client.call_tool("get_weather", {"city": "Hangzhou"}))
    client.close()

Only the standard library is imported; llm.py (beside this file) is the
model's client.  The HTTP side uses http.client rather than urllib so that
each call can reuse a kept-alive connection and set its socket timeout as
its deadline moves (a progress notification pushes it back, C14).
"""

__version__ = "1.0.0"

import argparse
import base64
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
import socket
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import webbrowser

import llm

PROTOCOL_VERSION = "2025-11-25"
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
CLIENT_INFO = {"name": "mcp-weather-client", "version": __version__}

log = logging.getLogger("mcp_client")


# ==========================================================================
# Errors
# ==========================================================================

class MCPError(Exception):
    """ The server answered the request with a JSON-RPC error. """

    def __init__(self, code, message, data=None):
        Exception.__init__(self, "%s (%s)" % (message, code))
        self.code, self.message, self.data = code, message, data


class TransportError(Exception):
    """ No answer could be had over HTTP: server down, bad status, a
    content type that is not MCP (C3), a stream that could not resume. """


class SessionExpired(TransportError):
    """ 404 for a request that carried Mcp-Session-Id (C10). """


class CallTimeout(TransportError):
    """ The call's deadline passed (C14); a cancellation was sent. """


class CallCancelled(TransportError):
    """ The call was cancelled on our side (Ctrl-C, or cancel_all). """


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
        dropped here rather than failing the next request.
        """
        while True:
            with self.lock:
                if not self.idle:
                    break
                connection = self.idle.pop()
            if connection.sock is not None and not select.select(
                    [connection.sock], [], [], 0)[0]:
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
#   1. the 401's WWW-Authenticate names the Protected Resource Metadata
#      (RFC 9728), else it is looked up at well-known URLs; its "resource"
#      must name this server, and it lists the authorization servers;
#   2. the AS metadata (RFC 8414, or OpenID discovery) gives the endpoints;
#      its "issuer" must be the URL it was looked up for;
#   3. a client identity: pre-registered in config.json, a Client ID
#      Metadata Document URL, or Dynamic Client Registration (RFC 7591);
#   4. the authorization code grant with PKCE (S256), "state", "resource"
#      (RFC 8707) and the response's "iss" checked (RFC 9207); the code comes
#      back to a listener on a loopback port (RFC 8252), or pasted;
#   5. tokens kept in a file only the user can read, refreshed before they
#      expire, sent only to this server.
#
# MCPClient meets this section at two points only: request_headers asks
# OAuth.header() for the Authorization value, and a 401/403 goes to
# OAuth.challenged(), which answers whether to send the request again.

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


class OAuth(object):
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
        self.open_browser = open_browser or webbrowser.open
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

    # -- discovery ----------------------------------------------------------

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

    # -- stored state -------------------------------------------------------

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

    # -- client identity ----------------------------------------------------

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
        if settings.get("id_token"):
            id_token = settings["id_token"]
        else:
            try:
                with open(settings.get("id_token_file") or "",
                          encoding="ascii") as handle:
                    id_token = handle.read().strip()
            except (OSError, ValueError) as error:
                raise AuthError(self.name, "enterprise", "no ID token: set "
                                "id_token_file (%s)" % error)
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

    def workload_assertion(self):
        if self.settings.get("assertion"):
            return self.settings["assertion"]
        try:
            with open(self.settings.get("assertion_file") or "",
                      encoding="ascii") as handle:
                return handle.read().strip()
        except (OSError, ValueError) as error:
            raise AuthError(self.name, "jwt_bearer", "no assertion: set "
                            "assertion_file (%s)" % error)

    def private_key(self):
        """ The PEM of private_key_pem, or of the file private_key_file. """
        if self.settings.get("private_key_pem"):
            return self.settings["private_key_pem"]
        try:
            with open(self.settings.get("private_key_file") or "",
                      encoding="ascii") as handle:
                return handle.read()
        except (OSError, ValueError) as error:
            raise AuthError(self.name, "client authentication", "no private "
                            "key: set private_key_file (%s)" % error)

    # -- scopes -------------------------------------------------------------

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

    # -- the authorization code grant ---------------------------------------

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
# MCPClient: one Streamable HTTP server
# ==========================================================================

class MCPClient(object):
    """ A client of one MCP server over Streamable HTTP (checklist section 3).

    Every message is its own POST (C1) that accepts both JSON and SSE (C2);
    the answer is read by its Content-Type (C3): ``application/json``,
    ``text/event-stream`` or ``application/x-ndjson``.  After
    ``initialize`` the session id and the negotiated version ride on every
    request (C9, C12).  A 404 for the session re-initializes once and
    retries once (C10, field notes B-7).  An SSE stream that drops before
    the response is resumed with GET and Last-Event-ID after waiting
    ``retry`` (C5-C7).  A call ends at its deadline, with a cancellation
    sent (C13, C14).  Knobs are attributes, settable as keywords.
    """

    timeout = 60.0              # seconds a call may go without progress
    max_timeout = 600.0         # seconds a call may take, progress or not
    connect_timeout = 10.0      # seconds to open a TCP connection
    resume_attempts = 5         # GETs in a row that bring nothing new
    default_retry = 1000        # ms before resuming when no retry: came
    protocol_version = PROTOCOL_VERSION
    user_agent = "mcp-weather-client/" + __version__
    oauth = None                # an OAuth, for a server that answers 401

    def __init__(self, url, name="server", headers=None, token=None,
                 trace=None, on_log=None, **knobs):
        for key, value in knobs.items():
            if not hasattr(MCPClient, key) or key.startswith("_"):
                raise TypeError("unknown MCPClient setting %r" % key)
            setattr(self, key, value)
        self.url, self.name = url, name
        self.headers = dict(headers or {})
        self.token = token
        self.trace = trace          # callable(text), for --trace
        self.on_log = on_log        # callable(name, params) for logs
        self.pool = ConnectionPool(url, self.connect_timeout)
        self.session_id = None
        self.version = None
        self.server_info = {}
        self.capabilities = {}
        self.instructions = None
        self.generation = 0         # counts initializations, for C10
        self.connecting = threading.Lock()  # held while a session starts
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.inflight = {}          # request id -> Waiter

    def __repr__(self):
        return "<MCPClient %s %s>" % (self.name, self.url)

    def describe_server(self):
        """ "name version" from serverInfo, for logs and listings. """
        info = self.server_info
        return " ".join(str(info[key]) for key in ("name", "version")
                        if info.get(key)) or "an unnamed server"

    # -- lifecycle ---------------------------------------------------------

    def connect(self):
        """ initialize, then notifications/initialized (lifecycle 4.1).

        Returns the InitializeResult.  The session id comes from the
        response that carried it (C9); a version this client does not
        speak ends the connection with a clear error.
        """
        with self.lock:
            self.session_id = self.version = None
            self.generation += 1
        result = self.exchange("initialize", {
            "protocolVersion": self.protocol_version,
            "capabilities": {}, "clientInfo": CLIENT_INFO}, None, None)
        version = result.get("protocolVersion")
        if version not in SUPPORTED_VERSIONS:
            self.close()
            raise TransportError(
                "%s speaks MCP %s; this client speaks %s"
                % (self.name, version, ", ".join(SUPPORTED_VERSIONS)))
        self.version = version
        self.server_info = result.get("serverInfo") or {}
        self.capabilities = result.get("capabilities") or {}
        self.instructions = result.get("instructions")
        self.notify("notifications/initialized")
        log.info("%s: connected to %s, MCP %s, session %s", self.name,
                 self.describe_server(), version,
                 self.session_id or "(none: stateless)")
        return result

    def close(self):
        """ DELETE the session (C11; 404 and 405 are fine), drop sockets. """
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
            self.connect()

    # -- requests ----------------------------------------------------------

    def request(self, method, params=None, on_progress=None, timeout=None):
        """ Send one request and return its result.

        ``on_progress(progress, total, message)`` is called for each
        progress notification, and each one pushes the deadline back
        ``timeout`` seconds (default ``self.timeout``), never past
        ``max_timeout``.  Raises MCPError for a JSON-RPC error and
        TransportError (or CallTimeout) when no answer can be had.
        """
        with self.connecting:   # never send while a session is starting
            if self.version is None:
                self.connect()
            generation = self.generation
        try:
            return self.exchange(method, params, on_progress, timeout)
        except SessionExpired:
            self.reinitialize(generation)
        return self.exchange(method, params, on_progress, timeout)

    def list_tools(self):
        """ Every tool, following nextCursor through the pages. """
        tools, cursor = [], None
        while True:
            result = self.request("tools/list",
                                  {"cursor": cursor} if cursor else None)
            tools.extend(result.get("tools") or [])
            cursor = result.get("nextCursor")
            if not cursor:
                return tools

    def call_tool(self, name, arguments=None, on_progress=None,
                  timeout=None):
        """ The CallToolResult: ``content``, maybe ``structuredContent``,
        and ``isError`` when the tool failed (that is not an exception). """
        return self.request("tools/call", {"name": name,
                                           "arguments": arguments or {}},
                            on_progress, timeout)

    def ping(self):
        return self.request("ping")

    def exchange(self, method, params, on_progress, timeout):
        """ One request, one response, whatever the framing. """
        request_id = next(self.ids)
        params = dict(params or {})
        token = None
        if on_progress is not None:
            token = "%s-%d" % (self.name, request_id)
            params["_meta"] = dict(params.get("_meta") or {},
                                   progressToken=token)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params:
            message["params"] = params
        idle = self.timeout if timeout is None else timeout
        deadline = Deadline(idle, max(self.max_timeout, idle))
        waiter = Waiter(self, request_id, method, token, on_progress,
                        deadline)
        try:
            return waiter.run(message)
        except socket.timeout:
            self.cancel(waiter, "timed out")
            raise CallTimeout("%s: no answer to %s within %g s"
                              % (self.name, method, idle))
        except KeyboardInterrupt:
            self.cancel(waiter, "interrupted by the user")
            raise

    def cancel(self, waiter, reason):
        """ Tell the server to stop a request (C13); the waiter stops
        reading.  initialize is never cancelled (lifecycle 4.1). """
        waiter.cancelled = True
        if waiter.method == "initialize":
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

    def post_no_answer(self, message, timeout=None):
        """ POST a notification or a response: 202 and no body (C4). """
        wait = self.timeout if timeout is None else timeout
        channel = self.open("POST", message, Deadline(wait, wait))
        body = channel.response.read()
        channel.finish()
        if channel.response.status >= 400:
            raise self.status_error(channel.response, body)

    # -- HTTP --------------------------------------------------------------

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
        if session:
            headers["Mcp-Session-Id"] = session                   # C9
        if self.version:
            headers["MCP-Protocol-Version"] = self.version        # C12
        headers.update(extra or {})
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
            try:
                self.show_request(method, headers, body)
                connection.request(method, self.pool.target, body, headers)
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
            except socket.timeout:
                connection.close()
                raise
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                raise TransportError("cannot reach %s at %s: %s"
                                     % (self.name, self.url,
                                        getattr(error, "strerror", None)
                                        or error))
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
            return TransportError(self.auth_problem(response, text))
        if error:
            return MCPError(error["code"], text, error.get("data"))
        return TransportError("%s answered HTTP %d %s%s"
                              % (self.name, status, response.reason,
                                 ": " + text if text else ""))

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
                 deadline):
        self.client, self.request_id, self.method = client, request_id, method
        self.token, self.on_progress = token, on_progress
        self.deadline = deadline
        self.channel = None
        self.cancelled = False

    def run(self, message):
        client = self.client
        with client.lock:
            client.inflight[self.request_id] = self
        try:
            session = client.session_id
            self.channel = client.open("POST", message, self.deadline)
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
        try:
            body = channel.response.read()
        except socket.timeout:
            channel.close()
            raise
        except (OSError, http.client.HTTPException) as error:
            channel.close()
            raise TransportError("%s: the answer broke off: %s"
                                 % (self.client.name, error))
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
        elif method == "notifications/message":
            self.server_log(message.get("params") or {})
        return None

    def progress(self, params):
        """ Our token's progress pushes the deadline back (C14). """
        if self.token is None or params.get("progressToken") != self.token:
            return
        self.deadline.progressed()
        self.on_progress(params.get("progress"), params.get("total"),
                         params.get("message"))

    def server_log(self, params):
        if self.client.on_log:
            self.client.on_log(self.client.name, params)
        else:
            log.info("%s: [%s] %s", self.client.name,
                     params.get("level", "info"), params.get("data"))

    def answer_server_request(self, message):
        """ Answer ping (4.2), and refuse what this client did not
        declare in its capabilities (sampling, elicitation, roots). """
        if message["method"] == "ping":
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
        else:
            reply = {"jsonrpc": "2.0", "id": message["id"], "error": {
                "code": -32601,
                "message": "Method not found: %s" % message["method"]}}
        try:
            self.client.post_no_answer(reply, timeout=10.0)
        except (TransportError, OSError, http.client.HTTPException) as error:
            log.warning("%s: could not answer %s: %s", self.client.name,
                        message["method"], error)

    def result(self, answer):
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) \
                else {"message": str(answer["error"])}
            raise MCPError(error.get("code"), error.get("message", ""),
                           error.get("data"))
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    def trace_line(self, line):
        self.client.show("< " + line if line else "<")


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


class SchemaProblem(ValueError):
    """ An inputSchema that cannot be made acceptable to a model's API. """


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

    def __init__(self, clients):
        self.clients = dict(clients)            # name -> MCPClient
        self.failures = {}
        self.tools = {}                         # model name -> ModelTool
        self.dropped = []                       # (server, tool, reason)

    def connect(self):
        listed = {}

        def reach(name, client):
            try:
                client.connect()
                listed[name] = client.list_tools()
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

    @property
    def connected(self):
        return sorted(name for name in self.clients
                      if name not in self.failures)

    def specs(self):
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
    return {"llm": settings, "tokens": token_file(environ), "servers": {
        name: server_settings(name, entry, environ)
        for name, entry in servers.items()}}


def server_settings(name, entry, environ):
    if not isinstance(entry, dict):
        raise ConfigError("server %r: expected an object with a url" % name)
    url = entry.get("url") or entry.get("endpoint")
    if not url:
        raise ConfigError("server %r has no \"url\"" % name)
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
    knobs = {key: float(entry[key]) for key in ("timeout", "max_timeout")
             if key in entry}
    oauth = entry.get("oauth", True)    # false: never authorize
    if not isinstance(oauth, (dict, bool)):
        raise ConfigError("server %r: \"oauth\" must be an object (client_id,"
                          " client_secret, scope, ...) or false" % name)
    if isinstance(oauth, dict):
        oauth = {key: expand(str(value), environ, "server %r oauth %s"
                             % (name, key)) if isinstance(value, str)
                 else value for key, value in oauth.items()}
    return {"url": url, "headers": headers, "token": token, "knobs": knobs,
            "oauth": oauth}


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
    return llm.ChatClient(settings["base_url"], settings["model"], key or "",
                          key_hint=hint, trace=trace, on_notice=on_notice,
                          temperature=settings.get("temperature"),
                          timeout=float(settings.get("timeout") or 120.0))


def make_servers(config, only=None, trace=None, say=None):
    clients = {}
    for name, entry in config["servers"].items():
        if only is None or name == only:
            clients[name] = make_client(config, name, trace, say)
    return MultiServerClient(clients)


def make_client(config, name, trace=None, say=None):
    """ The MCPClient of one configured server, with an OAuth unless it
    has a fixed token or says ``"oauth": false``. """
    entry = config["servers"][name]
    return MCPClient(entry["url"], name, entry["headers"], entry["token"],
                     trace=trace, oauth=make_oauth(config, name, trace, say),
                     **entry["knobs"])


def make_oauth(config, name, trace=None, say=None):
    """ The OAuth of a server; ``say`` shows the person the URL. """
    entry = config["servers"][name]
    settings = entry.get("oauth", True)
    if entry["token"] or settings is False:
        return None
    return OAuth(entry["url"], name, settings if isinstance(settings, dict)
                 else {}, TokenStore(config["tokens"]), trace=trace,
                 say=say, explicit=isinstance(settings, dict))


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
        "tools of several MCP servers (Streamable HTTP).  Without a command, "
        "starts an interactive chat.",
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
    call = commands.add_parser("call", parents=[common], help="call a tool "
                               "directly, without the model")
    call.add_argument("server")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="*", metavar="key=value",
                      help="arguments, typed by the tool's inputSchema")
    call.add_argument("--json", dest="json_arguments", metavar="OBJECT",
                      help="arguments as one JSON object instead")
    call.add_argument("--raw", action="store_true", help="print the whole "
                      "CallToolResult as JSON")
    login = commands.add_parser("login", parents=[common], help="authorize "
                                "with a server's OAuth now (opens a browser)")
    login.add_argument("server")
    logout = commands.add_parser("logout", parents=[common], help="forget "
                                 "a server's OAuth tokens and registration")
    logout.add_argument("server")
    return parser


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
        if command == "call":
            return run_call(args, config, terminal, trace)
        if command == "tools":
            return run_tools(config, terminal, trace)
        return run_chat(args, config, terminal, environ, trace)
    except ConfigError as error:
        terminal.warn("error: %s" % error)
        return 2
    except KeyboardInterrupt:
        terminal.warn("\ninterrupted")
        return 130


def connect_servers(config, terminal, trace, only=None):
    servers = make_servers(config, only, trace, terminal.warn).connect()
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


def signature(parameters):
    required = set(parameters.get("required") or ())
    return ", ".join(
        "%s%s: %s" % (name, "" if name in required else "?",
                      part.get("type", "any") if isinstance(part, dict)
                      else "any")
        for name, part in parameters.get("properties", {}).items())


def run_call(args, config, terminal, trace):
    if args.server not in config["servers"]:
        raise ConfigError("no server named %r in the configuration (there "
                          "are: %s)" % (args.server, ", ".join(
                              sorted(config["servers"])) or "none"))
    client = make_client(config, args.server, trace, terminal.warn)
    try:
        client.connect()
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
    if args.server not in config["servers"]:
        raise ConfigError("no server named %r in the configuration"
                          % args.server)
    oauth = make_oauth(config, args.server, trace, terminal.warn)
    if oauth is None:
        raise ConfigError("server %r does not use OAuth (it has a token or "
                          "\"oauth\": false)" % args.server)
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
    servers = connect_servers(config, terminal, trace)
    if config["servers"] and not servers.connected:
        terminal.warn("error: no MCP server is reachable")
        servers.close()
        return 1
    chat = Chat(servers, model, settings.get("system_prompt") or "",
                bool(settings.get("stream", True)),
                int(settings.get("max_tool_rounds") or 8),
                terminal.out, terminal.err)
    try:
        if args.command == "ask":
            return ask_once(chat, args.question, terminal)
        return chat_loop(chat, terminal)
    finally:
        servers.close()


def ask_once(chat, question, terminal):
    try:
        chat.ask(question)
    except llm.LLMError as error:
        terminal.warn("error: %s" % error)
        return 1
    return 0


def chat_loop(chat, terminal):
    tools = ", ".join(sorted(chat.servers.tools)) or "none"
    terminal.say("Chatting with %s; tools: %s.\nCommands: /tools, /reset, "
                 "/quit." % (chat.model.model, tools))
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
        elif line:
            chat_turn(chat, line, terminal)


def chat_turn(chat, line, terminal):
    terminal.out.write("AI: ")
    try:
        chat.ask(line)
    except llm.LLMError as error:
        terminal.warn("\nerror: %s" % error)
    except KeyboardInterrupt:
        terminal.warn("\n(interrupted; the question was dropped)")


if __name__ == "__main__":
    sys.exit(main())
