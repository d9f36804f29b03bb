"""A fake IAM Identity Center (SSO-OIDC, its browser pages, and the SSO portal) on 127.0.0.1,
for `eks-token login`; moto has no SSO-OIDC.

    python fake_sso.py [--plan JSON] [--log FILE]

Binds a free port, prints exactly one line `{"port": N}` on stdout when ready, and exits
when its stdin reaches EOF. One URL serves every part: point AWS_ENDPOINT_URL_SSO_OIDC and
AWS_ENDPOINT_URL_SSO at it.

The shapes follow botocore's `data/sso-oidc/2019-06-10/service-2.json` and
`data/sso/2019-06-10/service-2.json` (restJson1). Errors are HTTP 400 (401 for
InvalidClientException and the portal's UnauthorizedException) with the error code in
`x-amzn-errortype` and a body `{"error": "...", "error_description": "..."}`, as the
service sends them (botocore reads the code from the header).

SSO-OIDC (no request signing):
- `POST /client/register` {clientName, clientType: "public", scopes, grantTypes,
  redirectUris, issuerUrl} -> {clientId, clientSecret, clientIdIssuedAt,
  clientSecretExpiresAt} (epoch s; registrations last 90 days). An authorization_code
  registration needs redirectUris on 127.0.0.1 and an issuerUrl.
- `POST /device_authorization` {clientId, clientSecret, startUrl} -> {deviceCode, userCode,
  verificationUri, verificationUriComplete, expiresIn, interval}.
- `POST /token` {clientId, clientSecret, grantType, ...}:
  - `urn:ietf:params:oauth:grant-type:device_code` + deviceCode: first the plan's
    `device_polls` (one error per poll, in order: authorization_pending, slow_down,
    access_denied, expired_token), then by the device code's state: approved -> tokens
    (once), denied -> AccessDeniedException, past expiresIn -> ExpiredTokenException,
    else AuthorizationPendingException. Polling faster than `interval` is not punished.
  - `authorization_code` + code, redirectUri, codeVerifier: the code (single use, 10 min)
    must come from /authorize for this client, redirectUri must equal the one given there,
    and base64url(sha256(codeVerifier)) without padding must equal its code_challenge;
    else InvalidGrantException.
  - `refresh_token` + refreshToken: a new access token and a new refresh token; the old
    refresh token stops working (rotation).
  Answer {accessToken, tokenType: "Bearer", expiresIn, refreshToken} (no refreshToken for a
  client registered without the refresh_token grant).
- `GET /authorize?response_type=code&client_id=&redirect_uri=&state=&code_challenge=
  &code_challenge_method=S256&scopes=` (the browser's page): checks each parameter (the
  redirect URI must be `http://127.0.0.1:PORT/oauth/callback`, registered for the client,
  where a registration without a port allows any port, as RFC 8252 7.3 says for loopback),
  answers 400 with an HTML error page if one is wrong, else an HTML approval page with
  `<a id="approve" href=...>` and `<a id="deny" href=...>`. Approve: 302 to
  `redirect_uri?code=...&state=...`; deny: 302 to `redirect_uri?error=access_denied&state=...`.
- `GET /device?user_code=U` (verificationUriComplete): the same page for the device code;
  approve or deny marks it and answers a short HTML page.

SSO portal (header `x-amz-sso_bearer_token`):
- `GET /federation/credentials?role_name=R&account_id=A` -> {"roleCredentials":
  {accessKeyId, secretAccessKey, sessionToken, expiration (epoch ms)}}. The plan's `roles`
  (as stub_server.py: [{account_id, role_name, access_key_id, secret_access_key,
  session_token, expiration}]) lists who may get what; without `roles`, every role gets
  credentials made from its names: access key `ASIA` + the first 16 hex digits (upper case)
  of sha1("A/R"), secret `sso-secret-A-R`, session token `sso-session-A-R`, expiring in 1 h.
- `POST /logout`: the access token (and the refresh tokens issued with it) stop working.
  An unknown, expired or logged-out token: 401 UnauthorizedException.

The plan (JSON object; every key optional; `POST /fake/plan` merges a new one in):
  {"device_polls": ["authorization_pending", ...], "interval": 1, "device_expires_in": 600,
   "expires_in": 3600 (access tokens), "roles": [...], "registration_error": "SlowDownException"}

Test endpoints (never logged): `GET /fake/requests` -> the request log as a JSON list;
`POST /fake/plan` (body: a plan object, merged); `POST /fake/expire` -> every access token
issued so far expires now (refresh tokens keep working).

The request log (`GET /fake/requests`, and with `--log FILE` one JSON line per request):
{"time", "method", "path" (no query), "op", "status", "error" (the error code, if any),
"grant" (CreateToken's grant type)}. No token, code, secret or verifier is ever logged.
ops: RegisterClient, StartDeviceAuthorization, CreateToken, Authorize, AuthorizeApprove,
AuthorizeDeny, Device, DeviceApprove, DeviceDeny, GetRoleCredentials, Logout, Other.
"""

