#!/usr/bin/env python3
"""Drive mcp_weather.py with the OFFICIAL MCP Python SDK client (pip `mcp`, 2.x) over Streamable HTTP.

    python sdk_client_check.py [--url URL] [--mode MODE]... [--stateless-server] [--fixture] [--verbose]

URL defaults to $MCP_URL (set by stack.py). MODE may be given several times (default: legacy auto):

  legacy             Client(mode="legacy"): initialize handshake; the SDK always offers 2025-11-25.
  legacy@2025-06-18  the same, with the SDK patched (mcp.client.session.LATEST_HANDSHAKE_VERSION)
  legacy@2025-03-26  to offer an older revision, to exercise version negotiation (LC11:167-172).
  auto               Client(mode="auto"), the SDK default: one server/discover probe at 2026-07-28,
                     falling back to initialize on any JSON-RPC error (mcp/client/_probe.py).
  2026-07-28         Client(mode="2026-07-28"): adopt the modern version with no probe at all.

For each mode it prints PASS/FAIL per step: connect (and the negotiated version), ping (legacy only),
tools/list, get_weather {"city":"Hangzhou"}, get_forecast {"city":"Hangzhou","days":3}, get_weather
with a progress callback (SSE + notifications/progress), three kinds of
bad call (arguments that violate inputSchema, a place that does not exist, an unknown tool), the
weather resources (templates/list, read, a city that does not exist, subscribe and unsubscribe on
sessions), the weather_report prompt, completion of a city name, in 2026-07-28 a subscriptions/listen
stream (Client.listen) that must be acknowledged and then hear of a change of the current weather
(the fake upstream's POST /_fake/warmer), and the session teardown.

With --fixture the server is ../examples/conformance_server.py instead, and the steps after tools/list
are requests from the server to the client, answered by the SDK's sampling, elicitation and roots
callbacks: on the call's SSE stream in a 2025 session (S23), as an InputRequiredResult that the SDK
retries with the answers in 2026-07-28 (MRTR). Every HTTP exchange is recorded through httpx2 event hooks; a failing step prints the
exchanges it caused, so a server bug can be reported with the exact request and response.
Exit status 1 if any step failed. Requires the venv made by run_sdk.sh (mcp, anyio, httpx2).
"""
import argparse
import json
import logging
import os
import sys
import time
import warnings

import anyio
import httpx2
import mcp
import mcp.client.session as sdk_session
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (CreateMessageResult, ElicitResult, Implementation, ListRootsResult,
                       PromptReference, ResourceTemplateReference, Root, TextContent)

try:
    from importlib.metadata import version as _pkg_version
    SDK_VERSION = _pkg_version("mcp")
except Exception:  # pragma: no cover
    SDK_VERSION = getattr(mcp, "__version__", "?")

STEP_TIMEOUT = 20.0
MODE_TIMEOUT = 180.0
INTERESTING_HEADERS = ("accept", "content-type", "mcp-session-id", "mcp-protocol-version", "mcp-method",
                       "mcp-name", "last-event-id", "allow", "www-authenticate")


