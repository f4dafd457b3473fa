"""us.options on the chains of data/sample/us_options (shaped by hand around the real closes of 2025-09-29/30):
the summary's rules, the session a read belongs to, the top-N choice, and the sweep run as a user runs it
(`python collect.py us.options` on the embedded MongoDB, and yfinance's own option code over a local Yahoo stub)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import mongomock_ng
import pytest
import requests

import collect
from lib.config import PROJECT_ROOT
from lib.context.options import options_summary
from lib.markets.us.market import us_calendar
from lib.markets.us.options import UsOptionsReader, options_reader, session_of, top_tickers
from lib.markets.us.options_source import YahooOptions
from lib.markets.us.options_summary import summarise
from lib.spine.registry import registry
from lib.spine.watermark import items_known_at, watermark_job
from lib.storage import Storage, get_client
from tests.helpers import kill_at_write, restarted
from tests.yahoo_stub import YahooStub

REPLAY = PROJECT_ROOT / "data" / "sample" / "us_options"
KEY = "us.options"
SEP29, SEP30 = dt.date(2025, 9, 29), dt.date(2025, 9, 30)
END_30 = dt.datetime(2025, 10, 1, 3, 59, 59, tzinfo=dt.UTC)  # --today 2025-09-30: its end in New York
# market caps (USD) of /work/shared/data/us_stocks/meta.csv; AMZN marked inactive, GOOGL without a recorded file
UNIVERSE = [("NVDA", 4.45e12, True), ("AAPL", 3.76e12, True), ("GOOGL", 3.70e12, True), ("MSFT", 2.98e12, True),
            ("AMZN", 2.13e12, False)]


def snapshot(ticker: str, recorded_on: dt.date) -> dict:
    return next(s for s in json.loads((REPLAY / f"{ticker}.json").read_text())
                if s["recorded_at"].startswith(recorded_on.isoformat()))


def row(strike: float, volume: float | None = 10, oi: float | None = 100, iv: float | None = 0.3,
        bid: float = 1.0, ask: float = 1.1) -> dict:
    return {"strike": strike, "bid": bid, "ask": ask, "volume": volume, "openInterest": oi, "impliedVolatility": iv}


def seed_universe(storage: Storage, entries=UNIVERSE) -> None:
    storage.scoped("us_").universe.apply_universe(
        [(t, {"$set": {"ticker": t, "market_cap": cap, "is_active": active, "currency": "USD"}})
         for t, cap, active in entries])


@pytest.fixture
def settings(make_settings):
    return make_settings(us_stocks=True, us_options_replay_dir=REPLAY, markets=["us"])


# --- the summary (pure) ----------------------------------------------------------------------------------


def test_a_recorded_chain_sums_the_window_reads_atm_iv_at_the_nearest_strike_and_counts_the_drops():
    snap = snapshot("AAPL", SEP30)
    data = summarise("AAPL", SEP30, SEP30, snap["underlying"], snap["chains"], 45)
    # 10-03, 10-10 and 10-17 are within 45 days; 11-21 (52 days) is not
    assert [e["expiry"] for e in data["per_expiry"]] == ["2025-10-03", "2025-10-10", "2025-10-17"]
    assert data["expiries_outside"] == 1
    live = [r for e in ("2025-10-03", "2025-10-10", "2025-10-17") for side in ("calls", "puts")
            for r in snap["chains"][e][side] if r["bid"] or r["ask"]]
    calls = sum(r["volume"] or 0 for e in ("2025-10-03", "2025-10-10", "2025-10-17")
                for r in snap["chains"][e]["calls"] if r["bid"] or r["ask"])
    puts = sum(r["volume"] or 0 for e in ("2025-10-03", "2025-10-10", "2025-10-17")
               for r in snap["chains"][e]["puts"] if r["bid"] or r["ask"])
    assert (data["call_volume"], data["put_volume"], data["rows"]) == (calls, puts, len(live))
    assert data["put_call_volume"] == round(puts / calls, 4)
    # ATM: the nearest expiry >= 7 days out (10-10), the strike nearest 254.63, both sides' IV averaged
    assert (data["atm_expiry"], data["atm_days"], data["atm_strike"]) == ("2025-10-10", 10, 255.0)
    at_255 = {side: next(r["impliedVolatility"] for r in snap["chains"]["2025-10-10"][side] if r["strike"] == 255)
              for side in ("calls", "puts")}
    assert (data["atm_call_iv"], data["atm_put_iv"]) == (at_255["calls"], at_255["puts"])
    assert data["atm_iv"] == pytest.approx((at_255["calls"] + at_255["puts"]) / 2)
    # the 10-17 chain's four hand-placed rows: two with zero bid and ask, IVs of 6.25 and 0.00001, one NaN volume
    assert (data["dropped_zero_bid_ask"], data["iv_implausible"], data["nan_volume"]) == (2, 2, 1)


def test_a_chain_without_calls_has_no_put_call_ratio_and_reads_atm_iv_from_the_puts():
    chains = {"2025-10-10": {"calls": [], "puts": [row(250, iv=0.28), row(255, iv=0.26), row(260, iv=0.25)]}}
    data = summarise("AAPL", SEP30, SEP30, {"regularMarketPrice": 254.63}, chains, 45)
    assert (data["put_call_volume"], data["put_call_open_interest"]) == (None, None)
    assert data["per_expiry"][0]["put_call_volume"] is None
    assert (data["put_volume"], data["call_volume"]) == (30, 0)
    assert (data["atm_strike"], data["atm_call_iv"], data["atm_put_iv"], data["atm_iv"]) == (255.0, None, 0.26, 0.26)


def test_drop_rules_zero_quotes_leave_the_row_out_implausible_iv_keeps_its_volume_but_not_its_iv():
    chains = {"2025-10-10": {
        "calls": [row(255, volume=100, iv=0.005), row(250, volume=7, iv=5.0),
                  row(260, volume=5000, oi=9000, bid=0.0, ask=0.0), row(265, volume=None, oi=None, iv=5.01)],
        "puts": [row(255, volume=50, iv=0.3)],
    }}
    data = summarise("X", SEP30, SEP30, {"regularMarketPrice": 254.0}, chains, 45)
    assert data["call_volume"] == 107 and data["call_open_interest"] == 200  # the zero-quote row is not counted
    assert (data["dropped_zero_bid_ask"], data["iv_implausible"], data["nan_volume"], data["nan_open_interest"]) == (
        1, 2, 1, 1)
    # 255's call IV (0.005) is unusable: the put's alone at 255; 5.0 itself is a usable IV
    assert (data["atm_strike"], data["atm_call_iv"], data["atm_iv"]) == (255.0, None, 0.3)
    assert data["put_call_volume"] == round(50 / 107, 4)


def test_no_expiry_seven_days_out_leaves_atm_iv_blank_and_nothing_in_the_window_gives_no_summary():
    near = {"2025-10-03": {"calls": [row(255)], "puts": [row(255)]}}
    data = summarise("X", SEP30, SEP30, {"regularMarketPrice": 254.0}, near, 45)
    assert data["put_call_volume"] == 1.0 and data["atm_iv"] is None and data["atm_expiry"] is None
    assert summarise("X", SEP30, SEP30, {"regularMarketPrice": 254.0}, {"2025-12-19": near["2025-10-03"]}, 45) is None


def test_a_read_before_the_open_or_on_a_closed_day_belongs_to_the_previous_session(make_settings):
    calendar = us_calendar(make_settings())
    new_york = registry().get(KEY).tz
    assert session_of(calendar, dt.datetime(2025, 9, 30, 8, 0, tzinfo=new_york)) == SEP29
    assert session_of(calendar, dt.datetime(2025, 9, 30, 9, 30, tzinfo=new_york)) == SEP30
    assert session_of(calendar, dt.datetime(2025, 9, 30, 17, 50, tzinfo=new_york)) == SEP30
    assert session_of(calendar, dt.datetime(2025, 10, 4, 12, 0, tzinfo=new_york)) == dt.date(2025, 10, 3)  # Saturday


def test_the_sweep_reads_the_largest_active_stocks_of_the_us_universe_first(storage):
    seed_universe(storage, [*UNIVERSE, ("NOCAP", None, True)])
    assert top_tickers(storage, 3) == ["NVDA", "AAPL", "GOOGL"]
    assert top_tickers(storage, 10) == ["NVDA", "AAPL", "GOOGL", "MSFT", "NOCAP"]  # AMZN is inactive
    assert top_tickers(storage, 0) == []
    assert storage.universe.universe() == []  # KRX's universe (namespace "") is not read


# --- the sweep, as a user runs it ---------------------------------------------------------------------------


def test_collect_over_the_replay_twice_stores_each_snapshot_once_and_reads_back_point_in_time(settings, capsys):
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    seed_universe(storage)
    assert collect.main([KEY, "--today", "2025-09-29"], settings=settings) == 0
    assert collect.main([KEY, "--today", "2025-09-30"], settings=settings) == 0
    first = storage.jobs.latest_run("us_options")
    assert collect.main([KEY, "--today", "2025-09-30"], settings=settings) == 0
    again = storage.jobs.latest_run("us_options")
    # 09-29: AAPL's evening snapshot; 09-30: AAPL's and MSFT's evening ones and NVDA's pre-open one (session 09-29)
    assert (first["items_new"], first["pages"]) == (3, 4)  # GOOGL has no file: a page, no item
    assert (again["items_new"], again["items_unchanged"], again["items_revised"]) == (0, 3, 0)
    keys = sorted(i.key for i in items_known_at(storage, KEY, END_30))
    assert keys == ["AAPL|2025-09-29", "AAPL|2025-09-30", "MSFT|2025-09-30", "NVDA|2025-09-29"]
    # known at the read: at the end of 09-29 the pre-open NVDA read of 09-30 is not known yet
    end_29 = END_30 - dt.timedelta(days=1)
    assert options_summary(storage, "NVDA", end_29) is None
    assert options_summary(storage, "AAPL", end_29).data["session"] == "2025-09-29"
    latest = options_summary(storage, "AAPL", END_30)
    assert (latest.data["session"], latest.data["underlying_price"]) == ("2025-09-30", 254.63)
    assert "us_options completed" in capsys.readouterr().err


def test_the_tickers_without_options_are_one_log_line_of_the_sweep_not_one_each(settings, capsys):
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    seed_universe(storage, [*UNIVERSE, ("NOFILE", 1e12, True)])  # GOOGL and NOFILE have no recorded chains
    assert collect.main([KEY, "--today", "2025-09-30"], settings=settings) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "no options at the source" in line]
    assert len(lines) == 1 and lines[0].endswith("us.options: 2 of 5 ticker(s) have no options at the source: "
                                                 "GOOGL, NOFILE")


def _sweep(storage: Storage, settings, clock, reader, crash_at: int | None) -> int:
    """The sweep of 09-30's end (four tickers, one without a file); with crash_at the process dies at that write
    and cron runs it again after the lock's timeout. Returns the writes counted."""
    seed_universe(storage)
    writes = kill_at_write(storage, crash_at)
    for as_of in (END_30,):
        clock.now = as_of

        def step(as_of=as_of) -> int:
            code = watermark_job(settings, storage, as_of, clock, registry().get(KEY), reader)
            clock.advance(minutes=1)
            return code

        restarted(step, clock, settings)
    return writes["n"]


