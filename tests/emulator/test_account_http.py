"""An account of several extensions served over loopback HTTP: RingCentral's official Python
SDK reading another extension as the admin, a plain user refused, and `rcsync emulator
--extensions N` itself."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import warnings
from typing import Any

import httpx
import pytest

from rcsync.emulator import Emulator, serve
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import HISTORY

sdk_module = pytest.importorskip("ringcentral")
from ringcentral.http.api_exception import ApiException  # noqa: E402

STORE = "/restapi/v1.0/account/~/extension/{}/message-store"
SYNC = "/restapi/v1.0/account/~/extension/{}/message-sync"


def _sdk_login(url: str, jwt: str) -> Any:
    platform = sdk_module.SDK("emulator-client", "emulator-secret", url).platform()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        platform.login(jwt=jwt)
    return platform


def test_sdk_admin_reads_and_edits_another_extension() -> None:
    emu = Emulator(messages=120, seed=5, rate_limits=False, extensions=3)
    target = emu.account.by_number("103")
    assert target is not None
    with serve(emu, host="127.0.0.1", port=0) as server:
        platform = _sdk_login(server.url, "emulator-jwt")
        listed = platform.get("/restapi/v1.0/account/~/extension").json_dict()
        assert [r["extensionNumber"] for r in listed["records"]] == ["101", "102", "103"]
        store = STORE.format(target.id)
        seen: list[int] = []
        page = platform.get(store, {"dateFrom": HISTORY, "perPage": 50}).json_dict()
        while True:
            seen += [r["id"] for r in page["records"]]
            assert all(f"/extension/{target.id}/" in r["uri"] for r in page["records"])
            following = page["navigation"].get("nextPage")
            if following is None:
                break
            page = platform.get(following["uri"]).json_dict()
        alive = [r["id"] for r in target.store.all_records() if r["availability"] == "Alive"]
        assert sorted(seen) == sorted(alive)

        full = platform.get(
            SYNC.format(target.id), {"syncType": "FSync", "dateFrom": HISTORY}
        ).json_dict()
        token = full["syncInfo"]["syncToken"]
        platform.put(f"{store}/{seen[0]}", {"readStatus": "Unread"})
        platform.delete(f"{store}/{seen[1]}")
        assert target.store.get(seen[0])["readStatus"] == "Unread"
        assert target.store.get(seen[1])["availability"] == "Deleted"
        changes = platform.get(
            SYNC.format(target.id), {"syncType": "ISync", "syncToken": token}
        ).json_dict()
        assert {r["id"] for r in changes["records"]} == {seen[0], seen[1]}

        user = _sdk_login(server.url, "emulator-user-jwt")
        with pytest.raises(ApiException) as refused:
            user.get(store, {"dateFrom": HISTORY})
        response = refused.value.api_response().response()
        assert response.status_code == 403 and response.json()["errorCode"] == "CMN-408"
        own = user.get(STORE.format("~"), {"dateFrom": HISTORY}).json_dict()
        user_ext = emu.account.by_number("102")
        assert user_ext is not None
        assert {r["extensionId"] for r in own["records"]} == {str(user_ext.id)}


def test_served_control_api_adds_and_deletes_extensions() -> None:
    emu = Emulator(messages=10, seed=6, rate_limits=False, extensions=2)
    with serve(emu, host="127.0.0.1", port=0) as server, httpx.Client(base_url=server.url) as http:
        new = http.post("/_emulator/extensions", json={"count": 1}).json()["records"][0]
        assert new["extensionNumber"] == "103"
        token = http.post("/restapi/oauth/token", data=JWT_FORM, auth=CLIENT_AUTH).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        records = http.get(STORE.format(new["id"]), params={"dateFrom": HISTORY}).json()
        assert records["records"] and records["records"][0]["uri"].startswith(server.url)
        assert http.delete(f"/_emulator/extensions/{new['id']}").status_code == 200
        gone = http.get(STORE.format(new["id"]), params={"dateFrom": HISTORY})
        assert gone.status_code == 404 and gone.json()["errorCode"] == "CMN-102"


def test_the_emulator_command_serves_an_account() -> None:
    command = [sys.executable, "-m", "rcsync", "emulator", "--port", "0"]
    command += ["--extensions", "3", "--messages", "15", "--no-rate-limits"]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert "3 extensions × 15 messages" in line, line
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found is not None, line
        records = httpx.get(f"{found.group(0)}/_emulator/extensions", timeout=10).json()
        assert [r["extensionNumber"] for r in records["records"]] == ["101", "102", "103"]
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=20)
