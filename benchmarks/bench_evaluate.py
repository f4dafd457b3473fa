"""Benchmark: ai_evaluate over a year of predictions on the demo's store (the bundled KRX sample, 213 stocks,
2023-12-05..2025-06-16, collected by manual_setup): 2 models x 20 stocks x 250 sessions = 10,000 predictions,
30,000 outcomes (5, 10 and 20 sessions), then the leaderboard. Prints seconds of the first run, of a rerun with
nothing to do, and of the leaderboard alone; asserts nothing beyond the runs' exit codes.

    ./dev bench evaluate [--mongodb-uri mongodb://...]   (or .venv/bin/python benchmarks/bench_evaluate.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SAMPLE = ROOT / "data" / "sample" / "krx_sample.parquet"
LAST_DAY = "2025-06-16"
PREFIX = "bench_eval_"
DAYS, PER_DAY, MODELS = 250, 20, ("openai:bench-lean", "gemini:bench-coin")


def prediction(day: dt.date, ticker: str, model_ref: str, p: float) -> dict:
    """A stored prediction in the documented shape (lib/storage/predictions.py)."""
    from lib.storage.predictions import prediction_id

    return {"_id": prediction_id(day, ticker, model_ref, "daily", "v1"), "day": day.isoformat(), "market": "krx",
            "ticker": ticker, "provider": model_ref.split(":")[0], "model": model_ref.split(":")[1],
            "model_ref": model_ref, "prompt": "daily", "prompt_version": "v1", "late": False, "memorised": False,
            "status": "ok", "parse_ok": True, "model_calls": 1, "usage": {"input_tokens": 3000, "output_tokens": 300},
            "cost_usd": 0.0012, "horizons": {str(h): {"probability": p, "direction": "up" if p >= 0.5 else "down",
                                                      "reason": "bench", "citations": []} for h in (5, 10, 20)}}


def main() -> int:
    import ai_evaluate
    import manual_setup
    from lib.ai.evaluate_board import leaderboard_rows
    from lib.config import load_settings
    from lib.markets.krx.market import krx_calendar
    from lib.storage import Storage, get_client

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_TEST_URI") or "mongomock://")
    args = parser.parse_args()
    settings = load_settings(env_file=None, mongodb_uri=args.mongodb_uri, mongodb_db_prefix=PREFIX,
                             krx_sources=["replay"], krx_replay_path=SAMPLE, krx_min_request_gap_seconds=0,
                             setup_history_sessions=400, log_level="WARNING")
    client = get_client(args.mongodb_uri)
    for name in ("system_info", "stock_data", "stock_analyzed"):
        client.drop_database(f"{PREFIX}{name}")
    started = time.monotonic()
    assert manual_setup.main(["--today", LAST_DAY], settings=settings) == 0
    storage = Storage(client, PREFIX)
    tickers = storage.bars.stored_tickers()
    sessions = krx_calendar(settings).sessions_between(dt.date(2023, 12, 5), dt.date.fromisoformat(LAST_DAY))
    days = sessions[-(DAYS + 20):-20]  # every horizon of every day has passed by LAST_DAY
    print(f"collected {len(tickers)} stocks x {len(sessions)} sessions in {time.monotonic() - started:.0f} s")
    rng = np.random.default_rng(0)
    started = time.monotonic()
    for i, day in enumerate(days):
        for ticker in [tickers[(i * 7 + k) % len(tickers)] for k in range(PER_DAY)]:
            for model in MODELS:
                storage.predictions.save_prediction(prediction(day, ticker, model, float(rng.uniform())))
    stored = storage.predictions.predictions.count_documents({})
    print(f"stored {stored:,} predictions ({len(MODELS)} models x {PER_DAY} stocks x {len(days)} sessions "
          f"{days[0]}..{days[-1]}) in {time.monotonic() - started:.1f} s")
    for label in ("first run (a year to score)", "rerun (nothing to score)"):
        started = time.monotonic()
        assert ai_evaluate.main(["--today", LAST_DAY], settings=settings) == 0
        seconds = time.monotonic() - started
        run = storage.jobs.runs("ai_evaluate")[0]
        print(f"ai_evaluate {label}: {seconds:.1f} s; {run['outcomes']:,} outcomes written, "
              f"{run['leaderboard_rows']} leaderboard rows, {run['waiting']} waiting")
    docs = storage.predictions.find_predictions()
    started = time.monotonic()
    rows = leaderboard_rows(docs, settings.ai_leaderboard_windows, settings.ai_leaderboard_min_count)
    print(f"the leaderboard alone ({len(rows)} rows, 1,000 bootstrap resamples each): "
          f"{time.monotonic() - started:.1f} s; store: "
          f"{'embedded (mongomock)' if args.mongodb_uri.startswith('mongomock') else 'real MongoDB'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
