"""HTTPS fake EKS API server: authenticates EKS bearer tokens, serves `kubectl get pods`.

    python fake_eks.py --cluster-id C --secrets FILE --cert-dir DIR [--moto URL] [--log FILE]
        [--oidc-issuer URL --oidc-client-id ID [--oidc-ca FILE] [--oidc-username-claim C]
         [--oidc-groups-claim C] [--oidc-username-prefix P] [--oidc-groups-prefix P]
         [--allowed-group G ...]]

- Generates a throwaway CA and a server certificate for 127.0.0.1/localhost at start-up
  and writes DIR/ca.pem (use it as the kubeconfig's certificate-authority); the server
  certificate and key are written beside it.
- Binds 127.0.0.1 on a free port, prints exactly one line `{"port": N}` on stdout when
  ready, and exits when its stdin reaches EOF (keep a pipe open to keep it running).
- Every request except `GET /_stats` needs `Authorization: Bearer <token>` that passes
  tokencheck.verify for --cluster-id. The secret of the token's access key comes from
  FILE, re-read on every request: a JSON object access_key_id -> secret_access_key, or
  -> {"secret_access_key": S, "session_token": T} (identity
  `arn:aws:iam::123456789012:user/<access key id>`); or else from moto's
  `GET {URL}/moto-api/data.json` (`sts.AssumedRole[]`; identity: the assumed-role ARN).
  When the credentials' session token is known, the token must carry that same one.
- OIDC (with --oidc-issuer; --secrets may then be omitted): a bearer token that is not an
  EKS token (`k8s-aws-v1.` prefix) is an ID token, checked as the Kubernetes OIDC
  authenticator that EKS runs checks it: discovery (`URL/.well-known/openid-configuration`,
  whose `issuer` must be URL; fetched at the first such request and kept, over HTTPS trusting
  --oidc-ca), the RS256 signature against the `jwks_uri` keys (PyJWT's PyJWKClient: kept 5
  minutes, fetched again for an unknown `kid`), `iss` = URL, `aud` holding --oidc-client-id,
  `exp` (no leeway). Username: the --oidc-username-claim (default `email`; for `email`, an
  `email_verified` that is present must be true), prefixed by --oidc-username-prefix, whose
  default is `URL#` for any other claim and nothing for `email` (`-`: no prefix). Groups: the
  --oidc-groups-claim (default `groups`, a string or a list), each prefixed by
  --oidc-groups-prefix. With --allowed-group (repeatable), an OIDC user in none of those
  groups may read discovery but gets 403 Forbidden for pods, as RBAC would answer; EKS-token
  identities are not restricted.
- Unauthorized: HTTP 401 with a Kubernetes Status (reason Unauthorized).
- Authorized: legacy discovery (`/version`, `/api`, `/apis`, `/api/v1`; aggregated
  discovery requests get the legacy JSON with `Content-Type: application/json`, which
  client-go treats as "not aggregated"), and empty pod lists for
  `/api/v1/namespaces/<ns>/pods` and `/api/v1/pods` (a meta.k8s.io Table when the Accept
  header asks for one, else a PodList). Anything else: 404 Status.
- `GET /_stats` (no auth): {"authorized": N, "unauthorized": N, "forbidden": N,
  "identities": {ARN or username: N}} (403s count as forbidden, not under identities).
- --log FILE: one JSON line per request: time, method, path, status, and `identity`
  (ARN or OIDC username; OIDC adds `groups`) or `error` (reason), both for a 403. Tokens
  are never logged.
"""

import argparse
import collections
import json
import ssl
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import jwt

import tokencheck
from certs import make_certs
from serving import append_log, respond, serve_until_stdin_closes

USER_ARN = "arn:aws:iam::123456789012:user/{}"
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
EKS_TOKEN_PREFIX = "k8s-aws-v1."


def forbidden(user, path):
    """The Status RBAC answers a user who may not list pods at `path`."""
    parts = path.strip("/").split("/")
    scope = f'in the namespace "{parts[3]}"' if len(parts) == 5 else "at the cluster scope"
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" {scope}',
            "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}


NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": "the server could not find the requested resource", "reason": "NotFound",
             "code": 404}
VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-eks-fake", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0",
           "compiler": "gc", "platform": "linux/amd64"}
API_GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
API_V1 = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
     "verbs": ["get", "list"], "shortNames": ["po"], "categories": ["all"]}]}
