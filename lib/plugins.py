"""Plugins: one read-only registry for every kind (strategies/, measures/, prompts/).

A kind says what each module of its folder declares (`STRATEGY = Strategy(...)`) and how a declaration is
checked beyond what every plugin must be (of its class, a snake_case name, a one-line description). Discovery
imports every module of the folder; a module that fails to import, declares nothing valid or takes a name
already taken is logged and skipped (never fatal), and the registry keeps it with why."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, ClassVar, Protocol, Self

from pydantic import BaseModel

from lib.errors import ConfigError
from lib.log import get_logger

log = get_logger("plugins")

SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


class Named(Protocol):
    """What every plugin declares: a strategy, a measure, a prompt."""

    name: str
    description: str


def _no_claims(_: Any) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Kind[P: Named]:
    """What a plugin of one kind must declare, and how it is checked."""

    noun: str  # "strategy": in log lines and in the error of an unknown name
    attribute: str  # "STRATEGY": what each module binds its declaration to
    type: type[P]  # the declaration's class
    package: str  # the folder it is discovered from unless told another
    check: Callable[[P], object] = lambda plugin: None  # the kind's own rules: raises to skip the module
    # Names besides its own that no two plugins may share (a measure's columns); the first module keeps them.
    claims: Callable[[P], Iterable[str]] = _no_claims

    def checked(self, declared: object) -> P:
        """The declaration, if it is one of this kind; a TypeError or ValueError saying what is wrong."""
        if not isinstance(declared, self.type):
            raise TypeError(f"module has no {self.attribute} = {self.type.__name__}(...)")
        if not SNAKE_CASE.fullmatch(declared.name):
            raise ValueError(f"name {declared.name!r} is not snake_case")
        description = getattr(declared, "description", "")
        if not isinstance(description, str) or not description.strip() or "\n" in description:
            raise ValueError("description must be one line")
        self.check(declared)
        return declared


def require_model(value: object, what: str) -> type[BaseModel]:
    """A declared parameter or data model must be a pydantic model class."""
    if not (isinstance(value, type) and issubclass(value, BaseModel)):
        raise TypeError(f"{what} must be a pydantic model class")
    return value


@dataclass(frozen=True)
class Registry[P: Named]:
    """Plugins of one kind by name (read-only, iterated in name order) and the modules that were skipped,
    with why. A kind's registry is a subclass that sets `kind`."""

    kind: ClassVar[Kind[Any]]
    plugins: Mapping[str, P] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()  # (module, "ErrorClass: why it was skipped")

    def __post_init__(self) -> None:
        # A copy behind a read-only view: neither the caller's dict nor the registry can change it later.
        object.__setattr__(self, "plugins", MappingProxyType(dict(self.plugins)))
        object.__setattr__(self, "errors", tuple(self.errors))

    def __getitem__(self, name: str) -> P:
        try:
            return self.plugins[name]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise ConfigError(f"unknown {self.kind.noun} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.plugins

    def __iter__(self) -> Iterator[P]:
        return iter(self.plugins[name] for name in sorted(self.plugins))

    def __len__(self) -> int:
        return len(self.plugins)

    @property
    def names(self) -> tuple[str, ...]:
        """The registered names, sorted."""
        return tuple(sorted(self.plugins))

    @classmethod
    def discover(cls, package: str | None = None) -> Self:
        """Every valid plugin of the package (the kind's folder by default); a broken module is logged and
        skipped, never fatal."""
        found, errors = discover_plugins(cls.kind, package or cls.kind.package)
        return cls(found, errors)


def by_name() -> Any:
    """A registry's `plugins` under the name its kind's callers use: `strategies = by_name()`."""
    return property(lambda registry: registry.plugins, doc="The plugins by name (the registry's `plugins`).")


def scan(package: str, noun: str, take: Callable[[str, ModuleType], object]) -> tuple[tuple[str, str], ...]:
    """Import each public module of the package (in name order) and hand it to `take(short name, module)`; a
    module whose import or `take` raises is logged and skipped: (module, "ErrorClass: why") for each."""
    errors: list[tuple[str, str]] = []
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module_name = f"{package}.{info.name}"
        try:
            take(info.name, importlib.import_module(module_name))
        except Exception as exc:  # noqa: BLE001 - any error in a plugin skips that plugin only
            message = f"{exc.__class__.__name__}: {exc}"
            log.error("%s module %s skipped: %s", noun, module_name, message)
            errors.append((module_name, message))
    return tuple(errors)


def discover_plugins[P: Named](kind: Kind[P], package: str) -> tuple[dict[str, P], tuple[tuple[str, str], ...]]:
    """Each module's declaration, checked, by name; and (module, error) for every module that was skipped."""
    found: dict[str, P] = {}
    owners: dict[str, str] = {}  # a claimed name -> the module that holds it

    def take(short: str, module: ModuleType) -> None:
        plugin = kind.checked(getattr(module, kind.attribute, None))
        if plugin.name in found:
            raise ValueError(f"name {plugin.name!r} is already taken")
        claimed = tuple(kind.claims(plugin))
        taken = sorted({c for c in claimed if c in owners})
        if taken:
            raise ValueError(f"{taken} already declared by {owners[taken[0]]}")
        found[plugin.name] = plugin
        owners.update(dict.fromkeys(claimed, module.__name__))

    errors = scan(package, kind.noun, take)
    return found, errors
