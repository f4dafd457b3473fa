"""Serve an ASGI app from this process on 127.0.0.1 (a free port unless one is given), for the demo."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any


def start_server(app: Any, port: int = 0) -> tuple[str, Callable[[], None]]:
    """Start uvicorn in a thread; returns the base URL and a function that stops it."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop
