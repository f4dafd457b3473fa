"""The demo's AI-context part (demo.py): collect the recorded disclosures, news and macro answers with
`collect.py`, then print one stock's context block and one cited move_explainer analysis by the offline stub
model (lib/ai/stub.py: rule-based, not an LLM). A dataset whose recorded folder is not in this checkout is
skipped with one line, so the demo runs before and after those folders land."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import collect
from lib.ai.analyse import analysis_data, run_models, universe_context
from lib.ai.context import Context
from lib.ai.prompts import discover_prompts
from lib.ai.stub import NEAR_DAYS, STUB_LABEL, STUB_SPEC, stub_factory
from lib.config import PROJECT_ROOT, Settings, market_classes
from lib.context.read import day_cutoff, of_kind
from lib.display import count, pad, table
from lib.spine.registry import registry
from lib.spine.watermark import items_known_at
from lib.storage import Storage

SAMPLE = PROJECT_ROOT / "data" / "sample"
# dataset -> (its replay-folder setting, the recorded folder, the setting that turns it on if it has one)
RECORDED: dict[str, tuple[str, Path, str | None]] = {
    "krx.disclosures": ("krx_disclosures_replay_dir", SAMPLE / "dart", None),
    "krx.news": ("krx_news_replay_dir", SAMPLE / "news" / "krx", "krx_news"),
    "krx.macro": ("krx_macro_replay_dir", SAMPLE / "macro" / "ecos", None),
    "us.news": ("us_news_replay_dir", SAMPLE / "news" / "us", "us_news"),
    "us.macro": ("us_macro_replay_dir", SAMPLE / "macro" / "fred", None),
}


def recorded_settings() -> dict[str, Any]:
    """The demo's settings for the recorded folders: each present one replayed; a news dataset whose folder is
    missing is turned off (its live feeds would need the network). A macro dataset's first run reads one year
    (the context needs the latest readings; on the embedded database three years of FRED vintages took 67 s)."""
    values: dict[str, Any] = {}
    for setting, folder, switch in RECORDED.values():
        if folder.is_dir():
            values[setting] = folder
        elif switch:
            values[switch] = False
    for market, fields in market_classes().items():
        if "macro_first_run_years" in fields.model_fields:
            values[f"{market}_macro_first_run_years"] = 1
    return values


def collect_recorded(today: str, settings: Settings) -> int:
    """`collect.py DATASET... --today D` over the datasets whose recorded folder is here; one line per skipped one."""
    present = [key for key, (_, folder, _) in RECORDED.items() if folder.is_dir()]
    for key, (_, folder, _) in RECORDED.items():
        if key not in present:
            print(f"  {key}: skipped, no recorded answers at {folder.relative_to(PROJECT_ROOT)} in this checkout")
    if not present:
        return 0
    print(f"  collect.py {' '.join(present)} --today {today}", flush=True)
    return collect.main([*present, "--today", today], settings=settings)


def busiest_ticker(storage: Storage, day: dt.date, settings: Settings) -> str:
    """The stock with the most filings and news dated near the day (on it or the NEAR_DAYS before, where the stub
    looks for a cause), then in its context windows, known at the day's end (ties: the larger market cap); the
    largest stock when there are none."""
    screened = registry().screened()
    universe = [d["ticker"] for d in storage.universe.universe(active_only=True)]
    if screened is None or not universe:
        return "005930"
    cutoff = day_cutoff(day, screened.tz)
    counts: Counter[str] = Counter()
    near: Counter[str] = Counter()
    since = cutoff - dt.timedelta(days=NEAR_DAYS + 1)
    for kind, days in (("disclosures", settings.ai_context_disclosure_days), ("news", settings.ai_context_news_days)):
        for dataset in of_kind(registry(), kind):
            for item in items_known_at(storage, dataset.key, cutoff, cutoff - dt.timedelta(days=days), cutoff):
                counts[item.data.get("ticker")] += 1
                near[item.data.get("ticker")] += item.at > since.astimezone(dt.UTC).replace(tzinfo=None)
    return max(universe, key=lambda t: (near[t], counts[t], -universe.index(t)))


def _value(value: float | None, unit: str, sign: str = "") -> str:
    """A reading with its unit: 4 significant digits (a change: 3 decimals, signed)."""
    if value is None:
        return "-"
    return (f"{round(value, 3):+,g} {unit}" if sign else f"{value:,.4g} {unit}").strip()


def print_context(context: Context, ticker: str, name: str) -> None:
    """The block as the model gets it, for people: ids, dates, sources, aligned; macro values with units."""
    print(f"\n=== the context block of {ticker} {name} (known until {context.cutoff}; what the model may cite)")
    rows = [[f.id, f.date, "DART" + (f" [{f.flags}]" if f.flags else ""), f.title] for f in context.filings]
    rows += [[s.id, s.published, ", ".join(s.sources[:2]) + (f" +{len(s.sources) - 2}" if len(s.sources) > 2 else ""),
              s.title] for s in context.stories]
    if rows:
        print(table(["id", "date (KST)", "source", "filing / headline"], rows))
    else:
        print("  no filing or news story of this stock in the windows (AI_CONTEXT_DISCLOSURE_DAYS, _NEWS_DAYS)")
    if context.macro:
        print(table(["id", "observed", "source", "series", "value", "change"],
                    [[m.id, m.date, m.source, m.name, _value(m.value, m.unit), _value(m.change, m.unit, sign="+")]
                     for m in context.macro], right=(4, 5)))
    else:
        print("  no macro reading known at the cutoff")


def explain_move(storage: Storage, settings: Settings, today: str, now: dt.datetime) -> None:
    """One stock's context block, and a move_explainer analysis of it by the stub model (stored like any)."""
    day = dt.date.fromisoformat(today)
    ticker = busiest_ticker(storage, day, settings)
    doc = storage.universe.ticker_doc(ticker) or {}
    context = universe_context(storage, settings, [ticker], day)
    print_context(context, ticker, doc.get("name") or "")
    prompt = discover_prompts()["move_explainer"]
    data = analysis_data(storage, [ticker], day, context=context)
    base = {"prompt": prompt.name, "prompt_version": prompt.version, "template_hash": prompt.template_hash,
            "tickers": [ticker], "data_date": today, "strategy": None, "params": None, "key_id": "demo"}
    [result] = run_models(storage, settings, stub_factory, prompt, data, [STUB_SPEC], base, now)
    print(f"\n=== move_explainer on {ticker} {today}, answered by the {STUB_LABEL}")
    if result["status"] != "ok":
        print(f"  failed: {result['error']}")
        return
    answer = result["result"]
    described = context.describe()
    print(f"  {pad('explained', 11)} {answer['explained']} (confidence {answer['confidence']:.0%})")
    print(f"  {pad('explanation', 11)} {answer['explanation']}")
    for number, driver in enumerate(answer["drivers"], start=1):
        print(f"  driver {number}: [{driver['kind']}] {driver['factor']}")
        for cited in driver["citations"]:
            print(f"    {cited} = {described.get(cited, '?')}")
    print(f"  stored as {result['_id']} with its context ({count(len(described))} item(s)); "
          f"GET /ai/analysis/{result['_id']} returns it")
