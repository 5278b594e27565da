"""Raw input formats: turn native, Twitter v1.1, Twitter v2 or Mastodon JSON into posts.

Every converter builds a native wire dict and hands it to :meth:`Post.from_wire`, so field
validation lives in one place. :func:`native_post` reads the common native shape in one
pass and declines everything else to that path (a property test holds it to the same
answers). Anything malformed raises
:class:`~models.errors.InvalidRecord` with a short, stable reason; a bad tweet of a
Twitter v2 response whose other tweets are good is refused alone (:class:`Decoded`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, NamedTuple, cast

import msgspec

from models.errors import InvalidRecord, describe
from models.records import (
    MAX_FIELD_CHARS,
    MAX_TEXT_CHARS,
    SCHEMA_VERSION,
    Post,
    Private,
    dumps,
    event_ms,
    loads,
)

FORMATS = ("native", "twitter_v1", "twitter_v2", "mastodon")

_NATIVE_KEYS = frozenset(
    {"id", "text", "created_at", "lang", "lon", "lat", "place", "author", "source"}
    | {"is_repost", "reply_to", "schema_version"}
)
# v1.1 streaming messages that are not statuses.
_V1_NOTICES = frozenset(
    ("delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect", "warning")
)
_V1_MARKERS = _V1_NOTICES | {"id_str", "user", "full_text", "extended_tweet", "retweeted_status"}
_TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"
_EMPTY: Mapping[str, Any] = {}

# a tag never holds "<" (Mastodon escapes it as &lt;): a stray "<" cannot make a match
# scan to the end of the text again, so markup costs linear time, however hostile
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p(?:\s[^<>]*)?>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")


class Decoded(NamedTuple):
    """The posts of one raw record, and the parts of it refused alone: a bad tweet of a
    Twitter v2 response whose other tweets are good, as its error and the response with
    that tweet alone in ``data`` (a record of its own, for the dead-letter topic). A
    record of which nothing can be used raises :class:`InvalidRecord` instead."""

    posts: list[Post]
    refused: list[tuple[InvalidRecord, bytes]]


def decode_raw(data: bytes) -> Decoded:
    """Posts from one raw record (a Kafka value or a file line) in any supported format
    (:func:`native_post` first, then :func:`load_raw` and :func:`normalize_raw`).

    >>> decoded = decode_raw(b'{"id": 7, "text": "no 4G", "created_at": 1708594200000}')
    >>> [p.text for p in decoded.posts], decoded.refused
    (['no 4G'], [])
    >>> decode_raw(b'{"delete": {"status": {"id_str": "7"}}}')
    Traceback (most recent call last):
    ...
    models.errors.InvalidRecord: not a post: twitter v1.1 delete notice
    """
    post = native_post(data)
    return Decoded([post], []) if post is not None else normalize_raw(load_raw(data))


_Field = Annotated[str, msgspec.Meta(max_length=MAX_FIELD_CHARS)]


class _Native(msgspec.Struct, forbid_unknown_fields=True):
    """The common shape of a native record: every key a native one, the id written as
    text, each field of its usual type and within the limits ``Post.from_wire`` sets."""

    id: _Field
    text: Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
    created_at: str | int
    lang: _Field | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)] | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)] | None = None
    place: _Field | None = None
    author: _Field | None = None
    source: _Field | None = None
    is_repost: bool = False
    reply_to: _Field | None = None
    schema_version: int = SCHEMA_VERSION


_NATIVE = msgspec.json.Decoder(_Native)


def native_post(data: bytes, private: Private | None = None) -> Post | None:
    """The post of a raw record of :class:`_Native`'s shape, decoded and checked in one
    pass (``private`` applied as by ``Post.from_wire``); None for any other record (other
    formats, watermarks, numeric ids, NUL characters, any fault), which the general path
    judges. Where both answer, they give the same post.

    >>> native_post(b'{"id": "7", "text": "no 4G", "created_at": "2024-02-22T09:30:00Z"}').id
    '7'
    >>> native_post(b'{"id": 7, "text": "no 4G", "created_at": 1708594200000}') is None
    True
    """
    if b"\\u0000" in data:  # NUL characters: removed field by field by the general path
        return None
    try:
        wire = _NATIVE.decode(data)
        created_at_ms = event_ms(wire.created_at)
    except (msgspec.DecodeError, UnicodeDecodeError, InvalidRecord):
        return None
    if wire.schema_version != SCHEMA_VERSION or not wire.id.strip():
        return None
    if (wire.lon is None) != (wire.lat is None):
        return None
    author, text = wire.author or None, wire.text
    if private is not None:
        author, text = private(author, text)
    return Post(
        wire.id,
        text,
        created_at_ms,
        wire.lang or None,
        wire.lon,
        wire.lat,
        wire.place or None,
        author,
        wire.source or None,
        wire.is_repost,
        wire.reply_to or None,
    )


def load_raw(data: bytes) -> object:
    """The JSON value of one raw record; bad bytes give "invalid utf-8", else "invalid json".

    >>> try:
    ...     load_raw(b"\\xff{}")
    ... except InvalidRecord as exc:
    ...     print(exc.reason)
    invalid utf-8
    """
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM on a file's first line
    try:
        return loads(data)
    except InvalidRecord:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRecord("invalid utf-8", str(exc)) from None
        raise


def detect_format(obj: object) -> str:
    """Name of the format of a decoded JSON value, one of :data:`FORMATS`."""
    if not isinstance(obj, Mapping):
        raise InvalidRecord("not an object", type(obj).__name__)
    keys = obj.keys()
    if "schema_version" in keys:
        return "native"
    if "data" in keys:
        return "twitter_v2"
    if "account" in keys and "content" in keys:
        return "mastodon"
    if not keys.isdisjoint(_V1_MARKERS):
        return "twitter_v1"
    if keys and keys <= _NATIVE_KEYS:
        return "native"
    raise InvalidRecord("unknown format", "keys: " + ", ".join(sorted(map(str, keys))[:10]))


def normalize_raw(obj: object, private: Private | None = None) -> Decoded:
    """Posts from a decoded JSON value, ``private`` applied to each (``Post.from_wire``),
    and the parts refused alone (see :class:`Decoded`); raises only :class:`InvalidRecord`."""
    fmt = detect_format(obj)
    try:
        return _CONVERTERS[fmt](cast(Mapping[str, Any], obj), private)
    except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
        raise InvalidRecord(f"malformed {fmt}", f"{type(exc).__name__}: {exc}") from None


# --- helpers ----------------------------------------------------------------------------


def _obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``parent[key]`` as a mapping; absent or null gives an empty one."""
    value = parent.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise InvalidRecord(f"invalid {key}", type(value).__name__)
    return value


