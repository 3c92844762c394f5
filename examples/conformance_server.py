#!/usr/bin/env python3
"""The fixtures of the official MCP conformance suite, served by mcp_weather's core.

    python examples/conformance_server.py --port 8765        # http://127.0.0.1:8765/mcp
    python examples/conformance_server.py --port 0 --stateless

The suite (@modelcontextprotocol/conformance, see ../interop/) tests a server by calling tools,
resources and prompts of fixed names and checking what comes back.  This file registers exactly
those, with the behaviour each scenario's description asks for, on the same MCPDispatcher that
serves the weather tools; every flag of mcp_weather.py works here too (--help).  It is also a
tour of the registration API:

    @dispatcher.tool(name, description, input_schema)          tools/call
    @dispatcher.resource(uri, name, mime_type=...)             resources/list, resources/read
    @dispatcher.resource_template(uri_template, name, ...)     resources/templates/list
    @dispatcher.prompt(name, description, arguments)           prompts/list, prompts/get
    @dispatcher.completion("ref/prompt", name, argument)       completion/complete
    call.log, call.progress, call.sample, call.elicit, call.list_roots, call.ask_all,
    call.state, call.client_supports, call.close_stream

In a 2025 session call.sample() and friends send a request on the call's SSE stream and wait for
the answer; in 2026-07-28 the same code yields an InputRequiredResult, and the client's retry runs
the handler again with the answers (multi-round requests).  The input_required fixtures below work
both ways.

Standard library only; imports nothing from the project but mcp_weather.py.
"""
import io
import json
import os
import struct
import sys
import time
import wave
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import mcp_weather  # noqa: E402
from mcp_weather import (ToolError, audio_content, elicitation_request,  # noqa: E402
                         embedded_resource, image_content, sampling_request, text_content)

NO_ARGUMENTS = {"type": "object", "properties": {}, "additionalProperties": False}
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
PAUSE = 0.05        # the suite asks for ~50 ms between log and progress messages


def red_pixel_png():
    """ A 1x1 red PNG, built here: signature, IHDR, one IDAT row, IEND. """
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)    # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")              # filter 0, then R G B
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def silent_wav():
    """ A tenth of a second of silence: 8 kHz, 8-bit mono WAV. """
    out = io.BytesIO()
    writer = wave.open(out, "wb")
    writer.setnchannels(1)
    writer.setsampwidth(1)
    writer.setframerate(8000)
    writer.writeframes(b"\x80" * 800)
    writer.close()
    return out.getvalue()


PNG, WAV = red_pixel_png(), silent_wav()


def add_content_tools(dispatcher):
    """ tools-call-simple-text, -image, -audio, -embedded-resource, -mixed-content, -error. """

    @dispatcher.tool("test_simple_text", "Returns a simple text block.", NO_ARGUMENTS)
    def simple_text(arguments, call):
        return "This is a simple text response for testing."

    @dispatcher.tool("test_image_content", "Returns a 1x1 red PNG.", NO_ARGUMENTS)
    def image(arguments, call):
        return [image_content(PNG, "image/png")]

    @dispatcher.tool("test_audio_content", "Returns a short silent WAV clip.", NO_ARGUMENTS)
    def audio(arguments, call):
        return [audio_content(WAV, "audio/wav")]

    @dispatcher.tool("test_embedded_resource", "Returns an embedded text resource.", NO_ARGUMENTS)
    def embedded(arguments, call):
        return [embedded_resource("test://embedded-resource", "This is an embedded resource content.",
                                  "text/plain")]

    @dispatcher.tool("test_multiple_content_types", "Returns text, an image and a resource.",
                     NO_ARGUMENTS)
    def mixed(arguments, call):
        return ["Multiple content types test:", image_content(PNG, "image/png"),
                embedded_resource("test://mixed-content-resource",
                                  json.dumps({"test": "data", "value": 123}), "application/json")]

    @dispatcher.tool("test_error_handling", "Always fails (isError).", NO_ARGUMENTS)
    def error(arguments, call):
        raise ToolError("This tool intentionally returns an error for testing")


