"""An account of many extensions: ids, permissions, the extension list, control calls, and the
store's change listeners (what the WebSocket gateway builds on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rcsync.emulator import Emulator, FakeClock
from rcsync.emulator.account import ExtensionStatus, ExtensionType
from rcsync.emulator.bulk import MULTIPART_JSON
from rcsync.emulator.store import StoreError, StoreEvent
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import API, HISTORY, STORE

from .test_fuzz_spec import _error_validator as error_validator

Validate = Callable[[httpx.Response], None]

Heard = list[tuple[int, str, list[int]]]


def _listen(emu: Emulator) -> Heard:
    heard: Heard = []
    emu.store.add_listener(lambda ext, event, ids: heard.append((ext, event, list(ids))))
    return heard


def test_listener_hears_arrivals_edits_and_deletes(emu: Emulator, client: httpx.Client) -> None:
    heard = _listen(emu)
    me = emu.store.extension_id
    [new] = emu.store.arrive(1)
    assert heard == [(me, StoreEvent.NEW, [new["id"]])]
    heard.clear()
    client.put(f"{STORE}/{new['id']}", json={"readStatus": "Read"})
    client.delete(f"{STORE}/{new['id']}")
    client.patch(f"{STORE}/{new['id']}", json={"availability": "Alive"})
    assert heard == [
        (me, "updated", [new["id"]]),
        (me, "deleted", [new["id"]]),
        (me, "updated", [new["id"]]),
    ]


def test_listener_hears_a_bulk_change_once(emu: Emulator, client: httpx.Client) -> None:
    records = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "5"}).json()["records"]
    ids = [r["id"] for r in records]
    heard = _listen(emu)
    assert client.delete(f"{STORE}/{','.join(map(str, ids))}").status_code == 204
    assert heard == [(emu.store.extension_id, "deleted", ids)]


def test_a_write_that_changes_nothing_is_not_an_event(emu: Emulator, client: httpx.Client) -> None:
    record = client.get(STORE, params={"dateFrom": HISTORY, "perPage": "1"}).json()["records"][0]
    heard = _listen(emu)
    client.put(f"{STORE}/{record['id']}", json={"readStatus": record["readStatus"]})
    assert heard == []


def test_a_failing_listener_does_not_stop_the_change(clock: FakeClock) -> None:
    emu = Emulator(messages=10, seed=2, clock=clock, rate_limits=False)

    def broken(_ext: int, _event: str, _ids: list[int]) -> None:
        raise RuntimeError("listener bug")

    emu.store.add_listener(broken)
    heard = _listen(emu)
    [new] = emu.store.arrive(1)
    assert emu.store.get(new["id"]) is not None
    assert heard == [(emu.store.extension_id, "new", [new["id"]])]


# -- the account ------------------------------------------------------------------------------

ACCOUNT_STORE = "/restapi/v1.0/account/~/extension/{}/message-store"
ACCOUNT_SYNC = "/restapi/v1.0/account/~/extension/{}/message-sync"
EXTENSIONS = "/restapi/v1.0/account/~/extension"
USER_JWT_FORM = {**JWT_FORM, "assertion": "emulator-user-jwt"}
EVERY = {"dateFrom": HISTORY, "perPage": "1000", "availability": ["Alive", "Deleted", "Purged"]}


def _account(clock: FakeClock, extensions: int = 3, messages: int = 60, **kw: Any) -> Emulator:
    return Emulator(
        messages=messages, seed=11, clock=clock, rate_limits=False, extensions=extensions, **kw
    )


def _login_as(emu: Emulator, form: dict[str, str]) -> httpx.Client:
    client = httpx.Client(transport=emu.transport(), base_url=API)
    token = client.post("/restapi/oauth/token", data=form, auth=CLIENT_AUTH)
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def _ids(emu: Emulator) -> list[int]:
    return [e.id for e in emu.account]


def test_one_extension_by_default(emu: Emulator, client: httpx.Client) -> None:
    listed = client.get(EXTENSIONS).json()
    assert [
        (r["extensionNumber"], r["permissions"]["admin"]["enabled"]) for r in listed["records"]
    ] == [("101", True)]
    user = httpx.Client(transport=emu.transport(), base_url=API)
    refused = user.post("/restapi/oauth/token", data=USER_JWT_FORM, auth=CLIENT_AUTH)
    assert refused.status_code == 400 and refused.json()["errors"][0]["errorCode"] == "OAU-140"


def test_extension_101_is_the_single_extension_emulator(clock: FakeClock) -> None:
    alone = Emulator(messages=300, seed=4, clock=clock, rate_limits=False)
    account = Emulator(messages=300, seed=4, clock=clock, rate_limits=False, extensions=4)
    assert account.store.all_records() == alone.store.all_records()
    assert account.extension_info()["id"] == alone.extension_info()["id"]


def test_numbers_ids_and_stores(clock: FakeClock) -> None:
    emu = _account(clock, extensions=4, messages=80)
    exts = list(emu.account)
    assert [e.number for e in exts] == ["101", "102", "103", "104"]
    assert all(str(e.id) != e.number and e.id > 10**8 for e in exts)
    assert len(set(_ids(emu))) == 4
    all_ids = [r["id"] for e in exts for r in e.store.all_records()]
    assert len(all_ids) == 4 * 80 and len(set(all_ids)) == len(all_ids)
    for ext in exts:
        records = ext.store.all_records()
        assert {r["extensionId"] for r in records} == {str(ext.id)}
        assert all(f"/extension/{ext.id}/message-store/" in r["uri"] for r in records)
    # Different people, different histories.
    assert exts[1].store.all_records()[0]["subject"] is not None
    assert [r["creationTime"] for r in exts[1].store.all_records()] != [
        r["creationTime"] for r in exts[2].store.all_records()
    ]


def test_arrivals_and_injections_keep_ids_unique_across_the_account(clock: FakeClock) -> None:
    emu = _account(clock)
    second = list(emu.account)[1]
    arrived = emu.store.arrive(5) + second.store.arrive(5)
    everything = [r["id"] for e in emu.account for r in e.store.all_records()]
    assert len(set(everything)) == len(everything)
    assert {r["id"] for r in arrived} <= set(everything)
    taken = second.store.all_records()[0]["id"]
    with pytest.raises(StoreError):
        emu.store.inject([{"id": taken, "type": "SMS", "subject": "dup"}])


def test_admin_reads_and_edits_another_extension(clock: FakeClock) -> None:
    emu = _account(clock)
    other = list(emu.account)[2]
    admin = _login_as(emu, JWT_FORM)
    store = ACCOUNT_STORE.format(other.id)
    page = admin.get(store, params=EVERY).json()
    assert sorted(r["id"] for r in page["records"]) == sorted(
        r["id"] for r in other.store.all_records()
    )
    alive = [r for r in page["records"] if r["availability"] == "Alive"]
    one, two, three = (r["id"] for r in alive[:3])
    assert admin.get(f"{store}/{one}").json()["id"] == one
    bulk = admin.get(f"{store}/{one},{two}", headers={"Accept": MULTIPART_JSON})
    assert [p["status"] for p in bulk.json()] == [200, 200]
    att = alive[0]["attachments"][0]
    content = admin.get(f"{store}/{one}/content/{att['id']}")
    assert content.status_code == 200 and len(content.content) == att["size"]
    # An extension's message is not found on another extension's path.
    assert admin.get(f"{ACCOUNT_STORE.format('~')}/{one}").status_code == 404

    token = admin.get(
        ACCOUNT_SYNC.format(other.id), params={"syncType": "FSync", "dateFrom": HISTORY}
    ).json()["syncInfo"]["syncToken"]
    flip = "Unread" if other.store.get(one)["readStatus"] == "Read" else "Read"
    assert admin.put(f"{store}/{one}", json={"readStatus": flip}).json()["readStatus"] == flip
    assert admin.patch(f"{store}/{two}", json={"readStatus": flip}).status_code == 200
    assert admin.delete(f"{store}/{three}").status_code == 204
    assert other.store.get(one)["readStatus"] == flip
    assert other.store.get(three)["availability"] == "Deleted"
    assert emu.store.get(one) is None  # nothing landed in extension 101's store

    changes = admin.get(
        ACCOUNT_SYNC.format(other.id), params={"syncType": "ISync", "syncToken": token}
    ).json()
    assert {r["id"] for r in changes["records"]} == {one, two, three}
    # A token is its extension's: on another extension's path it is invalid.
    wrong = admin.get(ACCOUNT_SYNC.format("~"), params={"syncType": "ISync", "syncToken": token})
    assert wrong.status_code == 400 and wrong.json()["errorCode"] == "MSG-333"

    chat = next(r for r in alive[3:] if "conversationId" in r)
    by_filter = admin.delete(store, params={"conversationId": str(chat["conversationId"])})
    assert by_filter.status_code == 204
    assert other.store.get(chat["id"])["availability"] == "Deleted"


def _error(response: httpx.Response) -> tuple[int, str, str | None]:
    """(status, errorCode, permissionName) of an error answer shaped as the spec's error."""
    body = response.json()
    error_validator().validate(body)
    return response.status_code, body["errorCode"], body.get("permissionName")


