"""The plugin registry shared by strategies/, measures/ and prompts/: every shipped plugin of every kind honours
the shared contract, a broken plugin of any kind is reported and skipped, and a registry is read-only."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest

from lib.ai.prompts import PromptRegistry, discover_prompts
from lib.analysis.cross_section import MeasureRegistry, discover_measures
from lib.analysis.screener import Registry, discover
from lib.errors import ConfigError
from lib.plugins import SNAKE_CASE

ROOT = Path(__file__).resolve().parent.parent
KINDS = (Registry, MeasureRegistry, PromptRegistry)
SHIPPED = {Registry: discover(), MeasureRegistry: discover_measures(), PromptRegistry: discover_prompts()}
PLUGINS = [(cls, plugin) for cls, registry in SHIPPED.items() for plugin in registry]


def test_the_contract_covers_every_kind_and_nothing_shipped_was_skipped():
    assert {cls.kind.noun for cls, _ in PLUGINS} == {"strategy", "measure", "prompt"}
    for cls, registry in SHIPPED.items():
        assert registry.errors == (), cls.kind.noun
        assert len(registry) == len(list((ROOT / cls.kind.package).glob("[!_]*.py")))  # one plugin per module


@pytest.mark.parametrize("cls, plugin", PLUGINS, ids=lambda v: getattr(v, "name", getattr(v, "__name__", "")))
def test_every_registered_plugin_honours_the_shared_contract(cls, plugin):
    registry = SHIPPED[cls]
    assert registry[plugin.name] is plugin and plugin.name in registry.names
    assert SNAKE_CASE.fullmatch(plugin.name)
    assert plugin.description.strip() and "\n" not in plugin.description
    assert cls.kind.checked(plugin) is plugin  # the kind's own rules pass, not only what discovery saw
    module = sys.modules[f"{cls.kind.package}.{plugin.name}"]  # each module is named for what it declares
    assert getattr(module, cls.kind.attribute) is plugin


# --- a temporary package of each kind: one good plugin and every way a module can be broken -----------------

DECLARATIONS = {
    "strategy": '''
        import pandas as pd
        from pydantic import BaseModel, Field
        from lib.analysis.screener import Strategy

        class Params(BaseModel):
            level: float = Field(1.0, ge=0, le=10, description="level")

        STRATEGY = Strategy(
            name=NAME, description=DESCRIPTION, params=Params, lookback=1, columns=("close",),
            signals=lambda rows, p: pd.DataFrame({"fired": rows["close"] > 0, "score": rows["close"]}),
            reason=lambda row, p: "always",
        )
    ''',
    "measure": '''
        from lib.analysis.cross_section import Measure

        MEASURE = Measure(name=NAME, description=DESCRIPTION, columns=(NAME.lower() + "_rank",), lookback=0,
                          compute=lambda panel: {NAME.lower() + "_rank": panel.market_cap.rank(axis=1, pct=True)})
    ''',
    "prompt": '''
        from langchain_core.prompts import ChatPromptTemplate
        from pydantic import BaseModel
        from lib.ai.prompts import UNTRUSTED_RULE, Prompt

        class In(BaseModel):
            stocks: str

        class Out(BaseModel):
            text: str
            citations: list[str]

        PROMPT = Prompt(
            name=NAME, version="1", description=DESCRIPTION,
            template=ChatPromptTemplate.from_messages(
                [("system", "Analyse. " + UNTRUSTED_RULE), ("human", "{stocks}")]),
            input_model=In, output_model=Out, build_input=lambda d: In(stocks=""),
        )
    ''',
}


def declaring(noun: str, name: str, description: str = "Works on any day") -> str:
    return f"NAME = {name!r}\nDESCRIPTION = {description!r}\n" + textwrap.dedent(DECLARATIONS[noun])


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fresh importable package; its modules are forgotten afterwards so another test may reuse names."""
    made: list[str] = []

    def make(name: str, modules: dict[str, str]) -> str:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for module, source in modules.items():
            (folder / f"{module}.py").write_text(source)
        made.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in made:
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


@pytest.mark.parametrize("cls", KINDS, ids=lambda c: c.kind.noun)
def test_a_broken_plugin_of_each_kind_is_reported_and_skipped(cls, package, caplog):
    noun, attribute = cls.kind.noun, cls.kind.attribute
    name = package(f"{noun}_plugins_under_test", {
        "a_good": declaring(noun, "good"),
        "b_import_fails": "import does_not_exist\n",
        "c_raises": "raise RuntimeError('boom')\n",
        "d_declares_nothing": "X = 1\n",
        "e_bad_name": declaring(noun, "Bad-Name"),
        "f_two_line_description": declaring(noun, "two_lines", "first line\nsecond line"),
        "g_name_taken": declaring(noun, "good"),
        "_helper": "raise RuntimeError('a private module is never imported')\n",
    })
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        registry = cls.discover(name)
    assert registry.names == ("good",) and registry["good"].name == "good"
    errors = dict(registry.errors)
    assert sorted(errors) == [f"{name}.{m}" for m in (
        "b_import_fails", "c_raises", "d_declares_nothing", "e_bad_name", "f_two_line_description", "g_name_taken")]
    assert errors[f"{name}.b_import_fails"].startswith("ModuleNotFoundError: ")
    assert errors[f"{name}.c_raises"] == "RuntimeError: boom"
    assert attribute in errors[f"{name}.d_declares_nothing"]
    assert "not snake_case" in errors[f"{name}.e_bad_name"]
    assert "one line" in errors[f"{name}.f_two_line_description"]
    assert "'good' is already taken" in errors[f"{name}.g_name_taken"]
    assert f"{noun} module {name}.c_raises skipped: RuntimeError: boom" in caplog.text


def test_a_measure_column_belongs_to_the_first_module_that_declares_it(package):
    clash = declaring("measure", "late").replace('NAME.lower() + "_rank"', '"early_rank"')
    name = package("measures_clash_under_test", {"a_early": declaring("measure", "early"), "b_late": clash})
    registry = MeasureRegistry.discover(name)
    assert registry.names == ("early",) and registry.columns == ("early_rank",)
    assert dict(registry.errors) == {
        f"{name}.b_late": f"ValueError: ['early_rank'] already declared by {name}.a_early"}


def test_a_registry_is_read_only_and_a_miss_names_the_known_plugins():
    strategies = dict(SHIPPED[Registry].plugins)
    registry = Registry({n: strategies[n] for n in ("volume_spike", "golden_cross")})
    strategies.clear()  # the caller's dict is copied, not shared
    assert [s.name for s in registry] == ["golden_cross", "volume_spike"]  # iterated in name order
    with pytest.raises(TypeError):
        registry.plugins["x"] = registry["golden_cross"]  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"unknown strategy 'nope'; known: golden_cross, volume_spike$"):
        registry["nope"]
    with pytest.raises(ConfigError, match=r"unknown measure 'nope'; known: none$"):
        MeasureRegistry()["nope"]
    assert "golden_cross" in registry and "nope" not in registry
    assert registry.strategies is registry.plugins  # the names callers used before stay
