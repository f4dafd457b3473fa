"""How data/sample/krx_sample.parquet was cut from the shared real KRX panel (kept for provenance).

Largest 150 common stocks on the panel's last day, the 50 common stocks nearest the 100 billion KRW line
(so the universe changes over time), and 10 common stocks with trading halts; a few preferred shares ride
along to show they are stored nowhere and never join the universe."""

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
