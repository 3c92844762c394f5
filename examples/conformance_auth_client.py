#!/usr/bin/env python3
"""The client side of the conformance suite's auth scenarios, on mcp_client.py's own OAuth code.

    conformance client --scenario auth/metadata-default \\
        --command "python3 examples/conformance_auth_client.py"      # the suite appends the URL

The suite starts an MCP server and an authorization server, then runs this with the server's URL
and, in the environment, MCP_CONFORMANCE_SCENARIO, MCP_CONFORMANCE_PROTOCOL_VERSION and, for some
scenarios, MCP_CONFORMANCE_CONTEXT (JSON: a pre-registered client_id and client_secret, or a
machine client's key).  This maps those to the settings a person would put under "oauth" in
config.json, then connects, lists the tools and calls the first one, as `mcp_client.py call`
would.  The authorization URL goes to $BROWSER (conformance_browser.py beside this file, unless
set), which fetches it as a browser would.  Tokens go to a temporary file.

Thin on purpose: the lead folds it into conformance_client.py.
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import mcp_client  # noqa: E402

CIMD_URL = "https://conformance-test.local/client-metadata.json"
STATELESS = ("2026-07-28",)


def oauth_settings(scenario, context):
    """ What config.json's "oauth" would hold for this scenario. """
    settings = {"client_metadata_url": CIMD_URL}    # used only if the AS supports it
    for key in ("client_id", "client_secret"):
        if context.get(key):
            settings[key] = context[key]
    if scenario == "auth/enterprise-managed-authorization":
        settings.update(grant="enterprise", id_token=context.get("idp_id_token"),
                        idp_token_endpoint=context.get("idp_token_endpoint"),
                        idp_client_id=context.get("idp_client_id"))
    if scenario == "auth/wif-jwt-bearer":
        settings.update(grant="jwt_bearer", assertion=context.get("valid_jwt"))
    if scenario.startswith("auth/client-credentials"):
        settings["grant"] = "client_credentials"
        if context.get("private_key_pem"):
            settings["token_endpoint_auth_method"] = "private_key_jwt"
            settings["private_key_pem"] = context["private_key_pem"]
            settings["signing_algorithm"] = context.get("signing_algorithm", "ES256")
    return settings


def stateless_request(client, method, params=None):
    """ 2026-07-28 (no initialize): the version rides in a header and in _meta.  A stand-in
    until the era code of mcp_client.py (issue 16) does this itself. """
    params = dict(params or {})
    params["_meta"] = {"io.modelcontextprotocol/protocolVersion": client.version,
                       "io.modelcontextprotocol/clientCapabilities": {}}
    return client.exchange(method, params, None, None)


def main(argv):
    url = argv[1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION", "")
    os.environ.setdefault("BROWSER", "%s %s %%s" % (
        sys.executable, os.path.join(HERE, "conformance_browser.py")))
    folder = tempfile.mkdtemp(prefix="mcp-auth-")
    oauth = mcp_client.OAuth(url, "conformance", oauth_settings(scenario, context),
                             mcp_client.TokenStore(os.path.join(folder, "tokens.json")),
                             trace=mcp_client.log.debug)
    client = mcp_client.MCPClient(url, "conformance", oauth=oauth)
    try:
        if version in STATELESS:
            client.version = version
            tools = stateless_request(client, "tools/list").get("tools") or []
            if tools:
                stateless_request(client, "tools/call", {"name": tools[0]["name"],
                                                          "arguments": {}})
        else:
            client.connect()
            tools = client.list_tools()
            if tools:
                client.call_tool(tools[0]["name"], {})
    except (mcp_client.TransportError, mcp_client.MCPError) as error:
        sys.stderr.write("error: %s\n" % error)
        return 1
    finally:
        client.close()
    print("ok: %d tools" % len(tools))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
