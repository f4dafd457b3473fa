"""Benchmark: seconds and documents/second of manual_setup (300 sessions) and of a 20-session catch-up on
the replay source, next to a baseline measured in the same run: inserting the same bars with one plain
insert_many per ticker (the least any loader must do). Prints figures; asserts nothing.

    ./dev bench                      # embedded MongoDB (mongomock://)
    ./dev bench --mongodb-uri mongodb://localhost:27017/   # a real server (uses a throwaway prefix)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mongomock_ng  # noqa: E402
import pymongo  # noqa: E402

from lib.config import PROJECT_ROOT, load_settings  # noqa: E402
from lib.log import KST, setup_logging  # noqa: E402
from lib.markets.krx.bars import bars_from_day  # noqa: E402
from lib.markets.krx.replay import ReplaySource  # noqa: E402
from lib.markets.krx.sources import MARKETS, Request, build_chain  # noqa: E402
from lib.spine.calendar import TradingCalendar  # noqa: E402
from lib.storage import Storage  # noqa: E402
from tests.helpers import run_collection  # noqa: E402

SAMPLE = PROJECT_ROOT / "data" / "sample" / "krx_sample.parquet"


def new_client(uri: str | None):
    return pymongo.MongoClient(uri) if uri else mongomock_ng.MongoClient()


def bars_in(storage: Storage) -> int:
    return sum(storage.stock_db[t].estimated_document_count() for t in storage.bars.stored_tickers())


def baseline(uri: str | None, days: list[dt.date], prefix: str) -> tuple[float, int]:
    """Plain insert_many per ticker of the same bars, read from the same replay file."""
    replay = ReplaySource(SAMPLE)
    by_ticker: dict[str, list[dict]] = {}
    for day in days:
        for market in MARKETS:
            query = replay.build_query(Request(market, (day,)))
            frame = replay.validate(replay.normalise(replay.fetch_raw(query), query), query)
            for ticker, bar in bars_from_day(frame, day).items():
                by_ticker.setdefault(ticker, []).append({"_id": bar["date"], **bar})
    client = new_client(uri)
    start = time.perf_counter()
    for ticker, docs in by_ticker.items():
        client[f"{prefix}baseline"][ticker].insert_many(docs, ordered=False)
    seconds = time.perf_counter() - start
    if uri:
        client.drop_database(f"{prefix}baseline")
    return seconds, sum(len(d) for d in by_ticker.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mongodb-uri", help="a real server instead of the embedded one")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--catch-up", type=int, default=20)
    args = parser.parse_args(argv)
    setup_logging("bench", "WARNING")
    prefix = f"bench_{uuid.uuid4().hex[:6]}_"
    settings = load_settings(
        env_file=None, mongodb_uri=args.mongodb_uri or "mongomock://", krx_sources=["replay"],
        krx_replay_path=SAMPLE, krx_min_request_gap_seconds=0, setup_history_sessions=args.sessions,
    )
    calendar = TradingCalendar(exchange="XKRX", settings_prefix="KRX")
    last = dt.date(2025, 6, 16)
    sessions = calendar.last_sessions(last, args.sessions + args.catch_up)
    setup_day, setup_days = sessions[args.sessions - 1], sessions[: args.sessions]

    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def as_of(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(19), tzinfo=KST)

    client = new_client(args.mongodb_uri)
    storage = Storage(client, prefix=prefix)
    chain = build_chain(settings)
    start = time.perf_counter()
    assert run_collection("manual_setup", storage, settings, as_of(setup_day), clock, chain) == 0
    setup_seconds = time.perf_counter() - start
    setup_docs = bars_in(storage)

    chain = build_chain(settings)
    start = time.perf_counter()
    assert run_collection("daily_update", storage, settings, as_of(last), clock, chain) == 0
    catch_seconds = time.perf_counter() - start
    catch_docs = bars_in(storage) - setup_docs
    catch_calls = chain.calls["replay"]

    base_seconds, base_docs = baseline(args.mongodb_uri, setup_days, prefix)
    if args.mongodb_uri:
        for name in ("system_info", "stock_data", "stock_analyzed"):
            client.drop_database(f"{prefix}{name}")

    tickers = len(storage.bars.stored_tickers()) if not args.mongodb_uri else "n/a"
    print(f"store: {'real server' if args.mongodb_uri else 'embedded mongomock'}; sample: {tickers} tickers")
    print(f"manual_setup   {args.sessions} sessions: {setup_seconds:7.2f} s  {setup_docs:7d} docs  "
          f"{setup_docs / setup_seconds:8.0f} docs/s")
    print(f"catch-up       {args.catch_up} sessions: {catch_seconds:7.2f} s  {catch_docs:7d} docs  "
          f"{catch_docs / catch_seconds:8.0f} docs/s  ({catch_calls} source calls)")
    print(f"baseline insert_many of the setup bars: {base_seconds:7.2f} s  {base_docs:7d} docs  "
          f"{base_docs / base_seconds:8.0f} docs/s")
    print(f"manual_setup / baseline time ratio: {setup_seconds / base_seconds:.2f}x "
          "(includes reading the source, validation, universe and job_status writes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
