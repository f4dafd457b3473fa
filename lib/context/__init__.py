"""What the AI reads besides prices: disclosures, news stories and macro readings, read back point in time from
the watermark datasets (lib/spine/watermark.py) that collect them, for the prompts' context block and the API.

The datasets are found in the registry by kind ("disclosures", "news", "macro"), so a market that registers
one more is read with no change here."""
