"""The analysis universe (system_info.target_tickers): KOSPI/KOSDAQ common stocks at or above the market-cap
threshold, refreshed from each collected day. Leavers become inactive; their data is kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd


def is_common_stock(ticker: str) -> bool:
    """KRX short codes end in 0 for common shares; preferred shares end in 5, 7, 9 or a letter (K, L, ...)."""
    return ticker.endswith("0")


def plan_universe(
    current: dict[str, dict[str, Any]], day_frame: pd.DataFrame, day: dt.date, threshold_krw: int
) -> list[tuple[str, dict[str, Any]]]:
    """MongoDB updates that bring target_tickers in line with one day's market(s) (pure). Only stocks of the
    markets the frame holds can leave: a day delivered for KOSPI alone says nothing about KOSDAQ."""
    day_text = day.isoformat()
    commons = day_frame.loc[day_frame["ticker"].map(is_common_stock)]
    qualifying = commons.loc[commons["market_cap"].fillna(0) >= threshold_krw]
    updates: list[tuple[str, dict[str, Any]]] = []
    for row in qualifying.itertuples(index=False):
        doc = current.get(row.ticker)
        fields: dict[str, Any] = {
            "name": row.name,
            "market": row.market,
            "market_cap": int(row.market_cap),
            "is_active": True,
            "as_of_date": day_text,
        }
        update: dict[str, Any] = {"$set": fields}
        if doc is None:
            fields["active_since"] = day_text
            update["$setOnInsert"] = {"added_date": day_text, "last_analyzed_date": None}
        elif not doc.get("is_active"):
            fields["active_since"] = day_text
            update["$unset"] = {"inactive_since": "", "inactive_reason": ""}
        updates.append((row.ticker, update))

    qualifying_set = set(qualifying["ticker"])
    caps = dict(zip(commons["ticker"], commons["market_cap"], strict=True))
    markets = set(day_frame["market"])
    for ticker, doc in current.items():
        if not doc.get("is_active") or ticker in qualifying_set:
            continue
        if doc.get("market") is not None and doc["market"] not in markets:
            continue
        fields = {"is_active": False, "inactive_since": day_text, "as_of_date": day_text}
        if ticker in caps:
            fields["inactive_reason"] = "market cap below threshold"
            if pd.notna(caps[ticker]):
                fields["market_cap"] = int(caps[ticker])
        else:
            fields["inactive_reason"] = "absent from the day's market (delisted)"
        updates.append((ticker, {"$set": fields}))
    return updates
