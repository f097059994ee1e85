"""The one client for OpenAI-compatible HTTP endpoints (systems, judges, cascade stages).

Everything that talks to such an endpoint goes through :class:`ApiClient`, so timeouts, retries and
their accounting mean the same everywhere: connection failures, timeouts and the statuses in
:data:`RETRY_STATUS` are retried with exponential backoff and full jitter (so concurrent workers do not
retry in lockstep), a ``Retry-After`` header (seconds or an HTTP date) is honoured up to
``max_backoff_s``, other 4xx answers fail at once (the same request would get the same answer). A
request that still fails raises :class:`ApiError` with a one-line message naming the endpoint.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
T = TypeVar("T")


class ApiError(Exception):
    """A request failed. ``retryable``: a later attempt (or run) may succeed; ``status``: the HTTP status."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable, self.status, self.retry_after = retryable, status, retry_after


def resolve_base_url(base_url: str | None, *env: str) -> str:
    """``base_url``, else the first set environment variable of ``env`` (then ``OPENAI_BASE_URL``), else OpenAI's."""
    for value in (base_url, *(os.environ.get(e) for e in (*env, "OPENAI_BASE_URL"))):
        if value:
            return value.rstrip("/")
    return DEFAULT_BASE_URL


def resolve_api_key(api_key: str | None, *env: str) -> str:
    """``api_key`` (an empty string means none), else the first set of ``env`` then ``OPENAI_API_KEY``."""
    if api_key is not None:
        return api_key
    for name in (*env, "OPENAI_API_KEY"):
        if os.environ.get(name):
            return os.environ[name]
    return ""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ApiClient:
    """One OpenAI-compatible endpoint: base URL, key, timeout, retry policy, a pooled ``httpx`` client."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, env: tuple[str, ...] = (),
                 timeout_s: float = 120.0, max_retries: int = 2, backoff_s: float = 0.5, max_backoff_s: float = 60.0,
                 max_connections: int | None = None, rng: random.Random | None = None):
        self.base_url = resolve_base_url(base_url, *(f"{e}_BASE_URL" for e in env))
        self.api_key = resolve_api_key(api_key, *(f"{e}_API_KEY" for e in env))
        self.timeout_s = float(timeout_s)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.max_connections = max_connections
        self._rng = rng or random.Random()
        self._client = None
        self._lock = threading.Lock()

    def __getstate__(self):  # picklable for Ray: the connection pool and lock are rebuilt on the other side
        state = dict(self.__dict__)
        state["_client"], state["_lock"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def http(self):
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                limits = httpx.Limits(max_connections=self.max_connections) if self.max_connections else httpx.Limits()
                self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout_s,
                                            limits=limits)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- the retry policy ------------------------------------------------------------------------------
    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry ``attempt`` (1 = the first retry)."""
        if retry_after is not None:
            return min(self.max_backoff_s, retry_after)
        cap = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return cap * (0.5 + 0.5 * self._rng.random())

    def check(self, resp, path: str = "") -> None:
        """Raise :class:`ApiError` for a non-2xx response (retryable for :data:`RETRY_STATUS`)."""
        if resp.status_code < 400:
            return
        try:
            text = resp.text[:300]
        except Exception:  # noqa: BLE001 - a streamed body not read yet
            text = ""
        raise ApiError(f"HTTP {resp.status_code} from {self.base_url}{path}: {text}",
                       retryable=resp.status_code in RETRY_STATUS, status=resp.status_code,
                       retry_after=parse_retry_after(resp.headers.get("retry-after")))

    def call(self, attempt: Callable[[Any], T], *, meta: dict[str, Any] | None = None) -> T:
        """``attempt(httpx_client)`` with retries. Timeouts, connection errors and a retryable
        :class:`ApiError` (raised by :meth:`check` or by ``attempt`` itself, e.g. for a garbage body)
        are retried; any other exception propagates at once. ``meta`` accumulates ``attempts``,
        ``retries`` and ``latency_s``."""
        import httpx

        meta = meta if meta is not None else {}
        last: ApiError | None = None
        for n in range(self.max_retries + 1):
            if n:
                meta["retries"] = meta.get("retries", 0) + 1
                time.sleep(self.delay(n, last.retry_after if last else None))
            meta["attempts"] = meta.get("attempts", 0) + 1
            start = time.perf_counter()
            try:
                return attempt(self.http)
            except httpx.TimeoutException:
                last = ApiError(f"timeout: {self.base_url} timed out after {self.timeout_s:g} s", retryable=True)
            except httpx.TransportError as e:
                last = ApiError(f"cannot reach {self.base_url}: {type(e).__name__}: {e}", retryable=True)
            except ApiError as e:
                if not e.retryable:
                    raise
                last = e
            finally:
                meta["latency_s"] = meta.get("latency_s", 0.0) + time.perf_counter() - start
        assert last is not None
        suffix = f" (after {self.max_retries + 1} attempts)" if self.max_retries else ""
        raise ApiError(f"{last}{suffix}", retryable=True, status=last.status)

    def post_json(self, path: str, *, meta: dict[str, Any] | None = None,
                  parse: Callable[[Any], T] | None = None, **kw: Any) -> T:
        """POST with retries; returns ``parse(response)`` (default: the response itself) after a 2xx."""

        def attempt(http):
            resp = http.post(path, **kw)
            self.check(resp, path)
            return parse(resp) if parse is not None else resp

        return self.call(attempt, meta=meta)

    @contextmanager
    def stream(self, method: str, path: str, **kw: Any) -> Iterator[Any]:
        """A streamed response whose status was checked (wrap the whole use in :meth:`call` to retry)."""
        with self.http.stream(method, path, **kw) as resp:
            if resp.status_code >= 400:
                resp.read()
                self.check(resp, path)
            yield resp
