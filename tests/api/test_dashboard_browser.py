"""The dashboard in a real browser (Debian's headless Chromium) against the demo data, asserting what a person
sees: health per market, a strategy's picks and track record, a drawn stock chart, the US period selector.
Screenshots go to test-artifacts/. Skipped where Chromium is not installed, failed instead under REQUIRE_BROWSER=1
(CI); see tests/browser.py."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import mongomock_ng
import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from api.app import create_app
from lib.config import load_settings
from lib.context.items import article_key
from lib.log import KST
from lib.spine.calendar import TradingCalendar
from lib.spine.watermark import Item, Mark, Page
from lib.spine.watermark_page import store_page
from lib.storage import Storage
from tests.api.conftest import KEY
from tests.browser import chromium, live_server, require_browser, screenshot, wait_for
from tests.conftest import FIXTURES, PANEL, US_SAMPLE, FakeClock, isolated_env
from tests.helpers import evening, new_york, run_analysis, run_collection, run_etf, run_rebalance
from tests.llm_fakes import fake_model, reply
from tests.predictions_data import CONSTANT, FUTURE, leaderboard_row, store_leaderboard
from tests.us_detail import collected_store

KRX_DAY = dt.date(2025, 6, 16)  # the demo's last KRX day
US_DAY = dt.date(2025, 9, 12)
# The app's clock: the evening of the demo's last KRX day, after its analysis (as the demo serves it).
NOW = dt.datetime.combine(KRX_DAY, dt.time(21, 0), tzinfo=KST)
ANALYSED = "000660"  # the first pick of bollinger_breakout on the day: an LLM analysis is stored for it
ANALYSIS = {"trend": "up", "summary": "Closed above the upper band on rising volume.", "support": 230000,
            "resistance": 250000, "signals": ["close above bb_upper"], "confidence": 0.6}
HOSTILE = '<img src=x onerror="window.__pwned=1">'
HANGUL = re.compile("[\uac00-\ud7a3]")
LOADED = ("[...document.querySelectorAll('main > section')]"
          ".every(s => s.dataset.state && s.dataset.state !== 'loading')")
# Pixels of the candle colours (red up, blue down) in the stock chart's canvases: the chart really drew.
CANDLE_PIXELS = """
let hits = 0;
for (const canvas of document.querySelectorAll('#stock-chart canvas')) {
  if (!canvas.width || !canvas.height) continue;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if ((Math.abs(r - 211) < 8 && Math.abs(g - 47) < 8 && Math.abs(b - 47) < 8) ||
        (Math.abs(r - 21) < 8 && Math.abs(g - 101) < 8 && Math.abs(b - 192) < 8)) hits++;
  }
}
return hits;
"""

# Per track-record row: the universe's bar lies wholly below the picks' bar (two lanes), both drawn.
LANES = """return [...document.querySelectorAll('#track-chart .bar-row')].map(r => {
  const [u, s] = [r.querySelector('.universe'), r.querySelector('.strategy')].map(e => e.getBoundingClientRect());
  return u.top >= s.bottom && u.height > 0 && s.height > 0; })"""
# Every rise and fall the selector finds (outside bar charts): [where, is a rise, its computed colour].
SIGN_COLOURS = """return [...document.querySelectorAll(arguments[0])].filter(e => !e.closest('.bar-row'))
  .map(e => [e.closest('table, p, div[id], ul[id]').id, e.classList.contains('up'), getComputedStyle(e).color])"""


def texts(browser, selector: str) -> list[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)", selector)


def _context_items() -> dict[str, list[Item]]:
    """What the collectors store for the shown stock (000660) and the macro strip. Test-only stand-ins restating
    real facts: SK hynix's first-quarter 2025 preliminary results filed 2025-04-24 and the press's reports of them;
    US CPI up 2.3 % and 2.4 % from a year before in April and May 2025 (BLS, published 2025-05-13 and 06-11); the
    effective federal funds rate at 4.33 %. The receipt numbers and links are made up, and two items are hostile
    on purpose: markup as a title and `javascript:` as a link must reach the page as text."""

    def kst(day: dt.date, hour: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=KST)

    def filing(key: str, day: dt.date, title: str, flags: str, url: str) -> Item:
        return Item(key, kst(day), {
            "ticker": ANALYSED, "company": "SK하이닉스", "title": title, "filer": "SK하이닉스", "flags": flags,
            "url": url, "source": "dart", "corp_code": "00164779"}, kst(day + dt.timedelta(days=1)))

    def article(at: dt.datetime, title: str, url: str, publisher: str, feed: str) -> Item:
        return Item(article_key(ANALYSED, url), at, {
            "ticker": ANALYSED, "title": title, "snippet": "", "url": url, "publisher": publisher, "feed": feed,
            "lang": "ko"}, at)

    def observation(series: str, name: str, day: dt.date, value: float, known: dt.datetime) -> Item:
        return Item(f"{series}:{day}", dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC), {
            "series": series, "name": name, "value": value, "unit": "%", "frequency": "monthly", "source": "fred"},
            known)

    results = "연결재무제표기준영업(잠정)실적(공정공시)"
    headline = "SK하이닉스, 1분기 영업이익 7.4조…HBM 효과"
    return {
        "krx.disclosures": [
            filing("20250424800001", dt.date(2025, 4, 24), results, "유",
                   "https://dart.fss.or.kr/dsaf001/main.do?rcpNo=20250424800001"),
            filing("20250614000001", dt.date(2025, 6, 14), HOSTILE, "정", "javascript:window.__pwned=2"),
        ],
        "krx.news": [
            article(kst(dt.date(2025, 6, 13), 8), headline, "https://www.hankyung.com/article/2025061300001",
                    "한국경제", "hankyung"),
            article(kst(dt.date(2025, 6, 13), 9), f"[종합] {headline}", "https://www.mk.co.kr/news/stock/11340001",
                    "매일경제", "maeil"),
            article(kst(dt.date(2025, 6, 15), 9), HOSTILE, "javascript:window.__pwned=3", "evil", "naver"),
        ],
        "us.macro": [
            observation("CPIAUCSL", "US CPI, % change from a year ago", dt.date(2025, 4, 1), 2.3,
                        dt.datetime(2025, 5, 13, 12, 30, tzinfo=dt.UTC)),
            observation("CPIAUCSL", "US CPI, % change from a year ago", dt.date(2025, 5, 1), 2.4,
                        dt.datetime(2025, 6, 11, 12, 30, tzinfo=dt.UTC)),
        ],
    }


def store_context(storage: Storage) -> None:
    """Store the context items as the collectors do (a page each), move each dataset's watermark and record its
    job's run (what lists it in the health table of an install without MARKETS)."""
    as_of = NOW.astimezone(dt.UTC)
    for dataset, items in _context_items().items():
        store_page(storage, dataset, Page(tuple(items), Mark()), lambda _item: None, as_of, dataset == "us.macro")
        storage.watermarks.save_watermark(dataset, max(i.known_at or i.at for i in items), None, as_of)
        job, started = dataset.replace(".", "_"), dt.datetime(2025, 6, 16, 10, 0)
        storage.jobs.start_run(f"{job}-1", {"job_name": job, "status": "running", "start_time_utc": started})
        storage.jobs.finish_run(f"{job}-1", {"status": "completed", "end_time_utc": started})


