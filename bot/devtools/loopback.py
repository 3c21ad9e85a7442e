"""Serving a stdlib HTTP server from a daemon thread, as both stand-ins (Wati, Slack) do."""

from __future__ import annotations

import socketserver
import threading


class Serving:
    """`server` answering on its own daemon thread until `stop()` releases the port.

    A short `poll_interval` keeps `stop()` quick: shutdown waits for the next poll.
    """

    def __init__(self, server: socketserver.BaseServer, name: str, poll_interval: float) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop answering, close the socket and wait for the serving thread."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
