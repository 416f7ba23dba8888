"""`keyrelay catalog check`: the catalog's prices are dated and sourced; models without one are listed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from catalog.check import check_catalog
from catalog.providers import load_model_catalog


def catalog_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "catalog", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_every_built_in_price_carries_its_source_and_the_date_it_was_taken() -> None:
    catalog = load_model_catalog()
    for provider in catalog.providers():
        for model in catalog.for_provider(provider):
            assert model.price_source, (provider, model.id)
            assert len(model.price_date) == len("2026-01-01"), (provider, model.id)


def test_the_built_in_catalog_passes_the_check_and_its_unpriced_models_are_listed() -> None:
    result = catalog_check()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "catalog check: ok"
    assert "  pollo: pollo/pollo-v2-0 (video; unpriced: billed in Pollo credits (task status reports them))" in lines
    assert not any(line.startswith("  openai: gpt-4o-mini ") for line in lines)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"id": "x-1", "input": -1, "price_source": "s", "price_date": "2026-01-01"}, "prices must not be negative"),
        ({"id": "x-1", "input": 1, "price_source": "s", "price_date": "01/02/2026"}, "price_date must be a date"),
        ({"id": "x-1", "input": 1, "price_date": "2026-01-01"}, "openai/x-1: no price_source"),
        ({"id": "x-1", "input": 1, "price_source": "s"}, "openai/x-1: no price_date"),
        ({"id": "x-1", "input": 1, "price_source": "s", "price_date": "2999-01-01"}, "is in the future"),
        ({"id": "x-1", "input": 1, "price_source": "s", "price_date": "2026-01-01", "prize": 2}, "prize"),
        (
            {"id": "x-1", "aliases": ["gpt-4o-mini"], "input": 1, "price_source": "s", "price_date": "2026-01-01"},
            "openai/x-1: alias 'gpt-4o-mini' names another model",
        ),
    ],
)
def test_bad_catalog_data_fails_the_check_naming_the_model(
    tmp_path: Path, entry: dict[str, object], problem: str
) -> None:
    """In process (the command's own function); the command line itself is run by the tests around."""
    extra = tmp_path / "models.json"
    extra.write_text(json.dumps({"openai": [entry]}))
    report = check_catalog(extra, today=date(2026, 11, 28))
    assert not report.ok
    output = "\n".join(report.lines())
    assert problem in output
    assert report.lines()[-1].endswith("problem(s)")


def test_a_bad_models_file_fails_the_command_with_exit_1(tmp_path: Path) -> None:
    extra = tmp_path / "models.json"
    extra.write_text(json.dumps({"openai": [{"id": "x-1", "input": -1}]}))
    result = catalog_check("--models-file", str(extra))
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0].startswith("problem: model 'x-1': prices must not be negative")
    assert result.stdout.splitlines()[-1] == "catalog check: 1 problem(s)"


def test_an_operators_models_file_without_a_price_is_listed(tmp_path: Path) -> None:
    extra = tmp_path / "models.json"
    extra.write_text(
        json.dumps({"groq": [{"id": "new-1", "price_source": "unpriced: ask", "price_date": "2026-11-01"}]})
    )
    result = catalog_check("--models-file", str(extra))
    assert result.returncode == 0, result.stdout
    assert "  groq: new-1 (chat; unpriced: ask)" in result.stdout.splitlines()
