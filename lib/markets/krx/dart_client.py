"""A thin OpenDART client on `requests`: the company-code map (`corpCode.xml`, a ZIP holding CORPCODE.xml) and
the filings list (`list.json`) of one day, paged. OpenDART answers HTTP 200 with its own `status` code; each code
becomes the pipeline's error (lib/errors.py). The key travels as the `crtfc_key` query parameter, so every
message this module raises has it replaced: it is never in a log line, an exception or a stored error.

The parsing functions are pure and shared with the replay source (lib/markets/krx/dart.py)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from typing import Any
from xml.etree import ElementTree

import requests

from lib.errors import BadDataError, RateLimitedError, SourceBlockedError, SourceError, TransientSourceError
from lib.spine.http import http_get

PAGE_COUNT = 100  # OpenDART's most rows per page
TIMEOUT = (10.0, 30.0)  # seconds to connect, to read a list page
CORP_TIMEOUT = (10.0, 120.0)  # the ZIP is about 3.6 MB
REDACTED = "<DART_API_KEY>"

# Status codes (https://opendart.fss.or.kr/guide/detail.do?apiGrpCd=DS001&apiId=2019001).
OK, NO_DATA, LIMIT, MAINTENANCE = "000", "013", "020", "800"
REFUSED = {"010": "the key is not registered", "011": "the key is not usable (suspended)",
           "012": "this IP address is not allowed for the key", "901": "the key has expired (personal data period)"}


class DailyLimitError(SourceError):
    """OpenDART's request limit for the day (status 020): retrying in a minute cannot help, so the run stops
    (exit 1, not retried within the run) and the next run resumes from the stored watermark."""


def check_status(answer: dict[str, Any], what: str) -> bool:
    """Raise the pipeline's error for a failed OpenDART answer; True when it has data, False for 013 (none)."""
    status, message = str(answer.get("status", "")), str(answer.get("message", ""))
    if status == OK:
        return True
    if status == NO_DATA:
        return False
    if status in REFUSED:
        raise SourceBlockedError(f"OpenDART refused {what}: status {status} ({REFUSED[status]}): check "
                                 "DART_API_KEY at opendart.fss.or.kr")
    if status == LIMIT:
        raise DailyLimitError(f"OpenDART's request limit is reached (status 020) during {what}; the next run "
                              "resumes from the stored watermark")
    if status == MAINTENANCE:
        raise TransientSourceError(f"OpenDART is under maintenance (status 800) during {what}; try again later")
    if status == "900":
        raise TransientSourceError(f"OpenDART had an undefined error (status 900) during {what}: {message}")
    raise BadDataError(f"OpenDART answered {what} with status {status!r}: {message or 'no message'}")


def parse_list(answer: Any, what: str) -> dict[str, Any]:
    """A list.json answer as {rows, page_no, total_page, total_count}; 013 is an empty page."""
    if not isinstance(answer, dict):
        raise BadDataError(f"OpenDART answered {what} with {type(answer).__name__}, not a JSON object")
    if not check_status(answer, what):
        return {"rows": [], "page_no": 1, "total_page": 1, "total_count": 0}
    rows = answer.get("list")
    try:
        page_no, total_page = int(answer["page_no"]), int(answer["total_page"])
        total_count = int(answer.get("total_count", len(rows or [])))
    except (KeyError, TypeError, ValueError):
        raise BadDataError(f"OpenDART answered {what} without page_no/total_page") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadDataError(f"OpenDART answered {what} without a list of rows")
    return {"rows": rows, "page_no": page_no, "total_page": total_page, "total_count": total_count}


