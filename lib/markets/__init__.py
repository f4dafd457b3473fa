"""The markets: one package per market (krx, us), each declaring its datasets in its `__init__.py` as
`DATASETS = (Dataset(...), ...)`, with lazy builders so that reading the registry imports no market's heavy code.

`registry()` imports every package or module found on this package's path and collects their DATASETS: a new
market is a new package here (or a folder appended to `lib.markets.__path__`) and nothing else. A module that
fails to import or declares something wrong is logged and listed in `Registry.errors`, never a crash of the tools
that read the registry (check_db, `/health`, alerts)."""

from __future__ import annotations

import importlib
import pkgutil

from lib.log import get_logger
from lib.spine.datasets import Dataset, Registry, registry_of

log = get_logger("markets")

_registry: Registry | None = None


def _declared(module_name: str, short: str, taken: set[str]) -> tuple[Dataset, ...]:
    module = importlib.import_module(module_name)
    declared = getattr(module, "DATASETS", None)
    if not isinstance(declared, tuple) or not declared or not all(isinstance(d, Dataset) for d in declared):
        raise TypeError("module has no DATASETS = (Dataset(...), ...)")
    for dataset in declared:
        if dataset.market != short:
            raise ValueError(f"dataset {dataset.key} names market {dataset.market!r}, not its package {short!r}")
        if dataset.key in taken:
            raise ValueError(f"dataset {dataset.key} is already registered")
        if dataset.cadence == "session" and (dataset.calendar is None or dataset.build is None):
            raise ValueError(f"dataset {dataset.key} has the session cadence but no calendar or build")
    return declared


def discover() -> Registry:
    """Every market module's DATASETS, in module-name order; the modules that failed, with why, in `errors`."""
    datasets: list[Dataset] = []
    errors: list[tuple[str, str]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module_name = f"{__name__}.{info.name}"
        try:
            datasets += _declared(module_name, info.name, {d.key for d in datasets})
        except Exception as exc:  # noqa: BLE001 - a broken market is reported and skipped, the others still work
            message = f"{exc.__class__.__name__}: {exc}"
            log.error("market module %s skipped: %s", module_name, message)
            errors.append((module_name, message))
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
