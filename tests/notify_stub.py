"""A local Telegram + webhook stub on 127.0.0.1: records every POST, answers from a queue per channel."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Stub:
    """Records every POST; answers from a queue per path kind ('telegram', 'webhook'), then with success."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.answers: dict[str, list[tuple[int, dict]]] = {"telegram": [], "webhook": []}
        self.url = ""

    def messages(self, kind: str) -> list[dict]:
        return [body for path, body in self.posts if (kind == "telegram") == path.startswith("/bot")]


@contextlib.contextmanager
def serve_stub() -> Iterator[Stub]:
    """A running stub server; Telegram's base URL and the webhook's are `stub.url` (+ any path)."""
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.posts.append((self.path, body))
            kind = "telegram" if self.path.startswith("/bot") else "webhook"
            queue = state.answers[kind]
            status, answer = queue.pop(0) if queue else (200, {"ok": True, "result": {"message_id": 1}})
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
