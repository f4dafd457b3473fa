"""A MongoDB on loopback that has stopped answering: it accepts connections and answers the driver's handshake
and heartbeats (`hello` / `isMaster`), so server selection succeeds, and never answers any other command. What a
hung mongod, a full disk or a stuck proxy looks like to the driver. pymongo 4.20 sends even its first handshake
as OP_MSG (`isMaster` before it knows the server), so OP_MSG is the only message format spoken here."""

from __future__ import annotations

import datetime as dt
import socket
import struct
import threading
import time
from collections.abc import Callable

import bson

OP_MSG = 2013
HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode
HELLO_NAMES = {"hello", "ismaster"}


def hello_reply(connection_id: int) -> dict:
    """A standalone server of MongoDB 7.0 (wire version 21, within what pymongo 4.20 speaks: 9..29)."""
    return {
        "helloOk": True, "isWritablePrimary": True, "ismaster": True, "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": 48_000_000, "maxWriteBatchSize": 100_000, "localTime": dt.datetime.now(dt.UTC),
        "logicalSessionTimeoutMinutes": 30, "connectionId": connection_id, "minWireVersion": 0,
        "maxWireVersion": 21, "readOnly": False, "ok": 1.0,
    }


def _command(body: bytes) -> dict:
    """The command document of an OP_MSG: its kind-0 section (kind 1 carries bulk documents)."""
    position = 4  # flagBits
    while position < len(body):
        kind = body[position]
        position += 1
        size = struct.unpack_from("<i", body, position)[0]
        if kind == 0:
            return bson.decode(body[position:position + size])
        position += size
    return {}


def _reply(request_id: int, document: dict) -> bytes:
    body = struct.pack("<IB", 0, 0) + bson.encode(document)  # flagBits, then one kind-0 section
    return HEADER.pack(HEADER.size + len(body), 0, request_id, OP_MSG) + body


class StalledMongo:
    """The stalled server on 127.0.0.1 (a free port), as a context manager. `unanswered` lists the commands it
    received and left unanswered (so a test can tell a stall from a refused connection)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.unanswered: list[str] = []
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def uri(self) -> str:
        """MONGODB_URI for this server."""
        return f"mongodb://127.0.0.1:{self.port}/"

    def __enter__(self) -> StalledMongo:
        self._spawn(self._accept)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._listener.close()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the driver closed it first
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by __exit__
            conn.settimeout(None)
            self._connections.append(conn)
            self._spawn(self._serve, conn, len(self._connections))

    def _serve(self, conn: socket.socket, connection_id: int) -> None:
        try:
            while True:
                header = self._read(conn, HEADER.size)
                if header is None:
                    return
                length, request_id, _, op_code = HEADER.unpack(header)
                body = self._read(conn, length - HEADER.size)
                if body is None:
                    return
                name = next(iter(_command(body)), "?") if op_code == OP_MSG else f"opCode {op_code}"
                if name.lower() in HELLO_NAMES:
                    conn.sendall(_reply(request_id, hello_reply(connection_id)))
                else:
                    self.unanswered.append(name)  # and never answer: the driver must give up by itself
        except OSError:
            return  # the driver gave up and closed the connection, or the server stops

    @staticmethod
    def _read(conn: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data


def within[T](seconds: float, call: Callable[[], T]) -> tuple[T | BaseException, float]:
    """Run `call` on a daemon thread and wait at most `seconds`: its result (or the exception it raised) and how
    long it took. A call still running then fails the test instead of hanging the suite."""
    outcome: list[T | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still waiting after {seconds} s: the call hangs"
    return outcome[0], time.monotonic() - started
