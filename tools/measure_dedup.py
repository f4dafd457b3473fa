"""How well the fuzzy step of story de-duplication (lib/context/dedup.py `similar`) tells one event told twice from
two events of one stock, measured on the labelled real headline pairs of tests/fixtures/news_pairs.csv, and how
fast `group_stories` groups a day of articles.

For each language and overall it prints precision, recall and F1 of `similar` over a range of thresholds, the
threshold it picks (the highest F1 with a precision of at least 0.95: a wrong merge hides a story from the model,
a missed one only shows it twice; ties go to the higher threshold), the alternatives it measured for Korean and
English (token_set on words, with Korean particles stripped, on character bigrams; the token_set/token_sort
mean; whole-string ratio; each with and without the number rule), the pairs
the shipped rules get wrong, and the grouping benchmark in articles per second.

    .venv/bin/python tools/measure_dedup.py [PAIRS_CSV]      (default: tests/fixtures/news_pairs.csv)
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from rapidfuzz import fuzz

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.context import dedup  # noqa: E402
from lib.spine.watermark import Item  # noqa: E402

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "news_pairs.csv"
MIN_PRECISION = 0.95
LANGS = ("en", "ko", "all")
_PARTICLE = re.compile(r"(으로|에서|에게|까지|부터|은|는|이|가|을|를|에|의|로|와|과|도)$")


@dataclass(frozen=True)
class Pair:
    """One labelled pair, titles normalised as dedup does."""

    a: str
    b: str
    lang: str
    same: bool
    raw_a: str
    raw_b: str


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 of one threshold."""

    threshold: float
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """Merged pairs that are one event, of all merged (1.0 when none is merged)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """One-event pairs merged, of all one-event pairs."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        """One row of the threshold table."""
        return (f"{self.threshold:>5.0f}  {self.precision:9.3f}  {self.recall:6.3f}  {self.f1:5.3f}"
                f"  {self.tp:3d} {self.fp:3d} {self.fn:3d}")


class BadPairs(ValueError):
    """The pairs file cannot be read as labelled pairs (a person fixes the file)."""


COLUMNS = ("title_a", "title_b", "lang", "same")


def load(path: Path) -> list[Pair]:
    """The fixture's pairs; a malformed file or row raises BadPairs saying which line and what to fix."""
    pairs = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise BadPairs(f"{path}: missing column(s) {', '.join(missing)} (header needs {', '.join(COLUMNS)})")
        for n, row in enumerate(reader, start=2):
            if not row["title_a"] or not row["title_b"]:
                raise BadPairs(f"{path}:{n}: title_a and title_b must both be non-empty")
            if row["same"] not in ("0", "1") or row["lang"] not in ("en", "ko"):
                raise BadPairs(f"{path}:{n}: same must be 0 or 1 and lang en or ko, got same={row['same']!r} "
                               f"lang={row['lang']!r}")
            pairs.append(Pair(dedup.normalise_title(row["title_a"]), dedup.normalise_title(row["title_b"]),
                              row["lang"], row["same"] == "1", row["title_a"], row["title_b"]))
    return pairs


def _bigrams(text: str) -> str:
    return " ".join(w[i:i + 2] for w in text.split() for i in range(max(1, len(w) - 1)))


def _no_particles(text: str) -> str:
    return " ".join(_PARTICLE.sub("", w) if len(w) >= 3 and dedup._HANGUL.search(w) else w for w in text.split())


Scorer = Callable[[str, str], float]
SCORERS: dict[str, Scorer] = {
    "token_set, words": lambda a, b: fuzz.token_set_ratio(a, b),
    "token_set, particles stripped": lambda a, b: fuzz.token_set_ratio(_no_particles(a), _no_particles(b)),
    "token_set, character bigrams": lambda a, b: fuzz.token_set_ratio(_bigrams(a), _bigrams(b)),
    "set+sort mean (shipped)": dedup.title_similarity,
    "set+sort mean, particles strip.": lambda a, b: dedup.title_similarity(_no_particles(a), _no_particles(b)),
    "ratio (whole string)": lambda a, b: fuzz.ratio(a, b),
}


def scores(pairs: list[Pair], scorer: Scorer, numbers: bool, thresholds) -> list[Score]:
    """Each threshold's counts for one scorer (with or without the number rule)."""
    values = [(0.0 if numbers and not dedup.numbers_meet(p.a, p.b) else scorer(p.a, p.b), p.same) for p in pairs]
    return [Score(t, sum(v >= t and s for v, s in values), sum(v >= t and not s for v, s in values),
                  sum(v < t and s for v, s in values)) for t in thresholds]


def pick(table: list[Score]) -> Score:
    """The highest F1 at precision >= MIN_PRECISION; ties to the higher threshold (none reaching it: the most
    precise)."""
    ok = [s for s in table if s.precision >= MIN_PRECISION]
    return max(ok or table, key=lambda s: (s.f1, s.threshold) if ok else (s.precision, s.threshold))


def of(pairs: list[Pair], lang: str) -> list[Pair]:
    """The pairs of one language ("all": every pair)."""
    return pairs if lang == "all" else [p for p in pairs if p.lang == lang]


def shipped(pairs: list[Pair], rules=dedup.RULES) -> Score:
    """Counts of `similar` itself (each pair by its language's rule)."""
    got = [(dedup.similar(p.a, p.b, rules), p.same) for p in pairs]
    return Score(0, sum(g and s for g, s in got), sum(g and not s for g, s in got), sum(s and not g for g, s in got))


