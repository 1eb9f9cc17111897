"""Guards around every request: a cap on the body's size (413), time limits for slow clients, and headers that
keep the page to itself.

The size cap is checked twice: against the declared Content-Length before anything is read, and by counting the
bytes as they arrive (a chunked upload declares none), so no oversized body is ever read whole. A client must send
its request headers within `header_timeout_s` of connecting (or of its previous response), and each piece of its
body within as long again; uvicorn has neither limit of its own (its keep-alive timeout only starts once a
response is sent), so one slow client per connection could otherwise hold all of them.
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The page loads only its own files; /docs (Swagger UI) needs one inline script to start, and nothing else.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_CSP = PAGE_CSP.replace("default-src 'self'", "default-src 'self'; script-src 'self' 'unsafe-inline'")


class BodyLimit:
    """Refuses a request body over `max_bytes` with 413, naming `file_limit` (the upload limit users know of)."""

    def __init__(self, app: ASGIApp, max_bytes: int, file_limit: int, read_timeout_s: float | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.file_limit = file_limit
        self.read_timeout_s = read_timeout_s

    def _too_large(self) -> HTTPException:
        return HTTPException(413, too_large_message(self.file_limit))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            exc = self._too_large() if declared.isdigit() else HTTPException(400, "bad Content-Length")
            await _send_json(send, exc.status_code, exc.detail)
            return
        seen = 0
        body_done = False

        async def counted() -> Message:
            nonlocal seen, body_done
            if body_done or self.read_timeout_s is None:
                message = await receive()  # after the body: waiting for a disconnect, with no time limit
            else:
                try:
                    message = await asyncio.wait_for(receive(), self.read_timeout_s)
                except TimeoutError:
                    raise HTTPException(408, "the request's body arrived too slowly; send it again") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.max_bytes:
                    raise self._too_large()  # answered by FastAPI's HTTPException handler
            return message

        await self.app(scope, counted, send)


def client_key(host: str | None) -> str:
    """Who a request comes from, for the per-client session limit: its IPv4 address, or the /64 network of an IPv6
    one (a single host is usually given a whole /64, so its addresses count as one client)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return host or ""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def too_large_message(limit: int) -> str:
    return f"the upload is larger than the server's limit of {limit / 2**20:.1f} MB"


async def _send_json(send: Send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def security_headers(request: Request, call_next):
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = DOCS_CSP if request.url.path == "/docs" else PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the session id is in the API's URLs
    response.headers["Cache-Control"] = response.headers.get("Cache-Control", "no-store")
    return response


def header_timeout_protocol(seconds: float):
    """uvicorn's h11 protocol, closing a connection whose request headers have not all arrived within `seconds` of
    its opening or of its previous response (pass as `uvicorn.run(..., http=...)`)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeout(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_timer()

        def connection_lost(self, exc) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
            self._header_timer = self.loop.call_later(seconds, self._headers_late)

        def _headers_late(self) -> None:
            self._header_timer = None
            # IDLE: no complete request line and headers since the timer was armed (a request being answered has
            # moved h11 on, and its response re-arms the timer)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeout
