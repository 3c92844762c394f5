"""Test modules by area, loaded by ../test_mcp.py (python -m unittest test_mcp).

Each module here imports its fixtures from tests/support.py (FakeUpstream,
ServerTestCase, http_request, ...) and holds the tests of one area.
"""
