"""keyvault keeps the smallest dependency set: its installed package metadata, resolved transitively
(`importlib.metadata`), contains neither FastStream nor pydantic, while catalog's does (so the
resolution is shown to reach them when they are there)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, requires
from typing import Final

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

FORBIDDEN: Final = {"faststream", "fast-depends", "pydantic", "pydantic-core"}


def closure(distribution: str) -> set[str]:
    """Every distribution `distribution` requires, transitively, with the extras each requirement asks
    for (markers evaluated for this interpreter, as pip installs them)."""
    found: set[str] = set()
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(distribution), frozenset[str]())]
    while todo:
        item = todo.pop()
        if item in visited:
            continue
        visited.add(item)
        name, extras = item
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in declared:
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
                continue
            found.add(canonicalize_name(req.name))
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return found


def test_keyvault_installed_dependencies_contain_neither_faststream_nor_pydantic() -> None:
    deps = closure("keyrelay-keyvault")
    assert "keyrelay-shared" in deps
    assert "nats-py" in deps
    assert not deps & FORBIDDEN, f"keyvault would install {sorted(deps & FORBIDDEN)}"


def test_catalog_and_activity_do_bring_faststream_and_pydantic() -> None:
    for service in ("keyrelay-catalog", "keyrelay-activity"):
        deps = closure(service)
        assert {"faststream", "fast-depends", "pydantic"} <= deps, service
