"""The account's message-store configuration (retentionPeriod), as the spec has it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from rcsync.emulator import Emulator, FakeClock
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import API, login

PATH = "/restapi/v1.0/account/~/message-store-configuration"


def test_admin_reads_and_updates_the_retention_period(
    client: httpx.Client, emu: Emulator, validate: Callable[[httpx.Response], None]
) -> None:
    first = client.get(PATH)
    assert first.status_code == 200 and first.json() == {"retentionPeriod": 90}
    validate(first)
    updated = client.put(PATH, json={"retentionPeriod": 30})
    assert updated.status_code == 200 and updated.json() == {"retentionPeriod": 30}
    validate(updated)
    assert client.get(PATH).json() == {"retentionPeriod": 30}
    assert emu.config()["retention_period"] == 30
    assert emu.counters.by_operation["readMessageStoreConfiguration"] == 2


@pytest.mark.parametrize("value", [6, 91, "30", True, None])
def test_a_period_outside_7_to_90_days_is_refused(client: httpx.Client, value: object) -> None:
    refused = client.put(PATH, json={"retentionPeriod": value})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["errorCode"] == "CMN-101"
    assert refused.json()["errors"][0]["parameterName"] == "retentionPeriod"
    assert client.get(PATH).json() == {"retentionPeriod": 90}


def test_control_api_sets_it_and_checks_it(emu: Emulator) -> None:
    emu.configure(retention_period=14)
    assert emu.store_configuration.retention_period == 14
    with pytest.raises(ValueError):
        emu.configure(retention_period=120)
    assert emu.config()["retention_period"] == 14


def test_a_plain_user_gets_403_naming_the_permission(clock: FakeClock) -> None:
    emu = Emulator(messages=5, seed=3, extensions=2, clock=clock, rate_limits=False)
    user = httpx.Client(transport=emu.transport(), base_url=API)
    form = {**JWT_FORM, "assertion": "emulator-user-jwt"}
    token = user.post("/restapi/oauth/token", data=form, auth=CLIENT_AUTH).json()
    user.headers["Authorization"] = f"Bearer {token['access_token']}"
    refused = user.get(PATH)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["errorCode"] == "CMN-408"
    assert refused.json()["permissionName"] == "AccountAdministration"
    assert login(emu).get(PATH).status_code == 200