POD_LIST = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
POD_TABLE = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "1"},
             "columnDefinitions": [{"name": "Name", "type": "string", "format": "name",
                                    "description": "Name of the pod", "priority": 0}],
             "rows": []}


class OidcAuthenticator:
    """The Kubernetes OIDC authenticator's checks (k8s.io/apiserver plugin/pkg/authenticator/
    token/oidc) for one issuer and client id."""

    def __init__(self, args):
        self.args = args
        self.ssl_context = ssl.create_default_context(cafile=args.oidc_ca) if args.oidc_ca else None
        self.lock = threading.Lock()
        self.jwks = None
        prefix = args.oidc_username_prefix
        if prefix is None:
            prefix = "" if args.oidc_username_claim == "email" else args.oidc_issuer + "#"
        self.username_prefix = "" if prefix == "-" else prefix

    def keys(self):
        """PyJWT's JWKS client for the issuer's `jwks_uri`, from discovery (kept once found)."""
        with self.lock:
            if self.jwks is None:
                url = self.args.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    with urllib.request.urlopen(url, timeout=5, context=self.ssl_context) as r:
                        discovery = json.load(r)
                except (OSError, ValueError) as e:
                    raise tokencheck.TokenError(f"oidc: discovery failed: {e}") from None
                if discovery.get("issuer") != self.args.oidc_issuer:
                    raise tokencheck.TokenError(
                        f"oidc: issuer did not match the issuer returned by provider: "
                        f"{discovery.get('issuer')!r}")
                self.jwks = jwt.PyJWKClient(discovery["jwks_uri"], timeout=5,
                                            ssl_context=self.ssl_context)
            return self.jwks

    def authenticate(self, token):
        """(username, groups) for an ID token; raises TokenError."""
        try:
            key = self.keys().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"],
                                audience=self.args.oidc_client_id, issuer=self.args.oidc_issuer,
                                options={"require": ["iss", "aud", "exp"]})
        except jwt.PyJWKClientError as e:
            raise tokencheck.TokenError(f"oidc: {e}") from None
        except jwt.InvalidTokenError as e:
            raise tokencheck.TokenError(f"oidc: {type(e).__name__}: {e}") from None
        name = self.args.oidc_username_claim
        username = claims.get(name)
        if not isinstance(username, str) or not username:
            raise tokencheck.TokenError(f"oidc: claim {name} not present")
        if name == "email" and "email_verified" in claims and claims["email_verified"] is not True:
            raise tokencheck.TokenError("oidc: email not verified")
        groups = claims.get(self.args.oidc_groups_claim, [])
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise tokencheck.TokenError(f"oidc: claim {self.args.oidc_groups_claim} is not a string list")
        return self.username_prefix + username, [self.args.oidc_groups_prefix + g for g in groups]


