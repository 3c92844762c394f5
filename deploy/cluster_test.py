#!/usr/bin/env python3
"""Three mcp-weather nodes behind a real nginx, on loopback (dev only).

    python3 deploy/cluster_test.py [--keep] [--clients 16] [--requests 50]

It runs the two nginx files of this folder as shipped, with only their
addresses and listen port replaced by free loopback ones, and shows:

  sessions     with nginx-sessions.conf, initialize goes round-robin and
               every later request of a session reaches the node that made
               it (counted in each node's access log), never a 404
  progress     progress notifications cross nginx as they happen: the
               arrival time of each SSE event, against an upstream that
               takes FORECAST_DELAY seconds before the result
  node dies    node n2 is killed: new sessions go to n1 and n3, a request
               in one of n2's sessions gets 404 (not 502), and mcp_client's
               sessions on n2 re-initialize without an error for the caller
  stateless    with nginx-stateless.conf and --stateless nodes (the third
               one with --workers 2): N concurrent clients, 0 errors, and
               how the requests spread over the nodes

Everything lives in a temporary folder: nginx's prefix, configuration, pid
file, logs and temp paths, and each node's log; the ports are free loopback
ports.  nginx is installed with apt-get (nginx-light, else nginx) when it is
missing; where it cannot be, the script exits 77 (skipped).  The weather
comes from ../interop/fake_upstream.py, in this process.

Output: one line per check with its figures, then
"cluster: N passed, N failed, N skipped".  Exit status 0, 1 if a check
failed, 77 if nginx is unavailable.  Stdlib only; Python 3.7+.
"""
import argparse
import codecs
import http.client
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "interop"))
sys.path.insert(0, ROOT)
import fake_upstream  # noqa: E402

SERVER = os.path.join(ROOT, "mcp_weather.py")
NODES = ("n1", "n2", "n3")
SHIPPED_PORTS = ("8101", "8102", "8103")  # the nodes in the shipped files
FORECAST_DELAY = 1.0      # seconds the fake upstream holds a daily forecast
START_TIMEOUT = 20.0
TIMEOUT = 15.0
VERSION = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"
ACCESS_LINE = re.compile(r"INFO (?:\[(\d+)\] )?127\.0\.0\.1 (POST|GET|DELETE)"
                         r" /mcp/? (\d{3}|-) [\d.]+ms (\S+) sid=(\S+)")


# -- nginx -------------------------------------------------------------------

def find_nginx():
    """ The nginx binary, installed from Debian when missing; None if it
    cannot be had. """
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if not shutil.which("apt-get") or os.geteuid() != 0:
        print("cluster: nginx is missing and apt-get cannot run here "
              "(needs root)")
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "install", "-y", "nginx-light"],
                    ["apt-get", "update"],
                    ["apt-get", "install", "-y", "nginx-light"],
                    ["apt-get", "install", "-y", "nginx"]):
        print("cluster: %s" % " ".join(command), flush=True)
        subprocess.call(command, env=env, stdout=subprocess.DEVNULL)
        if shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK):
            return shutil.which("nginx") or "/usr/sbin/nginx"
    print("cluster: nginx could not be installed")
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_config(name, node_ports, listen_port):
    """ deploy/<name> as shipped, pointed at our nodes and port.  Fails if
    a replaced part is not where the shipped file had it, so the test
    cannot drift away from the file. """
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        text = f.read()
    for shipped, port in zip(SHIPPED_PORTS, node_ports):
        if "127.0.0.1:%s" % shipped not in text:
            raise SystemExit("cluster: %s no longer names 127.0.0.1:%s"
                             % (name, shipped))
        text = text.replace("127.0.0.1:%s" % shipped, "127.0.0.1:%d" % port)
    if text.count("listen 80;") != 1:
        raise SystemExit("cluster: %s has no single 'listen 80;'" % name)
    return text.replace("listen 80;", "listen 127.0.0.1:%d;" % listen_port)