def _id(value: Any, key: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidRecord(f"invalid {key}", describe(value))


def _point(value: Any) -> tuple[Any, Any]:
    """(lon, lat) from a GeoJSON Point, (None, None) when absent; ranges checked later."""
    if value is None:
        return None, None
    point = value if isinstance(value, Mapping) else _EMPTY
    coords = point.get("coordinates")
    if point.get("type") != "Point" or not isinstance(coords, list | tuple) or len(coords) != 2:
        raise InvalidRecord("invalid coordinates", describe(value))
    return coords[0], coords[1]


def _lang(value: Any) -> Any:
    return None if value == "und" else value


def _twitter_time(value: Any) -> Any:
    """Epoch ms from v1.1 time text; anything else is left for ``Post.from_wire`` to judge."""
    if isinstance(value, str):
        try:
            return round(datetime.strptime(value, _TWITTER_TIME).timestamp() * 1000)
        except ValueError:
            pass
    return value


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _html_text(content: Any) -> Any:
    """Plain text from Mastodon HTML: breaks become newlines, tags go, entities unescape."""
    if not isinstance(content, str):
        return content
    text = _PARAGRAPH.sub("\n\n", _BREAK.sub("\n", content))
    return html.unescape(_TAG.sub("", text)).strip()


# --- converters -------------------------------------------------------------------------


def _from_native(obj: Mapping[str, Any], private: Private | None) -> Decoded:
    return Decoded([Post.from_wire(obj, private)], [])


def _v1_text(status: Mapping[str, Any]) -> Any:
    return _first(
        _obj(status, "extended_tweet").get("full_text"), status.get("full_text"), status.get("text")
    )


def _from_twitter_v1(obj: Mapping[str, Any], private: Private | None) -> Decoded:
    notice = next((k for k in _V1_NOTICES if k in obj), None)
    if notice is not None and "user" not in obj:
        raise InvalidRecord("not a post", f"twitter v1.1 {notice} notice")
    user, place = _obj(obj, "user"), _obj(obj, "place")
    retweeted = _obj(obj, "retweeted_status")
    user_id = _id(_first(user.get("id_str"), user.get("id")), "user")
    lon, lat = _point(obj.get("coordinates"))
    wire = {
        "id": _first(obj.get("id_str"), obj.get("id")),
        "text": _v1_text(retweeted or obj),
        "created_at": _twitter_time(obj.get("created_at")),
        "lang": _lang(obj.get("lang")),
        "lon": lon,
        "lat": lat,
        "place": _first(place.get("full_name"), user.get("location")),
        "author": f"twitter:{user_id}" if user_id else None,
        "source": "twitter",
        "is_repost": bool(retweeted),
        "reply_to": _id(
            _first(obj.get("in_reply_to_status_id_str"), obj.get("in_reply_to_status_id")),
            "in_reply_to_status_id",
        ),
    }
    return Decoded([Post.from_wire(wire, private)], [])


def _index(includes: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    """``includes[key]`` (a list of objects with ids) keyed by id."""
    items = includes.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise InvalidRecord("invalid includes", f"includes.{key}")
    return {i: item for item in items if (i := _id(item.get("id"), "includes")) is not None}


def _v2_text(tweet: Mapping[str, Any]) -> Any:
    return _first(_obj(tweet, "note_tweet").get("text"), tweet.get("text"))


def _v2_tweet(
    tweet: Any, includes: Mapping[str, dict[str, Mapping[str, Any]]], private: Private | None
) -> Post:
    if not isinstance(tweet, Mapping):
        raise InvalidRecord("invalid data", type(tweet).__name__)
    refs = tweet.get("referenced_tweets") or []
    if not isinstance(refs, list) or not all(isinstance(r, Mapping) for r in refs):
        raise InvalidRecord("invalid referenced_tweets", describe(refs))
    ref_ids = {str(r.get("type")): _id(r.get("id"), "referenced_tweets") for r in refs}
    author_id = _id(tweet.get("author_id"), "author_id")
    user = includes["users"].get(author_id or "", _EMPTY)
    geo = _obj(tweet, "geo")
    place = includes["places"].get(_id(geo.get("place_id"), "place_id") or "", _EMPTY)
    text = _v2_text(tweet)
    if "retweeted" in ref_ids:  # the full original text, when the response includes it
        original = includes["tweets"].get(ref_ids["retweeted"] or "")
        text = _v2_text(original) if original else text
    lon, lat = _point(geo.get("coordinates"))
    wire = {
        "id": tweet.get("id"),
        "text": text,
        "created_at": tweet.get("created_at"),
        "lang": _lang(tweet.get("lang")),
        "lon": lon,
        "lat": lat,
        "place": _first(place.get("full_name"), user.get("location")),
        "author": f"twitter:{author_id}" if author_id else None,
        "source": "twitter",
        "is_repost": "retweeted" in ref_ids,
        "reply_to": ref_ids.get("replied_to"),
    }
    return Post.from_wire(wire, private)


def _from_twitter_v2(obj: Mapping[str, Any], private: Private | None) -> Decoded:
    """The good tweets of a response, each bad one refused alone; a response without a
    good tweet is refused whole, for its first bad one."""
    data = obj.get("data")
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise InvalidRecord("invalid data", type(data).__name__)
    if not data:
        raise InvalidRecord("not a post", "twitter v2 response with empty data")
    raw_includes = _obj(obj, "includes")
    includes = {k: _index(raw_includes, k) for k in ("users", "places", "tweets")}
    posts: list[Post] = []
    bad: list[tuple[InvalidRecord, Any]] = []
    for n, tweet in enumerate(data):
        try:
            posts.append(_v2_tweet(tweet, includes, private))
        except InvalidRecord as exc:
            bad.append((InvalidRecord(exc.reason, f"data[{n}]: {exc.detail}"), tweet))
    if not posts:
        raise bad[0][0]
    refused = []
    for error, tweet in bad:
        try:
            refused.append((error, dumps({**obj, "data": [tweet]})))
        except TypeError:  # nested deeper than JSON is written: refused whole, as read
            raise error from None
    return Decoded(posts, refused)


def _from_mastodon(obj: Mapping[str, Any], private: Private | None) -> Decoded:
    account, reblog = _obj(obj, "account"), _obj(obj, "reblog")
    acct = _id(account.get("acct"), "account")
    wire = {
        "id": obj.get("id"),
        "text": _html_text((reblog or obj).get("content")),
        "created_at": obj.get("created_at"),
        "lang": obj.get("language"),
        "author": f"mastodon:{acct}" if acct else None,
        "source": "mastodon",
        "is_repost": obj.get("reblog") is not None,
        "reply_to": _id(obj.get("in_reply_to_id"), "in_reply_to_id"),
    }
    return Decoded([Post.from_wire(wire, private)], [])


_CONVERTERS: dict[str, Callable[[Mapping[str, Any], Private | None], Decoded]] = {
    "native": _from_native,
    "twitter_v1": _from_twitter_v1,
    "twitter_v2": _from_twitter_v2,
    "mastodon": _from_mastodon,
}
