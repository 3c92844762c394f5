"""Test modules by area, loaded by ../test_mcp.py (python -m unittest test_mcp).

Each module here holds the tests of one area and imports its fixtures from
tests/support.py (FakeUpstream, ServerTestCase, http_request, ...), never
from another test module.
"""
