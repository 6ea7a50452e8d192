"""What the emulator tests check against: RingCentral's OpenAPI spec (parsed once per
process, YAML 1.2 booleans), the API paths under their short names, and `login`, an httpx
client logged in to an emulator with its JWT. (The `openapi` and `validate` fixtures, a
validator that fails a test on any nonconforming response, are in `fixtures`.)"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from rcsync.emulator import Emulator
from tests.harness.account import CLIENT_AUTH, JWT_FORM, SERVER, STORE_PATH, SYNC_PATH

SPEC_PATH = Path("/work/shared/ringcentral/rc-public-openapi.yml")
API, STORE, SYNC = SERVER, STORE_PATH, SYNC_PATH
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


def login(emulator: Emulator) -> httpx.Client:
    client = httpx.Client(transport=emulator.transport(), base_url=API)
    token = client.post("/restapi/oauth/token", data=JWT_FORM, auth=CLIENT_AUTH).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client
