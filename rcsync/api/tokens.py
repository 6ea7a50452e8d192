"""The OAuth token pair on disk.

RingCentral refresh tokens are single-use: once a refresh succeeds, the old refresh token dies
(after a short grace period). So the file is the single source of truth shared by every rcsync
process of the user, and three rules follow:

* writes are atomic (temp file in the same directory, fsync, ``os.replace``) so a crash never
  leaves half a token file behind;
* the file is private (0600) because it grants access to the user's messages;
* a refresh happens under an exclusive ``flock`` on a sidecar ``.lock`` file, and the caller
  re-reads the file under that lock: if another process refreshed meanwhile, its pair is used
  instead of spending a refresh token that is already gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rcsync.config import Config

log = logging.getLogger("rcsync.api")

#: Refresh this long before the access token expires, so a request never leaves with a token
#: that dies in flight.
REFRESH_MARGIN = 60.0


@dataclass(frozen=True)
class TokenInfo:
    """One token pair; times are epoch seconds."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    refresh_expires_at: float | None
    owner_id: str | None = None
    scope: str = ""
    server: str = ""
    client_id: str = ""

    def __repr__(self) -> str:  # never show tokens, not even in a debugger or a -v log
        return (
            f"TokenInfo(owner_id={self.owner_id!r}, expires_at={self.expires_at!r}, "
            f"refresh_expires_at={self.refresh_expires_at!r}, server={self.server!r})"
        )

    def access_fresh(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        return now + margin < self.expires_at

    def can_refresh(self, now: float) -> bool:
        if not self.refresh_token:
            return False
        return self.refresh_expires_at is None or now < self.refresh_expires_at

    def matches(self, server: str, client_id: str) -> bool:
        """True if this pair was issued to this app on this server (another one is useless)."""
        return self.server.rstrip("/") == server.rstrip("/") and self.client_id == client_id

    @classmethod
    def from_token_response(
        cls, data: Mapping[str, Any], *, now: float, server: str, client_id: str
    ) -> TokenInfo:
        """Build from a /restapi/oauth/token answer. Raises KeyError/TypeError/ValueError."""
        access = data["access_token"]
        if not isinstance(access, str) or not access:
            raise ValueError("access_token is not a non-empty string")
        refresh = data.get("refresh_token")
        refresh_in = data.get("refresh_token_expires_in")
        owner = data.get("owner_id")
        return cls(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=now + float(data["expires_in"]),
            refresh_expires_at=now + float(refresh_in) if refresh_in is not None else None,
            owner_id=str(owner) if owner is not None else None,
            scope=str(data.get("scope", "")),
            server=server.rstrip("/"),
            client_id=client_id,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenInfo:
        """Parse the stored form. Raises KeyError/TypeError/ValueError on a damaged file."""
        refresh_exp = data.get("refresh_expires_at")
        owner = data.get("owner_id")
        access = data["access_token"]
        refresh = data.get("refresh_token")
        if not isinstance(access, str) or not (refresh is None or isinstance(refresh, str)):
            raise TypeError("tokens must be strings")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=float(data["expires_at"]),
            refresh_expires_at=float(refresh_exp) if refresh_exp is not None else None,
            owner_id=str(owner) if owner is not None else None,
            scope=str(data.get("scope", "")),
            server=str(data.get("server", "")),
            client_id=str(data.get("client_id", "")),
        )


class TokenStore:
    """Load/save/clear the token file; `locked()` serialises refreshes across processes.

    `on_warning` receives human-readable warnings (e.g. file readable by others); by default
    they go to the ``rcsync.api`` logger at WARNING level.
    """

    def __init__(self, path: Path | str, *, on_warning: Callable[[str], None] | None = None):
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._warn = on_warning or log.warning

    def load(self) -> TokenInfo | None:
        """The stored pair, or None if there is none (or it is unreadable: log in again)."""
        try:
            raw = self.path.read_bytes()
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._warn(f"{self.path}: cannot read token file ({exc.strerror}); log in again")
            return None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            self._warn(
                f"{self.path}: token file is accessible by other users "
                f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {self.path}`"
            )
        try:
            return TokenInfo.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError):
            self._warn(f"{self.path}: token file is damaged; log in again (`rcsync login`)")
            return None

    def save(self, tokens: TokenInfo) -> None:
        """Write atomically with mode 0600; the parent directory is created (0700) if needed."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps(tokens.to_json(), indent=2).encode()
        # mkstemp creates the file 0600 from the start: the secret is never world-readable.
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._fsync_dir()

    def clear(self) -> None:
        """Forget the stored pair (missing file is fine)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._fsync_dir()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive cross-process lock for the duration of a refresh (or login)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            # Closing the descriptor releases the flock too; unlock first to be explicit.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _fsync_dir(self) -> None:
        # Make the rename itself durable; not every platform/filesystem allows it.
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def login_state(config: Config, now: float | None = None) -> str:
    """Describe the stored tokens without revealing them.

    Read through the API's own token store, so a damaged file or a pair issued to another
    app or server (which the client would ignore) is reported as the client sees it.
    """
    rc = config.ringcentral
    warnings: list[str] = []
    tokens = TokenStore(rc.token_file, on_warning=warnings.append).load()
    jwt_note = " (a JWT is configured: pull logs in by itself)" if rc.jwt else ""
    if tokens is None:
        if warnings and rc.token_file.exists():
            return f"token file {rc.token_file} is unreadable; run `rcsync login`"
        return "not logged in" + jwt_note
    if not tokens.matches(rc.server, rc.client_id):
        return "not logged in to this server/app (stored tokens are for another)" + jwt_note
    now = time.time() if now is None else now
    if tokens.refresh_expires_at is not None and tokens.refresh_expires_at < now:
        return "logged in, but the refresh token has expired; run `rcsync login`"
    left = int(tokens.expires_at - now)
    return (
        f"logged in (access token valid for {left // 60} min)"
        if left > 0
        else "logged in (access token expired; it is refreshed on next use)"
    )
