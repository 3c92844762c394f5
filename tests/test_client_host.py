"""Issue 16: resources and prompts from the command line and the chat
(resources, read, prompts, prompt; /read and /prompt attach to the
conversation), the tools offered to the model refreshed when a server says
they changed, and --trace showing both eras on the wire."""

import json
import threading
import unittest

import mcp_client
from tests.support import (DISCOVER, ScriptedServer, TIMEOUT, _ClientTestCase,
                           _completion, result, wait_for)

META_SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"


class CommandTests(_ClientTestCase):

    def test_resources_lists_resources_and_templates(self):
        status, out, err = self.run_client(["resources"])
        self.assertEqual(status, 0, err)
        self.assertIn("weather  %s  (mcp-weather" % self.weather.url, out)
        self.assertIn("  weather://{city}/current  current-weather  "
                      "(template)", out)

    def test_read_prints_the_resource(self):
        status, out, err = self.run_client(
            ["read", "weather", "weather://Hangzhou/current"])
        self.assertEqual(status, 0, err)
        self.assertIn("Hangzhou", out)
        status, out, err = self.run_client(
            ["read", "weather", "weather://Hangzhou/current", "--raw"])
        self.assertEqual(json.loads(out)["contents"][0]["uri"],
                         "weather://Hangzhou/current")

    def test_read_unknown_resource_is_one_error_line(self):
        status, out, err = self.run_client(
            ["read", "weather", "nothing://here"])
        self.assertEqual(status, 1)
        self.assertOneErrorLine(err)

    def test_prompts_and_prompt(self):
        status, out, err = self.run_client(["prompts"])
        self.assertEqual(status, 0, err)
        self.assertIn("  weather_report(city)", out)
        status, out, err = self.run_client(
            ["prompt", "weather", "weather_report", "city=Hangzhou"])
        self.assertEqual(status, 0, err)
        self.assertTrue(out.startswith("user: "), out)
        self.assertIn("Hangzhou", out)

    def test_prompt_missing_argument_without_a_terminal(self):
        status, out, err = self.run_client(
            ["prompt", "weather", "weather_report"])
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "needs city=...")

    def test_prompt_argument_asked_with_completions(self):
        """ At a terminal a missing argument is asked, and the server's
        completions (completion/complete) are offered first. """
        host = mcp_client.Host(mcp_client.Terminal(), interactive=True)
        lines, answers = [], ["Hang"]
        host.say = lines.append
        host.ask = lambda prompt: answers.pop(0)
        client = self.client(self.weather.url)
        client.connect()
        arguments = mcp_client.prompt_arguments(client, "weather_report",
                                                [], host)
        self.assertEqual(arguments, {"city": "Hang"})
        completes = [r["body"] for r in self.weather.recorded
                     if (r["body"] or {}).get("method") ==
                     "completion/complete"]
        self.assertEqual(completes[0]["params"]["ref"],
                         {"type": "ref/prompt", "name": "weather_report"})
        self.assertTrue(lines and lines[0].startswith("  city: for example"),
                        lines)


class ChatAttachTests(_ClientTestCase):

    def test_read_and_prompt_are_attached(self):
        """ /read and /prompt put what they fetched in the conversation;
        the next question sends it to the model. """
        self.chat_api.reply(_completion("Noted."))
        stdin = ("/read weather weather://Hangzhou/current\n"
                 "/prompt weather weather_report city=Berlin\n"
                 "/prompts\n"
                 "What now?\n")
        status, out, err = self.run_client(["chat"], stdin=stdin)
        self.assertEqual(status, 0, err)
        self.assertIn("(attached weather://Hangzhou/current)", out)
        self.assertIn("(attached prompt weather_report: 3 messages)", out)
        self.assertIn("  weather_report(city)", out)
        messages = self.chat_api.bodies()[0]["messages"]
        contents = [m["content"] for m in messages if m["role"] == "user"]
        self.assertTrue(contents[0].startswith(
            "Resource weather://Hangzhou/current:\n"), contents)
        self.assertIn("Hangzhou", contents[0])
        self.assertIn("friendly weather report", "".join(contents[1:-1]))
        self.assertEqual(contents[-1], "What now?")
        self.assertEqual(len(messages), 1 + 1 + 3 + 1)  # system first

    def test_roots_are_shown_and_changed(self):
        """ /roots PATH sets the roots of every server and sends
        notifications/roots/list_changed (2025 era; 2026 has none). """
        status, out, err = self.run_client(["chat"],
                                           stdin="/roots\n/roots /srv/x\n")
        self.assertEqual(status, 0, err)
        self.assertIn("weather: file://", out)
        self.assertIn("weather: file:///srv/x", out)
        sent = [(r["body"] or {}).get("method") for r in
                self.weather.recorded]
        self.assertEqual(sent.count("notifications/roots/list_changed"), 1)

    def test_usage_line(self):
        status, out, err = self.run_client(["chat"], stdin="/read x\n")
        self.assertEqual(status, 0, err)
        self.assertIn("usage: /read SERVER URI (servers: weather)", err)


