"""Load, merge and validate rcsync's configuration.

Lookup order (INTERFACE.md): ``--config PATH``, ``$RCSYNC_CONFIG``, the platform's user config
dir (``platformdirs``), then built-in defaults. Secrets and a few paths may come from the
environment instead of the file (``RCSYNC_CLIENT_ID``, ``RCSYNC_CLIENT_SECRET``, ``RCSYNC_JWT``,
``RCSYNC_SERVER``, ``RCSYNC_DB``); the environment wins over the file.

Validation is strict on purpose: an unknown key is an error (a typo must never be silently
ignored), and every message names the file, the key and what was expected. No network, no DB.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from rcsync.errors import ConfigError
from rcsync.types import ConflictPolicy, ExtensionScope, MessageType, RowDelete, UseExport

APP = "rcsync"
DEFAULT_SERVER = "https://platform.ringcentral.com"


E = TypeVar("E", bound=StrEnum)


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "messages.db"


def default_token_file() -> Path:
    return Path(platformdirs.user_state_dir(APP)) / "tokens.json"


def token_file_for(config_file: Path | None) -> Path:
    """The default token file of one config: two configs must not share a token pair.

    The default config (or none at all) keeps ``tokens.json``, so upgrading logs nobody
    out; any other config file gets its own file, named after its resolved path.
    """
    if config_file is None:
        return default_token_file()
    resolved = home_path(config_file).resolve()
    if resolved == default_config_path().resolve():
        return default_token_file()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return default_token_file().with_name(f"tokens-{resolved.stem}-{digest}.json")


class Origin(StrEnum):
    """Where an effective setting came from (`rcsync config show`)."""

    DEFAULT = "default"
    FILE = "config file"
    ENV = "env"
    FLAG = "flag"


@dataclass(frozen=True)
class RingCentralConfig:
    server: str = DEFAULT_SERVER
    client_id: str = ""
    client_secret: str = ""
    jwt: str = ""
    # Legacy password grant (RingCentral's older samples); JWT is preferred.
    username: str = ""
    extension: str = ""
    password: str = ""
    token_file: Path = field(default_factory=default_token_file)
    # Plain http:// is allowed only to loopback unless this is set (or --insecure is given).
    insecure: bool = False
    # TLS verification; turn off only for a test proxy you trust.
    verify_tls: bool = True
    timeout: float = 30.0

    def __repr__(self) -> str:  # never print secrets, not even in a debugger or a -v log
        return f"RingCentralConfig(server={self.server!r}, client_id={self.client_id!r}, ...)"


@dataclass(frozen=True)
class DatabaseConfig:
    path: Path = field(default_factory=default_db_path)
    # None means "files" beside the database.
    files: Path | None = None

    @property
    def files_dir(self) -> Path:
        return self.files if self.files is not None else self.path.parent / "files"


@dataclass(frozen=True)
class SyncConfig:
    history_start: dt.date = dt.date(2000, 1, 1)
    message_types: tuple[MessageType, ...] = tuple(MessageType)
    download_attachments: bool = True
    # SMS/Pager text is taken from the record's subject (RingCentral replicates the text
    # there); true also fetches each Text part: one Medium-group request (40/min) per message.
    download_text_parts: bool = False
    # Skip attachments larger than this many bytes (0 = no limit).
    max_attachment_size: int = 0
    # Attachment types to download (MessageAttachmentTypeEnum); empty = all.
    attachment_types: tuple[str, ...] = ()
    conflict_policy: ConflictPolicy = ConflictPolicy.NEWEST
    row_delete: RowDelete = RowDelete.TRASH
    watch_interval: float = 300.0
    # `watch` subscribes to RingCentral's WebSocket notifications and pulls as soon as an
    # event names a change; the periodic pull stays as a safety net.
    push_notifications: bool = True
    # A push that would trash or purge more messages than this needs --force.
    delete_guard: int = 100


@dataclass(frozen=True)
class HooksConfig:
    """Shell commands run after pull/push/sync/verify/prune and by watch (`sync.hooks`)."""

    on_success: str = ""
    on_failure: str = ""
    on_new_messages: str = ""
    # Seconds a hook may run before it (and its children) are killed.
    timeout: float = 30.0


@dataclass(frozen=True)
class AccountConfig:
    # "self", "all", or extension numbers as users know them (("101", "105")).
    extensions: ExtensionScope | tuple[str, ...] = ExtensionScope.SELF
    # Attachments from RingCentral's message-store export (admin logins) instead of one
    # content request each: auto | never | always.
    use_export: UseExport = UseExport.AUTO
    # Keep the export's zip files (under the attachments folder's .export) once their
    # attachments are taken; by default they are deleted then.
    keep_export_archives: bool = False


@dataclass(frozen=True)
class Config:
    ringcentral: RingCentralConfig = field(default_factory=RingCentralConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    account: AccountConfig = field(default_factory=AccountConfig)
    # Where the values came from, for messages: a path, or "defaults".
    source: str = "defaults"
    # "section.key" -> where that value came from: (Origin, the file/variable/flag);
    # keys not listed are defaults.
    origins: Mapping[str, tuple[Origin, str]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def origin(self, section: str, key: str) -> tuple[Origin, str]:
        return self.origins.get(f"{section}.{key}", (Origin.DEFAULT, ""))


# --- value checkers: each returns the converted value or raises ValueError("expected ...") ---


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("expected a string")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("expected true or false")
    return v


def home_path(path: str | Path) -> Path:
    """`path` with a leading ``~`` or ``~user`` expanded. A user without a home directory
    (``~nobody-here``) is a one-line ConfigError, not pathlib's RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        head = Path(path).parts[0]
        raise ConfigError(f"{path}: {head} names no home directory") from None