def test_a_plain_user_reaches_only_their_own_extension(clock: FakeClock) -> None:
    emu = _account(clock)
    admin_ext, user_ext, third = list(emu.account)
    user = _login_as(emu, USER_JWT_FORM)
    me = user.get("/restapi/v1.0/account/~/extension/~").json()
    assert (me["id"], me["extensionNumber"]) == (user_ext.id, "102")
    assert me["permissions"]["admin"]["enabled"] is False
    own = user.get(ACCOUNT_STORE.format(user_ext.id), params=EVERY).json()["records"]
    assert (
        len(own) == len(user_ext.store)
        and own == user.get(ACCOUNT_STORE.format("~"), params=EVERY).json()["records"]
    )
    some_id = own[0]["id"]
    for ext in (admin_ext, third):
        store = ACCOUNT_STORE.format(ext.id)
        target = ext.store.all_records()[0]["id"]
        assert _error(user.get(store, params=EVERY)) == (403, "CMN-408", "ReadMessages")
        assert _error(user.get(f"{store}/{target}")) == (403, "CMN-408", "ReadMessages")
        assert _error(user.get(ACCOUNT_SYNC.format(ext.id), params={"syncType": "FSync"})) == (
            403, "CMN-408", "ReadMessages",
        )  # fmt: skip
        assert _error(user.put(f"{store}/{target}", json={"readStatus": "Read"})) == (
            403, "CMN-408", "EditMessages",
        )  # fmt: skip
        assert _error(user.delete(f"{store}/{target}")) == (403, "CMN-408", "EditMessages")
        # The company directory is open to every user.
        assert user.get(f"{EXTENSIONS}/{ext.id}").json()["extensionNumber"] == ext.number
    assert (
        emu.store.all_records()
        == Emulator(messages=60, seed=11, clock=clock, rate_limits=False).store.all_records()
    )  # the refused writes changed nothing
    assert user.get(f"{ACCOUNT_STORE.format('~')}/{some_id}").status_code == 200
    assert len(user.get(EXTENSIONS).json()["records"]) == 3


