"""The relevance stage: is a post a complaint about a telecom network fault, and which service?

The lexicons (``models/lexicons/<lang>.toml``, one per language) list terms by role and the
words that identify the language; see the header of any of them. The brand lexicon
(``models/lexicons/brands.toml``, or an operator's own file) lists operators by names and
handles. :class:`Lexicon` and :class:`Brands` load and check them;
:class:`RelevanceClassifier` compiles every term of every language and every brand name
into Aho-Corasick automata and decides on the terms found in one pass over the normalised
text (:func:`normalize_text`), in the post's language (its tag, else the one
:class:`~models.langid.LanguageIdentifier` finds from the lexicons' ``[langid]`` tables).

Adding a language is adding a file. A later trained layer can consume the evidence a
:class:`Relevance` carries (``terms``, ``tech``, ``brands``, ``score``) without rescanning
the text.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import ahocorasick

from models.errors import ConfigError
from models.langid import LanguageIdentifier, LanguageProfile
from models.records import Post

__all__ = [
    "ANY_SERVICE",
    "CATEGORIES",
    "ROLES",
    "TECH_TAGS",
    "Brand",
    "Brands",
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
# The [strong] key of complaints that name no service ("is there an outage?"): the other
# terms, a tech tag or the operator give the category.
ANY_SERVICE = "any"
# Table name -> what its keys are. "terms" tables have exactly one key, ``terms``; the
# [problem] table also ``opinion`` (:data:`OPINION`).
ROLES = {
    "service": "category",
    "generic": "category",
    "context": "terms",
    "strong": "category",
    "problem": "strength",
    "outage": "terms",
    "negation": "terms",
    "exclude": "group",
    "resolved": "terms",
    "reply": "terms",
    "tech": "tag",
}
OPINION = "opinion"
"""The [problem] key of opinion words ("trash", "useless", "sampah"): weak problem terms
that pair with a [service] term, or with an operator named, but never with [generic]
words alone ("horrible damage ... any coverage" is no fault report)."""
LANGID_KEYS = ("scripts", "stopwords", "letters")  # the keys of a lexicon's [langid] table
NEGATION_WINDOW = 2  # a negator acts on a problem term at most this many words later
PAIR_WINDOW = 12
"""A [problem] term pairs with a [service], [generic] or [context] term at most this many
words away, before or after it, across clause marks ("internet. still slow"): in a long post
a problem word and a network word far apart seldom speak of one another. Chosen on the
DEV half of the hand labels: every fault report paired within 12 words (some across
sentences, so no clause limit), two false pairs were 15 and 21 words apart. A run of a
script written without spaces (Chinese, Japanese) counts as one word."""
MAX_MATCHES = 128
"""Lexicon and brand matches read per post, in text order: a post naming more terms
than this is decided on its first ones, so that the rule's work stays bounded on a
hostile text (thousands of matches in 10,000 characters)."""
_VERDICTS_KEPT = 4096  # distinct verdicts a classifier keeps to hand out again

_LANG_RE = re.compile(r"[a-z]{2,3}")
_ID_RE = re.compile(r"[a-z][a-z0-9_]*")
_HANDLE_RE = re.compile(r"@?\w[\w.]{0,49}")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_MENTION_RE = re.compile(r"@(\w+)")  # also "x@att.net": the brand's mail domain
# How customer-care agents sign a reply: "-Duwi", "^JS", "*JohnWard", "Tks-Romeo" at the
# very end (after it only punctuation, emoji, a date in brackets or a link). Not after a
# letter or digit, so "Metro-North" or "4G-LTE" is no signature; initials only after ^ or *
# ("-CC" ends many news posts).
_SIGNATURE_RE = re.compile(
    r"(?:(?<![\w-])|(?<=Tks))(?:[-–—~^°*][A-Z][a-z]{1,14}(?:[A-Z][a-z]{1,14})?|[\^*][A-Z]{2,3})"
    r"[^\w(]*(?:\(\s*\d[^()]*\)[^\w]*)?$"
)
_SIGNATURE_TAIL = 80  # characters of the text the signature is looked for in
_SIGNATURE_MARKS = "-–—~^°*"
_TRAILING_URL_RE = re.compile(r"(?:\s+(?:https?://|www\.)\S*)+\s*$")
_UNDETERMINED = frozenset({"und", "zxx", "mul", "mis"})
_OLD_CODES = {"in": "id", "iw": "he", "ji": "yi", "jw": "jv"}  # still sent by some sources


# --- text normalisation --------------------------------------------------------------------

_URL_RE = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S*", re.IGNORECASE)
_HASHTAG_RE = re.compile(r"#(\w+)")
# Clause punctuation becomes "." so that phrases and negations do not reach across it
# ("decoder non funziona, niente tv" is not "non funziona niente").
_CLAUSE_MARKS = frozenset(".,;:!?\n\r¡¿…。，、；：！？｡､؟،؛।")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Letters written in several interchangeable ways, folded to one (after casefolding):
# Turkish dotless i (so that "BAĞLANTI" and "bağlantı" agree), Russian yo, the Arabic
# hamza-carrying alefs, alef maksura and Persian yeh, teh marbuta; the Arabic tatweel
# (a stretching stroke) and vowel marks are dropped and Eastern Arabic digits become ASCII.
_FOLDS = {
    "ı": "i",
    "ё": "е",
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ی": "ي",
    "ة": "ه",
    "ـ": "",
    **{chr(cp): "" for cp in (*range(0x064B, 0x0660), 0x0670)},
    **{chr(0x0660 + d): str(d) for d in range(10)},
    **{chr(0x06F0 + d): str(d) for d in range(10)},
}

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
        elif c in _FOLDS:
            out = _FOLDS[c]
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


# Arabic writes "and", "so", "with", "for", "like" as one letter glued to the next word
# ("والنت" = "and the net"): a term in Arabic script may follow up to two of them.
_PROCLITICS = frozenset("وفبلك")
_MAX_PROCLITICS = 2


def _arabic(c: str) -> bool:
    return "\u0600" <= c <= "\u06ff"


def _after_proclitics(norm: str, start: int) -> bool:
    """True if the word holding ``start`` begins with at most two proclitics before it."""
    i = start
    while i > 0 and start - i <= _MAX_PROCLITICS and _joins(norm[i - 1]):
        i -= 1  # no further than a proclitic too many: a word may be 10,000 letters long
    return start - i <= _MAX_PROCLITICS and all(c in _PROCLITICS for c in norm[i:start])


def _joins(c: str) -> bool:
    """True if ``c`` would glue a match to a longer word (a letter, digit or mark of a
    script written with spaces)."""
    cp = ord(c)
    if cp < 0x10000:
        return _JOINS[cp] == 1
    return c.isalnum() and not _no_space_script(cp)


def _signed(text: str) -> bool:
    """True if the text is a reply (it starts with an @mention) ending with a customer-care
    agent's signature.

    >>> _signed("@ann Kirim nomor internetnya ke DM ya. -Duwi"), _signed("@bo hi ^JS http://x.y")
    (True, True)
    >>> _signed("Phone lines down -Reuters"), _signed("@ann no signal on Metro-North")
    (False, False)
    """
    if not text.lstrip().startswith("@"):
        return False
    tail = text[-2 * _SIGNATURE_TAIL :]  # room for links after the signature
    if not any(mark in tail for mark in _SIGNATURE_MARKS):  # most posts: no regex run
        return False
    if "http" in tail or "www." in tail:
        tail = _TRAILING_URL_RE.sub("", tail)
    return _SIGNATURE_RE.search(tail[-_SIGNATURE_TAIL:]) is not None


def _split_hashtag(m: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", m.group(1)) + " "


def normalize_text(text: str) -> str:
    """Text reduced to lower-case words separated by single spaces.

    Casefolds; strips accents from Latin letters (other scripts are kept as they are) and
    folds letters typed interchangeably (Turkish ``ı`` -> ``i``, Russian ``ё`` -> ``е``,
    Arabic alef, yeh and teh marbuta variants; Arabic vowel marks and tatweel dropped);
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
    >>> normalize_text("BAĞLANTI YOK, bağlantı yok; İnternet")
    'baglanti yok. baglanti yok. internet'
    >>> normalize_text("Всё ещё нет связи"), normalize_text("لا توجد شبكةٌ، النـــت فاصل")
    ('все еще нет связи', 'لا توجد شبكه. النت فاصل')
    """
    if "://" in text or "www." in text or "WWW." in text:
        text = _URL_RE.sub(" ", text)
    if "#" in text:
        text = _HASHTAG_RE.sub(_split_hashtag, text)
    if text.isascii():
        return b" ".join(text.encode().translate(_ASCII_MAP).split()).decode()
    # Most Italian, French and Spanish posts without emoji are Latin-1 (nothing dropped
    # when encoding; "ignore" costs less than the exception "strict" raises otherwise).
    data = text.encode("latin-1", "ignore")
    if len(data) == len(text):
        data = data.translate(_LATIN1_MAP)
        if 0 not in data:
            return b" ".join(data.split()).decode()
    return _normalize_general(text)


def _normalize_general(text: str) -> str:
    """The slow path of :func:`normalize_text` (after URLs and hashtags), for any text."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TABLE)
    return " ".join(text.split())


