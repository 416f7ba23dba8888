"""The Node `openai` package (run with node) on /v1/chat/completions: plain, streamed and
tool-calling turns, each found in the activity log by its `x-request-id`."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from tests.conftest import wait_for_record
from tests.e2e.clients.conftest import ECHO, HERE, OPENAI_MODEL, OPENAI_SLUG, Caller, ClientsOrg

SCRIPT = HERE / "openai_turns.mjs"


def node_turn(node: str, caller: Caller, turn: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "GATEWAY_V1": caller.v1,
        "GATEWAY_KEY": caller.key,
        "GATEWAY_MODEL": f"@{OPENAI_SLUG}/{OPENAI_MODEL}",
    }
    done = subprocess.run(
        [node, str(SCRIPT), turn], env=env, cwd=HERE, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    for request_id in result["request_ids"]:
        record = wait_for_record(caller.stack, request_id)
        assert record["integration"] == OPENAI_SLUG
        assert record["api_key_id"] == caller.key_id
    return result


def test_the_node_openai_package_gets_a_plain_answer_through_the_gateway(node: str, clients_org: ClientsOrg) -> None:
    caller = clients_org.caller()
    result = node_turn(node, caller, "plain")
    assert result["text"] == f"{ECHO}hello node"
    assert result["total_tokens"] > 0
    caller.assert_served_by(OPENAI_SLUG, 1)


def test_the_node_openai_package_streams_an_answer_through_the_gateway(node: str, clients_org: ClientsOrg) -> None:
    caller = clients_org.caller()
    result = node_turn(node, caller, "stream")
    assert len(result["pieces"]) > 1
    assert "".join(result["pieces"]) == f"{ECHO}hello stream"
    assert result["total_tokens"] > 0
    caller.assert_served_by(OPENAI_SLUG, 1, streamed=1)


def test_the_node_openai_package_calls_a_tool_and_answers_with_its_result(node: str, clients_org: ClientsOrg) -> None:
    caller = clients_org.caller()
    result = node_turn(node, caller, "tool")
    assert result["finish_reason"] == "tool_calls"
    assert result["calls"] == [["weather_in", {"city": "please call tool weather_in"}]]
    assert result["text"] == f"{ECHO}sunny in Lisbon"
    caller.assert_served_by(OPENAI_SLUG, 2)
