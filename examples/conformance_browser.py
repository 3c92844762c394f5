#!/usr/bin/env python3
"""A stand-in for the person's browser, for the conformance suite's auth scenarios.

    BROWSER="python3 examples/conformance_browser.py %s" python3 examples/conformance_client.py URL

mcp_client.py opens the authorization URL with webbrowser.open, which runs $BROWSER.  This script
does what a browser does when the person clicks "allow" at once: GET the URL and follow the
redirects, the last of which reaches the client's loopback listener with the code.  The suite's
authorization server redirects without asking anyone, so nothing else is needed.

Standard library only.
"""
import sys
import urllib.error
import urllib.request


def main(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        sys.stderr.write("browser: %s answered HTTP %d\n" % (error.url, error.code))
        return 1
    except OSError as error:
        sys.stderr.write("browser: cannot load %s: %s\n" % (url.split("?")[0], error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
