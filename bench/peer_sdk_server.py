#!/usr/bin/env python3
"""The benchmark's comparison server: the same weather tools on the OFFICIAL
MCP Python SDK (pip `mcp`, 2.x), over Streamable HTTP.  Dev only.

Run from bench/.venv (bench.py --peer makes it); bench.py starts it so:

    WEATHER_GEOCODING_URL=http://127.0.0.1:P/v1/search \\
    WEATHER_FORECAST_URL=http://127.0.0.1:P/v1/forecast \\
    WEATHER_CACHE_TTL=0 \\
    .venv/bin/python peer_sdk_server.py --port 8001 [--sse]

What it is, so the numbers can be read fairly against mcp_weather.py:

* `mcp.server.mcpserver.MCPServer` (the SDK's high-level server, the former
  FastMCP) with its own `streamable_http_app()`, served by uvicorn as the SDK
  itself does in `run_streamable_http_async`, except for two settings chosen
  to match mcp_weather.py: the log level (bench.py gives both servers the
  same one, default warning: no access log; at info both log every
  request), and `timeout_keep_alive=120` (mcp_weather.py's --idle-timeout;
  uvicorn's own default of 5 s would close the benchmark's idle keep-alive
  connections).
* sessionful (`stateless_http=False`), `json_response=True`: every POST is
  answered with one application/json body, as mcp_weather.py does when the
  client accepts both JSON and SSE and nothing has to be streamed.  With
  --sse, `json_response=False` (the SDK's default): every POST is answered
  with an SSE stream; bench.py runs a second twin so for its SSE rows, as
  the SDK chooses the framing per server, not per request.  Session
  idle timeout 1800 s and at most 10000 sessions: the SDK defaults, which are
  also mcp_weather.py's.  DNS-rebinding protection is on for 127.0.0.1 (SDK
  default), as mcp_weather.py's Host/Origin checks are.
* the same two tools, get_weather(city) and get_forecast(city, days), with
  the same descriptions, the same output (text content + structuredContent,
  validated against an outputSchema) and the same cache: places and weather
  kept WEATHER_CACHE_TTL seconds (default 600; 0, as bench.py sets by
  default, turns it off), fetched on a miss from WEATHER_GEOCODING_URL /
  WEATHER_FORECAST_URL over kept-alive http.client connections, as
  mcp_weather.py fetches them (blocking; the tools are plain `def`s, which
  the SDK runs in its worker-thread pool, much as mcp_weather.py runs each
  tools/call on its worker pool).
* no progress notifications or log messages (mcp_weather.py sends none
  either unless the client asks with a progressToken or logging/setLevel,
  which the benchmark does not).
"""

import argparse
import http.client
import json
import logging
import os
import sys
import threading
import time
import urllib.parse
from typing import Annotated, Optional

# The same texts as ours, so both servers send the same bytes.  They come
# from mcp_weather, imported at the first tool call, not at start: its
# import (and the http.server, email and ssl modules it brings) would add
# some 40 ms and 9 MB to this server's start-up and idle figures.  bench.py
# passes the instructions in PEER_INSTRUCTIONS for the same reason.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))


def ours(name):
    """ A name from mcp_weather (imported once, at first use). """
    import mcp_weather
    return getattr(mcp_weather, name)


INSTRUCTIONS = os.environ.get("PEER_INSTRUCTIONS") or ours("INSTRUCTIONS")

try:
    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from mcp_types import CallToolResult, TextContent, ToolAnnotations
    from pydantic import BaseModel, Field
except ImportError as exc:      # pragma: no cover - run from bench/.venv
    sys.exit("peer_sdk_server.py: %s; run it from bench/.venv (bench.py "
             "--peer makes it)" % exc)

GEOCODING_URL = os.environ.get(
    "WEATHER_GEOCODING_URL", "https://geocoding-api.open-meteo.com/v1/search")
FORECAST_URL = os.environ.get(
    "WEATHER_FORECAST_URL", "https://api.open-meteo.com/v1/forecast")
CACHE_TTL = float(os.environ.get("WEATHER_CACHE_TTL", "600") or 600)
TIMEOUT = float(os.environ.get("WEATHER_TIMEOUT", "10") or 10)
CURRENT_FIELDS = ("temperature_2m,relative_humidity_2m,apparent_temperature,"
                  "weather_code,wind_speed_10m")