def day_of_articles(pairs: list[Pair], n: int = 2000, stocks: int = 200, seed: int = 7) -> list[Item]:
    """n articles over `stocks` stocks across one day, titles drawn from the fixture (so some tell one event)."""
    rnd = random.Random(seed)
    titles = [t for p in pairs for t in (p.raw_a, p.raw_b)]
    start = dt.datetime(2025, 6, 16)
    return [Item(f"S{i % stocks:03d}|{i:05d}", start + dt.timedelta(seconds=rnd.randrange(86400)),
                 {"ticker": f"S{i % stocks:03d}", "title": rnd.choice(titles), "snippet": "",
                  "url": f"https://news.example/a/{i}", "publisher": "p", "feed": "f", "lang": "en"})
            for i in range(n)]


def benchmark(pairs: list[Pair]) -> None:
    """Articles per second of group_stories over a realistic day, and how many titles it compares."""
    items = day_of_articles(pairs)
    calls = 0
    real = dedup.similar

    def counting(a: str, b: str, rules=dedup.RULES) -> bool:
        nonlocal calls
        calls += 1
        return real(a, b, rules)

    with mock.patch.object(dedup, "similar", counting):
        stories = dedup.group_stories(items)
    runs = []
    for _ in range(3):
        began = time.perf_counter()
        dedup.group_stories(items)
        runs.append(time.perf_counter() - began)
    took = statistics.median(runs)
    n = len(items)
    print(f"\ngroup_stories: {n} articles over 200 stocks in one day -> {len(stories)} stories; "
          f"{took * 1000:.0f} ms (median of 3), {n / took:,.0f} articles/s")
    print(f"  title comparisons: {calls:,} (within a stock and {dedup.STORY_WINDOW.total_seconds() / 3600:.0f} h), "
          f"against {n * (n - 1) // 2:,} for all pairs of the day")


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else PAIRS
    if not path.is_file():
        print(f"{path}: no such file (the labelled pairs CSV)", file=sys.stderr)
        return 2
    try:
        pairs = load(path)
    except (BadPairs, UnicodeDecodeError) as exc:
        print(f"{exc} (fix the pairs file)" if isinstance(exc, BadPairs) else f"{path}: not UTF-8 text ({exc})",
              file=sys.stderr)
        return 2
    if not pairs:
        print(f"{path}: no pairs to measure", file=sys.stderr)
        return 2
    counts = {lang: (len(of(pairs, lang)), sum(p.same for p in of(pairs, lang))) for lang in LANGS}
    print(f"{path.name}: " + ", ".join(f"{lang} {n} pairs ({s} same, {n - s} different)"
                                       for lang, (n, s) in counts.items()))
    thresholds = range(30, 101)
    print(f"\nAlternatives (threshold picked per language: highest F1 at precision >= {MIN_PRECISION}):")
    print(f"  {'scorer':32} {'numbers':8} " + "  ".join(f"{lang:>26}" for lang in ("en", "ko")))
    for name, scorer in SCORERS.items():
        for numbers in (False, True):
            cells = []
            for lang in ("en", "ko"):
                best = pick(scores(of(pairs, lang), scorer, numbers, thresholds))
                cells.append(f"t={best.threshold:<3.0f} P={best.precision:.2f} R={best.recall:.2f} F1={best.f1:.2f}")
            print(f"  {name:32} {'must meet' if numbers else 'ignored':8} " + "  ".join(f"{c:>26}" for c in cells))
    picked = {}
    for lang in ("en", "ko"):
        rule = dedup.RULES[lang]
        table = scores(of(pairs, lang), dedup.title_similarity, rule.numbers_must_meet, thresholds)
        picked[lang] = pick(table)
        numbers = "must meet" if rule.numbers_must_meet else "ignored"
        print(f"\n{lang}: shipped scorer (set+sort mean), numbers {numbers}")
        print("  thresh  precision  recall     F1   tp  fp  fn")
        for s in table:
            if s.threshold % 5 == 0 or s.threshold == picked[lang].threshold:
                print("  " + s.line() + ("   <- picked" if s is picked[lang] else ""))
    print("\nShipped rules (lib/context/dedup.py RULES): "
          + ", ".join(f"{lang} t={r.threshold:g} numbers {'must meet' if r.numbers_must_meet else 'ignored'}"
                      for lang, r in dedup.RULES.items()))
    for lang in LANGS:
        s = shipped(of(pairs, lang))
        print(f"  {lang:3}  precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}  "
              f"(tp {s.tp}, fp {s.fp}, fn {s.fn})")
    stale = [lang for lang in ("en", "ko") if picked[lang].threshold != dedup.RULES[lang].threshold]
    if stale:
        print(f"  NOTE: the picked threshold differs from RULES for {', '.join(stale)}: update lib/context/dedup.py")
    print("\nPairs the shipped rules get wrong:")
    for p in pairs:
        if dedup.similar(p.a, p.b) != p.same:
            kind = "merged, different events" if not p.same else "missed, same event"
            print(f"  {p.lang} {kind:24} {dedup.title_similarity(p.a, p.b):5.1f}  {p.raw_a[:48]} | {p.raw_b[:48]}")
    benchmark(pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
