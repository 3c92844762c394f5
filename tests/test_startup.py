"""Start-up: what importing the server and the client leaves out (issue 19).

A server on a small host must start fast and stay small, and so must a
client that a host spawns for one call: each module it loads costs start-up
time and resident memory (bench/README.md, "The floor", has the figures).
So what only some runs need is imported where it is used, not on top:
urllib.request (the weather service, proxies, OAuth introspection),
subprocess (stdio servers), webbrowser (OAuth in a browser), llm (the
client's host).  Nothing here is timed: each test runs a fresh interpreter
and asserts which modules are in sys.modules, a fact of behaviour that a
stray top-level import would change.

Each child runs with -I -S -B (no site-packages, no environment, no cached
bytecode written), so that only the standard library and these files load.
Standard library only; imports nothing from test_mcp.
"""

import json
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Modules no run of the server needs before its first tool call.
SERVER_LAZY = ("urllib.request", "subprocess", "multiprocessing",
               "webbrowser", "ctypes", "uuid", "asyncio",
               "concurrent.futures")
# A started server has ctypes too, on Linux from 3.7: main() imports it once
# to give back the memory that compiling the file freed
# (release_start_up_memory).
TRIMS = sys.platform.startswith("linux") and sys.version_info >= (3, 7)
SERVER_RUN_LAZY = tuple(m for m in SERVER_LAZY
                        if m != "ctypes" or not TRIMS)
# Modules the client needs only for stdio servers, OAuth or the host.
CLIENT_LAZY = ("llm", "urllib.request", "urllib.error", "subprocess",
               "webbrowser", "multiprocessing", "ctypes", "asyncio")

# The child: import mcp_weather and run its main() as `mcp_weather.py
# --port 0` does; a thread waits for the server to be made, answers one
# initialize over a raw socket, prints sys.modules and the answer's status
# line, and stops the server with SIGTERM, as an operator would.
SERVE_AND_INITIALIZE = r"""
import json, os, signal, socket, sys, threading, time
sys.path.insert(0, %(root)r)
import mcp_weather
made = []
make_server = mcp_weather.make_server
def capture(*args, **kwargs):
    made.append(make_server(*args, **kwargs))
    return made[-1]
mcp_weather.make_server = capture

def initialize_once():
    deadline = time.time() + 60
    while not made and time.time() < deadline:
        time.sleep(0.01)
    host, port = made[0].server_address[:2]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-11-25",
                                  "capabilities": {}, "clientInfo": {
                                      "name": "t", "version": "1"}}}).encode()
    sock = socket.create_connection((host, port), timeout=60)
    sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%%d\r\n"
                 b"Content-Type: application/json\r\n"
                 b"Accept: application/json, text/event-stream\r\n"
                 b"Content-Length: %%d\r\nConnection: close\r\n\r\n"
                 %% (port, len(body)) + body)
    with sock, sock.makefile("rb") as reader:  # Connection: close
        answer = reader.read()
    sys.stdout.write(json.dumps({"modules": sorted(sys.modules),
                                 "status": answer.split(b"\r\n")[0].decode(),
                                 "initialized": b'"protocolVersion"' in
                                 answer}) + "\n")
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=initialize_once, daemon=True).start()
sys.exit(mcp_weather.main(["--host", "127.0.0.1", "--port", "0",
                           "--log-level", "warning"]))
"""


def run_child(code):
    """ Run `code` in a fresh interpreter (-I -S -B) in the project's
    folder: (exit status, stdout, stderr). """
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", "-c", code],
                            cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def modules_after_import(name):
    code = ("import json, sys\nsys.path.insert(0, %r)\nimport %s\n"
            "print(json.dumps(sorted(sys.modules)))\n" % (ROOT, name))
    status, out, err = run_child(code)
    if status != 0:
        raise AssertionError("import %s failed: %s" % (name, err[-2000:]))
    return set(json.loads(out))


class StartupImportTests(unittest.TestCase):
    """ What `import mcp_weather` / `import mcp_client` do not load. """

    def assertNotLoaded(self, lazy, loaded, what):
        self.assertEqual([m for m in lazy if m in loaded], [],
                         "%s loaded modules that only some runs need" % what)

    def test_importing_the_server_loads_only_what_every_run_needs(self):
        loaded = modules_after_import("mcp_weather")
        self.assertIn("mcp_weather", loaded)
        self.assertIn("http.server", loaded)    # the child did import it
        self.assertNotLoaded(SERVER_LAZY, loaded, "import mcp_weather")

    def test_a_started_server_answers_initialize_without_them(self):
        status, out, err = run_child(SERVE_AND_INITIALIZE % {"root": ROOT})
        lines = [line for line in out.splitlines() if line.startswith("{")]
        self.assertEqual(len(lines), 1, "no report from the child: %s"
                         % err[-2000:])
        report = json.loads(lines[0])
        self.assertEqual(report["status"], "HTTP/1.1 200 OK")
        self.assertTrue(report["initialized"])
        self.assertEqual(status, 0, err[-2000:])    # SIGTERM: a clean stop
        self.assertNotLoaded(SERVER_RUN_LAZY, set(report["modules"]),
                             "mcp_weather.py --port 0 with one initialize")

    def test_importing_the_client_leaves_stdio_oauth_and_the_host_out(self):
        loaded = modules_after_import("mcp_client")
        self.assertIn("mcp_client", loaded)
        self.assertIn("http.client", loaded)
        self.assertNotLoaded(CLIENT_LAZY, loaded, "import mcp_client")


if __name__ == "__main__":
    unittest.main()