DAILY_FIELDS = ("weather_code,temperature_2m_max,temperature_2m_min,"
                "precipitation_sum,precipitation_probability_max")
CITY = Annotated[str, Field(
    min_length=1, max_length=100, pattern=r"\S",
    description="City name in any language or script, e.g. Hangzhou, 杭州, "
                "São Paulo")]
READ_ONLY_WEB = dict(readOnlyHint=True, destructiveHint=False,
                     idempotentHint=True, openWorldHint=True)


# -- output schemas (what mcp_weather.py publishes as outputSchema) ----------

class Location(BaseModel):
    name: str
    region: Optional[str] = None
    country: Optional[str] = None
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    timezone: Optional[str] = None


class CurrentUnits(BaseModel):
    temperature: str
    wind_speed: str


class CurrentWeather(BaseModel):
    location: Location
    time: str
    temperature: float
    apparent_temperature: Optional[float] = None
    humidity: Optional[float] = None
    wind_speed: Optional[float] = None
    weather_code: int
    conditions: str
    units: CurrentUnits
    provider: str


class Day(BaseModel):
    date: str
    weather_code: int
    conditions: str
    temperature_max: float
    temperature_min: float
    precipitation_sum: Optional[float] = None
    precipitation_probability: Optional[float] = None


class Forecast(BaseModel):
    location: Location
    days: list[Day]
    units: dict
    provider: str


# -- Open-Meteo with a TTL cache, like mcp_weather.py's ---------------------

class TTLCache(object):
    def __init__(self, ttl):
        self.ttl, self.items, self.lock = ttl, {}, threading.Lock()

    def get_or_fetch(self, key, fetch):
        with self.lock:
            item = self.items.get(key)
            if item is not None and item[0] >= time.monotonic():
                return item[1]
        value = fetch()
        if self.ttl > 0:
            with self.lock:
                self.items[key] = (time.monotonic() + self.ttl, value)
        return value


cache = TTLCache(CACHE_TTL)


class ConnectionPool(object):
    """ Kept-alive http.client connections to the weather service, reused
    across calls, as mcp_weather.py keeps them: both servers make the same
    upstream requests over the same kind of client. """

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.idle, self.lock = [], threading.Lock()

    def get(self, target):
        with self.lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port,
                                              timeout=TIMEOUT)
        try:
            conn.request("GET", target, headers={
                "Accept": "application/json",
                "User-Agent": "mcp-weather-sdk-bench"})
            response = conn.getresponse()
            body = response.read(1 << 20)
        except Exception:
            conn.close()
            raise
        if response.status != 200:
            conn.close()
            raise ValueError("%s answered HTTP %d" % (self.host,
                                                      response.status))
        with self.lock:
            self.idle.append(conn)
        return json.loads(body.decode("utf-8"))


pools = {}


def get_json(url, params):
    pool = pools.get(url) or pools.setdefault(url, ConnectionPool(url))
    path = urllib.parse.urlsplit(url).path
    return pool.get(path + "?" + urllib.parse.urlencode(params))


def locate(city):
    def fetch():
        data = get_json(GEOCODING_URL, {"name": city, "count": 1,
                                        "language": "en", "format": "json"})
        results = data.get("results") if isinstance(data, dict) else None
        if not results:
            raise ValueError("No place named %r was found. Check the "
                             "spelling, or try the name in English." % city)
        top = results[0]
        return {"name": top["name"], "region": top.get("admin1"),
                "country": top.get("country"), "latitude": top["latitude"],
                "longitude": top["longitude"],
                "timezone": top.get("timezone")}
    return cache.get_or_fetch(("place", city.casefold()), fetch)


def label(place):
    parts = [place["name"], place.get("region"), place.get("country")]
    return ", ".join(p for i, p in enumerate(parts)
                     if p and p not in parts[:i])


def forecast_data(place, **params):
    params.update(latitude=place["latitude"], longitude=place["longitude"],
                  timezone="auto")
    key = ("weather", label(place)) + tuple(sorted(params.items()))
    return cache.get_or_fetch(key, lambda: get_json(FORECAST_URL, params))


def number(value):
    return None if value is None else (int(value) if isinstance(value, int)
                                       else float(value))


# -- the server ---------------------------------------------------------------

