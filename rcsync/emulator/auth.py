"""OAuth sessions: RingCentral's token endpoint rules, in memory.

- Client authentication: HTTP Basic ``emulator-client:emulator-secret`` (else 401 ``OAU-146``).
- Grants: JWT bearer (assertion ``emulator-jwt`` = extension 101, the account's super
  admin; ``emulator-user-jwt`` = extension 102, a plain user, when the account has it), the
  legacy password grant (``+15550100`` / extension ``101`` / ``emulator-password``;
  RingCentral retired it in 2024 but older samples use it), and ``refresh_token``. Wrong
  credentials → 400 ``invalid_grant`` ``OAU-140``.
- Lifetimes: access 3600 s (``access_token_ttl`` honoured within 600..3600; the emulator's
  configured TTL caps it so tests can shorten it), refresh 604800 s (``refresh_token_ttl``
  up to 30 days).
- Refresh tokens are single-use and rotated: a refresh issues a new pair and invalidates the
  old access token; presenting the old refresh token again → 400 ``invalid_grant``
  ``OAU-213`` "Token not found"; an expired one → ``OAU-210`` "Token expired".
- Revoke ends the whole session (access and refresh). Deleting an extension ends all of its
  sessions (its tokens then answer ``OAU-213``) and its JWT stops granting (``OAU-140``).
- API calls: missing ``Authorization`` → 401 ``CMN-405``; unparsable token → 401 ``OAU-149``;
  expired → 401 ``OAU-128``; revoked or replaced → 401 ``OAU-213``.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from .clock import Clock

CLIENT_ID = "emulator-client"
CLIENT_SECRET = "emulator-secret"
JWT_ASSERTION = "emulator-jwt"
USER_JWT_ASSERTION = "emulator-user-jwt"
USERNAME = "+15550100"
EXTENSION = "101"
PASSWORD = "emulator-password"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TTL = 3600
REFRESH_TTL = 604_800
SCOPE = "ReadAccounts ReadMessages EditMessages"
_PREFIX = "EMU1"


class AuthFailure(Exception):
    """An OAuth or bearer-token failure with RingCentral's status, code and message."""

    def __init__(self, status: int, error: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message = status, error, code, message


@dataclass
class Session:
    id: str
    access: str
    refresh: str
    access_expires: float
    refresh_expires: float
    owner_id: str
    revoked: bool = False


class Auth:
    """Issues and checks tokens; `owner_id` is the extension the admin JWT and the password
    grant log in as, `assertions` maps every JWT assertion to the extension it logs in as."""

    def __init__(self, clock: Clock, owner_id: str) -> None:
        self.clock = clock
        self.owner_id = owner_id
        self.assertions: dict[str, str] = {JWT_ASSERTION: owner_id}
        self.access_ttl = ACCESS_TTL
        self._by_access: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}

    @staticmethod
    def client_of(authorization: str | None) -> str | None:
        """The client id from a Basic header (even if the secret is wrong), else None."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except ValueError:
            return None
        return decoded.partition(":")[0]

    def check_client(self, authorization: str | None) -> None:
        good = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if not authorization or authorization.strip() != f"Basic {good}":
            raise AuthFailure(401, "invalid_client", "OAU-146", "Invalid client credentials")

    def grant(self, form: dict[str, str]) -> dict[str, object]:
        """Handle a token request body (client already checked); returns `TokenInfo`."""
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_GRANT:
            owner = self.assertions.get(form.get("assertion", ""))
            if owner is None:
                raise AuthFailure(
                    400, "invalid_grant", "OAU-140", "Invalid resource owner credentials"
                )
            return self._issue(form, owner)
        if grant_type == "password":
            username = form.get("username", "")
            user, _, ext = username.partition("*")
            extension = form.get("extension") or ext or EXTENSION
            if user != USERNAME or extension != EXTENSION or form.get("password") != PASSWORD:
                raise AuthFailure(
                    400, "invalid_grant", "OAU-140", "Invalid resource owner credentials"
                )
            return self._issue(form, self.owner_id)
        if grant_type == "refresh_token":
            return self._refresh(form)
        raise AuthFailure(400, "unsupported_grant_type", "OAU-250", "Unsupported grant type")

    def _ttls(self, form: dict[str, str]) -> tuple[int, int]:
        try:
            asked = int(form.get("access_token_ttl") or ACCESS_TTL)
            refresh = int(form.get("refresh_token_ttl") or REFRESH_TTL)
        except ValueError as exc:
            raise AuthFailure(
                400, "invalid_request", "OAU-101", "Parameter value is invalid"
            ) from exc
        return min(self.access_ttl, max(600, min(asked, ACCESS_TTL))), max(
            1, min(refresh, 2_592_000)
        )

    def _issue(
        self, form: dict[str, str], owner_id: str, session_id: str | None = None
    ) -> dict[str, object]:
        access_ttl, refresh_ttl = self._ttls(form)
        now = self.clock.now()
        session = Session(
            id=session_id or secrets.token_hex(8),
            access=_PREFIX + secrets.token_urlsafe(24),
            refresh=_PREFIX + secrets.token_urlsafe(24),
            access_expires=now + access_ttl,
            refresh_expires=now + refresh_ttl,
            owner_id=owner_id,
        )
        self._by_access[session.access] = session
        self._by_refresh[session.refresh] = session
        return {
            "access_token": session.access,
            "token_type": "bearer",
            "expires_in": access_ttl,
            "refresh_token": session.refresh,
            "refresh_token_expires_in": refresh_ttl,
            "scope": SCOPE,
            "owner_id": owner_id,
            "endpoint_id": form.get("endpoint_id") or "emulator-endpoint",
            "session_id": session.id,
        }

    def _refresh(self, form: dict[str, str]) -> dict[str, object]:
        session = self._by_refresh.get(form.get("refresh_token", ""))
        if session is None or session.revoked:
            raise AuthFailure(400, "invalid_grant", "OAU-213", "Token not found")
        now = self.clock.now()
        if now >= session.refresh_expires:
            raise AuthFailure(400, "invalid_grant", "OAU-210", "Token expired")
        # Single use: the old pair dies now.
        self._kill(session)
        return self._issue(form, session.owner_id, session.id)

    def _kill(self, session: Session) -> None:
        session.revoked = True
        self._by_access.pop(session.access, None)
        self._by_refresh.pop(session.refresh, None)

    def revoke(self, token: str) -> None:
        session = self._by_access.get(token) or self._by_refresh.get(token)
        if session is not None:
            self._kill(session)

    def check_bearer(self, authorization: str | None, query_token: str | None = None) -> Session:
        """The session of a valid access token, or raise AuthFailure (401)."""
        token = query_token
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip()
        if not token:
            raise AuthFailure(401, "invalid_request", "CMN-405", "Login to extension required.")
        if not token.startswith(_PREFIX):
            raise AuthFailure(401, "invalid_request", "OAU-149", "Unparsable access token")
        session = self._by_access.get(token)
        if session is None or session.revoked:
            raise AuthFailure(401, "invalid_request", "OAU-213", "Token not found")
        now = self.clock.now()
        if now >= session.access_expires:
            raise AuthFailure(401, "invalid_request", "OAU-128", "Access token expired")
        return session

    def forget_owner(self, owner_id: str) -> None:
        """An extension was deleted: its sessions end and no JWT logs in as it any more."""
        for session in [s for s in self._by_access.values() if s.owner_id == owner_id]:
            self._kill(session)
        for session in [s for s in self._by_refresh.values() if s.owner_id == owner_id]:
            self._kill(session)
        self.assertions = {k: v for k, v in self.assertions.items() if v != owner_id}

    def expire_all(self) -> None:
        """Every access token issued so far expires now; refresh tokens keep working."""
        now = self.clock.now()
        for session in self._by_access.values():
            session.access_expires = min(session.access_expires, now)

    def expire_refresh_all(self) -> None:
        """Every refresh token issued so far expires now (forces a new login)."""
        now = self.clock.now()
        for session in self._by_refresh.values():
            session.refresh_expires = min(session.refresh_expires, now)
