"""One exception tree for rcsync.

Library code raises these; only the CLI turns them into a one-line message and an exit
status. Every message says what happened and, where there is one, what to do about it.

    RcsyncError
    ├── ConfigError            bad or unreadable configuration
    ├── DatabaseError          database missing, locked, not SQLite, too new, read-only, full
    │   └── SchemaTooNewError  written by a newer rcsync
    ├── LockedError            another rcsync process holds this database
    ├── ApiError               the RingCentral API answered with an error
    │   ├── AuthError          credentials rejected, login needed (run `rcsync login`)
    │   ├── RateLimitedError   429 that could not be waited out
    │   ├── SyncTokenInvalid   MSG-333: a full resync is needed
    │   └── ServerError        5xx after bounded retries
    ├── NetworkError           connection failed / reset / timed out after bounded retries
    └── GuardError             a push would trash or purge more than allowed without --force
"""

from __future__ import annotations


class RcsyncError(Exception):
    """Base of every error rcsync raises on purpose. `str(err)` is the user-facing line."""

    exit_code = 1


class ConfigError(RcsyncError):
    """The configuration file or environment is wrong; the message names file, key, expectation."""


class DatabaseError(RcsyncError):
    """The database cannot be used as it is."""


class SchemaTooNewError(DatabaseError):
    """The database was migrated by a newer rcsync than this one."""


class LockedError(RcsyncError):
    """Another rcsync process is working on the same database."""


class ApiError(RcsyncError):
    """RingCentral answered with an error status.

    `status` is the HTTP status, `code` RingCentral's errorCode (e.g. ``CMN-102``) when the body
    carried one.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(ApiError):
    """Not logged in, or credentials / tokens rejected. The fix is usually `rcsync login`."""


class RateLimitedError(ApiError):
    """A 429 that could not be waited out within the allowed time."""


class SyncTokenInvalid(ApiError):
    """MSG-333: the stored sync token is no longer accepted; a full resync is needed."""


class ServerError(ApiError):
    """The server kept failing (5xx) after bounded retries."""


class NetworkError(RcsyncError):
    """The server could not be reached, or the connection broke, after bounded retries."""


class GuardError(RcsyncError):
    """A push would trash or purge more messages than the guard allows without --force."""