import argparse
import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from serving import append_log, respond, serve_until_stdin_closes

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REGISTRATION_LIFETIME = 90 * 24 * 3600
CODE_LIFETIME = 600
# The real service's error strings for each exception (the `error` field).
ERROR_CODES = {
    "AuthorizationPendingException": "authorization_pending",
    "SlowDownException": "slow_down",
    "AccessDeniedException": "access_denied",
    "ExpiredTokenException": "expired_token",
    "InvalidGrantException": "invalid_grant",
    "InvalidClientException": "invalid_client",
    "InvalidRequestException": "invalid_request",
    "InvalidScopeException": "invalid_scope",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
    "InvalidRedirectUriException": "invalid_redirect_uri",
    "InvalidClientMetadataException": "invalid_client_metadata",
    "UnauthorizedClientException": "unauthorized_client",
}
# A plan's device_polls names each error by its `error` string.
POLL_ERRORS = {code: name for name, code in ERROR_CODES.items()}
LOOPBACK_CALLBACK = re.compile(r"^http://127\.0\.0\.1(:\d{1,5})?/oauth/callback$")


class Failure(Exception):
    def __init__(self, name, description, status=400):
        super().__init__(description)
        self.name = name
        self.description = description
        self.status = status


def s256(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def redirect_allowed(registered, given):
    """`given` (from /authorize) against the client's registered URIs: exact, or the same
    loopback callback with any port when the registration has none (RFC 8252 7.3; the AWS
    CLI registers `http://127.0.0.1/oauth/callback`)."""
    if not LOOPBACK_CALLBACK.match(given):
        return False
    bare = re.sub(r":\d+/", "/", given, count=1)
    return given in registered or bare in registered


class Fake(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan, log):
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan = plan
        self.log_path = log
        self.lock = threading.Lock()
        self.log = []
        self.clients = {}  # clientId -> registration
        self.devices = {}  # deviceCode -> {client, user_code, state, expires}
        self.device_polls = 0
        self.pending_authorizations = {}  # request id -> /authorize parameters
        self.codes = {}  # code -> {client, redirect_uri, challenge, expires}
        self.access_tokens = {}  # token -> {expires, valid}
        self.refresh_tokens = {}  # token -> {client, access_token, valid}

    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
            if self.log_path:
                append_log(self.log_path, entry)

    def issue(self, client):
        """New tokens for `client` (caller holds the lock)."""
        access = "sso-at-" + secrets.token_urlsafe(24)
        expires_in = int(self.plan.get("expires_in", 3600))
        self.access_tokens[access] = {"expires": time.time() + expires_in, "valid": True}
        answer = {"accessToken": access, "tokenType": "Bearer", "expiresIn": expires_in}
        if "refresh_token" in client["grantTypes"]:
            refresh = "sso-rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = {"client": client["clientId"], "access_token": access,
                                            "valid": True}
            answer["refreshToken"] = refresh
        return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-sso"

    def log_message(self, format, *args):
        """Silent: the request log records requests."""

    # --- plumbing

    def do_GET(self):
        self.dispatch(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.dispatch(self.rfile.read(length))

    def dispatch(self, body):
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.entry = {"time": round(time.time(), 3), "method": self.command, "path": url.path}
        if url.path.startswith("/fake/"):
            self.control(url.path, body)
            return
        routes = {
            ("POST", "/client/register"): ("RegisterClient", self.register_client),
            ("POST", "/device_authorization"): ("StartDeviceAuthorization", self.start_device),
            ("POST", "/token"): ("CreateToken", self.create_token),
            ("GET", "/authorize"): ("Authorize", self.authorize),
            ("GET", "/authorize/approve"): ("AuthorizeApprove", self.authorize_decide),
            ("GET", "/authorize/deny"): ("AuthorizeDeny", self.authorize_decide),
            ("GET", "/device"): ("Device", self.device_page),
            ("GET", "/device/approve"): ("DeviceApprove", self.device_decide),
            ("GET", "/device/deny"): ("DeviceDeny", self.device_decide),
            ("GET", "/federation/credentials"): ("GetRoleCredentials", self.role_credentials),
            ("POST", "/logout"): ("Logout", self.logout),
        }
        op, handler = routes.get((self.command, url.path), ("Other", None))
        self.entry["op"] = op
        try:
            if handler is None:
                raise Failure("ResourceNotFoundException", "not found", 404)
            if self.command == "POST" and op not in ("Logout",):
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    raise Failure("InvalidRequestException", "body is not JSON")
                if not isinstance(request, dict):
                    raise Failure("InvalidRequestException", "body is not a JSON object")
                handler(request)
            else:
                handler()
        except Failure as f:
            self.entry["error"] = f.name
            if op in ("Authorize", "AuthorizeApprove", "AuthorizeDeny", "Device", "DeviceApprove",
                      "DeviceDeny"):
                self.page(f.status, "Error", f"<p id=\"error\">{html.escape(f.name)}: "
                                             f"{html.escape(f.description)}</p>")
            else:
                body = {"error": ERROR_CODES.get(f.name, f.name), "error_description": f.description}
                if op in ("GetRoleCredentials", "Logout", "Other"):
                    body = {"message": f.description}
                self.send_json(f.status, body, {"x-amzn-errortype": f.name})

    def finish_entry(self, status):
        self.entry["status"] = status
        self.server.record(self.entry)

    def send_json(self, status, body, headers=None):
        self.send(status, json.dumps(body).encode(), "application/json", headers)

    def send(self, status, data, content_type, headers=None):
        if hasattr(self, "entry") and "op" in self.entry:
            self.finish_entry(status)
        respond(self, status, data, content_type, (headers or {}).items())

    def page(self, status, title, body_html):
        text = (f"<!doctype html><html><head><title>{title}</title></head>"
                f"<body><h1>{title}</h1>{body_html}</body></html>")
        self.send(status, text.encode(), "text/html; charset=utf-8")

    def redirect(self, location):
        self.send(302, b"", "text/plain", {"Location": location})

    def control(self, path, body):
        server = self.server
        if path == "/fake/requests" and self.command == "GET":
            with server.lock:
                log = list(server.log)
            self.send_json(200, log)
        elif path == "/fake/plan" and self.command == "POST":
            with server.lock:
                server.plan.update(json.loads(body or b"{}"))
                server.device_polls = 0
            self.send_json(200, server.plan)
        elif path == "/fake/expire" and self.command == "POST":
            with server.lock:
                for token in server.access_tokens.values():
                    token["expires"] = 0
            self.send_json(200, {})
        else:
            self.send_json(404, {"message": "not found"})

    def client(self, request):
        """The registered client `request` names, with its secret checked."""
        client = self.server.clients.get(request.get("clientId"))
        if client is None or client["clientSecret"] != request.get("clientSecret"):
            raise Failure("InvalidClientException", "invalid client", 401)
        if client["clientSecretExpiresAt"] < time.time():
            raise Failure("InvalidClientException", "client registration expired", 401)
        return client

    # --- SSO-OIDC API

    def register_client(self, request):
        if self.server.plan.get("registration_error"):
            raise Failure(self.server.plan["registration_error"], "scripted registration failure")
        if not request.get("clientName") or request.get("clientType") != "public":
            raise Failure("InvalidClientMetadataException", "clientName and clientType public are required")
        grants = request.get("grantTypes") or [DEVICE_GRANT, "refresh_token"]
        if any(g not in (DEVICE_GRANT, "authorization_code", "refresh_token") for g in grants):
            raise Failure("UnsupportedGrantTypeException", "unsupported grant type")
        redirects = request.get("redirectUris") or []
        if "authorization_code" in grants:
            if not redirects or not all(LOOPBACK_CALLBACK.match(u) for u in redirects):
                raise Failure("InvalidRedirectUriException", "redirect URIs must be loopback callbacks")
            if not request.get("issuerUrl"):
                raise Failure("InvalidRequestException", "issuerUrl is required for authorization_code")
        now = int(time.time())
        client = {"clientId": "fake-client-" + secrets.token_hex(8),
                  "clientSecret": "fake-secret-" + secrets.token_urlsafe(24),
                  "clientIdIssuedAt": now, "clientSecretExpiresAt": now + REGISTRATION_LIFETIME,
                  "grantTypes": grants, "redirectUris": redirects,
                  "scopes": request.get("scopes") or [], "issuerUrl": request.get("issuerUrl")}
        with self.server.lock:
            self.server.clients[client["clientId"]] = client
        self.send_json(200, {k: client[k] for k in ("clientId", "clientSecret", "clientIdIssuedAt",
                                                     "clientSecretExpiresAt")})

    def start_device(self, request):
        client = self.client(request)
        if not request.get("startUrl"):
            raise Failure("InvalidRequestException", "startUrl is required")
        plan = self.server.plan
        device_code = "fake-device-" + secrets.token_urlsafe(24)
        user_code = f"{secrets.token_hex(2).upper()}-{secrets.token_hex(2).upper()}"
        expires_in = int(plan.get("device_expires_in", 600))
        with self.server.lock:
            self.server.devices[device_code] = {"client": client["clientId"], "user_code": user_code,
                                                "state": "pending", "expires": time.time() + expires_in}
        base = self.server.base()
        self.send_json(200, {"deviceCode": device_code, "userCode": user_code,
                             "verificationUri": f"{base}/device",
                             "verificationUriComplete": f"{base}/device?{urlencode({'user_code': user_code})}",
                             "expiresIn": expires_in, "interval": int(plan.get("interval", 1))})

    def create_token(self, request):
        grant = request.get("grantType")
        self.entry["grant"] = grant
        client = self.client(request)
        if grant not in client["grantTypes"]:
            raise Failure("UnauthorizedClientException" if grant in (DEVICE_GRANT, "authorization_code",
                                                                      "refresh_token")
                          else "UnsupportedGrantTypeException", f"grant {grant} not allowed")
        server = self.server
        with server.lock:
            if grant == DEVICE_GRANT:
                answer = self.device_grant(client, request)
            elif grant == "authorization_code":
                answer = self.code_grant(client, request)
            else:
                answer = self.refresh_grant(client, request)
        self.send_json(200, answer)

    def device_grant(self, client, request):
        server = self.server
        device = server.devices.get(request.get("deviceCode"))
        if device is None or device["client"] != client["clientId"]:
            raise Failure("InvalidGrantException", "unknown device code")
        polls = server.plan.get("device_polls", [])
        if server.device_polls < len(polls):
            error = polls[server.device_polls]
            server.device_polls += 1
            raise Failure(POLL_ERRORS[error], f"scripted {error}")
        if device["expires"] < time.time():
            raise Failure("ExpiredTokenException", "device code expired")
        if device["state"] == "denied":
            raise Failure("AccessDeniedException", "the user denied the request")
        if device["state"] == "used":
            raise Failure("InvalidGrantException", "device code already used")
        if device["state"] != "approved":
            raise Failure("AuthorizationPendingException", "authorization pending")
        device["state"] = "used"
        return server.issue(client)

    def code_grant(self, client, request):
        server = self.server
        code = server.codes.pop(request.get("code") or "", None)
        if code is None or code["client"] != client["clientId"] or code["expires"] < time.time():
            raise Failure("InvalidGrantException", "unknown, used or expired authorization code")
        if request.get("redirectUri") != code["redirect_uri"]:
            raise Failure("InvalidGrantException", "redirectUri differs from the one at /authorize")
        if s256(request.get("codeVerifier") or "") != code["challenge"]:
            raise Failure("InvalidGrantException", "codeVerifier does not match the code_challenge")
        return server.issue(client)

    def refresh_grant(self, client, request):
        server = self.server
        refresh = server.refresh_tokens.get(request.get("refreshToken") or "")
        if refresh is None or not refresh["valid"] or refresh["client"] != client["clientId"]:
            raise Failure("InvalidGrantException", "unknown or revoked refresh token")
        refresh["valid"] = False
        return server.issue(client)

    # --- browser pages

    def decision_page(self, what, approve, deny):
        self.page(200, "Allow access?",
                  f"<p>{html.escape(what)}</p>"
                  f"<a id=\"approve\" href=\"{html.escape(approve)}\">Approve</a> "
                  f"<a id=\"deny\" href=\"{html.escape(deny)}\">Deny</a>")

    def authorize(self):
        q = self.query
        if q.get("response_type") != "code":
            raise Failure("InvalidRequestException", "response_type must be code")
        client = self.server.clients.get(q.get("client_id"))
        if client is None or "authorization_code" not in client["grantTypes"]:
            raise Failure("InvalidClientException", "unknown client or no authorization_code grant")
        if not redirect_allowed(client["redirectUris"], q.get("redirect_uri", "")):
            raise Failure("InvalidRedirectUriException", "redirect_uri not registered for this client")
        if not q.get("state"):
            raise Failure("InvalidRequestException", "state is required")
        if q.get("code_challenge_method") != "S256":
            raise Failure("InvalidRequestException", "code_challenge_method must be S256")
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", q.get("code_challenge", "")):
            raise Failure("InvalidRequestException", "code_challenge must be base64url(sha256), unpadded")
        scopes = q.get("scopes", "").split()
        if not scopes or any(s not in client["scopes"] for s in scopes):
            raise Failure("InvalidScopeException", "scopes must be among the registered ones")
        request_id = secrets.token_hex(8)
        with self.server.lock:
            self.server.pending_authorizations[request_id] = {
                "client": client["clientId"], "redirect_uri": q["redirect_uri"], "state": q["state"],
                "challenge": q["code_challenge"]}
        self.decision_page("Allow eks-token to access your AWS accounts?",
                           f"/authorize/approve?request={request_id}",
                           f"/authorize/deny?request={request_id}")

    def authorize_decide(self):
        with self.server.lock:
            pending = self.server.pending_authorizations.pop(self.query.get("request", ""), None)
        if pending is None:
            raise Failure("InvalidRequestException", "unknown or finished authorization request")
        sep = "&" if "?" in pending["redirect_uri"] else "?"
        if self.entry["op"] == "AuthorizeDeny":
            self.redirect(pending["redirect_uri"] + sep
                          + urlencode({"error": "access_denied", "state": pending["state"]}))
            return
        code = "fake-code-" + secrets.token_urlsafe(24)
        with self.server.lock:
            self.server.codes[code] = {"client": pending["client"], "redirect_uri": pending["redirect_uri"],
                                       "challenge": pending["challenge"],
                                       "expires": time.time() + CODE_LIFETIME}
        self.redirect(pending["redirect_uri"] + sep + urlencode({"code": code, "state": pending["state"]}))

    def device_for(self, user_code):
        device = next((d for d in self.server.devices.values() if d["user_code"] == user_code), None)
        if device is None or device["state"] != "pending":
            raise Failure("InvalidRequestException", "unknown or finished user code")
        return device

    def device_page(self):
        user_code = self.query.get("user_code", "")
        self.device_for(user_code)
        q = urlencode({"user_code": user_code})
        self.decision_page(f"Allow the device with code {user_code}?",
                           f"/device/approve?{q}", f"/device/deny?{q}")

    def device_decide(self):
        with self.server.lock:
            device = self.device_for(self.query.get("user_code", ""))
            approved = self.entry["op"] == "DeviceApprove"
            device["state"] = "approved" if approved else "denied"
        self.page(200, "Request approved" if approved else "Request denied",
                  "<p>You can close this window.</p>")

    # --- SSO portal

    def bearer(self):
        """The portal call's access token, if it is live."""
        token = self.headers.get("x-amz-sso_bearer_token", "")
        state = self.server.access_tokens.get(token)
        if state is None or not state["valid"] or state["expires"] < time.time():
            raise Failure("UnauthorizedException", "Session token not found or invalid", 401)
        return token

    def role_credentials(self):
        self.bearer()
        account, role_name = self.query.get("account_id", ""), self.query.get("role_name", "")
        roles = self.server.plan.get("roles")
        if roles is None:
            tag = f"{account}-{role_name}"
            role = {"access_key_id": "ASIA" + hashlib.sha1(f"{account}/{role_name}".encode())
                    .hexdigest()[:16].upper(),
                    "secret_access_key": f"sso-secret-{tag}", "session_token": f"sso-session-{tag}"}
        else:
            role = next((r for r in roles if (r["account_id"], r["role_name"]) == (account, role_name)), None)
            if role is None:
                raise Failure("ForbiddenException", "No access", 403)
        self.send_json(200, {"roleCredentials": {
            "accessKeyId": role["access_key_id"], "secretAccessKey": role["secret_access_key"],
            "sessionToken": role["session_token"],
            "expiration": role.get("expiration", int((time.time() + 3600) * 1000))}})

    def logout(self):
        token = self.bearer()
        with self.server.lock:
            self.server.access_tokens[token]["valid"] = False
            for refresh in self.server.refresh_tokens.values():
                if refresh["access_token"] == token:
                    refresh["valid"] = False
        self.send(200, b"", "application/json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", default="{}", help="JSON object (see the module docstring)")
    ap.add_argument("--log", help="append one JSON line per request")
    args = ap.parse_args()
    plan = json.loads(args.plan)
    if not isinstance(plan, dict):
        ap.error("--plan must be a JSON object")
    serve_until_stdin_closes(Fake(plan, args.log))


if __name__ == "__main__":
    main()