# --------------------------------------------------------------------------------------------- wire log
class Wire:
    """Records every HTTP exchange the SDK makes (httpx2 event hooks)."""

    def __init__(self):
        self.exchanges = []

    async def on_request(self, request):
        try:
            body = request.content.decode("utf-8", "replace")
        except Exception:
            body = "<streamed>"
        self.exchanges.append({
            "method": request.method,
            "url": str(request.url),
            "req_headers": {k.lower(): v for k, v in request.headers.items() if k.lower() in INTERESTING_HEADERS},
            "req_body": body,
            "status": None,
            "_req": request,
        })

    async def on_response(self, response):
        ex = next((e for e in reversed(self.exchanges) if e["_req"] is response.request), None)
        if ex is None:
            return
        ex["status"] = response.status_code
        ex["resp_headers"] = {k.lower(): v for k, v in response.headers.items()
                              if k.lower() in INTERESTING_HEADERS}
        if response.status_code >= 300 or response.request.method == "DELETE":
            try:
                await response.aread()  # buffered; the SDK reads the cached body afterwards
                ex["resp_body"] = response.text
            except Exception as exc:  # pragma: no cover
                ex["resp_body"] = "<unreadable: %r>" % exc

    def mark(self):
        return len(self.exchanges)

    def since(self, mark):
        return self.exchanges[mark:]

    @staticmethod
    def format(ex, width=400):
        def cut(s):
            s = s or ""
            return s if len(s) <= width else s[:width] + "...(%d chars)" % len(s)
        lines = ["    > %s %s %s" % (ex["method"], ex["url"], json.dumps(ex["req_headers"]))]
        if ex["req_body"]:
            lines.append("      %s" % cut(ex["req_body"]))
        lines.append("    < %s %s" % (ex["status"], json.dumps(ex.get("resp_headers", {}))))
        if ex.get("resp_body"):
            lines.append("      %s" % cut(ex["resp_body"]))
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- results
class Report:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.verbose = verbose
        self.failures = []

    def line(self, status, label, step, detail, exchanges=()):
        print("  %-4s %-34s %s" % (status, step, detail), flush=True)
        if status == "FAIL":
            self.failed += 1
            self.failures.append("%s: %s: %s" % (label, step, detail))
            if exchanges:
                print("       HTTP exchanges of this step:")
                for ex in exchanges:
                    print(Wire.format(ex))
        elif status == "PASS":
            self.passed += 1
        else:
            self.skipped += 1
        if self.verbose and exchanges and status != "FAIL":
            for ex in exchanges:
                print(Wire.format(ex, 200))


def leaf_errors(exc):
    """Unwrap (nested) ExceptionGroups into their leaf exceptions."""
    inner = getattr(exc, "exceptions", None)
    if inner:
        out = []
        for e in inner:
            out.extend(leaf_errors(e))
        return out
    return [exc]


def describe(exc):
    leaves = leaf_errors(exc)
    return "; ".join("%s: %s" % (type(e).__name__, e) for e in leaves)


def mcp_error(exc):
    for e in leaf_errors(exc):
        if isinstance(e, MCPError):
            return e
    return None


def text_of(result):
    return " | ".join(getattr(c, "text", "<%s>" % getattr(c, "type", "?")) for c in (result.content or []))


def short(s, n=110):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 3] + "..."


# --------------------------------------------------------------------------------------------- one mode
# --------------------------------------------------------------------------------------------- callbacks
# What the SDK answers when the server asks (sampling, elicitation, roots): fixed, recognisable values.
async def on_sampling(context, params):
    return CreateMessageResult(role="assistant", model="interop-model", stopReason="endTurn",
                               content=TextContent(type="text", text="Paris, said the model"))


async def on_elicitation(context, params):
    fields = list((params.requested_schema or {}).get("properties", {}))
    return ElicitResult(action="accept", content=dict((name, "interop-%s" % name) for name in fields))


async def on_list_roots(context):
    return ListRootsResult(roots=[Root(uri="file:///interop/root", name="Interop root")])


CALLBACKS = dict(sampling_callback=on_sampling, elicitation_callback=on_elicitation,
                 list_roots_callback=on_list_roots)


async def run_mode(url, mode_spec, report, stateless_server, expect_auto, fixture=False):
    mode, _, offer = mode_spec.partition("@")
    label = mode_spec
    if mode == "legacy":
        expected = offer or "2025-11-25"
    elif mode == "auto":
        expected = expect_auto
    else:
        expected = mode
    print("\n== SDK mode %-18s against %s (%s server)" % (
        label, url, "stateless" if stateless_server else "sessionful"), flush=True)

    saved = sdk_session.LATEST_HANDSHAKE_VERSION
    if offer:
        sdk_session.LATEST_HANDSHAKE_VERSION = offer
    wire = Wire()
    t_mode = time.monotonic()
    try:
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=60.0),
                                      event_hooks={"request": [wire.on_request],
                                                   "response": [wire.on_response]}) as http:
            client = Client(streamable_http_client(url, http_client=http), mode=mode,
                            read_timeout_seconds=STEP_TIMEOUT,
                            client_info=Implementation(name="interop-sdk-check", version="1.0"),
                            **(CALLBACKS if fixture else {}))
            await _run_steps(client, wire, report, label, mode, expected, stateless_server, fixture)
    finally:
        sdk_session.LATEST_HANDSHAKE_VERSION = saved

    # Teardown (C11, S50): legacy sessionful -> DELETE answered 200/204 (or 405); else no DELETE at all.
    deletes = [e for e in wire.exchanges if e["method"] == "DELETE"]
    session_ids = {e["req_headers"].get("mcp-session-id") for e in wire.exchanges} - {None}
    if mode == "legacy" and not stateless_server:
        if not deletes:
            report.line("FAIL", label, "session teardown (DELETE)",
                        "no DELETE sent: the server issued no Mcp-Session-Id (S45)")
        elif deletes[-1]["status"] in (200, 204, 405):
            report.line("PASS", label, "session teardown (DELETE)", "HTTP %s" % deletes[-1]["status"])
        else:
            report.line("FAIL", label, "session teardown (DELETE)",
                        "HTTP %s; the SDK warns unless 200/204/405 (S50)" % deletes[-1]["status"], deletes)
    else:
        if session_ids:
            report.line("FAIL", label, "no session issued",
                        "server issued Mcp-Session-Id %s in a mode that must not have one (%s)" % (
                            sorted(session_ids), "S52" if mode != "legacy" else "--stateless"),
                        [e for e in wire.exchanges if e["req_headers"].get("mcp-session-id")][:2])
        else:
            report.line("PASS", label, "no session issued", "no Mcp-Session-Id, no DELETE")
    print("  ---- %s: %d HTTP exchanges in %.2fs" % (label, len(wire.exchanges), time.monotonic() - t_mode))


