"""The incremental SSE parser: any split point gives the same events."""

from __future__ import annotations

import pytest

from gateway.wire.sse import SseEvent, SseParser

STREAM = (
    ": keep-alive\n\n"
    'event: message_start\ndata: {"text": "h\u00e9llo \u2603 \U0001f600"}\n\n'
    "data: first line\ndata: second line\n\n"
    "data:no-space\r\n\r\n"
    "event: ping\ndata: {}\n\n"
    "data: [DONE]\n\n"
).encode()
EXPECTED = [
    SseEvent("message_start", '{"text": "h\u00e9llo \u2603 \U0001f600"}'),
    SseEvent(None, "first line\nsecond line"),
    SseEvent(None, "no-space"),
    SseEvent("ping", "{}"),
    SseEvent(None, "[DONE]"),
]


def parse_in_pieces(blob: bytes, cuts: list[int]) -> list[SseEvent]:
    parser, events, start = SseParser(), [], 0
    for cut in [*cuts, len(blob)]:
        events += parser.feed(blob[start:cut])
        start = cut
    return events + parser.close()


def test_a_whole_body_parses_into_its_events():
    """Comments are dropped, multi-line data is joined, event names are kept."""
    assert parse_in_pieces(STREAM, []) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_every_single_split_point_gives_the_same_events(cut):
    """Cuts mid-line, mid-field, between CR and LF and inside multi-byte UTF-8 change nothing."""
    assert parse_in_pieces(STREAM, [cut]) == EXPECTED


def test_byte_by_byte_feeding_gives_the_same_events():
    """The worst case: one byte per network chunk."""
    assert parse_in_pieces(STREAM, list(range(1, len(STREAM)))) == EXPECTED


def test_lone_carriage_returns_end_lines_too():
    """Old-Mac line ends (CR only) are valid SSE."""
    assert parse_in_pieces(b"data: a\r\rdata: b\r\r", [8]) == [SseEvent(None, "a"), SseEvent(None, "b")]


def test_a_final_event_without_its_blank_line_is_delivered_on_close():
    """Servers that end the body right after the last data line still deliver it."""
    parser = SseParser()
    assert parser.feed(b'data: {"a": 1}') == []
    assert parser.close() == [SseEvent(None, '{"a": 1}')]


def test_an_event_without_data_is_not_dispatched():
    """Only `event:` and no `data:` is not an event (per the SSE spec)."""
    assert parse_in_pieces(b"event: lonely\n\nid: 7\nretry: 10\n\n", []) == []


LF_ONLY = STREAM.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("cut", range(1, len(LF_ONLY), 3))
def test_a_stream_without_carriage_returns_gives_the_same_events_at_any_split_point(cut):
    """The LF-only fast path (one split per read) keeps partial lines and multi-byte UTF-8 for the next read."""
    assert parse_in_pieces(LF_ONLY, [cut, min(len(LF_ONLY), cut + 7)]) == EXPECTED
