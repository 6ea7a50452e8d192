"""`search` order: newest first by default (the index walked from the highest id, stopping at
the limit), best-ranked first on request; `total` counts every match either way."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rcsync.emulator import Emulator
from rcsync.store.messages import save_records
from rcsync.store.search import SearchFilters, search_with_total
from rcsync.types import ConflictPolicy, SearchOrder

NOW = "2026-12-04T10:00:00.000Z"


def _archive(engine: Engine) -> str:
    """A stored archive and a word in many of its messages."""
    records = list(Emulator(messages=400, seed=7, rate_limits=False).store.all_records())
    with engine.begin() as conn:
        save_records(conn, records, policy=ConflictPolicy.NEWEST, now=NOW)
        words = conn.execute(
            sa.text("SELECT subject FROM message WHERE type = 'SMS' AND subject IS NOT NULL")
        ).scalars()
    counts: dict[str, int] = {}
    for subject in words:
        for w in {w.strip(".,!?").lower() for w in subject.split()}:
            if w.isalpha() and len(w) > 3:
                counts[w] = counts.get(w, 0) + 1
    return max(counts, key=lambda w: counts[w])


def _matches(engine: Engine, word: str, where: str = "") -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT m.id, m.creation_time FROM message_fts JOIN message m"
                    f" ON m.id = message_fts.rowid WHERE message_fts MATCH :w {where}"
                ),
                {"w": word},
            )
        )


def test_newest_first_is_the_newest_matches(engine: Engine) -> None:
    word = _archive(engine)
    every = _matches(engine, word)
    assert len(every) > 30
    with engine.connect() as conn:
        found = search_with_total(conn, word, limit=10)
    newest = sorted(every, key=lambda r: (r[1], r[0]), reverse=True)[:10]
    assert [h.id for h in found.hits] == [r[0] for r in newest]
    assert found.total == len(every)


def test_relevance_is_rank_order_and_filters_count(engine: Engine) -> None:
    word = _archive(engine)
    with engine.connect() as conn:
        ranked = conn.execute(
            sa.text(
                "SELECT m.id FROM message_fts JOIN message m ON m.id = message_fts.rowid"
                " WHERE message_fts MATCH :w ORDER BY rank, m.creation_time DESC, m.id DESC"
                " LIMIT 5"
            ),
            {"w": word},
        ).scalars()
        expected = list(ranked)
        found = search_with_total(conn, word, limit=5, order=SearchOrder.RELEVANCE)
        unread = search_with_total(conn, word, limit=5, filters=SearchFilters(unread=True))
        newest = search_with_total(conn, word, limit=5)
    assert [h.id for h in newest.hits] != expected  # the orders differ on this archive
    assert [h.id for h in found.hits] == expected
    assert unread.total == len(_matches(engine, word, "AND m.read_status = 'Unread'"))
    assert 0 < unread.total < found.total