def settings_for_demo_data():
    return load_settings(
        env_file=None, api_keys=KEY, google_api_key="g-key", mongodb_uri="mongomock://", krx_sources=["replay"],
        krx_replay_path=PANEL,
        krx_min_request_gap_seconds=0, krx_retry_backoff_seconds=0, setup_history_sessions=150,
        analysis_quota_per_run=5000, us_sources=["replay"], us_replay_dir=US_SAMPLE, us_min_request_gap_seconds=0,
        us_first_run_sessions=25,
    )


@pytest.fixture(scope="module")
def demo_site():
    """The demo's pipeline on 23 of its stocks (150 sessions to its last day) and its US data (25 sessions to
    2025-08-29, the August rebalance, a catch-up to 2025-09-12), served on a free port."""
    require_browser()  # before the minute of setup
    settings = settings_for_demo_data()
    storage = Storage(mongomock_ng.MongoClient(), prefix="dash_")
    clock = FakeClock(dt.datetime(2025, 6, 16, 10, 0, tzinfo=dt.UTC))
    assert run_collection("manual_setup", storage, settings, evening(KRX_DAY), clock) == 0
    assert run_analysis(storage, settings, evening(KRX_DAY, 20), clock) == 0
    assert run_etf(storage, settings, new_york(dt.date(2025, 8, 29)), clock) == 0
    assert run_rebalance(storage, settings, new_york(dt.date(2025, 8, 31), 10), clock) == 0
    assert run_etf(storage, settings, new_york(US_DAY), clock) == 0
    store_context(storage)
    app = create_app(settings, storage=storage, clock=lambda: NOW, llm_factory=lambda _settings, _spec: fake_model(
        reply({**ANALYSIS, "ticker": ANALYSED})))
    with live_server(app) as url:
        answer = httpx.post(f"{url}/ai/analysis", json={"prompt": "technical_summary", "tickers": [ANALYSED]},
                            headers={"X-API-Key": KEY}, timeout=30)
        assert answer.status_code == 200, answer.text
        yield url


