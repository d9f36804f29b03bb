"""Plain-HTTP stub for the AWS endpoints moto lacks (SSO portal, SSO-OIDC, container, EC2 instance metadata, EKS identity providers).

    python stub_server.py --config FILE [--log FILE] [--delay-ms N]
    python stub_server.py --hang

Binds 127.0.0.1 on a free port, prints exactly one line `{"port": N}` on stdout when
ready, and exits when its stdin reaches EOF.

Endpoints (FILE is JSON, re-read on every request; a missing section denies everything):

- SSO portal, for AWS_ENDPOINT_URL_SSO=http://127.0.0.1:N
  `GET /federation/credentials?role_name=R&account_id=A`, header `x-amz-sso_bearer_token: T`.
  config "sso": {"access_token": T or [T, ...],
                 "roles": [{"account_id", "role_name", "access_key_id", "secret_access_key",
                            "session_token", "expiration": epoch millis (default now + 1 h)}]}
  200 {"roleCredentials": {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}};
  else 401 {"message": "Session token not found or invalid"} with
  `x-amzn-errortype: UnauthorizedException` (restJson1 clients read the error code there).
- SSO-OIDC CreateToken, for AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:N
  `POST /token` JSON {"clientId", "clientSecret", "grantType": "refresh_token", "refreshToken"}.
  config "sso_oidc": {"client_id", "client_secret", "refresh_token", "access_token",
                      "expires_in" (default 3600), "new_refresh_token" (default: the same)}
  200 {"accessToken", "expiresIn", "refreshToken", "tokenType": "Bearer"}; wrong client:
  401 InvalidClientException; wrong grant type or refresh token: 400 InvalidGrantException.
- Container credentials, for AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:N/creds and
  AWS_CONTAINER_AUTHORIZATION_TOKEN (as `aws-vault exec --ecs-server` sets them)
  `GET /creds`; the `Authorization` header must equal config "container"."authorization"
  (absent: no header). config "container": {"authorization", "access_key_id",
  "secret_access_key", "token", "expiration": RFC 3339 (default now + 1 h)}
  200 {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}; else 403.
- EC2 instance metadata (IMDSv2), for AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:N
  `PUT /latest/api/token` with `x-aws-ec2-metadata-token-ttl-seconds` → the session token
  (the same header echoed); then, with header `x-aws-ec2-metadata-token`,
  `GET /latest/meta-data/iam/security-credentials/` → the role name and
  `GET /latest/meta-data/iam/security-credentials/ROLE` → {"Code": "Success", "Type":
  "AWS-HMAC", "LastUpdated", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}.
  config "imds": {"role", "access_key_id", "secret_access_key", "token", "expiration": RFC
  3339 (default now + 1 h)}. No section, a missing or wrong session token, another role:
  404 (401 for the token). Every other IMDS path: 404.
- EKS identity provider configs, for AWS_ENDPOINT_URL_EKS=http://127.0.0.1:N (restJson1, as
  botocore's `eks` model routes them):
  `GET /clusters/NAME/identity-provider-configs` (ListIdentityProviderConfigs) →
  200 {"identityProviderConfigs": [{"type", "name"}]};
  `POST /clusters/NAME/identity-provider-configs/describe` JSON {"identityProviderConfig":
  {"type", "name"}} (DescribeIdentityProviderConfig) → 200 {"identityProviderConfig":
  {"oidc": {...}}}.
  config "eks": {"clusters": {NAME: [{"identityProviderConfigName", "issuerUrl", "clientId",
  "usernameClaim", "groupsClaim", … "status" (default ACTIVE)}]}, "denied": bool,
  "upstream": URL}. Each config is an `oidc` one (the only type EKS has); `clusterName` and
  `identityProviderConfigArn` are filled in. A cluster not in "clusters", or a config not in
  its list: 404 ResourceNotFoundException; "denied": 403 AccessDeniedException (header
  `x-amzn-errortype`, body {"message"}). Every other EKS request (DescribeCluster …) is
  forwarded as it is to "upstream" (moto) and its answer relayed; without one, 404.
- STS, recorded on its way to moto, for AWS_ENDPOINT_URL_STS=http://127.0.0.1:N
  config "sts": {"upstream": URL}: a POST whose form body names an `Action` is relayed to
  URL as it came (signature and all) and its answer back; its parameters are recorded.
  `GET /_sts` answers {"calls": [{"Action", "RoleArn", "SerialNumber", "TokenCode",
  "DurationSeconds", …}]}, every form field but `Version`, as sent, in order (moto accepts
  any MFA code: this is how a test sees which one was sent).
- `GET /_stats`: {"sso"|"sso_oidc"|"container"|"imds"|"eks"|"sts"|"other": {"total", "ok", "denied"}}.

--delay-ms N sleeps before answering each credential request (stampede tests).
--log FILE appends one JSON line per request: time, endpoint, method, path, status (no
token, key or secret is ever logged).
--hang: listen and never answer (the kernel completes TCP handshakes, nothing is read);
for timeout tests, e.g. as an IMDS endpoint.
"""

import argparse
import json
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from serving import append_log, respond, serve_until_stdin_closes