def _pattern(value: str, where: str) -> tuple[str, bool, bool]:
    """A lexicon or brand-name entry -> (normalised text, open start, open end).

    A leading or trailing ``*`` lets the match start or end inside a longer word
    (``интернет*`` also matches ``интернета``; ``*störung`` also ``netzstörung``).
    """
    raw = value.strip()
    core = raw.strip("*")
    if "*" in core:
        raise ConfigError(where, value, "'*' may only start or end a term")
    text = normalize_text(core)
    if not any(c.isalnum() for c in text):
        raise ConfigError(where, value, "term has no letters")
    return text, raw.startswith("*"), raw.endswith("*")


# --- lexicon -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LexiconTerm:
    """One term of one table: ``text`` is normalised; ``label`` is the category (service,
    generic, strong), the tech tag, the exclude group, ``"opinion"`` (a weak problem term) or
    ``"terms"``. ``open_start`` /
    ``open_end``: the match may begin / end inside a longer word (``*`` in the file)."""

    text: str
    role: str
    label: str
    lang: str
    open_start: bool = False
    open_end: bool = False


def _bundled() -> dict[str, Traversable]:
    root = resources.files("models") / "lexicons"
    found = {
        p.name[: -len(".toml")]: p
        for p in root.iterdir()
        if p.name.endswith(".toml") and _LANG_RE.fullmatch(p.name[: -len(".toml")])
    }
    return dict(sorted(found.items()))


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(where, value, "must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{where}[{i}]", item, "must be a string")
    return value


