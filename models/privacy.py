"""Personal data out of what the pipeline keeps: authors become keyed pseudonyms, and
phone numbers and e-mail addresses are masked in any post text an alert carries."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

PSEUDONYM_CHARS = 16

_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.ASCII)
# A phone number: an optional + and country code, then at least 7 digits in groups split
# by spaces, dots, dashes or brackets; years, times and prices are too short to match.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]{5,18}\d(?!\w)")
# What each must contain, found much faster (most posts have neither, mentions are no e-mail)
_MAYBE_EMAIL = re.compile(r"@[\w-]{1,63}\.[\w-]", re.ASCII)
_MAYBE_PHONE = re.compile(r"\d[\d\s().-]{5}")


def pseudonym(key: bytes, who: str) -> str:
    """A keyed hash of an author handle: stable for one key, not reversible without it.

    >>> pseudonym(b"k", "@alice") == pseudonym(b"k", "@alice") != pseudonym(b"j", "@alice")
    True
    >>> len(pseudonym(b"k", "@alice"))
    16
    """
    return _pseudonym(key, who)


@lru_cache(maxsize=1 << 16)
def _pseudonym(key: bytes, who: str) -> str:
    """The keyed hash itself, remembered for the most recent authors (who post again)."""
    return hmac.new(key, who.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


def redact(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers masked.

    >>> redact("no signal, call me on +39 347 123 4567 or mail me@example.com")
    'no signal, call me on [phone] or mail [email]'
    >>> redact("down since 9:30 on 2024-02-22, 5G tower 12 out, (555) 010-9999 no tone")
    'down since 9:30 on 2024-02-22, 5G tower 12 out, [phone] no tone'
    """
    if _MAYBE_EMAIL.search(text):
        text = _EMAIL.sub("[email]", text)
    if _MAYBE_PHONE.search(text):
        text = _PHONE.sub(_phone, text)
    return text


_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")


def _phone(match: re.Match[str]) -> str:
    found = match.group()
    if sum(c.isdigit() for c in found) < 7 or _DATE.fullmatch(found.strip()):
        return found
    return "[phone]"
