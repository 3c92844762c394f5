"""The client's OAuth 2.1 (issue 17; mcp_client.py, section Authorization):
discovery orders, the checks that refuse (resource, issuer, iss, state),
client identities (pre-registered, CIMD, registered, client credentials,
private_key_jwt with ES256), the device grant, DPoP, refresh, step-up and
its limit, the token file, the command line (login, logout, --trace) and
mcp_weather.py --auth-server end to end.

Everything runs against FakeOAuthServer below: one loopback server that is
at once a protected MCP server and its authorization server (as in the MCP
spec's 2025-03-26 layout), each part switched on and off by attributes, and
recording every request.  The person's browser is a function that GETs the
authorization URL and follows the redirects to the client's loopback
listener, as a browser does when the person allows at once.  Tokens go to a
temporary directory, never the real home.  Checklist item C16.
"""

import base64
import io
import json
import os
import shutil
import socket
import stat
import tempfile
import time
import unittest
import unittest.mock
import urllib.error
import urllib.parse
import urllib.request

import mcp_client
from tests.support import (INTROSPECTION, ServerTestCase, _FakeAuthServer,
                           loopback_http_server, wait_for)


class FakeOAuthServer(object):
    """ An MCP server behind OAuth and its authorization server, on one
    loopback port.

    MCP at /mcp: without a known token, 401 with a Bearer challenge
    (``challenge_scope``; ``resource_metadata`` when ``advertise``); with
    one, initialize, tools/list and tools/call answer.  ``step_up`` makes
    tools/call answer 403 insufficient_scope unless the token has that
    scope; ``always_forbid`` makes it answer 403 with a new scope each time.
    PRM is served at ``prm_paths`` with ``resource`` (default the MCP URL).
    The AS's issuer is the origin plus ``issuer_path``; its metadata is
    served at ``metadata_paths`` (None: every path a client may try is
    404).  ``iss_mode``: "correct", "wrong", "slash" or "omit".

    Records: ``requests`` (method, path) in order, ``authorizations`` (the
    query of each GET /authorize), ``token_forms`` (form, Authorization
    header), ``registrations``, ``mcp_auth`` (the Authorization header of
    each MCP POST).
    """

    def __init__(self):
        self.server = loopback_http_server("fake-oauth", do_GET=self.get,
                                           do_POST=self.post)[0]
        self.origin = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.url = self.origin + "/mcp"
        self.issuer_path = ""
        self.advertise = True
        self.prm_paths = ["/.well-known/oauth-protected-resource/mcp"]
        self.resource = self.url
        self.scopes_supported = None
        self.challenge_scope = "weather"
        self.metadata_paths = None      # None: the default RFC 8414 path
        self.metadata_extra = {}
        self.iss_mode = "correct"
        self.expires_in = 3600
        self.step_up = None
        self.always_forbid = False
        self.requests, self.authorizations, self.token_forms = [], [], []
        self.registrations, self.mcp_auth = [], []
        self.device_requests, self.device_pending = [], 2
        self.dpop_nonce = None          # demanded at the token endpoint
        self.exchanges = []             # token exchanges at /idp/token
        self.token_proofs, self.mcp_proofs = [], []
        self.tokens = {}                # access token -> scope
        self.refresh_tokens = {}
        self.serial = 0

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def issuer(self):
        return self.origin + self.issuer_path

    def metadata_path(self):
        if self.metadata_paths is not None:
            return self.metadata_paths
        return ["/.well-known/oauth-authorization-server" + self.issuer_path]

    # -- HTTP -----------------------------------------------------------------

    def send(self, handler, status, value, headers=None):
        data = json.dumps(value).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, header in (headers or {}).items():
            handler.send_header(key, header)
        handler.end_headers()
        handler.wfile.write(data)

    def body(self, handler):
        length = int(handler.headers.get("Content-Length", "0"))
        return handler.rfile.read(length).decode()

    def get(self, handler):
        path, _, query = handler.path.partition("?")
        self.requests.append(("GET", path))
        if path in self.prm_paths:
            prm = {"resource": self.resource,
                   "authorization_servers": [self.issuer]}
            if self.scopes_supported:
                prm["scopes_supported"] = self.scopes_supported
            return self.send(handler, 200, prm)
        if path in self.metadata_path():
            return self.send(handler, 200, dict({
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "registration_endpoint": self.issuer + "/register",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "authorization_response_iss_parameter_supported": True,
                "token_endpoint_auth_methods_supported": ["none"]},
                **self.metadata_extra))
        if path == self.issuer_path + "/authorize":
            return self.authorize(handler, query)
        self.send(handler, 404, {"error": "not_found"})

    def authorize(self, handler, query):
        params = dict(urllib.parse.parse_qsl(query))
        self.authorizations.append(params)
        answer = {"code": "code-%d" % len(self.authorizations),
                  "state": params.get("state")}
        iss = {"correct": self.issuer, "wrong": "http://evil.example",
               "slash": self.issuer + "/", "omit": None}[self.iss_mode]
        if iss:
            answer["iss"] = iss
        handler.send_response(302)
        handler.send_header("Location", params["redirect_uri"] + "?" +
                            urllib.parse.urlencode(answer))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def post(self, handler):
        path = handler.path
        self.requests.append(("POST", path))
        text = self.body(handler)
        if path == "/mcp":
            return self.mcp(handler, json.loads(text))
        if path == self.issuer_path + "/register":
            request = json.loads(text)
            self.registrations.append(request)
            return self.send(handler, 201, dict(request, client_id="dcr-%d"
                                                % len(self.registrations)))
        if path == self.issuer_path + "/token":
            return self.token(handler, dict(urllib.parse.parse_qsl(text)))
        if path == "/idp/token":
            self.exchanges.append(dict(urllib.parse.parse_qsl(text)))
            return self.send(handler, 200, {
                "access_token": "id-jag-1", "token_type": "N_A",
                "issued_token_type": "urn:ietf:params:oauth:token-type:"
                "id-jag"})
        if path == self.issuer_path + "/device":
            self.device_requests.append(dict(urllib.parse.parse_qsl(text)))
            return self.send(handler, 200, {
                "device_code": "DC-secret", "user_code": "WXYZ-1234",
                "verification_uri": self.issuer + "/activate",
                "expires_in": 60, "interval": 0})
        self.send(handler, 404, {"error": "not_found"})

    def token(self, handler, form):
        self.token_forms.append((form, handler.headers.get("Authorization")))
        proof = handler.headers.get("DPoP")
        self.token_proofs.append(proof)
        if proof and self.dpop_nonce and jwt_parts(proof)[1].get(
                "nonce") != self.dpop_nonce:
            return self.send(handler, 400, {"error": "use_dpop_nonce"},
                             {"DPoP-Nonce": self.dpop_nonce})
        scope = None
        if form.get("grant_type") == "authorization_code":
            scope = self.authorizations[-1].get("scope", "")
        elif form.get("grant_type") == "refresh_token":
            scope = self.refresh_tokens.pop(form.get("refresh_token"), None)
        elif form.get("grant_type") == "client_credentials":
            scope = form.get("scope", "")
        elif form.get("grant_type").endswith(":jwt-bearer") and \
                form.get("assertion") in ("workload-jwt", "id-jag-1"):
            scope = form.get("scope", "")
        elif form.get("grant_type").endswith(":device_code"):
            if self.device_pending:
                self.device_pending -= 1
                return self.send(handler, 400, {
                    "error": "authorization_pending"})
            scope = self.device_requests[-1].get("scope", "")
        if scope is None:
            return self.send(handler, 400, {"error": "invalid_grant",
                                            "error_description": "unknown"})
        self.serial += 1
        access, refresh = "AT-%d-secret" % self.serial, \
            "RT-%d-secret" % self.serial
        self.tokens[access] = scope
        self.refresh_tokens[refresh] = scope
        self.send(handler, 200, {"access_token": access, "token_type":
                                 "DPoP" if proof else "Bearer",
                                 "expires_in": self.expires_in,
                                 "refresh_token": refresh, "scope": scope},
                  {"Cache-Control": "no-store"})

    def mcp(self, handler, message):
        auth = handler.headers.get("Authorization")
        self.mcp_auth.append(auth)
        self.mcp_proofs.append(handler.headers.get("DPoP"))
        token = (auth or "").partition(" ")[2]
        if token not in self.tokens:
            challenge = 'Bearer error="invalid_token"'
            if self.challenge_scope:
                challenge += ', scope="%s"' % self.challenge_scope
            if self.advertise:
                challenge += ', resource_metadata="%s%s"' % (
                    self.origin, self.prm_paths[0])
            return self.send(handler, 401, {"error": "invalid_token"},
                             {"WWW-Authenticate": challenge})
        method = message.get("method")
        if method == "tools/call" and (self.always_forbid or (
                self.step_up and self.step_up not in
                self.tokens[token].split())):
            scope = self.step_up or "more-%d" % len(self.authorizations)
            return self.send(handler, 403, {"error": "insufficient_scope"}, {
                "WWW-Authenticate": 'Bearer error="insufficient_scope", '
                'scope="%s"' % scope})
        if "id" not in message:
            handler.send_response(202)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        result = {}
        if method == "initialize":
            result = {"protocolVersion": mcp_client.PROTOCOL_VERSION,
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "fake", "version": "1"}}
        elif method == "tools/list":
            result = {"tools": [{"name": "echo", "inputSchema": {
                "type": "object"}}]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "done"}]}
        self.send(handler, 200, {"jsonrpc": "2.0", "id": message["id"],
                                 "result": result})


