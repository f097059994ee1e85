"""Who is voting: server-signed sessions, Hugging Face accounts, and the client's address.

* **Sessions** are issued by the server: a random id plus an HMAC under the server's secret, in an
  ``HttpOnly`` cookie. A client cannot choose its session (a made-up or altered cookie fails the
  signature and gets a fresh session), so nothing a client sends picks whose budget a vote uses.
* **Accounts**: on Hugging Face Spaces a counted vote needs Sign in with Hugging Face (Gradio's OAuth);
  the voter is then ``hf:<username>``. Without an account the voter is its session, and its votes
  count only where the operator allows anonymous votes (the default locally, not on Spaces).
* **Addresses**: the TCP peer, unless that peer is one of the configured proxies, in which case the
  address is taken from ``X-Forwarded-For`` (the right-most hop that is not itself a trusted proxy).
  Nobody else's ``X-Forwarded-For`` is read. Addresses are stored only as keyed hashes (``ip:<hex>``):
  enough to group votes by address, not a list of visitors' IPs in a dataset.

The secret comes from ``S2S_ARENA_SECRET``, else a file kept beside the vote store (created once,
mode 0600), else fresh randomness (sessions and address hashes then last as long as the process).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from s2s_arena.errors import ConfigError

SECRET_ENV = "S2S_ARENA_SECRET"
PROXIES_ENV = "S2S_ARENA_TRUSTED_PROXIES"
SESSION_COOKIE = "s2s_arena_session"
# Where a Space runs, its only way in is Hugging Face's proxy, whose hops have private addresses.
SPACES_PROXIES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


def on_spaces() -> bool:
    """True inside a Hugging Face Space (the variables the Spaces runtime sets)."""
    return os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("SPACE_ID"))


def load_secret(folder: str | os.PathLike | None = None) -> bytes:
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    if folder is not None and Path(folder).is_dir():
        path = Path(folder) / "arena_secret"
        try:
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
            return path.read_text().strip().encode()
        except (FileExistsError, OSError):
            if path.is_file():
                return path.read_text().strip().encode()
    return secrets.token_bytes(32)


def parse_networks(spec: str | Iterable[str] | None, *, where: str = "trusted proxies") -> tuple:
    """``"10.0.0.1, 172.16.0.0/12"`` (or a list) as ip networks; ConfigError naming a bad entry."""
    if spec is None:
        return ()
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s and s.strip()]
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{where}: {item!r} is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)") from None
    return tuple(nets)


def default_proxies() -> tuple:
    if os.environ.get(PROXIES_ENV) is not None:
        return parse_networks(os.environ[PROXIES_ENV], where=PROXIES_ENV)
    return parse_networks(SPACES_PROXIES) if on_spaces() else ()


@dataclass(frozen=True)
class Voter:
    """One request's voter: ``key`` is what limits and the risk sweep group by; ``address`` a hashed
    address; ``can_count`` whether this voter's votes may count at all (``why_not`` otherwise)."""

    key: str
    address: str
    account: str | None = None
    can_count: bool = True
    why_not: str = ""


class Identity:
    """Signs sessions, resolves addresses and turns (session, account, peer, headers) into a Voter."""

    def __init__(self, secret: bytes, *, trusted_proxies: Sequence = (), require_login: bool = False):
        self.secret = secret
        self.trusted_proxies = tuple(trusted_proxies)
        self.require_login = require_login

    # --- sessions ---------------------------------------------------------------------------------
    def _mac(self, sid: str) -> str:
        return hmac.new(self.secret, b"session:" + sid.encode(), hashlib.sha256).hexdigest()[:32]

    def new_session(self) -> tuple[str, str]:
        """(session id, cookie value)."""
        sid = secrets.token_urlsafe(16)
        return sid, f"{sid}.{self._mac(sid)}"

    def session_of(self, cookie: str | None) -> str | None:
        """The session id of a cookie value, or None when it is missing or not signed by us."""
        if not cookie or not isinstance(cookie, str) or cookie.count(".") != 1 or len(cookie) > 128:
            return None
        sid, mac = cookie.split(".")
        return sid if sid and hmac.compare_digest(mac, self._mac(sid)) else None

    # --- addresses --------------------------------------------------------------------------------
    def _trusted(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted_proxies)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client's IP: the peer, or (only when the peer is a trusted proxy) the right-most hop of
        ``X-Forwarded-For`` that is not a trusted proxy."""
        peer = peer or ""
        if not forwarded_for or not self._trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()][-32:]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def address_id(self, ip: str) -> str:
        if not ip:
            return ""
        return "ip:" + hmac.new(self.secret, b"address:" + ip.encode(), hashlib.sha256).hexdigest()[:16]

    # --- voters -----------------------------------------------------------------------------------
    def voter(self, session: str | None, *, account: str | None, peer: str,
              forwarded_for: str | None = None) -> Voter:
        address = self.address_id(self.client_address(peer, forwarded_for))
        if account:
            return Voter(f"hf:{account}", address, account=account)
        key = f"s:{session}" if session else f"anon:{address or 'unknown'}"
        if self.require_login:
            return Voter(key, address, can_count=False, why_not="anonymous")
        if not session:
            return Voter(key, address, can_count=False, why_not="no_session")
        return Voter(key, address)
