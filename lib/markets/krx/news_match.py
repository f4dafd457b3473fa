"""Which of the universe's stocks a Korean headline names: the longest name at each place, with a boundary on
both sides (a Korean particle such as 가/는/의 may follow a name directly).

The traps it handles: "LG" inside "LG전자" (the longest name at a place wins, and "LG" is followed by a letter),
"SK" alone (the holding company, only where "SK" stands on its own: "SK그룹", "SKT" do not count), "삼성전자"
inside "삼성전자우" (the preferred share is its own stock), and names that are ordinary words ("대상", "동서":
never matched in RSS headlines, where they mostly mean the word)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Universe names that are ordinary Korean words; a headline rarely means the company by them.
COMMON_WORDS = frozenset({"대상", "동서", "국보", "덕성", "태성", "부방", "진도", "세방", "대원", "동원", "한국"})
# How headlines often name a stock instead of its listed name (listed name -> other names).
ALIASES: Mapping[str, tuple[str, ...]] = {
    "NAVER": ("네이버",),
    "POSCO홀딩스": ("포스코홀딩스",),
    "LG에너지솔루션": ("LG엔솔",),
    "한국전력": ("한전",),
    "SK하이닉스": ("하이닉스",),
    "한화에어로스페이스": ("한화에어로",),
    "두산에너빌리티": ("두산에너빌",),
}
# Particles (조사) that may follow a name in a headline, longest first ("에서" before "에").
PARTICLES = tuple(sorted(("가", "이", "은", "는", "을", "를", "의", "와", "과", "도", "로", "으로", "에", "에서",
                          "에게", "만", "까지", "부터", "보다", "처럼", "측", "엔", "이나", "나", "마저", "조차", "발"),
                         key=len, reverse=True))
_WORD = re.compile(r"[0-9A-Za-z\uac00-\ud7a3\u3131-\u318e]")  # Latin letters, digits, Hangul


def _fold(text: str) -> str:
    """Latin letters upper-cased, the length kept (so positions match the original)."""
    return "".join(c.upper() if c.isascii() else c for c in text)


def _word(char: str) -> bool:
    return bool(_WORD.match(char))


class NameMatcher:
    """Finds the stocks a text names, from the universe's names (ticker -> name) and the alias table."""

    def __init__(self, names: Mapping[str, str], common_words: Iterable[str] = COMMON_WORDS) -> None:
        self.common = {_fold(w) for w in common_words}
        by_first: dict[str, list[tuple[str, str]]] = {}
        for ticker, name in names.items():
            for spelling in (name, *ALIASES.get(name, ())):
                folded = _fold(spelling.strip())
                if folded:
                    by_first.setdefault(folded[0], []).append((folded, ticker))
        # Longest first at each place; equal lengths in a fixed order so the answer never depends on dict order.
        self.by_first = {c: sorted(v, key=lambda p: (-len(p[0]), p[1])) for c, v in by_first.items()}

    def _ends_well(self, text: str, end: int) -> bool:
        """A name may end here: the text ends, a non-letter follows, or a particle and then a non-letter."""
        if end == len(text) or not _word(text[end]):
            return True
        for particle in PARTICLES:
            after = end + len(particle)
            if text.startswith(particle, end) and (after == len(text) or not _word(text[after])):
                return True
        return False

    def find(self, text: str, allow_common: frozenset[str] = frozenset()) -> list[str]:
        """The tickers named in `text`, in order of first mention, each once. A ticker in `allow_common` is
        matched even when its name is an ordinary word (the Naver answer to a query by that very name)."""
        folded = _fold(text)
        found: list[str] = []
        i = 0
        while i < len(folded):
            if i > 0 and _word(folded[i - 1]):
                i += 1
                continue
            for name, ticker in self.by_first.get(folded[i], ()):
                if not folded.startswith(name, i) or not self._ends_well(folded, i + len(name)):
                    continue
                if name in self.common and ticker not in allow_common:
                    continue
                if ticker not in found:
                    found.append(ticker)
                i += len(name) - 1
                break
            i += 1
        return found
