"""The message-store export (`rcsync.emulator.reports`): states over time on a FakeClock, the
2-task limit, Heavy budget, RingCentral's zip layout matching the API's records and bytes,
masked numbers, Range, failures; in-process and over loopback HTTP."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rcsync.emulator import Emulator, FakeClock, serve
from rcsync.emulator.reports_zip import CHUNK, PACKED_TYPES, mask_number
from tests.harness.account import CLIENT_AUTH, JWT_FORM
from tests.harness.spec import API, HISTORY, STORE, login

REPORT = "/restapi/v1.0/account/~/message-store-report"
ACC, EXT = "409562008", "409563008"  # the emulator's account and extension ids
Validate = Callable[[httpx.Response], None]
INSTANT = {"task_seconds": 0, "task_seconds_per_1000": 0}


def _create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post(REPORT, json={"dateFrom": HISTORY, **body})


def _status(client: httpx.Client, task_id: str) -> str:
    answer = client.get(f"{REPORT}/{task_id}")
    assert answer.status_code == 200
    return str(answer.json()["status"])


def _statuses(client: httpx.Client, clock: FakeClock, task_id: str, step: float) -> list[str]:
    """Every distinct status seen polling every `step` seconds until the task finishes."""
    seen = [_status(client, task_id)]
    for _ in range(1000):
        if seen[-1] in ("Completed", "Failed", "Cancelled"):
            return seen
        clock.advance(step)
        status = _status(client, task_id)
        if status != seen[-1]:
            seen.append(status)
    raise AssertionError(f"task never finished: {seen}")


def _completed(client: httpx.Client, clock: FakeClock, **body: Any) -> str:
    created = _create(client, **body)
    assert created.status_code == 202, created.text
    task_id = str(created.json()["id"])
    assert _statuses(client, clock, task_id, 5)[-1] == "Completed"
    return task_id


def _zips(client: httpx.Client, task_id: str) -> list[zipfile.ZipFile]:
    listing = client.get(f"{REPORT}/{task_id}/archive").json()["records"]
    out = []
    for item in listing:
        answer = client.get(item["uri"])
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert len(answer.content) == item["size"]
        out.append(zipfile.ZipFile(io.BytesIO(answer.content)))
    return out


def _api_records(client: httpx.Client) -> dict[int, dict[str, Any]]:
    params = {"dateFrom": HISTORY, "perPage": "1000", "availability": ["Alive", "Deleted"]}
    return {r["id"]: r for r in client.get(STORE, params=params).json()["records"]}


def _exported(first: zipfile.ZipFile) -> list[dict[str, Any]]:
    body = json.loads(first.read(f"account/{ACC}/extension/{EXT}/message-store.json"))
    return list(body["records"])


# -- states over time -------------------------------------------------------------------------


def test_task_moves_through_its_states(
    client: httpx.Client, clock: FakeClock, validate: Validate
) -> None:
    created = _create(client, dateTo="2030-01-01T00:00:00Z", messageTypes=["Fax", "VoiceMail"])
    assert created.status_code == 202
    validate(created)
    task = created.json()
    assert task["status"] == "Accepted" and "finishTime" not in task
    assert task["id"].startswith(f"{ACC}-{EXT}-") and task["uri"].endswith(task["id"])
    assert task["messageTypes"] == ["Fax", "VoiceMail"]
    assert task["dateFrom"] == "2000-01-01T00:00:00.000Z"
    assert _statuses(client, clock, task["id"], 0.5) == [
        "Accepted",
        "Pending",
        "InProgress",
        "Completed",
    ]
    done = client.get(f"{REPORT}/{task['id']}")
    validate(done)
    assert done.json()["finishTime"] > done.json()["startTime"] == task["startTime"]
    listing = client.get(f"{REPORT}/{task['id']}/archive")
    validate(listing)
    assert listing.json()["records"][0]["uri"].endswith("/archive/0")


def test_duration_grows_with_the_messages_in_the_window(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    emu.configure(export={"task_seconds": 10, "task_seconds_per_1000": 20})
    small = _create(client, dateFrom="2030-01-01T00:00:00Z", dateTo="2030-02-01T00:00:00Z")
    large = _create(client)  # all 500 messages: 10 s + 10 s
    clock.advance(10.5)
    assert _status(client, small.json()["id"]) == "Completed"
    assert _status(client, large.json()["id"]) == "InProgress"
    clock.advance(10)
    assert _status(client, large.json()["id"]) == "Completed"


def test_defaults_window_is_the_last_day(client: httpx.Client, clock: FakeClock) -> None:
    task = client.post(REPORT, json={}).json()
    now_ms = int(clock.now() * 1000)
    from rcsync.emulator.times import parse_iso

    assert parse_iso(task["dateTo"]) == now_ms
    assert parse_iso(task["dateFrom"]) == now_ms - 86_400_000


@pytest.mark.parametrize(
    ("body", "code", "parameter"),
    [
        ({"dateFrom": "yesterday"}, "CMN-101", "dateFrom"),
        ({"dateFrom": "2030-01-02", "dateTo": "2030-01-01"}, "CMN-101", "dateFrom"),
        ({"messageTypes": ["Fax", "Memo"]}, "CMN-101", "messageTypes"),
        ({"messageTypes": "Fax"}, "CMN-101", "messageTypes"),
    ],
)
def test_bad_request_bodies(
    client: httpx.Client, validate: Validate, body: dict[str, Any], code: str, parameter: str
) -> None:
    answer = client.post(REPORT, json=body)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == code
    assert answer.json()["errors"][0]["parameterName"] == parameter
    validate(answer)


def test_unparsable_body_and_unknown_task(client: httpx.Client) -> None:
    answer = client.post(REPORT, content=b"{nope", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["errorCode"] == "CMN-103"
    missing = client.get(f"{REPORT}/{ACC}-{EXT}-0000")
    assert missing.status_code == 404 and missing.json()["errors"][0]["parameterName"] == "taskId"
    assert client.get(f"{REPORT}/{ACC}-{EXT}-0000/archive/0").status_code == 404


# -- limits -----------------------------------------------------------------------------------


def test_at_most_two_unfinished_tasks(
    client: httpx.Client, clock: FakeClock, validate: Validate
) -> None:
    first, second = _create(client), _create(client)
    assert first.status_code == second.status_code == 202
    third = _create(client)
    assert third.status_code == 400
    assert third.json()["errorCode"] == "MSG-360"
    assert "simultaneous tasks" in third.json()["message"]
    validate(third)
    while _status(client, first.json()["id"]) != "Completed":
        clock.advance(1)
    assert _create(client).status_code == 202  # a finished task no longer counts


def test_every_call_is_heavy(clock: FakeClock) -> None:
    emu = Emulator(messages=30, seed=3, clock=clock, rate_limits=True)
    emu.configure(export=INSTANT)
    client = login(emu)
    task_id = _create(client).json()["id"]
    uri = client.get(f"{REPORT}/{task_id}/archive").json()["records"][0]["uri"]
    calls = [client.get(f"{REPORT}/{task_id}"), client.get(uri)]
    calls += [client.get(f"{REPORT}/{task_id}") for _ in range(6)]
    assert [c.headers["X-Rate-Limit-Group"] for c in calls] == ["Heavy"] * 8
    assert calls[-1].headers["X-Rate-Limit-Remaining"] == "0"  # 10 a minute, 10 used
    assert client.get(uri).status_code == 429
    assert client.get(STORE).status_code == 200  # the Light budget is untouched
    counted = emu.counters.snapshot()["by_operation"]
    assert counted["createMessageStoreReport"] == 1
    assert counted["readMessageStoreReportArchive"] == 1
    assert counted["readMessageStoreReportArchiveContent"] == 2
    assert counted["readMessageStoreReportTask"] == 7


# -- the zips ---------------------------------------------------------------------------------


def test_zip_layout_matches_the_api(emu: Emulator, client: httpx.Client, clock: FakeClock) -> None:
    emu.configure(export={"masking": "none"})
    client.delete(f"{STORE}/{next(iter(_api_records(client)))}")  # a Deleted one is exported
    first, *rest = _zips(client, _completed(client, clock))
    assert first.namelist() == [f"account/{ACC}/extension/{EXT}/message-store.json"]
    api = _api_records(client)
    exported = _exported(first)
    assert {r["id"] for r in exported} == set(api)
    assert all(r == api[r["id"]] for r in exported)
    assert {r["availability"] for r in exported} == {"Alive", "Deleted"}
    expected = {
        f"account/{ACC}/extension/{EXT}/message-store/{r['id']}/content/{a['id']}": a
        for r in api.values()
        for a in r["attachments"]
        if a["type"] in PACKED_TYPES
    }
    assert len(rest) == 1
    entries = {name.rpartition(".")[0]: name for name in rest[0].namelist()}
    assert set(entries) == set(expected)
    for stem, attachment in expected.items():
        data = rest[0].read(entries[stem])
        assert len(data) == attachment["size"]
        assert data == client.get(attachment["uri"]).content
    suffixes = {name.rpartition(".")[2] for name in entries.values()}
    assert suffixes == {"wav", "pdf", "png"}


def test_filters_by_types_and_dates(client: httpx.Client, clock: FakeClock) -> None:
    api = _api_records(client)
    times = sorted(r["creationTime"] for r in api.values())
    date_from, date_to = times[100], times[300]
    task_id = _completed(client, clock, dateFrom=date_from, dateTo=date_to, messageTypes=["Fax"])
    first, *rest = _zips(client, task_id)
    wanted = {
        i for i, r in api.items() if r["type"] == "Fax" and date_from <= r["creationTime"] < date_to
    }
    assert wanted and {r["id"] for r in _exported(first)} == wanted
    names = [n for z in rest for n in z.namelist()]
    assert names and all(n.endswith(".pdf") for n in names)


def test_attachments_split_into_zips_of_the_configured_size(
    emu: Emulator, client: httpx.Client, clock: FakeClock
) -> None:
    limit = 600_000
    emu.configure(export={"max_zip_bytes": limit})
    task_id = _completed(client, clock)
    listing = client.get(f"{REPORT}/{task_id}/archive").json()["records"]
    first, *rest = _zips(client, task_id)
    assert len(rest) > 3
    biggest = max(i.file_size for z in rest for i in z.infolist())
    for item, archive in zip(listing[1:], rest, strict=True):
        assert item["size"] <= limit or len(archive.namelist()) == 1
        assert item["size"] <= max(limit, biggest + 1024)
    names = [n for z in rest for n in z.namelist()]
    assert len(names) == len(set(names))
    expected = sum(
        1 for r in _exported(first) for a in r["attachments"] if a["type"] in PACKED_TYPES
    )
    assert len(names) == expected


@pytest.mark.parametrize("masking", ["all", "some", "none"])
def test_masked_numbers(
    emu: Emulator, client: httpx.Client, clock: FakeClock, masking: str
) -> None:
    emu.configure(export={"masking": masking})
    api = _api_records(client)
    first = _zips(client, _completed(client, clock))[0]
    masked = plain = 0
    for record in _exported(first):
        original = api[record["id"]]
        for party, source in zip(
            [record["from"], *record["to"]], [original["from"], *original["to"]], strict=True
        ):
            if "phoneNumber" not in source:
                assert party == source
            elif party["phoneNumber"] == source["phoneNumber"]:
                plain += 1
            else:
                assert party["phoneNumber"] == mask_number(source["phoneNumber"])
                assert party["phoneNumber"].endswith("XXXX")
                masked += 1
    assert {"all": plain == 0 < masked, "none": masked == 0 < plain}.get(
        masking, masked > 0 and plain > 0
    )


def test_mask_number_keeps_all_but_the_last_four_digits() -> None:
    assert mask_number("+33512345678") == "+3351234XXXX"
    assert mask_number("+1 (650) 555-0100") == "+1 (650) 555-XXXX"


def test_range_requests_like_the_content_endpoint(client: httpx.Client, clock: FakeClock) -> None:
    task_id = _completed(client, clock)
    uri = client.get(f"{REPORT}/{task_id}/archive").json()["records"][1]["uri"]
    whole = client.get(uri).content
    size = len(whole)
    head = client.get(uri, headers={"Range": "bytes=0-999"})
    assert head.status_code == 206 and head.headers["Content-Range"] == f"bytes 0-999/{size}"
    tail = client.get(uri, headers={"Range": "bytes=1000-"})
    assert tail.headers["Content-Range"] == f"bytes 1000-{size - 1}/{size}"
    assert head.content + tail.content == whole
    suffix = client.get(uri, headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == whole[-10:]
    beyond = client.get(uri, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    assert beyond.json()["errorCode"] == "CMN-107"
    several = client.get(uri, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == whole


def test_downloads_stream_in_chunks(emu: Emulator, clock: FakeClock) -> None:
    """A 20 MB export is built and downloaded without ever holding a zip in memory."""
    big = Emulator(messages=2000, seed=5, clock=clock, rate_limits=False)
    client = login(big)
    tracemalloc.start()
    try:
        task_id = _completed(client, clock)
        uri = client.get(f"{REPORT}/{task_id}/archive").json()["records"][1]["uri"]
        total, pieces = 0, []
        with client.stream("GET", uri) as answer:
            size = int(answer.headers["Content-Length"])
            for piece in answer.iter_bytes():
                pieces.append(len(piece))
                total += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size > 15_000_000
    assert max(pieces) <= CHUNK and len(pieces) > 1
    assert peak < 12_000_000  # below the archive's size: it was never whole in memory


# -- failures ---------------------------------------------------------------------------------


def _force(client: httpx.Client, fate: str, times: int = 1) -> None:
    answer = client.post("/_emulator/message-store-report", json={"fate": fate, "times": times})
    assert answer.status_code == 201


def test_forced_attempt_failed_then_completes(client: httpx.Client, clock: FakeClock) -> None:
    _force(client, "AttemptFailed")
    task_id = _create(client).json()["id"]
    assert _statuses(client, clock, task_id, 0.5) == [
        "Accepted",
        "Pending",
        "InProgress",
        "AttemptFailed",
        "InProgress",
        "Completed",
    ]
    assert len(client.get(f"{REPORT}/{task_id}/archive").json()["records"]) == 2


@pytest.mark.parametrize("fate", ["Failed", "Cancelled"])
def test_forced_terminal_failures(
    client: httpx.Client, clock: FakeClock, validate: Validate, fate: str
) -> None:
    _force(client, fate, times=2)
    ids = [_create(client).json()["id"] for _ in range(2)]
    for task_id in ids:
        assert _statuses(client, clock, task_id, 0.5)[-1] == fate
        done = client.get(f"{REPORT}/{task_id}")
        assert "finishTime" in done.json()
        validate(done)
        assert client.get(f"{REPORT}/{task_id}/archive").json() == {"records": []}
        assert client.get(f"{REPORT}/{task_id}/archive/0").status_code == 404
    assert client.get("/_emulator/message-store-report").json()["forced"] == []
    assert _completed(client, clock)  # the next one is back to normal


def test_random_faults_fail_some_tasks(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(export=INSTANT, faults={"error_rate": 0.4})
    created = 0
    for _ in range(400):  # empty windows: only the fates matter here
        answer = _create(client, dateFrom="2030-01-01T00:00:00Z", dateTo="2030-01-02T00:00:00Z")
        created += answer.status_code == 202
        assert answer.status_code in (202, 500, 503)
    fates = [t["fate"] for t in client.get("/_emulator/message-store-report").json()["tasks"]]
    assert len(fates) == created > 100
    counts = {fate: fates.count(fate) for fate in set(fates)}
    assert set(counts) == {"Completed", "AttemptFailed", "Failed"}
    assert counts["Completed"] > counts["Failed"]


def test_control_refuses_bad_options(client: httpx.Client) -> None:
    for body in (
        {"export": {"nope": 1}},
        {"export": {"max_zip_bytes": 10}},
        {"export": {"masking": "half"}},
        {"export": {"task_seconds": -1}},
        {"export": {"task_seconds": 1e12}},
        {"export": {"task_seconds_per_1000": "slow"}},
    ):
        assert client.put("/_emulator/config", json=body).status_code == 400
    assert client.post("/_emulator/message-store-report", json={"fate": "Late"}).status_code == 400
    config = client.get("/_emulator/config").json()["export"]
    assert config == {
        "task_seconds": 13.0,
        "task_seconds_per_1000": 1.0,
        "max_zip_bytes": 1 << 30,
        "masking": "some",
    }


# -- over loopback HTTP -----------------------------------------------------------------------


def test_export_over_loopback_with_a_dropped_download(clock: FakeClock) -> None:
    emu = Emulator(messages=300, seed=9, clock=clock, rate_limits=False)
    with serve(emu) as server:
        token = login(emu).headers["Authorization"]
        client = httpx.Client(base_url=server.url, headers={"Authorization": token})
        task_id = _create(client).json()["id"]
        assert _status(client, task_id) == "Accepted"
        client.post("/_emulator/clock", json={"advance": 60})
        listing = client.get(f"{REPORT}/{task_id}/archive").json()["records"]
        assert listing[1]["uri"].startswith(server.url)
        fault = {
            "operation": "readMessageStoreReportArchiveContent",
            "after_write": "reset",
            "times": 1,
        }
        assert client.post("/_emulator/faults", json=fault).status_code == 201
        received = bytearray()
        with pytest.raises(httpx.HTTPError), client.stream("GET", listing[1]["uri"]) as answer:
            for piece in answer.iter_raw():
                received += piece
        assert 0 < len(received) < listing[1]["size"]
        # The docs' samples put the token in the URL instead of a header.
        bare = httpx.Client(base_url=server.url)
        access = token.removeprefix("Bearer ")
        rest = bare.get(
            listing[1]["uri"],
            params={"access_token": access},
            headers={"Range": f"bytes={len(received)}-"},
        )
        assert rest.status_code == 206
        whole = bytes(received) + rest.content
        assert len(whole) == listing[1]["size"]
        archive = zipfile.ZipFile(io.BytesIO(whole))
        assert archive.testzip() is None and archive.namelist()
        assert bare.get(listing[1]["uri"]).status_code == 401


def test_served_api_base_in_records(clock: FakeClock) -> None:
    emu = Emulator(messages=40, seed=4, clock=clock, rate_limits=False)
    emu.configure(export={**INSTANT, "masking": "none"})
    with serve(emu) as server:
        token = login(emu).headers["Authorization"]
        client = httpx.Client(base_url=server.url, headers={"Authorization": token})
        first = _zips(client, _create(client).json()["id"])[0]
        uris = {r["uri"].partition("/restapi")[0] for r in _exported(first)}
        assert uris == {server.url}
        assert API not in first.read(first.namelist()[0]).decode()


# -- the whole account ------------------------------------------------------------------------


def _account(clock: FakeClock) -> tuple[Emulator, httpx.Client]:
    emu = Emulator(messages=60, seed=11, clock=clock, rate_limits=False, extensions=3)
    emu.configure(export={**INSTANT, "masking": "none"})
    return emu, login(emu)


def _user(emu: Emulator) -> httpx.Client:
    client = httpx.Client(transport=emu.transport(), base_url=API)
    form = {**JWT_FORM, "assertion": "emulator-user-jwt"}
    token = client.post("/restapi/oauth/token", data=form, auth=CLIENT_AUTH).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


def test_export_covers_every_extension(clock: FakeClock) -> None:
    emu, admin = _account(clock)
    emu.delete_extension(next(e.id for e in emu.account if e.number == "103"))
    emu.add_extensions(1, messages=5)  # 104, after the start: exported too
    first, *rest = _zips(admin, _create(admin).json()["id"])
    live = {str(e.id): e for e in emu.account}
    names = {f"account/{ACC}/extension/{i}/message-store.json" for i in live}
    assert set(first.namelist()) == names and len(names) == 3
    packed = {n for z in rest for n in z.namelist()}
    for ext_id in live:
        params = {"dateFrom": HISTORY, "perPage": "1000", "availability": ["Alive", "Deleted"]}
        path = f"/restapi/v1.0/account/~/extension/{ext_id}/message-store"
        api = {r["id"]: r for r in admin.get(path, params=params).json()["records"]}
        body = json.loads(first.read(f"account/{ACC}/extension/{ext_id}/message-store.json"))
        assert {r["id"]: r for r in body["records"]} == api and api
        prefix = f"account/{ACC}/extension/{ext_id}/message-store/"
        expected = {
            f"{prefix}{r['id']}/content/{a['id']}"
            for r in api.values()
            for a in r["attachments"]
            if a["type"] in PACKED_TYPES
        }
        assert {n.rpartition(".")[0] for n in packed if n.startswith(prefix)} == expected


def test_a_plain_user_may_not_export(clock: FakeClock) -> None:
    emu, admin = _account(clock)
    task_id = _create(admin).json()["id"]
    user = _user(emu)
    for answer in (
        _create(user),
        user.get(f"{REPORT}/{task_id}"),
        user.get(f"{REPORT}/{task_id}/archive"),
        user.get(f"{REPORT}/{task_id}/archive/0"),
    ):
        assert answer.status_code == 403
        assert answer.json()["errorCode"] == "CMN-408"
        assert answer.json()["permissionName"] == "Users"
        assert "[Users] permission" in answer.json()["message"]
    assert len(emu.reports.tasks) == 1  # the refused create made no task
    assert user.get(STORE).status_code == 200  # their own messages stay readable
