"""KRX's own answer shape (OutBlock_1 rows), shared by the Open API and the data site that pykrx reads."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from lib.errors import BadDataError, EmptyAnswerError
from lib.markets.krx.source_base import COLUMNS, Query, number

FIELDS = {
    "open": "TDD_OPNPRC",
    "high": "TDD_HGPRC",
    "low": "TDD_LWPRC",
    "close": "TDD_CLSPRC",
    "volume": "ACC_TRDVOL",
    "value": "ACC_TRDVAL",
    "market_cap": "MKTCAP",
    "shares": "LIST_SHRS",
}


# FLUC_TP_CD, the sign of the day's change on the data site: 1 up, 2 down, 3 unchanged, 4 upper limit, 5 lower
# limit, 0 no trade (a halted issue). The Open API sends no code: the sign is in CMPPREVDD_PRC itself.
FALLING = ("2", "5")
RISING = ("1", "4")


def base_price(row: dict[str, Any]) -> float:
    """KRX's base price of the day (기준가): the close minus the change against it (CMPPREVDD_PRC, signed by
    FLUC_TP_CD when sent). NaN when the row does not carry the change, or when its rate (FLUC_RT, two
    decimals) disagrees with it: a base price we cannot trust is left unknown rather than guessed."""
    if row.get("CMPPREVDD_PRC") in (None, ""):
        return math.nan
    close = number(row.get(FIELDS["close"]))
    change = number(row["CMPPREVDD_PRC"])
    code = str(row.get("FLUC_TP_CD") or "").strip()
    rate = number(row["FLUC_RT"]) if row.get("FLUC_RT") not in (None, "") else math.nan
    if code in FALLING:
        change = -abs(change)
    elif code in RISING:
        change = abs(change)
    elif not code and change > 0 and rate < 0:
        change = -change  # an unsigned change: FLUC_RT carries the sign
    base = close - change
    if not close > 0 or not base > 0:
        return math.nan
    if not math.isnan(rate) and abs(round(change / base * 100, 2) - rate) > 0.015:
        return math.nan
    return base


def _short_code(row: dict[str, Any]) -> str:
    # The data site sends ISU_SRT_CD; the Open API sends the short code in ISU_CD (an ISIN elsewhere).
    code = str(row.get("ISU_SRT_CD") or row.get("ISU_CD") or "").strip()
    if len(code) == 12 and code.startswith("KR"):
        code = code[3:9]
    return code


def outblock_rows(payload: Any, where: str) -> list[dict[str, Any]]:
    """The OutBlock_1 list of a decoded KRX answer, or a BadData/Empty error saying what came instead."""
    if not isinstance(payload, dict):
        raise BadDataError(f"{where}: answer is {type(payload).__name__}, not a JSON object")
    rows = payload.get("OutBlock_1")
    if rows is None:
        keys = ", ".join(sorted(payload)[:5])
        raise BadDataError(f"{where}: answer has no OutBlock_1 (keys: {keys or 'none'})")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadDataError(f"{where}: OutBlock_1 is not a list of records")
    if not rows:
        raise EmptyAnswerError(f"{where}: OutBlock_1 is empty")
    return rows


def normalise_outblock(rows: list[dict[str, Any]], query: Query, where: str) -> pd.DataFrame:
    """OutBlock_1 records to the normalised schema (pure). An answer stamped with another day (BAS_DD, as the
    Open API sends it) is refused, so a neighbouring session can never be stored under this date."""
    stamped = {str(row["BAS_DD"]) for row in rows if row.get("BAS_DD")}
    wanted = query.day.strftime("%Y%m%d")
    if stamped and stamped != {wanted}:
        raise BadDataError(f"{where}: the answer is for {','.join(sorted(stamped))}, not {wanted}")
    records = []
    for row in rows:
        try:
            record = {column: number(row.get(field)) for column, field in FIELDS.items()}
        except ValueError as exc:
            raise BadDataError(f"{where}: unreadable number for {_short_code(row) or '?'}: {exc}") from None
        if any(row.get(FIELDS[c]) is None for c in ("open", "high", "low", "close", "volume")):
            raise BadDataError(f"{where}: record for {_short_code(row) or '?'} lacks price fields")
        try:
            record["base_price"] = base_price(row)
        except ValueError:
            record["base_price"] = math.nan  # an unreadable change is an unknown base, not a broken answer
        record["ticker"] = _short_code(row)
        record["name"] = str(row.get("ISU_ABBRV") or row.get("ISU_NM") or "").strip()
        record["market"] = query.market
        records.append(record)
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))