def _path(v: Any) -> Path:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a non-empty path string")
    try:
        return home_path(os.path.expandvars(v))
    except ConfigError:  # the file and key are named by the caller
        raise ValueError(f"{Path(v).parts[0]} names no home directory") from None


def _positive_number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise ValueError("expected a positive number")
    return float(v)


def _non_negative_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError("expected a whole number >= 0")
    return v


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    raise ValueError('expected a date like "2000-01-01"')


def parse_server(v: Any) -> str:
    """A server URL as rcsync stores it (no trailing slash); ValueError says what is wrong."""
    s = _str(v).rstrip("/")
    scheme, sep, rest = s.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError('expected an http(s) URL such as "https://platform.ringcentral.com"')
    if not rest:
        raise ValueError("expected an http(s) URL with a host")
    return s


def _one_of(enum: type[E]) -> Callable[[Any], E]:
    choices = tuple(enum)

    def check(v: Any) -> E:
        if v not in choices:
            raise ValueError("expected " + ", ".join(choices[:-1]) + " or " + choices[-1])
        return enum(v)

    return check


def _list_of(
    choices: tuple[str, ...] | None, *, allow_empty: bool
) -> Callable[[Any], tuple[str, ...]]:
    """A list of strings (each one of `choices`, when given), duplicates dropped."""

    def check(v: Any) -> tuple[str, ...]:
        what = f"a list of {', '.join(choices)}" if choices else "a list of strings"
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ValueError(f"expected {what}")
        if choices and any(x not in choices for x in v):
            raise ValueError(f"expected {what}")
        if not v and not allow_empty:
            raise ValueError(f"expected {what} (at least one)")
        return tuple(dict.fromkeys(v))

    return check


_message_type_names = _list_of(tuple(MessageType), allow_empty=False)


def _message_types(v: Any) -> tuple[MessageType, ...]:
    return tuple(MessageType(x) for x in _message_type_names(v))


def extension_numbers(v: Any) -> ExtensionScope | tuple[str, ...]:
    """``"self"``, ``"all"`` or a non-empty list of extension numbers (digits; TOML integers
    are taken too, as people write ``[101, 105]``)."""
    what = 'expected "self", "all" or a list of extension numbers such as ["101", "105"]'
    if isinstance(v, str):
        if v in tuple(ExtensionScope):
            return ExtensionScope(v)
        raise ValueError(what)
    if not isinstance(v, list) or not v:
        raise ValueError(what)
    numbers: list[str] = []
    for x in v:
        text = str(x).strip() if isinstance(x, int | str) and not isinstance(x, bool) else ""
        if not (text.isascii() and text.isdigit()):
            raise ValueError(what)
        numbers.append(text)
    return tuple(dict.fromkeys(numbers))


ATTACHMENT_TYPES = (
    "AudioRecording",
    "AudioTranscription",
    "Text",
    "SourceDocument",
    "RenderedDocument",
    "MmsAttachment",
)

_CHECKERS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "ringcentral": {
        "server": parse_server,
        "client_id": _str,
        "client_secret": _str,
        "jwt": _str,
        "username": _str,
        "extension": _str,
        "password": _str,
        "token_file": _path,
        "insecure": _bool,
        "verify_tls": _bool,
        "timeout": _positive_number,
    },
    "database": {"path": _path, "files": _path},
    "sync": {
        "history_start": _date,
        "message_types": _message_types,
        "download_attachments": _bool,
        "download_text_parts": _bool,
        "max_attachment_size": _non_negative_int,
        "attachment_types": _list_of(ATTACHMENT_TYPES, allow_empty=True),
        "conflict_policy": _one_of(ConflictPolicy),
        "row_delete": _one_of(RowDelete),
        "watch_interval": _positive_number,
        "push_notifications": _bool,
        "delete_guard": _non_negative_int,
    },
    "hooks": {
        "on_success": _str,
        "on_failure": _str,
        "on_new_messages": _str,
        "timeout": _positive_number,
    },
    "account": {
        "extensions": extension_numbers,
        "use_export": _one_of(UseExport),
        "keep_export_archives": _bool,
    },
}