class FakeEks(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args, ssl_context):
        super().__init__(("127.0.0.1", 0), Handler)
        self.args = args
        self.ssl_context = ssl_context
        self.lock = threading.Lock()
        self.stats = {"authorized": 0, "unauthorized": 0, "forbidden": 0,
                      "identities": collections.Counter()}
        self.oidc = OidcAuthenticator(args) if args.oidc_issuer else None

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread, not in the accept loop.
        request.settimeout(30)
        with self.ssl_context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request, client_address):
        print(f"fake_eks: {client_address}: {sys.exc_info()[1]!r}", file=sys.stderr)

    def lookup(self, access_key_id):
        if not self.args.secrets:
            return None
        """(secret, identity ARN, session token it was issued with or None), or None."""
        try:
            with open(self.args.secrets) as f:
                secrets = json.load(f)
        except (OSError, ValueError):
            secrets = {}
        entry = secrets.get(access_key_id)
        if isinstance(entry, str):
            return entry, USER_ARN.format(access_key_id), None
        if isinstance(entry, dict):
            return entry["secret_access_key"], USER_ARN.format(access_key_id), entry.get("session_token")
        if self.args.moto:
            url = self.args.moto.rstrip("/") + "/moto-api/data.json"
            with urllib.request.urlopen(url, timeout=5) as r:
                data = json.load(r)
            for role in data.get("sts", {}).get("AssumedRole", []):
                if role.get("access_key_id") == access_key_id:
                    return role["secret_access_key"], role["arn"], role["session_token"]
        return None

    def authenticate(self, authorization):
        """(identity, OIDC groups or None) for the request's bearer token; raises TokenError."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise tokencheck.TokenError("no bearer token")
        if self.oidc and not token.strip().startswith(EKS_TOKEN_PREFIX):
            return self.oidc.authenticate(token.strip())
        found = {}

        def secret_for(access_key_id):
            try:
                found["hit"] = self.lookup(access_key_id)
            except (OSError, ValueError) as e:
                raise tokencheck.TokenError(f"moto lookup failed: {e}") from None
            return found["hit"] and found["hit"][0]

        result = tokencheck.verify(token.strip(), self.args.cluster_id, secret_for)
        _, arn, session_token = found["hit"]
        if session_token is not None and result["session_token"] != session_token:
            # STS refuses temporary credentials without their own session token.
            raise tokencheck.TokenError(
                "X-Amz-Security-Token is not the session token issued with this access key")
        return arn, None

    def record(self, entry):
        with self.lock:
            if entry.get("status") == 403:
                self.stats["forbidden"] += 1
            elif "identity" in entry:
                self.stats["authorized"] += 1
                self.stats["identities"][entry["identity"]] += 1
            else:
                self.stats["unauthorized"] += 1
            if self.args.log:
                append_log(self.args.log, entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-eks"

    def log_message(self, format, *args):
        """Silent: --log records requests."""

    def send_json(self, status, body):
        respond(self, status, json.dumps(body).encode(), "application/json")

    def handle_any(self):
        if self.command != "GET":
            self.close_connection = True  # any request body is left unread
        path = urlsplit(self.path).path
        if self.command == "GET" and path == "/_stats":
            with self.server.lock:
                self.send_json(200, self.server.stats)
            return
        entry = {"time": round(time.time(), 3), "method": self.command, "path": self.path}
        try:
            entry["identity"], groups = self.server.authenticate(self.headers.get("Authorization"))
        except tokencheck.TokenError as e:
            entry.update(status=401, error=e.reason)
            self.server.record(entry)
            self.send_json(401, UNAUTHORIZED)
            return
        if groups is not None:
            entry["groups"] = groups
        status, body = self.route(path)
        allowed = self.server.args.allowed_group
        if status == 200 and groups is not None and allowed and path.endswith("/pods") \
                and not set(groups) & set(allowed):
            status, body = 403, forbidden(entry["identity"], path)
            entry["error"] = f"forbidden: not in {' or '.join(allowed)}"
        entry["status"] = status
        self.server.record(entry)
        self.send_json(status, body)

    def route(self, path):
        parts = path.strip("/").split("/")
        if self.command != "GET":
            return 404, NOT_FOUND
        if path == "/version":
            return 200, VERSION
        if path == "/api":
            port = self.server.server_address[1]
            address = {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{port}"}
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [address]}
        if path == "/apis":
            return 200, API_GROUPS
        if path == "/api/v1":
            return 200, API_V1
        if parts == ["api", "v1", "pods"] or (len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"]
                                              and parts[4] == "pods"):
            return 200, POD_TABLE if "as=Table" in self.headers.get("Accept", "") else POD_LIST
        return 404, NOT_FOUND

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cluster-id", required=True)
    ap.add_argument("--secrets", help="JSON object access_key_id -> secret_access_key")
    ap.add_argument("--moto", help="moto server URL whose assumed-role credentials are also known")
    ap.add_argument("--cert-dir", required=True, help="where ca.pem (and the server cert/key) are written")
    ap.add_argument("--log", help="append one JSON line per request")
    ap.add_argument("--oidc-issuer", help="accept ID tokens of this OpenID Provider")
    ap.add_argument("--oidc-client-id", help="the audience ID tokens must carry")
    ap.add_argument("--oidc-ca", help="CA certificate (PEM) to trust for the issuer's HTTPS")
    ap.add_argument("--oidc-username-claim", default="email")
    ap.add_argument("--oidc-groups-claim", default="groups")
    ap.add_argument("--oidc-username-prefix")
    ap.add_argument("--oidc-groups-prefix", default="")
    ap.add_argument("--allowed-group", action="append", default=[],
                    help="only OIDC users in one of these groups may list pods")
    args = ap.parse_args()
    if args.oidc_issuer and not args.oidc_client_id:
        ap.error("--oidc-issuer needs --oidc-client-id")
    if not (args.secrets or args.oidc_issuer):
        ap.error("--secrets or --oidc-issuer is required")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*make_certs(args.cert_dir))
    server = FakeEks(args, context)
    serve_until_stdin_closes(server)


if __name__ == "__main__":
    main()