ENDPOINTS = ("sso", "sso_oidc", "container", "imds", "eks", "sts", "other")
IMDS_TOKEN = "stub-imds-session"
IMDS_CREDENTIALS = "/latest/meta-data/iam/security-credentials/"
# EKS's identity provider routes (botocore's eks model): List (GET) and Describe (POST).
EKS_IDP = re.compile(r"^/clusters/([^/]+)/identity-provider-configs(/describe)?$")
ACCOUNT = "123456789012"
# Headers not relayed to or from the upstream: hop-by-hop, or set by the sender again.
NOT_RELAYED = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "server", "date"}


def rfc3339(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args):
        super().__init__(("127.0.0.1", 0), Handler)
        self.args = args
        self.lock = threading.Lock()
        self.stats = {name: {"total": 0, "ok": 0, "denied": 0} for name in ENDPOINTS}
        self.sts_calls = []

    def config(self):
        try:
            with open(self.args.config) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            print(f"stub_server: config: {e}", file=sys.stderr)
            return {}

    def record(self, endpoint, method, path, status):
        with self.lock:
            counts = self.stats[endpoint]
            counts["total"] += 1
            counts["ok" if status < 300 else "denied"] += 1
            if self.args.log:
                entry = {"time": round(time.time(), 3), "endpoint": endpoint, "method": method,
                         "path": path, "status": status}
                append_log(self.args.log, entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aws-stub"

    def log_message(self, format, *args):
        """Silent: --log records requests."""

    def reply(self, endpoint, status, body, headers=()):
        self.server.record(endpoint, self.command, self.path, status)
        self.send_json(status, body, headers)

    def send_json(self, status, body, headers=()):
        respond(self, status, json.dumps(body).encode(), "application/json", headers)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/_stats":
            with self.server.lock:
                stats = json.loads(json.dumps(self.server.stats))
            self.send_json(200, stats)
        elif url.path == "/_sts":
            with self.server.lock:
                calls = list(self.server.sts_calls)
            self.send_json(200, {"calls": calls})
        elif url.path == "/federation/credentials":
            self.delay()
            self.sso(parse_qs(url.query))
        elif url.path == "/creds":
            self.delay()
            self.container()
        elif url.path.startswith("/latest/"):
            self.imds(url.path)
        elif not self.eks(b""):
            self.reply("other", 404, {"message": "not found"})

    def do_PUT(self):
        if urlsplit(self.path).path == "/latest/api/token":
            ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            self.server.record("imds", self.command, self.path, 200)
            respond(self, 200, IMDS_TOKEN.encode(), "text/plain",
                    [("x-aws-ec2-metadata-token-ttl-seconds", ttl)])
        else:
            self.reply("other", 404, {"message": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if urlsplit(self.path).path == "/token":
            self.delay()
            self.sso_oidc(body)
        elif not self.sts(body) and not self.eks(body):
            self.reply("other", 404, {"message": "not found"})

    def delay(self):
        time.sleep(self.server.args.delay_ms / 1000)

    def sso(self, query):
        cfg = self.server.config().get("sso", {})
        tokens = cfg.get("access_token", [])
        tokens = [tokens] if isinstance(tokens, str) else tokens
        account = query.get("account_id", [""])[0]
        role_name = query.get("role_name", [""])[0]
        role = next((r for r in cfg.get("roles", [])
                     if r["account_id"] == account and r["role_name"] == role_name), None)
        if self.headers.get("x-amz-sso_bearer_token") not in tokens or role is None:
            self.reply("sso", 401, {"message": "Session token not found or invalid"},
                       [("x-amzn-errortype", "UnauthorizedException")])
            return
        self.reply("sso", 200, {"roleCredentials": {
            "accessKeyId": role["access_key_id"],
            "secretAccessKey": role["secret_access_key"],
            "sessionToken": role["session_token"],
            "expiration": role.get("expiration", int((time.time() + 3600) * 1000)),
        }})

    def sso_oidc(self, raw):
        cfg = self.server.config().get("sso_oidc")
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            req = {}
        client = (req.get("clientId"), req.get("clientSecret"))
        if not cfg or client != (cfg["client_id"], cfg["client_secret"]):
            self.reply("sso_oidc", 401, {"error": "invalid_client", "error_description": "Invalid client"},
                       [("x-amzn-errortype", "InvalidClientException")])
        elif (req.get("grantType"), req.get("refreshToken")) != ("refresh_token", cfg["refresh_token"]):
            self.reply("sso_oidc", 400, {"error": "invalid_grant", "error_description": "Invalid grant"},
                       [("x-amzn-errortype", "InvalidGrantException")])
        else:
            self.reply("sso_oidc", 200, {
                "accessToken": cfg["access_token"],
                "expiresIn": cfg.get("expires_in", 3600),
                "refreshToken": cfg.get("new_refresh_token", cfg["refresh_token"]),
                "tokenType": "Bearer",
            })

    def eks(self, body):
        """Serves a request for none of the other endpoints as EKS, when the config has an
        "eks" section; False otherwise."""
        cfg = self.server.config().get("eks")
        if cfg is None:
            return False
        path = urlsplit(self.path).path
        match = EKS_IDP.match(path)
        if not match:
            upstream = cfg.get("upstream")
            if not upstream:
                return False
            self.forward(upstream, body)
            return True
        cluster, describe = unquote(match.group(1)), match.group(2)
        configs = cfg.get("clusters", {}).get(cluster)
        if cfg.get("denied"):
            action = "DescribeIdentityProviderConfig" if describe else "ListIdentityProviderConfigs"
            self.eks_error(403, "AccessDeniedException", f"User is not authorized to perform: eks:{action}")
        elif configs is None:
            self.eks_error(404, "ResourceNotFoundException", f"No cluster found for name: {cluster}.")
        elif (self.command, describe) == ("GET", None):
            self.reply("eks", 200, {"identityProviderConfigs": [
                {"type": "oidc", "name": c["identityProviderConfigName"]} for c in configs]})
        elif (self.command, describe) == ("POST", "/describe"):
            try:
                wanted = json.loads(body or b"{}").get("identityProviderConfig") or {}
            except ValueError:
                wanted = {}
            found = next((c for c in configs if wanted.get("type") == "oidc"
                          and c["identityProviderConfigName"] == wanted.get("name")), None)
            if found is None:
                self.eks_error(404, "ResourceNotFoundException",
                               f"No identity provider config found for name: {wanted.get('name')}.")
            else:
                oidc = {"clusterName": cluster, "status": "ACTIVE",
                        "identityProviderConfigArn": f"arn:aws:eks:us-west-2:{ACCOUNT}:identityproviderconfig/"
                                                     f"{cluster}/oidc/{found['identityProviderConfigName']}/stub"}
                oidc.update(found)
                self.reply("eks", 200, {"identityProviderConfig": {"oidc": oidc}})
        else:
            self.eks_error(404, "ResourceNotFoundException", f"No route for {self.command} {path}.")
        return True

    def sts(self, body):
        """Relays an STS query-protocol request to the "sts" upstream, recording its
        parameters, when the config has one; False otherwise."""
        upstream = self.server.config().get("sts", {}).get("upstream")
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if not upstream or "Action" not in fields:
            return False
        with self.server.lock:
            self.server.sts_calls.append({k: v[0] for k, v in fields.items() if k != "Version"})
        self.forward(upstream, body, "sts")
        return True

    def eks_error(self, status, code, message):
        self.reply("eks", status, {"message": message}, [("x-amzn-errortype", code)])

    def forward(self, upstream, body, endpoint="other"):
        """Relays the request to `upstream` as it came (signature and all) and its answer back."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_RELAYED}
        request = urllib.request.Request(upstream.rstrip("/") + self.path, method=self.command,
                                         data=body if self.command != "GET" else None, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, got, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as e:
            status, got, data = e.code, e.headers, e.read()
        self.server.record(endpoint, self.command, self.path, status)
        extra = [(k, v) for k, v in got.items() if k.lower() not in NOT_RELAYED | {"content-type"}]
        respond(self, status, data, got.get("Content-Type", "application/json"), extra)

    def imds(self, path):
        cfg = self.server.config().get("imds")
        if self.headers.get("x-aws-ec2-metadata-token") != IMDS_TOKEN:
            self.server.record("imds", self.command, self.path, 401)
            respond(self, 401, b"", "text/plain")
        elif cfg and path == IMDS_CREDENTIALS:
            self.server.record("imds", self.command, self.path, 200)
            respond(self, 200, cfg["role"].encode(), "text/plain")
        elif cfg and path == IMDS_CREDENTIALS + cfg["role"]:
            now = time.time()
            self.reply("imds", 200, {
                "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": rfc3339(now),
                "AccessKeyId": cfg["access_key_id"],
                "SecretAccessKey": cfg["secret_access_key"],
                "Token": cfg["token"],
                "Expiration": cfg.get("expiration", rfc3339(now + 3600)),
            })
        else:
            self.server.record("imds", self.command, self.path, 404)
            respond(self, 404, b"", "text/plain")

    def container(self):
        cfg = self.server.config().get("container")
        if not cfg or self.headers.get("Authorization") != cfg.get("authorization"):
            self.reply("container", 403, {"message": "Forbidden"})
            return
        self.reply("container", 200, {
            "AccessKeyId": cfg["access_key_id"],
            "SecretAccessKey": cfg["secret_access_key"],
            "Token": cfg["token"],
            "Expiration": cfg.get("expiration", rfc3339(time.time() + 3600)),
        })


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", help="JSON config, re-read on every request")
    mode.add_argument("--hang", action="store_true", help="accept TCP connections, never answer")
    ap.add_argument("--log", help="append one JSON line per request")
    ap.add_argument("--delay-ms", type=int, default=0, help="sleep before answering credential requests")
    args = ap.parse_args()
    if args.hang:
        with socket.create_server(("127.0.0.1", 0), backlog=128) as sock:
            print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
            sys.stdin.buffer.read()
        return
    server = Stub(args)
    serve_until_stdin_closes(server)


if __name__ == "__main__":
    main()
