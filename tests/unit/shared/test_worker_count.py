"""The gateway's default workers: the cores the process may use (a CPU limit counts), and half of
them when the whole stack shares the machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.cores import cgroup_cpu_quota, gateway_workers_beside_the_stack, usable_cores
from shared.stack import EmbeddedStack, load_or_create_secrets


def _affinity() -> int:
    return len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("cpu_max", "quota"), [("100000 100000", 1), ("150000 100000", 2), ("50000 100000", 1)])
def test_a_cgroup_cpu_limit_caps_the_usable_cores(tmp_path: Path, cpu_max: str, quota: int) -> None:
    limit = tmp_path / "cpu.max"
    limit.write_text(cpu_max + "\n")
    assert cgroup_cpu_quota(limit) == quota
    assert usable_cores(limit) == min(_affinity(), quota)


@pytest.mark.parametrize("cpu_max", ["max 100000", "", "garbage", None])
def test_without_a_cpu_limit_the_usable_cores_are_the_affinity(tmp_path: Path, cpu_max: str | None) -> None:
    limit = tmp_path / "cpu.max"
    if cpu_max is not None:
        limit.write_text(cpu_max)
    assert cgroup_cpu_quota(limit) is None
    assert usable_cores(limit) == _affinity()


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8)])
def test_beside_the_whole_stack_the_gateway_takes_half_the_cores(cores: int, workers: int) -> None:
    assert gateway_workers_beside_the_stack(cores) == workers


def _stack(tmp_path: Path, extra_env: dict[str, str]) -> EmbeddedStack:
    stack = EmbeddedStack(data_dir=tmp_path, extra_env=extra_env)
    stack.secrets = load_or_create_secrets(tmp_path / "secrets.env")
    return stack


def test_the_embedded_stack_gives_the_gateway_half_the_cores_unless_the_operator_says(tmp_path: Path) -> None:
    assert _stack(tmp_path, {}).service_env("gateway")["KEYRELAY_HTTP_WORKERS"] == str(
        gateway_workers_beside_the_stack()
    )
    assert "KEYRELAY_HTTP_WORKERS" not in _stack(tmp_path, {}).service_env("keyvault")
    given = _stack(tmp_path, {"KEYRELAY_HTTP_WORKERS": "3"})
    assert given.service_env("gateway")["KEYRELAY_HTTP_WORKERS"] == "3"
