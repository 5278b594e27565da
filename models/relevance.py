"""The relevance stage: is a post a complaint about a telecom network fault, and which service?

The lexicons (``models/lexicons/<lang>.toml``, one per language) list terms by role; see the
header of any of them. :class:`Lexicon` loads and checks them, :class:`RelevanceClassifier`
compiles every term of every language into ONE Aho-Corasick automaton and decides on the
terms found in a single pass over the normalised text (:func:`normalize_text`).

Adding a language is adding a file. A later trained layer can consume the evidence a
:class:`Relevance` carries (``terms``, ``tech``, ``score``) without rescanning the text.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import ahocorasick

from models.errors import ConfigError
from models.records import Post

__all__ = [
    "CATEGORIES",
    "ROLES",
    "TECH_TAGS",
    "Lexicon",
    "LexiconTerm",
    "Relevance",
    "RelevanceClassifier",
    "normalize_text",
]

CATEGORIES = ("mobile_data", "voice", "sms", "fixed_broadband", "tv", "total_outage")
TECH_TAGS = ("2g", "3g", "4g", "5g", "fibre", "dsl", "wifi")
# The category a technology hints at, used only when the service words are generic.
TECH_CATEGORY = {
    "2g": "mobile_data",
    "3g": "mobile_data",
    "4g": "mobile_data",
    "5g": "mobile_data",
    "fibre": "fixed_broadband",
    "dsl": "fixed_broadband",
    "wifi": "fixed_broadband",
}
# Table name -> what its keys are. "terms" tables have exactly one key, ``terms``.
ROLES = {
    "service": "category",
    "generic": "category",
    "strong": "category",
    "problem": "terms",
    "negation": "terms",
    "exclude": "group",
    "tech": "tag",
}
NEGATION_WINDOW = 2  # a negator acts on a problem term at most this many words later

_LANG_RE = re.compile(r"[a-z]{2,3}")
_GROUP_RE = re.compile(r"[a-z][a-z0-9_]*")
_UNDETERMINED = frozenset({"und", "zxx", "mul", "mis"})


# --- text normalisation --------------------------------------------------------------------

_URL_RE = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S*", re.IGNORECASE)
_HASHTAG_RE = re.compile(r"#(\w+)")
# Clause punctuation becomes "." so that phrases and negations do not reach across it
# ("decoder non funziona, niente tv" is not "non funziona niente").
_CLAUSE_MARKS = frozenset(".,;:!?\n\r¡¿…。，、；：！？｡､؟،।")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# Scripts written without spaces between words: no word-boundary check next to them.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0FFF),  # Thai, Lao, Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0xA4CF),  # CJK radicals and symbols, kana, Bopomofo, CJK ideographs, Yi
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # half- and full-width forms
    (0x1B000, 0x1B2FF),  # kana supplements
    (0x20000, 0x3FFFF),  # CJK extensions
)


def _no_space_script(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _NO_SPACE_RANGES)


def _build_tables() -> tuple[bytes, list[str], bytearray]:
    """The ASCII byte map, the BMP translation list and the BMP "word character" flags."""
    ascii_map = bytearray(range(256))
    for b in range(128):
        c = chr(b)
        if "A" <= c <= "Z":
            ascii_map[b] = b + 32
        elif c in _CLAUSE_MARKS:
            ascii_map[b] = ord(".")
        elif not c.isalnum():
            ascii_map[b] = 32
    table: list[str] = []
    joins = bytearray(0x10000)
    for cp in range(0x10000):
        c = chr(cp)
        cat = unicodedata.category(c)
        if cp < 0x80:
            out = chr(ascii_map[cp])
        elif 0x0300 <= cp <= 0x036F:
            out = ""  # stray combining accent (no precomposed form): drop it
        elif c in _CLAUSE_MARKS:
            out = "."
        elif cat[0] in "PSZ" or cat == "Cc":
            out = " "
        elif cat == "Cf":
            out = ""  # soft hyphen, zero-width joiners, direction marks
        elif cat[0] == "L" and "LATIN" in unicodedata.name(c, ""):
            base = "".join(
                ch for ch in unicodedata.normalize("NFKD", c) if not unicodedata.combining(ch)
            )
            out = base.casefold() if base else c
        else:
            out = c
        table.append(out)
        if (c.isalnum() or cat[0] == "M") and not _no_space_script(cp):
            joins[cp] = 1
    return bytes(ascii_map), table, joins


_ASCII_MAP, _TABLE, _JOINS = _build_tables()


def _latin1_map() -> bytes:
    """Byte map for Latin-1 text giving the same result as the general path, with 0 for
    the few characters that need that path (ß, ¼, soft hyphen...)."""
    out = bytearray(256)
    for b in range(256):
        general = unicodedata.normalize("NFKC", chr(b)).casefold().translate(_TABLE)
        if b and len(general) == 1 and general.isascii():
            out[b] = ord(general)
    return bytes(out)


_LATIN1_MAP = _latin1_map()


def _joins(c: str) -> bool:
    """True if ``c`` would glue a match to a longer word (a letter, digit or mark of a
    script written with spaces)."""
    cp = ord(c)
    if cp < 0x10000:
        return _JOINS[cp] == 1
    return c.isalnum() and not _no_space_script(cp)


def _split_hashtag(m: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", m.group(1)) + " "


def normalize_text(text: str) -> str:
    """Text reduced to lower-case words separated by single spaces.

    Casefolds; strips accents from Latin letters (other scripts are kept as they are);
    drops URLs; splits camelCase hashtags (``#NoSignal`` -> ``no signal``); keeps the
    handle of ``@mentions``; turns clause punctuation (``. , ; : ! ?`` and line breaks)
    into ``.`` and other punctuation and symbols into spaces; collapses whitespace.
    Lexicon terms go through the same function, so both sides always agree.

    >>> normalize_text("No signal since 8am!! @Vodafone_IT #InternetDown https://t.co/x1")
    'no signal since 8am.. vodafone it internet down'
    >>> normalize_text("Perché la connessione è COSÌ lenta?")
    'perche la connessione e cosi lenta.'
    >>> normalize_text("Pas de réseau… l’antenne est HS")
    'pas de reseau... l antenne est hs'
    >>> normalize_text("Ｓｉｎ señal 😡 в Москве нет сети！网络断了")
    'sin senal 😡 в москве нет сети.网络断了'
    """
    if "://" in text or "www." in text or "WWW." in text:
        text = _URL_RE.sub(" ", text)
    if "#" in text:
        text = _HASHTAG_RE.sub(_split_hashtag, text)
    if text.isascii():
        return b" ".join(text.encode().translate(_ASCII_MAP).split()).decode()
    try:  # most Italian, French and Spanish posts without emoji are Latin-1
        data = text.encode("latin-1").translate(_LATIN1_MAP)
    except UnicodeEncodeError:
        pass
    else:
        if 0 not in data:
            return b" ".join(data.split()).decode()
    return _normalize_general(text)


def _normalize_general(text: str) -> str:
    """The slow path of :func:`normalize_text` (after URLs and hashtags), for any text."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)
    return " ".join(text.split())


# --- lexicon -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LexiconTerm:
    """One term of one table: ``text`` is normalised; ``label`` is the category (service,
    generic, strong), the tech tag, the exclude group, or ``"terms"``."""

    text: str
    role: str
    label: str
    lang: str


def _bundled() -> dict[str, Traversable]:
    root = resources.files("models") / "lexicons"
    found = {p.name[: -len(".toml")]: p for p in root.iterdir() if p.name.endswith(".toml")}
    return dict(sorted(found.items()))


def _parse(data: dict[str, Any], source: str, expect_lang: str | None) -> list[LexiconTerm]:
    lang = data.get("lang")
    if not isinstance(lang, str) or not _LANG_RE.fullmatch(lang):
        raise ConfigError(f"{source} lang", lang, "must be a 2 or 3 letter lower-case code")
    if expect_lang is not None and lang != expect_lang:
        raise ConfigError(f"{source} lang", lang, f"must match the file name ({expect_lang!r})")
    terms: list[LexiconTerm] = []
    seen: dict[str, str] = {}  # normalised term -> first role, to catch exclude conflicts
    for table, body in data.items():
        if table == "lang":
            continue
        if table not in ROLES:
            expected = ", ".join(["lang", *ROLES])
            raise ConfigError(source, table, f"unknown table; expected one of: {expected}")
        if not isinstance(body, dict):
            raise ConfigError(f"{source} [{table}]", body, "must be a table of term lists")
        kind = ROLES[table]
        for key, values in body.items():
            where = f"{source} [{table}]"
            if kind == "category" and key not in CATEGORIES:
                raise ConfigError(
                    where, key, f"unknown category; expected one of: {', '.join(CATEGORIES)}"
                )
            if kind == "tag" and key not in TECH_TAGS:
                raise ConfigError(
                    where, key, f"unknown tech tag; expected one of: {', '.join(TECH_TAGS)}"
                )
            if kind == "terms" and key != "terms":
                raise ConfigError(where, key, "unknown key; this table has only 'terms'")
            if kind == "group" and not _GROUP_RE.fullmatch(key):
                raise ConfigError(where, key, "group names are lower-case identifiers")
            if not isinstance(values, list):
                raise ConfigError(f"{where} {key}", values, "must be a list of strings")
            for i, value in enumerate(values):
                if not isinstance(value, str):
                    raise ConfigError(f"{where} {key}[{i}]", value, "term must be a string")
                text = normalize_text(value)
                if not any(c.isalnum() for c in text):
                    raise ConfigError(f"{where} {key}[{i}]", value, "term has no letters")
                first = seen.setdefault(text, table)
                if first != table and "exclude" in (first, table):
                    raise ConfigError(
                        f"{where} {key}[{i}]", value, f"also in [{first}]; cannot be both"
                    )
                terms.append(LexiconTerm(text, table, key, lang))
    return terms


def _read(source: str, raw: bytes, expect_lang: str | None) -> list[LexiconTerm]:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(source, str(exc), "not a valid UTF-8 TOML file") from None
    return _parse(data, source, expect_lang)


@dataclass(frozen=True)
class Lexicon:
    """The relevance terms of one or more languages, normalised and checked."""

    langs: tuple[str, ...]
    terms: tuple[LexiconTerm, ...]
    sources: tuple[str, ...] = ()

    @staticmethod
    def bundled() -> tuple[str, ...]:
        """The languages shipped in ``models/lexicons``."""
        return tuple(_bundled())

    @classmethod
    def load(cls, langs: Sequence[str] | None = None, paths: Sequence[Path] = ()) -> Lexicon:
        """Bundled lexicons of ``langs`` (``None``: every bundled one, ``()``: none), then
        the files in ``paths``. Files of the same language are merged; a malformed file
        raises :class:`ConfigError` naming the file and the bad key or value.

        >>> Lexicon.load(["en", "it"]).langs
        ('en', 'it')
        """
        bundled = _bundled()
        if isinstance(langs, str):
            langs = (langs,)
        wanted = list(bundled) if langs is None else list(dict.fromkeys(langs))
        terms: list[LexiconTerm] = []
        sources: list[str] = []
        for lang in wanted:
            if lang not in bundled:
                available = ", ".join(bundled) or "none"
                raise ConfigError("lexicon langs", lang, f"no bundled lexicon ({available})")
            res = bundled[lang]
            terms += _read(str(res), res.read_bytes(), lang)
            sources.append(str(res))
        for path in paths:
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(str(path), exc.strerror, "cannot read lexicon file") from None
            terms += _read(str(path), raw, None)
            sources.append(str(path))
        seen = dict.fromkeys(t.lang for t in terms)
        order = tuple(dict.fromkeys([*(x for x in wanted if x in seen), *seen]))
        unique = tuple(dict.fromkeys(terms))
        return cls(langs=order, terms=unique, sources=tuple(sources))


# --- classifier ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relevance:
    """The verdict on one post.

    ``terms`` are the normalised lexicon terms found in the text, in text order (the
    evidence, exclusions and negators included); ``tech`` the technology tags mentioned;
    ``lang`` the post's language if it had one, else the language whose terms matched most
    (``None`` on a tie or no match). ``score`` is 0 when not relevant.
    """

    relevant: bool
    category: str | None
    score: float
    terms: tuple[str, ...]
    tech: tuple[str, ...]
    lang: str | None


# Role bits of a term (a term may have several roles, in one language or across languages).
_STRONG, _SERVICE, _GENERIC, _PROBLEM, _NEGATION, _EXCLUDE, _TECH = (1 << i for i in range(7))
_EVIDENCE = _SERVICE | _GENERIC


class _Term:
    """Everything the decision needs about one normalised term, across languages."""

    __slots__ = (
        "generic",
        "kind",
        "lang",
        "langs",
        "left",
        "problem",
        "right",
        "service",
        "service_mask",
        "size",
        "strong",
        "tech",
        "text",
        "votes",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = len(text)
        self.left = _joins(text[0])  # check the left neighbour only if it could glue on
        self.right = _joins(text[-1])
        self.kind = 0  # role bits
        self.strong: str | None = None  # categories (first language wins on a conflict)
        self.service: str | None = None
        self.generic: str | None = None
        self.service_mask = 0  # languages in which it names a service (specific or generic)
        self.problem = 0  # languages in which it is a problem term
        self.tech: str | None = None
        self.langs: tuple[int, ...] = ()
        self.lang = -1  # the only language that has it, or -1
        self.votes = 0  # its language votes, packed (see RelevanceClassifier._infer_lang)


_Hit = tuple[int, int, _Term]  # start, end (exclusive), term


def _outermost(hits: list[_Hit]) -> list[_Hit]:
    """Drop hits lying inside a longer hit of the same list."""
    if len(hits) < 2:
        return hits
    kept = []
    for h in hits:
        start, end = h[0], h[1]
        for o in hits:
            if o[0] <= start and end <= o[1] and o is not h:
                break
        else:
            kept.append(h)
    return kept


def _majority(hits: list[_Hit], attr: str) -> str:
    """The most frequent category among ``hits`` (ties: the earliest in the text)."""
    if len(hits) == 1:
        return str(getattr(hits[0][2], attr))
    counts: dict[str, int] = {}
    for h in hits:
        cat = getattr(h[2], attr)
        counts[cat] = counts.get(cat, 0) + 1
    return max(counts, key=counts.__getitem__)  # dicts keep first-seen order for ties


class RelevanceClassifier:
    """Lexicon relevance: one Aho-Corasick pass over the normalised text, then a small rule.

    Matching: every term of every language is in one automaton; a match must not be glued
    to a letter or digit on either side (no such check next to CJK, Thai and other scripts
    written without spaces).

    Decision:

    1. **Exclusion.** If an ``[exclude]`` phrase occurs, every match overlapping it is
       ignored, and the post is not relevant unless a ``[strong]`` phrase remains.
    2. **Negation.** A ``[problem]`` match is ignored when a ``[negation]`` term ends at
       most 2 words before it ("isn't down", "non è down", "n'est pas en panne").
    3. **Relevant** if a ``[strong]`` phrase matched, or a ``[service]``/``[generic]`` term
       and a ``[problem]`` term of a common language both matched (so Spanish "red" never
       pairs with English "not working").
    4. **Category**: ``total_outage`` if a strong phrase or a paired service term says so;
       else the most mentioned ``[service]`` category (ties: earliest); else the most
       mentioned strong-phrase category; else the category hinted at by a ``[tech]`` tag
       (4g -> mobile_data, fibre -> fixed_broadband...); else the ``[generic]`` one.
       Phrases inside a longer phrase of the same table do not vote.
    5. **Score**: 0.9 for a strong phrase, 0.75 for a specific service and a problem,
       0.6 for a generic word and a problem; +0.05 for each further distinct term of
       evidence (service, generic, problem) outside the strong phrases and not inside a
       longer one, at most +0.1. 0.0 when not relevant.
    """

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon if lexicon is not None else Lexicon.load()
        self.langs = self.lexicon.langs
        index = {lang: i for i, lang in enumerate(self.langs)}
        entries: dict[str, _Term] = {}
        term_langs: dict[str, set[int]] = {}
        for t in self.lexicon.terms:
            e = entries.get(t.text)
            if e is None:
                e = entries[t.text] = _Term(t.text)
            bit = 1 << index[t.lang]
            term_langs.setdefault(t.text, set()).add(index[t.lang])
            if t.role == "strong":
                e.kind |= _STRONG
                e.strong = e.strong or t.label
            elif t.role == "service":
                e.kind |= _SERVICE
                e.service = e.service or t.label
                e.service_mask |= bit
            elif t.role == "generic":
                e.kind |= _GENERIC
                e.generic = e.generic or t.label
                e.service_mask |= bit
            elif t.role == "problem":
                e.kind |= _PROBLEM
                e.problem |= bit
            elif t.role == "negation":
                e.kind |= _NEGATION
            elif t.role == "exclude":
                e.kind |= _EXCLUDE
            elif t.role == "tech":
                e.kind |= _TECH
                e.tech = e.tech or t.label
        # Language votes: each term's vote is split evenly among its languages, in integer
        # units so that ties are exact, packed in one int (a field of _vote_bits per
        # language, room for 2**24 matches) so that adding up a post's votes is one
        # addition per match.
        unit = math.lcm(*range(1, len(self.langs) + 1)) if self.langs else 1
        self._vote_bits = unit.bit_length() + 24
        self._vote_mask = (1 << self._vote_bits) - 1
        for text, e in entries.items():
            e.langs = tuple(sorted(term_langs[text]))
            e.lang = e.langs[0] if len(e.langs) == 1 else -1
            e.votes = sum((unit // len(e.langs)) << (self._vote_bits * i) for i in e.langs)
        self._terms = entries
        self._automaton: Any = None
        if entries:
            automaton = ahocorasick.Automaton()
            for text, e in entries.items():
                automaton.add_word(text, e)
            automaton.make_automaton()
            self._automaton = automaton
        self._empty: dict[str | None, Relevance] = {}
        self._lang_cache: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"RelevanceClassifier(langs={self.langs!r}, terms={len(self._terms)})"

    def classify(self, post: Post) -> Relevance:
        """The verdict on a post (its ``lang``, if any, becomes the verdict's ``lang``)."""
        return self.classify_text(post.text, post.lang)

    def classify_text(self, text: str, lang: str | None = None) -> Relevance:
        """The verdict on raw post text; ``lang`` is the post's language tag, if known.

        >>> clf = RelevanceClassifier(Lexicon.load(["en", "it"]))
        >>> r = clf.classify_text("No signal on my phone since this morning @Operator")
        >>> r.relevant, r.category, r.score, r.lang
        (True, 'mobile_data', 0.9, 'en')
        >>> r = clf.classify_text("il 4G non funziona da stamattina", lang="it-IT")
        >>> r.relevant, r.category, r.tech, r.lang
        (True, 'mobile_data', ('4g',), 'it')
        >>> clf.classify_text("my internet isn't down anymore").relevant
        False
        >>> r = clf.classify_text("great social network post, the network is down lol")
        >>> r.relevant, r.score, r.terms
        (False, 0.0, ('social network', 'network', 'down'))
        """
        if lang is not None:
            lang = self._norm_lang(lang)
        norm = normalize_text(text)
        hits = self._scan(norm) if self._automaton is not None and norm else []
        if not hits:
            empty = self._empty.get(lang)
            if empty is None:
                empty = Relevance(False, None, 0.0, (), (), lang)
                if len(self._empty) < 1024:
                    self._empty[lang] = empty
            return empty
        hits.sort()
        return self._decide(norm, hits, lang)

    # --- internals -------------------------------------------------------------------------

    def _norm_lang(self, lang: str) -> str | None:
        cached = self._lang_cache.get(lang, "")
        if cached != "":
            return cached
        code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
        result = None if not code or code in _UNDETERMINED else code
        if len(self._lang_cache) < 1024:
            self._lang_cache[lang] = result
        return result

    def _scan(self, norm: str) -> list[_Hit]:
        hits: list[_Hit] = []
        last = len(norm) - 1
        for end, term in self._automaton.iter(norm):
            start = end - term.size + 1
            if term.left and start and _joins(norm[start - 1]):
                continue
            if term.right and end < last and _joins(norm[end + 1]):
                continue
            hits.append((start, end + 1, term))
        return hits

    def _infer_lang(self, hits: list[_Hit]) -> str | None:
        if len(hits) == 1:
            only = hits[0][2].lang
            return self.langs[only] if only >= 0 else None
        total = 0
        for h in hits:
            total += h[2].votes
        best, winner = 0, None
        bits, mask = self._vote_bits, self._vote_mask
        for lang in self.langs:
            vote = total & mask
            if vote > best:
                best, winner = vote, lang
            elif vote == best:
                winner = None
            total >>= bits
        return winner

    def _decide(self, norm: str, hits: list[_Hit], lang: str | None) -> Relevance:
        if len(hits) == 1:
            terms: tuple[str, ...] = (hits[0][2].text,)
        else:
            terms = tuple(dict.fromkeys([h[2].text for h in hits]))
        if lang is None:
            lang = self._infer_lang(hits)
        kinds = 0
        for h in hits:
            kinds |= h[2].kind
        if kinds & _EXCLUDE:
            spans = [(s, e) for s, e, t in hits if t.kind & _EXCLUDE]
            hits = [
                h
                for h in hits
                if not h[2].kind & _EXCLUDE and all(h[1] <= xs or h[0] >= xe for xs, xe in spans)
            ]
            kinds = 0
            for h in hits:
                kinds |= h[2].kind
            if not kinds & _STRONG:
                return Relevance(False, None, 0.0, terms, (), lang)
        if not (kinds & _STRONG or (kinds & _PROBLEM and kinds & _EVIDENCE)):
            tech = tuple(dict.fromkeys([t.tech for _, _, t in hits if t.tech]))
            return Relevance(False, None, 0.0, terms, tech, lang)

        negators = [e for _, e, t in hits if t.kind & _NEGATION] if kinds & _NEGATION else None
        strong: list[_Hit] = []
        service: list[_Hit] = []
        generic: list[_Hit] = []
        problems: list[_Hit] = []
        techs: list[str] = []
        problem_mask = 0
        for h in hits:
            t = h[2]
            kind = t.kind
            if kind & _STRONG:
                strong.append(h)
            if kind & _SERVICE:
                service.append(h)
            elif kind & _GENERIC:
                generic.append(h)
            if kind & _PROBLEM and not (negators and _negated(norm, h[0], negators)):
                problem_mask |= t.problem
                problems.append(h)
            tag = t.tech
            if tag is not None and tag not in techs:
                techs.append(tag)
        tech = tuple(techs)
        paired_service = [h for h in service if h[2].service_mask & problem_mask]
        paired_generic = [h for h in generic if h[2].service_mask & problem_mask]
        if not (strong or paired_service or paired_generic):
            return Relevance(False, None, 0.0, terms, tech, lang)

        strong = _outermost(strong)
        service = _outermost(service)
        category = ""
        for h in strong:
            if h[2].strong == "total_outage":
                category = "total_outage"
        for h in paired_service:
            if h[2].service == "total_outage":
                category = "total_outage"
        if category:
            pass
        elif service:
            category = _majority(service, "service")
        elif strong:
            category = _majority(strong, "strong")
        else:
            for tag in tech:
                category = TECH_CATEGORY.get(tag, "")
                if category:
                    break
            else:
                category = _majority(paired_generic, "generic")

        # Evidence: the strong phrases, plus service, generic and problem terms that are
        # neither inside a longer one nor inside a strong phrase.
        if strong:
            score = 0.9
            evidence = len(strong) - 1
        else:
            score = 0.75 if paired_service else 0.6
            evidence = -2
        outside: set[str] = set()
        for s, e, t in _outermost([*service, *generic, *problems]):
            for o in strong:
                if o[0] <= s and e <= o[1]:
                    break
            else:
                outside.add(t.text)
        evidence += len(outside)
        if evidence > 0:
            score = round(score + 0.05 * min(2, evidence), 2)
        return Relevance(True, category, score, terms, tech, lang)


def _negated(norm: str, start: int, negator_ends: list[int]) -> bool:
    """A negator ends at most NEGATION_WINDOW words before ``start``, in the same clause."""
    # Words strictly between = spaces in the gap - 1; a clause mark in the gap breaks the link.
    return any(
        end <= start
        and norm.count(" ", end, start) <= NEGATION_WINDOW + 1
        and norm.find(".", end, start) < 0
        for end in negator_ends
    )
