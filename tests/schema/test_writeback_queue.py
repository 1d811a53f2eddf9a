"""The write-back queue in the graph (the console's 写回 page): ``writebacks`` lists it, ``retryWriteback``
delivers one now; both for administrators, within the jurisdiction, with clear refusals."""

from __future__ import annotations

from sqlalchemy import select

from hub import models as m
from hub.db import make_engine, session_scope
from schema.types._common import to_global_id

QUEUE = """query($status: String, $after: String) { writebacks(status: $status, first: 5, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { databaseId channel writebackStatus writebackAttempts clue { clueNo } } } }"""
RETRY = """mutation($id: ID!) { retryWriteback(id: $id) {
  databaseId writebackStatus writebackAttempts writebackError writebackNextAt } }"""


def _queued(url: str) -> dict[int, str]:
    engine = make_engine(url)
    with session_scope(engine) as s:
        rows = dict(
            s.execute(
                select(m.ChannelRecord.id, m.ChannelRecord.writeback_status).where(
                    m.ChannelRecord.writeback_status.is_not(None)
                )
            ).all()
        )
    engine.dispose()
    return rows


async def test_the_queue_pages_through_every_record_with_a_write_back(graph, demo) -> None:
    # Given the demo's channel records that have a write-back (as the database holds them)
    queued = _queued(demo.url)
    assert queued, "the demo queues no write-back"
    # When an admin pages through the queue, five at a time
    seen: dict[int, str] = {}
    after = None
    while True:
        page = (await graph.data(QUEUE, {"status": None, "after": after}))["writebacks"]
        seen.update({n["databaseId"]: n["writebackStatus"] for n in page["nodes"]})
        assert all(n["clue"]["clueNo"] for n in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Then it lists each of them once, with its status
    assert seen == queued
    # And `status` narrows it to one state
    one = sorted(set(queued.values()))[0]
    narrowed = (await graph.data(QUEUE, {"status": one, "after": None}))["writebacks"]
    assert narrowed["totalCount"] == sum(1 for s in queued.values() if s == one)


async def test_an_unknown_status_is_refused_naming_it(graph) -> None:
    err = await graph.error(QUEUE, {"status": "done", "after": None})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["field"] == "status"
    assert err["message"] == "unknown write-back status 'done'"


async def test_only_administrators_see_the_queue(graph) -> None:
    err = await graph.error(QUEUE, {"status": None, "after": None}, as_="city")
    assert (err["extensions"]["code"], err["message"]) == (
        "FORBIDDEN",
        "only administrators may read the write-back queue",
    )


async def test_retrying_a_record_with_nothing_to_deliver_says_so(graph, demo) -> None:
    # Given a channel record whose write-back was acknowledged (or one with none at all)
    queued = _queued(demo.url)
    done = next((pk for pk, status in queued.items() if status == "acknowledged"), None)
    engine = make_engine(demo.url)
    with session_scope(engine) as s:
        idle = s.scalars(select(m.ChannelRecord.id).where(m.ChannelRecord.writeback_status.is_(None)).limit(1)).one()
    engine.dispose()
    for pk, state in [(done, "acknowledged"), (idle, "not queued")]:
        if pk is None:
            continue
        # When an admin asks to retry it
        err = await graph.error(RETRY, {"id": to_global_id("ChannelRecord", pk)})
        # Then nothing is sent, and the refusal says why
        assert err["extensions"]["code"] == "BAD_USER_INPUT"
        assert err["message"] == f"channel record {pk} has nothing to retry: its write-back is {state}"


async def test_a_retry_delivers_now_and_answers_the_record_as_it_stands(writable_graph) -> None:
    # Given a clue just closed: its outcome waits to be written back to its channels
    clues = await writable_graph.data(
        "{ clues(filter: {status: [IN_PROGRESS], multiChannel: true}, first: 1) { nodes { clueNo } } }"
    )
    clue_no = clues["clues"]["nodes"][0]["clueNo"]
    closed = await writable_graph.data(
        'mutation($n: String!) { closeClue(clueNo: $n, conclusion: "经查属实，已支付") { channelRecords { id channel '
        "writebackStatus writebackAttempts } } }",
        {"n": clue_no},
    )
    records = closed["closeClue"]["channelRecords"]
    pending = [r for r in records if r["writebackStatus"] == "pending"]
    assert pending, records
    # When an admin retries one now (the test demo has no connector to deliver through)
    record = pending[0]
    after = (await writable_graph.data(RETRY, {"id": record["id"]}))["retryWriteback"]
    # Then one attempt was made, whatever its back-off, and the record says how it went: failing, with
    # the reason and the next try
    kind = {"HOTLINE12345": "hotline12345", "NATIONAL_PLATFORM": "national_platform"}[record["channel"]]
    assert after["writebackAttempts"] == record["writebackAttempts"] + 1
    assert after["writebackStatus"] == "failing"
    assert after["writebackError"] == (
        f"no enabled {kind} connector to write back to: enable or add one, then `hub writebacks retry`"
    )
    assert after["writebackNextAt"]
