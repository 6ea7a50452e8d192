"""The pytest fixtures every test folder shares (registered in tests/conftest.py).

Where a folder's tests ask for a short generic name (`env`, `emu`, `clock`), that folder's
conftest.py says which of these it means, in one line each.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from rcsync.api import MessageStoreClient, RetryPolicy, TokenStore, build_client
from rcsync.config import Config, RingCentralConfig
from rcsync.emulator import Emulator, FakeClock, serve
from rcsync.store.database import open_database
from rcsync.sync.pull import pull
from tests.harness import fake_rc
from tests.harness.account import SERVER
from tests.harness.config import make_config, rc_config
from tests.harness.database import opened
from tests.harness.fake_rc import Clock, FakeRC, MakeClient, valid_tokens
from tests.harness.inprocess import (
    ApiEnv,
    Archive,
    PushEnv,
    World,
    fast_emulator,
)
from tests.harness.inprocess import (
    make_client as make_fast_client,
)
from tests.harness.loopback import Served, WatchSetup, served
from tests.harness.spec import API, load_spec, login
from tests.harness.transports import Faults

# --- every test ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test may read or write the real user's config, data or tokens."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for var in (
        "RCSYNC_CONFIG",
        "RCSYNC_CLIENT_ID",
        "RCSYNC_CLIENT_SECRET",
        "RCSYNC_JWT",
        "RCSYNC_SERVER",
        "RCSYNC_DB",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a freshly migrated database."""
    path = tmp_path / "messages.db"
    open_database(path).dispose()
    return path


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    with opened(db_path) as eng:
        yield eng


# --- the in-process emulator with the engine ----------------------------------------------


@pytest.fixture
def fast_emu() -> Emulator:
    """300 messages, rate limits that never bite."""
    return fast_emulator(300, 7)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config for the in-process emulator, its files in tmp_path."""
    return make_config(tmp_path)


@pytest.fixture
def db(config: Config) -> Iterator[Engine]:
    """The migrated database of `config`."""
    with opened(config.database.path) as eng:
        yield eng


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A pulled mirror (with a sync token) of 120 messages, `Faults` in front of the emulator."""
    emu = fast_emulator(120, 11)
    config = make_config(tmp_path, delete_guard=100_000)
    with opened(config.database.path) as db:
        w = World(emu, config, db, Faults(emu.transport()))
        pull(db, w.client(), config)
        yield w


@pytest.fixture
def make_push_env(tmp_path: Path) -> Iterator[Callable[..., PushEnv]]:
    """`make(**kw)`: a new `PushEnv` (its own folder) per call, closed at the end."""
    made: list[PushEnv] = []

    def make(**kw: Any) -> PushEnv:
        home = tmp_path / f"env{len(made)}"
        home.mkdir()
        env = PushEnv(home, **kw)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


@pytest.fixture
def push_env(make_push_env: Callable[..., PushEnv]) -> PushEnv:
    return make_push_env()


@pytest.fixture
def api_env(tmp_path: Path) -> ApiEnv:
    return ApiEnv(tmp_path)


@pytest.fixture
def make_api_env(tmp_path: Path) -> Callable[..., ApiEnv]:
    return lambda **kw: ApiEnv(tmp_path, **kw)


@pytest.fixture(scope="session")
def _pulled_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    config = make_config(root, download_attachments=True)
    emu = fast_emulator(150, 3)
    with opened(config.database.path) as engine:
        pull(engine, make_fast_client(config, emu.transport()), config)
    return root


@pytest.fixture
def archive(_pulled_archive: Path, tmp_path: Path) -> Archive:
    """A private copy of a pulled archive with attachments (tests may edit it)."""
    root = tmp_path / "archive"
    shutil.copytree(_pulled_archive, root)
    config = make_config(root, download_attachments=True)
    return Archive(config, config.database.path, config.database.files_dir)


@pytest.fixture
def archive_engine(archive: Archive) -> Iterator[Engine]:
    with opened(archive.db_path) as engine:
        yield engine


# --- the emulator on its own (tests/emulator) ---------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_000_000.0)


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    """500 messages on `clock`, no rate limits."""
    return Emulator(messages=500, seed=7, clock=clock, rate_limits=False)


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    """An httpx client logged in to `emu`."""
    c = login(emu)
    yield c
    c.close()


@pytest.fixture(scope="session")
def openapi() -> Any:
    from openapi_core import Config, OpenAPI

    spec = copy.deepcopy(load_spec())  # openapi-core must not share (or alter) our copy
    # openapi-core only knows */json media types; RingCentral's batch type is JSON too.
    deserializers = {"application/vnd.ringcentral.multipart+json": json.loads}
    config = Config(spec_validator_cls=None, extra_media_type_deserializers=deserializers)
    return OpenAPI.from_dict(spec, config=config)


