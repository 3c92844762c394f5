"""The server side of HTTPS (--tls-cert, --tls-key) and of OAuth 2.0 as a
protected resource (checklist 2.9, S65-S71): metadata, challenges, tokens
checked against a fake authorization server, and their settings."""

import http.client
import json
import re
import select
import shutil
import socket
import tempfile
import time
import unittest
import urllib.parse

import mcp_weather
from tests.support import (ACCEPT_BOTH, ACCEPT_SSE, INTROSPECTION, LATEST,
                           Reply, SLOW_HEAD, ServerTestCase, TIMEOUT,
                           _FakeAuthServer, _GatedTool, _StreamTestCase,
                           _make_certificate, _progress, _set_up_beside,
                           initialize_message, raw_exchange,
                           raw_exchange_rest, raw_post, sse_messages, ssl,
                           status_of, wait_for)


###############################################################################
# Issue 8: HTTPS with --tls-cert and --tls-key ################################
###############################################################################

class TLSTests(ServerTestCase):
    """ --tls-cert and --tls-key: HTTPS through the stdlib ssl module.  The
    handshake runs in each connection's own thread within
    --request-timeout, so a client that never completes it holds up no
    one; streams work over TLS as over plain HTTP.  Skipped, saying so,
    where the openssl command is missing. """

    settings = {"request_timeout": 1.0, "keepalive": 0.2}

    @classmethod
    def setUpClass(cls):
        if ssl is None:
            raise unittest.SkipTest("this Python has no ssl module: HTTPS "
                                    "is not tested")
        cls.directory = tempfile.mkdtemp(prefix="test_mcp_tls_")
        files = _make_certificate(cls.directory)
        if files is None:
            shutil.rmtree(cls.directory)
            raise unittest.SkipTest("no openssl command to make a "
                                    "self-signed certificate: HTTPS is "
                                    "not tested")
        cls.settings = dict(cls.settings, tls_cert=files[0],
                            tls_key=files[1])
        cls.context = ssl.create_default_context(cafile=files[0])
        try:
            super(TLSTests, cls).setUpClass()
        except Exception:
            shutil.rmtree(cls.directory)
            raise

    @classmethod
    def tearDownClass(cls):
        super(TLSTests, cls).tearDownClass()
        shutil.rmtree(cls.directory)

    def https(self, body, headers=None, method="POST"):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                           timeout=TIMEOUT,
                                           context=self.context)
        try:
            merged = {"Content-Type": "application/json",
                      "Accept": ACCEPT_BOTH}
            merged.update(headers or {})
            conn.request(method, "/mcp", body and json.dumps(body).encode(),
                         merged)
            response = conn.getresponse()
            return Reply(response.status, response.msg, response.read())
        finally:
            conn.close()

    def test_https_session_and_streamed_call(self):
        """ initialize, then a call answered as SSE with progress and
        keep-alives (a slow upstream), all over TLS. """
        self.assertTrue(self.server.url.startswith("https://127.0.0.1:"))
        reply = self.https(initialize_message())
        self.assertEqual(reply.status, 200, reply.body)
        sid = reply.headers.get("Mcp-Session-Id")
        self.upstream.delay["geocoding"] = 0.6
        reply = self.https({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                            "params": {"name": "get_weather", "arguments": {
                                "city": "Hangzhou"}, "_meta": _progress()}},
                           {"Mcp-Session-Id": sid, "Accept": ACCEPT_SSE,
                            "MCP-Protocol-Version": LATEST})
        self.assertEqual(reply.status, 200, reply.body)
        events = reply.events()
        self.assertTrue(events.comments, "no keep-alive over TLS")
        self.assertEqual(sse_messages(events)[-1]["result"][
            "structuredContent"]["temperature"], 4.8)

    def test_silent_clients_do_not_block_the_accept_loop(self):
        """ Five connections that never start the handshake: others are
        served meanwhile, and the silent ones are closed after
        --request-timeout. """
        silent = [socket.create_connection(("127.0.0.1", self.port),
                                           TIMEOUT) for _ in range(5)]
        for sock in silent:
            self.addCleanup(sock.close)
        with self.assertLogs("mcp_weather", "WARNING") as logs:
            reply = self.https({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                               {"MCP-Protocol-Version": LATEST})
            self.assertEqual(reply.status, 400, reply.body)    # no session
            for sock in silent:
                self.assertEqual(raw_exchange_rest(sock), b"")
        self.assertTrue(any("TLS handshake" in line and
                            "--request-timeout" in line
                            for line in logs.output), logs.output)

    def test_plain_http_on_the_tls_port(self):
        """ A plain-HTTP client gets the connection closed, one log line,
        no traceback; the server keeps serving. """
        with self.assertLogs("mcp_weather", "INFO") as logs:
            raw = raw_exchange(self.port, raw_post(
                b'{"jsonrpc":"2.0","id":1,"method":"ping"}'))
            wait_for(lambda: any("TLS handshake" in l for l in logs.output))
        self.assertNotIn(b"HTTP/1.1 200", raw)
        self.assertNotIn("Traceback", "\n".join(logs.output))
        self.assertEqual(self.https(initialize_message()).status, 200)

    def test_closing_a_modern_call_over_tls_cancels_it(self):
        """ S29 over TLS: a 2026-07-28 client that closes its connection
        mid-call cancels the call, as it does over plain HTTP. """
        tool = _GatedTool(self, self.dispatcher)
        message = _StreamTestCase.modern_message("tools/call", {
            "name": tool.name, "arguments": {}, "_meta": _progress()})
        headers = _StreamTestCase.modern_headers(message)
        headers["Content-Type"] = "application/json"
        conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                           timeout=TIMEOUT,
                                           context=self.context)
        conn.request("POST", "/mcp", json.dumps(message).encode(), headers)
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        tool.wait("runs", 1)
        conn.close()
        tool.wait("cancelled_runs", 1)

    def test_slow_request_over_tls_is_cut(self):
        tls = self.context.wrap_socket(socket.create_connection(
            ("127.0.0.1", self.port), TIMEOUT), server_hostname="127.0.0.1")
        self.addCleanup(tls.close)
        data, raw = SLOW_HEAD, b""
        for at in range(len(data)):
            if select.select([tls], [], [], 0.02)[0] or tls.pending():
                break
            tls.sendall(data[at:at + 1])
        raw = raw_exchange_rest(tls)
        self.assertEqual(status_of(raw), 408, raw)