class Nginx(object):
    """ nginx in the foreground, in its own prefix under folder. """

    def __init__(self, binary, folder, site, port):
        self.binary, self.port = binary, port
        self.prefix = os.path.join(folder, "nginx")
        os.makedirs(os.path.join(self.prefix, "temp"), exist_ok=True)
        self.error_log = os.path.join(self.prefix, "error.log")
        self.conf = os.path.join(self.prefix, "nginx.conf")
        temp = os.path.join(self.prefix, "temp")
        # Run as root, nginx's workers would switch to "nobody", who cannot
        # write to this private folder; this nginx only listens on loopback.
        # It compresses SSE, as a site-wide gzip setting might: the worst
        # case for streaming, where only X-Accel-Buffering: no from the
        # server keeps each event flowing (B-12).
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(os.path.join(self.prefix, "site.conf"), "w") as f:
            f.write(site)
        with open(self.conf, "w") as f:
            f.write(
                "%sdaemon off;\nworker_processes 1;\n"
                "pid %s/nginx.pid;\nerror_log %s warn;\n"
                "events { worker_connections 1024; }\n"
                "http {\n"
                "    access_log %s/access.log;\n"
                "    gzip on;\n"
                "    gzip_types text/event-stream application/json;\n"
                "    client_body_temp_path %s/body;\n"
                "    proxy_temp_path %s/proxy;\n"
                "    fastcgi_temp_path %s/fastcgi;\n"
                "    uwsgi_temp_path %s/uwsgi;\n"
                "    scgi_temp_path %s/scgi;\n"
                "    include %s/site.conf;\n"
                "}\n" % (user, self.prefix, self.error_log, self.prefix,
                         temp, temp, temp, temp, temp, self.prefix))
        self.command = [binary, "-p", self.prefix + "/", "-e",
                        self.error_log, "-c", self.conf]
        self.proc = None

    def start(self):
        check = subprocess.run(self.command + ["-t"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise RuntimeError("nginx -t: %s" % check.stdout.decode())
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: %s" % tail(self.error_log))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)      # graceful
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- nodes -------------------------------------------------------------------

class Node(object):
    """ python mcp_weather.py --port 0 --node-id NAME, logging to a file. """

    def __init__(self, name, log_path, upstream_env, flags=(), python=None):
        self.name, self.log_path = name, log_path
        env = dict((k, v) for k, v in os.environ.items()
                   if not k.startswith(("MCP_", "WEATHER_", "SENIVERSE_")))
        env.update(upstream_env)
        command = [python or sys.executable, SERVER, "--port", "0",
                   "--node-id", name] + list(flags)
        self.log_file = open(self.log_path, "w", encoding="utf-8")
        self.log_file.write("# %s\n" % " ".join(command))
        self.log_file.flush()
        self.proc = subprocess.Popen(command, env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log_file,
                                     stderr=self.log_file)
        self.port = self.wait_for_port()

    def wait_for_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/mcp",
                              self.log())
            if match and ("--workers" not in " ".join(self.proc.args) or
                          self.log().count("accepting connections") >= 2):
                return int(match.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("node %s did not start: %s"
                           % (self.name, tail(self.log_path)))

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def access(self):
        """ (pid or None, method, status, rpc, sid) per access-log line. """
        return ACCESS_LINE.findall(self.log())

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no %s)" % path


class Cluster(object):
    """ Three nodes and nginx running one of the shipped files. """

    def __init__(self, nginx_binary, folder, upstream_env, site,
                 node_flags, python=None):
        self.nodes = []
        self.nginx = None
        try:
            for name in NODES:
                log_path = os.path.join(folder, "%s-%s.log" % (
                    site.split(".")[0], name))
                self.nodes.append(Node(name, log_path, upstream_env,
                                       node_flags.get(name, ()), python))
            self.port = free_port()
            self.nginx = Nginx(nginx_binary, folder, site_config(
                site, [n.port for n in self.nodes], self.port), self.port)
            self.nginx.start()
        except BaseException:
            self.stop()
            raise
        self.url = "http://127.0.0.1:%d/mcp" % self.port

    def node(self, name):
        return [n for n in self.nodes if n.name == name][0]

    def stop(self):
        if self.nginx is not None:
            self.nginx.stop()
        for node in self.nodes:
            node.stop()


# -- HTTP --------------------------------------------------------------------

def post(port, message, session=None, accept=ACCEPT_BOTH, stateless=False):
    """ One POST on a new connection: (status, headers, body bytes). """
    headers = {"Content-Type": "application/json", "Accept": accept}
    if session:
        headers["Mcp-Session-Id"] = session
    if session or stateless:
        headers["MCP-Protocol-Version"] = VERSION
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/mcp", json.dumps(message), headers)
        response = conn.getresponse()
        return response.status, response.msg, response.read()
    finally:
        conn.close()


def initialize(port):
    """ A new session through port: its id, or None. """
    status, headers, _ = post(port, {
        "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": VERSION, "capabilities": {},
            "clientInfo": {"name": "cluster_test", "version": "1"}}})
    session = headers.get("Mcp-Session-Id") if status == 200 else None
    if session:
        post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"},
             session)
    return session


def rpc(method, request_id=1, **params):
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params:
        message["params"] = params
    return message


