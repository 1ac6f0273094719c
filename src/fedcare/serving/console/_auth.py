"""Console sign-in: argon2id passwords, signed HttpOnly session cookies backed by the
registry (logout revokes the session: a copied cookie cannot be replayed), CSRF tokens on
every state-changing request, a login rate limit, and role checks."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from fedcare.registry import Registry, User

if TYPE_CHECKING:
    pass

__all__ = ["COOKIE", "Auth", "Signed", "needs"]

COOKIE = "fedcare_session"
#: Login attempts allowed per user name, and per client address (several people may share
#: one address behind a hospital's NAT).
LOGIN_LIMIT = "5/minute"
ADDRESS_LIMIT = "30/minute"


@dataclass(frozen=True)
class Signed:
    """A signed-in request: the account and its session's CSRF token."""

    user: User
    csrf: str
    token: str


class Auth:
    """Sessions and the login limiter of one console."""

    CACHE_SECONDS = 1.0

    def __init__(self, registry: Registry, *, secure_cookie: bool = False) -> None:
        from itsdangerous import URLSafeTimedSerializer
        from limits import parse, storage, strategies

        self.registry = registry
        self.secure_cookie = secure_cookie
        self.signer = URLSafeTimedSerializer(registry.secret("console_key").hex(),
                                             salt="fedcare-console-session")
        self.limit = parse(LOGIN_LIMIT)
        self.address_limit = parse(ADDRESS_LIMIT)
        self.limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._cache: dict[str, tuple[float, tuple[User, str] | None]] = {}

    # -- login ---------------------------------------------------------------------------
    def allow_attempt(self, client: str, name: str) -> bool:
        """Count one login attempt; False once the address or the name is over the limit."""
        ok_client = self.limiter.hit(self.address_limit, "ip", client)
        ok_name = self.limiter.hit(self.limit, "user", name.lower()[:64])
        return ok_client and ok_name

    def login(self, name: str, password: str) -> tuple[str, Signed] | None:
        """Check the password; on success a new session: (cookie value, the session)."""
        user = self.registry.verify_user(name, password)
        if user is None:
            return None
        token, csrf = self.registry.create_session(user)
        return self.signer.dumps(token), Signed(user, csrf, token)

    def logout(self, signed: Signed) -> None:
        self.registry.revoke_session(signed.token)
        self._cache.pop(signed.token, None)

    # -- every request ---------------------------------------------------------------------
    def current(self, request: Request) -> Signed | None:
        """The request's live session, or None (no cookie, bad signature, expired,
        revoked or disabled)."""
        from itsdangerous import BadSignature

        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 512:
            return None
        try:
            token = self.signer.loads(raw, max_age=8 * 3600)
        except BadSignature:
            return None
        if not isinstance(token, str):
            return None
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is None or cached[0] < now:
            if len(self._cache) > 10_000:
                self._cache.clear()
            cached = (now + self.CACHE_SECONDS, self.registry.session_user(token))
            self._cache[token] = cached
        found = cached[1]
        return None if found is None else Signed(found[0], found[1], token)

    def set_cookie(self, response: Any, value: str) -> None:
        response.set_cookie(COOKIE, value, httponly=True, samesite="strict",
                            secure=self.secure_cookie, max_age=8 * 3600, path="/console")

    def clear_cookie(self, response: Any) -> None:
        response.delete_cookie(COOKIE, path="/console")


def check_csrf(signed: Signed, sent: str | None) -> None:
    """403 unless ``sent`` is the session's CSRF token."""
    if not sent or not hmac.compare_digest(sent.encode(), signed.csrf.encode()):
        raise HTTPException(403, detail="missing or wrong CSRF token: reload the page and "
                                        "try again")


def needs(signed: Signed | None, action: str) -> Signed:
    """The session, which must exist (401) and whose role must allow ``action`` (403)."""
    if signed is None:
        raise HTTPException(401, detail="sign in first")
    if not signed.user.can(action):
        raise HTTPException(403, detail=f"your role ({signed.user.role}) may not do this "
                                        f"({action})")
    return signed
