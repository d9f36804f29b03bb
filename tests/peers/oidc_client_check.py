"""Drives the test OpenID Provider (oidc/provider.mjs) and the test browser with standard clients
(Authlib's OAuth 2.0 client, PyJWT for the ID tokens), as an OIDC relying party would, and exits
1 at the first thing that is not what the protocol says.

    python oidc_client_check.py --issuer URL --client-id ID --other-client-id ID2 --port N
        --browser test_browser.py --login SUB --outsider SUB2 [--ca PEM] [--checks LIST]

`--port N`: the loopback listener here binds 127.0.0.1:N and the redirect URI is
`http://localhost:N`, as kubelogin does it; both clients must have it registered. `--login`
is the account the browser signs in as; `--outsider` another one (its token shows who may not
list pods). `--ca`: trust this CA for the provider's HTTPS (the browser is given it too).

Checks (`--checks`, comma-separated, default all, in this order):
- discovery: issuer, the endpoints, S256 the only PKCE method, the device code grant, RS256.
- code: the authorization code grant with PKCE S256 through the browser (sign-in and consent)
  to the listener (`state` and `iss` on the callback, `state` checked by Authlib); the ID
  token verified with PyJWT against the JWKS (RS256, iss, aud, exp, nonce, sub, email,
  email_verified, groups) and a refresh token granted for `offline_access` (none without
  it); the code is single use, and reusing it revokes its refresh token; a wrong verifier is invalid_grant; no code_challenge, or `plain`, is refused
  back at the redirect URI (invalid_request); an unregistered redirect URI gets the
  provider's 400 page, never a redirect; the browser's "Cancel" is access_denied at the
  listener; an ID token for the other client and one for the outsider.
- refresh: the refresh_token grant gives a new ID token and a new refresh token; the old one
  is then invalid_grant (rotation), and after that reuse the whole grant is revoked
  (oidc-provider's reuse detection), the new one too.
- device: RFC 8628: the device authorization response; authorization_pending before the
  browser approves verification_uri_complete, then tokens (ID token checked as above, a
  refresh token); the device code is single use; a denied device code is access_denied.
- revoke: the RFC 7009 revocation endpoint ends a refresh token (then invalid_grant);
  `POST /fake/revoke {"client_id", "sub"}` ends the refresh tokens of the client and account; the ID token TTL
  set with `POST /fake/config`; `wrong_jwks` makes the JWKS show a key that did not sign.

Prints one JSON object on stdout: {"ok": true, "browser_opens": N, "id_token",
"other_client_id_token", "outsider_id_token", "short_id_token" (a refreshed ID token that
lives 2 s), "claims" (of id_token), "secrets" (every token and code seen, for the test that
checks the provider's log holds none)}; keys only for the checks run.
"""

import argparse
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TIMEOUT = 10


