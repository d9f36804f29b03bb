#!/usr/bin/env python3
"""A test browser for `$BROWSER` / `--browser-command`: opens one URL and clicks like a person.

    BROWSER=/path/to/tests/peers/test_browser.py eks-token login ...   (called with one URL)

Standard library only, so any python3 on PATH runs it (the shebang).

Environment:
- EKS_TOKEN_TEST_BROWSER: `approve` (default), `deny`, or `ignore` (fetches nothing: a
  person who never looks at the tab).
- EKS_TOKEN_TEST_BROWSER_LOG: a file; each call appends the URL it was given as one line,
  before doing anything else, so tests can count browser opens.
- EKS_TOKEN_TEST_BROWSER_VISITS: a file; every URL it requests, each redirect too, is
  appended as one line (the last ones are the program's callback with the code or error
  the provider sent it, which tests look for where it must never appear).
- EKS_TOKEN_TEST_BROWSER_LOGIN, EKS_TOKEN_TEST_BROWSER_PASSWORD: what it types into a
  sign-in form (a form with a password field): the login into its empty text fields, the
  password (default `test-password`) into its password fields.
- EKS_TOKEN_TEST_BROWSER_CA: a CA certificate (PEM) to trust for HTTPS pages (else the
  system's).

On each page, in order:
- an element with `id="approve"` / `id="deny"` (the mode; fake_sso.py's pages): follow it;
- approve: fill and submit a sign-in form; else press a form's button that is not labelled
  Cancel, Abort or Deny (consent, device confirmation); deny: follow the link or press the
  button labelled Cancel, Abort or Deny, and stop after that page;
- a form of hidden fields alone and no button (what a page's script would post at once,
  e.g. oidc-provider's device page; `<noscript>` content is not seen): submit it;
- else the flow is over (the last page is the program's loopback callback, or the
  provider's "success" page).
Cookies are kept for the run; redirects are followed (to the loopback callback of the
program under test). It gives up on a form it already submitted that comes back (a refused
login), after 12 pages, and on a first page with nothing to do. Every request has a 10 s
timeout, so it always exits promptly: 0 when every page answered 2xx, 1 (with one
`test_browser: ...` line on stderr) otherwise. It never writes to stdout: a real browser's
output must not reach it, and the tests check it stays clean.
"""

import http.cookiejar
import os
import re
import ssl
import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

TIMEOUT = 10
MAX_PAGES = 12
DENY_LABELS = {"cancel", "abort", "deny"}


