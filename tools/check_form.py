#!/usr/bin/env python3
"""Checks the form issue 19 gave the product files (dev only, standard library).

    python tools/check_form.py

- No class in mcp_weather.py, mcp_client.py or llm.py is over MAX_CLASS lines,
  and no test module (test_mcp.py, tests/*.py) over MAX_TEST_MODULE lines: a
  reader follows one concern at a time.
- Every server item of the checklist (S1-S72) is cited in mcp_weather.py and
  every client item (C1-C18) in mcp_client.py, so that one search finds where
  an item lives.

Prints the largest classes and what fails; the last line is
"form: N passed, N failed, 0 skipped" and the exit status is 1 on a failure.
"""

import ast
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCT = ("mcp_weather.py", "mcp_client.py", "llm.py")
MAX_CLASS = 400
MAX_TEST_MODULE = 3000
CITED = (("mcp_weather.py", "S", 72), ("mcp_client.py", "C", 18))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def class_sizes(name):
    """ (lines, class name) of every class in the file, largest first. """
    sizes = []
    for node in ast.walk(ast.parse(read(name), name)):
        if isinstance(node, ast.ClassDef):
            end = max(getattr(n, "lineno", 0) for n in ast.walk(node))
            sizes.append((end - node.lineno + 1, node.name))
    return sorted(sizes, reverse=True)


def main():
    problems, checks = [], 0
    for name in PRODUCT:
        sizes = class_sizes(name)
        print("%-15s largest classes: %s" % (name, ", ".join(
            "%s %d" % (cls, lines) for lines, cls in sizes[:3])))
        for lines, cls in sizes:
            checks += 1
            if lines > MAX_CLASS:
                problems.append("%s: class %s has %d lines (at most %d)"
                                % (name, cls, lines, MAX_CLASS))
    tests = ["test_mcp.py"] + sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(
            ROOT, "tests", "*.py")))
    for name in tests:
        checks += 1
        lines = read(name).count("\n")
        if lines > MAX_TEST_MODULE:
            problems.append("%s has %d lines (at most %d)"
                            % (name, lines, MAX_TEST_MODULE))
    for name, letter, last in CITED:
        text = read(name)
        for number in range(1, last + 1):
            checks += 1
            if not re.search(r"\b%s%d\b" % (letter, number), text):
                problems.append("%s cites no %s%d" % (name, letter, number))
    for problem in problems:
        print("FAIL: " + problem)
    print("form: %d passed, %d failed, 0 skipped"
          % (checks - len(problems), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
