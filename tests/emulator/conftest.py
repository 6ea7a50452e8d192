"""Fixtures for the emulator tests: the OpenAPI spec (loaded once), emulators on a FakeClock,
logged-in httpx clients, and a validator that fails a test on any nonconforming response."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from rcsync.emulator import Emulator, FakeClock

SPEC_PATH = Path("/work/shared/ringcentral/rc-public-openapi.yml")
API = "https://platform.ringcentral.com"
STORE = "/restapi/v1.0/account/~/extension/~/message-store"
SYNC = "/restapi/v1.0/account/~/extension/~/message-sync"
JWT_FORM = {
    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "assertion": "emulator-jwt",
}
CLIENT_AUTH = ("emulator-client", "emulator-secret")
HISTORY = "2000-01-01T00:00:00.000Z"


# libyaml's parser when PyYAML has it: the spec is ~40k lines, 4-5x faster to load.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """PyYAML is YAML 1.1 (``Off`` → False); the spec needs 1.2 booleans (true/false only)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@functools.cache
def load_spec() -> dict[str, Any]:
    """The spec as a dict, parsed once per process (the fuzz test reads its schemas too)."""
    if not SPEC_PATH.exists():
        pytest.skip("RingCentral OpenAPI spec not available")
    spec: dict[str, Any] = yaml.load(SPEC_PATH.read_text(), Loader=_Yaml12Loader)
    return spec


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_000_000.0)


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    return Emulator(messages=500, seed=7, clock=clock, rate_limits=False)


def login(emulator: Emulator) -> httpx.Client:
    client = httpx.Client(transport=emulator.transport(), base_url=API)
    token = client.post("/restapi/oauth/token", data=JWT_FORM, auth=CLIENT_AUTH).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    c = login(emu)
    yield c
    c.close()
