"""The layout holds: imports run one way, from higher layers down, and no module outgrows ~350 lines.

Layers, lowest first; a module may import its own layer or a lower one, never a higher one:

- base: errors, log, settings (lib/config*, each market's settings.py), display, plugins, serve: what every
  layer needs and nothing else; a market's settings sit here because lib/config nests them.
- storage: lib/storage/, the only code that talks to MongoDB; it stores what it is handed and knows no job.
- spine: lib/spine/, the collection machinery every market plugs into (calendar, chain, catch-up, runner,
  the registry of datasets); it knows no market (the markets register themselves with it).
- analysis and ai: lib/analysis/, lib/ai/ and their plugins (strategies/, measures/, prompts/): derived jobs
  that read stored data; a market's stages call them, so they sit below the markets.
- markets: lib/markets/<market>/: each market's sources, collector and stages, built on the spine and the
  analysis they subscribe.
- ops: lib/ops/: status, alerts, notifiers, cleanup: they look across every market and job.
- cli: lib/cli.py: how a script runs (exit codes, the run record, the check-up it prints).
- top: api/, the top-level scripts, tools/, benchmarks/: entry points, imported by nothing in lib/.

The order was checked against the tree of the layout-by-domain commit: the spine imports no market and no
analysis, storage imports neither; the only upward imports were storage taking the stored form of a date from
the spine's calendar (moved to lib/storage/dates.py), the analysis job naming SourceChain through the KRX
market (now from lib/spine/chain.py), and those listed in KNOWN below. Analysis sits below the markets because
the markets' stages call it (the US stages, the KRX analysis subscribing to KRX bars), never the reverse.

Imports at any depth count (inside functions too); an `if TYPE_CHECKING:` block is type-only and may point
anywhere. Plugins loaded by name (importlib) are not imports and are not checked here.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 350

LAYERS = ("base", "storage", "spine", "analysis", "markets", "ops", "cli", "top")

# (glob over the module's path relative to the repository, layer): the first match wins.
PLACES = (
    ("lib/__init__.py", "base"),
    ("lib/errors.py", "base"),
    ("lib/log.py", "base"),
    ("lib/config.py", "base"),
    ("lib/config_*.py", "base"),
    ("lib/settings_base.py", "base"),
    ("lib/config/*", "base"),
    ("lib/display.py", "base"),
    ("lib/plugins.py", "base"),
    ("lib/serve.py", "base"),
    ("lib/settings_base.py", "base"),
    ("lib/markets/*/settings.py", "base"),
    ("lib/markets/*/*_settings.py", "base"),  # a market's settings split in parts (us/stocks_settings.py)
    ("lib/markets/__init__.py", "base"),  # the folder the markets are found in: no code (lib/spine/registry.py)
    ("lib/storage/*", "storage"),
    ("lib/spine/*", "spine"),
    ("lib/analysis/*", "analysis"),
    ("lib/ai/*", "analysis"),
    ("lib/context/*", "analysis"),  # reads the watermark datasets back for the prompts and the API
    ("strategies/*", "analysis"),
    ("measures/*", "analysis"),
    ("prompts/*", "analysis"),
    ("lib/markets/*", "markets"),
    ("lib/ops/*", "ops"),
    ("lib/cli.py", "cli"),
    ("api/*", "top"),
    ("tools/*", "top"),
    ("benchmarks/*", "top"),
    ("*.py", "top"),  # the top-level scripts: only files directly at the root reach here (see `modules`)
)

# Imports allowed to run upwards for now, (importer, imported, why): none. An entry that no longer occurs fails
# the test, so the list cannot go stale.
KNOWN: tuple[tuple[str, str, str], ...] = ()

# Modules allowed over MAX_LINES for now, module -> why: none.
KNOWN_LONG: dict[str, str] = {}


def modules() -> dict[str, Path]:
    """Every checked module by dotted name: lib/, api/, the plugins, tools/, benchmarks/ and the top-level
    scripts."""
    found: dict[str, Path] = {}
    paths = list(ROOT.glob("*.py"))
    for folder in ("lib", "api", "strategies", "measures", "prompts", "tools", "benchmarks"):
        paths += (ROOT / folder).rglob("*.py")
    for path in paths:
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer_of(path: Path) -> str | None:
    """The layer of a module's file, or None when no place names it."""
    relative = path.relative_to(ROOT).as_posix()
    for pattern, layer in PLACES:
        if fnmatch(relative, pattern) and (pattern != "*.py" or "/" not in relative):
            return layer
    return None


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, known: dict[str, Path], root: Path = ROOT) -> set[str]:
    """The checked modules a file imports at run time (any depth; not inside `if TYPE_CHECKING:`)."""
    found: set[str] = set()
    package = path.relative_to(root).with_suffix("").parts[:-1]

    def resolve(name: str) -> str | None:
        # `import lib.storage.jobs` names a module; the longest known prefix is what is imported.
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in known:
                return ".".join(parts[:end])
        return None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := resolve(alias.name)) is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from lib.storage import jobs` imports the module lib.storage.jobs; `from lib.x import name`
                # imports lib.x.
                target = resolve(f"{base}.{alias.name}") if f"{base}.{alias.name}" in known else resolve(base)
                if target is not None:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def upward_imports() -> list[tuple[str, str, str, str]]:
    """Every (importer, imported, importer's layer, imported's layer) where the import runs upwards."""
    known = modules()
    found = []
    for name, path in sorted(known.items()):
        here = layer_of(path)
        for target in sorted(imports(path, known)):
            there = layer_of(known[target])
            if here and there and LAYERS.index(there) > LAYERS.index(here):
                found.append((name, target, here, there))
    return found


def test_every_module_has_a_layer():
    """A new module lands in a layer the test knows, so the import rule covers it."""
    unplaced = sorted(name for name, path in modules().items() if layer_of(path) is None)
    assert not unplaced, f"modules in no layer (add them to PLACES in tests/test_layers.py): {unplaced}"


def test_imports_run_one_way():
    """No module imports one in a higher layer (other than the known ones being fixed on other branches)."""
    known = {(importer, imported) for importer, imported, _ in KNOWN}
    found = upward_imports()
    wrong = [
        f"{importer} ({here}) imports {imported} ({there})"
        for importer, imported, here, there in found
        if (importer, imported) not in known
    ]
    assert not wrong, "imports running upwards:\n" + "\n".join(wrong)
    stale = known - {(importer, imported) for importer, imported, _, _ in found}
    assert not stale, f"KNOWN entries that no longer occur (remove them): {sorted(stale)}"


def test_no_module_over_350_lines():
    """lib/, api/ and the top-level scripts stay small: a module that grows past the limit is split."""
    long = []
    for path in sorted(modules().values()):
        relative = path.relative_to(ROOT).as_posix()
        if not (relative.startswith(("lib/", "api/")) or "/" not in relative) or relative in KNOWN_LONG:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long.append(f"{relative}: {lines} lines")
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility):\n" + "\n".join(long)
    present = {path.relative_to(ROOT).as_posix() for path in modules().values()}
    assert set(KNOWN_LONG) <= present, f"KNOWN_LONG names missing files: {sorted(set(KNOWN_LONG) - present)}"
    short = [name for name in KNOWN_LONG if len((ROOT / name).read_text(encoding="utf-8").splitlines()) <= MAX_LINES]
    assert not short, f"KNOWN_LONG entries no longer over {MAX_LINES} lines (remove them): {short}"


def test_an_upward_import_is_found_even_inside_a_function(tmp_path):
    """The checker sees imports nested in functions and skips type-only ones."""
    (tmp_path / "lib" / "spine").mkdir(parents=True)
    probe = tmp_path / "lib" / "spine" / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lib.ops import alerts\n"
        "def later():\n    from lib.markets.krx import market\n    import lib.cli\n    from . import calendar\n",
        encoding="utf-8",
    )
    known = dict.fromkeys(("lib.ops.alerts", "lib.markets.krx", "lib.markets.krx.market", "lib.cli",
                           "lib.spine.calendar"), Path())
    assert imports(probe, known, tmp_path) == {"lib.markets.krx.market", "lib.cli", "lib.spine.calendar"}