def _read_toml(source: str, raw: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(source, str(exc), "not a valid UTF-8 TOML file") from None


def _parse_langid(body: Any, source: str, lang: str) -> LanguageProfile:
    where = f"{source} [langid]"
    if not isinstance(body, dict):
        raise ConfigError(where, body, "must be a table")
    for key in body:
        if key not in LANGID_KEYS:
            raise ConfigError(where, key, f"unknown key; expected one of: {', '.join(LANGID_KEYS)}")
    scripts = tuple(_str_list(body.get("scripts", []), f"{where} scripts"))
    words = _str_list(body.get("stopwords", []), f"{where} stopwords")
    letters = body.get("letters", "")
    if not isinstance(letters, str):
        raise ConfigError(f"{where} letters", letters, "must be a string of letters")
    stopwords = frozenset(w for word in words for w in normalize_text(word).split())
    try:
        return LanguageProfile(lang, scripts, stopwords, frozenset(letters.replace(" ", "")))
    except ConfigError as exc:
        raise ConfigError(f"{source} {exc.setting}", exc.value, exc.problem) from None


def _parse(
    data: dict[str, Any], source: str, expect_lang: str | None
) -> tuple[list[LexiconTerm], LanguageProfile | None]:
    lang = data.get("lang")
    if not isinstance(lang, str) or not _LANG_RE.fullmatch(lang):
        raise ConfigError(f"{source} lang", lang, "must be a 2 or 3 letter lower-case code")
    if expect_lang is not None and lang != expect_lang:
        raise ConfigError(f"{source} lang", lang, f"must match the file name ({expect_lang!r})")
    terms: list[LexiconTerm] = []
    profile = None
    seen: dict[str, str] = {}  # normalised term -> first role, to catch exclude conflicts
    for table, body in data.items():
        if table == "lang":
            continue
        if table == "langid":
            profile = _parse_langid(body, source, lang)
            continue
        if table not in ROLES:
            expected = ", ".join(["lang", *ROLES, "langid"])
            raise ConfigError(source, table, f"unknown table; expected one of: {expected}")
        if not isinstance(body, dict):
            raise ConfigError(f"{source} [{table}]", body, "must be a table of term lists")
        kind = ROLES[table]
        for key, values in body.items():
            where = f"{source} [{table}]"
            allowed = (*CATEGORIES, ANY_SERVICE) if table == "strong" else CATEGORIES
            if kind == "category" and key not in allowed:
                raise ConfigError(
                    where, key, f"unknown category; expected one of: {', '.join(allowed)}"
                )
            if kind == "tag" and key not in TECH_TAGS:
                raise ConfigError(
                    where, key, f"unknown tech tag; expected one of: {', '.join(TECH_TAGS)}"
                )
            if kind == "terms" and key != "terms":
                raise ConfigError(where, key, "unknown key; this table has only 'terms'")
            if kind == "strength" and key not in ("terms", OPINION):
                raise ConfigError(where, key, f"unknown key; expected one of: terms, {OPINION}")
            if kind == "group" and not _ID_RE.fullmatch(key):
                raise ConfigError(where, key, "group names are lower-case identifiers")
            for i, value in enumerate(_str_list(values, f"{where} {key}")):
                text, open_start, open_end = _pattern(value, f"{where} {key}[{i}]")
                first = seen.setdefault(text, table)
                if first != table and "exclude" in (first, table):
                    raise ConfigError(
                        f"{where} {key}[{i}]", value, f"also in [{first}]; cannot be both"
                    )
                terms.append(LexiconTerm(text, table, key, lang, open_start, open_end))
    return terms, profile


@dataclass(frozen=True)
class Lexicon:
    """The relevance terms of one or more languages, normalised and checked, and the
    profiles that identify those languages (the ``[langid]`` scripts, stop words and
    letters of each file, plus the words of its terms)."""

    langs: tuple[str, ...]
    terms: tuple[LexiconTerm, ...]
    sources: tuple[str, ...] = ()
    profiles: tuple[LanguageProfile, ...] = ()

    @staticmethod
    def bundled() -> tuple[str, ...]:
        """The languages shipped in ``models/lexicons``."""
        return tuple(_bundled())

    @classmethod
    def load(cls, langs: Sequence[str] | None = None, paths: Sequence[Path] = ()) -> Lexicon:
        """Bundled lexicons of ``langs`` (``None``: every bundled one, ``()``: none), then
        the files in ``paths``. Files of the same language are merged; a malformed file
        raises :class:`ConfigError` naming the file and the bad key or value.

        >>> lex = Lexicon.load(["en", "it"])
        >>> lex.langs, [p.lang for p in lex.profiles]
        (('en', 'it'), ['en', 'it'])
        """
        bundled = _bundled()
        if isinstance(langs, str):
            langs = (langs,)
        wanted = list(bundled) if langs is None else list(dict.fromkeys(langs))
        terms: list[LexiconTerm] = []
        profiles: list[LanguageProfile] = []
        sources: list[str] = []

        def add(source: str, raw: bytes, expect: str | None) -> None:
            found, profile = _parse(_read_toml(source, raw), source, expect)
            terms.extend(found)
            if profile is not None:
                profiles.append(profile)
            sources.append(source)

        for lang in wanted:
            if lang not in bundled:
                available = ", ".join(bundled) or "none"
                raise ConfigError("lexicon langs", lang, f"no bundled lexicon ({available})")
            res = bundled[lang]
            add(str(res), res.read_bytes(), lang)
        for path in paths:
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(str(path), exc.strerror, "cannot read lexicon file") from None
            add(str(path), raw, None)
        seen = dict.fromkeys(t.lang for t in terms)
        order = tuple(dict.fromkeys([*(x for x in wanted if x in seen), *seen]))
        unique = tuple(dict.fromkeys(terms))
        return cls(order, unique, tuple(sources), _profiles(profiles, unique))


def _profiles(
    profiles: list[LanguageProfile], terms: Iterable[LexiconTerm]
) -> tuple[LanguageProfile, ...]:
    """One profile per language with a [langid] table (files of a language merged), its
    other words the words of the language's terms."""
    words: dict[str, set[str]] = {}
    for t in terms:
        words.setdefault(t.lang, set()).update(w for w in t.text.split() if w != ".")
    merged: dict[str, LanguageProfile] = {}
    for p in profiles:
        merged[p.lang] = merged[p.lang].merge(p) if p.lang in merged else p
    return tuple(
        replace(p, other_words=p.other_words | frozenset(words.get(p.lang, ())))
        for p in merged.values()
    )


# --- brands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Brand:
    """One operator: ``names`` it is written as in posts (as in the file: matched like
    lexicon terms, ``*`` included), ``handles`` of its accounts (casefolded, no ``@``),
    ``countries`` (ISO 3166-1 alpha-2), ``accounts``: exact ``Post.author`` values of its
    accounts (``twitter:<user id>``...), ``category``: the service a post naming only the
    operator is filed under (``None``: ``total_outage``)."""

    id: str
    names: tuple[str, ...]
    handles: tuple[str, ...]
    countries: tuple[str, ...]
    accounts: tuple[str, ...] = ()
    category: str | None = None


_BRAND_KEYS = ("names", "handles", "accounts", "countries", "category")


def _parse_brand(bid: str, body: Any, source: str) -> Brand:
    where = f"{source} [{bid}]"
    if not _ID_RE.fullmatch(bid):
        raise ConfigError(source, bid, "brand ids are lower-case identifiers")
    if not isinstance(body, dict):
        raise ConfigError(where, body, "must be a table of names, handles, countries")
    for key in body:
        if key not in _BRAND_KEYS:
            raise ConfigError(where, key, f"unknown key; expected one of: {', '.join(_BRAND_KEYS)}")
    names = _str_list(body.get("names", []), f"{where} names")
    for i, name in enumerate(names):
        _pattern(name, f"{where} names[{i}]")  # checked here, compiled by the classifier
    handles = _str_list(body.get("handles", []), f"{where} handles")
    for i, handle in enumerate(handles):
        if not _HANDLE_RE.fullmatch(handle):
            raise ConfigError(f"{where} handles[{i}]", handle, "not a handle (@name)")
    countries = _str_list(body.get("countries", []), f"{where} countries")
    for i, country in enumerate(countries):
        if not _COUNTRY_RE.fullmatch(country):
            raise ConfigError(f"{where} countries[{i}]", country, "not an ISO 3166 code (FR)")
    accounts = _str_list(body.get("accounts", []), f"{where} accounts")
    category = body.get("category")
    if category is not None and category not in CATEGORIES:
        raise ConfigError(
            f"{where} category", category, f"expected one of: {', '.join(CATEGORIES)}"
        )
    if not (names or handles or accounts):
        raise ConfigError(where, body, "needs names, handles or accounts")
    return Brand(
        bid,
        tuple(dict.fromkeys(names)),
        tuple(dict.fromkeys(h.lstrip("@").casefold() for h in handles)),
        tuple(dict.fromkeys(countries)),
        tuple(dict.fromkeys(accounts)),
        category,
    )


@dataclass(frozen=True)
class Brands:
    """The brand lexicon: telecom operators, the names and handles they are mentioned by,
    and the accounts they post from (a post by one of them is an operator reply).

    >>> b = Brands.load()
    >>> b.of_author("VerizonSupport"), b.of_author("mastodon:ann@x.y"), b.of_handle("@ATT")
    ('verizon', None, 'att')
    """

    brands: tuple[Brand, ...]
    source: str = ""
    _handles: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _accounts: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Brands:
        """The brand file at ``path`` (``None`` or ``""``: the bundled ``brands.toml``).
        A malformed file raises :class:`ConfigError` naming the file, brand and value."""
        if path:
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(str(path), exc.strerror, "cannot read brand file") from None
            source = str(path)
        else:
            res = resources.files("models") / "lexicons" / "brands.toml"
            raw, source = res.read_bytes(), str(res)
        data = _read_toml(source, raw)
        brands = tuple(_parse_brand(bid, body, source) for bid, body in data.items())
        try:
            return cls(brands, source)
        except ConfigError as exc:
            raise ConfigError(f"{source} {exc.setting}", exc.value, exc.problem) from None

    def __post_init__(self) -> None:
        for b in self.brands:
            for table, keys in ((self._handles, b.handles), (self._accounts, b.accounts)):
                for key in keys:
                    if table.setdefault(key, b.id) != b.id:
                        raise ConfigError(f"[{b.id}]", key, f"also an account of {table[key]}")

    def handle_map(self) -> dict[str, str]:
        """Handle (casefolded, no ``@``) -> brand id."""
        return dict(self._handles)

    def of_handle(self, handle: str) -> str | None:
        """The brand whose account has this handle (with or without ``@``, any case)."""
        return self._handles.get(handle.lstrip("@").casefold())

    def of_author(self, author: str | None) -> str | None:
        """The brand a post's author is an account of: an exact ``accounts`` entry, or a
        handle after any ``platform:`` prefix and ``@``, without a Mastodon ``@instance``."""
        if not author:
            return None
        exact = self._accounts.get(author)
        if exact is not None:
            return exact
        if ":" in author or "@" in author:  # most authors are a bare handle
            author = author.rsplit(":", 1)[-1].lstrip("@").split("@", 1)[0]
        return self._handles.get(author.casefold())


# --- classifier ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relevance:
    """The verdict on one post.

    ``terms`` are the normalised lexicon terms found in the text that count in the post's
    language, in text order (the evidence, exclusions, negators and reply phrases
    included); ``tech`` the technology tags mentioned; ``lang`` the post's language tag
    if it had one, else the identified language (``None`` if unknown); ``brands`` the
    sorted ids of the operators mentioned by name or handle (not evidence of a fault);
    ``operator`` the brand whose account wrote the post (then it is not relevant);
    ``reply`` whether the text reads as an operator's reply (a ``[reply]`` phrase, or an
    agent's signature ending it: "... -Duwi", "^JS"; then it is not relevant either).
    ``score`` is 0 when not relevant.
    """

    relevant: bool
    category: str | None
    score: float
    terms: tuple[str, ...]
    tech: tuple[str, ...]
    lang: str | None
    brands: tuple[str, ...] = ()
    operator: str | None = None
    reply: bool = False


# Role bits of a term (a term may have several roles, in one language or across languages).
(
    _STRONG,
    _SERVICE,
    _GENERIC,
    _CONTEXT,
    _PROBLEM,
    _OUTAGE,
    _NEGATION,
    _EXCLUDE,
    _RESOLVED,
    _TECH,
    _REPLY,
    _BRAND,
) = (1 << i for i in range(12))
_EVIDENCE = _SERVICE | _GENERIC
_ROLE_BITS = {
    "strong": _STRONG,
    "service": _SERVICE,
    "generic": _GENERIC,
    "context": _CONTEXT,
    "problem": _PROBLEM,
    "outage": _PROBLEM | _OUTAGE,  # a problem term that also pairs with an operator's name
    "negation": _NEGATION,
    "exclude": _EXCLUDE,
    "resolved": _RESOLVED,
    "tech": _TECH,
    "reply": _REPLY,
    "brand": _BRAND,
}
# Roles that count only in their own language when the post's language is known; strong
# phrases, reply phrases, tech tags and brand names count whatever the language.
_SCOPED = _SERVICE | _GENERIC | _CONTEXT | _PROBLEM | _OUTAGE | _NEGATION | _EXCLUDE | _RESOLVED
_SET_ASIDE = _EXCLUDE | _RESOLVED


class _Term:
    """Everything the decision needs about one normalised term, across languages."""

    __slots__ = (
        "brands",
        "generic",
        "kind",
        "left",
        "plain",
        "problem",
        "proclitic",
        "right",
        "service",
        "service_mask",
        "size",
        "strong",
        "tech",
        "text",
        "variants",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = len(text)
        self.left = _joins(text[0])  # check the left neighbour only if it could glue on
        self.right = _joins(text[-1])
        self.proclitic = _arabic(text[0])  # may follow Arabic proclitics in the same word
        # role bits when the post's language is langs[i]; the last entry (index -1): when
        # the language is unknown or has no lexicon (every language's roles)
        self.kind: tuple[int, ...] = ()
        self.strong: str | None = None  # categories (first language wins on a conflict)
        self.service: str | None = None
        self.generic: str | None = None
        # languages in which it names a service (specific, generic or with an operator)
        self.service_mask = 0
        self.problem = 0  # languages in which it is a problem term
        self.plain = 0  # ... a problem term that is not an opinion word (pairs with generic)
        self.tech: str | None = None
        self.brands: tuple[str, ...] = ()
        # the same text matched inside a longer word, by context index (glued on the
        # left) * 2 + (glued on the right); None: no open-ended entry for the text
        self.variants: tuple[_Term | None, ...] | None = None

    def add(self, role: str, label: str, lang: int) -> None:
        """Take the label and language of one more role (``lang``: -1 for brand names)."""
        if role == "strong":
            self.strong = self.strong or label
        elif role == "service":
            self.service = self.service or label
        elif role == "generic":
            self.generic = self.generic or label
        elif role == "tech":
            self.tech = self.tech or label
        elif role == "brand":
            self.brands = (*self.brands, label)
        if role in ("service", "generic", "context"):
            self.service_mask |= 1 << lang
        elif role in ("problem", "outage"):
            self.problem |= 1 << lang
            if label != OPINION:
                self.plain |= 1 << lang


_Hit = tuple[int, int, _Term, int]  # start, end (exclusive), term, its roles in this post
# relevant, category, score, terms, tech, reply: a verdict but for its language and operators
_Decision = tuple[bool, str | None, float, tuple[str, ...], tuple[str, ...], bool]
_Entry = tuple[str, str, int, bool, bool]  # role, label, language index, open start, open end


def _compile(text: str, entries: list[_Entry], n_langs: int) -> _Term:
    """The term for ``text``, with a variant per glued context if some entry is open."""

    def build(keep: list[_Entry]) -> _Term:
        term = _Term(text)
        kind = [0] * (n_langs + 1)
        for role, label, lang, _, _ in keep:
            term.add(role, label, lang)
            bit = _ROLE_BITS[role]
            if bit & _SCOPED:
                kind[lang] |= bit
                kind[-1] |= bit
            else:
                kind = [k | bit for k in kind]
        term.kind = tuple(kind)
        return term

    whole = build(entries)
    if any(e[3] or e[4] for e in entries):
        variants: list[_Term | None] = [whole]
        for glued_left, glued_right in ((False, True), (True, False), (True, True)):
            keep = [e for e in entries if (e[3] or not glued_left) and (e[4] or not glued_right)]
            variants.append(build(keep) if keep else None)
        whole.variants = tuple(variants)
    return whole


def _automaton(terms: dict[str, _Term]) -> Any:
    """An Aho-Corasick automaton of ``terms`` (text -> term), or None if there are none."""
    if not terms:
        return None
    automaton = ahocorasick.Automaton()
    for text in sorted(terms):  # in order: the nodes of a branch lie together in memory
        automaton.add_word(text, terms[text])
    automaton.make_automaton()
    return automaton


def _first_non_ascii(text: str) -> str:
    return next(c for c in text if not c.isascii())


def _any_of(chars: Iterable[str]) -> re.Pattern[str]:
    """A pattern finding any of ``chars`` (none: never found)."""
    found = sorted(set(chars))
    return re.compile(f"[{''.join(map(re.escape, found))}]" if found else "(?!)")


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

    Matching: every term of every language and every brand name is in one automaton (two
    in fact: ASCII terms, and the others for texts that need them); a match must not be
    glued to a letter or digit on either side, unless its entry is open on that side
    (``*``) or, for Arabic, what glues on the left is one or two of the proclitics
    و ف ب ل ك ("والنت"); no such check next to CJK, Thai and other scripts written
    without spaces. ``@handles`` of the brand lexicon are looked up apart.

    Language: the post's tag, else the one the lexicons' profiles identify
    (:class:`~models.langid.LanguageIdentifier`). When it is one of the lexicon's
    languages, only that language's service, generic, context, problem, negation and
    exclude terms count (Dutch "storing" says nothing in an English post); strong phrases, reply
    phrases, tech tags and brands count in any language. Unknown language: all count.

    Decision:

    0. **Operator replies.** A post whose author is an account of the brand lexicon, that
       holds a ``[reply]`` phrase (what only an operator writes: "please DM us"), or that
       starts with an @mention and ends with an agent's signature ("... ya Kak. -Duwi",
       "^JS") is not relevant.
    1. **Exclusion.** If an ``[exclude]`` phrase occurs, every match overlapping it is
       ignored, and the post is not relevant unless a ``[strong]`` phrase remains; an
       exclude phrase inside a longer strong phrase does not count ("no signal on tv"
       holds "on tv", "apagón de internet" holds "apagón"). A
       ``[resolved]`` phrase ("back to normal") acts the same way and also sets aside
       every match before it: only a strong phrase after it keeps the post relevant.
    2. **Negation.** A ``[problem]`` match is ignored when a ``[negation]`` term ends at
       most 2 words before it ("isn't down", "non è down", "n'est pas en panne").
    3. **Relevant** if a ``[strong]`` phrase matched, or a ``[service]``/``[generic]`` term
       and a ``[problem]`` term of a common language at most :data:`PAIR_WINDOW` words
       apart (so Spanish "red" never pairs with English "not working"), or an operator
       (name or handle) and an ``[outage]`` term ("SFR en panne", "@Verizon down?"), or
       an operator, a ``[context]`` word and a ``[problem]`` term as near ("@Comcast wifi
       so slow": with an operator named, "wifi" and "my service" mean its service).
       Opinion words (``[problem] opinion``: "trash", "sampah") pair with a ``[generic]``
       term only when an operator is named ("so much garbage on the internet" is no report). A
       brand alone, or with a milder problem word and no context word ("@Verizon slow
       app"), is never evidence.
    4. **Category**: ``total_outage`` if a strong phrase or a paired service term says so;
       else the most mentioned ``[service]`` category (ties: earliest); else the most
       mentioned category of the strong phrases that name a service (not those under
       ``any``: "is there an outage?"); else the category hinted at by a ``[tech]`` tag
       (4g -> mobile_data, fibre -> fixed_broadband...); else the ``[generic]`` one; else
       the operator's ``category`` in the brand lexicon (``total_outage`` if none).
       Phrases inside a longer phrase of the same table do not vote.
    5. **Score**: 0.9 for a strong phrase, 0.75 for a specific service and a problem,
       0.6 for a generic or context word or an operator and a problem; +0.05 for each
       further distinct term of evidence (service, generic, problem) outside the strong
       phrases and not inside a longer one, at most +0.1. 0.0 when not relevant.
    """

    def __init__(self, lexicon: Lexicon | None = None, brands: Brands | None = None) -> None:
        self.lexicon = lexicon if lexicon is not None else Lexicon.load()
        self.brands = brands if brands is not None else Brands.load()
        self.langs = self.lexicon.langs
        self.identifier = LanguageIdentifier(self.lexicon.profiles, normalize_text)
        self._lang_index: dict[str | None, int] = {lang: i for i, lang in enumerate(self.langs)}
        entries: dict[str, list[_Entry]] = {}
        for t in self.lexicon.terms:
            entry = (t.role, t.label, self._lang_index[t.lang], t.open_start, t.open_end)
            entries.setdefault(t.text, []).append(entry)
        for b in self.brands.brands:
            for name in b.names:
                text, open_start, open_end = _pattern(name, f"{self.brands.source} [{b.id}]")
                entries.setdefault(text, []).append(("brand", b.id, -1, open_start, open_end))
        n = len(self.langs)
        self._terms = {text: _compile(text, found, n) for text, found in entries.items()}
        # Two automata: ASCII terms, and the others, scanned only for texts that are not
        # ASCII after normalisation (most Latin-script posts are). Hundreds of CJK first
        # characters would otherwise slow every step from the root.
        self._ascii = _automaton({t: e for t, e in self._terms.items() if t.isascii()})
        self._other = _automaton({t: e for t, e in self._terms.items() if not t.isascii()})
        # Each of those holds a character outside ASCII, the first of which the text must
        # hold too: most texts that are not ASCII (emoji, curly quotes) have none of them.
        self._other_keys = _any_of(_first_non_ascii(t) for t in self._terms if not t.isascii())
        self._handles = self.brands.handle_map()
        self._brand_category = {b.id: b.category for b in self.brands.brands}
        self._verdicts: dict[tuple[Any, ...], Relevance] = {}
        self._lang_cache: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return (
            f"RelevanceClassifier(langs={self.langs!r}, terms={len(self._terms)}, "
            f"brands={len(self.brands.brands)})"
        )

    def classify(self, post: Post) -> Relevance:
        """The verdict on a post: its ``lang`` (if any) is the verdict's ``lang``, and a
        post by an operator account (``author`` in the brand lexicon) is not relevant."""
        return self.classify_text(post.text, post.lang, post.author)

    def classify_text(
        self, text: str, lang: str | None = None, author: str | None = None
    ) -> Relevance:
        """The verdict on raw post text; ``lang`` is the post's language tag, if known,
        ``author`` its author (``Post.author``), if known.

        >>> clf = RelevanceClassifier(Lexicon.load(["en", "it"]))
        >>> r = clf.classify_text("No signal on my phone since this morning @Verizon")
        >>> r.relevant, r.category, r.score, r.lang, r.brands
        (True, 'mobile_data', 0.9, 'en', ('verizon',))
        >>> r = clf.classify_text("il 4G non funziona da stamattina", lang="it-IT")
        >>> r.relevant, r.category, r.tech, r.lang
        (True, 'mobile_data', ('4g',), 'it')
        >>> clf.classify_text("my internet isn't down anymore").relevant
        False
        >>> r = clf.classify_text("great social network post, the network is down lol")
        >>> r.relevant, r.score, r.terms
        (False, 0.0, ('social network', 'network', 'down'))
        >>> r = clf.classify_text("@ann sorry about the outage, no signal? DM us", author="ATT")
        >>> r.relevant, r.operator
        (False, 'att')
        """
        lang = self._norm_lang(lang) if lang is not None else None
        norm = normalize_text(text)
        if lang is None and norm:
            lang = self.identifier.identify(text, norm)
        li = self._lang_index.get(lang, -1)
        hits: list[_Hit] = []
        found: list[tuple[int, int, tuple[str, ...]]] = []
        kinds = 0  # the roles of all hits
        if norm:
            if self._ascii is not None:
                kinds = self._scan(self._ascii, norm, li, hits, found)
            if not norm.isascii() and self._other_keys.search(norm):
                kinds |= self._scan(self._other, norm, li, hits, found)
        brands = self._brands(text, found) if found or "@" in text else ()
        operator = self.brands.of_author(author)
        if not hits:
            reply = _signed(text) if brands or operator else False
            return self._verdict(False, None, 0.0, (), (), lang, brands, operator, reply)
        hits.sort()  # by start, then end (two hits never share both: one term per text)
        relevant, category, score, terms, tech, reply = self._decide(
            norm, hits, kinds, li, brands, _signed(text)
        )
        if operator is not None:
            relevant, category, score = False, None, 0.0
        return self._verdict(relevant, category, score, terms, tech, lang, brands, operator, reply)

    # --- internals -------------------------------------------------------------------------

    def _verdict(
        self,
        relevant: bool,
        category: str | None,
        score: float,
        terms: tuple[str, ...],
        tech: tuple[str, ...],
        lang: str | None,
        brands: tuple[str, ...],
        operator: str | None,
        reply: bool,
    ) -> Relevance:
        """The :class:`Relevance` with these fields: the one made for an earlier post with
        the same, if any (verdicts repeat, and finding one costs less than making it)."""
        key = (relevant, category, score, terms, tech, lang, brands, operator, reply)
        verdict = self._verdicts.get(key)
        if verdict is None:
            if len(self._verdicts) >= _VERDICTS_KEPT:
                self._verdicts.clear()
            verdict = self._verdicts[key] = Relevance(*key)
        return verdict

    def _norm_lang(self, lang: str) -> str | None:
        cached = self._lang_cache.get(lang, "")
        if cached != "":
            return cached
        code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
        code = _OLD_CODES.get(code, code)
        private = len(code) == 3 and "qaa" <= code <= "qtz"  # Twitter's qme, qht...
        result = None if not code or code in _UNDETERMINED or private else code
        if len(self._lang_cache) < 1024:
            self._lang_cache[lang] = result
        return result

    @staticmethod
    def _scan(
        automaton: Any,
        norm: str,
        li: int,
        hits: list[_Hit],
        found: list[tuple[int, int, tuple[str, ...]]],
    ) -> int:
        """Add to ``hits`` the lexicon matches counting in language ``li`` and to
        ``found`` the brand-name matches, up to :data:`MAX_MATCHES` in all; return the
        roles of the hits added."""
        last = len(norm) - 1
        kinds = 0
        room = MAX_MATCHES - len(hits) - len(found)
        for end, term in automaton.iter(norm):
            if room <= 0:
                break
            start = end - term.size + 1
            # the context, as a variant index: 2 if glued on the left, + 1 on the right
            # (most neighbours are spaces: no _joins() call for them)
            glued = 0
            if term.left and start > 0:
                c = norm[start - 1]
                if (
                    c != " "
                    and _joins(c)
                    and not (term.proclitic and _after_proclitics(norm, start))
                ):
                    if term.variants is None:
                        continue
                    glued = 2
            if term.right and end < last:
                c = norm[end + 1]
                if c != " " and _joins(c):
                    if term.variants is None:
                        continue
                    glued += 1
            if glued:
                term = term.variants[glued]
                if term is None:
                    continue
            kind = term.kind[li]
            if kind & _BRAND:
                found.append((start, end + 1, term.brands))
                kind &= ~_BRAND
                room -= 1
            if kind:
                hits.append((start, end + 1, term, kind))
                kinds |= kind
                room -= 1
        return kinds

    def _brands(self, text: str, found: list[tuple[int, int, tuple[str, ...]]]) -> tuple[str, ...]:
        """Sorted brand ids: names not overlapping a longer brand name ("at t" in "at
        t mobile", "telekom" in "turk telekom"), and known @handles."""
        ids: set[str] = set()
        for s, e, names in found:
            if not any(o[0] < e and s < o[1] and o[1] - o[0] > e - s for o in found):
                ids.update(names)
        if "@" in text:
            get = self._handles.get
            for handle in _MENTION_RE.findall(text):
                brand = get(handle.casefold())
                if brand is not None:
                    ids.add(brand)
        return tuple(sorted(ids))

    def _decide(
        self,
        norm: str,
        hits: list[_Hit],
        kinds: int,
        li: int,
        brands: tuple[str, ...],
        signed: bool,
    ) -> _Decision:
        """The decision on the sorted ``hits`` (their roles: ``kinds``) in language ``li``."""
        if len(hits) == 1:
            terms: tuple[str, ...] = (hits[0][2].text,)
        else:
            terms = tuple(dict.fromkeys([h[2].text for h in hits]))
        if kinds & _REPLY or signed:
            return False, None, 0.0, terms, (), True
        if kinds & _SET_ASIDE:
            if not kinds & _STRONG:  # setting hits aside leaves no strong phrase either
                return False, None, 0.0, terms, (), False
            phrases = [h for h in hits if h[3] & _STRONG]
            spans = [
                (h[0], h[1])
                for h in hits
                if h[3] & _SET_ASIDE and not (h[3] & _EXCLUDE and _inside_longer(h, phrases))
            ]
            over = max((h[1] for h in hits if h[3] & _RESOLVED), default=0)
            hits = [
                h
                for h in hits
                if not h[3] & _SET_ASIDE
                and h[0] >= over
                and all(h[1] <= xs or h[0] >= xe for xs, xe in spans)
            ]
            kinds = 0
            for h in hits:
                kinds |= h[3]
            if not kinds & _STRONG:
                return False, None, 0.0, terms, (), False
        evidence_kinds = _EVIDENCE | _CONTEXT | _OUTAGE if brands else _EVIDENCE
        if not (kinds & _STRONG or (kinds & _PROBLEM and kinds & evidence_kinds)):
            tech = tuple(dict.fromkeys([h[2].tech for h in hits if h[2].tech]))
            return False, None, 0.0, terms, tech, False

        negators = [h[1] for h in hits if h[3] & _NEGATION] if kinds & _NEGATION else None
        strong: list[_Hit] = []
        service: list[_Hit] = []
        generic: list[_Hit] = []
        problems: list[_Hit] = []
        techs: list[str] = []
        problem_mask = 0  # languages of the problem terms
        problem_kinds = 0  # roles of the problem terms
        context: list[_Hit] = []  # context words: they name a service with an operator named
        for h in hits:
            t, kind = h[2], h[3]
            if kind & _STRONG:
                strong.append(h)
            if kind & _SERVICE:
                service.append(h)
            elif kind & _GENERIC:
                generic.append(h)
            elif kind & _CONTEXT:
                context.append(h)
            if kind & _PROBLEM and not (negators and _negated(norm, h[0], negators)):
                problem_mask |= t.problem
                problem_kinds |= kind
                problems.append(h)
            tag = t.tech
            if tag is not None and tag not in techs:
                techs.append(tag)
        tech = tuple(techs)
        if li >= 0:
            problem_mask &= 1 << li
        paired_service = _paired(norm, service, problems, problem_mask)
        # without an operator named, opinion words ("trash") say nothing of "the internet"
        paired_generic = _paired(norm, generic, problems, problem_mask, plain=not brands)
        branded = bool(brands) and bool(
            problem_kinds & _OUTAGE or _paired(norm, context, problems, problem_mask)
        )
        if not (strong or paired_service or paired_generic or branded):
            return False, None, 0.0, terms, tech, False

        strong = _outermost(strong)
        service = _outermost(service)
        named = [h for h in strong if h[2].strong != ANY_SERVICE]
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
        elif named:
            category = _majority(named, "strong")
        else:
            for tag in tech:
                category = TECH_CATEGORY.get(tag, "")
                if category:
                    break
            else:
                if paired_generic:
                    category = _majority(paired_generic, "generic")
                else:  # an operator and an outage word or a context word: its service
                    services = {c for b in brands if (c := self._brand_category[b])}
                    category = services.pop() if len(services) == 1 else "total_outage"

        # Evidence: the strong phrases, plus service, generic and problem terms that are
        # neither inside a longer one nor inside a strong phrase.
        if strong:
            score = 0.9
            evidence = len(strong) - 1
        else:
            score = 0.75 if paired_service else 0.6
            evidence = -2
        outside: set[str] = set()
        for s, e, t, _ in _outermost([*service, *generic, *problems]):
            for o in strong:
                if o[0] <= s and e <= o[1]:
                    break
            else:
                outside.add(t.text)
        evidence += len(outside)
        if evidence > 0:
            score = round(score + 0.05 * min(2, evidence), 2)
        return True, category, score, terms, tech, False


def _within(norm: str, end: int, start: int, words: int) -> bool:
    """At most ``words`` words lie between offsets ``end`` and ``start`` of ``norm`` (the
    spaces in the gap less one; a run of a script written without spaces is one word)."""
    return norm.count(" ", end, start) <= words + 1


def _negated(norm: str, start: int, negator_ends: list[int]) -> bool:
    """A negator ends at most NEGATION_WINDOW words before ``start``, in the same clause."""
    return any(
        end <= start
        and _within(norm, end, start, NEGATION_WINDOW)
        and norm.find(".", end, start) < 0  # a clause mark in the gap breaks the link
        for end in negator_ends
    )


def _paired(
    norm: str, names: list[_Hit], problems: list[_Hit], langs: int, plain: bool = False
) -> list[_Hit]:
    """The hits of ``names`` (service, generic or context words) with a problem term of
    one of their languages (of the bit mask ``langs``) at most PAIR_WINDOW words away;
    ``plain``: opinion words do not count."""
    return [
        h
        for h in names
        if (mask := h[2].service_mask & langs) and _near_problem(norm, h, problems, mask, plain)
    ]


def _near_problem(norm: str, hit: _Hit, problems: list[_Hit], langs: int, plain: bool) -> bool:
    """A problem term (in text order) of a language of ``langs`` overlaps ``hit`` or lies
    at most PAIR_WINDOW words from it. Only the nearest on each side is measured."""
    before = -1  # the end of the nearest problem term before the hit
    for p in problems:
        if not (p[2].plain if plain else p[2].problem) & langs:
            continue
        if p[0] >= hit[1]:  # the nearest after it; those before are already known
            return (before >= 0 and _within(norm, before, hit[0], PAIR_WINDOW)) or _within(
                norm, hit[1], p[0], PAIR_WINDOW
            )
        if p[1] > hit[0]:  # overlapping
            return True
        before = max(before, p[1])
    return before >= 0 and _within(norm, before, hit[0], PAIR_WINDOW)


def _inside_longer(hit: _Hit, phrases: list[_Hit]) -> bool:
    """``hit`` lies inside a longer one of ``phrases``."""
    return any(p[0] <= hit[0] and hit[1] <= p[1] and p[1] - p[0] > hit[1] - hit[0] for p in phrases)
