"""Drives fake_sso.py with botocore's own clients, as the AWS CLI and SDKs would, and exits 1
at the first thing botocore reads differently from the real service.

    HOME=PRIVATE python sso_client_check.py --url http://127.0.0.1:N --browser test_browser.py --dir DIR

It writes `~/.aws/sso/cache/` under HOME: run it with a throwaway HOME.

Checks, in order: RegisterClient; StartDeviceAuthorization; CreateToken (device code) gets
AuthorizationPendingException, the test browser approves the verification URL, CreateToken
succeeds; the refresh_token grant rotates the refresh token; scripted device polls come back
as SlowDownException, AccessDeniedException and ExpiredTokenException; a denied device code
is AccessDeniedException; the authorization code grant with a PKCE pair made here, the test
browser opening /authorize and landing on a loopback listener here, and InvalidGrantException
for a wrong verifier, a wrong redirect URI and a reused code; a denial reaches the listener
as error=access_denied; GetRoleCredentials; Logout, after which GetRoleCredentials is
UnauthorizedException. Then botocore's own SSO credential provider, for an `sso-session`
profile whose cached token has expired, refreshes it through the fake (CreateToken
refresh_token), rewrites the cache file in its format and gets role credentials; and the AWS
CLI's `aws sso get-role-credentials` gets the same role with the refreshed token.

Prints one JSON object on stdout: {"ok": true, "role_credentials": {...}, "browser_opens": N}.
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import botocore.session
from botocore.exceptions import ClientError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
START_URL = "https://fake.awsapps.com/start"
REGION = "eu-west-1"


def fail(message):
    print(f"sso_client_check: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def expect_error(code, call, /, **kwargs):
    """`call(**kwargs)` must raise botocore's ClientError with `code` (botocore reads it from
    x-amzn-errortype) and the HTTP status the service model gives that exception."""
    try:
        call(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{call.__name__}: expected {code}, botocore parsed {got}: {e.response}")
        # The HTTP status the service model gives the exception.
        status = call.__self__.meta.service_model.shape_for(code).metadata["error"]["httpStatusCode"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(got_status == status, f"{call.__name__}: {code} came with HTTP {got_status}, not {status}")
        return e.response
    fail(f"{call.__name__}: expected {code}, the call succeeded")


class Browser:
    def __init__(self, script, work):
        self.script = script
        self.log = os.path.join(work, "browser.log")

    def open(self, url, mode="approve"):
        env = dict(os.environ, EKS_TOKEN_TEST_BROWSER=mode, EKS_TOKEN_TEST_BROWSER_LOG=self.log)
        out = subprocess.run([sys.executable, self.script, url], env=env, capture_output=True,
                             timeout=30, stdin=subprocess.DEVNULL)
        check(out.stdout == b"", f"the test browser wrote to stdout: {out.stdout!r}")
        check(out.returncode == 0, f"the test browser failed: {out.stderr.decode()}")

    def opens(self):
        with open(self.log) as f:
            return len(f.read().splitlines())


class Callback:
    """A one-shot loopback listener on /oauth/callback, as `aws sso login` runs."""

    def __init__(self):
        got = self.got = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                got.update({k: v[0] for k, v in parse_qs(url.query).items()}, path=url.path)
                data = b"you can close this tab"
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 30
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/oauth/callback"
        self.thread = threading.Thread(target=self.server.handle_request, daemon=True)
        self.thread.start()

    def result(self):
        self.thread.join(35)
        self.server.server_close()
        check(self.got.get("path") == "/oauth/callback", f"callback not reached: {self.got}")
        return self.got


def pkce():
    verifier = secrets.token_urlsafe(48)[:64]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def plan(url, body):
    import urllib.request
    req = urllib.request.Request(f"{url}/fake/plan", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def device_flow(oidc, browser, reg):
    client = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
    dev = oidc.start_device_authorization(startUrl=START_URL, **client)
    for key in ("deviceCode", "userCode", "verificationUri", "verificationUriComplete", "expiresIn",
                "interval"):
        check(key in dev, f"StartDeviceAuthorization lacks {key}: {dev}")
    poll = dict(client, grantType=DEVICE_GRANT, deviceCode=dev["deviceCode"])
    pending = expect_error("AuthorizationPendingException", oidc.create_token, **poll)
    check(pending.get("error") == "authorization_pending", f"error field: {pending}")
    check(pending["ResponseMetadata"]["HTTPStatusCode"] == 400, f"status: {pending}")
    browser.open(dev["verificationUriComplete"])
    token = oidc.create_token(**poll)
    check(token["tokenType"] == "Bearer" and token["expiresIn"] > 0 and token["accessToken"]
          and token["refreshToken"], f"CreateToken: {token}")
    expect_error("InvalidGrantException", oidc.create_token, **poll)  # device code used

    refreshed = oidc.create_token(grantType="refresh_token", refreshToken=token["refreshToken"], **client)
    check(refreshed["refreshToken"] != token["refreshToken"], "refresh token not rotated")
    check(refreshed["accessToken"] != token["accessToken"], "access token not renewed")
    expect_error("InvalidGrantException", oidc.create_token, grantType="refresh_token",
                 refreshToken=token["refreshToken"], **client)
    expect_error("InvalidClientException", oidc.create_token, grantType="refresh_token",
                 refreshToken=refreshed["refreshToken"], clientId=reg["clientId"], clientSecret="wrong")
    return refreshed


def scripted_polls(oidc, browser, reg, url):
    client = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
    plan(url, {"device_polls": ["slow_down", "access_denied", "expired_token"]})
    dev = oidc.start_device_authorization(startUrl=START_URL, **client)
    poll = dict(client, grantType=DEVICE_GRANT, deviceCode=dev["deviceCode"])
    for code, error in (("SlowDownException", "slow_down"), ("AccessDeniedException", "access_denied"),
                        ("ExpiredTokenException", "expired_token")):
        got = expect_error(code, oidc.create_token, **poll)
        check(got.get("error") == error, f"error field for {code}: {got}")
    plan(url, {"device_polls": []})
    browser.open(dev["verificationUriComplete"], "deny")
    expect_error("AccessDeniedException", oidc.create_token, **poll)

    plan(url, {"device_expires_in": 0})
    dev = oidc.start_device_authorization(startUrl=START_URL, **client)
    expect_error("ExpiredTokenException", oidc.create_token, **dict(poll, deviceCode=dev["deviceCode"]))
    plan(url, {"device_expires_in": 600})


def code_flow(oidc, browser):
    reg = oidc.register_client(clientName="sso-client-check", clientType="public",
                               grantTypes=["authorization_code", "refresh_token"],
                               redirectUris=["http://127.0.0.1/oauth/callback"],
                               issuerUrl=START_URL, scopes=["sso:account:access"])
    client = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}

    def authorize(mode="approve"):
        verifier, challenge = pkce()
        callback = Callback()
        state = secrets.token_hex(16)
        browser.open(f"{oidc.meta.endpoint_url}/authorize?" + urlencode({
            "response_type": "code", "client_id": reg["clientId"], "redirect_uri": callback.uri,
            "state": state, "code_challenge_method": "S256", "scopes": "sso:account:access",
            "code_challenge": challenge}), mode)
        got = callback.result()
        check(got.get("state") == state, f"state not echoed: {got}")
        return got, verifier, callback.uri

    got, verifier, redirect = authorize()
    grant = dict(client, grantType="authorization_code", code=got["code"], redirectUri=redirect)
    expect_error("InvalidGrantException", oidc.create_token, codeVerifier=pkce()[0], **grant)
    got, verifier, redirect = authorize()
    grant = dict(client, grantType="authorization_code", code=got["code"], redirectUri=redirect)
    expect_error("InvalidGrantException", oidc.create_token, codeVerifier=verifier,
                 **dict(grant, redirectUri=redirect.replace("/oauth/callback", "/other")))
    got, verifier, redirect = authorize()
    grant = dict(client, grantType="authorization_code", code=got["code"], redirectUri=redirect)
    token = oidc.create_token(codeVerifier=verifier, **grant)
    check(token["accessToken"] and token["refreshToken"], f"authorization_code CreateToken: {token}")
    expect_error("InvalidGrantException", oidc.create_token, codeVerifier=verifier, **grant)  # reused

    denied, _, _ = authorize("deny")
    check(denied.get("error") == "access_denied" and "code" not in denied, f"denial: {denied}")
    return token


def portal(sso, token):
    creds = sso.get_role_credentials(accessToken=token, accountId="111122223333", roleName="Admin")
    role = creds["roleCredentials"]
    check(role["accessKeyId"].startswith("ASIA") and role["secretAccessKey"] and role["sessionToken"],
          f"GetRoleCredentials: {creds}")
    check(role["expiration"] > 10 ** 12, f"expiration is not in epoch ms: {role['expiration']}")
    sso.logout(accessToken=token)
    expect_error("UnauthorizedException", sso.get_role_credentials, accessToken=token,
                 accountId="111122223333", roleName="Admin")
    expect_error("UnauthorizedException", sso.logout, accessToken=token)
    return role


def provider_refresh(url, oidc, work):
    """botocore's SSO credential provider with an expired cached sso-session token."""
    reg = oidc.register_client(clientName="botocore-check", clientType="public",
                               grantTypes=["authorization_code", "refresh_token"],
                               redirectUris=["http://127.0.0.1/oauth/callback"],
                               issuerUrl=START_URL, scopes=["sso:account:access"])
    browser_token = code_flow_token(oidc, reg)
    # botocore fixes its cache folder from HOME when imported: the caller gives a private HOME.
    cache_dir = os.path.expanduser(os.path.join("~", ".aws", "sso", "cache"))
    os.makedirs(cache_dir, exist_ok=True)
    config = os.path.join(work, "config")
    with open(config, "w") as f:
        f.write(f"[profile p]\nsso_session = s\nsso_account_id = 111122223333\n"
                f"sso_role_name = Admin\nregion = {REGION}\n\n"
                f"[sso-session s]\nsso_start_url = {START_URL}\nsso_region = {REGION}\n"
                f"sso_registration_scopes = sso:account:access\n")
    cache = os.path.join(cache_dir, hashlib.sha1(b"s").hexdigest() + ".json")
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    now = datetime.now(timezone.utc)
    with open(cache, "w") as f:
        json.dump({"startUrl": START_URL, "region": REGION, "accessToken": browser_token["accessToken"],
                   "expiresAt": (now - timedelta(minutes=1)).strftime(fmt),
                   "clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                   "registrationExpiresAt": (now + timedelta(days=80)).strftime(fmt),
                   "refreshToken": browser_token["refreshToken"]}, f)
    os.environ.update({"AWS_CONFIG_FILE": config,
                       "AWS_SHARED_CREDENTIALS_FILE": os.path.join(work, "credentials"),
                       "AWS_ENDPOINT_URL_SSO_OIDC": url, "AWS_ENDPOINT_URL_SSO": url})
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    creds = botocore.session.Session(profile="p").get_credentials().get_frozen_credentials()
    check(creds.access_key.startswith("ASIA") and creds.token, f"provider credentials: {creds}")
    with open(cache) as f:
        written = json.load(f)
    check(written["accessToken"] != browser_token["accessToken"], "cache file not refreshed")
    check(written["refreshToken"] != browser_token["refreshToken"], "rotated refresh token not saved")
    expires = datetime.strptime(written["expiresAt"], fmt).replace(tzinfo=timezone.utc)
    check(expires > now + timedelta(minutes=30), f"refreshed expiresAt: {written['expiresAt']}")
    check({"startUrl", "region", "clientId", "clientSecret", "registrationExpiresAt"} <= set(written),
          f"refreshed cache lacks fields: {sorted(written)}")
    # The AWS CLI (v1 has no `aws sso login`) takes the refreshed token from the cache file.
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    out = subprocess.run([aws, "sso", "get-role-credentials", "--access-token", written["accessToken"],
                          "--account-id", "111122223333", "--role-name", "Admin", "--region", REGION,
                          "--output", "json"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    check(out.returncode == 0, f"aws sso get-role-credentials: {out.stderr.decode()}")
    cli = json.loads(out.stdout)["roleCredentials"]
    check(cli["accessKeyId"] == creds.access_key, f"aws sso get-role-credentials: {cli}")
    return creds.access_key


def code_flow_token(oidc, reg):
    """A token for `reg` without a browser: fetch /authorize and click approve by hand."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    verifier, challenge = pkce()
    redirect = "http://127.0.0.1:1/oauth/callback"
    base = oidc.meta.endpoint_url
    page = urllib.request.urlopen(f"{base}/authorize?" + urlencode({
        "response_type": "code", "client_id": reg["clientId"], "redirect_uri": redirect, "state": "x",
        "code_challenge_method": "S256", "scopes": "sso:account:access", "code_challenge": challenge}),
        timeout=10).read().decode()
    approve = page.split('id="approve" href="')[1].split('"')[0].replace("&amp;", "&")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(base + approve, timeout=10)
        fail("approve did not redirect")
    except urllib.error.HTTPError as e:
        check(e.code == 302, f"approve answered {e.code}")
        location = e.headers["Location"]
    check(location.startswith(redirect + "?"), f"redirect: {location}")
    code = parse_qs(urlsplit(location).query)["code"][0]
    return oidc.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                             grantType="authorization_code", code=code, redirectUri=redirect,
                             codeVerifier=verifier)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--browser", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    session = botocore.session.get_session()
    oidc = session.create_client("sso-oidc", region_name=REGION, endpoint_url=args.url)
    sso = session.create_client("sso", region_name=REGION, endpoint_url=args.url)
    browser = Browser(args.browser, args.dir)

    reg = oidc.register_client(clientName="sso-client-check", clientType="public",
                               scopes=["sso:account:access"])
    for key in ("clientId", "clientSecret", "clientIdIssuedAt", "clientSecretExpiresAt"):
        check(key in reg, f"RegisterClient lacks {key}: {reg}")
    device_token = device_flow(oidc, browser, reg)
    scripted_polls(oidc, browser, reg, args.url)
    code_token = code_flow(oidc, browser)
    role = portal(sso, device_token["accessToken"])
    portal(sso, code_token["accessToken"])
    provider_key = provider_refresh(args.url, oidc, args.dir)
    print(json.dumps({"ok": True, "browser_opens": browser.opens(),
                      "access_key_id": role["accessKeyId"], "provider_access_key_id": provider_key}))


if __name__ == "__main__":
    main()