def add_streaming_tools(dispatcher):
    """ tools-call-with-logging, tools-call-with-progress, server-sse-polling. """

    @dispatcher.tool("test_tool_with_logging", "Sends three info log messages.", NO_ARGUMENTS)
    def with_logging(arguments, call):
        call.log("info", "Tool execution started")
        time.sleep(PAUSE)
        call.log("info", "Tool processing data")
        time.sleep(PAUSE)
        call.log("info", "Tool execution completed")
        return "Logging tool finished: sent 3 log messages."

    @dispatcher.tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100.",
                     NO_ARGUMENTS)
    def with_progress(arguments, call):
        for step, value in enumerate((0, 50, 100)):
            if step:
                time.sleep(PAUSE)
            call.progress(value, 100, "step %d of 3" % (step + 1))
        return "Progress tool finished."

    @dispatcher.tool("test_reconnection", "Closes its SSE connection mid-call; the result "
                     "arrives when the client resumes with Last-Event-ID.", NO_ARGUMENTS)
    def reconnection(arguments, call):
        closed = call.close_stream()
        return "Reconnection test finished (%s)." % (
            "the stream was closed mid-call" if closed else "this stream cannot be resumed")

    @dispatcher.tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", {
        "$schema": JSON_SCHEMA_2020_12,
        "type": "object",
        "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                              "properties": {"street": {"type": "string"},
                                             "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"},
                       "address": {"$ref": "#/$defs/address"},
                       "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                       "phone": {"type": "string"}, "email": {"type": "string"}},
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False})
    def json_schema(arguments, call):
        return "ok"


ENUM_SCHEMA = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "oneOf": [
            {"const": "value1", "title": "First Option"},
            {"const": "value2", "title": "Second Option"},
            {"const": "value3", "title": "Third Option"}]},
        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                       "enumNames": ["Option One", "Option Two", "Option Three"]},
        "untitledMulti": {"type": "array", "items": {"type": "string",
                                                     "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {"type": "array", "items": {"anyOf": [
            {"const": "value1", "title": "First Choice"},
            {"const": "value2", "title": "Second Choice"},
            {"const": "value3", "title": "Third Choice"}]}},
    },
}

DEFAULTS_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {"type": "string", "enum": ["active", "inactive", "pending"],
                   "default": "active"},
        "verified": {"type": "boolean", "default": True},
    },
}


def describe_elicitation(answer):
    return "action=%s, content=%s" % (answer.get("action"),
                                      json.dumps(answer.get("content", {}), sort_keys=True))


