"""What a trader checks before trusting a model portfolio: were the holdings it was picked from known on its
session (point in time), how old were they, how concentrated is it; and the realised-performance summary that
counts only the portfolios a person could have built on their day.

A holdings snapshot's `as_of` is the date it was known: the date the source gives it (a replay file's name or
etf_holdings/as_of.csv), else the day it was collected (Yahoo does not date its top holdings). A portfolio uses
the snapshot of every trending ETF of its period (the ones whose pick fell shaped it too, by being left out).
- dated after the session, or undated: not known on the day (`holdings_known` false): the portfolio is marked
  and left out of the performance summary unless asked for;
- one known on the day but older than the stale limit (US_HOLDINGS_STALE_DAYS): marked `holdings_stale`, still
  counted when every snapshot was known (a person could have built it on the day from what was then published)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def holdings_marks(day: dt.date, snapshots: Mapping[str, dt.date | None], stale_days: int) -> dict[str, Any]:
    """The point-in-time fields of a portfolio of `day` built from these ETFs' snapshots ({etf: as_of}); a
    portfolio that used no snapshot (no ETF trending) is known."""
    rows = []
    for etf in sorted(snapshots):
        as_of = snapshots[etf]
        rows.append({"etf": etf, "as_of": as_of.isoformat() if as_of else None,
                     "age_days": (day - as_of).days if as_of else None})
    known = all(r["age_days"] is not None and r["age_days"] >= 0 for r in rows)
    dated = [r["as_of"] for r in rows if r["as_of"]]
    return {
        "holdings_known": known,
        "holdings_as_of": max(dated) if dated else None,
        "holdings_stale": any(r["age_days"] is not None and r["age_days"] > stale_days for r in rows),
        "holdings_snapshots": rows,
    }


def merged_marks(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The point-in-time fields of a portfolio merged from these (the monthly one): known only when each was;
    None (not checked) when one was stored before portfolios were marked."""
    docs = list(docs)
    flags = [d.get("holdings_known") for d in docs]
    known = False if False in flags else None if None in flags else True
    snapshots: dict[tuple, dict] = {}
    for doc in docs:
        for row in doc.get("holdings_snapshots") or []:
            snapshots.setdefault((row["etf"], row["as_of"]), row)
    dated = [d["holdings_as_of"] for d in docs if d.get("holdings_as_of")]
    return {
        "holdings_known": known,
        "holdings_as_of": max(dated) if dated else None,
        "holdings_stale": any(bool(d.get("holdings_stale")) for d in docs),
        "holdings_snapshots": [snapshots[k] for k in sorted(snapshots, key=lambda k: (k[0], k[1] or ""))],
    }


def concentration(weights: Mapping[str, float]) -> dict[str, Any]:
    """The largest weight (a fraction) and its ticker, and the effective number of holdings 1 / sum(w^2) (n for
    n equal weights, near 1 when one stock carries almost everything); None for an empty portfolio."""
    total = sum(weights.values())
    if not weights or total <= 0:
        return {"largest_weight": None, "largest_ticker": None, "effective_holdings": None, "positions": 0}
    shares = {t: w / total for t, w in weights.items()}
    ticker = min(shares, key=lambda t: (-shares[t], t))
    return {
        "largest_weight": shares[ticker],
        "largest_ticker": ticker,
        "effective_holdings": 1.0 / sum(w * w for w in shares.values()),
        "positions": len(shares),
    }


def performance_summary(docs: Sequence[Mapping[str, Any]], include_lookahead: bool = False) -> dict[str, Any]:
    """How the finished portfolios among `docs` did against the benchmark: only those built from holdings
    known on their day, unless `include_lookahead` (then every finished one, and the summary says so)."""
    finished = [d for d in docs if (d.get("performance") or {}).get("status") == "final"]
    lookahead = sum(1 for d in finished if d.get("holdings_known") is False)
    unchecked = sum(1 for d in finished if d.get("holdings_known") is None)
    counted = finished if include_lookahead else [d for d in finished if d.get("holdings_known") is True]
    excess = [d["performance"]["excess_return"] for d in counted]
    beat = sum(1 for e in excess if e > 0)
    return {
        "finished": len(finished),
        "counted": len(counted),
        "includes_lookahead": include_lookahead,
        "lookahead": lookahead,
        "unchecked": unchecked,
        "mean_excess_return": sum(excess) / len(excess) if excess else None,
        "beat_benchmark": beat,
        "beat_share": beat / len(excess) if excess else None,
    }


def marks_text(doc: Mapping[str, Any]) -> str:
    """One line for people: whether the portfolio's holdings were known on its day, and its concentration."""
    known = doc.get("holdings_known")
    snapshots = doc.get("holdings_snapshots") or []
    after = [s for s in snapshots if s["age_days"] is None or s["age_days"] < 0]
    if known is None:
        head = "holdings NOT CHECKED (stored before portfolios were marked: --redo the session to mark it)"
    elif not known:
        dates = sorted({s["as_of"] or "undated" for s in after})
        head = (f"LOOK-AHEAD, not a result: {', '.join(s['etf'] for s in after)} holdings as of "
                f"{', '.join(dates)}, not known on this session")
    elif snapshots:
        head = f"holdings known on the day (snapshots of {min(s['as_of'] for s in snapshots)}..{doc['holdings_as_of']})"
    else:
        head = "holdings known on the day (none used)"
    if doc.get("holdings_stale"):
        oldest = max((s for s in snapshots if s["age_days"] is not None), key=lambda s: s["age_days"])
        head += f"; stale: {oldest['etf']}'s is {oldest['age_days']:,} days old"
    conc = doc.get("concentration") or {}
    if conc.get("largest_weight") is None:
        return head
    return (f"{head}\n    concentration: largest weight {conc['largest_weight'] * 100:.1f}% "
            f"({conc['largest_ticker']}), effective number of holdings {conc['effective_holdings']:.1f} "
            f"of {conc['positions']}")
