#!/usr/bin/env python3
"""The client half of the official MCP conformance suite, played by mcp_client.MCPClient.

    python examples/conformance_client.py URL

The suite (@modelcontextprotocol/conformance, see ../interop/run_conformance_client.sh) tests a
client by starting a mock server, running this file with the server's URL, and checking what the
client sent.  It says what to do through the environment:

    MCP_CONFORMANCE_SCENARIO           the scenario's name (initialize, tools_call, sse-retry, ...)
    MCP_CONFORMANCE_PROTOCOL_VERSION   the wire the mock server plays (2025-11-25, 2026-07-28);
                                       unset in the 0.1 releases, which only know 2025-11-25
    MCP_CONFORMANCE_CONTEXT            JSON the scenario hands over (e.g. the tool calls to make,
                                       or an auth scenario's pre-registered client or keys)

This file has no protocol code of its own: it maps each scenario to the public calls of MCPClient
that the command line makes (``connect``, ``list_tools``, ``call_tool``, ``list_resources``,
``read_resource``, ``list_prompts``, ``get_prompt``, ``close``) and supplies the handlers a host
supplies: a canned sampling answer, and an elicitation form accepted as shown (each field's
default, else a plain value of its type).  The era follows the wire the suite plays: 2026-07-28
is ``era="modern"`` (server/discover, per-request _meta, Mcp-* headers, MRTR), an older date is
``era="legacy"`` offering that revision in ``initialize``.

The auth/* scenarios (../interop/run_conformance_auth.sh) put an OAuth authorization server in
front of the mock server.  The driver gives the client what a person puts under "oauth" in
config.json (oauth_settings), and the client does the rest with its own OAuth code, as
``mcp_client.py call`` would.  The authorization URL goes to $BROWSER, conformance_browser.py
beside this file unless set, which fetches it and follows its redirect to the client's loopback
listener, as a browser would.  Tokens go to a temporary file.

Exit status 0 when the scenario's calls went through, 1 (and the error on stderr) otherwise.
Standard library only, like mcp_client.py.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import mcp_client  # noqa: E402
from mcp_client import MCPClient, MCPError, TransportError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CANNED_SAMPLE = "A canned answer from the conformance driver."
CIMD_URL = "https://conformance-test.local/client-metadata.json"


# ==========================================================================
# What a host answers when the server asks
# ==========================================================================

def answer_sampling(params, client):
    """ sampling/createMessage: a fixed assistant message (no model here). """
    return {"role": "assistant", "model": "conformance-driver", "stopReason": "endTurn",
            "content": {"type": "text", "text": CANNED_SAMPLE}}


def answer_elicitation(params, client):
    """ elicitation/create: accept.  A form is submitted as a person who presses OK would: every
    field holds its default (SEP-1034), or a plain value of its type.  A URL elicitation is
    accepted (the person opened the page). """
    if params.get("mode") == "url":
        return {"action": "accept"}
    schema = params.get("requestedSchema") or {}
    return {"action": "accept", "content": dict(
        (name, form_value(field)) for name, field in (schema.get("properties") or {}).items())}


def form_value(field):
    if "default" in field:
        return field["default"]
    choices = field.get("enum") or [c.get("const") for c in field.get("oneOf") or () if "const" in c]
    if choices:
        return choices[0]
    return {"boolean": True, "integer": 1, "number": 1, "array": []}.get(field.get("type"), "yes")


def example_arguments(tool):
    """ Arguments for a tool the scenario did not give any for: each required property's default,
    first choice, or a plain value of its type (tools_call: a=1, b=1). """
    schema = tool.get("inputSchema") or {}
    properties = schema.get("properties") or {}
    return dict((name, form_value(properties.get(name) or {}))
                for name in schema.get("required") or ())


# ==========================================================================
# Scenarios: each is a function of (client, context)
# ==========================================================================

def connect_only(client, context):
    client.connect()


def list_tools(client, context):
    client.connect()
    client.list_tools()


def call_first_tool(client, context):
    """ initialize, tools_call, sse-retry: connect, list the tools, call the first one. """
    client.connect()
    tools = client.list_tools()
    if tools:
        client.call_tool(tools[0]["name"], example_arguments(tools[0]))


def call_every_tool(client, context):
    """ Every tool the client kept from tools/list (a tool whose x-mcp-header annotations cannot
    be honoured is left out by list_tools), in the order listed. """
    client.connect()
    for tool in client.list_tools():
        client.call_tool(tool["name"], example_arguments(tool))


def call_context_tools(client, context):
    """ http-custom-headers: the calls the scenario names, with its arguments. """
    client.connect()
    client.list_tools()         # the x-mcp-header annotations come from here
    for call in context.get("toolCalls") or ():
        client.call_tool(call["name"], call.get("arguments") or {})


def use_everything(client, context):
    """ http-standard-headers: every tool, resource and prompt the server lists. """
    client.connect()
    for tool in client.list_tools():
        client.call_tool(tool["name"], example_arguments(tool))
    capabilities = client.capabilities or {}
    if "resources" in capabilities:
        for resource in client.list_resources():
            client.read_resource(resource["uri"])
    if "prompts" in capabilities:
        for prompt in client.list_prompts():
            arguments = dict((a["name"], "yes") for a in prompt.get("arguments") or ()
                             if a.get("required"))
            client.get_prompt(prompt["name"], arguments)


def echo_schema(client, context):
    """ json-schema-2020-12-preservation: send back the inputSchema exactly as tools/list gave
    it, so the server can see that the client kept every keyword. """
    client.connect()
    tools = dict((tool["name"], tool) for tool in client.list_tools())
    focal = tools.get("json_schema_2020_12_tool")
    if focal is None:
        raise SystemExit("json_schema_2020_12_tool is not among the tools: %s" % sorted(tools))
    client.call_tool("json_schema_echo", {"schema": focal.get("inputSchema")})


SCENARIOS = {
    "initialize": call_first_tool,
    "tools_call": call_first_tool,
    "sse-retry": call_first_tool,
    "elicitation-sep1034-client-defaults": call_every_tool,
    "request-metadata": list_tools,
    "sep-2322-client-request-state": call_every_tool,
    "http-standard-headers": use_everything,
    "http-custom-headers": call_context_tools,
    "http-invalid-tool-headers": call_every_tool,
    "json-schema-ref-no-deref": list_tools,
    "json-schema-2020-12-preservation": echo_schema,
}


# ==========================================================================
# Authorization: what config.json's "oauth" would hold
# ==========================================================================

def oauth_settings(scenario, context):
    """ The "oauth" settings of a server entry, for an auth/* scenario. """
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


def make_oauth(url, scenario, context):
    """ The client's OAuth for an auth/* scenario, with a throwaway token file; None otherwise. """
    if not scenario.startswith("auth/"):
        return None
    os.environ.setdefault("BROWSER", "%s %s %%s" % (
        sys.executable, os.path.join(HERE, "conformance_browser.py")))
    tokens = os.path.join(tempfile.mkdtemp(prefix="mcp-auth-"), "tokens.json")
    return mcp_client.OAuth(url, "conformance", oauth_settings(scenario, context),
                            mcp_client.TokenStore(tokens), trace=mcp_client.log.debug)


# ==========================================================================
# Command line
# ==========================================================================

def client_keywords(version):
    """ The MCPClient settings for the wire the suite plays, and the handlers.  Only the keywords
    this mcp_client.py knows are passed, so that the driver also runs against older ones. """
    wanted = {"on_sampling": answer_sampling, "on_elicitation": answer_elicitation}
    if version in getattr(mcp_client, "MODERN_VERSIONS", ()):
        wanted.update(era="modern", modern_version=version)
    else:
        wanted.update(era="legacy", protocol_version=version)
    known = MCPClient.__init__.__code__.co_varnames
    return dict((key, value) for key, value in wanted.items()
                if key in known or hasattr(MCPClient, key))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: conformance_client.py URL  (MCP_CONFORMANCE_SCENARIO says what to do)\n")
        return 2
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION") or mcp_client.PROTOCOL_VERSION
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    run = SCENARIOS.get(scenario, call_first_tool if scenario.startswith("auth/")
                        else use_everything)
    if scenario not in SCENARIOS and not scenario.startswith("auth/"):
        sys.stderr.write("conformance_client: no mapping for %r; using every tool, resource and prompt\n"
                         % scenario)
    trace = (lambda text: sys.stderr.write(text + "\n")) if os.environ.get("MCP_TRACE") else None
    client = MCPClient(argv[0], scenario or "server", trace=trace,
                       oauth=make_oauth(argv[0], scenario, context), **client_keywords(version))
    try:
        run(client, context)
    except (MCPError, TransportError) as error:
        sys.stderr.write("conformance_client: %s: %s\n" % (scenario, error))
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