async def _run_steps(client, wire, report, label, mode, expected, stateless_server, fixture):
    # anyio cancel scopes must nest, so the whole connection lives in one `async with`; per-request
    # timeouts come from Client(read_timeout_seconds=...), the whole mode is bounded by MODE_TIMEOUT.
    m = wire.mark()
    t0 = time.monotonic()
    state = {"connected": False}
    try:
        with anyio.fail_after(MODE_TIMEOUT):
            async with client:
                state["connected"] = True
                await _connected_steps(client, wire, report, label, mode, expected, m, t0, fixture,
                                       stateless_server)
                state["closing"] = wire.mark()
    except BaseException as exc:  # noqa: B902 (ExceptionGroup, TimeoutError, ...)
        if isinstance(exc, KeyboardInterrupt):
            raise
        if not state["connected"]:
            report.line("FAIL", label, "connect", short(describe(exc), 300), wire.since(m))
            report.line("SKIP", label, "(remaining steps)", "not run: no connection")
        else:
            report.line("FAIL", label, "disconnect", short(describe(exc), 300),
                        wire.since(state.get("closing", m)))


async def _connected_steps(client, wire, report, label, mode, expected, m, t0, fixture, stateless_server):
    # 1. connect ------------------------------------------------------------------------------
    version = client.protocol_version
    info = client.server_info
    who = "%s %s" % (info.name, info.version) if info else "(no serverInfo)"
    probe = [e for e in wire.since(m) if '"server/discover"' in (e["req_body"] or "")]
    how = ""
    if mode == "auto":
        how = "; probe server/discover -> HTTP %s" % (probe[0]["status"] if probe else "none")
        if version != "2026-07-28":
            how += ", fell back to initialize"
    detail = "negotiated %s, server %s (%.2fs%s)" % (version, who, time.monotonic() - t0, how)
    if expected and version != expected:
        report.line("FAIL", label, "connect", detail + "; expected %s" % expected, wire.since(m))
    else:
        report.line("PASS", label, "connect", detail, wire.since(m))
    modern = version == "2026-07-28"
    validation_is_error = modern or version >= "2025-11-25"

    # 2. ping (legacy only; removed in 2026-07-28) -------------------------------------------------
    if not modern:
        await step(report, wire, label, "ping", client.send_ping(), lambda r: (True, "empty result"))

    if fixture:
        await _client_request_steps(client, wire, report, label, modern)
        return

    # 3. tools/list --------------------------------------------------------------------------------
    def check_list(res):
        names = [t.name for t in res.tools]
        missing = {"get_weather", "get_forecast"} - set(names)
        if missing:
            return False, "missing %s in %s" % (sorted(missing), names)
        facts = []
        for t in res.tools:
            if t.name in ("get_weather", "get_forecast"):
                facts.append("%s(in%s%s%s)" % (t.name, ",out" if t.output_schema else "",
                                               ",ann" if t.annotations else "", ",title" if t.title else ""))
        return True, "%d tools: %s%s" % (len(names), ", ".join(facts),
                                          "; nextCursor set" if res.next_cursor else "")
    await step(report, wire, label, "tools/list", client.list_tools(), check_list)

    # 4. the two tools -----------------------------------------------------------------------------
    def check_ok(expect_word):
        def check(res):
            txt = text_of(res)
            if res.is_error:
                return False, "isError=true: " + short(txt)
            if expect_word.lower() not in txt.lower():
                return False, "text lacks %r: %s" % (expect_word, short(txt))
            sc = " +structuredContent" if res.structured_content is not None else ""
            return True, short(txt, 90) + sc
        return check
    await step(report, wire, label, 'get_weather {"city":"Hangzhou"}',
               client.call_tool("get_weather", {"city": "Hangzhou"}), check_ok("Hangzhou"))
    await step(report, wire, label, 'get_forecast {"Hangzhou",days:3}',
               client.call_tool("get_forecast", {"city": "Hangzhou", "days": 3}), check_ok("Hangzhou"))

    # 4b. progress (6.1): with a progressToken the answer must become an SSE stream carrying
    # notifications/progress (increasing) before the result (S17, S23/S24, field notes B-11).
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, total, message))

    def check_progress(res):
        ctype = (wire.exchanges[-1].get("resp_headers") or {}).get("content-type", "?") if wire.exchanges else "?"
        if res.is_error:
            return False, "isError=true: " + short(text_of(res))
        if not seen:
            return False, "no notifications/progress received (response content-type %s)" % ctype
        values = [p for p, _, _ in seen]
        if any(b <= a for a, b in zip(values, values[1:])):
            return False, "progress not strictly increasing: %s" % values
        return True, "%d progress notifications %s, last %r; response %s" % (
            len(seen), values, seen[-1][2], ctype.split(";")[0])
    await step(report, wire, label, "get_weather + progressToken",
               client.call_tool("get_weather", {"city": "Hangzhou"}, progress_callback=on_progress),
               check_progress)

    # 5. bad calls ---------------------------------------------------------------------------------
    def expect_tool_error(why):
        # 2025-11-25 and 2026-07-28: schema-violating arguments are a tool execution error
        # (isError); older revisions may answer -32602 instead (checklist 5.3).
        def check(res):
            if res.is_error:
                return True, "isError=true: " + short(text_of(res), 80)
            return False, "expected isError=true (%s), got a normal result: %s" % (why, short(text_of(res)))
        return check
    await step(report, wire, label, "get_forecast days=99 (bad arg)",
               client.call_tool("get_forecast", {"city": "Hangzhou", "days": 99}),
               expect_tool_error("days outside 1-7"), allow_32602=not validation_is_error)
    await step(report, wire, label, "get_weather {} (missing city)",
               client.call_tool("get_weather", {}),
               expect_tool_error("required city missing"), allow_32602=not validation_is_error)
    await step(report, wire, label, 'get_weather {"city":"Nowhere"}',
               client.call_tool("get_weather", {"city": "Nowhere"}),
               expect_tool_error("unknown place is a tool execution error"))
    await step(report, wire, label, "call unknown tool",
               client.call_tool("no_such_tool", {}), None, expect_code=-32602)
    await _resource_and_prompt_steps(client, wire, report, label, modern, stateless_server)
    if modern:
        await step(report, wire, label, "listen weather://Hangzhou/current",
                   _listen_for_a_change(client, "weather://Hangzhou/current"), _check_listen)


