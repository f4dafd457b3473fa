"""Which bars of a replay file (parquet or CSV panel) the impossible-price rules would quarantine or refuse,
without storing anything: run it on history before importing it with KRX_REPLAY_PATH.

    .venv/bin/python tools/check_prices.py ../shared/data/krx/krx_panel_2023-12-05_2025-06-16.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.errors import BadDataError, ConfigError, EmptyAnswerError, OutsideRangeError  # noqa: E402
from lib.markets.krx.quarantine import screen_days  # noqa: E402
from lib.markets.krx.replay import ReplaySource, read_panel  # noqa: E402
from lib.markets.krx.source_base import MARKETS, Query, validate_market_day  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        path = Path(argv[0])
        source = ReplaySource(path)
        sessions = sorted(read_panel(path)["date"].unique())
    except ConfigError as exc:
        print(f"check_prices: {exc}", file=sys.stderr)
        return 2
    days = []
    for day in sessions:
        frames = []
        for market in MARKETS:
            query = Query(day, market)
            try:
                frames.append(validate_market_day(source.normalise(source.fetch_raw(query), query), query, "file"))
            except OutsideRangeError:
                continue  # a file holding one market only: the other is outside its range, not an empty day
            except (EmptyAnswerError, BadDataError) as exc:
                print(f"{day} {market}: {exc}")
        days.append((day, frames))
    out = screen_days(days, {})
    rows = sum(len(f) for _, frames in days for f in frames)
    for item in out.quarantined:
        print(f"quarantined {item.ticker} {item.day}: {item.reason}")
    for note in out.confirmed:
        print(f"stored after a quarantined day: {note}")
    for refusal in out.refused:
        print(f"refused {refusal.market} {refusal.day}: {refusal.message}")
    print(f"{len(sessions)} sessions, {rows} rows: {len(out.quarantined)} bar(s) of "
          f"{len({q.ticker for q in out.quarantined})} stock(s) quarantined, {len(out.refused)} market answer(s) "
          "refused")
    return 1 if out.refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
