"""Yahoo Finance offline: a requests transport that answers yfinance's requests in Yahoo's documented shapes
(v8 chart, v10 quoteSummary topHoldings / assetProfile, v7 quote), built from the real data bundled in
data/sample/us. yfinance's own parsing code then runs on those answers exactly as on Yahoo's.

yfinance must be imported with YF_DISABLE_CURL_CFFI=1 to speak through requests; tests/conftest.py sets it."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pandas as pd
import requests
from requests.adapters import BaseAdapter

from lib.config import PROJECT_ROOT
from lib.markets.us.sources import yahoo_symbol

US_SAMPLE = PROJECT_ROOT / "data" / "sample" / "us"
NEW_YORK = ZoneInfo("America/New_York")
SEOUL = ZoneInfo("Asia/Seoul")
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
ETF_FILES = {p.stem for p in (US_SAMPLE / "us_etf").glob("*.csv")}


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


class YahooStub(BaseAdapter):
    """Answers https://query1/query2.finance.yahoo.com and fc.yahoo.com from local files.

    `failures[(symbol, kind)]` scripts a failure for a symbol ('chart', 'holdings', 'info'; ("screener", "page")
    for every screener page): an HTTP status
    (429, 500, 403, 404), 'timeout', or 'no_data' (Yahoo's "No data found" chart error); `live_row` adds Yahoo's
    extra row for a session still trading."""

    def __init__(self, root: Path = US_SAMPLE) -> None:
        super().__init__()
        self.root = root
        self.failures: dict[tuple[str, str], Any] = {}
        self.calls: Counter = Counter()
        self.live_row: dt.datetime | None = None

    # --- data ---------------------------------------------------------------------------------------

    def _bars(self, symbol: str) -> pd.DataFrame | None:
        name = symbol.replace("-", ".")
        for folder in ("us_etf", "us_stocks"):
            path = self.root / folder / f"{name}.csv"
            if path.is_file():
                return pd.read_csv(path)
        return None

    def _meta(self, symbol: str) -> dict[str, Any] | None:
        meta = pd.read_csv(self.root / "us_stocks" / "meta.csv", dtype=str, keep_default_na=False)
        meta["ticker"] = meta["ticker"].map(yahoo_symbol)
        rows = meta.loc[meta["ticker"] == symbol]
        return None if rows.empty else rows.iloc[0].to_dict()

    def _holdings(self, symbol: str) -> pd.DataFrame | None:
        for path in sorted((self.root / "etf_holdings").glob("*.csv")):
            if yahoo_symbol(path.stem.split("_")[0]) == symbol:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
                column = "holding" if "holding" in frame.columns else "ticker"
                return pd.DataFrame({
                    "symbol": frame[column].map(yahoo_symbol),
                    "name": frame["name"] if "name" in frame.columns else frame[column],
                    "weight": pd.to_numeric(frame["weight"]),
                })
        return None

    # --- answers --------------------------------------------------------------------------------------

    def chart(self, symbol: str, params: dict[str, str]) -> tuple[int, Any]:
        bars = self._bars(symbol)
        if bars is None:
            return 404, {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
        foreign = symbol.endswith(".KS")
        zone = SEOUL if foreign else NEW_YORK
        bars["date"] = pd.to_datetime(bars["date"]).dt.date
        opening = dt.time(9, 0) if foreign else dt.time(9, 30)
        stamps = [_epoch(dt.datetime.combine(d, opening, tzinfo=zone)) for d in bars["date"]]
        bars["ts"] = stamps
        if "range" in params:  # the time-zone lookup: range=1d
            window = bars.tail(1)
        else:
            lo, hi = int(params["period1"]), int(params["period2"])
            window = bars.loc[(bars["ts"] >= lo) & (bars["ts"] < hi)]
        if (symbol, "chart") in self.failures and self.failures[(symbol, "chart")] == "no_data":
            window = window.iloc[0:0]
        quote: dict[str, list] = {c: [] for c in ("open", "high", "low", "close", "volume")}
        for row in window.itertuples(index=False):
            for column in quote:
                value = getattr(row, column)
                quote[column].append(None if pd.isna(value) else (int(value) if column == "volume" else float(value)))
        timestamps = [int(t) for t in window["ts"]]
        if self.live_row is not None and "period2" in params and timestamps:
            timestamps.append(_epoch(self.live_row))
            for column in quote:
                quote[column].append(quote[column][-1])
        events: dict[str, Any] = {}
        if "dividends" in window.columns:
            paid = window.loc[pd.to_numeric(window["dividends"]).fillna(0) > 0]
            if len(paid):
                events["dividends"] = {str(int(r.ts)): {"amount": float(r.dividends), "date": int(r.ts)}
                                       for r in paid.itertuples()}
        result: dict[str, Any] = {
            "meta": {
                "currency": "KRW" if foreign else "USD", "symbol": symbol,
                "exchangeName": "KSC" if foreign else "PCX", "fullExchangeName": "KSE" if foreign else "NYSEArca",
                "instrumentType": "ETF" if symbol in ETF_FILES else "EQUITY",
                "firstTradeDate": stamps[0], "regularMarketTime": stamps[-1], "hasPrePostMarketData": not foreign,
                "gmtoffset": int(zone.utcoffset(dt.datetime(2025, 1, 1)).total_seconds()),
                "timezone": "KST" if foreign else "EST", "exchangeTimezoneName": str(zone),
                "regularMarketPrice": float(bars["close"].iloc[-1]), "priceHint": 2,
                "dataGranularity": "1d", "range": params.get("range", ""), "validRanges": VALID_RANGES,
            },
            "timestamp": timestamps,
            "indicators": {"quote": [quote], "adjclose": [{"adjclose": list(quote["close"])}]},
        }
        if events:
            result["events"] = events
        if not timestamps:
            result.pop("timestamp")
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return 200, {"chart": {"result": [result], "error": None}}

    def quote_summary(self, symbol: str, modules: list[str]) -> tuple[int, Any]:
        item: dict[str, Any] = {}
        holdings = self._holdings(symbol)
        meta = self._meta(symbol)
        is_fund = symbol in ETF_FILES
        if "topHoldings" in modules:
            if holdings is None or not is_fund:
                # A stock has no fund modules: Yahoo answers with the modules it has.
                item["quoteType"] = {"quoteType": "EQUITY", "symbol": symbol}
                return 200, {"quoteSummary": {"result": [item], "error": None}}
            top = holdings.sort_values("weight", ascending=False, kind="stable").head(10)
            item["quoteType"] = {"quoteType": "ETF", "symbol": symbol, "longName": symbol}
            item["summaryProfile"] = {"longBusinessSummary": f"{symbol} fund"}
            item["fundProfile"] = {"categoryName": None, "family": None, "legalType": "Exchange Traded Fund",
                                   "feesExpensesInvestment": {}, "feesExpensesInvestmentCat": {}}
            item["topHoldings"] = {
                "maxAge": 1, "stockPosition": 0.99, "cashPosition": 0.01,
                "holdings": [{"symbol": r.symbol, "holdingName": r.name, "holdingPercent": r.weight / 100}
                             for r in top.itertuples()],
                "equityHoldings": {}, "bondHoldings": {}, "bondRatings": [], "sectorWeightings": [],
            }
            return 200, {"quoteSummary": {"result": [item], "error": None}}
        if meta is None:
            return 404, {"quoteSummary": {"result": None, "error": {
                "code": "Not Found", "description": "Quote not found for symbol: " + symbol}}}
        number = lambda text: float(text) if text else None  # noqa: E731
        item["quoteType"] = {"quoteType": "EQUITY", "symbol": symbol, "shortName": meta["name"],
                             "longName": meta["name"]}
        item["assetProfile"] = {"sector": meta["sector"] or None, "maxAge": 86400}
        item["summaryDetail"] = {"marketCap": number(meta["market_cap"]), "currency": meta["currency"] or None}
        item["defaultKeyStatistics"] = {"sharesOutstanding": number(meta["shares_outstanding"])}
        item["financialData"] = {"financialCurrency": meta["currency"] or None}
        for module in item.values():
            for key in [k for k, v in module.items() if v is None]:
                del module[key]
        return 200, {"quoteSummary": {"result": [item], "error": None}}

    def screener(self, body: dict[str, Any]) -> tuple[int, Any]:
        """v1/finance/screener (POST): meta.csv's stocks whose market cap clears the query's intradaymarketcap
        floor, sorted by ticker, one page of `size` from `offset` (the quote fields a screener quote carries)."""
        meta = pd.read_csv(self.root / "us_stocks" / "meta.csv", dtype=str, keep_default_na=False)
        floor = next(o["operands"][1] for o in body["query"]["operands"]
                     if o["operands"][0] == "intradaymarketcap")
        meta["ticker"] = meta["ticker"].map(yahoo_symbol)
        rows = meta.loc[pd.to_numeric(meta["market_cap"]) >= floor].sort_values("ticker")
        offset, size = int(body["offset"]), int(body["size"])
        page = rows.iloc[offset:offset + size]
        quotes = [{"symbol": r.ticker, "quoteType": "EQUITY", "typeDisp": "Equity", "region": "US",
                   "market": "us_market", "exchange": "NMS", "currency": r.currency or "USD",
                   "shortName": r.name, "longName": r.name, "marketCap": float(r.market_cap),
                   "sharesOutstanding": float(r.shares_outstanding)} for r in page.itertuples()]
        return 200, {"finance": {"result": [{"start": offset, "count": len(quotes), "total": len(rows),
                                             "quotes": quotes}], "error": None}}

    # --- transport ------------------------------------------------------------------------------------

    def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:
        url = urlparse(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        status, body, text = 200, None, "Too Many Requests"
        if url.hostname == "fc.yahoo.com":
            text = ""
        elif path == "/v1/test/getcrumb":
            text = "stub-crumb"
        elif path.startswith("/v8/finance/chart/"):
            symbol = path.rsplit("/", 1)[1]
            kind = "tz" if "range" in params else "chart"
            self.calls[(symbol, kind)] += 1
            status, body = self._fail(symbol, "chart") or self.chart(symbol, params)
        elif path.startswith("/v10/finance/quoteSummary/"):
            symbol = path.rsplit("/", 1)[1]
            modules = params.get("modules", "").split(",")
            kind = "holdings" if "topHoldings" in modules else "info"
            self.calls[(symbol, kind)] += 1
            status, body = self._fail(symbol, kind) or self.quote_summary(symbol, modules)
        elif path == "/v1/finance/screener":
            screen = json.loads(request.body)
            self.calls[("screener", screen["offset"])] += 1
            status, body = self._fail("screener", "page") or self.screener(screen)
        elif path == "/v7/finance/quote":
            status, body = 200, {"quoteResponse": {"result": [], "error": None}}
        elif "fundamentals-timeseries" in path:
            status, body = 200, {"timeseries": {"result": [], "error": None}}
        else:
            status, body = 404, {"error": f"no stub for {path}"}
        response = requests.Response()
        response.status_code = status
        response.url = request.url
        response.request = request
        response._content = json.dumps(body).encode() if body is not None else text.encode()
        response.headers["Content-Type"] = "application/json" if body is not None else "text/plain"
        return response

    def _fail(self, symbol: str, kind: str) -> tuple[int, Any] | None:
        failure = self.failures.get((symbol, kind))
        if failure is None or failure == "no_data":
            return None
        if failure == "timeout":
            raise requests.exceptions.ReadTimeout(f"stub: {symbol} timed out")
        if failure == 429:
            return 429, None  # Yahoo answers a plain "Too Many Requests"
        error = {"code": str(failure), "description": f"HTTP {failure} from the stub"}
        key = "chart" if kind == "chart" else "quoteSummary"
        return int(failure), {key: {"result": None, "error": error}}

    def close(self) -> None:
        """Nothing to release."""


def stub_session(stub: YahooStub) -> requests.Session:
    """A requests.Session whose every https request is answered by the stub."""
    session = requests.Session()
    session.mount("https://", stub)
    session.mount("http://", stub)
    return session
