"""krx.disclosures: OpenDART's filings of the universe's stocks, read day by day on the watermark cadence.

The reader asks for the whole market's filings of one KST day at a time (list.json, 100 a page) and keeps the
rows of the universe's stocks (a row of another company is skipped, and counted in the day's log line). The mark's
`read_through` is the end of the last KST day read to its last page once that day had ended; the `cursor`
("YYYYMMDD:page") the next page within a day. Today is re-read from its first page on every run, so its later
filings are found; the day after, it is read once more, whole. The first run starts KRX_DISCLOSURES_FIRST_DAYS
back.

Each kept row is an item per lib/context/items.py's DisclosureData: key rcept_no, `at` the receipt day's start in
Seoul, `known_at` that day's end (OpenDART gives a date only), the viewer link built from rcept_no, and the `rm`
flags as given. `prepare` reads the universe's tickers and refreshes the stock code -> corp_code map weekly
(CORPCODE.xml), which fills a row's blank stock code and checks a given one.

The source is OpenDART (lib/markets/krx/dart_client.py) or, with KRX_DISCLOSURES_REPLAY_DIR, a folder of recorded
answers (`DartReplay`, the demo's data/sample/dart)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lib.context.items import DisclosureData
from lib.context.read import day_cutoff
from lib.errors import BadDataError, ConfigError, SourceBlockedError, SourceError
from lib.log import get_logger
from lib.markets.krx import SEOUL
from lib.markets.krx.dart_client import OpenDartClient, parse_corp_codes, parse_list
from lib.markets.krx.settings import krx_settings
from lib.spine.watermark import Item, Mark, Page, Rejected, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.storage import Storage

log = get_logger("dart")
SOURCE = "dart"
VIEWER = "https://dart.fss.or.kr/dsaf001/main.do?rcpNo={}"
REFRESH_EVERY = dt.timedelta(days=7)  # CORPCODE.xml changes as companies list, delist or rename
_RCEPT_NO = re.compile(r"^\d{14}$")
_TICKER = re.compile(r"^[0-9A-Z]{6}$")


class DartSource(Protocol):
    """What the reader asks of OpenDART or of its recorded answers."""

    def corp_codes(self) -> list[dict[str, str]]:
        """The listed companies: stock_code, corp_code, name, eng_name, modify_date."""

    def list_day(self, day: dt.date, page_no: int) -> dict[str, Any]:
        """One page of a day's filings: {rows, page_no, total_page, total_count}."""


class DartReplay:
    """Recorded OpenDART answers in a folder: CORPCODE.xml (as unzipped from corpCode.xml) and
    list/YYYYMMDD-<page>.json (list.json's answers as OpenDART gave them). A day without a file is answered as
    OpenDART answers a day without filings (status 013)."""

    def __init__(self, folder: Path) -> None:
        if not (folder / "CORPCODE.xml").is_file():
            raise ConfigError(f"KRX_DISCLOSURES_REPLAY_DIR={folder} has no CORPCODE.xml: point it at a folder of "
                              "recorded OpenDART answers such as data/sample/dart")
        self.folder = folder

    def corp_codes(self) -> list[dict[str, str]]:
        """The recorded CORPCODE.xml's listed companies."""
        return parse_corp_codes((self.folder / "CORPCODE.xml").read_bytes())

    def list_day(self, day: dt.date, page_no: int) -> dict[str, Any]:
        """The recorded page, or OpenDART's "no data" answer."""
        path = self.folder / "list" / f"{day:%Y%m%d}-{page_no}.json"
        what = f"the recorded filings of {day} (page {page_no}, {path.name})"
        if not path.is_file():
            return parse_list({"status": "013", "message": "조회된 데이타가 없습니다."}, what)
        try:
            answer = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadDataError(f"{what} cannot be read: {exc}") from None
        return parse_list(answer, what)


@dataclass(frozen=True)
class DayQuery:
    """One page of one KST day's filings, asked on `today` (KST)."""

    day: dt.date
    page_no: int
    today: dt.date


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=SEOUL)