_ENV_OVERRIDES = {
    "RCSYNC_CLIENT_ID": ("ringcentral", "client_id"),
    "RCSYNC_CLIENT_SECRET": ("ringcentral", "client_secret"),
    "RCSYNC_JWT": ("ringcentral", "jwt"),
    "RCSYNC_SERVER": ("ringcentral", "server"),
    "RCSYNC_DB": ("database", "path"),
}


def _render(v: Any) -> str:
    if isinstance(v, str):
        # Escaped (\n, \t, quotes) so the error stays on one line whatever the value.
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def _validate(data: Mapping[str, Any], origin: str) -> dict[str, dict[str, Any]]:
    """Check every table and key; return converted values. Raise ConfigError naming the key."""
    out: dict[str, dict[str, Any]] = {}
    for section, values in data.items():
        if section not in _CHECKERS:
            known = ", ".join(f"[{s}]" for s in _CHECKERS)
            raise ConfigError(f"{origin}: unknown section [{section}]: expected one of {known}")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: {section} must be a table ([{section}])")
        checkers = _CHECKERS[section]
        for key, value in values.items():
            if key not in checkers:
                raise ConfigError(
                    f"{origin}: [{section}] unknown key {key!r}: expected one of "
                    + ", ".join(checkers)
                )
            try:
                out.setdefault(section, {})[key] = checkers[key](value)
            except ValueError as exc:
                shown = _render(value)
                raise ConfigError(f"{origin}: [{section}] {key} = {shown}: {exc}") from None
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line L, column C)".
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def find_config_file(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The file to read, by INTERFACE.md's lookup order; None means built-in defaults."""
    if explicit is not None:
        if not explicit.exists():
            raise ConfigError(f"{explicit}: config file not found")
        return explicit
    if env.get("RCSYNC_CONFIG"):
        p = home_path(env["RCSYNC_CONFIG"])
        if not p.exists():
            raise ConfigError(f"{p}: config file not found (from $RCSYNC_CONFIG)")
        return p
    p = default_config_path()
    return p if p.exists() else None


# Keys holding paths: a relative one in a config file means "beside the config file".
_PATH_KEYS = (("ringcentral", "token_file"), ("database", "path"), ("database", "files"))


def _resolve_relative(data: dict[str, dict[str, Any]], base: Path) -> None:
    for section, key in _PATH_KEYS:
        value = data.get(section, {}).get(key)
        if isinstance(value, Path) and not value.is_absolute():
            data[section][key] = base / value


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    db_override: Path | None = None,
) -> Config:
    """Read and validate the configuration. `db_override` is the CLI's --db."""
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    origin = str(file) if file else "defaults"
    data = _validate(_read_toml(file), origin) if file else {}
    origins: dict[str, tuple[Origin, str]] = {}
    if file:
        _resolve_relative(data, Path(os.path.abspath(home_path(file))).parent)
        origins.update(
            (f"{s}.{k}", (Origin.FILE, str(file))) for s, keys in data.items() for k in keys
        )
    for var, (section, key) in _ENV_OVERRIDES.items():
        if env.get(var):
            checked = _validate({section: {key: env[var]}}, f"${var}")
            data.setdefault(section, {})[key] = checked[section][key]
            origins[f"{section}.{key}"] = (Origin.ENV, f"${var}")
    if db_override is not None:
        data.setdefault("database", {})["path"] = home_path(db_override)
        origins["database.path"] = (Origin.FLAG, "--db")
    if "token_file" not in data.get("ringcentral", {}):
        data.setdefault("ringcentral", {})["token_file"] = token_file_for(file)
    cfg = Config(source=origin, origins=origins)
    for section, values in data.items():
        current = getattr(cfg, section)
        cfg = replace(cfg, **{section: replace(current, **values)})
    return cfg


def as_toml_dict(cfg: Config, *, hide_secrets: bool = True) -> dict[str, dict[str, Any]]:
    """The effective configuration as plain values (for `rcsync status` / `init`)."""
    secret = {"client_secret", "jwt", "password"}
    out: dict[str, dict[str, Any]] = {}
    for section in ("ringcentral", "database", "sync", "hooks", "account"):
        obj = getattr(cfg, section)
        for f in fields(obj):
            v = getattr(obj, f.name)
            if hide_secrets and f.name in secret and v:
                v = "***"
            elif isinstance(v, Path):
                v = str(v)
            elif isinstance(v, dt.date):
                v = v.isoformat()
            elif isinstance(v, tuple):
                v = list(v)
            out.setdefault(section, {})[f.name] = v
    return out
