"""US replay: a folder laid out like the project's data/sample/us served through the US source interface, for the
demo, the tests, and a user's own files.

    us_etf/<TICKER>.csv       date,open,high,low,close,volume[,dividends,splits]
    us_stocks/<TICKER>.csv    the same, for the stocks held by the ETFs
    us_stocks/meta.csv        ticker,name,sector,shares_outstanding,market_cap,currency
    etf_holdings/<ETF>.csv    etf,ticker,name,...,weight (percent)          an undated snapshot
    etf_holdings/<ETF>_asof_MMDDYYYY.csv   etf,asof,holding,weight         a dated snapshot
    etf_holdings/as_of.csv    etf,as_of[,note]: the date each undated snapshot was known (YYYY-MM-DD); one
                              without a line here counts as known on the day it is read (lib/markets/us/etf/marks.py)

Tickers may be written the issuers' way (BRK.B); they are served in Yahoo's form (BRK-B). Cells are handed to
validation as they are written, so a broken file gives rejected records, not a crash."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from lib.errors import BadDataError, ConfigError, EmptyAnswerError, OutsideRangeError
from lib.markets.us.sources import BAR_COLUMNS, BarsQuery, HoldingsQuery, ProfileQuery, Query, UsSource, yahoo_symbol
from lib.spine.chain import FileSpan

NEW_YORK = ZoneInfo("America/New_York")

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
AS_OF_FILE = "as_of.csv"
DATED = re.compile(r"^(?P<etf>[A-Za-z0-9.\-]+)_asof_(?P<m>\d\d)(?P<d>\d\d)(?P<y>\d{4})\.csv$")


def _file_ticker(path: Path) -> str:
    return yahoo_symbol(path.stem)


class UsReplaySource(FileSpan, UsSource):
    """Serves bars, holdings and profiles from CSV files; a session is available as soon as it is in the files."""

    name = "replay"
    network = False
    tz = NEW_YORK  # FileSpan: the files' sessions are there from midnight in the exchange's zone

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise ConfigError(f"US_REPLAY_DIR: no folder at {root}; fix the path in .env")
        for folder in ("us_etf", "us_stocks", "etf_holdings"):
            if not (root / folder).is_dir():
                raise ConfigError(f"US_REPLAY_DIR: {root} has no {folder}/ folder (see .env.example for the layout)")
        self._bars_files = {
            _file_ticker(p): p for folder in ("us_stocks", "us_etf") for p in sorted((root / folder).glob("*.csv"))
            if p.name not in ("meta.csv", "quality.csv")
        }
        etf_files = sorted((root / "us_etf").glob("*.csv"))
        if not etf_files:
            raise ConfigError(f"US_REPLAY_DIR: {root / 'us_etf'} holds no <TICKER>.csv file")
        spans = [self._span(p) for p in etf_files]
        self.first = min(s[0] for s in spans)
        self.last = max(s[1] for s in spans)
        self.undated_as_of = self._undated_as_of(root / "etf_holdings" / AS_OF_FILE)

    @staticmethod
    def _undated_as_of(path: Path) -> dict[str, dt.date]:
        """{ETF: the date its undated snapshot was known} from etf_holdings/as_of.csv (empty without the file)."""
        if not path.is_file():
            return {}
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"US_REPLAY_DIR: cannot read {path}: {exc}") from None
        if not {"etf", "as_of"} <= set(frame.columns):
            raise ConfigError(f"US_REPLAY_DIR: {path} needs the columns etf,as_of (YYYY-MM-DD)")
        out: dict[str, dt.date] = {}
        for line, (etf, text) in enumerate(zip(frame["etf"], frame["as_of"], strict=True), start=2):
            try:
                out[yahoo_symbol(etf)] = dt.date.fromisoformat(text.strip())
            except ValueError:
                raise ConfigError(f"US_REPLAY_DIR: {path} line {line}: as_of {text!r} is not YYYY-MM-DD") from None
        return out

    def lacking(self, tickers: list[str]) -> list[str]:
        """The tickers of these that have no bars file in the folder."""
        return [t for t in tickers if yahoo_symbol(t) not in self._bars_files]

    @staticmethod
    def _span(path: Path) -> tuple[dt.date, dt.date]:
        try:
            dates = pd.read_csv(path, usecols=["date"], dtype=str)["date"].dropna().str.strip().str.slice(0, 10)
            if dates.empty:
                raise ConfigError(f"US_REPLAY_DIR: {path} has no rows")
            dates = dates[dates.str.fullmatch(ISO_DATE)]  # an unreadable one is refused by file and line when served
            if dates.empty:
                raise ConfigError(f"US_REPLAY_DIR: {path} has no row with a YYYY-MM-DD date")
            return dt.date.fromisoformat(dates.min()), dt.date.fromisoformat(dates.max())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"US_REPLAY_DIR: cannot read the dates of {path}: {exc}") from None


    @cache  # noqa: B019 - one instance per run; the files do not change while it runs
    def _bars(self, ticker: str) -> pd.DataFrame:
        path = self._bars_files.get(ticker)
        if path is None:  # outside what the folder can ever serve: not an empty trading day
            raise OutsideRangeError(
                f"{self.name} {ticker}: no file us_etf/{ticker}.csv or us_stocks/{ticker}.csv in {self.root}"
            )
        try:
            # Blank lines kept (as blank rows, outside every date range) so a row's index + 2 is its line number.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
        except (OSError, ValueError) as exc:
            raise BadDataError(f"{self.name} {ticker}: cannot read {path.name}: {exc}") from None
        if "date" not in frame.columns:
            raise BadDataError(f"{self.name} {ticker}: {path.name} has no date column")
        frame = frame.fillna("")
        frame.attrs["file"] = f"{path.parent.name}/{path.name}"
        return frame

    def first_bar(self, ticker: str) -> dt.date | None:
        """The first date of the ticker's bars file (None without a file): sessions before it are outside the
        file's range, not days it left empty."""
        if ticker not in self._bars_files:
            return None
        dates = self._bars(ticker)["date"].str.strip().str.slice(0, 10)
        readable = sorted(dates[dates.str.fullmatch(ISO_DATE)])
        return dt.date.fromisoformat(readable[0]) if readable else None

    def _holdings_file(self, etf: str, day: dt.date) -> tuple[Path, dt.date | None]:
        folder = self.root / "etf_holdings"
        dated: list[tuple[dt.date, Path]] = []
        undated: Path | None = None
        for path in folder.glob("*.csv"):
            if path.name == AS_OF_FILE:
                continue
            match = DATED.match(path.name)
            if match and yahoo_symbol(match["etf"]) == etf:
                dated.append((dt.date(int(match["y"]), int(match["m"]), int(match["d"])), path))
            elif not match and _file_ticker(path) == etf:
                undated = path
        earlier = sorted(d for d in dated if d[0] <= day)
        if earlier:
            return earlier[-1][1], earlier[-1][0]
        if undated is not None:
            return undated, self.undated_as_of.get(etf)
        if dated:
            raise OutsideRangeError(f"{self.name} {etf}: no holdings snapshot on or before {day}")
        raise EmptyAnswerError(f"{self.name} {etf}: no file etf_holdings/{etf}.csv or {etf}_asof_MMDDYYYY.csv")

    @cache  # noqa: B019
    def _meta(self) -> pd.DataFrame:
        path = self.root / "us_stocks" / "meta.csv"
        if not path.is_file():
            return pd.DataFrame(columns=["ticker"])
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["ticker"] = frame["ticker"].map(yahoo_symbol)
        frame["line"] = frame.index + 2  # the header is line 1
        return frame.set_index("ticker")

    def fetch_raw(self, query: Query) -> Any:
        """The files' rows for the query (nothing leaves the process)."""
        match query:
            case BarsQuery():
                if query.end < self.first:
                    raise OutsideRangeError(f"{self.name}: {query.end} is before the files' first session {self.first}")
                first = self.first_bar(query.ticker)
                if first is not None and query.end < first:  # a fund launched later: not an empty day
                    raise OutsideRangeError(
                        f"{self.name} {query.ticker}: {query.end} is before the first row of its file ({first})"
                    )
                frame = self._bars(query.ticker)
                dates = frame["date"].str.strip().str.slice(0, 10)
                # A row whose date cannot be read is handed on too, so validation refuses it by file and line.
                readable = dates.str.fullmatch(ISO_DATE)
                blank = (frame == "").all(axis=1)
                wanted = (dates >= query.start.isoformat()) & (dates <= query.end.isoformat())
                return frame.loc[(wanted & readable) | (~readable & ~blank)]
            case HoldingsQuery():
                path, as_of = self._holdings_file(query.etf, query.day)
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
                frame.attrs["as_of"] = as_of
                return frame
            case ProfileQuery():
                meta = self._meta()
                if query.ticker not in meta.index:
                    raise EmptyAnswerError(f"{self.name} {query.ticker}: not in us_stocks/meta.csv")
                rows = meta.loc[meta.index == query.ticker]
                if len(rows) > 1:  # which one is right is for a person to say
                    lines = ", ".join(str(n) for n in rows["line"])
                    raise BadDataError(f"{self.name} {query.ticker}: listed {len(rows)} times in us_stocks/meta.csv "
                                       f"(lines {lines}): keep one line per ticker")
                return rows.iloc[0].drop("line").to_dict()
        raise TypeError(f"unknown query {query!r}")

    def normalise(self, raw: Any, query: Query) -> Any:
        """The files' columns to the interface's schemas; cells stay text for validation to read."""
        match query:
            case BarsQuery():
                frame = raw.copy()
                for column in BAR_COLUMNS:
                    if column not in frame.columns:
                        frame[column] = None
                frame = frame.loc[:, list(BAR_COLUMNS)].replace({"": None})
                lines = [int(i) + 2 for i in raw.index]  # the header is line 1
                frame = frame.reset_index(drop=True)
                frame.attrs.update(file=raw.attrs.get("file"), lines=lines)
                return frame
            case HoldingsQuery():
                symbol = "holding" if "holding" in raw.columns else "ticker"
                frame = pd.DataFrame({
                    "ticker": raw.get(symbol),
                    "name": raw["name"] if "name" in raw.columns else "",
                    "holding_percent": raw.get("weight"),
                })
                frame.attrs["as_of"] = raw.attrs.get("as_of")
                return frame
            case ProfileQuery():
                return {
                    "name": raw.get("name"),
                    "sector": raw.get("sector"),
                    "shares_outstanding": raw.get("shares_outstanding"),
                    "market_cap": raw.get("market_cap"),
                    "currency": raw.get("currency") or None,
                    "quote_type": "EQUITY",
                }
        raise TypeError(f"unknown query {query!r}")