def timed_sse(port, session, message):
    """ POST message and read its SSE answer as it arrives: a list of
    (seconds since the request was sent, JSON-RPC message), and the
    Content-Encoding.  It asks for gzip, as most HTTP clients do: a proxy
    that compresses is one that can hold events back. """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        started = time.monotonic()
        conn.request("POST", "/mcp", json.dumps(message), {
            "Content-Type": "application/json", "Accept": ACCEPT_BOTH,
            "Accept-Encoding": "gzip", "Mcp-Session-Id": session,
            "MCP-Protocol-Version": VERSION})
        response = conn.getresponse()
        if response.getheader("Content-Type", "") != "text/event-stream":
            raise RuntimeError("expected SSE, got %s %s" % (
                response.status, response.getheader("Content-Type")))
        gzipped = response.getheader("Content-Encoding") == "gzip"
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        decode = codecs.getincrementaldecoder("utf-8")().decode
        arrivals, text = [], ""
        for raw in iter(lambda: response.read1(65536), b""):
            text += decode(inflate.decompress(raw) if gzipped else raw)
            lines, text = text.split("\n"), text.split("\n")[-1]
            for line in lines[:-1]:
                if line.startswith("data: {"):
                    arrivals.append((time.monotonic() - started,
                                     json.loads(line[6:])))
            if arrivals and "id" in arrivals[-1][1]:
                break
        return arrivals, response.getheader("Content-Encoding", "identity")
    finally:
        conn.close()


def per_node(counts):
    return ", ".join("%s %d" % (name, counts.get(name, 0)) for name in NODES)


# -- checks ------------------------------------------------------------------

class Results(object):
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def report(self, name, ok, text):
        """ ok: True, False, or None (skipped). """
        label = {True: "PASS", False: "FAIL", None: "SKIP"}[ok]
        if ok is True:
            self.passed += 1
        elif ok is False:
            self.failed += 1
        else:
            self.skipped += 1
        print("%s %s: %s" % (label, name, text), flush=True)

    def run(self, name, check, *args):
        try:
            ok, text = check(*args)
        except Exception as exc:            # a check that broke is a failure
            ok, text = False, "%s: %s" % (type(exc).__name__, exc)
        self.report(name, ok, text)


