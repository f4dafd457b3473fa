"""Plugin discovery shared by strategies/, measures/ and prompts/: import every module of a package, check what
it declares, and report (never raise) the modules that fail."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any, Protocol

from lib.log import get_logger

log = get_logger("plugins")

SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


class Named(Protocol):
    """Anything with a name: a strategy, a measure."""

    name: str


def check_declaration[P: Named](plugin: object, kind: type[P], attribute: str) -> P:
    """What a declaration must be: of its kind, with a snake_case name and a one-line description."""
    if not isinstance(plugin, kind):
        raise TypeError(f"module has no {attribute} = {kind.__name__}(...)")
    if not SNAKE_CASE.fullmatch(plugin.name):
        raise ValueError(f"name {plugin.name!r} is not snake_case")
    description = getattr(plugin, "description", "")
    if not description.strip() or "\n" in description:
        raise ValueError("description must be one line")
    return plugin


def discover_plugins(
    package: str, attribute: str, check: Callable[[Any], Any], key: Callable[[Any], str], kind: str
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """Each module's `attribute`, checked, by `key`; and (module, error) for every module that was skipped."""
    found: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module_name = f"{package}.{info.name}"
        try:
            module = importlib.import_module(module_name)
            plugin = check(getattr(module, attribute, None))
            if key(plugin) in found:
                raise ValueError(f"name {key(plugin)!r} is already taken")
        except Exception as exc:  # noqa: BLE001 - any error in a plugin skips that plugin only
            message = f"{exc.__class__.__name__}: {exc}"
            log.error("%s module %s skipped: %s", kind, module_name, message)
            errors.append((module_name, message))
            continue
        found[key(plugin)] = plugin
    return found, tuple(errors)
