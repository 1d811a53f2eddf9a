"""connectors.base.read_pages, the paging loop the permit, real-name and clue-channel connectors share:
the bookmark never moves back, a repeated page does no harm, an upstream stuck on one page is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import Batch, MalformedResponse, Page, read_pages

Answers = list[Batch[str]]


def upstream(answers: Answers) -> tuple[Callable[[str | None], Batch[str]], list[str | None]]:
    """A fetch answering ``answers`` in turn, and the cursors it was sent."""
    sent: list[str | None] = []

    def fetch(cursor: str | None) -> Batch[str]:
        sent.append(cursor)
        return answers[len(sent) - 1]

    return fetch, sent


def read(answers: Answers, start: str | None = None) -> tuple[list[Page], list[str | None]]:
    fetch, sent = upstream(answers)
    pages = list(
        read_pages(
            fetch,
            start,
            position=lambda r: f"{r['updateTime']}|{r['id']}",
            bookmark=lambda cursor: {"cursor": cursor},
            connector="test",
            stream="items",
        )
    )
    return pages, sent


def rec(t: str, key: str) -> dict[str, str]:
    return {"updateTime": f"2026-11-20 {t}", "id": key}


def test_the_bookmark_follows_the_last_record_and_reading_stops_without_more() -> None:
    # Given an upstream with two pages, the second the last
    answers = [Batch([rec("09:00:00", "a")], None, True), Batch([rec("10:00:00", "b")], None, False)]
    # When read from the beginning
    pages, sent = read(answers)
    # Then each page's bookmark is its last record's position, sent back for the next page
    assert [p.state for p in pages] == [{"cursor": "2026-11-20 09:00:00|a"}, {"cursor": "2026-11-20 10:00:00|b"}]
    assert sent == [None, "2026-11-20 09:00:00|a"]


def test_a_cursor_sent_backwards_is_ignored() -> None:
    # Given an upstream whose next cursor goes a day behind the one sent
    start = "2026-11-20 09:00:00|a"
    answers = [Batch([rec("10:00:00", "b")], "2026-11-19 00:00:00|", True), Batch([], None, False)]
    # When read from a bookmark
    pages, sent = read(answers, start)
    # Then the bookmark keeps moving forward
    assert [p.state for p in pages] == [{"cursor": "2026-11-20 10:00:00|b"}]
    assert sent == [start, "2026-11-20 10:00:00|b"]


def test_a_repeated_page_is_harmless_and_a_stuck_upstream_is_refused() -> None:
    same = Batch([rec("09:00:00", "a")], None, True)
    # Given an upstream that repeats a page once, then goes on
    pages, _ = read([same, same, Batch([rec("10:00:00", "b")], None, False)])
    # Then the repeat is read again without moving the bookmark back, and reading goes on
    assert [p.state["cursor"][-1] for p in pages] == ["a", "a", "b"]
    # Given an upstream that answers the same page for ever
    # When read, Then reading stops with MalformedResponse after three pages that do not advance
    with pytest.raises(MalformedResponse, match="upstream pagination does not advance"):
        read([same] * 10)
