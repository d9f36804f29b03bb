"""How every test peer runs: report the port, serve until the parent closes our stdin, and
keep its request log."""

import json
import sys
import threading


def append_log(path, entry):
    """Append `entry` as one JSON line to the request log at `path`."""
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def serve_until_stdin_closes(server):
    """Print `{"port": N}` on stdout, then serve until stdin reaches EOF (the test is over)."""

    def watch_stdin():
        sys.stdin.buffer.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()
    server.server_close()
