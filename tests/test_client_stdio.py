"""Issue 16: stdio servers (StdioClient; field notes E-1 to E-4): a child
per server with a small safe environment, stderr to the log, garbage on
stdout skipped, a crash reported in one line and a restart on next use, a
missing command an error for that server only, and the spec's shutdown
that leaves no child or grandchild behind."""

import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import unittest

import mcp_client
from tests.support import TIMEOUT, _ClientTestCase, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "stdio_child.py")
WEATHER = os.path.join(os.path.dirname(HERE), "mcp_weather.py")


def gone(pid):
    """ No such process, or only a zombie waiting for init. """
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (IOError, OSError):
        return True


class _StdioTestCase(unittest.TestCase):

    def setUp(self):
        self.log = io.StringIO()
        handler = logging.StreamHandler(self.log)
        logger = logging.getLogger("mcp_client")
        old = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        self.addCleanup(logger.setLevel, old)
        self.addCleanup(logger.removeHandler, handler)

    def child(self, mode="plain", *extra, **options):
        options.setdefault("timeout", 10.0)
        options.setdefault("shutdown_wait", 0.5)
        client = mcp_client.StdioClient(
            sys.executable, [CHILD, mode] + list(extra), name="c", **options)
        self.addCleanup(client.close)
        return client


class StdioTests(_StdioTestCase):

    def test_call_and_trace(self):
        """ One JSON line per message each way; 2024-11-05 accepted; the
        banner on stderr reaches the log, never the protocol; --trace shows
        the stdio lines. """
        lines = []
        client = self.child(trace=lines.append)
        client.connect()
        self.assertEqual(client.version, "2024-11-05")
        self.assertFalse(client.modern)
        answer = client.call_tool("echo", {"text": "hi"})
        self.assertEqual(mcp_client.result_text(answer), '{"text": "hi"}')
        wait_for(lambda: "stderr: Starting plain" in self.log.getvalue())
        sent = [l for l in lines if l.startswith("[c] > ")]
        got = [l for l in lines if l.startswith("[c] < ")]
        self.assertIn('"method": "initialize"', sent[0])
        self.assertIn('"protocolVersion": "2024-11-05"', got[0])
        self.assertEqual(len(sent), 3)      # initialize, initialized, call
        self.assertIn("connected to child 1, MCP 2024-11-05 (initialize, "
                      "stdio)", self.log.getvalue())

    def test_child_gets_a_safe_environment(self):
        """ The LLM key and other secrets of ours never reach a child; its
        entry's env does. """
        environ = {"PATH": os.environ.get("PATH", ""), "HOME": "/tmp",
                   "LANG": "C.UTF-8", "DEEPSEEK_API_KEY": "sk-secret",
                   "LLM_API_KEY": "sk-other", "GITHUB_TOKEN": "ghp-x",
                   "BASH_FUNC_x%%": "() { :; }"}
        client = self.child(env={"WANTED": "yes"}, environ=environ)
        seen = json.loads(mcp_client.result_text(client.call_tool("env")))
        self.assertEqual(seen.get("WANTED"), "yes")
        self.assertEqual(seen.get("HOME"), "/tmp")
        for secret in ("DEEPSEEK_API_KEY", "LLM_API_KEY", "GITHUB_TOKEN",
                       "BASH_FUNC_x%%"):
            self.assertNotIn(secret, seen)
        self.assertNotIn("sk-secret", json.dumps(seen))

    def test_garbage_on_stdout_is_skipped(self):
        client = self.child("garbage")
        answer = client.call_tool("echo", {"n": 1})
        self.assertEqual(mcp_client.result_text(answer), '{"n": 1}')
        self.assertIn("skipped a line on stdout that is not JSON-RPC: "
                      "debug: got a line", self.log.getvalue())

    def test_crash_mid_call_is_one_line_then_a_restart(self):
        """ The child exits during tools/call: the call fails at once with
        one line naming the status and the child's last stderr line; the
        next call starts a new child and works. """
        client = self.child()
        client.connect()
        first = client.process.pid
        with self.assertRaises(mcp_client.TransportError) as caught:
            client.call_tool("crash")
        message = str(caught.exception)
        self.assertIn("the server exited (status 3)", message)
        self.assertIn("about to crash", message)
        self.assertNotIn("\n", message)
        answer = client.call_tool("echo", {"again": True})
        self.assertEqual(mcp_client.result_text(answer), '{"again": true}')
        self.assertNotEqual(client.process.pid, first)
        self.assertTrue(gone(first))

    def test_close_ends_child_and_grandchild(self):
        """ E-1, E-2: a wrapper that ignores the end of stdin and SIGTERM
        and has started a grandchild: close() ends both (process group). """
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "pids")
        self.addCleanup(os.rmdir, folder)
        self.addCleanup(os.remove, path)
        client = self.child("grandchild", path, shutdown_wait=0.3)
        client.connect()
        def pids():
            if os.path.exists(path):
                with open(path) as handle:
                    return [int(p) for p in handle.read().split()]
        pids = wait_for(pids)
        self.assertFalse(any(gone(pid) for pid in pids))
        client.close()
        wait_for(lambda: all(gone(pid) for pid in pids),
                 message="child or grandchild outlived the client")

    def test_timeout_sends_a_cancellation(self):
        """ C13, C14 over stdio: a call past its deadline ends with
        CallTimeout and notifications/cancelled naming its id. """
        client = self.child()
        client.connect()
        with self.assertRaises(mcp_client.CallTimeout):
            client.call_tool("hang", timeout=0.3)
        wait_for(lambda: "stderr: cancelled 2: timed out" in
                 self.log.getvalue())
        answer = client.call_tool("echo", {"still": "here"})
        self.assertEqual(mcp_client.result_text(answer), '{"still": "here"}')

    def test_roots_list_changed(self):
        client = self.child(roots=[{"uri": "file:///a", "name": "a"}])
        client.connect()
        client.roots = [{"uri": "file:///b", "name": "b"}]
        client.roots_changed()
        wait_for(lambda: "stderr: roots changed" in self.log.getvalue())

    def test_children_end_when_the_client_exits_without_close(self):
        """ E-1: a program that forgets close() still leaves no child or
        grandchild behind when it exits (atexit). """
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "pids")
        self.addCleanup(os.rmdir, folder)
        self.addCleanup(os.remove, path)
        script = (
            "import sys; sys.path.insert(0, %r)\n"
            "import mcp_client\n"
            "client = mcp_client.StdioClient(sys.executable, [%r, "
            "'grandchild', %r], shutdown_wait=0.3)\n"
            "client.connect()\n"
            "print('connected')\n"
            % (os.path.dirname(HERE), CHILD, path))
        done = subprocess.run([sys.executable, "-c", script],
                              stdout=subprocess.PIPE, timeout=TIMEOUT,
                              universal_newlines=True)
        self.assertEqual(done.stdout, "connected\n")
        with open(path) as handle:
            pids = [int(p) for p in handle.read().split()]
        self.assertEqual(len(pids), 2)
        wait_for(lambda: all(gone(pid) for pid in pids),
                 message="a child outlived the client's process")

    def test_missing_command_is_a_clear_error(self):
        client = mcp_client.StdioClient("/nonexistent/mcp-server", name="x")
        self.addCleanup(client.close)
        with self.assertRaises(mcp_client.TransportError) as caught:
            client.connect()
        self.assertIn("x: cannot start '/nonexistent/mcp-server'",
                      str(caught.exception))

    def test_mcp_weather_over_stdio_in_both_eras(self):
        """ Our own server's --stdio, with the handshake and with
        server/discover (2026-07-28 over stdio). """
        for era, version in (("legacy", "2025-11-25"),
                             ("modern", "2026-07-28")):
            client = mcp_client.StdioClient(
                sys.executable, [WEATHER, "--stdio"], name="w", era=era,
                timeout=20.0, shutdown_wait=2.0)
            self.addCleanup(client.close)
            client.connect()
            self.assertEqual(client.version, version)
            names = [tool["name"] for tool in client.list_tools()]
            self.assertIn("get_weather", names)
            client.close()
            self.assertIsNone(client.process)


