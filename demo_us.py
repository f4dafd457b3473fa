"""The demo's US stocks part (demo.py, issue 17): the universe from the recorded NASDAQ Trader symbol files and
Yahoo screener answer, the setup window and a catch-up of daily bars replayed from real yfinance output, the US
analysis (indicators, picks, track records in the US collections), the recorded statements and option chains, then
the US universe and one screener's picks in dollars."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import collect
import hourly_analysis
import us_stocks_update
from demo_report import print_screener
from lib.analysis.screener import Strategy
from lib.config import PROJECT_ROOT, Settings
from lib.display import count
from lib.markets.us.market import us_calendar
from lib.spine.registry import registry
from lib.storage import Storage

SAMPLE = PROJECT_ROOT / "data" / "sample"
DATASET = "us.stocks"
# the recorded answers the US stocks' readers replay, each needing the US universe first
READERS: dict[str, tuple[str, Path]] = {
    "us.financials": ("us_financials_replay_dir", SAMPLE / "us_financials"),
    "us.options": ("us_options_replay_dir", SAMPLE / "us_options"),
}


def us_stocks_settings() -> dict[str, Any]:
    """The demo's US stocks settings: on, replayed from data/sample/us_stocks and the recorded readers' folders."""
    values: dict[str, Any] = {"us_stocks": True, "us_stocks_sources": ["replay"],
                              "us_stocks_replay_dir": SAMPLE / "us_stocks"}
    values |= {setting: folder for setting, folder in READERS.values() if folder.is_dir()}
    return values


def steps(args: argparse.Namespace) -> list[tuple[str, Any, list[str], str]]:
    """us_stocks_update's setup and catch-up, the US analysis, and the recorded statements and option chains."""
    out = [
        ("us_stocks_update", us_stocks_update.main,
         ["--setup", "--sessions", str(args.us_stock_sessions), "--today", args.us_first_day],
         f"first install: the universe, then {args.us_stock_sessions} sessions of the stocks' bars"),
        ("us_stocks_update", us_stocks_update.main, ["--today", args.us_today], "catch-up"),
        ("us_analysis", hourly_analysis.main, ["--market", "us", "--today", args.us_today],
         "the US stocks' indicators, picks and track records"),
    ]
    present = [key for key, (_, folder) in READERS.items() if folder.is_dir()]
    if present:
        out.append(("us_financials", collect.main, [*present, "--today", args.us_today],
                    "the recorded statements and option chains of the largest stocks"))
    return out


def print_us_stocks(storage: Storage, settings: Settings, strategy: Strategy) -> None:
    """The US universe in a line, the stored financials and options summaries, and one screener in dollars."""
    dataset = registry().get(DATASET)
    scoped = storage.scoped(dataset.namespace)
    universe = scoped.universe.universe()
    active = [d for d in universe if d.get("is_active")]
    floor = settings.market("us").min_market_cap
    print(f"\n=== US universe: {count(len(active))} active stocks of NASDAQ Trader's listed common stocks with a "
          f"market cap of at least {floor / 1e9:,.1f} billion USD ({count(len(universe) - len(active))} inactive)")
    counts = {key: storage.watermarks.item_count(key) for key in READERS}
    print("    stored: " + ", ".join(f"{key} {count(n)} item(s)" for key, n in counts.items()))
    print_screener(scoped, settings, strategy, calendar=us_calendar(settings), currency=dataset.currency or "USD",
                   label="US ")
