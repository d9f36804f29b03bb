"""HTTPS fake EKS API server: authenticates EKS bearer tokens, serves `kubectl get pods`.

    python fake_eks.py --cluster-id C --secrets FILE --cert-dir DIR [--moto URL] [--log FILE]

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
- Unauthorized: HTTP 401 with a Kubernetes Status (reason Unauthorized).
- Authorized: legacy discovery (`/version`, `/api`, `/apis`, `/api/v1`; aggregated
  discovery requests get the legacy JSON with `Content-Type: application/json`, which
  client-go treats as "not aggregated"), and empty pod lists for
  `/api/v1/namespaces/<ns>/pods` and `/api/v1/pods` (a meta.k8s.io Table when the Accept
  header asks for one, else a PodList). Anything else: 404 Status.
- `GET /_stats` (no auth): {"authorized": N, "unauthorized": N, "identities": {ARN: N}}.
- --log FILE: one JSON line per request: time, method, path, status, and `identity`
  (ARN) or `error` (reason). Tokens are never logged.
"""

import argparse
import collections
import datetime
import ipaddress
import json
import os
import ssl
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import tokencheck
from serving import append_log, respond, serve_until_stdin_closes

USER_ARN = "arn:aws:iam::123456789012:user/{}"
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
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


def make_certs(cert_dir):
    """Write ca.pem, server.pem, server-key.pem; return the server cert and key paths."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject, issuer, key, signing_key, extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=7)))
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-eks test CA")])
    ca = cert(ca_name, ca_name, ca_key, ca_key, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                       key_agreement=False, encipher_only=False, decipher_only=False), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])
    key = ec.generate_private_key(ec.SECP256R1())
    server = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, key, ca_key, [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                      x509.DNSName("localhost")]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ])
    os.makedirs(cert_dir, exist_ok=True)
    paths = {name: os.path.join(cert_dir, name) for name in ("ca.pem", "server.pem", "server-key.pem")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.pem"], "wb") as f:
        f.write(server.public_bytes(serialization.Encoding.PEM))
    fd = os.open(paths["server-key.pem"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths["server.pem"], paths["server-key.pem"]


class FakeEks(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args, ssl_context):
        super().__init__(("127.0.0.1", 0), Handler)
        self.args = args
        self.ssl_context = ssl_context
        self.lock = threading.Lock()
        self.stats = {"authorized": 0, "unauthorized": 0, "identities": collections.Counter()}

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread, not in the accept loop.
        request.settimeout(30)
        with self.ssl_context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request, client_address):
        print(f"fake_eks: {client_address}: {sys.exc_info()[1]!r}", file=sys.stderr)

    def lookup(self, access_key_id):
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
        """Identity ARN for the request's bearer token; raises TokenError."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise tokencheck.TokenError("no bearer token")
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
        return arn

    def record(self, entry):
        with self.lock:
            if "identity" in entry:
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
            entry["identity"] = self.server.authenticate(self.headers.get("Authorization"))
        except tokencheck.TokenError as e:
            entry.update(status=401, error=e.reason)
            self.server.record(entry)
            self.send_json(401, UNAUTHORIZED)
            return
        status, body = self.route(path)
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
    ap.add_argument("--secrets", required=True, help="JSON object access_key_id -> secret_access_key")
    ap.add_argument("--moto", help="moto server URL whose assumed-role credentials are also known")
    ap.add_argument("--cert-dir", required=True, help="where ca.pem (and the server cert/key) are written")
    ap.add_argument("--log", help="append one JSON line per request")
    args = ap.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*make_certs(args.cert_dir))
    server = FakeEks(args, context)
    serve_until_stdin_closes(server)


if __name__ == "__main__":
    main()