def test_unknown_extension_ids(clock: FakeClock) -> None:
    emu = _account(clock)
    admin = _login_as(emu, JWT_FORM)
    for raw in ("102", "409563009", "0409563008", "abc"):
        response = admin.get(ACCOUNT_STORE.format(raw), params=EVERY)
        assert _error(response)[:2] == (404, "CMN-102"), raw
        assert response.json()["errors"][0]["parameterName"] == "extensionId"
    assert admin.get(f"{EXTENSIONS}/102").status_code == 404


def test_a_deleted_extension(clock: FakeClock) -> None:
    emu = _account(clock)
    heard = _listen(emu)
    user_ext = emu.account.by_number("102")
    assert user_ext is not None
    user = _login_as(emu, USER_JWT_FORM)
    admin = _login_as(emu, JWT_FORM)
    gone_ids = {r["id"] for r in user_ext.store.all_records()}
    deleted = admin.delete(f"/_emulator/extensions/{user_ext.id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": user_ext.summary(), "messages": len(gone_ids)}
    assert heard == [(user_ext.id, "extension-removed", [])]
    for path in (
        ACCOUNT_STORE.format(user_ext.id),
        ACCOUNT_SYNC.format(user_ext.id),
        f"{EXTENSIONS}/{user_ext.id}",
    ):
        assert _error(admin.get(path, params={"dateFrom": HISTORY}))[:2] == (404, "CMN-102")
    numbers = [r["extensionNumber"] for r in admin.get(EXTENSIONS).json()["records"]]
    assert numbers == ["101", "103"]
    remaining = {r["id"] for r in admin.get("/_emulator/messages").json()["records"]}
    assert remaining and not remaining & gone_ids
    # The user's own session and JWT die with them.
    assert user.get(ACCOUNT_STORE.format("~")).status_code == 401
    again = httpx.Client(transport=emu.transport(), base_url=API)
    assert (
        again.post("/restapi/oauth/token", data=USER_JWT_FORM, auth=CLIENT_AUTH).status_code == 400
    )
    # Nobody deletes the super admin; an unknown id is not found.
    assert admin.delete(f"/_emulator/extensions/{emu.store.extension_id}").status_code == 400
    assert admin.delete(f"/_emulator/extensions/{user_ext.id}").status_code == 404


