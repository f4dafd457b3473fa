"""API throughput: starts the app on 127.0.0.1 (a free port) over the bundled sample collected and analysed,
then drives each endpoint with concurrent clients and prints req/s and latency percentiles, each next to
GET /health measured in the same run. Target: GET /screener (default parameters, latest and a past day) and
GET /stocks/{ticker} reach at least half of /health's throughput, GET /status at least a fifth. Then the
compute-heavy reads one at a time (custom screens, each with parameters not asked before, and
/status?sizes=true with a key): seconds per request; target: a custom screen under 2 s.

    ./dev bench api [--seconds 5] [--clients 20] [--mongodb-uri mongodb://localhost:27017/]

Without --mongodb-uri it uses the embedded store (MONGODB_TEST_URI is used when set)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "sample" / "krx_sample.parquet"
LAST_DAY = "2025-06-16"
PAST_DAY = "2025-05-16"
PREFIX = "bench_api_"
KEY = "bench-key-0123456789"


def serve(uri: str) -> None:
    """Child process: collect and analyse the sample, then serve the app; prints READY <port> when up."""
    import uvicorn

    import hourly_analysis
    import manual_setup
    from api.app import create_app
    from lib.config import load_settings
    from lib.storage import Storage, get_client

    settings = load_settings(
        env_file=None, mongodb_uri=uri, mongodb_db_prefix=PREFIX, krx_sources=["replay"], krx_replay_path=SAMPLE,
        krx_min_request_gap_seconds=0, analysis_quota_per_run=5000, log_level="WARNING", api_keys=KEY,
        compute_rate_limit_per_hour=100_000,
    )
    client = get_client(uri)
    for name in ("system_info", "stock_data", "stock_analyzed"):
        client.drop_database(f"{PREFIX}{name}")
    started = time.monotonic()
    assert manual_setup.main(["--today", LAST_DAY], settings=settings) == 0
    assert hourly_analysis.main(["--today", LAST_DAY], settings=settings) == 0
    print(f"prepared the sample in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    storage = Storage(client, PREFIX)
    now = dt.datetime(2025, 6, 17, 3, 0, tzinfo=dt.UTC)  # the next day, noon KST: the data is current
    app = create_app(settings, storage=storage, clock=lambda: now)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    print(f"READY {port}", flush=True)
    server.run(sockets=[sock])


async def drive(base: str, path: str, seconds: float, clients: int) -> tuple[int, float, list[float], int]:
    """Requests made, elapsed seconds, latencies, non-200 answers (a timeout counts as one)."""
    import httpx

    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        try:
            await client.get(path)  # warm
        except httpx.TimeoutException:
            pass
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = await client.get(path)
                    failures += response.status_code != 200
                except httpx.TimeoutException:  # no answer within the client's timeout: a failure, not a crash
                    failures += 1
                latencies.append(time.monotonic() - started)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return len(latencies), elapsed, latencies, failures


def once(base: str, path: str, headers: dict[str, str]) -> tuple[float, int]:
    """Seconds and status of one request."""
    import httpx

    started = time.monotonic()
    response = httpx.get(base + path, headers=headers, timeout=120)
    return time.monotonic() - started, response.status_code


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Start the server, drive each endpoint, print the figures; exits 1 when the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per endpoint")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_TEST_URI") or "mongomock://")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.mongodb_uri)
        return 0
    store = "embedded store (mongomock)" if args.mongodb_uri.startswith("mongomock") else "real MongoDB"
    print(f"API benchmark on the bundled sample, {store}, {args.clients} concurrent clients, {args.seconds:g} s each")
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--mongodb-uri", args.mongodb_uri],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line.startswith("READY"):
            print("bench: the server did not start", file=sys.stderr)
            return 1
        base = f"http://127.0.0.1:{line.split()[1]}"
        targets = [
            ("GET /health", "/health"),
            ("GET /screener latest (stored)", "/screener?strategy_name=macd_golden_cross"),
            (f"GET /screener {PAST_DAY} (stored)", f"/screener?strategy_name=macd_golden_cross&date={PAST_DAY}"),
            ("GET /stocks/005930", "/stocks/005930"),
            ("GET /stocks?sort=rsi_14", "/stocks?sort=rsi_14&limit=20"),
            ("GET /status", "/status"),
        ]
        print(f"{'endpoint':<36}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs health':>11}{'non-200':>9}")
        health_rate = None
        missed = False
        for title, path in targets:
            count, elapsed, latencies, failures = asyncio.run(drive(base, path, args.seconds, args.clients))
            rate = (count - failures) / elapsed  # answered with 200 per second
            health_rate = health_rate or rate
            ratio = rate / health_rate
            if path.startswith(("/screener", "/stocks/")) and ratio < 0.5 or path == "/status" and ratio < 0.2:
                missed = True
            print(f"{title:<36}{rate:>9.1f}{percentile(latencies, 0.5) * 1000:>9.1f}"
                  f"{percentile(latencies, 0.99) * 1000:>9.1f}{ratio:>10.2f}x{failures:>9d}")
        print("target: GET /screener (latest, past day) and GET /stocks/{ticker} at >= 0.5x /health, GET /status "
              "at >= 0.2x: " + ("missed" if missed else "met"))
        print(f"{'compute-heavy, one at a time':<72}{'seconds':>9}{'status':>8}")
        slow = False
        for title, path, headers in [
            ("custom screen minervini min_rs_rating=50",
             "/screener?strategy_name=minervini_trend_template&min_rs_rating=50", {}),
            ("custom screen minervini min_rs_rating=51 range_basis=intraday",
             "/screener?strategy_name=minervini_trend_template&min_rs_rating=51&range_basis=intraday", {}),
            ("custom screen adx_trend min_adx=25.01", "/screener?strategy_name=adx_trend&min_adx=25.01", {}),
            ("custom screen adx_trend min_adx=25.02", "/screener?strategy_name=adx_trend&min_adx=25.02", {}),
            ("GET /status?sizes=true (with a key)", "/status?sizes=true", {"X-API-Key": KEY}),
        ]:
            seconds, code = once(base, path, headers)
            slow |= path.startswith("/screener") and seconds >= 2
            print(f"{title:<72}{seconds:>9.2f}{code:>8d}")
        print("target: a custom screen under 2 s: " + ("missed" if slow else "met"))
        return 1 if missed or slow else 0
    finally:
        child.terminate()
        child.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
