"""The loader itself: test_mcp collects this folder's modules (so a module
added here is run by the README's one test command)."""

import os
import unittest

import test_mcp


class LoaderTests(unittest.TestCase):

    def test_test_mcp_collects_this_folder(self):
        suite = unittest.defaultTestLoader.loadTestsFromModule(test_mcp)
        names = set()

        def walk(node):
            for item in node:
                if isinstance(item, unittest.TestSuite):
                    walk(item)
                else:
                    names.add(type(item).__module__)
        walk(suite)
        self.assertIn(__name__, names)
        here = os.path.dirname(os.path.abspath(__file__))
        for name in os.listdir(here):
            if name.startswith("test_") and name.endswith(".py"):
                self.assertIn("tests." + name[:-3], names)
