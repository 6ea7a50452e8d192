"""RingCentral's official Python SDK, unchanged, against the emulator served on loopback."""

from __future__ import annotations

import warnings

import pytest

from rcsync.emulator import Emulator, serve
from tests.harness.account import CLIENT_AUTH, EMULATOR_CREDENTIALS
from tests.harness.spec import HISTORY, STORE, SYNC

sdk_module = pytest.importorskip("ringcentral")


def test_sdk_end_to_end() -> None:
    emu = Emulator(messages=250, seed=3, rate_limits=False)
    with serve(emu, host="127.0.0.1", port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        sdk = sdk_module.SDK(*CLIENT_AUTH, server.url)
        platform = sdk.platform()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            platform.login(jwt=EMULATOR_CREDENTIALS["jwt"])

        # Page through the whole history by following navigation.nextPage.
        seen: list[int] = []
        page = platform.get(STORE, {"dateFrom": HISTORY, "perPage": 100}).json_dict()
        while True:
            seen += [r["id"] for r in page["records"]]
            assert all(r["uri"].startswith(server.url) for r in page["records"])
            next_page = page["navigation"].get("nextPage")
            if next_page is None:
                break
            page = platform.get(next_page["uri"]).json_dict()
        alive = [r for r in emu.store.all_records() if r["availability"] == "Alive"]
        assert sorted(seen) == sorted(r["id"] for r in alive)

        target = seen[0]
        updated = platform.put(f"{STORE}/{target}", {"readStatus": "Unread"}).json_dict()
        assert updated["readStatus"] == "Unread"

        full = platform.get(
            SYNC, {"syncType": "FSync", "dateFrom": HISTORY, "recordCount": 1}
        ).json_dict()
        token = full["syncInfo"]["syncToken"]
        assert full["syncInfo"]["olderRecordsExist"] is True

        platform.delete(f"{STORE}/{target}")
        assert emu.store.get(target)["availability"] == "Deleted"
        platform.delete(f"{STORE}/{target}")
        assert emu.store.get(target)["availability"] == "Purged"

        changes = platform.get(SYNC, {"syncType": "ISync", "syncToken": token}).json_dict()
        assert {"id": target, "availability": "Purged"} in changes["records"]
        assert changes["syncInfo"]["syncType"] == "ISync"
        platform.logout()