def test_one_rate_limit_budget_per_login_for_every_extension(clock: FakeClock) -> None:
    emu = _account(clock, messages=5)
    emu.configure(rate_limits={"enabled": True, "limits": {"Light": 6}})
    admin = _login_as(emu, JWT_FORM)
    user = _login_as(emu, USER_JWT_FORM)
    statuses = [admin.get(f"{EXTENSIONS}/{ext_id}").status_code for ext_id in _ids(emu) * 2]
    assert statuses == [200] * 6
    assert admin.get(ACCOUNT_STORE.format(_ids(emu)[2])).status_code == 429
    # Another login has its own budget.
    assert user.get(ACCOUNT_STORE.format("~")).status_code == 200


def test_control_api_for_extensions(clock: FakeClock) -> None:
    emu = _account(clock, extensions=2, messages=20)
    control = httpx.Client(transport=emu.transport(), base_url=API)
    heard = _listen(emu)
    listed = control.get("/_emulator/extensions").json()["records"]
    assert listed == [e.summary() for e in emu.account]
    assert set(listed[0]) == {"id", "extensionNumber", "name", "type", "status"}

    added = control.post("/_emulator/extensions", json={"count": 2, "messages": 7})
    assert added.status_code == 201
    new = added.json()["records"]
    assert [r["extensionNumber"] for r in new] == ["103", "104"]
    assert [(e, ev) for e, ev, _ in heard] == [(r["id"], "extension-added") for r in new]
    assert (
        len(
            control.get("/_emulator/messages", params={"extension": new[0]["id"]}).json()["records"]
        )
        == 7
    )
    queue = control.post(
        "/_emulator/extensions", json={"type": "Department", "status": "Disabled", "messages": 0}
    ).json()["records"][0]
    assert (queue["type"], queue["status"], queue["extensionNumber"]) == (
        "Department", "Disabled", "105",
    )  # fmt: skip

    every = control.get("/_emulator/messages").json()["records"]
    assert len(every) == 20 + 20 + 7 + 7
    assert {r["extensionId"] for r in every} == {str(i) for i in _ids(emu)} - {str(queue["id"])}
    stamps = [(r["creationTime"], r["id"]) for r in every]
    assert stamps == sorted(stamps, reverse=True)

    heard.clear()
    arrived = control.post("/_emulator/messages", json={"count": 2, "extension": new[1]["id"]})
    arrived_ids = [r["id"] for r in arrived.json()["records"]]
    assert heard == [(new[1]["id"], "new", arrived_ids)]
    ext4 = emu.account.get(new[1]["id"])
    assert ext4 is not None and all(ext4.store.get(i) for i in arrived_ids)
    patched = control.patch(f"/_emulator/messages/{arrived_ids[0]}", json={"readStatus": "Read"})
    assert patched.status_code == 200 and ext4.store.get(arrived_ids[0])["readStatus"] == "Read"
    assert heard[-1] == (new[1]["id"], "updated", [arrived_ids[0]])
    assert control.get("/_emulator/messages", params={"extension": "1"}).status_code == 404
    assert control.post("/_emulator/messages", json={"count": 1, "extension": 5}).status_code == 404
    for bad in ({"type": "Robot"}, {"count": -1}, {"messages": -5}, {"status": "Gone"}):
        assert control.post("/_emulator/extensions", json=bad).status_code == 400, bad
    assert len(emu.account) == 5


def test_user_jwt_appears_when_102_is_added(clock: FakeClock) -> None:
    emu = _account(clock, extensions=1, messages=3)
    emu.add_extensions(1)
    user = _login_as(emu, USER_JWT_FORM)
    assert user.get("/restapi/v1.0/account/~/extension/~").json()["extensionNumber"] == "102"


# -- listExtensions ------------------------------------------------------------------------------


