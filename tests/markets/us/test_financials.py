"""us.financials: Yahoo's statement frames as one item per (ticker, frequency, period end), a changed figure kept as
a vintage, the lag before a period is used point in time, the per-run rotation over the universe, and collect.py
over the recorded statements of data/sample/us_financials (real yfinance output, see its README)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import requests

import collect
from lib.context.financials import financials
from lib.errors import TransientSourceError
from lib.markets.us.financials import DATASET, FinancialsQuery, UsFinancialsReader, active_universe, statement_items
from lib.markets.us.financials_sources import RecordedStatements, YahooStatements
from lib.spine.registry import registry
from lib.spine.watermark import item_history, watermark_job
from lib.storage import Storage, get_client
from tests.yahoo_stub import YahooStub

ROOT = Path(__file__).resolve().parents[3]
RECORDED = ROOT / "data" / "sample" / "us_financials"
EVENING = dt.time(22, 0)  # 18:00 New York (EDT), after the close


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), EVENING, tzinfo=dt.UTC)


def seed_universe(storage: Storage, *tickers: str) -> None:
    """Active universe documents, the first the largest (the universe contract's fields the reader uses)."""
    docs = [(t, {"$set": {"ticker": t, "name": t, "market_cap": 1e12 - i, "currency": "USD", "is_active": True,
                          "as_of_date": "2025-06-02"}}) for i, t in enumerate(tickers)]
    storage.scoped("us_").universe.apply_universe(docs)


class FrameSource:
    """Statement frames per ticker as the test sets them (yfinance's shape), recording which tickers were asked."""

    name = "frames"
    network = False

    def __init__(self, frames: dict[str, dict[str, pd.DataFrame]] | None = None) -> None:
        self.frames = frames or {}
        self.asked: list[str] = []

    def statements(self, query: FinancialsQuery) -> dict[str, pd.DataFrame]:
        self.asked.append(query.ticker)
        return self.frames.get(query.ticker, {})


def income(revenue: float, end: str = "2025-03-31") -> dict[str, pd.DataFrame]:
    """A quarterly income frame of one period, with yfinance's unprettified row names (get_income_stmt)."""
    frame = pd.DataFrame({pd.Timestamp(end): [revenue, 2.5, float("nan")]},
                         index=["TotalRevenue", "DilutedEPS", "EBITDA"])
    return {"income:quarterly": frame}


def run(storage, settings, clock, reader, as_of: dt.datetime) -> int:
    clock.now = as_of
    return watermark_job(settings, storage, as_of, clock, registry().get(DATASET), reader, sleep=lambda _s: None)


def test_a_recorded_answer_is_one_item_per_period_with_the_eleven_fields():
    now = at("2025-09-30")
    raw = RecordedStatements(RECORDED).statements(FinancialsQuery("AAPL", "USD", now, now, True))
    items, rejected = statement_items("AAPL", "USD", raw, now, 45)
    assert rejected == []
    # Published by then: quarters whose end is 40 days back, years 60 days back; Yahoo's empty 2024-09-30
    # quarter and 2021 year (every field blank) are no items.
    assert [i.key for i in items] == [
        "AAPL:quarterly:2024-12-31", "AAPL:quarterly:2025-03-31", "AAPL:quarterly:2025-06-30",
        "AAPL:annual:2022-09-30", "AAPL:annual:2023-09-30", "AAPL:annual:2024-09-30"]
    june = items[2].data
    assert june == {
        "ticker": "AAPL", "frequency": "quarterly", "period_end": "2025-06-30", "currency": "USD",
        "source": "yfinance", "total_revenue": 94036000000.0, "operating_income": 28202000000.0,
        "net_income": 23434000000.0, "diluted_eps": 1.57, "ebitda": 31032000000.0, "total_assets": 331495000000.0,
        "total_debt": 101698000000.0, "stockholders_equity": 65830000000.0, "free_cash_flow": 24405000000.0,
        "operating_cash_flow": 27867000000.0, "capital_expenditure": -3462000000.0}
    assert items[2].at == dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
    assert items[5].data["free_cash_flow"] is None  # no annual cash flow recorded: None, not 0
    assert all(type(v) is float for i in items for v in i.data.values() if not isinstance(v, str | type(None)))


def test_prettified_and_plain_row_names_read_alike_and_nan_is_none():
    now = at("2025-06-01")
    plain = income(95359000000.0)
    pretty = {"income:quarterly": plain["income:quarterly"].rename(
        index={"TotalRevenue": "Total Revenue", "DilutedEPS": "Diluted EPS"})}
    (a,), _ = statement_items("AAPL", "USD", plain, now, 45)
    (b,), _ = statement_items("AAPL", "USD", pretty, now, 45)
    assert a.data == b.data
    assert (a.data["total_revenue"], a.data["diluted_eps"], a.data["ebitda"]) == (95359000000.0, 2.5, None)


def test_a_period_is_not_used_before_its_end_plus_the_lag_even_when_read_earlier(storage, make_settings, clock):
    settings = make_settings(us_stocks=True)
    seed_universe(storage, "AAPL")
    reader = UsFinancialsReader(FrameSource({"AAPL": income(95359000000.0)}), 45, 10, active_universe)
    assert run(storage, settings, clock, reader, at("2025-04-10")) == 0  # read 10 days after the quarter's end
    assert financials(storage, "AAPL", dt.datetime(2025, 5, 14, 23, tzinfo=dt.UTC)).empty  # end + 44 days
    known = financials(storage, "AAPL", dt.datetime(2025, 5, 16, 4, tzinfo=dt.UTC))  # end + 45 days, New York
    assert [q["total_revenue"] for q in known.quarterly] == [95359000000.0]
    # read after the lag: known from the read, never before it
    seed_universe(storage, "AAPL", "MSFT")
    reader = UsFinancialsReader(FrameSource({"MSFT": income(70066000000.0)}), 45, 10, active_universe)
    assert run(storage, settings, clock, reader, at("2025-08-01")) == 0
    assert financials(storage, "MSFT", at("2025-07-31")).empty
    assert not financials(storage, "MSFT", at("2025-08-01")).empty


def test_a_changed_figure_is_a_revision_and_the_earlier_value_a_vintage(storage, make_settings, clock):
    settings = make_settings(us_stocks=True)
    seed_universe(storage, "AAPL")
    source = FrameSource({"AAPL": income(95359000000.0)})
    reader = UsFinancialsReader(source, 45, 10, active_universe)
    assert run(storage, settings, clock, reader, at("2025-06-01")) == 0
    source.frames["AAPL"] = income(95400000000.0)  # restated
    assert run(storage, settings, clock, reader, at("2025-07-01")) == 0
    history = item_history(storage, DATASET, "AAPL:quarterly:2025-03-31")
    assert [h.data["total_revenue"] for h in history] == [95359000000.0, 95400000000.0]
    assert storage.jobs.latest_run("us_financials")["items_revised"] == 1
    before = financials(storage, "AAPL", at("2025-06-30"))
    after = financials(storage, "AAPL", at("2025-07-01"))
    assert (before.quarterly[0]["total_revenue"], after.quarterly[0]["total_revenue"]) == (95359000000.0,
                                                                                           95400000000.0)


def test_a_period_out_of_one_statements_window_is_left_as_stored_not_revised_to_none(storage, make_settings, clock):
    settings = make_settings(us_stocks=True)
    seed_universe(storage, "AAPL")
    balance = pd.DataFrame({pd.Timestamp("2025-03-31"): [331233000000.0], pd.Timestamp("2024-12-31"): [344085000000.0]},
                           index=["Total Assets"])
    both = {"income:quarterly": pd.concat([income(95359000000.0)["income:quarterly"],
                                           income(124300000000.0, "2024-12-31")["income:quarterly"]], axis=1),
            "balance:quarterly": balance}
    source = FrameSource({"AAPL": both})
    reader = UsFinancialsReader(source, 45, 10, active_universe)
    assert run(storage, settings, clock, reader, at("2025-06-01")) == 0
    # Yahoo's income window moved on (2024-12-31 dropped), the balance sheet's not yet
    source.frames["AAPL"] = {"income:quarterly": income(95359000000.0)["income:quarterly"],
                             "balance:quarterly": balance}
    assert run(storage, settings, clock, reader, at("2025-07-01")) == 0
    assert storage.jobs.latest_run("us_financials")["items_revised"] == 0
    old = financials(storage, "AAPL", at("2025-07-01")).quarterly[1]
    assert (old["period_end"], old["total_revenue"], old["total_assets"]) == ("2024-12-31", 124300000000.0,
                                                                              344085000000.0)


def test_each_run_reads_its_cap_of_tickers_the_never_read_then_the_longest_unread_first(
        storage, make_settings, clock):
    settings = make_settings(us_stocks=True)
    seed_universe(storage, "AAPL", "MSFT", "NVDA")
    source = FrameSource()
    reader = UsFinancialsReader(source, 45, 2, active_universe)
    for day in ("2025-06-01", "2025-06-02", "2025-06-03"):
        assert run(storage, settings, clock, reader, at(day)) == 0
    # tickers read in one run tie (the run's time): the largest first among them
    assert source.asked == ["AAPL", "MSFT", "NVDA", "AAPL", "MSFT", "AAPL"]
    seed_universe(storage, "AAPL", "MSFT", "NVDA", "AVGO")  # a joiner is read before anything read already
    assert run(storage, settings, clock, reader, at("2025-06-04")) == 0
    assert source.asked[-2:] == ["AVGO", "NVDA"]


def test_collect_over_the_replay_twice_stores_each_item_once_with_ttm(make_settings):
    settings = make_settings(us_stocks=True, us_financials_replay_dir=RECORDED)
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    seed_universe(storage, "AAPL", "ABBV", "MSFT")  # MSFT has no recorded statements: no items, no failure
    for _ in range(2):
        assert collect.main(["us.financials", "--today", "2026-06-01"], settings=settings) == 0
    assert storage.watermarks.item_count(DATASET) == 18 and storage.watermarks.vintage_count(DATASET) == 0
    record = storage.jobs.latest_run("us_financials")
    assert (record["items_new"], record["items_unchanged"]) == (0, 18)
    aapl = financials(storage, "AAPL", at("2026-06-02"))  # --today: read at the day's end in New York
    assert [q["period_end"] for q in aapl.quarterly] == ["2026-03-31", "2025-12-31", "2025-09-30", "2025-06-30",
                                                         "2025-03-31"]
    assert aapl.ttm_through == "2026-03-31"
    assert aapl.ttm["total_revenue"] == 111184e6 + 143756e6 + 102466e6 + 94036e6


def test_read_before_the_universe_is_stored_check_db_says_to_set_up_the_us_stocks_first(make_settings):
    from lib.ops.status import gather

    settings = make_settings(markets=["us"], us_stocks=True, us_financials_replay_dir=RECORDED)
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    assert collect.main(["us.financials", "--today", "2025-09-30"], settings=settings) == 0  # nothing to read yet
    attention = gather(storage, settings, at("2025-09-30"), sizes=False).attention
    # `collect.py us.financials` again would read nothing again: the universe comes first
    assert ("US financials (Yahoo statements): stale: nothing read yet: run `python us_stocks_update.py --setup` "
            "(the US universe), then `python collect.py us.financials`") in attention


def test_with_us_stocks_off_collect_says_so_in_one_line_and_exits_0(make_settings, capsys):
    assert collect.main(["us.financials"], settings=make_settings()) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" INFO ", 1)[1] for line in lines] == ["us.financials is off: US_STOCKS is false"]


