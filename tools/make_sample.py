"""How data/sample/krx_sample.parquet was cut from the shared real KRX panel (kept for provenance).

Largest 150 common stocks on the panel's last day, the 50 common stocks nearest the 100 billion KRW line
(so the universe changes over time), and 10 common stocks with trading halts; a few preferred shares ride
along to show they are stored nowhere and never join the universe. Names are the panel's, KRX short names as of
mid-2025 (../shared/data/krx/krx_names_2025.csv lists their origin per ticker), e.g. 042660 한화오션."""

import sys
from pathlib import Path

import pandas as pd

source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/krx/krx_panel_2023-12-05_2025-06-16.parquet")
panel = pd.read_parquet(source)
last = panel.loc[panel["date"] == panel["date"].max()]
common = last.loc[last["ticker"].str.endswith("0")].sort_values("market_cap", ascending=False)
top = common.head(150)["ticker"]
rest = common.iloc[150:].assign(gap=lambda f: (f["market_cap"] - 1e11).abs()).sort_values("gap")
near = rest.head(50)["ticker"]
halted = panel.loc[(panel["open"] == 0) & (panel["high"] == 0) & panel["ticker"].str.endswith("0"), "ticker"]
halted = [t for t in halted.drop_duplicates() if t not in set(top) | set(near)][:10]
preferred = ["005935", "005385", "00088K"]
keep = set(top) | set(near) | set(halted) | set(preferred)
sample = panel.loc[panel["ticker"].isin(keep)].sort_values(["date", "ticker"]).reset_index(drop=True)
out = Path(__file__).resolve().parent.parent / "data" / "sample" / "krx_sample.parquet"
sample.to_parquet(out, index=False, compression="zstd")
print(f"{out}: {len(sample)} rows, {sample['ticker'].nunique()} tickers, {sample['date'].nunique()} sessions")

# The tests' smaller fixture, cut from the sample: large caps and threshold crossers of both markets,
# halted stocks, preferred shares, and 001530 (a real row whose high is a won below its close).
caps = sample.loc[sample["ticker"].str.endswith("0")].pivot(index="date", columns="ticker", values="market_cap")
market_of = sample.groupby("ticker")["market"].first()
crossers = [t for t in caps.columns if (caps[t] >= 1e11).any() and (caps[t] < 1e11).any()]
last_common = common.set_index("ticker")
small_keep: list[str] = []
for market in ("KOSPI", "KOSDAQ"):
    small_keep += [t for t in last_common.index if market_of.get(t) == market][: 5 if market == "KOSPI" else 3]
    small_keep += [t for t in crossers if market_of[t] == market][:5]
small_keep += [t for t in halted if t not in small_keep][:3] + ["005935", "00088K", "001530"]
small = sample.loc[sample["ticker"].isin(dict.fromkeys(small_keep))].reset_index(drop=True)
fixture = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "krx_panel_small.parquet"
small.to_parquet(fixture, index=False, compression="zstd")
print(f"{fixture}: {len(small)} rows, {small['ticker'].nunique()} tickers")
