"""Offline language identification: the writing system first, frequent words second.

The script of a text settles most languages at once (kana is Japanese, Cyrillic is
Russian when Russian is the only Cyrillic language known...). Between languages sharing a
script, each :class:`LanguageProfile` brings its frequent words, other words of its own
(weighing half as much) and its distinctive letters (``ñ``, ``ß``, ``ğ``...); every word or
letter found votes for the languages that have it, its vote split evenly among them. The
profiles are data, kept in the relevance lexicons (the ``[langid]`` table of
``models/lexicons/<lang>.toml``), so adding a language stays adding a file. No network, no
model file, a few microseconds per post.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from models.errors import ConfigError

__all__ = ["SCRIPTS", "LanguageIdentifier", "LanguageProfile", "dominant_script"]

# Writing systems told apart, with one code letter each for the counting table.
_CODES = {
    "latin": "l",
    "cyrillic": "c",
    "greek": "g",
    "arabic": "a",
    "hebrew": "h",
    "devanagari": "d",
    "thai": "t",
    "hangul": "k",
    "kana": "j",
    "han": "z",
}
SCRIPTS = tuple(_CODES)
_SCRIPT_OF_CODE = {code: script for script, code in _CODES.items()}
_RANGES = (
    (0x0041, 0x005A, "latin"),
    (0x0061, 0x007A, "latin"),
    (0x00C0, 0x024F, "latin"),
    (0x1E00, 0x1EFF, "latin"),
    (0x0370, 0x03FF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0x08A0, 0x08FF, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0E00, 0x0E7F, "thai"),
    (0x1100, 0x11FF, "hangul"),
    (0x3130, 0x318F, "hangul"),
    (0xAC00, 0xD7AF, "hangul"),
    (0x3040, 0x30FF, "kana"),
    (0x31F0, 0x31FF, "kana"),
    (0xFF66, 0xFF9F, "kana"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xF900, 0xFAFF, "han"),
)
# The language a script means when no profile claims it.
_SCRIPT_DEFAULT = {
    "cyrillic": "ru",
    "greek": "el",
    "arabic": "ar",
    "hebrew": "he",
    "devanagari": "hi",
    "thai": "th",
    "hangul": "ko",
    "kana": "ja",
    "han": "zh",
}
MAX_WORDS = 40  # words read to identify a language: enough, and bounded work on long posts
_DECISIONS_KEPT = 4096  # vote totals whose winner a script's votes remember
# Characters of scripts written without spaces stand for more text than one Latin letter.
_WEIGHT = {"han": 2, "kana": 2, "hangul": 2}
_NO_SPACE = frozenset({"han", "kana", "thai"})


def _script_table() -> list[str | None]:
    """Translation list: each BMP code point -> the code letter of its script, or deleted."""
    table: list[str | None] = [None] * 0x10000
    for lo, hi, script in _RANGES:
        for cp in range(lo, hi + 1):
            table[cp] = _CODES[script]
    for cp in (0x00D7, 0x00F7):  # multiplication and division signs sit among the letters
        table[cp] = None
    return table


_SCRIPT_TABLE = _script_table()


def _letters_of(codes: str) -> re.Pattern[str]:
    """A pattern finding a letter of any of the scripts with these code letters."""
    by_cp = "".join(code or " " for code in _SCRIPT_TABLE)
    runs = [(chr(m.start()), chr(m.end() - 1)) for m in re.finditer(f"[{codes}]+", by_cp)]
    return re.compile("[" + "".join(f"{re.escape(a)}-{re.escape(b)}" for a, b in runs) + "]")


_LATIN_LETTER = _letters_of(_CODES["latin"])
_OTHER_LETTER = _letters_of("".join(c for c in _SCRIPT_OF_CODE if c != _CODES["latin"]))


def _script_counts(text: str) -> dict[str, int]:
    """Weighted letter counts per script; kanji count as kana when any kana is present."""
    codes = text.translate(_SCRIPT_TABLE)
    counts = {
        _SCRIPT_OF_CODE[c]: codes.count(c) * _WEIGHT.get(_SCRIPT_OF_CODE[c], 1)
        for c in set(codes)
        if c in _SCRIPT_OF_CODE
    }
    if "kana" in counts and "han" in counts:
        counts["kana"] += counts.pop("han")
    return counts


def dominant_script(text: str) -> str | None:
    """The script with the most letters (Han and kana weigh double; kanji next to kana
    count as Japanese), or ``None`` when the text has no letters.

    >>> dominant_script("No signal"), dominant_script("нет сети @MTS"), dominant_script("!!")
    ('latin', 'cyrillic', None)
    >>> dominant_script("ドコモ圏外です"), dominant_script("没信号")
    ('kana', 'han')
    """
    if text.isascii():
        return "latin" if text.lower() != text.upper() else None
    if _OTHER_LETTER.search(text) is None:  # Latin text with emoji, curly quotes...
        return "latin" if _LATIN_LETTER.search(text) else None
    counts = _script_counts(text)
    return max(counts, key=counts.__getitem__) if counts else None


@dataclass(frozen=True)
class LanguageProfile:
    """What identifies one language: its scripts (the first is its usual one), its frequent
    words and other words of its own (such as its lexicon's; they weigh half), both
    normalised like the texts they are compared with, and its distinctive letters
    (compared with the raw text, either case)."""

    lang: str
    scripts: tuple[str, ...]
    words: frozenset[str] = frozenset()
    letters: frozenset[str] = frozenset()
    other_words: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.scripts:
            raise ConfigError(f"{self.lang} [langid] scripts", self.scripts, "must not be empty")
        for script in self.scripts:
            if script not in _CODES:
                raise ConfigError(
                    f"{self.lang} [langid] scripts", script, f"expected one of: {', '.join(_CODES)}"
                )

    def merge(self, other: LanguageProfile) -> LanguageProfile:
        """This profile and another of the same language, together.

        >>> a = LanguageProfile("ja", ("kana",), frozenset({"です"}))
        >>> a.merge(LanguageProfile("ja", ("han", "kana"))).scripts
        ('kana', 'han')
        """
        return LanguageProfile(
            self.lang,
            tuple(dict.fromkeys(self.scripts + other.scripts)),
            self.words | other.words,
            self.letters | other.letters,
            self.other_words | other.other_words,
        )


class LanguageIdentifier:
    """Identify the language of a text among the profiles' languages.

    1. The dominant script (:func:`dominant_script`) picks the candidates: the profiles
       listing it. None: the script's usual language (Hangul -> ``ko``...). One: it.
    2. Several candidates, script written without spaces (Han): the one whose usual
       script it is, if only one.
    3. Several candidates otherwise: the profile words among the text's words, and the
       distinctive letters in it, vote (a frequent word or a letter 2, another word 1);
       each vote is split evenly among the candidates that have it. Most votes wins; a
       tie or no vote gives ``None``.

    ``normalize`` turns raw text into space-separated words (the same function that
    normalised the profile words; it should drop URLs, whose letters would count as
    Latin); it is used when :meth:`identify` gets no ``norm``.

    >>> ident = LanguageIdentifier([
    ...     LanguageProfile("en", ("latin",), frozenset({"the", "is", "my"})),
    ...     LanguageProfile("es", ("latin",), frozenset({"el", "es", "mi"}), frozenset("ñ")),
    ...     LanguageProfile("ru", ("cyrillic",)),
    ... ])
    >>> ident.identify("My phone is dead"), ident.identify("Mi señal")
    ('en', 'es')
    >>> ident.identify("у меня нет сети"), ident.identify("今天没有信号"), ident.identify("ok")
    ('ru', 'zh', None)
    """

    def __init__(
        self,
        profiles: Iterable[LanguageProfile],
        normalize: Callable[[str], str] = str.casefold,
    ) -> None:
        merged: dict[str, LanguageProfile] = {}
        for p in profiles:
            merged[p.lang] = merged[p.lang].merge(p) if p.lang in merged else p
        self.profiles = tuple(merged.values())
        self.langs = tuple(merged)
        self._normalize = normalize
        self._candidates: dict[str, tuple[str, ...]] = {
            s: tuple(p.lang for p in self.profiles if s in p.scripts) for s in _CODES
        }
        self._usual = {s: tuple(p.lang for p in self.profiles if p.scripts[0] == s) for s in _CODES}
        self._votes = {
            s: _Votes([p for p in self.profiles if s in p.scripts])
            for s, langs in self._candidates.items()
            if len(langs) > 1 and s not in _NO_SPACE
        }
        self._latin = self._votes.get("latin")

    def __repr__(self) -> str:
        return f"LanguageIdentifier(langs={self.langs!r})"

    def identify(self, text: str, norm: str | None = None) -> str | None:
        """The language of ``text`` (``norm``: the same text already normalised), or None.

        The script is read from the normalised text, distinctive letters from the raw one.
        """
        if norm is None:
            norm = self._normalize(text)
        if norm.isascii():
            if self._latin is not None:  # the common case, first
                return self._latin.winner(text, norm)
            script = "latin"  # fewer than two Latin-script profiles
        else:
            found = dominant_script(norm)
            if found is None:
                return None
            script = found
        candidates = self._candidates[script]
        if not candidates:
            return _SCRIPT_DEFAULT.get(script)
        if len(candidates) == 1:
            return candidates[0]
        votes = self._votes.get(script)
        if votes is None:  # a script written without spaces: no words to count
            usual = self._usual[script]
            return usual[0] if len(usual) == 1 else None
        return votes.winner(text, norm)


class _Votes:
    """Word and letter votes among the languages sharing one script.

    A text's votes are added up in one int holding a 64-bit field per language, so that
    counting is one addition per known word; a vote split k ways is ``unit // k``, exact.
    The same totals come back (the same few common words), so the language each of the
    last totals gave is kept rather than unpacked again.
    """

    def __init__(self, profiles: list[LanguageProfile]) -> None:
        self.langs = tuple(p.lang for p in profiles)
        unit = math.lcm(*range(1, len(profiles) + 1))
        self.words = self._table(
            unit,
            [{**dict.fromkeys(p.other_words, 1), **dict.fromkeys(p.words, 2)} for p in profiles],
        )
        self.letters = self._table(
            unit,
            [
                dict.fromkeys(
                    (v for c in p.letters for v in (c, c.lower(), c.upper()) if len(v) == 1), 2
                )
                for p in profiles
            ],
        )
        self.letter_set = frozenset(self.letters)
        self.unpack = struct.Struct(f"<{len(profiles)}Q").unpack
        self.size = 8 * len(profiles)
        self.decided: dict[int, str | None] = {}  # total -> winner, at most _DECISIONS_KEPT

    @staticmethod
    def _table(unit: int, weights: list[dict[str, int]]) -> dict[str, int]:
        """item -> packed votes, from each language's item -> weight."""
        owners: dict[str, list[tuple[int, int]]] = {}
        for i, items in enumerate(weights):
            for item, weight in items.items():
                owners.setdefault(item, []).append((i, weight))
        table: dict[str, int] = {}
        shared: dict[int, int] = {}  # one object per distinct value: less memory to read
        for item, langs in owners.items():
            packed = sum((weight * unit // len(langs)) << (64 * i) for i, weight in langs)
            table[item] = shared.setdefault(packed, packed)
        return table

    def winner(self, text: str, norm: str) -> str | None:
        """The language with the most votes in the first MAX_WORDS words of ``norm`` and
        the letters of ``text``, or None on a tie or no vote."""
        if "." in norm:
            norm = norm.replace(".", " ")
        words = norm.split(None, MAX_WORDS)
        del words[MAX_WORDS:]  # the rest of the text, if any
        total = sum(filter(None, map(self.words.get, words)))
        if not text.isascii():
            found = self.letter_set.intersection(text[: MAX_WORDS * 8])
            total = sum(map(self.letters.__getitem__, found), total)
        if not total:
            return None
        decided = self.decided.get(total, "")
        if decided != "":
            return decided
        votes = self.unpack(total.to_bytes(self.size, "little"))
        best = max(votes)
        decided = self.langs[votes.index(best)] if votes.count(best) == 1 else None
        if len(self.decided) >= _DECISIONS_KEPT:
            self.decided.clear()
        self.decided[total] = decided
        return decided