class StdioConfigTests(_ClientTestCase):
    """ mcpServers entries with command/args/env/cwd, as Claude Desktop
    writes them, beside HTTP ones. """

    def test_missing_command_does_not_stop_the_others(self):
        servers = {
            "broken": {"command": "/nonexistent/mcp-server", "args": []},
            "child": {"command": sys.executable, "args": [CHILD, "plain"],
                      "env": {"X": "1"}, "cwd": HERE},
            "weather": {"url": self.weather.url}}
        status, out, err = self.run_client(["tools"], servers)
        self.assertEqual(status, 1)
        self.assertIn("server 'broken' is unavailable, going on without "
                      "it: broken: cannot start '/nonexistent/mcp-server'",
                      err)
        self.assertIn("child  stdio: %s %s plain" % (sys.executable, CHILD),
                      out)
        self.assertIn("echo()  as child__echo", out)
        self.assertIn("get_weather(", out)

    def test_call_a_stdio_server(self):
        servers = {"child": {"command": sys.executable,
                             "args": [CHILD, "plain"]}}
        status, out, err = self.run_client(
            ["call", "child", "echo", "text=hello"], servers)
        self.assertEqual((status, out), (0, '{"text": "hello"}\n'), err)

    def test_entry_settings(self):
        """ Claude Desktop's keys as they are; ${VAR} in env values is
        taken from our environment (so a key need not be written in the
        file); our own keys are checked. """
        config = {"mcpServers": {"s": {
            "command": "npx", "args": ["-y", "pkg", 3], "cwd": "/tmp",
            "env": {"API_KEY": "${SERVICE_KEY}", "MODE": "fast"},
            "sampling": "deny", "roots": ["/srv"]}}}
        path = self.write_json(config)
        loaded = mcp_client.load_config(path, {"SERVICE_KEY": "k-1"})
        entry = loaded["servers"]["s"]
        self.assertEqual((entry["command"], entry["args"], entry["cwd"]),
                         ("npx", ["-y", "pkg", "3"], "/tmp"))
        self.assertEqual(entry["env"], {"API_KEY": "k-1", "MODE": "fast"})
        self.assertEqual((entry["sampling"], entry["elicitation"]),
                         ("deny", "ask"))
        for bad, fragment in (
                ({"command": "x", "sampling": "sometimes"},
                 "sampling must be one of ask, allow, deny"),
                ({"type": "stdio", "url": "http://h/mcp"},
                 'has type stdio but no "command"'),
                ({"command": "x", "era": "2027"},
                 "era must be auto, modern or legacy")):
            with self.assertRaises(mcp_client.ConfigError) as caught:
                mcp_client.load_config(self.write_json(
                    {"mcpServers": {"s": bad}}), {})
            self.assertIn(fragment, str(caught.exception))

    def write_json(self, data):
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "c.json")
        with open(path, "w") as handle:
            json.dump(data, handle)
        self.addCleanup(os.rmdir, folder)
        self.addCleanup(os.remove, path)
        return path

    def test_entry_without_url_or_command(self):
        status, out, err = self.run_client(["tools"], {"w": {"args": []}})
        self.assertEqual(status, 2)
        self.assertIn('server \'w\' has neither "command" nor "url"', err)


if __name__ == "__main__":
    unittest.main()