def open_dashboard(browser, url: str) -> None:
    browser.get(f"{url}/dashboard")
    wait_for(browser, LOADED, what="every section of the page loaded")


def test_a_person_sees_health_picks_a_drawn_chart_and_the_period_selector_at_work(demo_site):
    with chromium(1280, 900) as browser:
        open_dashboard(browser, demo_site)
        markets = {m.split("\n")[0]: m for m in texts(browser, "#markets tbody tr")}
        assert "2025-06-16" in markets["KRX (KOSPI, KOSDAQ)"] and "2025-09-12" in markets["US ETFs (XNYS)"]
        jobs = browser.execute_script("return [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)")
        assert {"manual_setup", "hourly_analysis", "etf_pipeline", "monthly_rebalance"} <= set(jobs)

        # the screener: a strategy that fires on the day, chosen as a person would
        Select(browser.find_element(By.ID, "strategy")).select_by_value("bollinger_breakout")
        wait_for(browser, "document.querySelector('#picks-title').innerText.includes('bollinger_breakout')")
        wait_for(browser, "document.querySelector('#screener').dataset.state === 'ready'")
        picks = texts(browser, "#picks tbody tr[data-ticker]")
        assert len(picks) == 2 and all(HANGUL.search(p) for p in picks), picks
        assert all(re.search(r"\d{1,3}(,\d{3})+", p) for p in picks), "each pick shows its close in KRW"
        assert "on 2025-06-16" in browser.find_element(By.ID, "picks-title").text
        described = browser.find_element(By.ID, "strategy-description").text
        assert described.endswith("Score: how far the close is above the upper band, in % of the band."), described
        track = texts(browser, "#track tbody tr")
        assert [t.split("\t")[0] for t in track] == ["5d", "10d", "20d"]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#track-chart .bar-row span.strategy")) == 3
        # the picks' bar and the universe's lie in separate lanes: the smaller one is never hidden
        lanes = browser.execute_script(LANES)
        assert lanes == [True, True, True]

        # one stock: clicking a pick draws its chart
        first = browser.find_element(By.CSS_SELECTOR, "#picks tbody tr[data-ticker]")
        ticker = first.get_attribute("data-ticker")
        first.click()
        wait_for(browser, f"document.querySelector('#stock-input').value === '{ticker}'")
        wait_for(browser, "document.querySelector('#stock').dataset.state === 'ready'")
        assert ticker in browser.find_element(By.ID, "stock-head").text
        assert int(browser.find_element(By.ID, "stock-chart").get_attribute("data-candles")) > 100
        assert browser.execute_script(CANDLE_PIXELS) > 500, "the candlesticks are drawn"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#stock-chart canvas")) >= 6  # three panes
        assert ticker == ANALYSED
        analysis = browser.find_element(By.CSS_SELECTOR, "#ai .card").text
        assert "technical_summary" in analysis and ANALYSIS["summary"] in analysis and "data of 2025-06-16" in analysis

        # the US period selector changes the portfolio
        assert "20-session portfolio of 2025-09-12" in browser.find_element(By.ID, "portfolio-title").text
        shown = {}
        for period, title in (("5", "5-session portfolio of 2025-09-12"), ("10", "10-session portfolio"),
                              ("monthly", "Monthly portfolio of 2025-08")):
            browser.find_element(By.CSS_SELECTOR, f"#period button[data-period='{period}']").click()
            wait_for(browser, f"document.querySelector('#portfolio').dataset.period === '{period}' && "
                              "document.querySelector('#etf').dataset.state === 'ready'")
            assert title in browser.find_element(By.ID, "portfolio-title").text
            shown[period] = texts(browser, "#portfolio tbody tr")
            assert shown[period] and all("%" in row for row in shown[period])
            pressed = browser.find_element(By.CSS_SELECTOR, "#period button[aria-pressed='true']")
            assert pressed.get_attribute("data-period") == period
        assert shown["5"] != shown["monthly"]
        # the bundled sector funds' holdings are of 2025-11: the monthly portfolio is marked look-ahead, with its
        # concentration, and the past portfolios count only those known on their day unless asked
        marks = browser.find_element(By.ID, "portfolio-marks").text
        assert "look-ahead" in marks and "Not a result" in marks and "effective number of holdings" in marks
        # a count of 1,000 or more is written with thousands separators, as everywhere else on the page
        note = browser.find_element(By.ID, "track-note").text
        assert "days old" in marks and not re.findall(r"(?<![\d,.-])\d{4,}(?![\d-])", marks + note), (marks, note)
        summary = browser.find_element(By.ID, "history-summary").text
        assert "left out: built from holdings not known on their day" in summary
        assert "No past portfolio built from holdings known on its day" in texts(browser, "#history tbody tr")[0]
        browser.find_element(By.ID, "history-lookahead").click()
        wait_for(browser, "[...document.querySelectorAll('#history tbody tr')]"
                          ".some(r => r.innerText.includes('look-ahead')) && "
                          "document.querySelector('#etf').dataset.state === 'ready'")
        assert int(browser.find_element(By.ID, "history-chart").get_attribute("data-points")) >= 1
        first = texts(browser, "#history tbody tr")[0]
        assert first.startswith("2025-08") and "look-ahead" in first
        assert re.search(r"2025-08-29 → 2025-09-12 \(9 session\(s\)\)", first), first  # a count says what it counts
        assert "Look-ahead portfolios included (not a result)" in browser.find_element(By.ID, "history-summary").text
        legend = browser.find_element(By.ID, "history-legend").text
        assert re.search(r"portfolio [+-]\d+\.\d\d%.*SPY [+-]\d+\.\d\d%.*excess over SPY \(bars\) [+-]\d", legend, re.S)

        # one colour convention on the whole page (Korean by default), with its legend
        assert "▲ red = up" in browser.find_element(By.ID, "colour-legend").text
        assert not browser.find_elements(By.CSS_SELECTOR, ".gain, .loss")
        colours = browser.execute_script(SIGN_COLOURS, "main td.up, main td.down, main span.up, main span.down")
        places = {where for where, _, _ in colours}
        assert {"picks", "track", "trending", "history", "macro-strip"} <= places, places
        assert {rgb for _, up, rgb in colours if up} == {"rgb(211, 47, 47)"}
        assert {rgb for _, up, rgb in colours if not up} == {"rgb(21, 101, 192)"}

        # everything came from this server, and nothing went wrong in the page
        assert not re.search(r"\b(null|undefined|NaN)\b", browser.find_element(By.TAG_NAME, "main").text)
        origins = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
        assert set(origins) == {demo_site}
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        screenshot(browser, "dashboard-desktop.png")