async def _listen_for_a_change(client, uri):
    """ 2026-07-28 subscriptions/listen (SEP-2575): open the stream through the SDK's Client.listen(),
    which waits for the acknowledgement; then make the fake upstream's current weather change
    (POST /_fake/warmer) and wait for the first event, which the server's re-read of the watched URI
    (--watch-interval, 1 s under stack.py) must send.  The change is made again every 3 s until an
    event comes: a change made before the server's first read is that read's baseline, not news. """
    import urllib.request
    fake = os.environ.get("FAKE_UPSTREAM_URL")
    if not fake:
        raise RuntimeError("FAKE_UPSTREAM_URL is not set (run through stack.py)")
    async with client.listen(resource_subscriptions=[uri], tools_list_changed=True) as sub:
        for _ in range(5):
            await anyio.to_thread.run_sync(lambda: urllib.request.urlopen(
                urllib.request.Request(fake + "/_fake/warmer", b"", method="POST"), timeout=10).read())
            with anyio.move_on_after(3.0):
                event = await sub.__anext__()
                return uri, sub.subscription_id, sub.honored, event
        raise TimeoutError("no event within 15 s of five changes of the weather")


def _check_listen(res):
    from mcp.client.subscriptions import ResourceUpdated
    uri, sid, honored, event = res
    if list(honored.resource_subscriptions or ()) != [uri] or honored.tools_list_changed is not True:
        return False, "acknowledged %r, expected the URI and toolsListChanged" % (honored,)
    if not isinstance(event, ResourceUpdated) or event.uri != uri:
        return False, "first event %r, expected ResourceUpdated(%s)" % (event, uri)
    return True, "acknowledged %s (subscription %r), then %r" % (
        honored.model_dump(by_alias=True, exclude_none=True), sid, event)


