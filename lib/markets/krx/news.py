"""krx.news: headlines, links, snippets and publication times (never article bodies) about the KRX universe's
stocks, on the watermark cadence.

A run is a sweep: one page per stock asked of the Naver Search API (the day's screener picks, then the largest
caps, KRX_NEWS_TOP_N) and one page per finance RSS feed (KRX_NEWS_RSS_FEEDS). The cursor is the sweep's start
and the position in it, stored after each page, so a run killed mid-sweep resumes at the next stock; once the
sweep is done, the watermark reads through the sweep's start. Items are the contract's NewsData
(lib/context/items.py), keyed by stock and canonical link: a re-read with other tracking parameters is the
same item."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from lib.errors import BadDataError, ConfigError
from lib.log import get_logger
from lib.markets.krx.news_match import COMMON_WORDS, NameMatcher
from lib.markets.krx.news_naver import NAVER_URL, fetch_naver, naver_items
from lib.markets.krx.news_rss import fetch_feed, rss_items
from lib.markets.krx.news_text import SEOUL
from lib.settings_base import project_path
from lib.spine.watermark import Item, Mark, Page, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.storage import Storage

log = get_logger("krx_news")
DATASET = "krx.news"
FUTURE_SLACK = dt.timedelta(minutes=5)  # a publisher's clock a little ahead is fine; beyond it, the time is wrong
PICKS_LOOKBACK_DAYS = 7  # the picks of the newest analysed day within a week (a weekend, a holiday)


@dataclass(frozen=True)
class Step:
    """One page of a sweep: a Naver search for a stock (`key` its ticker, `text` its name) or an RSS feed
    (`key` its name, `text` its URL)."""

    kind: str  # "naver" or "rss"
    key: str
    text: str


@dataclass(frozen=True)
class NewsQuery:
    """The page at `position` of the sweep started at `sweep` (aware UTC), as of `now`."""

    sweep: dt.datetime
    position: int
    total: int
    step: Step
    read_through: dt.datetime | None
    now: dt.datetime


def _cursor(sweep: dt.datetime, position: int) -> str:
    return f"{sweep.isoformat()}|{position}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    """The sweep's start and the next position, None for a new sweep (none stored, or not ours)."""
    if not cursor:
        return None
    sweep, _, position = cursor.rpartition("|")
    try:
        moment = dt.datetime.fromisoformat(sweep)
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)), int(position)
    except ValueError:
        log.warning("krx.news: stored cursor %r is not a sweep position; starting a new sweep", cursor)
        return None


class KrxNewsReader(WatermarkReader):
    """The live reader: Naver (when its id and secret are set) and the RSS feeds."""

    name = "naver_news"
    network = True
    min_gap_seconds = 0.1  # Naver allows 10 calls a second
    vintages = False  # known_at is the publication; an edited headline counts from its read

    def __init__(self, client_id: str | None, secret: str | None, feeds: dict[str, str], top_n: int,
                 timeout: float, session: requests.Session | None = None, naver_url: str = NAVER_URL) -> None:
        self.client_id, self._secret = client_id or "", secret or ""
        self.feeds, self.top_n, self.timeout = dict(feeds), top_n, timeout
        self.session = session or requests.Session()
        self.naver_url = naver_url
        self.steps: list[Step] = []
        self.matcher = NameMatcher({})
        self.naver_calls = 0
        self._now: dt.datetime | None = None
        self._storage: Storage | None = None

    @property
    def naver_on(self) -> bool:
        """Naver is asked only with both its id and secret."""
        return bool(self.client_id and self._secret)

    # --- what to read ---------------------------------------------------------------------------------

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """The sweep's steps (the stocks to ask Naver about, then the feeds) and the universe's names."""
        self._storage = storage
        universe = storage.universe.universe(active_only=True)
        if not universe:
            raise ConfigError("krx.news: the KRX universe is empty, so no headline can be matched to a stock; "
                              "run `python manual_setup.py` first (or KRX_NEWS=false)")
        names = {d["ticker"]: d["name"] for d in universe if d.get("name")}
        self.matcher = NameMatcher(names)
        steps: list[Step] = []
        if self.naver_on:
            tickers = [t for t in picked_tickers(storage, now.astimezone(SEOUL).date()) if t in names]
            tickers += [d["ticker"] for d in universe[: self.top_n] if d["ticker"] in names]
            steps = [Step("naver", t, _query_text(names[t])) for t in dict.fromkeys(tickers)]
        else:
            log.info("krx.news: NAVER_CLIENT_ID or NAVER_CLIENT_SECRET is blank, so Naver is skipped; "
                     "reading the RSS feeds only")
        steps += [Step("rss", name, url) for name, url in self.feeds.items()]
        if not steps:
            raise ConfigError("krx.news has nothing to read: set NAVER_CLIENT_ID and NAVER_CLIENT_SECRET or "
                              "KRX_NEWS_RSS_FEEDS (or KRX_NEWS=false to turn it off)")
        self.steps = steps

    def build_query(self, mark: Mark, now: dt.datetime) -> NewsQuery:
        """The next page: the stored sweep's next position, or the first page of a new sweep."""
        utc_now = now.astimezone(dt.UTC)
        resumed = _parse_cursor(mark.cursor)
        sweep, position = resumed if resumed and resumed[1] < len(self.steps) else (utc_now, 0)
        self._now = utc_now
        return NewsQuery(sweep, position, len(self.steps), self.steps[position], mark.read_through, utc_now)

    # --- asking ---------------------------------------------------------------------------------------

    def fetch_raw(self, query: NewsQuery) -> Any:
        """Ask Naver or the feed; after the sweep's last page, one line says how many Naver calls it made."""
        if query.step.kind == "naver":
            self.naver_calls += 1
        raw = self.ask(query.step)
        if query.position == query.total - 1:
            self.log_calls()
        return raw

    def ask(self, step: Step) -> Any:
        """One request: Naver's search for a stock, or a feed's XML."""
        if step.kind == "naver":
            return fetch_naver(self.session, self.naver_url, self.client_id, self._secret, step.text, self.timeout)
        return fetch_feed(self.session, step.key, step.text, self.timeout)

    def log_calls(self) -> None:
        """How many Naver calls this run made (the API allows 25,000 a day)."""
        feeds = sum(1 for s in self.steps if s.kind == "rss")
        if not self.naver_on:
            naver = "no Naver call (its keys are blank)"
        elif self.network:
            naver = f"{self.naver_calls} Naver Search API call(s) (25,000 a day allowed)"
        else:
            naver = f"{self.naver_calls} replayed Naver answer(s)"
        log.info("krx.news: this run made %s and read %d RSS feed(s)", naver, feeds)

    # --- reading the answer ---------------------------------------------------------------------------

    def normalise(self, raw: Any, query: NewsQuery) -> Page:
        """The page's items; the mark moves to the next position, or reads through the sweep once it is done."""
        step = query.step
        if step.kind == "naver":
            items, rejected, _ = naver_items(raw, step.key, self.matcher)
        else:
            items, rejected, _ = rss_items(raw, step.key, self.matcher)
        items = self.first_feed_wins(self.published_by(items, query))
        last = query.position == query.total - 1
        mark = Mark(query.sweep, None) if last else Mark(query.read_through, _cursor(query.sweep, query.position + 1))
        return Page(tuple(items), mark, more=not last, rejected=tuple(rejected))

    def first_feed_wins(self, items: list[Item]) -> list[Item]:
        """Leave out an article already stored from another feed: Naver and an RSS feed both carry Hankyung's
        and Maeil's articles under the same key (stock and link), and taking each copy in turn would store a
        revision on every run."""
        if self._storage is None or not items:
            return items
        stored = self._storage.watermarks.stored_items(DATASET, [item.key for item in items])
        return [item for item in items
                if item.key not in stored or stored[item.key]["data"].get("feed") == item.data["feed"]]

    def published_by(self, items: list[Item], query: NewsQuery) -> list[Item]:
        """The items a source could have served at `query.now` (live: all of them; validate refuses a time in
        the future)."""
        return items

    def validate(self, item: Item) -> str | None:
        """Refuse an item without a title or link, or published more than a few minutes in the future."""
        if not item.data.get("title") or not item.data.get("url"):
            return "no title or link"
        if self._now is not None and item.at > self._now + FUTURE_SLACK:
            return f"published at {item.at.isoformat()}, after this run's time {self._now.isoformat()}"
        return None


