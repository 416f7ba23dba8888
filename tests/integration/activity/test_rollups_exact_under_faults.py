"""The hourly roll-ups stay exact through crashes between any two writes, redeliveries, late records
for long-closed hours, stand-ins replaced by final records, and readers racing writers (a real
SecantusDB; a crash is the write sequence abandoned after its k-th write, as a killed consumer
leaves it, followed by JetStream's redelivery of the whole batch)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from activity import rollups
from activity.repository import ActivityRepository
from tests.integration.activity.records import NOW, REQUEST, Doc, Raw, assert_exact, raw_sums, record, summary

Client = AsyncMongoClient[dict[str, Any]]


def late_batch() -> list[Doc]:
    """A batch as a consumer meets it after an outage: records of hours closed long ago (a gateway's
    spool replayed), a redelivered record, and the final record of a stream whose stand-in is stored."""
    late = [record(1000 + i, ts=NOW - timedelta(hours=20, minutes=3 * i)) for i in range(12)]
    final = record(500, status=200, latency_ms=120.0, stream_outcome="complete", cost_usd=0.5)
    return [*late, record(3), final]


async def seeded(client: Client) -> tuple[ActivityRepository, Raw]:
    """A fresh store with records over two days, a stand-in for request 500, and every hour's
    roll-up cached by a first summary."""
    name = f"activity_{secrets.token_hex(4)}"
    repo = ActivityRepository(client, name)
    await repo.ensure_indexes(90)
    await repo.store(REQUEST, [record(i) for i in range(300)])
    stand_in = record(500, status=500, latency_ms=9000.0, stream_outcome="interrupted", cost_usd=0.0)
    await repo.store(REQUEST, [stand_in])
    await assert_exact(repo, client[name])
    return repo, client[name]


async def write_until_crash(repo: ActivityRepository, docs: list[Doc], crash_after: int) -> int:
    """Perform the first `crash_after` writes of storing `docs`, then stop as a killed process would;
    returns how many writes storing them takes in all."""
    writes = repo.writes(REQUEST, docs)
    done = 0
    async for _ in writes:
        done += 1
        if done == crash_after:
            break
    await writes.aclose()
    return done


async def test_the_roll_ups_cache_every_hour_at_its_current_generation(repo: ActivityRepository, raw: Raw) -> None:
    await repo.store(REQUEST, [record(i) for i in range(200)])
    await assert_exact(repo, raw)
    hours = [d async for d in raw[rollups.COLLECTION].find({"org_id": "org_a"})]
    assert len(hours) > 20
    assert all(hour["rollup"]["gen"] == hour["gen"] for hour in hours)


async def test_a_crash_between_any_two_writes_and_the_redelivery_leave_every_count_exact(client: Client) -> None:
    steps = len([_ async for _ in (await seeded(client))[0].writes(REQUEST, late_batch())])
    assert steps == 3  # insert, replace the stand-in, bump the hours
    for crash_after in range(1, steps + 1):  # after the last write: killed before its ack
        repo, raw = await seeded(client)
        await write_until_crash(repo, late_batch(), crash_after)
        got, want = await summary(repo), await raw_sums(raw)
        for key, row in got.items():  # before the redelivery some records may not count yet, none twice
            assert row["requests"] <= want[key]["requests"], (crash_after, key)
        await repo.store(REQUEST, late_batch())  # JetStream redelivers the unacknowledged batch
        await assert_exact(repo, raw)
        await repo.store(REQUEST, late_batch())  # and maybe once more
        await assert_exact(repo, raw)
        await assert_exact(repo, raw, since=NOW - timedelta(hours=21, minutes=40), until=NOW - timedelta(hours=3))
        stored = await raw["requests"].find_one({"_id": "req_000500"})
        assert stored is not None
        assert stored["stream_outcome"] == "complete"


async def test_late_records_for_an_hour_closed_long_ago_are_counted_once(repo: ActivityRepository, raw: Raw) -> None:
    await repo.store(REQUEST, [record(i) for i in range(300)])
    await assert_exact(repo, raw)  # every hour cached
    spooled = [record(2000 + i, ts=NOW - timedelta(hours=30, minutes=i)) for i in range(40)]
    await repo.store(REQUEST, spooled)
    await assert_exact(repo, raw)
    await repo.store(REQUEST, spooled[10:])
    await assert_exact(repo, raw)
    got = await summary(repo, since=NOW - timedelta(hours=31), until=NOW - timedelta(hours=29))
    want = await raw_sums(raw, NOW - timedelta(hours=31), NOW - timedelta(hours=29))
    assert sum(row["requests"] for row in got.values()) == sum(row["requests"] for row in want.values())


async def test_a_roll_up_computed_before_a_write_is_not_used_after_it(repo: ActivityRepository, raw: Raw) -> None:
    """A reader reads an hour's generation, then records arrive for that hour (inserted and bumped),
    then the reader computes and stores its roll-up: it never stands for the hour afterwards."""
    await repo.store(REQUEST, [record(i) for i in range(100)])
    hour = rollups.hour_of(NOW - timedelta(hours=5))
    marks = await repo.hour_marks("org_a", hour, hour + timedelta(hours=1))
    assert len(marks) == 1
    await repo.store(REQUEST, [record(3000 + i, ts=hour + timedelta(minutes=i)) for i in range(30)])
    await repo.rows_of_hour(marks[0])  # computed from records read after the write, tagged before it
    await assert_exact(repo, raw)
    stored = await raw[rollups.COLLECTION].find_one({"_id": marks[0]["_id"]})
    assert stored is not None
    assert stored["gen"] > marks[0]["gen"]


async def test_a_roll_up_cached_between_a_records_insert_and_its_bump_is_not_used_after_the_bump(
    repo: ActivityRepository, raw: Raw
) -> None:
    await repo.store(REQUEST, [record(i) for i in range(100)])
    hour = rollups.hour_of(NOW - timedelta(hours=7))
    late = [record(4000 + i, ts=hour + timedelta(minutes=2 * i)) for i in range(20)]
    await write_until_crash(repo, late, 1)  # inserted, not yet bumped
    await assert_exact(repo, raw, since=NOW - timedelta(hours=3))  # other hours unaffected
    await summary(repo)  # caches the hour as it is now
    await repo.store(REQUEST, late)  # the bump (after the redelivery's duplicate inserts)
    await assert_exact(repo, raw)


async def test_the_open_hour_counts_records_written_after_its_roll_up_was_cached(
    repo: ActivityRepository, raw: Raw
) -> None:
    await repo.store(REQUEST, [record(i) for i in range(50)])
    await assert_exact(repo, raw)
    for batch in range(3):
        now = rollups.hour_of(NOW) + timedelta(seconds=batch)
        await repo.store(REQUEST, [record(5000 + 10 * batch + i, ts=now) for i in range(10)])
        await assert_exact(repo, raw)
        await assert_exact(repo, raw, since=NOW - timedelta(minutes=20))


async def test_records_stored_before_hours_were_marked_are_counted_after_an_upgrade(
    client: Client, db_name: str, raw: Raw
) -> None:
    """An older version wrote records only; the first start of this one marks their hours."""
    await raw["requests"].insert_many([record(i) for i in range(150)])
    repo = ActivityRepository(client, db_name)
    await repo.ensure_indexes(90)
    await assert_exact(repo, raw)
    await repo.ensure_indexes(90)  # a restart changes nothing
    await repo.store(REQUEST, [record(i) for i in range(100, 200)])
    await assert_exact(repo, raw)
