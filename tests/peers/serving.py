"""How every test peer runs: report the port, serve until the parent closes our stdin."""

import json
import sys
import threading


def serve_until_stdin_closes(server):
    """Print `{"port": N}` on stdout, then serve until stdin reaches EOF (the test is over)."""

    def watch_stdin():
        sys.stdin.buffer.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()
    server.server_close()