def jwt_parts(token):
    """ (header, claims, signature bytes, signing input) of a compact JWS. """
    def decode(part):
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    head, claims, signature = token.split(".")
    return (json.loads(decode(head).decode()),
            json.loads(decode(claims).decode()), decode(signature),
            ("%s.%s" % (head, claims)).encode())


def browse(url):
    """ The person's browser: load the URL, follow the redirects (the last
    one reaches the client's listener).  Returns True, as webbrowser.open
    does when a browser was started. """
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
    return True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def final_address(url):
    """ Where the browser ends, without loading it: the pasted URL. """
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as error:
        return error.headers["Location"]
    raise AssertionError("no redirect from %s" % url)


class OAuthCase(unittest.TestCase):
    """ A FakeOAuthServer and a token file in a temporary directory. """

    def setUp(self):
        self.fake = FakeOAuthServer()
        self.addCleanup(self.fake.stop)
        self.home = tempfile.mkdtemp(prefix="oauth-test-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.token_path = os.path.join(self.home, "config", "mcp", "t.json")
        self.store = mcp_client.TokenStore(self.token_path)
        self.opened = []
        self.said = []

    def browser(self, url):
        self.opened.append(url)
        return browse(url)

    def oauth(self, settings=None, **knobs):
        oauth = mcp_client.OAuth(self.fake.url, "fake", settings, self.store,
                                 open_browser=self.browser,
                                 say=self.said.append, **knobs)
        oauth.redirect_timeout = 10.0
        return oauth

    def client(self, oauth=None, trace=None):
        client = mcp_client.MCPClient(self.fake.url, "fake", trace=trace,
                                      oauth=oauth or self.oauth())
        self.addCleanup(client.close)
        return client

    def gets(self):
        return [path for method, path in self.fake.requests
                if method == "GET" and "well-known" in path]

    def assert_refused(self, client, *words):
        """ The call fails with one line naming the server and the step,
        and no token was asked for. """
        with self.assertRaises(mcp_client.AuthError) as caught:
            client.connect()
        text = str(caught.exception)
        self.assertEqual(len(text.splitlines()), 1, text)
        self.assertTrue(text.startswith("fake: authorization failed at "),
                        text)
        for word in words:
            self.assertIn(word, text)
        self.assertEqual(self.fake.token_forms, [])
        return text


class DiscoveryTests(OAuthCase):
    """ Where the client looks for metadata, in which order (RFC 9728
    section 3.1, RFC 8414 section 3.1, OpenID Discovery, and the MCP spec's
    orders), and the authorization code request it then makes. """

    def test_the_flow_and_its_requests(self):
        client = self.client()
        client.connect()
        self.assertEqual(client.call_tool("echo", {})["content"][0]["text"],
                         "done")
        self.assertEqual(self.gets(), [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-authorization-server"])
        self.assertEqual(len(self.fake.registrations), 1)
        registration = self.fake.registrations[0]
        self.assertEqual(registration["application_type"], "native")
        self.assertEqual(registration["token_endpoint_auth_method"], "none")
        redirect = registration["redirect_uris"][0]
        self.assertRegex(redirect, r"^http://127\.0\.0\.1:\d+/callback$")
        query = self.fake.authorizations[0]
        self.assertEqual(query["response_type"], "code")
        self.assertEqual(query["client_id"], "dcr-1")
        self.assertEqual(query["redirect_uri"], redirect)
        self.assertEqual(query["code_challenge_method"], "S256")
        self.assertEqual(query["resource"], self.fake.url)
        self.assertEqual(query["scope"], "weather")
        form, basic = self.fake.token_forms[0]
        self.assertIsNone(basic)
        self.assertEqual(form["grant_type"], "authorization_code")
        self.assertEqual(form["resource"], self.fake.url)
        self.assertEqual(form["client_id"], "dcr-1")
        self.assertEqual(mcp_client.base64url(mcp_client.hashlib.sha256(
            form["code_verifier"].encode()).digest()),
            query["code_challenge"])
        self.assertEqual(self.fake.mcp_auth[0], None)
        self.assertEqual(set(self.fake.mcp_auth[1:]), {"Bearer AT-1-secret"})
        self.assertEqual(len(self.opened), 1)

    def test_prm_from_the_challenge_url_only(self):
        self.fake.prm_paths = ["/custom/prm.json"]
        self.client().connect()
        self.assertEqual(self.fake.requests[1], ("GET", "/custom/prm.json"))
        self.assertNotIn("/.well-known/oauth-protected-resource/mcp",
                         self.gets())

    def test_prm_path_based_then_root(self):
        self.fake.advertise = False
        self.fake.prm_paths = ["/.well-known/oauth-protected-resource"]
        self.fake.resource = self.fake.origin + "/"
        self.client().connect()
        self.assertEqual(self.gets()[:2], [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"])
        self.assertEqual(self.fake.authorizations[0]["resource"],
                         self.fake.origin + "/")

    def test_metadata_order_for_an_issuer_with_a_path(self):
        self.fake.issuer_path = "/tenant1"
        self.fake.metadata_paths = ["/tenant1/.well-known/openid-"
                                    "configuration"]
        self.client().connect()
        self.assertEqual(self.gets()[1:], [
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration"])

    def test_metadata_order_for_an_issuer_at_the_root(self):
        self.fake.metadata_paths = ["/.well-known/openid-configuration"]
        self.client().connect()
        self.assertEqual(self.gets()[1:], [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration"])

    def test_2025_03_26_default_endpoints(self):
        """ No PRM and no metadata: for a server configured with "oauth",
        /authorize, /token and /register at its root. """
        self.fake.advertise = False
        self.fake.prm_paths = []
        self.fake.metadata_paths = []
        self.client().connect()
        self.assertEqual(len(self.fake.registrations), 1)
        self.assertEqual(len(self.fake.token_forms), 1)

    def test_no_metadata_without_oauth_settings_is_one_line(self):
        self.fake.advertise = False
        self.fake.prm_paths = []
        self.fake.metadata_paths = []
        oauth = self.oauth()
        oauth.explicit = False
        self.assert_refused(self.client(oauth), "authorization server "
                            "metadata", "none found")
        self.assertEqual(self.opened, [])


class RefusalTests(OAuthCase):
    """ What the client refuses, before any token is asked for. """

    def test_resource_mismatch(self):
        """ RFC 9728 section 3.3: metadata for another resource would send
        the token elsewhere. """
        self.fake.resource = "http://evil.example/mcp"
        self.assert_refused(self.client(), "protected resource metadata",
                            "evil.example")
        self.assertEqual(self.fake.authorizations, [])

    def test_issuer_mismatch(self):
        self.fake.metadata_extra = {"issuer": "http://elsewhere.example"}
        self.assert_refused(self.client(), "authorization server metadata",
                            "elsewhere.example")

    def test_wrong_iss(self):
        self.fake.iss_mode = "wrong"
        self.assert_refused(self.client(), "evil.example", "refused")
        self.assertEqual(len(self.fake.authorizations), 1)

    def test_iss_compared_as_a_string(self):
        """ RFC 9207 section 2.4: a trailing slash is another issuer. """
        self.fake.iss_mode = "slash"
        self.assert_refused(self.client(), "iss")

    def test_iss_missing_when_promised(self):
        self.fake.iss_mode = "omit"
        self.assert_refused(self.client(), "no iss")

    def test_iss_may_be_missing_when_not_promised(self):
        self.fake.iss_mode = "omit"
        self.fake.metadata_extra = {
            "authorization_response_iss_parameter_supported": False}
        self.client().connect()
        self.assertEqual(len(self.fake.token_forms), 1)

    def test_state_mismatch(self):
        """ A redirect that does not carry our state (a forged one). """
        def forger(url):
            self.opened.append(url)
            redirect = dict(urllib.parse.parse_qsl(
                urllib.parse.urlsplit(url).query))["redirect_uri"]
            return browse(redirect + "?code=stolen&state=other")
        oauth = self.oauth()
        oauth.open_browser = forger
        self.assert_refused(self.client(oauth), "state")


class IdentityTests(OAuthCase):
    """ Which client the AS sees: pre-registered, CIMD, or registered. """

    def test_pre_registered_with_basic(self):
        self.fake.metadata_extra = {"token_endpoint_auth_methods_supported":
                                    ["client_secret_basic"]}
        self.client(self.oauth({"client_id": "me", "client_secret": "s:1"})
                    ).connect()
        self.assertEqual(self.fake.registrations, [])
        self.assertEqual(self.fake.authorizations[0]["client_id"], "me")
        form, basic = self.fake.token_forms[0]
        self.assertNotIn("client_secret", form)
        self.assertEqual(basic, "Basic " + base64.b64encode(
            b"me:s%3A1").decode())

    def test_pre_registered_with_post(self):
        self.fake.metadata_extra = {"token_endpoint_auth_methods_supported":
                                    ["client_secret_post"]}
        self.client(self.oauth({"client_id": "me", "client_secret": "pw"})
                    ).connect()
        form, basic = self.fake.token_forms[0]
        self.assertIsNone(basic)
        self.assertEqual((form["client_id"], form["client_secret"]),
                         ("me", "pw"))

    def test_client_id_metadata_document(self):
        url = "https://client.example/meta.json"
        self.fake.metadata_extra = {
            "client_id_metadata_document_supported": True}
        self.client(self.oauth({"client_metadata_url": url})).connect()
        self.assertEqual(self.fake.registrations, [])
        self.assertEqual(self.fake.authorizations[0]["client_id"], url)

    def test_registration_kept_and_redone_for_a_new_issuer(self):
        """ The registration is stored per issuer: a second login reuses
        it; when the PRM names another AS, the client registers there. """
        self.client().connect()
        self.store.update(self.fake.url, lambda entry: entry["issuers"][
            self.fake.issuer].pop("tokens"))
        self.client().connect()
        self.assertEqual(len(self.fake.registrations), 1)
        self.assertEqual(self.fake.authorizations[1]["client_id"], "dcr-1")
        self.fake.issuer_path = "/as2"
        self.fake.tokens.clear()
        self.client().connect()
        self.assertEqual(len(self.fake.registrations), 2)
        self.assertEqual(self.fake.authorizations[2]["client_id"], "dcr-2")

    def test_jwt_bearer_reads_the_assertion_file(self):
        """ Workload identity (RFC 7523): the platform's JWT, read from its
        file, traded for a token; a refusal is not retried. """
        path = os.path.join(self.home, "workload.jwt")
        with open(path, "w") as handle:
            handle.write("workload-jwt\n")
        settings = {"grant": "jwt_bearer", "assertion_file": path}
        self.client(self.oauth(settings)).connect()
        form, basic = self.fake.token_forms[0]
        self.assertEqual(form["grant_type"],
                         "urn:ietf:params:oauth:grant-type:jwt-bearer")
        self.assertEqual(form["assertion"], "workload-jwt")
        self.assertEqual(form["resource"], self.fake.url)
        self.assertEqual(self.opened, [])
        with open(path, "w") as handle:
            handle.write("expired-jwt")
        self.fake.tokens.clear()
        self.fake.refresh_tokens.clear()
        self.store.forget(self.fake.url)
        with self.assertRaises(mcp_client.AuthError) as caught:
            self.client(self.oauth(settings)).connect()
        self.assertIn("invalid_grant", str(caught.exception))
        self.assertEqual(len(self.fake.token_forms), 2)

    def test_enterprise_managed(self):
        """ The ID token is exchanged at the IdP for an ID-JAG (RFC 8693),
        which the client, authenticated, trades at the AS (RFC 7523). """
        path = os.path.join(self.home, "id_token")
        with open(path, "w") as handle:
            handle.write("the-id-token")
        self.client(self.oauth({
            "grant": "enterprise", "id_token_file": path,
            "idp_token_endpoint": self.fake.origin + "/idp/token",
            "idp_client_id": "idp-client", "client_id": "me",
            "client_secret": "pw", "token_endpoint_auth_method":
                "client_secret_basic"})).connect()
        prefix = "urn:ietf:params:oauth:"
        self.assertEqual(self.fake.exchanges, [{
            "grant_type": prefix + "grant-type:token-exchange",
            "subject_token": "the-id-token",
            "subject_token_type": prefix + "token-type:id_token",
            "requested_token_type": prefix + "token-type:id-jag",
            "audience": self.fake.issuer, "resource": self.fake.url,
            "client_id": "idp-client"}])
        form, basic = self.fake.token_forms[0]
        self.assertEqual((form["grant_type"], form["assertion"]),
                         (prefix + "grant-type:jwt-bearer", "id-jag-1"))
        self.assertTrue(basic.startswith("Basic "))
        self.assertEqual(self.opened, [])

    def test_client_credentials(self):
        oauth = self.oauth({"client_id": "robot", "client_secret": "pw",
                            "grant": "client_credentials"})
        self.client(oauth).connect()
        self.assertEqual(self.opened, [])
        form, basic = self.fake.token_forms[0]
        self.assertEqual(form["grant_type"], "client_credentials")
        self.assertEqual(form["resource"], self.fake.url)
        self.assertTrue(basic.startswith("Basic "))


# RFC 6979 A.2.5: a P-256 private key and its public point.
P256_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
P256_PUBLIC = (
    0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6,
    0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299)


def der(tag, value):
    assert len(value) < 128
    return bytes([tag, len(value)]) + value


def pkcs8_pem(private):
    """ A PKCS#8 PEM of a P-256 key, built by hand (RFC 5208, RFC 5915). """
    inner = der(0x30, der(0x02, b"\x01") + der(0x04, private.to_bytes(32,
                                                                       "big")))
    algorithm = der(0x30, der(0x06, bytes.fromhex("2a8648ce3d0201")) +
                    der(0x06, mcp_client.P256_OID))
    body = der(0x30, der(0x02, b"\x00") + algorithm + der(0x04, inner))
    return "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" \
        % base64.b64encode(body).decode()


def es256_verify(public, message, signature):
    """ ECDSA verification (FIPS 186-4 6.4.2), for the test. """
    n = mcp_client.P256_N
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    digest = int.from_bytes(mcp_client.hashlib.sha256(message).digest(),
                            "big")
    w = pow(s, n - 2, n)
    point = mcp_client.p256_add(mcp_client.p256_multiply(digest * w % n),
                                mcp_client.p256_multiply(r * w % n, public))
    return point is not None and point[0] % n == r


class PrivateKeyJwtTests(OAuthCase):
    """ private_key_jwt with ES256 (RFC 7523), in the standard library. """

    def test_public_point_of_a_known_key(self):
        self.assertEqual(mcp_client.p256_multiply(P256_KEY), P256_PUBLIC)

    def test_pkcs8_key_is_read(self):
        self.assertEqual(mcp_client.ec_private_key(pkcs8_pem(P256_KEY)),
                         P256_KEY)
        with self.assertRaises(ValueError):
            mcp_client.ec_private_key("-----BEGIN PRIVATE KEY-----\n" +
                                      base64.b64encode(b"\x30\x03\x02\x01"
                                                       b"\x00").decode())

    def test_assertion_at_the_token_endpoint(self):
        self.fake.metadata_extra = {"token_endpoint_auth_methods_supported":
                                    ["private_key_jwt"]}
        path = os.path.join(self.home, "key.pem")
        with open(path, "w") as handle:
            handle.write(pkcs8_pem(P256_KEY))
        self.client(self.oauth({
            "client_id": "robot", "grant": "client_credentials",
            "token_endpoint_auth_method": "private_key_jwt",
            "private_key_file": path})).connect()
        form, basic = self.fake.token_forms[0]
        self.assertIsNone(basic)
        self.assertEqual(form["client_assertion_type"], "urn:ietf:params:"
                         "oauth:client-assertion-type:jwt-bearer")
        header, claims, signature, signed = jwt_parts(
            form["client_assertion"])
        self.assertEqual(header["alg"], "ES256")
        self.assertEqual((claims["iss"], claims["sub"], claims["aud"]),
                         ("robot", "robot", self.fake.issuer))
        self.assertTrue(es256_verify(P256_PUBLIC, signed, signature))
        self.assertFalse(es256_verify(P256_PUBLIC, b"other", signature))


class DPoPTests(OAuthCase):
    """ DPoP (RFC 9449): when the AS signs DPoP with ES256, the token is
    bound to a key of the client and every request carries a fresh proof. """

    def setUp(self):
        OAuthCase.setUp(self)
        self.fake.metadata_extra = {"dpop_signing_alg_values_supported":
                                    ["ES256"]}

    def verify(self, proof, method, url):
        header, claims, signature, signed = jwt_parts(proof)
        self.assertEqual((header["typ"], header["alg"]), ("dpop+jwt",
                                                          "ES256"))
        jwk = header["jwk"]
        self.assertNotIn("d", jwk)
        public = tuple(int.from_bytes(base64.urlsafe_b64decode(
            jwk[key] + "=="), "big") for key in ("x", "y"))
        self.assertTrue(es256_verify(public, signed, signature))
        self.assertEqual((claims["htm"], claims["htu"]), (method, url))
        return claims

    def test_bound_token_and_fresh_proofs(self):
        client = self.client()
        client.connect()
        client.list_tools()
        self.assertEqual(len(self.fake.token_proofs), 1)
        self.verify(self.fake.token_proofs[0], "POST",
                    self.fake.issuer + "/token")
        token = "AT-1-secret"
        ath = mcp_client.base64url(mcp_client.hashlib.sha256(
            token.encode()).digest())
        jtis = set()
        for auth, proof in zip(self.fake.mcp_auth[1:],
                               self.fake.mcp_proofs[1:]):
            self.assertEqual(auth, "DPoP " + token)
            claims = self.verify(proof, "POST", self.fake.url)
            self.assertEqual(claims["ath"], ath)
            jtis.add(claims["jti"])
        self.assertEqual(len(jtis), len(self.fake.mcp_proofs) - 1)
        self.assertGreaterEqual(len(jtis), 3)

    def test_nonce_from_the_token_endpoint(self):
        self.fake.dpop_nonce = "n-42"
        self.client().connect()
        self.assertEqual(len(self.fake.token_proofs), 2)
        self.assertNotIn("nonce", jwt_parts(self.fake.token_proofs[0])[1])
        self.assertEqual(jwt_parts(self.fake.token_proofs[1])[1]["nonce"],
                         "n-42")
        self.assertTrue(self.fake.mcp_auth[-1].startswith("DPoP "))


class TokenTests(OAuthCase):
    """ Refresh, step-up, the file, and where tokens go. """

    def test_refresh_before_expiry_without_the_person(self):
        oauth = self.oauth()
        oauth.refresh_margin = 2 * self.fake.expires_in    # always "soon"
        client = self.client(oauth)
        client.connect()
        client.list_tools()
        grants = [form["grant_type"] for form, _ in self.fake.token_forms]
        self.assertEqual(grants[0], "authorization_code")
        self.assertIn("refresh_token", grants)
        for form, _ in self.fake.token_forms[1:]:
            self.assertEqual(form["resource"], self.fake.url)
            self.assertEqual(form["client_id"], "dcr-1")
        self.assertEqual(len(self.opened), 1)
        self.assertEqual(self.fake.mcp_auth[-1],
                         "Bearer AT-%d-secret" % self.fake.serial)

    def test_refresh_on_401(self):
        client = self.client()
        client.connect()
        self.fake.tokens.clear()                # the server forgets it
        client.list_tools()
        self.assertEqual([form["grant_type"] for form, _ in
                          self.fake.token_forms],
                         ["authorization_code", "refresh_token"])
        self.assertEqual(len(self.opened), 1)

    def test_refused_refresh_asks_the_person_again(self):
        client = self.client()
        client.connect()
        self.fake.tokens.clear()
        self.fake.refresh_tokens.clear()
        client.list_tools()
        self.assertEqual([form["grant_type"] for form, _ in
                          self.fake.token_forms],
                         ["authorization_code", "refresh_token",
                          "authorization_code"])
        self.assertEqual(len(self.opened), 2)

    def test_step_up_asks_for_the_union(self):
        self.fake.step_up = "write"
        client = self.client()
        client.connect()
        self.assertEqual(client.call_tool("echo")["content"][0]["text"],
                         "done")
        self.assertEqual([query["scope"] for query in
                          self.fake.authorizations], ["weather",
                                                      "weather write"])

    def test_step_up_limit(self):
        """ A server that wants a new scope at every answer: the request
        gives up after step_up_limit authorizations, in one line. """
        self.fake.always_forbid = True
        client = self.client()
        client.connect()
        before = len(self.fake.authorizations)
        with self.assertRaises(mcp_client.TransportError) as caught:
            client.call_tool("echo")
        self.assertEqual(len(self.fake.authorizations) - before,
                         mcp_client.OAuth.step_up_limit)
        self.assertIn("403", str(caught.exception))

    def test_same_scope_is_not_asked_twice(self):
        self.fake.step_up = "weather"        # already granted: never helps
        client = self.client()
        client.connect()
        self.fake.tokens = dict.fromkeys(self.fake.tokens, "")
        with self.assertRaises(mcp_client.TransportError):
            client.call_tool("echo")
        self.assertEqual(len(self.fake.authorizations), 1)

    def test_offline_access_only_when_supported(self):
        self.fake.metadata_extra = {"scopes_supported": ["weather"]}
        self.client().connect()
        self.assertEqual(self.fake.authorizations[0]["scope"], "weather")
        self.fake.metadata_extra = {"scopes_supported": ["weather",
                                                         "offline_access"]}
        self.fake.tokens.clear()
        self.fake.refresh_tokens.clear()
        mcp_client.TokenStore(self.token_path).forget(self.fake.url)
        self.client().connect()
        self.assertEqual(self.fake.authorizations[1]["scope"],
                         "offline_access weather")

    def test_scope_from_prm_else_none(self):
        self.fake.challenge_scope = None
        self.fake.scopes_supported = ["a", "b"]
        self.client().connect()
        self.assertEqual(self.fake.authorizations[0]["scope"], "a b")
        self.fake.scopes_supported = None
        self.fake.tokens.clear()
        self.fake.refresh_tokens.clear()
        self.store.forget(self.fake.url)
        self.client(self.oauth()).connect()
        self.assertNotIn("scope", self.fake.authorizations[1])

    def test_token_file_modes(self):
        os.umask(0o022)
        self.client().connect()
        mode = stat.S_IMODE(os.stat(self.token_path).st_mode)
        self.assertEqual(mode, 0o600)
        folder = os.path.dirname(self.token_path)
        self.assertEqual(stat.S_IMODE(os.stat(folder).st_mode), 0o700)
        with open(self.token_path) as handle:
            data = json.load(handle)
        state = data[self.fake.url]["issuers"][self.fake.issuer]
        self.assertEqual(state["tokens"]["access_token"], "AT-1-secret")
        self.assertEqual(state["client"]["client_id"], "dcr-1")

    def test_token_file_follows_xdg(self):
        self.assertEqual(mcp_client.token_file({"XDG_CONFIG_HOME": "/x"}),
                         "/x/mcp-weather/tokens.json")
        self.assertEqual(mcp_client.token_file(
            {"XDG_CONFIG_HOME": "/x", "MCP_CLIENT_TOKENS": "/y/t.json"}),
            "/y/t.json")

    def test_pasted_redirect_when_there_is_no_browser(self):
        """ An SSH session: no browser opens; the person pastes the address
        the browser ended on. """
        pasted = []

        def read_line():
            wait_for(lambda: self.said and "\n  " in self.said[-1])
            url = self.said[-1].split("\n  ")[-1]
            pasted.append(final_address(url))
            return pasted[-1] + "\n"

        oauth = mcp_client.OAuth(self.fake.url, "fake", {"browser": False},
                                 self.store, read_line=read_line,
                                 say=self.said.append)
        oauth.redirect_timeout = 10.0
        self.client(oauth).connect()
        self.assertEqual(len(pasted), 1)
        self.assertIn("/callback?code=", pasted[0])
        self.assertEqual(len(self.fake.token_forms), 1)

    def test_device_grant_without_a_browser(self):
        """ RFC 8628: no browser and the AS offers the device grant: the
        person gets a URL and a code; the client polls until the AS stops
        answering authorization_pending. """
        self.fake.metadata_extra = {"device_authorization_endpoint":
                                    self.fake.issuer + "/device"}
        self.client(self.oauth({"browser": False})).connect()
        self.assertEqual(self.opened, [])
        self.assertEqual(self.fake.authorizations, [])
        self.assertEqual(self.fake.device_requests[0]["resource"],
                         self.fake.url)
        self.assertIn("enter the code WXYZ-1234", self.said[-1])
        grants = [form["grant_type"] for form, _ in self.fake.token_forms]
        self.assertEqual(grants, ["urn:ietf:params:oauth:grant-type:"
                                  "device_code"] * 3)
        self.assertEqual(self.fake.registrations[0]["grant_types"][0],
                         "urn:ietf:params:oauth:grant-type:device_code")

    def test_spare_browser_connection_does_not_block(self):
        """ Browsers open a connection ahead and send nothing on it; the
        listener still takes the redirect at once. """
        spare = []

        def browser(url):
            redirect = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
                url).query))["redirect_uri"]
            port = urllib.parse.urlsplit(redirect).port
            spare.append(socket.create_connection(("127.0.0.1", port), 5))
            return browse(url)
        oauth = self.oauth()
        oauth.open_browser = browser
        oauth.redirect_timeout = 3.0    # far below the handler's timeout
        self.client(oauth).connect()
        spare[0].close()
        self.assertEqual(len(self.fake.token_forms), 1)

    def test_browser_that_never_comes_back_times_out(self):
        oauth = self.oauth()
        oauth.open_browser = lambda url: True
        oauth.redirect_timeout = 0.2
        text = self.assert_refused(self.client(oauth), "no answer from the "
                                   "browser")
        self.assertIn("0.2 s", text)


class CommandLineTests(OAuthCase):
    """ config.json's "oauth", login, logout, and --trace without tokens. """

    def write_config(self, oauth=None):
        path = os.path.join(self.home, "config.json")
        server = {"url": self.fake.url}
        if oauth is not None:
            server["oauth"] = oauth
        with open(path, "w") as handle:
            json.dump({"mcpServers": {"fake": server}}, handle)
        return path

    def run_main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        terminal = mcp_client.Terminal(out, err)
        environ = {"MCP_CLIENT_TOKENS": self.token_path}
        with unittest.mock.patch("webbrowser.open", self.browser):
            status = mcp_client.main(list(argv), terminal, environ)
        return status, out.getvalue(), err.getvalue()

    def test_trace_never_shows_a_token(self):
        config = self.write_config({"client_id": "me",
                                    "client_secret": "pw-secret"})
        status, out, err = self.run_main("--config", config, "--trace",
                                         "call", "fake", "echo")
        self.assertEqual(status, 0, err)
        self.assertIn("done", out)
        self.assertIn("Authorization: Bearer ***", err)
        self.assertIn("oauth: POST", err)
        with open(self.token_path) as handle:
            stored = handle.read()
        for secret in ("AT-1-secret", "RT-1-secret", "code-1", "pw-secret"):
            self.assertNotIn(secret, err + out)
        self.assertIn("AT-1-secret", stored)

    def test_login_and_logout(self):
        config = self.write_config()
        status, out, err = self.run_main("--config", config, "login", "fake")
        self.assertEqual(status, 0, err)
        self.assertIn("logged in", out)
        self.assertEqual(len(self.fake.token_forms), 1)
        self.assertIn(self.fake.url, self.store.load())
        status, out, err = self.run_main("--config", config, "logout",
                                         "fake")
        self.assertEqual((status, out.strip()), (0, "fake: logged out"))
        self.assertNotIn(self.fake.url, self.store.load())

    def test_login_follows_the_challenge(self):
        """ login asks the server first: metadata found only through the
        challenge, and the challenge's scope. """
        self.fake.prm_paths = ["/custom/prm.json"]
        self.fake.challenge_scope = "weather admin"
        config = self.write_config()
        status, out, err = self.run_main("--config", config, "login", "fake")
        self.assertEqual(status, 0, err)
        self.assertEqual(self.fake.mcp_auth, [None])
        self.assertEqual(self.fake.authorizations[0]["scope"],
                         "admin weather")

    def test_oauth_false_keeps_the_old_error(self):
        config = self.write_config(False)
        status, out, err = self.run_main("--config", config, "call", "fake",
                                         "echo")
        self.assertEqual(status, 1)
        self.assertIn("a bearer token is missing", err)
        self.assertEqual(self.opened, [])

    def test_failure_is_one_line(self):
        self.fake.resource = "http://evil.example/mcp"
        config = self.write_config()
        status, out, err = self.run_main("--config", config, "call", "fake",
                                         "echo")
        self.assertEqual(status, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("fake: authorization failed at protected resource "
                      "metadata", err)


class WeatherServerTests(ServerTestCase):
    """ End to end: mcp_client.py against mcp_weather.py --auth-server
    (the server's resource-server mode), whose tokens come from a fake AS
    that also does the code grant. """

    settings = INTROSPECTION

    @classmethod
    def setUpClass(cls):
        cls.auth = _FakeAuthServer()
        cls.codes = FakeOAuthServer()
        cls.auth.server.RequestHandlerClass.do_GET = \
            lambda handler: cls.auth_get(handler)
        post = cls.auth.server.RequestHandlerClass.do_POST
        cls.auth.server.RequestHandlerClass.do_POST = \
            lambda handler: cls.auth_post(handler, post)
        cls.settings = dict(cls.settings, auth_server=cls.auth.issuer)
        try:
            super(WeatherServerTests, cls).setUpClass()
        except Exception:
            cls.auth.stop()
            cls.codes.stop()
            raise
        cls.resource = "http://127.0.0.1:%d/mcp" % cls.port

    @classmethod
    def tearDownClass(cls):
        super(WeatherServerTests, cls).tearDownClass()
        cls.auth.stop()
        cls.codes.stop()

    @classmethod
    def auth_get(cls, handler):
        """ The metadata of _FakeAuthServer plus the code grant's
        endpoints, which FakeOAuthServer's logic answers. """
        cls.codes.issuer_path = ""
        if handler.path == "/.well-known/oauth-authorization-server":
            return cls.auth.send(handler, 200, {
                "issuer": cls.auth.issuer,
                "authorization_endpoint": cls.auth.issuer + "/authorize",
                "token_endpoint": cls.auth.issuer + "/token",
                "registration_endpoint": cls.auth.issuer + "/register",
                "introspection_endpoint": cls.auth.issuer + "/introspect",
                "authorization_response_iss_parameter_supported": True})
        cls.codes.origin = cls.auth.issuer
        return cls.codes.get(handler)

    @classmethod
    def auth_post(cls, handler, introspect):
        if handler.path == "/introspect":
            return introspect(handler)
        cls.codes.post(handler)
        for token, scope in cls.codes.tokens.items():
            cls.auth.tokens[token] = {
                "active": True, "sub": "alice", "aud": cls.resource,
                "scope": scope, "exp": time.time() + 600,
                "client_id": "dcr", "iss": cls.auth.issuer}

    def test_get_weather_through_oauth(self):
        home = tempfile.mkdtemp(prefix="oauth-e2e-")
        self.addCleanup(shutil.rmtree, home, True)
        oauth = mcp_client.OAuth(
            self.resource, "weather", {}, mcp_client.TokenStore(
                os.path.join(home, "tokens.json")), open_browser=browse,
            say=lambda text: None)
        client = mcp_client.MCPClient(self.resource, "weather", oauth=oauth)
        self.addCleanup(client.close)
        client.connect()
        result = client.call_tool("get_weather", {"city": "Hangzhou"})
        self.assertFalse(result.get("isError"), result)
        query = self.codes.authorizations[-1]
        self.assertEqual(query["resource"], self.resource)
        self.assertEqual(query["scope"], "weather")
        self.assertTrue(self.auth.introspections)

if __name__ == "__main__":
    unittest.main()