def test_a_sweep_killed_at_any_write_then_rerun_gives_the_same_store(storage, settings, clock):
    reader = options_reader(settings)
    total = _sweep(storage, settings, clock, reader, None)
    expected = sorted(storage.datasets_db["items"].find({}), key=lambda d: d["_id"])
    assert len(expected) == 3 and total > 10
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        _sweep(crashed, settings, clock, reader, crash_at)
        assert sorted(crashed.datasets_db["items"].find({}), key=lambda d: d["_id"]) == expected, crash_at
        assert crashed.datasets_db["vintages"].count_documents({}) == 0  # a rerun stores no second value


@pytest.mark.parametrize(("overrides", "reason"), [({"us_stocks": False}, "US_STOCKS is false"),
                                                   ({"us_options_top_n": 0}, "US_OPTIONS_TOP_N is 0")])
def test_us_options_off_says_so_in_one_line_and_exits_0(make_settings, capsys, overrides, reason):
    settings = make_settings(**{"us_stocks": True, **overrides})
    assert collect.main([KEY], settings=settings) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"us.options is off: {reason}" in lines[0]


def test_a_broken_recorded_file_stops_the_run_with_exit_2_and_names_it(make_settings, tmp_path, capsys):
    (tmp_path / "AAPL.json").write_text("{not json")
    settings = make_settings(us_stocks=True, us_options_replay_dir=tmp_path, markets=["us"])
    seed_universe(Storage(get_client("mongomock://"), settings.mongodb_db_prefix))
    assert collect.main([KEY, "--today", "2025-09-30"], settings=settings) == 2
    assert f"{tmp_path / 'AAPL.json'} is not readable JSON" in capsys.readouterr().err