def _kst_day(moment: dt.datetime) -> dt.date:
    """The KST date of a moment (a stored naive time is UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(SEOUL).date()


class DisclosuresReader(WatermarkReader):
    """The whole market's filings day by day, kept for the universe's stocks (see the module docstring)."""

    name = "opendart"
    min_gap_seconds = 0.2  # OpenDART blocks an IP that floods it
    max_pages = 400  # a run reads at most about 40,000 filings; a longer backlog goes on next run
    vintages = False  # known_at is the receipt day's end; a changed row (a later 정 flag) counts from its read

    def __init__(self, source: DartSource, first_days: int = 30, network: bool = True) -> None:
        self.source = source
        self.first_days = first_days
        self.network = network
        self.tickers: frozenset[str] = frozenset()
        self.stock_of_corp: dict[str, str] = {}
        self._day_counts: dict[dt.date, dict[str, int]] = {}

    # --- before the first page --------------------------------------------------------------------------

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """Read the universe's tickers; refresh the corp_code map when it is a week old (or missing)."""
        self.tickers = frozenset(doc["ticker"] for doc in storage.universe.universe())
        if not self.tickers:
            raise ConfigError("the KRX universe is empty, so no filing can be kept: run `python manual_setup.py` "
                              "first")
        refreshed = storage.corp_codes.refreshed_at(SOURCE)
        if refreshed is None or now.astimezone(dt.UTC).replace(tzinfo=None) - refreshed >= REFRESH_EVERY:
            try:
                count = storage.corp_codes.replace_corp_map(SOURCE, self.source.corp_codes(), now)
                log.info("OpenDART company codes refreshed: %d listed companies", count)
            except SourceBlockedError:
                raise
            except SourceError as exc:  # transient, the day's limit, a bad answer
                # The rows carry their own stock code: an old map only fills fewer blanks.
                kept = f"the map stored {refreshed:%Y-%m-%d}" if refreshed else "no map (none stored yet)"
                log.warning("OpenDART company codes not refreshed (%s); going on with %s", exc, kept)
        self.stock_of_corp = {v["corp_code"]: code for code, v in storage.corp_codes.corp_map(SOURCE).items()}

    def start(self, now: dt.datetime) -> Mark:
        """The first run reads from `first_days` before today (KST)."""
        return Mark(_day_start(now.astimezone(SEOUL).date() - dt.timedelta(days=self.first_days)))

    # --- one page -----------------------------------------------------------------------------------------

    def build_query(self, mark: Mark, now: dt.datetime) -> DayQuery:
        """The page after the mark: the cursor's page, else the first page of the day after read_through."""
        today = now.astimezone(SEOUL).date()
        if mark.cursor:
            day_text, _, page = mark.cursor.partition(":")
            try:
                return DayQuery(dt.datetime.strptime(day_text, "%Y%m%d").date(), int(page), today)
            except ValueError:
                raise BadDataError(f"the stored cursor {mark.cursor!r} of krx.disclosures is not YYYYMMDD:page; "
                                   "delete its watermark to read again from KRX_DISCLOSURES_FIRST_DAYS back") from None
        day = _kst_day(mark.read_through) if mark.read_through else today - dt.timedelta(days=self.first_days)
        return DayQuery(min(day, today), 1, today)

    def fetch_raw(self, query: DayQuery) -> dict[str, Any]:
        """One page of the day from the source."""
        return self.source.list_day(query.day, query.page_no)

    def normalise(self, raw: dict[str, Any], query: DayQuery) -> Page:
        """The page's rows of the universe's stocks as items; the mark after it."""
        items: list[Item] = []
        rejected: list[Rejected] = []
        counts = self._day_counts.setdefault(query.day, {"rows": 0, "kept": 0, "skipped": 0})
        for row in raw["rows"]:
            counts["rows"] += 1
            ticker, problem = self._ticker(row)
            if ticker is None:
                counts["skipped"] += 1
                continue
            found = problem or self._item(row, ticker, query.day)
            if isinstance(found, str):
                rejected.append(Rejected(found, row, str(row.get("rcept_no") or "") or None))
            else:
                items.append(found)
                counts["kept"] += 1
        last_page = query.page_no >= raw["total_page"]
        if not last_page:
            mark = Mark(_day_start(query.day), f"{query.day:%Y%m%d}:{query.page_no + 1}")
            return Page(tuple(items), mark, True, tuple(rejected))
        self._log_day(query.day)
        if query.day < query.today:  # the day has ended in Seoul and is read to its last page
            return Page(tuple(items), Mark(_day_start(query.day + dt.timedelta(days=1))), True, tuple(rejected))
        return Page(tuple(items), Mark(_day_start(query.day)), False, tuple(rejected))  # today: read again

    def _ticker(self, row: dict[str, Any]) -> tuple[str | None, str | None]:
        """The row's stock in the universe (None: another company's, skipped) and why it is refused, if so."""
        given = str(row.get("stock_code") or "").strip()
        mapped = self.stock_of_corp.get(str(row.get("corp_code") or "").strip())
        ticker = given or mapped
        if ticker not in self.tickers and mapped not in self.tickers:
            return None, None
        if given and mapped and given != mapped:
            return given if given in self.tickers else mapped, (
                f"stock_code {given} but corp_code {row.get('corp_code')} is {mapped} in CORPCODE.xml")
        return ticker, None

    def _item(self, row: dict[str, Any], ticker: str, asked: dt.date) -> Item | str:
        """A row as an item, or why it cannot be one."""
        rcept_no = str(row.get("rcept_no") or "").strip()
        if not rcept_no:
            return "no rcept_no (OpenDART's 14-digit receipt number)"
        text = str(row.get("rcept_dt") or "").strip()
        try:
            day = dt.datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            return f"rcept_dt {text!r} is not a date (YYYYMMDD)"
        if day != asked:
            return f"rcept_dt {day} is not the day asked for ({asked})"
        data: DisclosureData = {
            "ticker": ticker, "company": str(row.get("corp_name") or "").strip(),
            "title": str(row.get("report_nm") or "").strip(), "filer": str(row.get("flr_nm") or "").strip(),
            "flags": str(row.get("rm") or "").strip(), "url": VIEWER.format(rcept_no), "source": SOURCE,
            "corp_code": str(row.get("corp_code") or "").strip(),
        }
        return Item(rcept_no, _day_start(day), dict(data), day_cutoff(day, SEOUL))

    def _log_day(self, day: dt.date) -> None:
        counts = self._day_counts.pop(day, {"rows": 0, "kept": 0, "skipped": 0})
        level = logging.INFO if counts["rows"] else logging.DEBUG  # an empty day (a Sunday) says nothing
        log.log(level, "OpenDART %s: %d filing(s), %d of the universe's stocks kept, %d of other companies skipped",
                day, counts["rows"], counts["kept"], counts["skipped"])

    def validate(self, item: Item) -> str | None:
        """A receipt number of 14 digits, a stock code of 6 characters, a title."""
        if not _RCEPT_NO.match(item.key):
            return f"rcept_no {item.key!r} is not 14 digits"
        if not _TICKER.match(item.data["ticker"]):
            return f"stock code {item.data['ticker']!r} is not 6 characters"
        if not item.data["title"]:
            return "no report_nm (the filing's title)"
        return None


def disclosures_reader(settings: Settings) -> DisclosuresReader:
    """krx.disclosures' reader: the recorded answers of KRX_DISCLOSURES_REPLAY_DIR, else OpenDART with
    DART_API_KEY (the dataset is off without either)."""
    krx = krx_settings(settings)
    if krx.disclosures_replay_dir:
        return DisclosuresReader(DartReplay(Path(krx.disclosures_replay_dir)), krx.disclosures_first_days,
                                 network=False)
    key = krx.dart_api_key.get_secret_value().strip() if krx.dart_api_key else ""
    if not key:
        raise ConfigError("DART_API_KEY is blank: set it (a free key from opendart.fss.or.kr) or "
                          "KRX_DISCLOSURES_REPLAY_DIR")
    return DisclosuresReader(OpenDartClient(key, krx.dart_url), krx.disclosures_first_days)
