"""A TCP server on 127.0.0.1 for answers no HTTP server library would send (a body after a
HEAD answer, headers one byte at a time): each connection goes to ``handle`` in a thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class RawServer:
    def __init__(self, handle: Callable[[socket.socket, threading.Event], None]) -> None:
        self._handle = handle
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.stop = threading.Event()  # set when the test is over: handlers should return

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            try:
                self._handle(client, self.stop)
            except OSError:  # the client hung up
                return


def read_head(client: socket.socket) -> bytes:
    """The request's line and headers, as received."""
    head = b""
    while b"\r\n\r\n" not in head and (chunk := client.recv(4096)):
        head += chunk
    return head