# --- yfinance's own option code over a local Yahoo -------------------------------------------------------------


class OptionsStub(YahooStub):
    """The Yahoo stub with v7/finance/options answering the recorded snapshot of 2025-09-30 in Yahoo's raw shape
    (epoch expirations, one expiry's calls and puts per answer, the quote beside them)."""

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        if "/v7/finance/options/" not in request.url:
            return super().send(request, **kwargs)
        symbol = request.url.split("/v7/finance/options/")[1].split("?")[0]
        date = request.url.partition("date=")[2].split("&")[0]
        self.calls[(symbol, "options")] += 1
        snap = snapshot(symbol, SEP30)
        epochs = {int(dt.datetime.fromisoformat(e).replace(tzinfo=dt.UTC).timestamp()): e for e in snap["chains"]}
        expiry = epochs[int(date)] if date else min(snap["chains"])

        def raw(r: dict) -> dict:
            return {k: v for k, v in r.items() if v is not None and k != "lastTradeDate"} | {"lastTradeDate": 0}

        chain = snap["chains"][expiry]
        body = {"optionChain": {"result": [{
            "underlyingSymbol": symbol, "expirationDates": sorted(epochs), "quote": snap["underlying"],
            "options": [{"calls": [raw(r) for r in chain["calls"]], "puts": [raw(r) for r in chain["puts"]]}],
        }], "error": None}}
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url, request
        response._content = json.dumps(body).encode()
        return response


