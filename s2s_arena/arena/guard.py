"""The Space's front door (an ASGI middleware around every route, Gradio's included).

* **Request size**: a body over ``max_body_bytes`` (64 KiB: a vote is a few hundred bytes) is refused
  with 413 before the app sees it, whether the client announced its length or streamed it.
* **No uploads**: the page takes no files, so Gradio's upload route answers 404.
* **Sessions**: every request gets a server-signed session (the ``s2s_arena_session`` cookie, issued
  here when a request has none or an invalid one); its id is handed to the routes in
  ``scope["state"]["arena_session"]``. Nothing a client picks becomes its session.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from .identity import SESSION_COOKIE, Identity

BLOCKED_PATHS = ("/gradio_api/upload", "/upload", "/gradio_api/upload_progress", "/upload_progress")
BODY_METHODS = {"POST", "PUT", "PATCH"}


class Guard:
    def __init__(self, app: Any, identity: Identity, *, max_body_bytes: int = 64 * 1024,
                 secure_cookie: bool = False, cookie_max_age_s: int = 30 * 24 * 3600):
        self.app, self.identity = app, identity
        self.max_body_bytes = max_body_bytes
        # Spaces run inside an iframe on huggingface.co: only a SameSite=None (so Secure) cookie reaches them.
        attrs = "Path=/; HttpOnly; " + ("SameSite=None; Secure" if secure_cookie else "SameSite=Lax")
        self.cookie_attrs = f"{attrs}; Max-Age={cookie_max_age_s}"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path.rstrip("/") in BLOCKED_PATHS:
            return await _plain(send, 404, b"not found")
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                if int(length) > self.max_body_bytes:
                    return await _plain(send, 413, b"request too large")
            except ValueError:
                return await _plain(send, 400, b"bad content-length")
        if scope.get("method") in BODY_METHODS:
            body, too_big, more = await _read_body(receive, self.max_body_bytes)
            if too_big:
                return await _plain(send, 413, b"request too large")
            receive = _replay(body, receive, more)
        sid = self.identity.session_of(_cookie(headers.get(b"cookie", b""), SESSION_COOKIE))
        new_cookie = None
        if sid is None:
            sid, value = self.identity.new_session()
            new_cookie = f"{SESSION_COOKIE}={value}; {self.cookie_attrs}".encode("latin-1")
        scope.setdefault("state", {})["arena_session"] = sid

        async def send_with_cookie(message):
            if new_cookie is not None and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", new_cookie)]}
            await send(message)

        return await self.app(scope, receive, send_with_cookie)


def _cookie(raw: bytes, name: str) -> str | None:
    try:
        jar = SimpleCookie()
        jar.load(raw.decode("latin-1"))
    except (CookieError, UnicodeDecodeError):
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _read_body(receive, limit: int) -> tuple[bytes, bool, bool]:
    """(body, over the limit, whether the client is still connected afterwards)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True, False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False, True


def _replay(body: bytes, receive, connected: bool):
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not connected:
            return {"type": "http.disconnect"}
        return await receive()

    return replayed


async def _plain(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
