"""HTTP for the sandbox: Wati's v1 API under `/{tenant}/api/v1/...`, the phone page at `/`,
and the token-free control routes under `/_sandbox/` (loopback clients only).

Order of checks for a Wati call: an injected "cloudflare" fault (403 HTML page, before anything
else, as Wati's firewall answers), route (404/405), token (401, empty body), monthly quota (429,
not counted), count the call, injected fault, rate limit (429 + Retry-After), the endpoint.
The calls served, and their handlers, are the route table in api.py (`WatiApi.routes`).

The phone page and the control routes, and their handlers, are the table in control.py
(`Controls.routes`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .base import Reply, Request, find_route, json_reply
from .control import NO_ROUTE, ControlError, Controls
from .faults import MEDIA_FAULTS, cloudflare_page, media_fault

if TYPE_CHECKING:
    from .core import Sandbox

log = logging.getLogger(__name__)
MAX_BODY = 120 * 1024 * 1024


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.controls = Controls(sandbox)
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up mid-answer (a crash test killed it): not an error here
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, delayed ACKs cost 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ControlError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.body or reply.status != 401:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Drop the connection without a word (RST rather than FIN where the OS allows)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except (ValueError, ControlError):
            self._send(Reply(400, b"bad request body", "text/plain"))
            self.close_connection = True
            return
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/" or url.path.startswith("/_sandbox/"):
            host = self.client_address[0]
            if not ipaddress.ip_address(host.removeprefix("::ffff:")).is_loopback:
                self._send(Reply(403, b"control routes answer loopback clients only", "text/plain"))
                return
            try:
                reply = self._control(method, url.path, query, body)
            except (ControlError, ValueError, KeyError, RuntimeError) as exc:
                reply = json_reply({"error": str(exc).strip("'\"")}, 400)
            self._send(reply)
            return
        self._wati(method, url.path, query, body)

    # -- the Wati API -----------------------------------------------------------------------

    def _wati(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        sandbox = self.server.sandbox
        found = find_route(sandbox.api.routes, sandbox.tenant_id, method, path)
        endpoint = found.name
        firewall = sandbox.faults.take(endpoint or "*", kinds=("cloudflare",))
        if firewall is not None:
            # Cloudflare answers before Wati sees the call: no route, token or quota check.
            self._send(cloudflare_page())
            return
        if found.route is None:
            self._send(Reply(found.status, b"", "text/plain"))
            return
        auth = self.headers.get("Authorization", "").strip()
        if not hmac.compare_digest(auth.encode(), f"Bearer {sandbox.token}".encode()):
            self._send(Reply(401, b""))
            return
        if sandbox.state.calls() >= sandbox.monthly_quota:
            info = "Monthly API call quota exceeded for this plan"
            self._send(json_reply({"result": False, "info": info}, 429))
            return
        sandbox.state.count_call(endpoint)
        fault = sandbox.faults.take(endpoint, arg=found.arg)
        if fault is not None and fault.kind == "hold" and fault.gate is not None:
            fault.gate.block(sandbox.stopping)  # held, then dropped: nothing happened
            self._reset()
            return
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "500":
            problem = {"title": "An error occurred while processing your request.", "status": 500}
            self._send(json_reply(problem, 500))
            return
        if fault is not None and fault.kind in MEDIA_FAULTS:
            self._send(media_fault(fault.kind))
            return
        if fault is not None and fault.kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            self._send(Reply(429, b'{"result":false,"info":"Too many requests"}', headers=headers))
            return
        if fault is not None and fault.kind == "reject":
            info = "Rejected by the sandbox (injected fault)"
            self._send(json_reply({"result": False, "info": info}, 200))
            return
        if fault is not None and fault.kind == "slow" and sandbox.stopping.wait(fault.delay):
            self._reset()
            return
        wait = sandbox.limiter.check(endpoint)
        if wait is not None:
            body429 = b'{"result":false,"info":"Too many requests"}'
            self._send(Reply(429, body429, headers={"Retry-After": str(wait)}))
            return
        content_type = self.headers.get("Content-Type", "")
        request = Request(method, endpoint, found.arg, query, content_type, body)
        reply = sandbox.api.handle(found.route, request)
        if fault is not None and fault.kind == "hold_after" and fault.gate is not None:
            fault.gate.block(sandbox.stopping)  # processed; the answer waits
        if fault is not None and fault.kind == "reset_after":
            self._reset()
            return
        if fault is not None and fault.kind == "malformed":
            cut = reply.body[: max(1, len(reply.body) // 2)] if reply.body else b'{"result":'
            reply = Reply(200, cut)
        self._send(reply)

    # -- the phone page and the control routes -----------------------------------------------

    def _control(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        server = self.server
        found = find_route(server.controls.routes, "", method, path.rstrip("/") or "/")
        if found.route is None:
            return NO_ROUTE
        content_type = self.headers.get("Content-Type", "")
        return found.route.handler(Request(method, found.name, "", query, content_type, body))