@pytest.fixture
def validate(openapi: Any) -> Callable[[httpx.Response], None]:
    """Validate an emulator response against the spec (raises on any mismatch)."""
    from openapi_core.testing import MockRequest, MockResponse

    def check(response: httpx.Response) -> None:
        request = response.request
        host = "https://media.ringcentral.com" if "/content/" in request.url.path else API
        mock_request = MockRequest(
            host,
            request.method.lower(),
            request.url.path,
            args=dict(request.url.params),
            headers=dict(request.headers),
            data=request.content,
            content_type=request.headers.get("content-type", "application/json"),
        )
        content_type = response.headers.get("content-type", "application/json").split(";")[0]
        mock_response = MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers),
            content_type=content_type,
        )
        openapi.validate_response(mock_request, mock_response)

    return check


# --- the API client against a scriptable fake RingCentral (tests/engine/api) --------------


@pytest.fixture
def fake_rc_clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(fake_rc_clock: Clock) -> FakeRC:
    return FakeRC(fake_rc_clock)


@pytest.fixture
def cfg(tmp_path: Path) -> RingCentralConfig:
    """Made-up credentials (the secret-leak tests look for them)."""
    return RingCentralConfig(
        server=SERVER,
        client_id="cid",
        client_secret=fake_rc.SECRET,
        jwt=fake_rc.JWT,
        token_file=tmp_path / "state" / "tokens.json",
    )


@pytest.fixture
def store(cfg: RingCentralConfig) -> TokenStore:
    return TokenStore(cfg.token_file)


@pytest.fixture
def make_client(
    fake: FakeRC, fake_rc_clock: Clock, cfg: RingCentralConfig, store: TokenStore
) -> MakeClient:
    """build_client over the fake; `logged_in=True` stores a valid pair first."""
    clock = fake_rc_clock

    def make(
        *, logged_in: bool = True, cfg_: RingCentralConfig | None = None, **kwargs: Any
    ) -> MessageStoreClient:
        if logged_in:
            store.save(valid_tokens(clock))
        client = build_client(
            cfg_ or cfg,
            transport=httpx.MockTransport(fake),
            sleep=clock.sleep,
            clock=clock,
            store=store,
        )
        client.session._rand = lambda: 0.5
        for key, value in kwargs.items():
            setattr(client, key, value)
        return client

    return make


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy()


@pytest.fixture
def helpers() -> Any:
    """The fake's constants and builders (`tests.harness.fake_rc`), as `helpers.X`."""
    return fake_rc


# --- the emulator served on loopback, real processes --------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Emulator, RingCentralConfig]]:
    """The emulator served over real HTTP on loopback (real clock), and a config for it."""
    emu = Emulator(messages=200, seed=2)
    with serve(emu, host="127.0.0.1", port=0) as server:
        yield emu, rc_config(tmp_path / "state" / "tokens.json", server=server.url)


@pytest.fixture
def make_served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """`make(**kw)`: one more served emulator and user folder (see `served`) per call."""
    with ExitStack() as stack:
        count = 0

        def make(**kw: Any) -> Served:
            nonlocal count
            count += 1
            return stack.enter_context(served(tmp_path / f"user{count}", **kw))

        yield make


@pytest.fixture
def served_env(make_served: Callable[..., Served]) -> Served:
    return make_served()


@pytest.fixture
def make_setup(tmp_path: Path) -> Iterator[Callable[..., WatchSetup]]:
    """`make(messages, seed)`: one more served emulator and watch config per call; every
    watch process a setup started is killed at the end. `extensions` > 1: an account of
    that many users, mirrored whole (``[account] extensions = "all"``), `interval` the
    config's watch_interval."""
    with ExitStack() as stack:
        setups: list[WatchSetup] = []

        def make(
            messages: int = 60, seed: int = 5, *, extensions: int = 1, interval: float = 1.0
        ) -> WatchSetup:
            emu = Emulator(messages=messages, seed=seed, rate_limits=False, extensions=extensions)
            server = stack.enter_context(serve(emu))
            root = tmp_path / f"s{len(setups)}"
            root.mkdir()
            account = {"extensions": "all"} if extensions > 1 else None
            setups.append(
                WatchSetup.create(emu, server.url, root, interval=interval, account=account)
            )
            return setups[-1]

        try:
            yield make
        finally:
            for setup in setups:
                for proc in setup.procs:
                    proc.kill()