mcp = MCPServer("mcp-weather-sdk", title="MCP Weather (SDK bench twin)",
                instructions=INSTRUCTIONS, version="1.0.0",
                log_level="WARNING")


@mcp.tool(title="Current weather",
          description="Current weather for a city: temperature, feels-like "
                      "temperature, conditions, humidity and wind.",
          annotations=ToolAnnotations(title="Current weather",
                                      **READ_ONLY_WEB))
def get_weather(city: CITY) -> Annotated[CallToolResult, CurrentWeather]:
    city = city.strip()
    place = locate(city)
    data = forecast_data(place, current=CURRENT_FIELDS)
    now, units = data["current"], data.get("current_units") or {}
    code = int(now["weather_code"])
    result = {
        "location": place, "time": str(now.get("time", "")),
        "temperature": number(now["temperature_2m"]),
        "apparent_temperature": number(now.get("apparent_temperature")),
        "humidity": number(now.get("relative_humidity_2m")),
        "wind_speed": number(now.get("wind_speed_10m")),
        "weather_code": code,
        "conditions": ours("describe_wmo")(code),
        "units": {"temperature": units.get("temperature_2m", "°C"),
                  "wind_speed": units.get("wind_speed_10m", "km/h")},
        "provider": "Open-Meteo"}
    text = ours("format_current")(result)
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=result)


@mcp.tool(title="Weather forecast",
          description="Daily weather forecast for a city, 1 to 7 days "
                      "(default 3): conditions, lowest and highest "
                      "temperature, precipitation.",
          annotations=ToolAnnotations(title="Weather forecast",
                                      **READ_ONLY_WEB))
def get_forecast(city: CITY,
                 days: Annotated[int, Field(ge=1, le=7,
                                            description="Number of days, 1-7")
                                 ] = 3) -> Annotated[CallToolResult, Forecast]:
    city = city.strip()
    place = locate(city)
    data = forecast_data(place, daily=DAILY_FIELDS, forecast_days=days)
    daily, units = data["daily"], data.get("daily_units") or {}
    rows = []
    for i, date in enumerate(daily["time"][:days]):
        code = int(daily["weather_code"][i])
        rows.append({
            "date": str(date), "weather_code": code,
            "conditions": ours("describe_wmo")(code),
            "temperature_max": number(daily["temperature_2m_max"][i]),
            "temperature_min": number(daily["temperature_2m_min"][i]),
            "precipitation_sum": number(
                (daily.get("precipitation_sum") or [None] * 8)[i]),
            "precipitation_probability": number((daily.get(
                "precipitation_probability_max") or [None] * 8)[i])})
    result = {"location": place, "days": rows,
              "units": {"temperature": units.get("temperature_2m_max", "°C"),
                        "precipitation": units.get("precipitation_sum", "mm")},
              "provider": "Open-Meteo"}
    lines = ["%d-day forecast for %s (%s):" % (len(rows), label(place),
                                               "Open-Meteo")]
    lines += ["%s: %s, %s to %s %s" % (d["date"], d["conditions"],
                                       d["temperature_min"],
                                       d["temperature_max"],
                                       result["units"]["temperature"])
              for d in rows]
    return CallToolResult(content=[TextContent(type="text",
                                               text="\n".join(lines))],
                          structured_content=result)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--path", default="/mcp")
    parser.add_argument("--sse", action="store_true",
                        help="json_response=False: answer POSTs with SSE "
                             "streams (the SDK default)")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--keep-alive", type=int, default=120,
                        help="uvicorn timeout_keep_alive (default 120, "
                             "mcp_weather.py's --idle-timeout)")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(args.log_level.upper())
    app = mcp.streamable_http_app(streamable_http_path=args.path,
                                  json_response=not args.sse,
                                  stateless_http=False, host=args.host)
    # uvicorn's access log (one line per request) only at info or debug,
    # like mcp_weather.py's
    access_log = args.log_level.lower() in ("debug", "info")
    config = uvicorn.Config(app, host=args.host, port=args.port,
                            log_level=args.log_level, access_log=access_log,
                            timeout_keep_alive=args.keep_alive)
    sys.stderr.write("peer_sdk_server: http://%s:%d%s (json_response=%s)\n"
                     % (args.host, args.port, args.path, not args.sse))
    sys.stderr.flush()
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
