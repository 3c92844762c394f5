#!/usr/bin/env python3
"""Fake Open-Meteo upstream for the interop runs (dev only, stdlib only).

There is no internet on the dev machines, so mcp_weather.py is pointed at this server through
WEATHER_GEOCODING_URL / WEATHER_FORECAST_URL. It answers with the sample bodies kept in
../shared/upstream/ (override the folder with WEATHER_SAMPLES_DIR):

  GET /v1/search?name=...      open-meteo-geocoding.json (Hangzhou) for any name, except names
                               containing "nowhere" (any case): open-meteo-geocoding-none.json
  GET /v1/forecast?...daily=.. open-meteo-daily.json
  GET /v1/forecast?...         open-meteo-current.json, its current.temperature_2m raised by 0.5
                               for every POST /_fake/warmer so far (the weather changes)
  POST /_fake/warmer           204; what a check calls to make the current weather change
  anything else                404

Run standalone:  python3 fake_upstream.py [--port 8765]
and it prints the two environment variables to export.
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "upstream"))
SAMPLE_FILES = (
    "open-meteo-geocoding.json",
    "open-meteo-geocoding-none.json",
    "open-meteo-current.json",
    "open-meteo-daily.json",
)

try:
    from http.server import ThreadingHTTPServer
except ImportError:  # Python 3.6: the class 3.7 added, with its daemon threads
    class ThreadingHTTPServer(ThreadingMixIn, HTTPServer):
        daemon_threads = True


def load_samples(folder=None):
    folder = folder or os.environ.get("WEATHER_SAMPLES_DIR") or DEFAULT_SAMPLES
    samples = {}
    for name in SAMPLE_FILES:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as f:
                samples[name] = f.read()
        except OSError as exc:
            raise SystemExit("fake_upstream: cannot read %s (%s); set WEATHER_SAMPLES_DIR" % (path, exc))
        json.loads(samples[name].decode("utf-8"))  # fail early on a broken sample
    return samples


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    samples = {}
    hits = []  # (path, query) of every request, for callers that want to assert on it
    quiet = True

    def log_message(self, fmt, *args):
        if not self.quiet:
            sys.stderr.write("fake_upstream: " + (fmt % args) + "\n")

    def _reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if urlsplit(self.path).path == "/_fake/warmer":
            type(self).warmer += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._reply(404, b'{"error":true,"reason":"fake_upstream: unknown path"}')

    def current(self):
        """ The current-weather sample, warmer by 0.5 degrees per POST /_fake/warmer. """
        body = self.samples["open-meteo-current.json"]
        if not self.warmer:
            return body
        data = json.loads(body.decode("utf-8"))
        data["current"]["temperature_2m"] = round(data["current"]["temperature_2m"] + 0.5 * self.warmer, 1)
        return json.dumps(data).encode("utf-8")

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.hits.append((parts.path, parts.query))
        if parts.path.rstrip("/").endswith("/search"):
            name = " ".join(query.get("name", [""]))
            key = "open-meteo-geocoding-none.json" if "nowhere" in name.lower() else "open-meteo-geocoding.json"
            return self._reply(200, self.samples[key])
        if parts.path.rstrip("/").endswith("/forecast"):
            if "daily" not in query:
                return self._reply(200, self.current())
            return self._reply(200, self.samples["open-meteo-daily.json"])
        return self._reply(404, b'{"error":true,"reason":"fake_upstream: unknown path"}')


def start(port=0, samples_dir=None, quiet=True):
    """Start the fake upstream in a daemon thread; return (server, env) where env holds the URLs."""
    handler = type("Handler", (_Handler,), {"samples": load_samples(samples_dir), "hits": [], "quiet": quiet,
                                            "warmer": 0})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-upstream", daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    env = {
        "WEATHER_GEOCODING_URL": base + "/v1/search",
        "WEATHER_FORECAST_URL": base + "/v1/forecast",
        "FAKE_UPSTREAM_URL": base,
    }
    return server, env


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--samples", help="folder with the open-meteo-*.json samples")
    args = ap.parse_args(argv)
    server, env = start(args.port, args.samples, quiet=False)
    for k, v in env.items():
        print("export %s=%s" % (k, v), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
