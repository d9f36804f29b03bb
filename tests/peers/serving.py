"""How every test peer runs: report the port, serve until the parent closes our stdin, and
keep its request log."""

import json
import sys
import threading


def append_log(path, entry):
    """Append `entry` as one JSON line to the request log at `path`."""
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def respond(handler, status, data, content_type, headers=()):
    """Answer the request `handler` serves: status, `Content-Type`, `Content-Length`, the
    extra `(name, value)` headers, then `data` (bytes)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def serve_until_stdin_closes(server):
    """Print `{"port": N}` on stdout, then serve until stdin reaches EOF (the test is over)."""

    def watch_stdin():
        sys.stdin.buffer.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()
    server.server_close()