async def _resource_and_prompt_steps(client, wire, report, label, modern, stateless_server):
    """ 6. the weather resources, the weather_report prompt and city completion (6.4, 6.5). """
    def check_templates(res):
        uris = sorted(t.uri_template for t in res.resource_templates)
        ok = uris == ["weather://{city}/current", "weather://{city}/forecast"]
        return ok, "templates %s" % uris

    def check_read(res):
        first = res.contents[0] if res.contents else None
        text = getattr(first, "text", "") or ""
        ok = first is not None and "Hangzhou" in text and str(first.uri) == "weather://Hangzhou/current"
        return ok, "%s (%s): %s" % (first.uri if first else "-", getattr(first, "mime_type", "?"), short(text, 60))

    def check_prompts(res):
        names = [p.name for p in res.prompts]
        return "weather_report" in names, "prompts %s" % names

    def check_prompt(res):
        kinds = [m.content.type for m in res.messages]
        ok = kinds == ["resource", "resource", "text"] and "Hangzhou" in res.messages[0].content.resource.text
        return ok, "%d messages %s" % (len(kinds), kinds)

    def check_completion(res):
        values = res.completion.values
        return "Hangzhou" in values, "values %s, total %s" % (values, res.completion.total)

    await step(report, wire, label, "resources/templates/list", client.list_resource_templates(),
               check_templates)
    await step(report, wire, label, "resources/read weather://Hangzhou/current",
               client.read_resource("weather://Hangzhou/current"), check_read)
    await step(report, wire, label, "resources/read weather://Nowhere/current",
               client.read_resource("weather://Nowhere/current"), None,
               expect_code=-32602 if modern else -32002)
    if not modern and not stateless_server:      # resources/subscribe needs a session (gone in 2026)
        await step(report, wire, label, "resources/subscribe + unsubscribe",
                   _subscribe_and_unsubscribe(client, "weather://Hangzhou/current"),
                   lambda res: (True, "both answered {}"))
    await step(report, wire, label, "prompts/list", client.list_prompts(), check_prompts)
    await step(report, wire, label, 'prompts/get weather_report Hangzhou',
               client.get_prompt("weather_report", {"city": "Hangzhou"}), check_prompt)
    await step(report, wire, label, 'completion/complete city "Han"',
               client.complete(PromptReference(type="ref/prompt", name="weather_report"),
                               {"name": "city", "value": "Han"}), check_completion)
    await step(report, wire, label, 'complete template city "Han"',
               client.complete(ResourceTemplateReference(type="ref/resource", uri="weather://{city}/current"),
                               {"name": "city", "value": "Han"}), check_completion)


async def _subscribe_and_unsubscribe(client, uri):
    await client.subscribe_resource(uri)
    return await client.unsubscribe_resource(uri)


