"""The registry of datasets, discovered from the market packages (lib/markets/<market>/__init__.py, each
declaring `DATASETS = (Dataset(...), ...)` with lazy builders, so that reading the registry imports no market's
heavy code).

`registry()` imports every package or module found on `lib.markets.__path__` and collects their DATASETS: a new
market is a new package there (or a folder appended to `lib.markets.__path__`) and nothing else. Markets are
found by name, like the plugins (lib/plugins.py's `scan`), so the spine imports no market. A module that fails to
import or declares something wrong is logged and listed in `Registry.errors`, never a crash of the tools that
read the registry (check_db, `/health`, alerts)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from lib.plugins import scan
from lib.spine.datasets import Dataset, Registry, registry_of

MARKETS_PACKAGE = "lib.markets"  # the package whose modules are the markets

_registry: Registry | None = None


def _declared(declared: Any) -> tuple[Dataset, ...]:
    """What a market module must declare: DATASETS, a non-empty tuple of one market's Datasets, each session
    dataset with its calendar and its Market builder."""
    if not isinstance(declared, tuple) or not declared or not all(isinstance(d, Dataset) for d in declared):
        raise TypeError("module has no DATASETS = (Dataset(...), ...)")
    markets = sorted({d.market for d in declared})
    if len(markets) > 1:
        raise ValueError(f"one module registers one market, not {', '.join(markets)}")
    kinds = [d.kind for d in declared]
    if len(set(kinds)) < len(kinds):
        raise ValueError(f"market {markets[0]!r} registers a kind twice: {kinds}")
    for dataset in declared:
        if dataset.cadence == "session" and (dataset.calendar is None or dataset.build is None):
            raise ValueError(f"dataset {dataset.key} has the session cadence but no calendar or build")
    return declared


def discover() -> Registry:
    """Every market module's DATASETS, in module-name order; the modules that failed, with why, in `errors`
    (the same scan as the strategies', lib/plugins.py: a market registered twice is refused)."""
    datasets: list[Dataset] = []

    def take(_short: str, module: ModuleType) -> None:
        declared = _declared(getattr(module, "DATASETS", None))
        if declared[0].market in {d.market for d in datasets}:
            raise ValueError(f"market {declared[0].market!r} is already registered")
        datasets.extend(declared)

    errors = scan(MARKETS_PACKAGE, "market", take)
    return registry_of(datasets, errors)


def registry() -> Registry:
    """The registry of datasets, discovered on first use and kept."""
    global _registry
    if _registry is None:
        _registry = discover()
    return _registry


def reset_registry() -> None:
    """Forget the kept registry (tests that plug in or remove a market); the next `registry()` discovers again."""
    global _registry
    _registry = None