class TraceTests(_ClientTestCase):

    def test_trace_shows_both_eras(self):
        """ --trace: the 2026-07-28 request with its _meta and Mcp-Method
        header; the 2025 handshake with the session header. """
        status, out, err = self.run_client(
            ["--trace", "call", "weather", "get_weather", "city=Hangzhou"],
            servers={"weather": {"url": self.weather.url, "era": "modern"}})
        self.assertEqual(status, 0, err)
        self.assertIn('"method": "server/discover"', err)
        self.assertIn(">   Mcp-Method: tools/call", err)
        self.assertIn(">   Mcp-Name: get_weather", err)
        self.assertIn("io.modelcontextprotocol/clientCapabilities", err)
        self.assertNotIn('"method": "initialize"', err)
        status, out, err = self.run_client(
            ["--trace", "call", "weather", "get_weather", "city=Hangzhou"])
        self.assertEqual(status, 0, err)
        self.assertIn('"method": "initialize"', err)
        self.assertIn("<   Mcp-Session-Id: ", err)
        self.assertNotIn("server/discover", err)

    def test_era_flag_and_environment(self):
        """ --era and MCP_CLIENT_ERA choose the era of entries that name
        none; an entry's own "era" wins. """
        status, out, err = self.run_client(
            ["--trace", "--era", "modern", "tools"])
        self.assertEqual(status, 0, err)
        self.assertIn('"method": "server/discover"', err)
        status, out, err = self.run_client(
            ["--trace", "tools"], environ={"DEEPSEEK_API_KEY": "k",
                                           "MCP_CLIENT_ERA": "modern"},
            servers={"weather": {"url": self.weather.url,
                                 "era": "legacy"}})
        self.assertEqual(status, 0, err)
        self.assertNotIn("server/discover", err)
        status, out, err = self.run_client(
            ["tools"], environ={"MCP_CLIENT_ERA": "newest"})
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "MCP_CLIENT_ERA must be")


class ListChangedTests(unittest.TestCase):
    """ 2026-07-28 subscriptions/listen: the tools offered to the model
    are listed again when the server says they changed. """

    def test_tools_refreshed_after_a_change(self):
        changed = threading.Event()
        lists = []
        tool = {"name": "first", "inputSchema": {"type": "object"}}

        def respond(record):
            body = record["body"]
            method = body["method"]
            if method == "server/discover":
                return result(record, dict(DISCOVER, capabilities={
                    "tools": {"listChanged": True}}))
            if method == "tools/list":
                lists.append(body)
                names = ["first"] if len(lists) == 1 else ["first", "second"]
                return result(record, {"tools": [
                    dict(tool, name=n) for n in names]})
            self.assertEqual(method, "subscriptions/listen")
            self.assertEqual(body["params"]["notifications"],
                             {"toolsListChanged": True})
            self.assertEqual(record["headers"]["mcp-method"],
                             "subscriptions/listen")

            def stream(out):
                for params in ({"notifications": {"toolsListChanged": True}},
                               None):
                    if params is None:
                        changed.wait(TIMEOUT)
                        message = {"jsonrpc": "2.0", "method":
                                   "notifications/tools/list_changed",
                                   "params": {"_meta": {
                                       META_SUBSCRIPTION: body["id"]}}}
                    else:
                        message = {"jsonrpc": "2.0", "method":
                                   "notifications/subscriptions/"
                                   "acknowledged", "params": params}
                    out.write(b"data: " + json.dumps(message).encode() +
                              b"\n\n")
                    out.flush()
                changed.wait(TIMEOUT)
            return 200, {"Content-Type": "text/event-stream"}, stream
        server = ScriptedServer(respond)
        self.addCleanup(server.stop)
        self.addCleanup(changed.set)
        client = mcp_client.MCPClient(server.url, "s", timeout=10.0)
        servers = mcp_client.MultiServerClient({"s": client})
        servers.listen_changes = True
        self.addCleanup(servers.close)
        servers.connect()
        self.assertEqual(sorted(servers.tools), ["s__first"])
        changed.set()
        wait_for(lambda: servers.stale)
        names = [spec["function"]["name"] for spec in servers.specs()]
        self.assertEqual(sorted(names), ["s__first", "s__second"])
        self.assertEqual(len(lists), 2)


if __name__ == "__main__":
    unittest.main()