def parse_corp_codes(xml: bytes) -> list[dict[str, str]]:
    """CORPCODE.xml's listed companies: stock_code, corp_code, name, eng_name, modify_date (an unlisted company,
    stock_code blank or " ", is left out)."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise BadDataError(f"OpenDART's CORPCODE.xml is not XML: {exc}") from None
    found = []
    for item in root.iter("list"):
        field = {child.tag: (child.text or "").strip() for child in item}
        if field.get("stock_code") and field.get("corp_code"):
            found.append({"stock_code": field["stock_code"], "corp_code": field["corp_code"],
                          "name": field.get("corp_name", ""), "eng_name": field.get("corp_eng_name", ""),
                          "modify_date": field.get("modify_date", "")})
    if not found:
        raise BadDataError("OpenDART's CORPCODE.xml lists no listed company")
    return found


def unzip_corp_codes(content: bytes) -> bytes:
    """CORPCODE.xml out of corpCode.xml's ZIP; an error answer comes as JSON or XML instead of a ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            name = next((n for n in archive.namelist() if n.upper().endswith(".XML")), None)
            if name is None:
                raise BadDataError("OpenDART's corpCode.xml ZIP holds no XML file")
            return archive.read(name)
    except zipfile.BadZipFile:
        pass
    try:
        root = ElementTree.fromstring(content)
        answer = {"status": root.findtext("status"), "message": root.findtext("message")}
    except ElementTree.ParseError:
        answer = {"status": "?", "message": content[:80].decode("utf-8", "replace")}
    check_status(answer, "the company-code download")
    raise BadDataError("OpenDART's corpCode.xml answer is neither a ZIP nor an error")


class _Redacting(logging.Filter):
    """Replaces the key in urllib3's own log lines (its DEBUG line names each request's URL, query included)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.secret in text:
            record.msg, record.args = text.replace(self.secret, REDACTED), ()
        return True


def _redact_urllib3(secret: str) -> None:
    """Install the filter once per key on the logger that writes request URLs."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _Redacting) and f.secret == secret for f in logger.filters):
        logger.addFilter(_Redacting(secret))


class OpenDartClient:
    """OpenDART over HTTP: `corp_codes()` and `list_day(day, page_no)`, with timeouts and the key redacted."""

    def __init__(self, key: str, base_url: str, session: requests.Session | None = None) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if key:
            _redact_urllib3(key)

    def redact(self, text: str) -> str:
        """The text with the key replaced (requests puts the whole URL in its errors)."""
        return text.replace(self.key, REDACTED) if self.key else text

    def _get(self, path: str, params: dict[str, Any], timeout: tuple[float, float], what: str) -> requests.Response:
        response = http_get(self.session, f"{self.base_url}/{path}", f"OpenDART {what}", timeout, self.redact,
                            params={"crtfc_key": self.key, **params})
        code = response.status_code
        if code == 429:
            raise RateLimitedError(f"OpenDART answered {what} with HTTP 429 (too many requests)")
        if code >= 500:
            raise TransientSourceError(f"OpenDART answered {what} with HTTP {code}")
        if code >= 400:
            raise BadDataError(f"OpenDART answered {what} with HTTP {code}")
        return response

    def corp_codes(self) -> list[dict[str, str]]:
        """The listed companies of CORPCODE.xml (see parse_corp_codes)."""
        response = self._get("corpCode.xml", {}, CORP_TIMEOUT, "the company-code download")
        return parse_corp_codes(unzip_corp_codes(response.content))

    def list_day(self, day: dt.date, page_no: int) -> dict[str, Any]:
        """One page of the whole market's filings received on `day`, oldest first (see parse_list)."""
        what = f"the filings of {day} (page {page_no})"
        response = self._get("list.json", {"bgn_de": f"{day:%Y%m%d}", "end_de": f"{day:%Y%m%d}",
                                           "page_no": page_no, "page_count": PAGE_COUNT, "sort": "date",
                                           "sort_mth": "asc"}, TIMEOUT, what)
        try:
            answer = response.json()
        except ValueError:
            raise BadDataError(f"OpenDART answered {what} with something that is not JSON") from None
        return parse_list(answer, what)