def fail(message):
    print(f"oidc_client_check: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def expect_oauth_error(error, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except OAuthError as e:
        check(e.error == error, f"expected {error}, got {e.error}: {e.description}")
        return
    fail(f"expected {error}, the call succeeded")


class Checker:
    def __init__(self, args):
        self.args = args
        self.http = requests.Session()
        self.http.verify = args.ca or True
        self.browser_opens = 0
        self.out = {}
        self.secrets = []

    # The provider's metadata, the clients, the browser and the listener.

    def discover(self):
        url = self.args.issuer + "/.well-known/openid-configuration"
        d = self.http.get(url, timeout=TIMEOUT).json()
        self.meta = d
        self.jwks = jwt.PyJWKClient(d["jwks_uri"], cache_jwk_set=False, timeout=TIMEOUT,
                                    ssl_context=ssl.create_default_context(cafile=self.args.ca)
                                    if self.args.ca else None)
        return d

    def client(self, client_id=None, **kwargs):
        c = OAuth2Session(client_id or self.args.client_id, token_endpoint_auth_method="none",
                          timeout=TIMEOUT, **kwargs)
        c.verify = self.args.ca or True
        return c

    def browse(self, url, mode="approve", login=None):
        """Runs the test browser at `url` as `$BROWSER` would; it must print nothing on stdout."""
        env = dict(os.environ, EKS_TOKEN_TEST_BROWSER=mode,
                   EKS_TOKEN_TEST_BROWSER_LOGIN=login or self.args.login)
        if self.args.ca:
            env["EKS_TOKEN_TEST_BROWSER_CA"] = self.args.ca
        run = subprocess.run([self.args.browser, url], env=env, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        self.browser_opens += 1
        check(run.stdout == "", f"the browser wrote to stdout: {run.stdout!r}")
        return run

    def callback(self, url, mode="approve", login=None):
        """Opens `url` in the browser and returns the query the loopback listener received."""
        received = []

        class Listener(BaseHTTPRequestHandler):
            def do_GET(self):
                received.append(self.path)
                body = b"<html><body>You may close this window.</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        server = HTTPServer(("127.0.0.1", self.args.port), Listener)
        server.timeout = 1
        thread = threading.Thread(target=lambda: [server.handle_request() for _ in range(30) if not received])
        thread.start()
        run = self.browse(url, mode, login)
        thread.join()
        server.server_close()
        check(received, f"nothing reached the listener; the browser said: {run.stderr}")
        check(len(received) == 1, f"{len(received)} callbacks")
        return received[0], {k: v[0] for k, v in parse_qs(urlsplit(received[0]).query).items()}

    @property
    def redirect_uri(self):
        return f"http://localhost:{self.args.port}"

    def verify_id_token(self, token, client_id=None, nonce=None, sub=None):
        client_id = client_id or self.args.client_id
        key = self.jwks.get_signing_key_from_jwt(token)
        check(jwt.get_unverified_header(token)["alg"] == "RS256", "ID token not RS256")
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=client_id,
                            issuer=self.args.issuer,
                            options={"require": ["iss", "aud", "exp", "iat", "sub"]})
        check(claims["sub"] == (sub or self.args.login), f"sub {claims['sub']}")
        check(claims["exp"] > time.time(), "expired at once")
        if nonce is not None:
            check(claims.get("nonce") == nonce, "nonce not echoed")
        check(isinstance(claims.get("groups"), list), f"no groups claim: {claims}")
        check("@" in claims.get("email", ""), f"no email claim: {claims}")
        check(claims.get("email_verified") is True, "email_verified")
        return claims

    def keep(self, *values):
        self.secrets.extend(v for v in values if v)

    def code_login(self, client_id=None, login=None, scope="openid email offline_access"):
        """A full authorization code + PKCE login; (token response, nonce)."""
        c = self.client(client_id, scope=scope, redirect_uri=self.redirect_uri,
                        code_challenge_method="S256")
        verifier = generate_token(48)
        nonce = secrets.token_urlsafe(16)
        url, state = c.create_authorization_url(self.meta["authorization_endpoint"],
                                                code_verifier=verifier, nonce=nonce)
        path, query = self.callback(url, login=login)
        check(query.get("state") == state, "state not returned")
        check(query.get("iss") == self.args.issuer, "iss not on the callback (RFC 9207)")
        self.keep(query.get("code"))
        token = c.fetch_token(self.meta["token_endpoint"], authorization_response=self.redirect_uri + path,
                              code_verifier=verifier)
        self.keep(token.get("id_token"), token.get("access_token"), token.get("refresh_token"))
        return token, nonce, c, verifier, query["code"]

    # The checks.

    def check_discovery(self):
        d = self.discover()
        check(d["issuer"] == self.args.issuer, f"issuer {d['issuer']}")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri",
                     "device_authorization_endpoint", "revocation_endpoint"):
            check(d.get(name, "").startswith(self.args.issuer + "/"), f"{name}: {d.get(name)}")
        check(d["code_challenge_methods_supported"] == ["S256"], "PKCE methods")
        check(DEVICE_GRANT in d["grant_types_supported"], "no device grant")
        check("refresh_token" in d["grant_types_supported"], "no refresh grant")
        check("RS256" in d["id_token_signing_alg_values_supported"], "RS256")
        check("groups" in d["claims_supported"] and "email" in d["claims_supported"], "claims")
        keys = self.http.get(d["jwks_uri"], timeout=TIMEOUT).json()["keys"]
        check(len(keys) == 1 and keys[0]["kty"] == "RSA" and "d" not in keys[0], "JWKS: one public RSA key")

    def check_code(self):
        token, nonce, *_ = self.code_login()
        claims = self.verify_id_token(token["id_token"], nonce=nonce)
        check("refresh_token" in token, "no refresh token for offline_access")
        self.out["id_token"] = token["id_token"]
        self.out["claims"] = claims
        self.refresh_token = token["refresh_token"]
        # The code is single use, and its reuse revokes what it gave (RFC 6749 4.1.2).
        reused, _, c, verifier, code = self.code_login()
        expect_oauth_error("invalid_grant", c.fetch_token, self.meta["token_endpoint"],
                           code=code, code_verifier=verifier)
        expect_oauth_error("invalid_grant", c.refresh_token, self.meta["token_endpoint"],
                           refresh_token=reused["refresh_token"])
        # Without offline_access, no refresh token.
        online, *_ = self.code_login(scope="openid email")
        check("refresh_token" not in online, "a refresh token without offline_access")
        # A wrong verifier.
        c2 = self.client(scope="openid", redirect_uri=self.redirect_uri, code_challenge_method="S256")
        url, _ = c2.create_authorization_url(self.meta["authorization_endpoint"], code_verifier=generate_token(48))
        path, query = self.callback(url)
        self.keep(query.get("code"))
        expect_oauth_error("invalid_grant", c2.fetch_token, self.meta["token_endpoint"],
                           authorization_response=self.redirect_uri + path, code_verifier=generate_token(48))
        # PKCE is required, and S256 only: refused back at the redirect URI.
        base = {"response_type": "code", "client_id": self.args.client_id, "scope": "openid",
                "redirect_uri": self.redirect_uri, "state": "s"}
        for extra in ({}, {"code_challenge": generate_token(43), "code_challenge_method": "plain"}):
            r = self.http.get(self.meta["authorization_endpoint"] + "?" + urlencode({**base, **extra}),
                              allow_redirects=False, timeout=TIMEOUT)
            location = r.headers.get("Location", "")
            check(r.status_code in (302, 303) and location.startswith(self.redirect_uri),
                  f"PKCE {extra or 'missing'}: {r.status_code} {location}")
            check(parse_qs(urlsplit(location).query).get("error") == ["invalid_request"], location)
        # An unregistered redirect URI: the provider's own error page.
        r = self.http.get(self.meta["authorization_endpoint"] + "?" + urlencode(
            {**base, "redirect_uri": f"http://localhost:{self.args.port + 1}",
             "code_challenge": generate_token(43), "code_challenge_method": "S256"}),
            allow_redirects=False, timeout=TIMEOUT)
        check(r.status_code == 400 and "redirect_uri" in r.text, f"unregistered redirect: {r.status_code}")
        # The person presses Cancel.
        c3 = self.client(scope="openid", redirect_uri=self.redirect_uri, code_challenge_method="S256")
        url, state = c3.create_authorization_url(self.meta["authorization_endpoint"],
                                                 code_verifier=generate_token(48))
        _, query = self.callback(url, mode="deny")
        check(query.get("error") == "access_denied" and query.get("state") == state, f"deny: {query}")
        # Tokens for the fake EKS server to refuse.
        other, nonce, *_ = self.code_login(self.args.other_client_id)
        self.verify_id_token(other["id_token"], client_id=self.args.other_client_id, nonce=nonce)
        self.out["other_client_id_token"] = other["id_token"]
        outsider, nonce, *_ = self.code_login(login=self.args.outsider)
        self.verify_id_token(outsider["id_token"], nonce=nonce, sub=self.args.outsider)
        self.out["outsider_id_token"] = outsider["id_token"]

    def check_refresh(self):
        c = self.client()
        old = self.refresh_token
        new = c.refresh_token(self.meta["token_endpoint"], refresh_token=old)
        self.keep(new.get("id_token"), new.get("access_token"), new.get("refresh_token"))
        check("id_token" in new, "no ID token on refresh")
        claims = self.verify_id_token(new["id_token"])
        check(claims["groups"] == self.out["claims"]["groups"], "groups changed on refresh")
        check(new.get("refresh_token") not in (None, old), "the refresh token did not rotate")
        expect_oauth_error("invalid_grant", c.refresh_token, self.meta["token_endpoint"], refresh_token=old)
        expect_oauth_error("invalid_grant", c.refresh_token, self.meta["token_endpoint"],
                           refresh_token=new["refresh_token"])

    def device_authorization(self):
        r = self.http.post(self.meta["device_authorization_endpoint"], timeout=TIMEOUT,
                           data={"client_id": self.args.client_id, "scope": "openid email offline_access"})
        check(r.status_code == 200, f"device authorization: {r.status_code} {r.text}")
        d = r.json()
        for name in ("device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in"):
            check(name in d, f"device authorization without {name}")
        check(d["verification_uri_complete"].startswith(d["verification_uri"] + "?user_code="),
              d["verification_uri_complete"])
        self.keep(d["device_code"])
        return d

    def check_device(self):
        c = self.client()
        poll = lambda d: c.fetch_token(self.meta["token_endpoint"], grant_type=DEVICE_GRANT,  # noqa: E731
                                       device_code=d["device_code"])
        d = self.device_authorization()
        expect_oauth_error("authorization_pending", poll, d)
        run = self.browse(d["verification_uri_complete"])
        check(run.returncode == 0, f"browser: {run.stderr}")
        token = poll(d)
        self.keep(token.get("id_token"), token.get("access_token"), token.get("refresh_token"))
        self.verify_id_token(token["id_token"])
        check("refresh_token" in token, "no refresh token from the device flow")
        self.out["device_id_token"] = token["id_token"]
        self.device_refresh_token = token["refresh_token"]
        expect_oauth_error("invalid_grant", poll, d)
        denied = self.device_authorization()
        run = self.browse(denied["verification_uri_complete"], mode="deny")
        check(run.returncode == 0, f"browser: {run.stderr}")
        expect_oauth_error("access_denied", poll, denied)

    def fake(self, path, body):
        r = self.http.post(self.args.issuer + path, json=body, timeout=TIMEOUT)
        check(r.status_code == 200, f"{path}: {r.status_code}")
        return r.json()

    def check_revoke(self):
        c = self.client()
        # RFC 7009, on the device flow's refresh token.
        r = c.revoke_token(self.meta["revocation_endpoint"], token=self.device_refresh_token,
                           token_type_hint="refresh_token")
        check(r.status_code == 200, f"revocation: {r.status_code}")
        expect_oauth_error("invalid_grant", c.refresh_token, self.meta["token_endpoint"],
                           refresh_token=self.device_refresh_token)
        # The test-only endpoint: a fresh login, then every refresh token of the client ends.
        token, *_ = self.code_login()
        self.fake("/fake/config", {"ttl": {"IdToken": 2}})
        short = c.refresh_token(self.meta["token_endpoint"], refresh_token=token["refresh_token"])
        self.keep(short.get("id_token"), short.get("access_token"), short.get("refresh_token"))
        claims = self.verify_id_token(short["id_token"])
        check(claims["exp"] - claims["iat"] == 2, f"ID token TTL {claims['exp'] - claims['iat']}")
        self.out["short_id_token"] = short["id_token"]
        self.fake("/fake/config", {"ttl": {"IdToken": 3600}})
        revoked = self.fake("/fake/revoke", {"client_id": self.args.client_id, "sub": self.args.login})
        check(revoked["revoked"] == 1, f"revoked {revoked}")
        expect_oauth_error("invalid_grant", c.refresh_token, self.meta["token_endpoint"],
                           refresh_token=short["refresh_token"])
        # A JWKS that does not hold the signing key: the signature cannot be checked.
        self.fake("/fake/config", {"wrong_jwks": True})
        try:
            self.verify_id_token(self.out["id_token"])
            fail("an ID token verified against the wrong JWKS")
        except jwt.PyJWKClientError:
            pass
        self.fake("/fake/config", {"wrong_jwks": False})
        self.verify_id_token(self.out["id_token"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--other-client-id")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--browser", required=True)
    ap.add_argument("--login", required=True)
    ap.add_argument("--outsider")
    ap.add_argument("--ca")
    ap.add_argument("--checks", default="discovery,code,refresh,device,revoke")
    args = ap.parse_args()
    checker = Checker(args)
    for name in args.checks.split(","):
        getattr(checker, f"check_{name}")()
    print(json.dumps({"ok": True, "browser_opens": checker.browser_opens, **checker.out,
                      "secrets": checker.secrets}))


if __name__ == "__main__":
    main()
