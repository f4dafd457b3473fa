"""KRX's base price of each day, from its own recorded answers: CMPPREVDD_PRC (the change against the base),
its sign FLUC_TP_CD on the data site, and FLUC_RT. Both the data-site path (pykrx) and the Open API path go
through lib/markets/krx/outblock.py."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from lib.markets.krx.outblock import base_price
from tests.conftest import FIXTURES
from tests.sources.test_krx_openapi import openapi_rows
from tests.sources.test_pykrx_source import fetch

SPLIT_DAYS = FIXTURES / "pykrx_cassettes" / "TestStockOhlcvByDateTest.test_ohlcv_with_not_adjusted.yaml"


@pytest.fixture(scope="module")
def samsung_around_the_split() -> dict[str, dict]:
    """KRX's unadjusted daily rows of 005930, 2018-04-27..05-04 (data site, MDCSTAT01701), by date."""
    cassette = yaml.safe_load(SPLIT_DAYS.read_text())
    rows = json.loads(cassette["interactions"][0]["response"]["body"]["string"])["output"]
    return {row["TRD_DD"]: row for row in rows}


def test_the_split_day_base_price_is_the_previous_close_divided_by_fifty(samsung_around_the_split):
    split = samsung_around_the_split["2018/05/04"]
    assert split["TDD_CLSPRC"] == "51,900" and split["CMPPREVDD_PRC"] == "-1,100"
    assert base_price(split) == 53_000 == 2_650_000 / 50
    # the day before the halt: an ordinary day, whose base is the previous close (2,607,000 on 04-26)
    assert base_price(samsung_around_the_split["2018/04/27"]) == 2_650_000 - 43_000


def test_halted_days_have_the_last_close_as_base(samsung_around_the_split):
    for day in ("2018/04/30", "2018/05/02", "2018/05/03"):
        row = samsung_around_the_split[day]
        assert row["FLUC_TP_CD"] == "0" and row["TDD_OPNPRC"] == "0"
        assert base_price(row) == 2_650_000


def test_an_unsigned_change_takes_its_sign_from_fluc_tp_cd_or_fluc_rt(samsung_around_the_split):
    split = dict(samsung_around_the_split["2018/05/04"], CMPPREVDD_PRC="1,100")  # FLUC_TP_CD 2: falling
    assert base_price(split) == 53_000
    without_code = {k: v for k, v in split.items() if k != "FLUC_TP_CD"}  # the Open API sends no code
    assert base_price(without_code) == 53_000  # FLUC_RT -2.08 says it fell


def test_a_change_that_disagrees_with_its_rate_leaves_the_base_unknown(samsung_around_the_split):
    corrupt = dict(samsung_around_the_split["2018/05/04"], FLUC_RT="-50.00")
    assert pd.isna(base_price(corrupt))
    assert pd.isna(base_price({"TDD_CLSPRC": "51,900"}))  # no change sent: unknown, not the close


@pytest.mark.parametrize("market", ["KOSPI", "KOSDAQ"])
def test_every_row_of_a_recorded_market_day_gets_the_base_its_rate_was_computed_from(market):
    frame = fetch(market)  # 2021-01-22, through PykrxSource, KRX's whole-market table
    assert frame["base_price"].notna().all()
    traded = frame.loc[~frame["halted"]]
    # FLUC_RT is the change against the base, in percent to two decimals
    rate = (traded["close"] / traded["base_price"] - 1) * 100
    assert (rate.round(2) - _rates(market).loc[traded["ticker"]].to_numpy()).abs().max() < 0.011
    if market == "KOSPI":
        aj = frame.set_index("ticker").loc["095570"]
        assert aj["close"] == 4_210 and aj["base_price"] == 4_175  # +35 KRW, FLUC_RT 0.84


def _rates(market: str) -> pd.Series:
    name = "test_ohlcv_for_a_day" if market == "KOSPI" else "test_ohlcv_for_a_day_in_kosdaq"
    cassette = yaml.safe_load((FIXTURES / "pykrx_cassettes" / f"TestStockOhlcvByTickerTest.{name}.yaml").read_text())
    rows = json.loads(cassette["interactions"][0]["response"]["body"]["string"])["OutBlock_1"]
    return pd.Series({r["ISU_SRT_CD"]: float(r["FLUC_RT"]) for r in rows})


def test_the_open_api_shape_without_fluc_tp_cd_gives_the_same_base_as_the_data_site():
    snapshot = pd.read_csv(FIXTURES / "krx_marketcap_snapshot_20210104.csv", dtype=str).set_index("ISU_SRT_CD")
    for market in ("KOSPI", "KOSDAQ"):
        for row in openapi_rows(market):
            assert "FLUC_TP_CD" not in row
            site = snapshot.loc[row["ISU_CD"]].to_dict()
            assert base_price(row) == base_price(site), row["ISU_CD"]


def test_both_sources_normalise_the_base_price_into_the_stored_column():
    import datetime as dt

    from lib.markets.krx.openapi import KrxOpenApiSource
    from lib.markets.krx.source_base import Query, validate_market_day

    query = Query(dt.date(2021, 1, 4), "KOSPI")
    source = KrxOpenApiSource("key", "http://127.0.0.1:9", timeout=1)
    answer = validate_market_day(source.normalise({"OutBlock_1": openapi_rows("KOSPI")}, query), query, source.name)
    frame = answer.frame
    aj = frame.set_index("ticker").loc["095570"]  # 4,580 KRW, -35 on the day (FLUC_RT -0.76)
    assert (aj["close"], aj["base_price"]) == (4_580, 4_615)
    assert frame["base_price"].notna().mean() > 0.99