def test_the_stock_panel_lists_its_filings_and_news_as_text_marks_the_filings_and_the_macro_strip_shows(demo_site):
    with chromium(1280, 900) as browser:
        browser.get(f"{demo_site}/dashboard?ticker={ANALYSED}")
        wait_for(browser, LOADED, what="every section of the page loaded")
        wait_for(browser, "document.querySelector('#stock-chart').dataset.filingMarks", what="the filings marked")
        filings = texts(browser, "#filings li")
        assert len(filings) == 2, filings
        assert filings[0].startswith("2025-06-14") and HOSTILE in filings[0] and "정 corrected" in filings[0]
        assert filings[1].startswith("2025-04-24 연결재무제표기준영업(잠정)실적(공정공시)") and "유 KOSPI" in filings[1]
        link = browser.find_element(By.CSS_SELECTOR, "#filings li[data-id='20250424800001'] a")
        assert link.get_attribute("href") == "https://dart.fss.or.kr/dsaf001/main.do?rcpNo=20250424800001"
        assert (link.get_attribute("target"), link.get_attribute("rel")) == ("_blank", "noopener noreferrer")
        # a filing on Saturday 2025-06-14 is marked on the next session; the results on their own day
        assert browser.find_element(By.ID, "stock-chart").get_attribute("data-filing-marks") == "2"

        stories = texts(browser, "#news li")
        assert len(stories) == 2 and HOSTILE in stories[0], stories
        assert stories[1].startswith("2025-06-13 08:00 SK하이닉스, 1분기 영업이익 7.4조…HBM 효과")
        assert "2 sources: 한국경제 (hankyung) · 매일경제 (maeil)" in stories[1]
        sources = browser.find_elements(By.CSS_SELECTOR, "#news li:nth-child(2) .sub a")
        assert [a.get_attribute("href") for a in sources] == [
            "https://www.hankyung.com/article/2025061300001", "https://www.mk.co.kr/news/stock/11340001"]

        # outside text is text: no element made from a title, no link from a javascript: URL, nothing ran
        assert not browser.find_elements(By.CSS_SELECTOR, "#filings img, #news img, #macro img")
        links = browser.find_elements(By.CSS_SELECTOR, "#filings a, #news a")
        assert links and all(a.get_attribute("href").startswith("https://") for a in links)
        assert all(a.get_attribute("rel") == "noopener noreferrer" for a in links)
        assert browser.execute_script("return window.__pwned === undefined")

        cpi = browser.find_element(By.CSS_SELECTOR, "#macro-strip li[data-series='CPIAUCSL']").text
        assert cpi == "US CPI, % change from a year ago 2.40% +0.10 pp on 2025-05-01", cpi
        assert "known at 2025-06-16 23:59 KST" in browser.find_element(By.ID, "macro-note").text
        news = browser.find_element(By.CSS_SELECTOR, "#watermarks tr[data-dataset='krx.news']").text
        assert "2025-06-15 09:00" in news, news
        screenshot(browser, "dashboard-context.png")

        # another stock, with nothing filed or reported: its lists say so, and how far each dataset has read
        field = browser.find_element(By.ID, "stock-input")
        field.clear()
        field.send_keys("005930")
        browser.find_element(By.CSS_SELECTOR, "#stock-form button").click()
        wait_for(browser, "document.querySelector('#stock-head').innerText.includes('005930') && "
                          "document.querySelector('#filings').dataset.count === '0'")
        empty = browser.find_element(By.ID, "filings").text
        assert empty.startswith("No filings of this stock since 2024-") and "read through 2025-06-15 00:00 KST" in empty
        assert "No news of this stock in the last 30 days" in browser.find_element(By.ID, "news").text
        assert browser.find_element(By.ID, "stock-chart").get_attribute("data-filing-marks") == "0"
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []


def test_the_sector_view_lists_every_sector_and_shows_a_chosen_one_s_members_and_top_holdings(demo_site):
    with chromium(1280, 900) as browser:
        open_dashboard(browser, demo_site)
        rows = browser.find_elements(By.CSS_SELECTOR, "#sectors-table tbody tr[data-sector]")
        assert len(rows) == 10 and "2025-09-12" in browser.find_element(By.ID, "sectors-title").text
        # the first sector is shown: QQQ's top holdings from its 2022 snapshot, with the five together
        wait_for(browser, "document.querySelector('#sector-title').innerText.includes('Technology (QQQ)')")
        holdings = browser.execute_script(
            "return [...document.querySelectorAll('#sector-holdings tbody tr')].map(r => r.dataset.holding)")
        assert holdings[-1] == "TOP5" and len(holdings) == 6, holdings
        assert "over 20 sessions" in browser.find_element(By.ID, "sector-holdings-note").text
        Select(browser.find_element(By.ID, "sector-period")).select_by_value("5")
        wait_for(browser, "document.querySelector('#sector-holdings-note').innerText.includes('over 5 sessions')")
        # choosing another sector as a person would: its name is a button
        button = browser.find_element(By.CSS_SELECTOR, "#sectors-table tr[data-sector='financial'] button")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        wait_for(browser, "document.querySelector('#sector-title').innerText.includes('Financial (XLF)')")
        assert "chosen" in browser.find_element(By.CSS_SELECTOR, "tr[data-sector='financial']").get_attribute("class")
        assert "dated after it" in browser.find_element(By.ID, "sector-holdings").text
        assert not [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#sectors .error") if e.is_displayed()]
        screenshot(browser, "dashboard-sectors.png")


def test_the_page_fits_a_phone_screen(demo_site):
    with chromium(390, 844, mobile=True) as browser:
        open_dashboard(browser, demo_site)
        assert browser.execute_script("return window.innerWidth") == 390
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        chart = browser.find_element(By.ID, "stock-chart")
        assert 300 <= chart.size["width"] <= 390 and browser.execute_script(CANDLE_PIXELS) > 200
        assert HANGUL.search(browser.find_element(By.ID, "stock-head").text)
        screenshot(browser, "dashboard-phone.png")


def test_a_failed_job_and_a_market_with_nothing_collected_show_in_red():
    require_browser()
    settings = settings_for_demo_data()
    storage = Storage(mongomock_ng.MongoClient(), prefix="failed_")
    started = dt.datetime(2025, 6, 16, 10, 0)
    storage.jobs.start_run("run-1", {"job_name": "daily_update", "status": "running", "start_time_utc": started})
    storage.jobs.finish_run("run-1", {"status": "failed", "end_time_utc": started + dt.timedelta(seconds=3),
                                 "error": "krx_openapi: HTTP 401 (blocked)"})
    # A run dated by the real clock, after the app's (a replay such as the demo sets the app's clock back).
    real = dt.datetime(2026, 12, 5, 17, 0)
    storage.jobs.start_run("run-2", {"job_name": "cleanup", "status": "running", "start_time_utc": real})
    storage.jobs.finish_run("run-2", {"status": "completed", "end_time_utc": real + dt.timedelta(seconds=1)})
    with live_server(create_app(settings, storage=storage, clock=lambda: NOW)) as url, chromium() as browser:
        open_dashboard(browser, url)
        job = browser.find_element(By.CSS_SELECTOR, "#jobs tr[data-job='daily_update']")
        assert "failed" in job.text and "HTTP 401" in job.text
        market = browser.find_element(By.CSS_SELECTOR, "#markets tr[data-market='daily_update']")
        assert "nothing collected yet" in market.text
        # The US market, never set up and not in MARKETS, is listed as such, not as a problem.
        us = browser.find_element(By.CSS_SELECTOR, "#markets tr[data-market='etf_pipeline']")
        assert "not set up" in us.text and "bad" not in us.get_attribute("class")
        for row in (job, market):
            assert "bad" in row.get_attribute("class")
            assert row.value_of_css_property("color") == "rgba(198, 40, 40, 1)"  # the page's red
        assert "failed" in browser.find_element(By.ID, "attention").text
        as_of = browser.find_element(By.ID, "health-asof").text
        assert as_of.startswith("Sessions counted up to 2025-06-16 21:00 KST (the server's clock).")
        assert "The job runs below are dated by the real clock, after that" in as_of
        assert "nothing is analysed yet" in browser.find_element(By.CSS_SELECTOR, "#picks tbody td.error").text
        # no model predicts on this install: the leaderboard says what to set, not an error
        empty = browser.find_element(By.CSS_SELECTOR, "#leaderboard-table tbody td.empty").text
        assert empty.startswith("no prediction scored yet: set AI_PREDICT_MODELS")
        assert not browser.find_element(By.ID, "calibration-block").is_displayed()


HOSTILE = "gemini:<img src=x onerror=\"document.title='pwned'\">"


def test_the_leaderboard_shows_ranked_and_greyed_rows_a_calibration_chart_per_model_and_names_as_text():
    require_browser()
    storage = Storage(mongomock_ng.MongoClient(), prefix="board_")
    days = [dt.date(2024, 11, 25), dt.date(2024, 11, 26), dt.date(2024, 11, 27), dt.date(2024, 11, 28),
            dt.date(2024, 11, 29)]
    store_leaderboard(storage, dt.datetime(2024, 12, 20, 11, 0), days)
    # a stored model name that is markup (a provider's or a typo'd setting's): shown as text, never run
    hostile = {**leaderboard_row(FUTURE, 5, 0, days[:1], 30, None), "_id": "hostile", "model_ref": HOSTILE}
    storage.predictions.leaderboard.insert_one({**hostile, "computed_utc": dt.datetime(2024, 12, 20, 11, 0)})
    with live_server(create_app(settings_for_demo_data(), storage=storage, clock=lambda: NOW)) as url, \
            chromium() as browser:
        open_dashboard(browser, url)
        wait_for(browser, "document.querySelector('#leaderboard').dataset.state === 'ready'")
        rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard-table tbody tr")
        assert [r.get_attribute("data-model") for r in rows] == [FUTURE, CONSTANT, HOSTILE]
        first, second, greyed = rows
        # rank, model, prompt, scored of asked, Brier skill and accuracy with their intervals, IC, cost
        assert first.text.startswith(f"1 {FUTURE} stock_outlook:1 115\nof 117 asked\n+0.84\n+0.84 … +0.84\n"
                                     "100.0%\n100.0% … 100.0%\n+0.87\n"), first.text
        assert first.text.endswith("$0.00085\n1,953 tokens")  # every call's spend (117) per scored (115)
        assert second.text.startswith(f"2 {CONSTANT} stock_outlook:1 115") and "price not set" in second.text
        # the unranked row: greyed, saying why, its name as the very text stored
        assert "unranked" in greyed.get_attribute("class")
        assert "not ranked: 23 scored prediction(s), under AI_LEADERBOARD_MIN_COUNT=30" in greyed.text
        assert greyed.find_element(By.CSS_SELECTOR, ".model").text == HOSTILE
        assert greyed.find_element(By.CSS_SELECTOR, ".model").value_of_css_property("color") == "rgba(93, 102, 117, 1)"
        assert not browser.find_elements(By.CSS_SELECTOR, "#leaderboard img")
        assert browser.title == "Stock pipeline dashboard"

        # a calibration chart per model: the future reader's two bins lie at (0.2, 0) and (0.8, 1), off the
        # diagonal drawn beside them; the constant's one bin at 0.5
        charts = browser.find_elements(By.CSS_SELECTOR, "#calibration figure")
        assert [c.get_attribute("data-model") for c in charts] == [FUTURE, CONSTANT, HOSTILE]
        assert [c.get_attribute("data-bins") for c in charts] == ["2", "1", "2"]
        dots = browser.execute_script(
            "return [...document.querySelectorAll('#calibration figure:first-child circle')]"
            ".map(c => [+c.getAttribute('cx'), +c.getAttribute('cy')])")
        assert dots == [[51.6, 154.0], [128.4, 26.0]]  # x = 26 + p x 128, y = 154 - frequency x 128
        assert len(browser.find_elements(By.CSS_SELECTOR, "#calibration line.diagonal")) == 3
        assert charts[2].find_element(By.TAG_NAME, "figcaption").text.startswith(HOSTILE)

        # the horizon and window selectors
        browser.find_element(By.CSS_SELECTOR, "#lb-horizon button[data-horizon='20']").click()
        wait_for(browser, "document.querySelector('#lb-horizon [aria-pressed=true]').dataset.horizon === '20'")
        assert [r.get_attribute("data-model") for r in
                browser.find_elements(By.CSS_SELECTOR, "#leaderboard-table tbody tr")] == [FUTURE, CONSTANT]
        Select(browser.find_element(By.ID, "lb-window")).select_by_value("30")
        only = browser.find_elements(By.CSS_SELECTOR, "#leaderboard-table tbody tr")
        assert len(only) == 1 and "unranked" in only[0].get_attribute("class")
        Select(browser.find_element(By.ID, "lb-window")).select_by_value("90")
        assert "No row for 20 sessions over last 90 days" in browser.find_element(By.ID, "leaderboard-table").text
        assert not browser.find_element(By.ID, "calibration-block").is_displayed()
        assert not re.search(r"\b(null|undefined|NaN)\b", browser.find_element(By.ID, "leaderboard").text)
        # (nothing is collected here, so the market panels' routes answer 409: only a script error counts)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                  and "Failed to load resource" not in e["message"]]
        assert errors == []
        Select(browser.find_element(By.ID, "lb-window")).select_by_value("0")
        screenshot(browser, "dashboard-leaderboard.png")


def test_a_us_only_install_shows_no_krx_panels_and_its_colours_follow_the_us_convention():
    require_browser()
    settings = settings_for_demo_data().model_copy(update={"dashboard_up_color_convention": "us"})
    storage = Storage(mongomock_ng.MongoClient(), prefix="usonly_")
    clock = FakeClock(dt.datetime(2025, 8, 29, 22, 0, tzinfo=dt.UTC))
    assert run_etf(storage, settings, new_york(dt.date(2025, 8, 29)), clock) == 0
    now = dt.datetime(2025, 8, 30, 9, 0, tzinfo=KST)
    with live_server(create_app(settings, storage=storage, clock=lambda: now)) as url, chromium() as browser:
        open_dashboard(browser, url)
        # KRX is not set up: no screener or stock panel (nor their links), no KRX error shown in red
        for section in ("screener", "stock"):
            assert not browser.find_element(By.ID, section).is_displayed()
            assert not browser.find_element(By.CSS_SELECTOR, f"header nav a[href='#{section}']").is_displayed()
        krx = browser.find_element(By.CSS_SELECTOR, "#markets tr[data-market='daily_update']")
        assert "not set up" in krx.text and "bad" not in krx.get_attribute("class")
        assert not [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error") if e.is_displayed()]
        assert browser.find_element(By.ID, "etf").is_displayed()
        assert "▲ green = up" in browser.find_element(By.ID, "colour-legend").text
        colours = browser.execute_script(SIGN_COLOURS, "#trending td.up, #trending td.down")
        assert {rgb for _, up, rgb in colours if up} == {"rgb(27, 127, 59)"}
        assert {rgb for _, up, rgb in colours if not up} <= {"rgb(198, 40, 40)"}
        screenshot(browser, "dashboard-us-only.png")


@pytest.fixture
def consolidation_csv(tmp_path):
    """079970 (투비소프트, KOSDAQ): halted 2024-07-24..08-20 at 188 KRW, resumed at 1,880 after a 10:1
    consolidation (tests/fixtures/README.md), with three of the demo's stocks, and KRX's base price by its rule
    (the previous close; 188 x 10 on the ex-date) as tests/test_quarantine.py builds it."""
    extra = pd.read_csv(FIXTURES / "krx_079970_2023-12_2024-09.csv", dtype={"ticker": str, "date": str})
    panel = pd.read_parquet(PANEL)
    panel = panel[panel["ticker"].isin(["005930", "014470", "037070"])].assign(date=lambda f: f["date"].astype(str))
    both = pd.concat([panel[panel["date"] <= "2024-09-30"], extra.loc[:, panel.columns]], ignore_index=True)
    both = both.sort_values(["ticker", "date"])
    both["base_price"] = both.groupby("ticker")["close"].shift(1)
    both.loc[(both["ticker"] == "079970") & (both["date"] == "2024-08-21"), "base_price"] = 1_880
    path = tmp_path / "consolidation.csv"
    both.to_csv(path, index=False)
    return path


def test_a_corporate_action_is_marked_and_the_bars_before_it_are_adjusted(consolidation_csv):
    require_browser()
    last = dt.date(2024, 9, 30)
    settings = load_settings(
        env_file=None, mongodb_uri="mongomock://", krx_sources=["replay"], krx_replay_path=consolidation_csv,
        krx_min_request_gap_seconds=0, krx_retry_backoff_seconds=0, setup_history_sessions=80,
        market_cap_threshold_krw=0, analysis_quota_per_run=5000,
    )
    storage = Storage(mongomock_ng.MongoClient(), prefix="actions_")
    clock = FakeClock(dt.datetime(2024, 9, 30, 10, 0, tzinfo=dt.UTC))
    assert run_collection("manual_setup", storage, settings, evening(last), clock) == 0
    assert run_analysis(storage, settings, evening(last, 20), clock) == 0
    now = dt.datetime.combine(last, dt.time(21, 0), tzinfo=KST)
    with live_server(create_app(settings, storage=storage, clock=lambda: now)) as url, chromium() as browser:
        browser.get(f"{url}/dashboard?ticker=079970")
        wait_for(browser, LOADED, what="every section of the page loaded")
        chart = browser.find_element(By.ID, "stock-chart")
        assert chart.get_attribute("data-marks") == "1"  # the ex-date is marked on the candles
        # every session of the window before 2024-08-21 is drawn times 10, as the indicators are computed
        after = TradingCalendar(exchange="XKRX", settings_prefix="KRX").sessions_between(dt.date(2024, 8, 21), last)
        assert int(chart.get_attribute("data-adjusted")) == 80 - len(after)
        assert browser.execute_script(CANDLE_PIXELS) > 200
        rows = texts(browser, "#actions tbody tr")
        assert rows == ["2024-08-21\tadjustment ×10\t₩ 1,880 / ₩ 188\t10.0000"]
        assert "₩ 1,305" in browser.find_element(By.ID, "stock-head").text  # 2024-09-30, as traded
        assert not browser.find_element(By.ID, "market").is_displayed()  # one screened market: no selector
        # nothing collected: each list says what turns it on
        filings = browser.find_element(By.ID, "filings").text
        assert filings.startswith("No filings collected:") and "DART_API_KEY is blank" in filings, filings
        assert "run `python collect.py krx.disclosures`" in filings
        assert "No macro series collected:" in browser.find_element(By.ID, "macro-note").text
        assert not re.search(r"\b(null|undefined|NaN)\b", browser.find_element(By.TAG_NAME, "main").text)
        screenshot(browser, "dashboard-corporate-action.png")



def test_a_us_stock_shows_its_fundamentals_table_and_options_line_as_text():
    require_browser()
    with isolated_env():
        storage = collected_store()
    settings = load_settings(env_file=None, api_keys=KEY, mongodb_uri="mongomock://", us_stocks=True)
    now = dt.datetime(2025, 10, 1, 3, 0, tzinfo=dt.UTC)  # the 2026 reads are not known yet
    with live_server(create_app(settings, storage=storage, clock=lambda: now)) as url, chromium() as browser:
        browser.get(f"{url}/dashboard?ticker=AAPL&market=us")
        wait_for(browser, LOADED, what="every section of the page loaded")
        wait_for(browser, "document.querySelector('#fundamentals-table')", what="the fundamentals table")
        table = browser.find_element(By.ID, "fundamentals-table").text
        assert "Quarter to 2025-06-30" in table and "TTM" not in table  # three quarters known: no TTM
        assert "Revenue $94.0 bn" in table  # AAPL's recorded 2025-06-30 quarter: 94,036 m USD
        line = browser.find_element(By.ID, "options-line").text
        assert line.startswith("Options, session 2025-09-30") and "strike $255.00" in line, line
        assert not re.search(r"\b(null|undefined|NaN)\b", browser.find_element(By.ID, "stock-detail").text)
        screenshot(browser, "dashboard-us-stock-detail.png")
