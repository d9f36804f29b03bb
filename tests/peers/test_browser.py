#!/usr/bin/env python3
"""A test browser for `$BROWSER`: opens one URL and clicks like a person would.

    BROWSER=/path/to/tests/peers/test_browser.py eks-token login ...   (called with one URL)

Standard library only, so any python3 on PATH runs it (the shebang).

Environment:
- EKS_TOKEN_TEST_BROWSER: `approve` (default) follows the page's `id="approve"` link, `deny`
  its `id="deny"` link, `ignore` fetches nothing (a person who never looks at the tab).
- EKS_TOKEN_TEST_BROWSER_LOG: a file; each call appends the URL it was given as one line,
  before doing anything else, so tests can count browser opens.

After the click it follows redirects (to the loopback callback of the program under test)
and reads the final page. Every request has a 10 s timeout, so it always exits promptly:
0 when every page answered 2xx, 1 (with one line on stderr) otherwise. It never writes to
stdout: a real browser's output must not reach it, and the tests check it stays clean.
"""

import os
import re
import sys
import urllib.error
import urllib.request
from urllib.parse import urljoin

TIMEOUT = 10


def fetch(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.geturl(), response.read().decode("utf-8", "replace")


def main():
    if len(sys.argv) != 2:
        print("test_browser: usage: test_browser.py URL", file=sys.stderr)
        return 2
    url = sys.argv[1]
    log = os.environ.get("EKS_TOKEN_TEST_BROWSER_LOG")
    if log:
        with open(log, "a") as f:
            f.write(url + "\n")
    mode = os.environ.get("EKS_TOKEN_TEST_BROWSER", "approve")
    if mode == "ignore":
        return 0
    if mode not in ("approve", "deny"):
        print(f"test_browser: unknown EKS_TOKEN_TEST_BROWSER {mode!r}", file=sys.stderr)
        return 2
    try:
        # urllib follows the 302 to the callback by itself (bounded by its redirect limit).
        where, page = fetch(url)
        link = re.search(rf'<a id="{mode}" href="([^"]+)"', page)
        if link is None:
            print(f"test_browser: no {mode} link on {where}", file=sys.stderr)
            return 1
        fetch(urljoin(where, link.group(1).replace("&amp;", "&")))
    except (urllib.error.URLError, OSError) as e:
        print(f"test_browser: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