def test_the_ai_context_cites_a_stocks_latest_known_quarter_as_f1(storage, make_settings, clock):
    from lib.ai.context import build_context
    from lib.markets.us import NEW_YORK

    settings = make_settings(us_stocks=True)
    seed_universe(storage, "AAPL")
    reader = UsFinancialsReader(FrameSource({"AAPL": income(95359000000.0)}), 45, 10, active_universe)
    assert run(storage, settings, clock, reader, at("2025-06-01")) == 0
    early = build_context(storage, registry(), ["AAPL"], dt.date(2025, 5, 31), NEW_YORK, settings)
    context = build_context(storage, registry(), ["AAPL"], dt.date(2025, 6, 2), NEW_YORK, settings)
    assert early.statements == [] and "statements" not in early.brief()
    (f1,) = context.statements
    assert (f1.id, f1.period_end, f1.quarter["total_revenue"], f1.ttm) == ("F1", "2025-03-31", 95359000000.0, {})
    assert "F1" in context.ids() and context.brief()["statements"][0]["ticker"] == "AAPL"


# --- yfinance's statements over a local Yahoo --------------------------------------------------------------


class StatementsStub(YahooStub):
    """The Yahoo stub answering yfinance 1.7.0's fundamentals-timeseries requests from the recorded statements
    (Yahoo's JSON shape: one result per type, e.g. "quarterlyTotalRevenue", with asOfDate and reportedValue);
    `status` answers that HTTP status instead."""

    def __init__(self) -> None:
        super().__init__()
        self.status = 200
        self.recorded = {(s, f): RecordedStatements(RECORDED)._recorded(s, f) for s in ("income", "balance",
                         "cashflow") for f in ("quarterly", "annual")}

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        url = urlparse(request.url)
        if "fundamentals-timeseries" not in url.path:
            return super().send(request, **kwargs)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        symbol = url.path.rsplit("/", 1)[1]
        self.calls[(symbol, "statements")] += 1
        result = []
        for wanted in params["type"].split(","):
            scale = "quarterly" if wanted.startswith("quarterly") else "annual"
            metric = wanted.removeprefix(scale)
            rows = [(day, values.get(label)) for (_, f), tickers in self.recorded.items() if f == scale
                    for day, values in tickers.get(symbol, {}).items() for label in values
                    if label.replace(" ", "") == metric]
            rows = [(day, value) for day, value in rows if value is not None]
            if rows:
                epochs = [int(dt.datetime.combine(d, dt.time(0), dt.UTC).timestamp()) for d, _ in rows]
                result.append({"meta": {"symbol": [symbol], "type": [wanted]}, "timestamp": epochs,
                               wanted: [{"asOfDate": d.isoformat(), "currencyCode": "USD",
                                         "reportedValue": {"raw": v}} for d, v in rows]})
        response = requests.Response()
        response.status_code = self.status
        response.url = request.url
        response.request = request
        body = {"timeseries": {"result": result, "error": None}} if self.status == 200 else {"error": "stub"}
        response._content = json.dumps(body).encode()
        return response


