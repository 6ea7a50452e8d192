"""Retention warnings in `status`: RingCentral's caps and time limits, from the account's
configuration when verify could read it, else the documented defaults (and it says which)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import sqlalchemy as sa

from rcsync.rules.retention import SOON_DAYS, Limits, Source, cutoffs, limits_from
from tests.system.trust.trust_env import TrustEnv


def _iso(days_ago: float) -> str:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _add(env: TrustEnv, start: int, n: int, **row: str) -> None:
    values = {"type": "VoiceMail", "dir": "Inbound", "rs": "Unread", "av": "Alive",
              "ct": _iso(1), **row}  # fmt: skip
    [(extension,)] = env.sql("SELECT DISTINCT extension_id FROM message")
    engine = env.engine()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO message (id, extension_id, type, direction, creation_time, raw,"
                " read_status, base_read_status, remote_read_status, availability,"
                " base_availability, remote_availability) VALUES (:id, :ext, :type, :dir, :ct,"
                " '{}', :rs, :rs, :rs, :av, :av, :av)"
            ),
            [{"id": start + i, "ext": extension, **values} for i in range(n)],
        )
    engine.dispose()


def test_defaults_until_verify_reads_the_account_setting(pulled: TrustEnv) -> None:
    code, report = pulled.json("status")
    assert code == 0
    assert report["retention"]["source"] == "documented defaults"
    assert report["retention"]["limits"]["retention_days"] is None
    pulled.emu.configure(retention_period=30)
    assert pulled.run("verify").exit_code == 0
    _code, report = pulled.json("status")
    assert report["retention"]["source"] == "account configuration"
    assert report["retention"]["limits"]["retention_days"] == 30
    text = pulled.run("status").output
    assert "retention    200 unheard voicemails" in text and "faxes and voicemail 30 days" in text


def test_a_login_that_may_not_read_it_falls_back_to_the_defaults(pulled: TrustEnv) -> None:
    httpx.post(
        f"{pulled.url}/_emulator/faults",
        json={"operation": "readMessageStoreConfiguration", "status": 403},
    ).raise_for_status()
    code, verify = pulled.json("verify")
    assert code == 0 and verify["retention_period"] is None
    assert pulled.json("status")[1]["retention"]["source"] == "documented defaults"


def test_warnings_near_the_caps_and_time_limits(pulled: TrustEnv) -> None:
    _add(pulled, 9_000_000, 185)  # unheard voicemail: near the 200 cap
    _add(pulled, 9_100_000, 4_600, type="SMS", rs="Read")  # Inbox near 5,000
    _add(pulled, 9_200_000, 2, type="Fax", dir="Outbound", rs="Read", ct=_iso(26))
    pulled.sql(
        "INSERT INTO attachment (message_id, id, type, uri) VALUES (9200000, 1,"
        " 'RenderedDocument', 'https://x/1')"
    )
    _code, report = pulled.json("status")
    warnings = report["retention"]["warnings"]
    unheard = next(w for w in warnings if "unheard voicemails" in w)
    assert "of RingCentral's cap of 200" in unheard
    assert any("SMS in Inbox of RingCentral's 5,000 per folder" in w for w in warnings)
    expiring = next(w for w in warnings if "time limit" in w)
    assert "2 messages" in expiring and "1 of them not fully archived" in expiring
    [counts] = report["retention"]["extensions"].values()
    assert counts["unheard_voicemail"] >= 185 and counts["expiring_incomplete"] == 1
    text = pulled.run("status").output
    assert "  warning: " in text


def test_a_small_archive_is_near_no_cap(pulled: TrustEnv) -> None:
    _code, report = pulled.json("status")
    assert not [w for w in report["retention"]["warnings"] if "RingCentral's cap" in w]
    assert not [w for w in report["retention"]["warnings"] if "per folder" in w]


def test_limits_and_windows() -> None:
    assert limits_from(None) == Limits(None, Source.DEFAULTS)
    assert limits_from("junk").source is Source.DEFAULTS
    stored = json.dumps({"retention_period": 45, "read_at": "2026-01-01T00:00:00.000Z"})
    assert limits_from(stored).retention_days == 45
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    cut = cutoffs(limits_from(stored), now)
    assert SOON_DAYS == 7
    assert cut.sent_fax == ("2026-01-30T00:00:00.000Z", "2026-02-06T00:00:00.000Z")
    assert cut.retention == ("2026-01-15T00:00:00.000Z", "2026-01-22T00:00:00.000Z")
    assert cut.live_since == "2026-01-15T00:00:00.000Z"
