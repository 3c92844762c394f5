#!/usr/bin/env python3
"""Start the fake upstream and mcp_weather.py on free ports, run one command against them, clean up.

    python3 stack.py [--stateless] [--log FILE] [--server-arg ARG]... -- COMMAND [ARGS...]

The command gets MCP_URL (http://127.0.0.1:PORT/mcp), MCP_SERVER_LOG and FAKE_UPSTREAM_URL (the
fake's base URL, for POST /_fake/warmer) in its environment.
The server is started as `python ../mcp_weather.py --port 0` (plus `--stateless` when asked) with
WEATHER_GEOCODING_URL / WEATHER_FORECAST_URL pointing at fake_upstream.py, WEATHER_CACHE_TTL=0 and
MCP_WATCH_INTERVAL=1 (watched resources re-read every second);
its port is read from the line containing http://127.0.0.1:PORT/mcp that it logs on stderr.
MCP_* variables, SENIVERSE_KEY and WEATHER_PROVIDER from the caller's environment are NOT passed
to the server, so a developer's own settings (a token, a fixed port) cannot skew a run.

Exit status: the command's, or 3 if the server never came up, or 4 if it died during the run.
Stdlib only; Python 3.6+.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_upstream  # noqa: E402

URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^\s'\"]*)?")
STARTUP_TIMEOUT = 20.0


def _pump(stream, logf, found, lock):
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        with lock:
            logf.write(line)
            logf.flush()
        if "url" not in found:
            m = URL_RE.search(line)
            if m and (m.group(2) or "").startswith("/mcp"):
                found["url"] = "http://127.0.0.1:%s/mcp" % m.group(1)
                found["event"].set()
    stream.close()


def server_env(upstream_env):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MCP_") and k not in ("SENIVERSE_KEY", "WEATHER_PROVIDER")}
    env.update(upstream_env)
    env["WEATHER_CACHE_TTL"] = "0"
    env["MCP_WATCH_INTERVAL"] = "1"     # watched resources re-read every second (listen checks)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def tail(path, n=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        sys.exit("usage: stack.py [--stateless] [--log FILE] [--server-arg ARG]... -- COMMAND [ARGS...]")
    cut = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--stateless", action="store_true")
    ap.add_argument("--server", default=os.path.join(HERE, "..", "mcp_weather.py"))
    ap.add_argument("--server-arg", action="append", default=[])
    ap.add_argument("--python", default=sys.executable, help="interpreter for the server")
    ap.add_argument("--log", default=os.path.join(HERE, ".logs", "server.log"))
    opts = ap.parse_args(argv[:cut])
    command = argv[cut + 1:]
    if not command:
        sys.exit("stack.py: no command given after --")

    server_path = os.path.abspath(opts.server)
    if not os.path.exists(server_path):
        print("stack.py: %s does not exist yet" % server_path, file=sys.stderr)
        return 3
    os.makedirs(os.path.dirname(os.path.abspath(opts.log)), exist_ok=True)

    upstream, upstream_env = fake_upstream.start(0)
    cmd = [opts.python, server_path, "--port", "0"]
    if opts.stateless:
        cmd.append("--stateless")
    cmd += opts.server_arg
    logf = open(opts.log, "w", encoding="utf-8")
    logf.write("# %s\n# upstream: %s\n" % (" ".join(cmd), upstream_env))
    logf.flush()
    proc = subprocess.Popen(cmd, cwd=os.path.dirname(server_path), env=server_env(upstream_env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    found = {"event": threading.Event()}
    lock = threading.Lock()
    pumps = [threading.Thread(target=_pump, args=(s, logf, found, lock), daemon=True)
             for s in (proc.stdout, proc.stderr)]
    for t in pumps:
        t.start()

    stopped = []

    def stop_server():
        if stopped:
            return
        stopped.append(True)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # lets a ThreadingHTTPServer-based main() exit cleanly
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for t in pumps:
            t.join(2)
        upstream.shutdown()
        logf.close()

    def on_signal(signum, frame):
        stop_server()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        t0 = time.monotonic()
        while not found["event"].wait(0.1):
            if proc.poll() is not None or time.monotonic() - t0 > STARTUP_TIMEOUT:
                why = ("exited with status %s" % proc.returncode if proc.poll() is not None
                       else "printed no http://127.0.0.1:PORT/mcp line within %.0fs" % STARTUP_TIMEOUT)
                print("stack.py: server %s. Last lines of %s:\n%s" % (why, opts.log, tail(opts.log)),
                      file=sys.stderr)
                return 3
        url = found["url"]
        print("stack.py: server up at %s in %.2fs (%s), log %s"
              % (url, time.monotonic() - t0, "stateless" if opts.stateless else "sessions on", opts.log),
              flush=True)
        env = dict(os.environ, MCP_URL=url, MCP_SERVER_LOG=os.path.abspath(opts.log),
                   FAKE_UPSTREAM_URL=upstream_env["FAKE_UPSTREAM_URL"])
        rc = subprocess.call(command, env=env)
        if proc.poll() is not None:
            print("stack.py: the server DIED during the run (exit %s). Last lines of %s:\n%s"
                  % (proc.returncode, opts.log, tail(opts.log)), file=sys.stderr)
            return rc or 4
        return rc
    except KeyboardInterrupt:
        return 130
    finally:
        stop_server()
        report_tracebacks(opts.log)


def report_tracebacks(path):
    """Warn (without failing) about Python tracebacks the server wrote to its log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return
    first = starts[0]
    end = next((j for j in range(first + 1, len(lines)) if lines[j][:1] not in (" ", "\t")), first)
    print("stack.py: WARNING: the server log %s has %d traceback(s); the first ends with: %s"
          % (path, len(starts), lines[end].strip() if end < len(lines) else "?"), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