def test_yfinance_statement_frames_become_the_same_items_as_the_recorded_answer(tmp_path):
    stub = StatementsStub()
    source = YahooStatements(10, 60.0, http="requests", cache_dir=tmp_path / "yf", transport=stub)
    now = at("2026-06-01")
    query = FinancialsQuery("AAPL", "USD", now, now, True)
    live, rejected = statement_items("AAPL", "USD", source.statements(query), now, 45)
    assert rejected == [] and stub.calls[("AAPL", "statements")] >= 6
    by_key = {i.key: i.data for i in live}
    assert by_key["AAPL:quarterly:2025-06-30"]["free_cash_flow"] == 24405000000.0
    assert by_key["AAPL:annual:2025-09-30"]["total_revenue"] == 416161000000.0
    assert by_key["AAPL:annual:2024-09-30"]["total_debt"] == 106629000000.0
    # no annual cash flow recorded: Yahoo's empty answer for that statement is an empty frame, not a failure
    assert by_key["AAPL:annual:2024-09-30"]["free_cash_flow"] is None


def test_a_yahoo_server_error_is_transient_not_a_ticker_without_statements(tmp_path):
    stub = StatementsStub()
    stub.status = 502
    source = YahooStatements(10, 60.0, http="requests", cache_dir=tmp_path / "yf", transport=stub)
    now = at("2026-06-01")
    with pytest.raises(TransientSourceError, match="502"):
        source.statements(FinancialsQuery("AAPL", "USD", now, now, True))
