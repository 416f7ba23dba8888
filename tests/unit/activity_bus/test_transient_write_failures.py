"""Which failed writes the activity consumer retries for as long as they last (never dead-lettered
for them) and which count towards `max_deliveries`."""

from __future__ import annotations

from pymongo.errors import AutoReconnect, BulkWriteError, OperationFailure, ServerSelectionTimeoutError

from activity.repository import transient


def test_an_unreachable_database_is_transient() -> None:
    assert transient(AutoReconnect("connection reset"))
    assert transient(ServerSelectionTimeoutError("no server"))


def test_a_write_that_lost_a_race_with_another_is_transient() -> None:
    assert transient(OperationFailure("WriteConflict error", code=112))
    conflicted = {"writeErrors": [{"index": 0, "code": 112}, {"index": 3, "code": 11000}]}
    assert transient(BulkWriteError(conflicted))
    labelled = OperationFailure("retry me", code=91, details={"errorLabels": ["RetryableWriteError"]})
    assert transient(labelled)


def test_a_write_the_database_refuses_for_its_content_is_not_transient() -> None:
    assert not transient(OperationFailure("document too large", code=10334))
    assert not transient(BulkWriteError({"writeErrors": [{"index": 0, "code": 121}]}))
    assert not transient(ValueError("undecodable"))