class Page(HTMLParser):
    """The forms, their fields and buttons, and the links of one HTML page."""

    def __init__(self, url, html):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms = []  # {"id", "action", "method", "fields": [(name, type, value)], "buttons"}
        self.links = []  # {"id", "href", "label"}
        self.buttons = []  # {"form": index or form id, "name", "value", "label", "type"}
        self.form = None  # index of the enclosing form
        self.open = None  # the link or button whose label is being read
        self.noscript = 0  # what a browser that runs scripts does not show
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "noscript":
            self.noscript += 1
        elif self.noscript:
            return
        if tag == "form":
            self.forms.append({"id": a.get("id"), "action": urljoin(self.url, a.get("action", "")),
                               "method": a.get("method", "get").lower(), "fields": []})
            self.form = len(self.forms) - 1
        elif tag == "a" and "href" in a:
            self.open = {"id": a.get("id"), "href": urljoin(self.url, a["href"]), "label": ""}
            self.links.append(self.open)
        elif tag == "button" or (tag == "input" and a.get("type", "").lower() == "submit"):
            button = {"form": a.get("form", self.form), "name": a.get("name"), "value": a.get("value", ""),
                      "label": a.get("value", "") if tag == "input" else "",
                      "type": a.get("type", "submit").lower()}
            self.buttons.append(button)
            self.open = button if tag == "button" else None
        elif tag == "input" and self.form is not None and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind not in ("checkbox", "radio") or "checked" in a:
                self.forms[self.form]["fields"].append((a["name"], kind, a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "noscript":
            self.noscript -= 1
        elif tag == "form":
            self.form = None
        elif tag in ("a", "button"):
            self.open = None

    def handle_data(self, data):
        if self.open is not None:
            self.open["label"] += data

    def form_of(self, button):
        ref = button["form"]
        if isinstance(ref, int):
            return self.forms[ref]
        return next((f for f in self.forms if f["id"] == ref), None)


def is_deny(label):
    return label.strip().strip("[]").strip().lower() in DENY_LABELS


def visited(url):
    """Appends `url` to $EKS_TOKEN_TEST_BROWSER_VISITS, if set."""
    log = os.environ.get("EKS_TOKEN_TEST_BROWSER_VISITS")
    if log:
        with open(log, "a") as f:
            f.write(url + "\n")


class Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does, noting each URL it is sent to."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        visited(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Browser:
    def __init__(self, mode):
        self.mode = mode
        ca = os.environ.get("EKS_TOKEN_TEST_BROWSER_CA")
        context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            urllib.request.HTTPSHandler(context=context), Redirects())
        self.submitted = set()

    def open(self, url, data=None):
        """GET (or POST `data`) and follow redirects; the final page."""
        visited(url)
        body = urlencode(data).encode() if data is not None else None
        with self.opener.open(url, data=body, timeout=TIMEOUT) as response:
            return Page(response.geturl(), response.read().decode("utf-8", "replace"))

    def submit(self, page, form, button=None, fill=False):
        fields = []
        for name, kind, value in form["fields"]:
            if fill and kind == "password":
                value = os.environ.get("EKS_TOKEN_TEST_BROWSER_PASSWORD", "test-password")
            elif fill and kind in ("text", "email") and not value:
                value = os.environ.get("EKS_TOKEN_TEST_BROWSER_LOGIN")
                if not value:
                    raise Failure(f"a sign-in form on {page.url} and no EKS_TOKEN_TEST_BROWSER_LOGIN")
            fields.append((name, value))
        if button and button["name"]:
            fields.append((button["name"], button["value"]))
        # The same form again, even under a new interaction handle in its path.
        seen = (re.sub(r"/[\w-]{20,}", "/*", urlsplit(form["action"]).path),
                tuple(sorted(name for name, _ in fields)))
        if seen in self.submitted:
            raise Failure(f"{page.url} shows a form it already submitted (refused?)")
        self.submitted.add(seen)
        if form["method"] == "post":
            return self.open(form["action"], fields)
        parts = urlsplit(form["action"])
        return self.open(urlunsplit(parts._replace(query=urlencode(fields))))

    def step(self, page):
        """The next page after acting on `page`, `None` when there is nothing to do, and
        whether the flow is over after it."""
        link = next((l for l in page.links if l["id"] == self.mode), None)
        if link:
            return self.open(link["href"]), False
        buttons = [b for b in page.buttons if b["type"] == "submit" and page.form_of(b)]
        if self.mode == "approve":
            login = next((f for f in page.forms if any(k == "password" for _, k, _ in f["fields"])), None)
            if login:
                button = next((b for b in buttons if page.form_of(b) is login), None)
                return self.submit(page, login, button, fill=True), False
            button = next((b for b in buttons if not is_deny(b["label"])), None)
            if button:
                return self.submit(page, page.form_of(button), button), False
        else:
            button = next((b for b in buttons if is_deny(b["label"])), None)
            if button:
                return self.submit(page, page.form_of(button), button), True
            link = next((l for l in page.links if is_deny(l["label"])), None)
            if link:
                return self.open(link["href"]), True
        hidden = next((f for f in page.forms if not any(page.form_of(b) is f for b in page.buttons)
                       and all(k == "hidden" for _, k, _ in f["fields"])), None)
        if hidden:
            return self.submit(page, hidden), False
        return None, True

    def run(self, url):
        page = self.open(url)
        for count in range(MAX_PAGES):
            following, over = self.step(page)
            if following is None:
                if count == 0:
                    raise Failure(f"nothing to {self.mode} on {page.url}")
                return
            page = following
            if over:
                return
        raise Failure(f"still not done after {MAX_PAGES} pages, at {page.url}")


class Failure(Exception):
    pass


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
        Browser(mode).run(url)
    except (urllib.error.URLError, OSError, Failure) as e:
        print(f"test_browser: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