def logged(count, enough, timeout=5.0):
    """ count() once enough(count()) holds, or after timeout: nodes write
    an access-log line just after the answer it records has gone out. """
    deadline = time.monotonic() + timeout
    value = count()
    while not enough(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = count()
    return value


def check_sessions_stay_home(cluster, count=30, follow_ups=4):
    """ initialize round-robin; every later request of a session on the
    node its id names (B-2, C-2). """
    sessions = [initialize(cluster.port) for _ in range(count)]
    if not all(sessions):
        return False, "%d of %d initialize failed" % (
            sessions.count(None), count)
    made = dict((name, 0) for name in NODES)
    for session in sessions:
        made[session.split(".", 1)[0]] += 1
    statuses = []
    for session in sessions:
        for number in range(follow_ups):
            statuses.append(post(cluster.port, rpc(
                "tools/list", number + 1), session)[0])
    expected = count * follow_ups

    def tally():
        home, strays = 0, 0
        for node in cluster.nodes:
            for _, _, status, method, sid in node.access():
                owner = [s for s in sessions if s.endswith(sid)]
                if method == "tools/list" and owner:
                    if owner[0].startswith(node.name + "."):
                        home += 1
                    else:
                        strays += 1
        return home, strays
    # A node writes its access line just after the answer has gone out.
    home, strays = logged(tally, lambda counts: sum(counts) >= expected)
    ok = statuses.count(200) == expected and home == expected and \
        strays == 0 and all(made.values())
    return ok, ("%d sessions, initialize round-robin: %s; %d requests in "
                "those sessions: %d answered 200, %d logged by the "
                "session's own node, %d by another" % (
                    count, per_node(made), expected, statuses.count(200),
                    home, strays))


def check_progress_as_it_happens(cluster):
    """ Progress crosses nginx when it is sent, not with the result: the
    upstream holds the forecast FORECAST_DELAY seconds, so an unbuffered
    proxy delivers progress 2 about that long before the result (S30,
    B-12).  The same call straight to a node is the baseline. """
    def measure(port):
        session = initialize(port)
        arrivals, encoding = timed_sse(port, session, rpc(
            "tools/call", 7, name="get_forecast",
            arguments={"city": "Hangzhou", "days": 3},
            _meta={"progressToken": "p7"}))
        progress = [t for t, m in arrivals
                    if m.get("method") == "notifications/progress"]
        result = [t for t, m in arrivals if "result" in m]
        return progress, result[0] if result else None, encoding

    progress, result, encoding = measure(cluster.port)
    direct, direct_result, _ = measure(cluster.nodes[0].port)
    ok = len(progress) == 3 and result is not None and \
        result - progress[1] >= FORECAST_DELAY * 0.8
    return ok, ("through nginx (%s), progress at %s s, result at %.3f s; "
                "straight to a node, progress at %s s, result at %.3f s "
                "(upstream holds the forecast %.1f s)" % (
                    encoding, "/".join("%.3f" % t for t in progress),
                    result or -1, "/".join("%.3f" % t for t in direct),
                    direct_result or -1, FORECAST_DELAY))


def check_dead_node(cluster, count=9):
    """ n2 is killed: new sessions go to n1 and n3; a request in an n2
    session gets 404 from a backup node, the cue to re-initialize (S49,
    C10), rather than 502. """
    before = None
    for _ in range(6):
        session = initialize(cluster.port)
        if session and session.startswith("n2."):
            before = session
            break
    cluster.node("n2").kill()
    made = dict((name, 0) for name in NODES)
    failed = 0
    for _ in range(count):
        session = initialize(cluster.port)
        if session:
            made[session.split(".", 1)[0]] += 1
        else:
            failed += 1
    status = post(cluster.port, rpc("tools/list"), before)[0] \
        if before else None
    ok = before is not None and failed == 0 and made["n2"] == 0 and \
        made["n1"] > 0 and made["n3"] > 0 and status == 404
    return ok, ("n2 killed; %d new sessions: %s, %d failed; a request in "
                "n2's session %s... got %s" % (
                    count, per_node(made), failed,
                    before[:6] if before else "(none made)", status))


def connect_clients(url, count):
    import mcp_client
    clients = []
    for _ in range(count):
        # the 2025 handshake: this check is about sessions (a two-era client
        # would pick 2026-07-28, which has none)
        client = mcp_client.MCPClient(url, timeout=TIMEOUT, era="legacy")
        client.connect()
        clients.append(client)
    return clients


class ClientLog(logging.Handler):
    """ mcp_client's log lines, kept for the report instead of printed. """

    def __init__(self):
        logging.Handler.__init__(self, logging.INFO)
        self.messages = []
        logger = logging.getLogger("mcp_client")
        logger.addHandler(self)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    def emit(self, record):
        self.messages.append(record.getMessage())


def check_client_survives(cluster, clients, client_log):
    """ Our client's sessions on the dead node: the next call gets 404,
    the client re-initializes once and retries once (C10, B-7), and the
    caller sees a result, not an error. """
    on_n2 = [c for c in clients if c.session_id.startswith("n2.")]
    others = dict((id(c), c.session_id) for c in clients
                  if c not in on_n2)
    errors, results = [], 0
    for client in clients:
        try:
            result = client.call_tool("get_weather", {"city": "Hangzhou"})
            if not result.get("isError") and "Hangzhou" in \
                    result["content"][0]["text"]:
                results += 1
        except Exception as exc:
            errors.append("%s: %s" % (type(exc).__name__, exc))
    moved = [c.session_id.split(".", 1)[0] for c in on_n2]
    kept = sum(1 for c in clients if others.get(id(c)) == c.session_id)
    renewed = sum(1 for m in client_log.messages if "is gone (404)" in m)
    ok = bool(on_n2) and not errors and results == len(clients) and \
        "n2" not in moved and kept == len(others) and renewed == len(on_n2)
    return ok, ("%d clients, %d of them in sessions on n2: %d calls "
                "answered, %d errors%s; the client logged %d new sessions "
                "after 404; n2's clients now on %s; %d of %d others kept "
                "their session" % (
                    len(clients), len(on_n2), results, len(errors),
                    (" (%s)" % errors[0]) if errors else "", renewed,
                    "/".join(moved) or "-", kept, len(others)))


def check_stateless_load(cluster, clients, requests):
    """ Stateless round-robin under load: every request answered, spread
    over every node (B-1, C-1). """
    before = dict((n.name, len(n.access())) for n in cluster.nodes)
    errors, done = [], []
    lock = threading.Lock()

    def client(number):
        conn = http.client.HTTPConnection("127.0.0.1", cluster.port,
                                          timeout=TIMEOUT)
        for i in range(requests):
            try:
                conn.request("POST", "/mcp", json.dumps(rpc(
                    "tools/call", i + 1, name="get_weather",
                    arguments={"city": "Hangzhou"})), {
                        "Content-Type": "application/json",
                        "Accept": ACCEPT_BOTH,
                        "MCP-Protocol-Version": VERSION})
                response = conn.getresponse()
                body = response.read()
                answer = json.loads(body.decode("utf-8"))
                good = response.status == 200 and "Hangzhou" in \
                    answer["result"]["content"][0]["text"]
            except Exception as exc:
                good = False
                body = str(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection(
                    "127.0.0.1", cluster.port, timeout=TIMEOUT)
            with lock:
                (done if good else errors).append(body[:120])
        conn.close()

    threads = [threading.Thread(target=client, args=(n,))
               for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    total = clients * requests
    logged(lambda: sum(sum(1 for l in node.access()[before[node.name]:]
                           if l[3] == "tools/call") for node in cluster.nodes),
           lambda count: count >= total)      # the last access-log lines
    share, pids = {}, {}
    for node in cluster.nodes:
        lines = node.access()[before[node.name]:]
        share[node.name] = sum(1 for l in lines if l[3] == "tools/call")
        pids[node.name] = sorted(set(l[0] for l in lines if l[0]))
    workers = ", ".join("%s: %d" % (pid, sum(
        1 for l in cluster.node("n3").access()[before["n3"]:]
        if l[0] == pid and l[3] == "tools/call")) for pid in pids["n3"])
    ok = not errors and len(done) == total and \
        all(count >= total // 5 for count in share.values())
    return ok, ("%d tools/call from %d concurrent clients in %.2f s (%.0f "
                "req/s through nginx), %d errors%s; per node %s; n3's 2 "
                "workers (pid: requests) %s" % (
                    total, clients, elapsed, total / elapsed, len(errors),
                    (" (first: %r)" % errors[0]) if errors else "",
                    per_node(share), workers or "-"))


# -- main --------------------------------------------------------------------

def slow_daily_forecasts(upstream):
    """ Make the fake upstream hold daily forecasts FORECAST_DELAY s. """
    handler = upstream.RequestHandlerClass
    answer = handler.do_GET

    def do_GET(self):
        if "daily=" in self.path:
            time.sleep(FORECAST_DELAY)
        answer(self)
    handler.do_GET = do_GET


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16,
                        help="concurrent clients in the stateless check")
    parser.add_argument("--requests", type=int, default=50,
                        help="requests per client in the stateless check")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the nodes")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (logs, configs)")
    args = parser.parse_args(argv)

    nginx = find_nginx()
    if nginx is None:
        print("cluster: 0 passed, 0 failed, 1 skipped")
        return 77
    version = subprocess.run([nginx, "-v"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT).stdout.decode().strip()
    folder = tempfile.mkdtemp(prefix="mcp-cluster-")
    upstream, upstream_env = fake_upstream.start(0)
    slow_daily_forecasts(upstream)
    print("cluster: %s, %s, nodes on %s, files in %s" % (
        version, sys.version.split()[0], args.python, folder), flush=True)
    results = Results()
    try:
        run_sessions(results, nginx, folder, upstream_env, args.python)
        run_stateless(results, nginx, folder, upstream_env, args)
    finally:
        upstream.shutdown()
    print("cluster: %d passed, %d failed, %d skipped"
          % (results.passed, results.failed, results.skipped))
    if results.failed or args.keep:
        print("cluster: logs and configurations kept in %s" % folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if results.failed else 0


def run_sessions(results, nginx, folder, upstream_env, python):
    """ nginx-sessions.conf: checks sessions, progress, node dies. """
    env = dict(upstream_env, WEATHER_CACHE_TTL="0")
    cluster = Cluster(nginx, folder, env, "nginx-sessions.conf", {}, python)
    try:
        results.run("sessions", check_sessions_stay_home, cluster)
        results.run("progress", check_progress_as_it_happens, cluster)
        client_log = ClientLog()
        try:
            clients = connect_clients(cluster.url, 6)
        except ImportError:
            clients = None
        results.run("node dies", check_dead_node, cluster)
        if clients is None:
            results.report("client survives", None, "mcp_client.py is not "
                           "beside mcp_weather.py yet")
        else:
            results.run("client survives", check_client_survives, cluster,
                        clients, client_log)
            for client in clients:
                client.close()
    finally:
        cluster.stop()


def run_stateless(results, nginx, folder, upstream_env, args):
    """ nginx-stateless.conf, stateless nodes, n3 with two workers. """
    flags = dict((name, ["--stateless"]) for name in NODES)
    flags["n3"] = ["--stateless", "--workers", "2"]
    cluster = Cluster(nginx, folder, upstream_env, "nginx-stateless.conf",
                      flags, args.python)
    try:
        results.run("stateless", check_stateless_load, cluster,
                    args.clients, args.requests)
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
