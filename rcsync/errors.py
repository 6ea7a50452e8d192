"""One exception tree for rcsync: every exception class it defines is here.

Library code raises these; only the CLI turns them into a one-line message and an exit
status. Every message says what happened and, where there is one, what to do about it.
(`rcsync.api.errors` maps RingCentral's answers onto this tree; the emulator, which stands
alone, has its own.)

    RcsyncError
    ├── ConfigError              bad or unreadable configuration
    ├── DatabaseError            database missing, locked, not SQLite, too new, read-only, full
    │   └── SchemaTooNewError    written by a newer rcsync
    ├── LockedError              another rcsync process holds this database
    ├── ApiError                 the RingCentral API answered with an error
    │   ├── AuthError            credentials rejected, login needed (run `rcsync login`)
    │   ├── RateLimitedError     429 that could not be waited out
    │   ├── SyncTokenInvalid     MSG-333 or CMN-101 on the sync token: a full resync is needed
    │   ├── ServerError          5xx after bounded retries
    │   ├── AmbiguousWriteError  a trash DELETE may or may not have been applied
    │   ├── MalformedResponse    a 2xx whose body is not what the API documents
    │   └── JournalUnsettled     an interrupted push's messages could not be read back
    ├── NetworkError             connection failed / reset / timed out after bounded retries
    ├── GuardError               a push would trash or purge more than allowed without --force
    ├── SelectionError           mark/delete/restore/revert selected nothing, or unknown ids
    ├── SearchError              a search query that cannot be run
    └── ExportError              an export that cannot be made as asked

Outside the tree, because they are control flow inside `watch` and never reach the user:

    StopRequested                a stop was requested while a step waited (ends the step)
    StepIncomplete               a push sent some edits but not all (the step is retried)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rcsync.types import ItemResult


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
    """MSG-333 (or CMN-101 on syncToken): the stored token is refused; a full resync is needed."""


class ServerError(ApiError):
    """The server kept failing (5xx) after bounded retries."""


class AmbiguousWriteError(ApiError):
    """A non-idempotent write (trash DELETE) may or may not have been applied.

    The request left, but its answer was lost (dropped connection, timeout) or was a 5xx.
    Sending it again could purge messages that the first attempt moved to the trash, so it is
    never resent automatically: the caller re-reads the remote state of `ids` and decides.
    `completed` holds the per-message results of the chunks that finished before this one;
    later chunks were not sent.
    """

    def __init__(
        self,
        message: str,
        *,
        ids: Sequence[int] = (),
        completed: Mapping[int, ItemResult] | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.ids: tuple[int, ...] = tuple(ids)
        self.completed: dict[int, ItemResult] = dict(completed or {})


class MalformedResponse(ApiError):
    """The server answered 2xx but the body is not what the API documents."""


class JournalUnsettled(ApiError):
    """Messages an interrupted push wrote to could not be read: nothing may be merged yet."""


class NetworkError(RcsyncError):
    """The server could not be reached, or the connection broke, after bounded retries."""


class GuardError(RcsyncError):
    """A push would trash or purge more messages than the guard allows without --force."""


class SelectionError(RcsyncError):
    """The command's selection is empty or names messages that do not exist."""


class SearchError(RcsyncError):
    """The query cannot be searched for (empty, or not understood even as words)."""


class ExportError(RcsyncError):
    """The export cannot be made as asked (bad option, unwritable or occupied destination)."""


# --- control flow of `watch`, outside the tree (see the module docstring) ------------------


class StopRequested(Exception):
    """Raised inside a step (by `interruptible_sleep`) once a stop was requested.

    It is raised only where the engine would sleep (rate-limit pacing, retry backoff), i.e.
    between HTTP requests and outside transactions: what the step had committed stays, the
    rest stays pending and is planned afresh next time.
    """


class StepIncomplete(Exception):
    """A push sent some edits but not all (transient failures); retried with backoff."""