async def _client_request_steps(client, wire, report, label, modern):
    """ --fixture: tools and a prompt that ask the client things; the SDK's callbacks answer. """
    how = "InputRequiredResult + retry" if modern else "request on the call's SSE stream"

    def expect_text(*words):
        def check(res):
            messages = getattr(res, "messages", None)
            text = " | ".join(m.content.text for m in messages) if messages is not None else text_of(res)
            if getattr(res, "is_error", False):
                return False, "isError=true: " + short(text)
            missing = [w for w in words if w not in text]
            if missing:
                return False, "text lacks %s: %s" % (missing, short(text))
            return True, "%s (%s)" % (short(text, 70), how)
        return check
    await step(report, wire, label, "test_sampling (sampling)",
               client.call_tool("test_sampling", {"prompt": "Capital of France?"}),
               expect_text("LLM response: Paris, said the model"))
    await step(report, wire, label, "test_elicitation (elicitation)",
               client.call_tool("test_elicitation", {"message": "Who are you?"}),
               expect_text("action=accept", "interop-username"))
    await step(report, wire, label, "roots/list",
               client.call_tool("test_input_required_result_list_roots", {}),
               expect_text("file:///interop/root"))
    await step(report, wire, label, "two elicitations in a row",
               client.call_tool("test_input_required_result_multi_round", {}),
               expect_text("interop-name likes interop-color"))
    await step(report, wire, label, "prompts/get that elicits",
               client.get_prompt("test_input_required_result_prompt", {}),
               expect_text("interop-context"))


async def step(report, wire, label, name, coro, check, allow_32602=False, expect_code=None):
    """Await one SDK call and judge its result. check(result) -> (ok, detail)."""
    m = wire.mark()
    t0 = time.monotonic()
    try:
        with anyio.fail_after(STEP_TIMEOUT):
            result = await coro
    except BaseException as exc:  # noqa: B902
        if isinstance(exc, KeyboardInterrupt):
            raise
        err = mcp_error(exc)
        ms = (time.monotonic() - t0) * 1000
        if err is not None and expect_code is not None and err.code == expect_code:
            report.line("PASS", label, name, "JSON-RPC error %s: %s (%.0f ms)" % (err.code, short(err, 70), ms),
                        wire.since(m))
        elif err is not None and allow_32602 and err.code == -32602:
            report.line("PASS", label, name, "JSON-RPC -32602 (allowed before 2025-11-25): %s" % short(err, 60),
                        wire.since(m))
        else:
            what = ("expected JSON-RPC error %s; " % expect_code) if expect_code is not None else ""
            report.line("FAIL", label, name, what + short(describe(exc), 250), wire.since(m))
        return None
    ms = (time.monotonic() - t0) * 1000
    if expect_code is not None:
        report.line("FAIL", label, name, "expected JSON-RPC error %s, got a result: %s"
                    % (expect_code, short(text_of(result) if hasattr(result, "content") else result)), wire.since(m))
        return result
    ok, detail = check(result)
    report.line("PASS" if ok else "FAIL", label, name, "%s (%.0f ms)" % (detail, ms), wire.since(m))
    return result


# --------------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("MCP_URL"))
    ap.add_argument("--mode", action="append", dest="modes",
                    help="legacy, legacy@2025-06-18, legacy@2025-03-26, auto, 2026-07-28 (repeatable)")
    ap.add_argument("--stateless-server", action="store_true",
                    help="the server runs with --stateless: expect no Mcp-Session-Id and no DELETE")
    ap.add_argument("--fixture", action="store_true",
                    help="the server is examples/conformance_server.py: check requests to the client")
    ap.add_argument("--expect-auto", default="2026-07-28",
                    help="version auto mode must end up with (default 2026-07-28; '' accepts any)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every HTTP exchange")
    args = ap.parse_args(argv)
    if not args.url:
        ap.error("no --url and no MCP_URL in the environment")
    warnings.filterwarnings("ignore", message="ping is removed")  # we only ping on legacy sessions
    warnings.filterwarnings("ignore", message="resources/(un)?subscribe is removed")  # ditto
    logging.basicConfig(level=logging.WARNING, format="       sdk-log %(levelname)s %(name)s: %(message)s")
    modes = args.modes or ["legacy", "auto"]
    print("MCP Python SDK %s (mcp_types %s) on Python %s" % (
        SDK_VERSION, _safe_version("mcp-types"), sys.version.split()[0]))
    report = Report(args.verbose)
    t0 = time.monotonic()

    async def run_all():
        for mode in modes:
            await run_mode(args.url, mode, report, args.stateless_server, args.expect_auto, args.fixture)
    anyio.run(run_all)

    print("\nsdk_client_check: %d mode(s) in %.2fs" % (len(modes), time.monotonic() - t0))
    if report.failures:
        print("FAILED steps:")
        for f in report.failures:
            print("  - " + f)
    print("sdk: %d passed, %d failed, %d skipped" % (report.passed, report.failed, report.skipped))
    return 1 if report.failed else 0


def _safe_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