def test_yfinance_option_chain_asks_only_the_expiries_in_the_window_and_gives_the_recorded_summary(
        settings, storage, clock, tmp_path: Path):
    stub = OptionsStub()
    source = YahooOptions(10, 60.0, http="requests", cache_dir=tmp_path / "yf", transport=stub)
    reader = UsOptionsReader(source, us_calendar(settings), 1, 45, tickers=lambda *_: ["AAPL"])
    clock.now = dt.datetime(2025, 9, 30, 21, 0, tzinfo=dt.UTC)
    assert watermark_job(settings, storage, clock.now, clock, registry().get(KEY), reader) == 0
    # the expirations list, then 10-03, 10-10 and 10-17 (11-21 is 52 days out: never asked)
    assert stub.calls[("AAPL", "options")] == 4
    item = items_known_at(storage, KEY, END_30)[0]
    snap = snapshot("AAPL", SEP30)
    asked = {e: chain for e, chain in snap["chains"].items() if e != "2025-11-21"}
    expected = summarise("AAPL", SEP30, SEP30, snap["underlying"], asked, 45)
    assert (item.key, item.data) == ("AAPL|2025-09-30", dict(expected))
    assert item.data["nan_volume"] == 1  # Yahoo leaves the key out: yfinance's NaN, counted as 0


@pytest.mark.parametrize(("status", "code"), [(500, 1), (403, 1)])  # 429: the shared Yahoo code, tested for news
def test_a_refused_or_failed_options_request_is_not_read_as_no_options_and_the_run_fails(
        settings, storage, clock, tmp_path: Path, status, code):
    class Failing(OptionsStub):
        def send(self, request, **kwargs):
            if "/v7/finance/options/" not in request.url:
                return super().send(request, **kwargs)
            response = requests.Response()
            response.status_code, response.url, response.request = status, request.url, request
            response._content = b'{"optionChain": {"result": [], "error": {"code": "Internal"}}}'
            return response

    source = YahooOptions(10, 0.0, http="requests", cache_dir=tmp_path / "yf", transport=Failing())
    reader = UsOptionsReader(source, us_calendar(settings), 1, 45, tickers=lambda *_: ["AAPL"], max_attempts=2,
                             backoff_seconds=0.0)
    clock.now = dt.datetime(2025, 9, 30, 21, 0, tzinfo=dt.UTC)
    assert watermark_job(settings, storage, clock.now, clock, registry().get(KEY), reader, sleep=lambda _s: None) \
        == code
    assert storage.watermarks.item_count(KEY) == 0 and storage.watermarks.watermark(KEY) is None


def test_a_past_today_read_live_stops_with_exit_2_instead_of_filing_todays_chains_under_that_day(
        settings, storage, clock, tmp_path: Path, caplog):
    source = YahooOptions(10, 0.0, http="requests", cache_dir=tmp_path / "yf", transport=OptionsStub())
    reader = UsOptionsReader(source, us_calendar(settings), 1, 45, tickers=lambda *_: ["AAPL"])
    past = dt.datetime(2025, 9, 26, 21, 0, tzinfo=dt.UTC)  # the stub's quote is of 2025-09-30 20:00 UTC
    clock.now = past
    assert watermark_job(settings, storage, past, clock, registry().get(KEY), reader) == 2
    assert storage.watermarks.item_count(KEY) == 0
    assert "a past --today needs recorded chains (US_OPTIONS_REPLAY_DIR)" in caplog.text