def add_client_request_tools(dispatcher):
    """ tools-call-sampling, tools-call-elicitation, elicitation-sep1034-defaults and
    elicitation-sep1330-enums: requests to the client on the call's SSE stream. """

    @dispatcher.tool("test_sampling", "Asks the client's model to answer a prompt.", {
        "type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]})
    def sampling(arguments, call):
        answer = call.sample([arguments["prompt"]], max_tokens=100)
        content = answer.get("content") or {}
        return "LLM response: %s" % (content.get("text") if isinstance(content, dict) else content)

    @dispatcher.tool("test_elicitation", "Asks the person for a username and an email.", {
        "type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]})
    def elicitation(arguments, call):
        answer = call.elicit(arguments["message"], {
            "type": "object",
            "properties": {"username": {"type": "string", "description": "User's response"},
                           "email": {"type": "string", "description": "User's email address"}},
            "required": ["username", "email"]})
        return "User response: %s" % describe_elicitation(answer)

    @dispatcher.tool("test_elicitation_sep1034_defaults", "Elicitation whose fields have "
                     "default values (SEP-1034).", NO_ARGUMENTS)
    def defaults(arguments, call):
        answer = call.elicit("Please review your details", DEFAULTS_SCHEMA)
        return "Elicitation completed: %s" % describe_elicitation(answer)

    @dispatcher.tool("test_elicitation_sep1330_enums", "Elicitation with every enum form "
                     "(SEP-1330).", NO_ARGUMENTS)
    def enums(arguments, call):
        answer = call.elicit("Please pick your options", ENUM_SCHEMA)
        return "Elicitation completed: %s" % describe_elicitation(answer)


def name_schema(field):
    return {"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}


def sampled_text(answer):
    content = answer.get("content") or {}
    return content.get("text") if isinstance(content, dict) else str(content)


def add_input_required_tools(dispatcher):
    """ input-required-result-* (2026-07-28, SEP-2322) and the diagnostic tools of
    server-stateless; the same code asks on the stream in a 2025 session. """

    @dispatcher.tool("test_input_required_result_elicitation", "Asks for a name.", NO_ARGUMENTS)
    def ask_name(arguments, call):
        answer = call.elicit("What is your name?", name_schema("name"), key="user_name")
        return "Hello, %s!" % (answer.get("content") or {}).get("name", "stranger")

    @dispatcher.tool("test_input_required_result_sampling", "Asks the model a question.",
                     NO_ARGUMENTS)
    def ask_model(arguments, call):
        answer = call.sample(["What is the capital of France?"], 100, key="capital_question")
        return "The model says: %s" % sampled_text(answer)

    @dispatcher.tool("test_input_required_result_list_roots", "Lists the client's roots.",
                     NO_ARGUMENTS)
    def ask_roots(arguments, call):
        roots = call.list_roots(key="client_roots")
        return "Roots: %s" % ", ".join(str(root.get("uri")) for root in roots)

    @dispatcher.tool("test_input_required_result_request_state", "Keeps state across rounds.",
                     NO_ARGUMENTS)
    def with_state(arguments, call):
        call.state.setdefault("round", 1)           # sealed into requestState by round 1
        call.elicit("Please confirm", {"type": "object", "properties": {"ok": {"type": "boolean"}},
                                       "required": ["ok"]}, key="confirm")
        return "Confirmed: state-ok" if call.state.get("round") == 1 else "state lost"

    @dispatcher.tool("test_input_required_result_tampered_state", "Rejects altered state.",
                     NO_ARGUMENTS)
    def tampered(arguments, call):
        call.elicit("Please confirm", {"type": "object", "properties": {"ok": {"type": "boolean"}},
                                       "required": ["ok"]}, key="confirm")
        return "Confirmed."

    @dispatcher.tool("test_input_required_result_multiple_inputs", "Asks three things at once.",
                     NO_ARGUMENTS)
    def several(arguments, call):
        answers = call.ask_all({
            "user_name": elicitation_request("What is your name?", name_schema("name")),
            "greeting": sampling_request(["Generate a greeting"], 50),
            "client_roots": ("roots/list", {})})
        return "Got %s" % ", ".join(sorted(answers))

    @dispatcher.tool("test_input_required_result_multi_round", "Asks twice, one after the other.",
                     NO_ARGUMENTS)
    def two_rounds(arguments, call):
        name = call.elicit("Step 1: What is your name?", name_schema("name"), key="step1")
        color = call.elicit("Step 2: What is your favorite color?", name_schema("color"),
                            key="step2")
        return "%s likes %s" % ((name.get("content") or {}).get("name"),
                                (color.get("content") or {}).get("color"))

    @dispatcher.tool("test_input_required_result_capabilities", "Asks only what the client "
                     "declared it can answer.", NO_ARGUMENTS)
    def by_capability(arguments, call):
        wanted = {}
        if call.client_supports("sampling"):
            wanted["model"] = sampling_request(["Say hello"], 20)
        if call.client_supports("elicitation"):
            wanted["person"] = elicitation_request("Say hello", name_schema("hello"))
        return "Answered: %s" % ", ".join(sorted(call.ask_all(wanted))) if wanted else \
            "The client can answer nothing."

    @dispatcher.prompt("test_input_required_result_prompt", "A prompt that asks for context first.")
    def prompt_with_input(arguments, call):
        answer = call.elicit("What context should the prompt use?", name_schema("context"),
                             key="user_context")
        return "Use this context: %s" % (answer.get("content") or {}).get("context")

    @dispatcher.tool("test_missing_capability", "Needs sampling: refused (-32021) when the "
                     "client does not declare it.", NO_ARGUMENTS, requires=["sampling"])
    def needs_sampling(arguments, call):
        return "The model says: %s" % sampled_text(call.sample(["Say hello"], 20))

    @dispatcher.tool("test_streaming_elicitation", "Elicits; never as a request on the stream "
                     "in 2026-07-28.", NO_ARGUMENTS)
    def streaming_elicitation(arguments, call):
        answer = call.elicit("Anything to add?", name_schema("note"), key="note")
        return "Noted: %s" % (answer.get("content") or {}).get("note")

    @dispatcher.tool("test_logging_tool", "Logs at info level (only when the client asked for "
                     "logs).", NO_ARGUMENTS)
    def logging_tool(arguments, call):
        call.log("info", "test_logging_tool ran")
        return "Logged."


def add_resources(dispatcher):
    """ resources-list, -read-text, -read-binary, -templates-read, -subscribe, -unsubscribe. """

    @dispatcher.resource("test://static-text", "static-text", title="Static text",
                         description="A fixed text resource.", mime_type="text/plain")
    def static_text(arguments, call):
        return "This is the content of the static text resource."

    @dispatcher.resource("test://static-binary", "static-binary", title="Static binary",
                         description="A fixed PNG image.", mime_type="image/png")
    def static_binary(arguments, call):
        return PNG

    @dispatcher.resource("test://watched-resource", "watched-resource",
                         description="A resource clients may subscribe to.",
                         mime_type="text/plain")
    def watched(arguments, call):
        return "Watched resource content."

    @dispatcher.resource_template("test://template/{id}/data", "template-data",
                                  description="Data for any id.", mime_type="application/json")
    def template_data(arguments, call):
        return {"contents": [{"mimeType": "application/json", "text": json.dumps(
            {"id": arguments["id"], "templateTest": True,
             "data": "Data for ID: %s" % arguments["id"]}, separators=(",", ":"))}]}


def add_prompts(dispatcher):
    """ prompts-list, prompts-get-*, and completion-complete. """

    @dispatcher.prompt("test_simple_prompt", "A prompt without arguments.")
    def simple(arguments, call):
        return "This is a simple prompt for testing."

    @dispatcher.prompt("test_prompt_with_arguments", "A prompt with two arguments.", [
        {"name": "arg1", "description": "First test argument", "required": True},
        {"name": "arg2", "description": "Second test argument", "required": True}])
    def with_arguments(arguments, call):
        return "Prompt with arguments: arg1='%s', arg2='%s'" % (arguments["arg1"],
                                                               arguments["arg2"])

    @dispatcher.prompt("test_prompt_with_embedded_resource", "A prompt that embeds a resource.", [
        {"name": "resourceUri", "description": "URI of the resource to embed", "required": True}])
    def with_resource(arguments, call):
        return [embedded_resource(arguments["resourceUri"],
                                  "Embedded resource content for testing.", "text/plain"),
                "Please process the embedded resource above."]

    @dispatcher.prompt("test_prompt_with_image", "A prompt with an image.")
    def with_image(arguments, call):
        return [image_content(PNG, "image/png"), text_content("Please analyze the image above.")]

    @dispatcher.completion("ref/prompt", "test_prompt_with_arguments", "arg1")
    def complete_arg1(value, context, call):
        return [word for word in ("paris", "park", "party", "test", "testing")
                if word.startswith(value.lower())]


def add_custom_header_tool(dispatcher):
    """ http-custom-header-server-validation (S60): parameters marked x-mcp-header, which a
    2026-07-28 client mirrors into Mcp-Param-* headers and the server checks against the body. """

    @dispatcher.tool("test_custom_headers", "Echoes arguments that travel as Mcp-Param-* "
                     "headers too.", {
                         "type": "object",
                         "properties": {
                             "region": {"type": "string", "x-mcp-header": "Region"},
                             "priority": {"type": "integer", "x-mcp-header": "Priority"},
                             "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
                             "query": {"type": "string"}},
                         "required": ["region"]})
    def custom_headers(arguments, call):
        return "region=%s priority=%s verbose=%s" % (
            arguments["region"], arguments.get("priority"), arguments.get("verbose"))


def add_list_change_tools(dispatcher):
    """ server-stateless (sep-2575 listen checks): tools that change the tool and prompt lists, so
    that notifications/*/list_changed reach the subscriptions/listen streams that asked. """

    @dispatcher.tool("test_trigger_tool_change", "Adds or removes the tool test_dynamic_tool.",
                     NO_ARGUMENTS)
    def trigger_tool_change(arguments, call):
        if dispatcher.tools.remove("test_dynamic_tool") is None:
            dispatcher.tool("test_dynamic_tool", "Appears and disappears.", NO_ARGUMENTS)(
                lambda arguments, call: "Still here.")
        return "The tool list changed."

    @dispatcher.tool("test_trigger_prompt_change", "Adds or removes the prompt "
                     "test_dynamic_prompt.", NO_ARGUMENTS)
    def trigger_prompt_change(arguments, call):
        if dispatcher.prompts.remove("test_dynamic_prompt") is None:
            dispatcher.prompt("test_dynamic_prompt", "Appears and disappears.")(
                lambda arguments, call: "Still here.")
        return "The prompt list changed."

def add_task_tools(dispatcher):
    """ tasks-* (the 2026-07-28 tasks extension, io.modelcontextprotocol/tasks): tools that may run
    (task_support="optional") or must run (task_support="required") as tasks.  A client that
    names the extension in its request gets a task handle and polls tasks/get; call.elicit inside
    a task parks it in input_required until tasks/update answers.  Other clients get the result
    at once, or -32021 from a task-only tool. """

    @dispatcher.tool("greet", "Says hello; never a task.", {
        "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]})
    def greet(arguments, call):
        return "Hello, %s!" % arguments["name"]

    @dispatcher.tool("slow_compute", "Works for `seconds` seconds (a task when the client takes "
                     "tasks); stops at once when cancelled.", {
                         "type": "object",
                         "properties": {"seconds": {"type": "number", "minimum": 0,
                                                    "maximum": 3600},
                                        "label": {"type": "string"}},
                         "required": ["seconds"]}, task_support="optional")
    def slow_compute(arguments, call):
        seconds = arguments["seconds"]
        call.progress(0, seconds or 1, "computing %s" % arguments.get("label", ""))
        call.cancelled.wait(seconds)
        call.check_cancelled()
        return "Computed %s in %s s." % (arguments.get("label", "it"), seconds)

    @dispatcher.tool("failing_job", "Always fails after a moment (isError); runs only as a task.",
                     NO_ARGUMENTS, task_support="required")
    def failing_job(arguments, call):
        call.cancelled.wait(0.2)
        call.check_cancelled()
        raise ToolError("failing_job failed, as it always does.")

    @dispatcher.tool("protocol_error_job", "Ends with a JSON-RPC error: the task fails.",
                     NO_ARGUMENTS, task_support="optional")
    def protocol_error_job(arguments, call):
        raise mcp_weather.RPCError(mcp_weather.INTERNAL_ERROR, "protocol_error_job broke, "
                                   "as it always does.")

    @dispatcher.tool("confirm_delete", "Asks the person to confirm deleting a file.", {
        "type": "object", "properties": {"filename": {"type": "string"}},
        "required": ["filename"]}, task_support="optional")
    def confirm_delete(arguments, call):
        answer = call.elicit("Delete %s?" % arguments["filename"], {
            "type": "object", "properties": {"confirm": {"type": "boolean"}},
            "required": ["confirm"]}, key="confirm")
        confirmed = answer.get("action") == "accept" and \
            (answer.get("content") or {}).get("confirm") is True
        return "%s %s." % ("Deleted" if confirmed else "Kept", arguments["filename"])

    @dispatcher.tool("multi_input", "Asks two things at once.", NO_ARGUMENTS,
                     task_support="optional")
    def multi_input(arguments, call):
        answers = call.ask_all({
            "name": elicitation_request("What is your name?", name_schema("name")),
            "confirm": elicitation_request("Go on?", {
                "type": "object", "properties": {"confirm": {"type": "boolean"}}})})
        return "Got %s" % ", ".join(sorted(answers))

    @dispatcher.tool("test_tool_with_task", "Asks for a name first (multi-round request), then "
                     "greets as a task.", NO_ARGUMENTS, task_support="required", defer_task=True)
    def tool_with_task(arguments, call):
        answer = call.elicit("What is your name?", name_schema("name"), key="user_name")
        name = (answer.get("content") or {}).get("name", "stranger")
        return call.as_task(lambda task_call: "Hello, %s!" % name)


def setup(dispatcher):
    dispatcher.instructions = ("Fixtures of the MCP conformance suite: test tools, resources and "
                               "prompts. Not a weather server.")
    for add in (add_content_tools, add_streaming_tools, add_client_request_tools,
                add_input_required_tools, add_task_tools, add_resources, add_prompts,
                add_custom_header_tool, add_list_change_tools):
        add(dispatcher)


if __name__ == "__main__":
    sys.exit(mcp_weather.main(setup=setup, weather=False))