class ReplayNewsReader(KrxNewsReader):
    """Recorded answers in a folder: naver/<ticker>.json (the search by that stock's name) and rss/<feed>.xml;
    a stock without a file has no recorded headlines. Only what was published by the run's time is served."""

    network = False

    def __init__(self, folder: Path, feeds: dict[str, str], top_n: int) -> None:
        super().__init__("replay", "replay", feeds, top_n, timeout=0)
        self.folder = folder

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """As live, once the folder is found."""
        if not (self.folder / "naver").is_dir() and not (self.folder / "rss").is_dir():
            raise ConfigError(f"KRX_NEWS_REPLAY_DIR {self.folder} has no naver/ or rss/ folder of recorded answers")
        super().prepare(storage, now)

    def ask(self, step: Step) -> Any:
        """The recorded answer of this step."""
        if step.kind == "naver":
            path = self.folder / "naver" / f"{step.key}.json"
            if not path.exists():
                return {"items": []}
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise BadDataError(f"recorded Naver answer {path} is not JSON: {exc}") from None
        path = self.folder / "rss" / f"{step.key}.xml"
        return path.read_bytes() if path.exists() else b"<rss><channel></channel></rss>"

    def published_by(self, items: list[Item], query: NewsQuery) -> list[Item]:
        """Only what was published by the run's time: the recording runs past it."""
        return [item for item in items if item.at <= query.now]


def _query_text(name: str) -> str:
    """What Naver is asked: the stock's name, with 주가 (share price) after a name that is an ordinary word."""
    return f"{name} 주가" if name in COMMON_WORDS else name


def picked_tickers(storage: Storage, today: dt.date) -> list[str]:
    """The tickers of every strategy's picks on the newest analysed day up to `today` (within a week)."""
    state = storage.picks.picks_state()
    if not state:
        return []
    latest = min(dt.date.fromisoformat(state["latest_day"]), today)
    for back in range(PICKS_LOOKBACK_DAYS + 1):
        day = latest - dt.timedelta(days=back)
        docs = [storage.picks.daily_picks_for(s, day) for s in state.get("strategies", [])]
        found = [p["ticker"] for doc in docs if doc for p in doc.get("picks", [])]
        if any(docs):
            return sorted(set(found))
    return []


def news_reader(settings: Settings) -> KrxNewsReader:
    """The krx.news reader of these settings: the replay folder's when KRX_NEWS_REPLAY_DIR is set."""
    krx = settings.market("krx")
    feeds, top_n = dict(krx.news_rss_feeds), krx.news_top_n
    if krx.news_replay_dir:
        return ReplayNewsReader(project_path(Path(krx.news_replay_dir)), feeds, top_n)
    secret = krx.naver_client_secret.get_secret_value() if krx.naver_client_secret else None
    reader = KrxNewsReader(krx.naver_client_id, secret, feeds, top_n, krx.request_timeout_seconds,
                           naver_url=krx.news_naver_url)
    reader.max_attempts, reader.backoff_seconds = krx.max_attempts, krx.retry_backoff_seconds
    return reader
