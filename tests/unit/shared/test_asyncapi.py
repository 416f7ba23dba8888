"""The published bus contract (`docs/asyncapi.yaml`, AsyncAPI 3.0) names every subject of
`shared/subjects.py` with its messages and their msgspec schemas, and is exactly what `just asyncapi`
generates today (a stale file fails here)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from faststream.nats import NatsBroker

from activity.handlers import register as register_activity
from catalog.handlers import register as register_catalog
from catalog.service import Catalog
from shared import contract, subjects
from shared.asyncapi import render
from shared.messages.base import Failed

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"
CONCRETE_SUBJECT = re.compile(r"^[a-z]+\.v\d+\.[a-z_.]+$")  # no wildcard, not a prefix, not a stream name


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def test_the_published_document_is_what_the_generator_writes_today() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "docs/asyncapi.yaml is stale: run `just asyncapi`"


def test_every_subject_declared_in_subjects_py_is_a_channel(doc: dict[str, Any]) -> None:
    declared = {
        v for k, v in vars(subjects).items() if k.isupper() and isinstance(v, str) and CONCRETE_SUBJECT.match(v)
    }
    addresses = {ch["address"] for ch in doc["channels"].values() if ch["address"]}
    assert declared, "no subject found to check"
    assert declared - addresses == set(), "subjects missing from docs/asyncapi.yaml"
    assert addresses - declared == set(), "channels for subjects no longer declared"


def test_every_message_of_the_contract_is_in_the_document_with_its_schema(doc: dict[str, Any]) -> None:
    names = {Failed.__name__}
    for rr in contract.REQUESTS:
        names |= {rr.request.__name__, *(tp.__name__ for tp in rr.replies)}
    names |= {event.message.__name__ for event in contract.EVENTS}
    messages, schemas = doc["components"]["messages"], doc["components"]["schemas"]
    assert names - set(messages) == set(), "messages missing from docs/asyncapi.yaml"
    for name in names:
        assert messages[name]["payload"] == {"$ref": f"#/components/schemas/{name}"}
        assert name in schemas


def test_every_reference_in_the_document_resolves(doc: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs(doc)
    assert found
    for ref in found:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"unresolved {ref}"
            node = node[part]


def test_every_request_reply_channel_has_its_reply_with_failed(doc: dict[str, Any]) -> None:
    operations = [op for op in doc["operations"].values() if "reply" in op]
    assert len(operations) == len(contract.REQUESTS)
    for op in operations:
        assert {"$ref": op["reply"]["channel"]["$ref"] + "/messages/Failed"} in op["reply"]["messages"]


@pytest.mark.parametrize(("service", "register"), [("catalog", register_catalog), ("activity", register_activity)])
def test_the_faststream_subscribers_of_a_service_are_exactly_its_subjects_in_the_contract(
    service: str, register: Any
) -> None:
    broker = NatsBroker()
    # registering only binds the use cases (nothing is called): catalog's need no database here
    unused_ctx: Any = SimpleNamespace(signing_key=b"")
    register(broker, Catalog(unused_ctx) if service == "catalog" else object())
    served = {sub._resolved_subject_string for sub in broker.subscribers}
    assert served == {rr.subject for rr in contract.REQUESTS if rr.responder == service}
