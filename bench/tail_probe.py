#!/usr/bin/env python3
"""Where mcp_weather.py's tools/call latency tail comes from (dev only).

Sequential tools/call get_weather{"city": "Hangzhou"} (cache warm) on one
keep-alive connection, against mcp_weather.py run three ways, without
editing it (the variants patch it in memory at start-up):

  as-is    the file as it is: each tools/call runs on a new thread
  inline   SLOW_METHODS emptied: tools/call runs on the connection's thread
  pool     the per-call thread replaced by a reused 8-thread pool

and prints each one's latency distribution.  Stdlib only, 127.0.0.1 only.

    python3 tail_probe.py                 # 10000 calls per variant
    python3 tail_probe.py -n 3000 --rounds 2
"""

import argparse
import collections
import os
import subprocess
import sys
import time

import bench

PATCHES = {
    "as-is": "",
    "inline": "mcp_weather.SLOW_METHODS = frozenset()\n",
    "pool": (
        "import concurrent.futures, threading, types\n"
        "pool = concurrent.futures.ThreadPoolExecutor(8)\n"
        "class CallThread(threading.Thread):\n"
        "    def start(self):\n"
        "        if self.name == 'call':\n"
        "            pool.submit(self.run)\n"
        "        else:\n"
        "            threading.Thread.start(self)\n"
        "proxy = types.ModuleType('threading')\n"
        "proxy.__dict__.update(threading.__dict__)\n"
        "proxy.Thread = CallThread\n"
        "mcp_weather.threading = proxy\n"),
}


def run_variant(name, n, upstream):
    port = bench.free_port()
    code = ("import sys\nsys.path.insert(0, %r)\nimport mcp_weather\n%s"
            "sys.exit(mcp_weather.main(['--host', '127.0.0.1', '--port', "
            "'%d', '--log-level', 'warning']))\n" % (
                bench.ROOT, PATCHES[name], port))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MCP_", "WEATHER_", "SENIVERSE_"))}
    env.update(upstream.env(), WEATHER_PROVIDER="open-meteo",
               WEATHER_CACHE_TTL="600")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            client = bench.Client(port)
            try:
                client.connect()
                client.initialize("tail-probe")
                break
            except ConnectionRefusedError:
                client.close()
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("%s: the server did not start" % name)
                time.sleep(0.01)
        method, params = bench.METHODS["tools/call"]
        for _ in range(200):                    # warm-up, fills the cache
            client.request(method, params)
        lat, bad = [], 0
        cpu0 = bench.proc_cpu(proc.pid)
        for _ in range(n):
            t0 = time.perf_counter()
            status, headers, data, rid = client.request(method, params)
            lat.append(1000 * (time.perf_counter() - t0))
            bad += bench.check(method, status, headers, data, rid) is not None
        cpu = bench.proc_cpu(proc.pid) - cpu0
        client.close()
    finally:
        proc.terminate()
        proc.wait(20)
    s = sorted(lat)
    hist = collections.Counter(min(int(x), 10) for x in lat)
    return ("%-6s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms  "
            "srv %3.0f us/call  errors %d  | calls by whole ms: %s" % (
                name, s[n // 2], s[int(n * .9)], s[int(n * .99)],
                s[int(n * .999)], s[-1], 1e6 * cpu / n, bad,
                " ".join("%s%d:%d" % ("" if k < 10 else ">=", k, v)
                         for k, v in sorted(hist.items()))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10000,
                        help="calls per variant (default 10000)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.n <= 200000 or not 1 <= args.rounds <= 10:
        parser.error("-n 1-200000, --rounds 1-10")
    upstream = bench.FakeUpstream(bench.DEFAULT_SAMPLES)
    try:
        for _ in range(args.rounds):
            for name in PATCHES:
                print(run_variant(name, args.n, upstream), flush=True)
    finally:
        upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
