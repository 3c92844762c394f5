#!/usr/bin/env python3
"""A small MCP server on the OFFICIAL Python SDK (pip `mcp`, 2.x), for client_check.py. Dev only.

    .venv/bin/python sdk_server.py [--port 0] [--stateless] [--json]
    .venv/bin/python sdk_server.py --stdio

`mcp.server.mcpserver.MCPServer` (the SDK's high-level server) with its own
`streamable_http_app()`, on uvicorn, as `run_streamable_http_async` does. It prints
`sdk_server: http://127.0.0.1:PORT/mcp` on stderr once it listens (port 0 picks a free one).
Sessionful and SSE-answering by default, the SDK's defaults; --stateless sets stateless_http,
--json sets json_response; --stdio serves one client on stdin/stdout instead (for a client that
spawns its servers: client_cli_check.py). Tools, chosen to exercise what a client must handle:

    echo(message)   one text block
    add(a, b)       structured content ({"sum": ...}) with an outputSchema
    count(n)        n notifications/progress on the call's SSE stream, then the text
    fail()          a tool error: isError true

and, for the command line's resources/read/prompts/prompt (client_cli_check.py), one resource
`interop://greeting` (text) and one prompt `greet(name)`.

Run from interop/.venv (run_sdk.sh or run_client.sh makes it).
"""
import argparse
import socket
import sys

try:
    import anyio
    import uvicorn
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import BaseModel
except ImportError as exc:      # pragma: no cover - run from interop/.venv
    sys.exit("sdk_server.py: %s; run it from interop/.venv (run_client.sh makes it)" % exc)

server = MCPServer("interop-sdk-server", version="1.0.0", log_level="WARNING",
                   instructions="Test tools: echo, add, count, fail.")


class Sum(BaseModel):
    sum: float


@server.tool(description="Echo a message back.")
def echo(message: str) -> str:
    return "Echo: %s" % message


@server.tool(description="Add two numbers; the sum is also structured content.")
def add(a: float, b: float) -> Sum:
    return Sum(sum=a + b)


@server.tool(description="Count to n, reporting progress at each step.")
async def count(n: int, ctx: Context) -> str:
    for step in range(1, n + 1):
        await ctx.report_progress(step, n, "step %d of %d" % (step, n))
        await anyio.sleep(0.02)
    return "Counted to %d" % n


@server.tool(description="Always fails, as a tool error.")
def fail() -> str:
    raise ToolError("this tool always fails")


@server.resource("interop://greeting", name="greeting", description="A fixed greeting.",
                 mime_type="text/plain")
def greeting() -> str:
    return "Hello from the SDK server."


@server.prompt(description="Ask for a greeting to NAME.")
def greet(name: str) -> str:
    return "Please greet %s warmly." % name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stateless", action="store_true", help="stateless_http=True")
    parser.add_argument("--json", action="store_true", help="json_response=True")
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout")
    args = parser.parse_args(argv)
    if args.stdio:
        server.run("stdio")
        return 0
    app = server.streamable_http_app(stateless_http=args.stateless, json_response=args.json)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)        # connections wait in the backlog until uvicorn serves them
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    sys.stderr.write("sdk_server: http://127.0.0.1:%d/mcp (stateless_http=%s, json_response=%s)\n"
                     % (sock.getsockname()[1], args.stateless, args.json))
    sys.stderr.flush()
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
