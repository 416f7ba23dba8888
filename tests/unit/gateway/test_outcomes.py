"""The gateway, not catalog, says a management outcome in HTTP."""

from __future__ import annotations

import typing

from gateway.api.outcomes import HTTP_STATUS, http_status
from shared.messages.catalog import ManageOutcome, ManageReply


def test_every_management_outcome_has_exactly_one_http_status() -> None:
    assert set(HTTP_STATUS) == set(typing.get_args(ManageOutcome))
    assert http_status(ManageReply(outcome="ok")) == 200
    assert http_status(ManageReply(outcome="created")) == 201
    assert http_status(ManageReply(outcome="done")) == 204


def test_a_catalog_reply_carries_no_http_status() -> None:
    assert "status" not in ManageReply.__struct_fields__
