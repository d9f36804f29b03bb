"""Scripted faults for the fault-matrix tests: an HTTP server on 127.0.0.1 that answers
each request with the next step of a plan.

    python fault_server.py --plan JSON

Binds a free port, prints exactly one line `{"port": N}` on stdout when ready, and exits
when its stdin reaches EOF.

The plan is a JSON list of steps. Each step serves `times` requests (default 1); the last
step serves every request after that. A step is one of:

- {"status": 503, "body": "text", "content_type": "text/plain", "headers": {...}}
  answer with exactly this, except that `$SELF` in the body stands for the server's own
  URL `http://127.0.0.1:PORT` (a document naming its own endpoints: OpenID discovery).
- {"sts": {"access_key_id", "secret_access_key", "session_token"}}
  a valid STS query-protocol answer (XML) for the request's Action: AssumeRole,
  AssumeRoleWithWebIdentity or GetCallerIdentity; credentials expire in an hour.
- {"sts_error": "Throttling", "status": 400, "message": "Rate exceeded"}
  an STS error document (`<ErrorResponse><Error><Code>…`), as STS sends them.
- {"echo": true}: an error that echoes the whole request (request line, body, headers),
  as a proxy or a careless server does, in the form the request's protocol reads: an STS
  error document (POST with `Action=`), a restJson1 error (`x-amzn-errortype`, for the
  SSO portal and SSO-OIDC's RegisterClient, StartDeviceAuthorization and CreateToken),
  else a container-credentials error object (HTTP 200 `{"Code", "Message"}`). The error
  code is always `EchoedRequest`.
- {"hang": true}: read the request and never answer.
- {"endless": true, "status": 200, "content_length": N}
  answer with this status and a body that never ends (until the client hangs up, or
  ENDLESS_FOR seconds have passed); `content_length` (optional) is declared up front,
  otherwise the body runs until the connection closes.
- {"reset": true}: read the request and drop the connection with a TCP reset.

`GET /_stats` answers {"requests": N, "paths": [...]} (not counted, not a step).
Nothing from a request is logged, and only an `echo` step echoes it.
"""

import argparse
import json
from xml.sax.saxutils import escape
import socket
import struct
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from serving import respond, serve_until_stdin_closes

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ACCOUNT = "123456789012"
FOREVER = threading.Event()
# An endless body stops after this long even if the client keeps reading.
ENDLESS_FOR = 60
CHUNK = b"x" * 65536
# SSO-OIDC's operations (RegisterClient, StartDeviceAuthorization, CreateToken): restJson1.
SSO_OIDC_PATHS = ("/client/register", "/device_authorization", "/token")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan):
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan = plan
        self.lock = threading.Lock()
        self.requests = 0
        self.paths = []

    def next_step(self, path):
        with self.lock:
            n = self.requests
            self.requests += 1
            self.paths.append(path)
        for step in self.plan:
            times = step.get("times", 1)
            if n < times:
                return step
            n -= times
        return self.plan[-1]


def rfc3339(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sts_answer(action, creds):
    if action == "GetCallerIdentity":
        result = (f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/base/fault-session</Arn>"
                  f"<UserId>AROAFAULTSERVER:fault-session</UserId><Account>{ACCOUNT}</Account>")
    else:
        result = (
            "<Credentials>"
            f"<AccessKeyId>{creds['access_key_id']}</AccessKeyId>"
            f"<SecretAccessKey>{creds['secret_access_key']}</SecretAccessKey>"
            f"<SessionToken>{creds['session_token']}</SessionToken>"
            f"<Expiration>{rfc3339(time.time() + 3600)}</Expiration>"
            "</Credentials>"
            "<AssumedRoleUser>"
            f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/fault/session</Arn>"
            "<AssumedRoleId>AROAFAULTSERVER:session</AssumedRoleId>"
            "</AssumedRoleUser>"
        )
    return (f'<{action}Response xmlns="{STS_NS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>fault-1</RequestId></ResponseMetadata></{action}Response>")


def sts_error(code, message):
    return (f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>fault-1</RequestId></ErrorResponse>")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-server"

    def log_message(self, format, *args):
        """Silent."""

    def do_GET(self):
        if urlsplit(self.path).path == "/_stats":
            with self.server.lock:
                body = {"requests": self.server.requests, "paths": list(self.server.paths)}
            self.send(200, json.dumps(body), "application/json")
            return
        self.serve(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.serve(self.rfile.read(length))

    def serve(self, body):
        step = self.server.next_step(urlsplit(self.path).path)
        if step.get("hang"):
            FOREVER.wait()
            return
        if step.get("endless"):
            self.endless(step)
            return
        if step.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if step.get("echo"):
            self.echo(body)
        elif "sts" in step:
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["AssumeRole"])[0]
            self.send(200, sts_answer(action, step["sts"]), "text/xml")
        elif "sts_error" in step:
            self.send(step.get("status", 400), sts_error(step["sts_error"], step.get("message", "")), "text/xml")
        else:
            own_url = f"http://127.0.0.1:{self.server.server_address[1]}"
            self.send(step["status"], step.get("body", "").replace("$SELF", own_url),
                      step.get("content_type", "text/plain"), step.get("headers", {}))

    def echo(self, body):
        request = "\n".join(
            [f"{self.command} {self.path} {self.request_version}", body.decode("utf-8", "replace")]
            + [f"{name}: {value}" for name, value in self.headers.items()])
        path = urlsplit(self.path).path
        if self.command == "POST" and b"Action=" in body:
            self.send(400, sts_error("EchoedRequest", escape(request)), "text/xml")
        elif path.startswith("/federation/") or path in SSO_OIDC_PATHS:
            error = {"error": "invalid_request", "error_description": request, "message": request}
            self.send(400, json.dumps(error), "application/json",
                      {"x-amzn-errortype": "EchoedRequest"})
        else:
            self.send(200, json.dumps({"Code": "EchoedRequest", "Message": request}), "application/json")

    def endless(self, step):
        self.send_response(step.get("status", 200))
        self.send_header("Content-Type", "text/xml")
        if "content_length" in step:
            self.send_header("Content-Length", str(step["content_length"]))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        stop = time.monotonic() + ENDLESS_FOR
        try:
            while time.monotonic() < stop:
                self.wfile.write(CHUNK)
        except OSError:
            pass  # the client hung up: what it should do

    def send(self, status, text, content_type, headers=None):
        respond(self, status, text.encode(), content_type, (headers or {}).items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", required=True, help="JSON list of steps")
    args = ap.parse_args()
    plan = json.loads(args.plan)
    if not isinstance(plan, list) or not plan:
        ap.error("--plan must be a non-empty JSON list")
    serve_until_stdin_closes(Server(plan))


if __name__ == "__main__":
    main()