###############################################################################
# Issue 8: OAuth 2.0 protected resource (checklist 2.9, S65-S71) ##############
###############################################################################

def _challenge(header):
    """ The parameters of a Bearer WWW-Authenticate challenge, as a dict
    (with "scheme"). """
    scheme, _, rest = header.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    params["scheme"] = scheme
    return params


PRM_PATH_FOR_TESTS = "/.well-known/oauth-protected-resource"


class OAuthTests(ServerTestCase):
    """ --auth-server: protected-resource metadata (RFC 9728) and tokens
    checked by introspection (RFC 7662) at the authorization server, found
    through its metadata (RFC 8414).  S65-S71. """

    settings = INTROSPECTION

    @classmethod
    def setUpClass(cls):
        cls.auth = _FakeAuthServer()
        _set_up_beside(cls, OAuthTests, cls.auth, auth_server=cls.auth.issuer)
        cls.resource = "http://127.0.0.1:%d/mcp" % cls.port
        cls.metadata_url = ("http://127.0.0.1:%d/.well-known/"
                            "oauth-protected-resource/mcp" % cls.port)

    @classmethod
    def tearDownClass(cls):
        super(OAuthTests, cls).tearDownClass()
        cls.auth.stop()

    def setUp(self):
        ServerTestCase.setUp(self)
        del self.auth.introspections[:]

    def token(self, name, **claims):
        """ Register a token with good claims, overridden by claims (None
        removes one); returns the Authorization header. """
        full = {"active": True, "sub": "alice", "aud": self.resource,
                "scope": "weather other", "exp": time.time() + 600,
                "client_id": "a-client", "iss": self.auth.issuer}
        full.update(claims)
        self.auth.tokens[name] = dict((k, v) for k, v in full.items()
                                      if v is not None)
        return {"Authorization": "Bearer " + name}

    def test_protected_resource_metadata(self):
        """ S65, S67: the metadata, without a token, at the path-suffixed
        URL and at the root; it names the authorization server, the
        resource and the scopes. """
        for path in ("/.well-known/oauth-protected-resource/mcp",
                     "/.well-known/oauth-protected-resource"):
            with self.subTest(path=path):
                reply = self.request("GET", path=path)
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual(reply.json(), {
                    "resource": self.resource,
                    "authorization_servers": [self.auth.issuer],
                    "bearer_methods_supported": ["header"],
                    "scopes_supported": ["weather"],
                    "resource_name": "MCP Weather"})
        reply = self.request("POST", b"{}", path="/.well-known/oauth-"
                             "protected-resource")
        self.assertEqual(reply.status, 405)
        self.assertEqual(reply.headers.get("Allow"), "GET")
        self.assertEqual(self.request("GET", headers={"Host": "evil.com"},
                                      path=PRM_PATH_FOR_TESTS).status, 403)

    def test_401_points_to_the_metadata(self):
        """ S66-S68, S70: no token is 401 whose challenge gives
        resource_metadata and scope (and no error code); a bad token adds
        error="invalid_token". """
        before = len(self.dispatcher.sessions)
        reply = self.post(initialize_message())
        self.assertRPCError(reply, 401, -32600)
        challenge = _challenge(reply.headers.get("WWW-Authenticate"))
        self.assertEqual(challenge, {"scheme": "Bearer", "realm": "mcp",
                                     "scope": "weather",
                                     "resource_metadata": self.metadata_url})
        path = urllib.parse.urlsplit(challenge["resource_metadata"]).path
        self.assertEqual(self.request("GET", path=path).json()[
            "authorization_servers"], [self.auth.issuer])
        reply = self.post(initialize_message(),
                          {"Authorization": "Bearer nobody-knows-me"})
        self.assertRPCError(reply, 401, -32600)
        self.assertEqual(_challenge(reply.headers.get("WWW-Authenticate"))[
            "error"], "invalid_token")
        self.assertEqual(len(self.dispatcher.sessions), before)

    def test_active_token_works_and_is_introspected_once(self):
        """ S69: a good token lets every request in; the server asked the
        introspection endpoint (found by discovery, called with its client
        credentials) once, then used its cache. """
        auth = self.token("good-token")
        sid = self.initialize(headers=auth)
        reply = self.call_tool("get_weather", {"city": "Hangzhou"}, sid,
                               headers=auth)
        self.assertNotIn("isError", self.result_of(reply)["result"])
        self.assertEqual(self.rpc("ping", None, sid, headers=auth).status,
                         200)
        self.assertEqual([t for t, _ in self.auth.introspections],
                         ["good-token"])
        self.assertEqual(self.auth.introspections[0][1][
            "token_type_hint"], "access_token")
        self.assertEqual(self.auth.metadata_requests, 1)

    def test_refused_tokens_are_401(self):
        """ S69, S70: inactive, expired, not yet valid, for another
        audience, without an audience, malformed times: 401 with
        error="invalid_token" and a reason; no session minted. """
        now = time.time()
        cases = {"inactive": {"active": False},
                 "expired": {"exp": now - 5},
                 "early": {"nbf": now + 600},
                 "elsewhere": {"aud": "https://other.example.com/mcp"},
                 "elsewhere-list": {"aud": ["https://a.example", "x"]},
                 "no-audience": {"aud": None},
                 "odd-exp": {"exp": "tomorrow"},
                 "truthy-active": {"active": "true"}}
        before = len(self.dispatcher.sessions)
        for name, claims in sorted(cases.items()):
            with self.subTest(token=name):
                reply = self.post(initialize_message(),
                                  self.token(name, **claims))
                self.assertRPCError(reply, 401, -32600)
                challenge = _challenge(reply.headers["WWW-Authenticate"])
                self.assertEqual(challenge["error"], "invalid_token")
                self.assertTrue(challenge["error_description"])
                self.assertEqual(challenge["resource_metadata"],
                                 self.metadata_url)
        self.assertEqual(len(self.dispatcher.sessions), before)
        ours = self.token("listed", aud=["https://a.example",
                                         self.resource + "/"])
        self.assertTrue(self.initialize(headers=ours))

    def test_insufficient_scope_is_403(self):
        """ S70, S71: a valid token without the required scope is 403 with
        error="insufficient_scope", the scope and the metadata URL. """
        reply = self.post(initialize_message(),
                          self.token("narrow", scope="other"))
        self.assertRPCError(reply, 403, -32600)
        challenge = _challenge(reply.headers["WWW-Authenticate"])
        self.assertEqual(challenge["error"], "insufficient_scope")
        self.assertEqual(challenge["scope"], "weather")
        self.assertEqual(challenge["resource_metadata"], self.metadata_url)
        self.assertIsNone(reply.headers.get("Mcp-Session-Id"))

    def test_session_bound_to_the_subject(self):
        """ S47: a session belongs to the token's subject: a refreshed
        token of the same user keeps it, another user's token gets 404. """
        sid = self.initialize(headers=self.token("alice-1"))
        refreshed = self.token("alice-2")
        self.assertEqual(self.rpc("ping", None, sid, headers=refreshed
                                  ).status, 200)
        bob = self.token("bob-1", sub="bob")
        self.assertRPCError(self.rpc("ping", None, sid, 3, headers=bob),
                            404, -32600, 3)

    def test_unreachable_introspection_is_503(self):
        """ When the authorization server cannot answer, the token is
        neither accepted nor called invalid: 503 with Retry-After, an
        error in the log, and the answer is not cached. """
        self.auth.tokens["flaky"] = _FakeAuthServer.FAIL
        with self.assertLogs("mcp_weather", "ERROR") as logs:
            reply = self.post(initialize_message(),
                              {"Authorization": "Bearer flaky"})
        self.assertRPCError(reply, 503, -32603)
        self.assertEqual(reply.headers.get("Retry-After"), "5")
        self.assertIn("HTTP 500", "\n".join(logs.output))
        self.assertNotIn("flaky", "\n".join(logs.output))
        self.token("flaky")
        self.assertTrue(self.initialize(headers={
            "Authorization": "Bearer flaky"}))

    def test_cached_token_still_expires(self):
        """ The cache keeps introspection answers, not verdicts: a cached
        token is refused once its exp has passed. """
        auth = self.token("short", exp=time.time() + 1.0)
        sid = self.initialize(headers=auth)
        wait_for(lambda: time.time() > self.auth.tokens["short"]["exp"])
        reply = self.rpc("ping", None, sid, 2, headers=auth)
        self.assertRPCError(reply, 401, -32600)
        self.assertEqual(len(self.auth.introspections), 1)


