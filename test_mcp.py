# -*- coding: utf-8 -*-
"""The tests of mcp_weather.py (the server) and of mcp_client.py and llm.py
(the client), at the HTTP level: every test talks to a real in-process
server or client through sockets on loopback and asserts what a peer sees
on the wire (status, headers, body bytes, SSE events, NDJSON lines).

Run them all with the one command:

    python -m unittest -v test_mcp

This file holds no test: its load_tests collects every tests/test_*.py
module, one area each (a module added there is run without being named
here; tests/test_loader.py checks it).  One area alone runs with
`python -m unittest tests.test_streams` (or `tests.test_streams.SomeTests`),
from this folder.  They need nothing but the standard library and the
product files beside this one: the weather services, the chat API and
the authorization servers are fakes on 127.0.0.1 (tests/support.py).  The
tests of the conformance driver, dev tooling like it, are in interop/.

The areas, in tests/:

    support.py            the shared fixtures: fake upstreams and peers, HTTP
                          and SSE helpers, base TestCases (no tests)
  The server
    test_server_core      fixtures, initialize and lifecycle, batches, the
                          version header, HTTP transport, command line, logs
    test_framing          JSON, SSE or NDJSON chosen from Accept; keep-alives
    test_sessions         Mcp-Session-Id, expiry, caps, --stateless
    test_streams          the GET stream, resumption, replay, SSE polling
    test_cancel_logging   cancellation, progress and logging on a stream
    test_modern_era       the 2026-07-28 era beside the session era
    test_param_headers    Mcp-Param-* headers (2026-07-28)
    test_tasks            the tasks extension (2026-07-28)
    test_listen           subscriptions/listen and resources that change
    test_tools_weather    tools/list, tools/call and the weather upstreams
    test_trickling_upstream  an upstream that never ends its head
    test_resources_prompts  resources, prompts, completion, requests to
                          the client
    test_security         malformed input, Origin/Host, allow-list, tokens
    test_hostile_clients  fuzzers, slow clients, floods, vanishing clients
    test_https_oauth      HTTPS and OAuth 2.0 (the protected resource side)
    test_workers_stdio    stdio, graceful shutdown, threads, --workers
    test_py36             the Python 3.6 compatibility block
  Performance guards
    test_performance      behaviour the optimizations must keep
    test_stream_scale     a stream whose socket lies past FD_SETSIZE
    test_listen_scale     listen streams at scale, task status through them
    test_startup          what importing and starting leaves out (lazy imports)
  The client
    test_client_core      ask end to end, MCPClient on the wire, config
    test_client_eras      one client for every protocol era
    test_client_host      resources and prompts in the host, tools refreshed
    test_client_requests  requests from servers, answered by the host
    test_client_requests_server  URL elicitation, sampling with tools
    test_client_stdio     servers as stdio children
    test_client_oauth     the client's OAuth 2.1
  And
    test_loader           this file collects every module above

Checklist items (S.., C.., section numbers) in the tests refer to
../shared/spec/streamable-http-checklist.md; "B-n" to section B of
../shared/field-notes.md.
"""

import os
import unittest


def load_tests(loader, tests, pattern):
    """ `python -m unittest test_mcp` runs every tests/test_*.py module:
    the tests of one area each, sharing the fixtures of tests/support.py. """
    here = os.path.dirname(os.path.abspath(__file__))
    tests.addTests(loader.discover(os.path.join(here, "tests"),
                                   pattern="test_*.py", top_level_dir=here))
    return tests


if __name__ == "__main__":
    unittest.main()
