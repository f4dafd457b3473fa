"""How data/sample/us/ was cut from the shared real US data (kept for provenance): the 15 ETFs of the seed's
two stages and the stocks their holdings files list as top 10, rows from 2024-10-01 to 2025-10-08 (the stock
files' last common day); the holdings files cut to their top 15 equity lines. The rows are copied as they are,
except NFLX's share count in meta.csv, divided by 10 to match its pre-split price file (the shared meta.csv's
note says so). etf_holdings/as_of.csv dates the undated holdings files (the shared README: issuer downloads of
about 2025-11, the day not recorded): the month's last day, the latest it can be, so no session before the
download counts them as known on its day."""

import shutil
import sys
from pathlib import Path

import pandas as pd

source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
out = Path(__file__).resolve().parent.parent / "data" / "sample" / "us"
FIRST, LAST = "2024-10-01", "2025-10-08"
ETFS = ["SPY", "QQQ", "IWM", "EWY", "DIA", "SCHD", "XLF", "XLV", "XLY", "XLC", "XLI", "XLP", "XLU", "XLRE", "XLB"]
shutil.rmtree(out, ignore_errors=True)
for folder in ("us_etf", "us_stocks", "etf_holdings"):
    (out / folder).mkdir(parents=True)


def cut(path: Path, target: Path) -> int:
    lines = path.read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if FIRST <= ln[:10] <= LAST]
    target.write_text("\n".join(kept) + "\n")
    return len(kept) - 1


UNDATED_AS_OF = "2025-11-30"
NOTE = ("issuer download of about 2025-11 (the day is not recorded): the month's last day, so no session of that "
        "month counts it as known")
stocks: set[str] = set()
undated: list[str] = []
for etf in ETFS:
    cut(source / "us_etf" / f"{etf}.csv", out / "us_etf" / f"{etf}.csv")
    if etf == "SPY":
        continue  # the benchmark never trends: its holdings are never asked for
    [holdings] = [p for p in (source / "etf_holdings").glob(f"{etf}*.csv") if p.stem.split("_")[0] == etf]
    frame = pd.read_csv(holdings, dtype=str, keep_default_na=False)
    symbol = "holding" if "holding" in frame.columns else "ticker"
    frame = frame.loc[frame[symbol] != "-"]
    order = pd.to_numeric(frame["weight"]).sort_values(ascending=False, kind="stable").index
    frame = frame.loc[order].head(15)
    frame.to_csv(out / "etf_holdings" / holdings.name, index=False)
    if "_asof_" not in holdings.name:
        undated.append(etf)
    stocks |= {t for t in frame[symbol].head(10) if (source / "us_stocks" / f"{t}.csv").is_file()}
for ticker in sorted(stocks):
    cut(source / "us_stocks" / f"{ticker}.csv", out / "us_stocks" / f"{ticker}.csv")
pd.DataFrame({"etf": sorted(undated), "as_of": UNDATED_AS_OF, "note": NOTE}).to_csv(
    out / "etf_holdings" / "as_of.csv", index=False)
meta = pd.read_csv(source / "us_stocks" / "meta.csv", dtype=str, keep_default_na=False)
meta = meta.loc[meta["ticker"].isin(stocks), ["ticker", "name", "sector", "shares_outstanding", "market_cap", "asof",
                                              "currency", "notes"]]
nflx = meta["ticker"] == "NFLX"
meta.loc[nflx, "shares_outstanding"] = str(int(meta.loc[nflx, "shares_outstanding"].iloc[0]) // 10)
meta.loc[nflx, "notes"] = "shares divided by 10 here to match the pre-split prices (10:1 split on 2025-11-17)"
meta.to_csv(out / "us_stocks" / "meta.csv", index=False)
print(f"{out}: {len(ETFS)} ETFs, {len(stocks)} stocks, {FIRST}..{LAST}")