class OAuthSettingsTests(ServerTestCase):
    """ --introspection-url (no discovery), --resource-url (the audience
    and the metadata path follow it), and a static --token beside OAuth. """

    settings = {"token": ("static-token",),
                "resource_url": "https://mcp.example.com/weather/mcp",
                "introspection_client_id": "mcp-weather",
                "introspection_client_secret": "s3cr&t"}

    @classmethod
    def setUpClass(cls):
        cls.auth = _FakeAuthServer()
        _set_up_beside(cls, OAuthSettingsTests, cls.auth,
                       auth_server=cls.auth.issuer,
                       introspection_url=cls.auth.issuer + "/introspect")

    @classmethod
    def tearDownClass(cls):
        super(OAuthSettingsTests, cls).tearDownClass()
        cls.auth.stop()

    def test_settings(self):
        resource = "https://mcp.example.com/weather/mcp"
        reply = self.request("GET", path=PRM_PATH_FOR_TESTS + "/weather/mcp")
        self.assertEqual(reply.json()["resource"], resource)
        reply = self.post(initialize_message())
        self.assertEqual(_challenge(reply.headers["WWW-Authenticate"])[
            "resource_metadata"], "https://mcp.example.com/.well-known/"
            "oauth-protected-resource/weather/mcp")
        self.assertTrue(self.initialize(headers={
            "Authorization": "Bearer static-token"}))
        self.auth.tokens["t"] = {"active": True, "aud": resource,
                                 "sub": "carol"}
        self.assertTrue(self.initialize(headers={
            "Authorization": "Bearer t"}))
        self.auth.tokens["u"] = {"active": True, "sub": "carol",
                                 "aud": "http://127.0.0.1:%d/mcp" % self.port}
        self.assertEqual(self.post(initialize_message(), {
            "Authorization": "Bearer u"}).status, 401)
        self.assertEqual(self.auth.metadata_requests, 0)

    def test_wrong_client_secret_is_logged_clearly(self):
        config = mcp_weather.Config(
            auth_server=self.auth.issuer, introspection_client_id="x",
            introspection_client_secret="wrong",
            introspection_url=self.auth.issuer + "/introspect")
        introspector = mcp_weather.TokenIntrospector(config)
        with self.assertRaises(mcp_weather.AuthServerUnavailable) as caught:
            introspector.introspect("t")
        self.assertIn("HTTP 401 (check --introspection-client-id",
                      str(caught.exception))