def test_list_extensions_paging(clock: FakeClock, validate: Validate) -> None:
    emu = _account(clock, extensions=5, messages=1)
    admin = _login_as(emu, JWT_FORM)
    first = admin.get(EXTENSIONS, params={"perPage": "2"})
    validate(first)
    body = first.json()
    assert [r["extensionNumber"] for r in body["records"]] == ["101", "102"]
    assert body["paging"] == {
        "page": 1, "totalPages": 3, "perPage": 2, "totalElements": 5, "pageStart": 0, "pageEnd": 1,
    }  # fmt: skip
    numbers: list[str] = []
    page: dict[str, Any] | None = body
    while page is not None:
        numbers += [r["extensionNumber"] for r in page["records"]]
        following = page["navigation"].get("nextPage")
        page = admin.get(following["uri"]).json() if following else None
    assert numbers == ["101", "102", "103", "104", "105"]
    assert "previousPage" not in body["navigation"]
    beyond = admin.get(EXTENSIONS, params={"perPage": "2", "page": "9"})
    validate(beyond)
    assert beyond.json()["records"] == [] and "pageStart" not in beyond.json()["paging"]
    for bad in ({"perPage": "0"}, {"perPage": "1001"}, {"page": "0"}, {"page": "x"}):
        assert _error(admin.get(EXTENSIONS, params=bad))[:2] == (400, "CMN-101"), bad


def test_list_extensions_filters(clock: FakeClock, validate: Validate) -> None:
    emu = _account(clock, extensions=3, messages=1)
    emu.add_extensions(1, 0, ExtensionType.DEPARTMENT)
    emu.add_extensions(1, 0, status=ExtensionStatus.DISABLED)
    admin = _login_as(emu, JWT_FORM)

    def numbers(params: Any) -> list[str]:
        response = admin.get(EXTENSIONS, params=params)
        assert response.status_code == 200, response.text
        validate(response)
        return [r["extensionNumber"] for r in response.json()["records"]]

    assert numbers({}) == ["101", "102", "103", "104", "105"]
    assert numbers({"type": "User"}) == ["101", "102", "103", "105"]
    assert numbers({"type": ["Department", "IvrMenu"]}) == ["104"]
    assert numbers({"status": "Enabled"}) == ["101", "102", "103", "104"]
    assert numbers({"status": "Enabled,Disabled"}) == ["101", "102", "103", "104", "105"]
    assert numbers({"status": ""}) == ["101", "102", "103", "104", "105"]
    assert numbers({"status": "Unassigned"}) == []
    assert numbers({"type": "User", "status": "Enabled"}) == ["101", "102", "103"]
    assert numbers({"extensionNumber": "103"}) == ["103"]
    email = emu.account.by_number("102").profile.email  # type: ignore[union-attr]
    assert numbers({"email": email.upper()}) == ["102"]
    assert _error(admin.get(EXTENSIONS, params={"status": "Deleted"}))[:2] == (400, "CMN-101")
    assert _error(admin.get(EXTENSIONS, params={"type": "Robot"}))[:2] == (400, "CMN-101")


def test_read_extension_conforms(clock: FakeClock, validate: Validate) -> None:
    emu = _account(clock)
    admin = _login_as(emu, JWT_FORM)
    for ext in emu.account:
        response = admin.get(f"{EXTENSIONS}/{ext.id}")
        validate(response)
        body = response.json()
        assert (body["id"], body["extensionNumber"], body["name"]) == (
            ext.id, ext.number, ext.profile.name,
        )  # fmt: skip
        assert body["permissions"]["admin"]["enabled"] is ext.admin
        assert body["uri"].endswith(f"/extension/{ext.id}")


def test_pager_peers_carry_the_account_names(clock: FakeClock) -> None:
    emu = _account(clock, extensions=3, messages=400)
    names = {e.number: e.profile.name for e in emu.account}
    for ext in emu.account:
        peers = {
            c.extension_number: (c.extension_id, c.name)
            for c in ext.store.world.internal
            if c.extension_number in names
        }
        for number, (peer_id, name) in peers.items():
            assert emu.account.by_number(number).id == int(peer_id)  # type: ignore[union-attr]
            assert name == names[number]
        assert ext.number not in peers


def test_permission_error_code_cmn_404(clock: FakeClock) -> None:
    emu = _account(clock)
    control = httpx.Client(transport=emu.transport(), base_url=API)
    user = _login_as(emu, USER_JWT_FORM)
    store = ACCOUNT_STORE.format(emu.store.extension_id)
    assert _error(user.get(store))[:2] == (403, "CMN-408")
    config = control.put("/_emulator/config", json={"permission_error_code": "CMN-404"})
    assert config.json()["permission_error_code"] == "CMN-404"
    refused = user.get(store)
    assert _error(refused) == (403, "CMN-404", None)
    assert refused.json()["message"] == "Attempt to access another extension"
    bad = control.put("/_emulator/config", json={"permission_error_code": "CMN-999"})
    assert bad.status_code == 400
    assert control.get("/_emulator/config").json()["permission_error_code"] == "CMN-404"
