"""Raw input formats -> Post: field mapping per format, malformed input, and a fuzz property."""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import InvalidRecord
from models.formats import decode_raw, detect_format, load_raw, native_post, normalize_raw
from models.records import Post, Private

T0 = 1_708_594_200_000  # 2024-02-22T09:30:00Z, a Thursday
NESTED = orjson.loads(b'{"a":' * 1_000 + b"null" + b"}" * 1_000)

NATIVE: dict[str, Any] = {
    "id": "gs-0001",
    "text": "no 4G at all around the harbour since this morning",
    "created_at": "2024-02-22T10:30:00+01:00",
    "lang": "en",
    "lon": -1.5536,
    "lat": 47.2184,
    "place": "Nantes",
    "author": "sample:ops-bot",
    "source": "replay",
    "is_repost": False,
    "reply_to": None,
    "schema_version": 1,
}

TWITTER_V1: dict[str, Any] = {
    "created_at": "Thu Feb 22 09:30:00 +0000 2024",
    "id": 1760000000000000001,
    "id_str": "1760000000000000001",
    "text": "Is anyone else's fibre dead in Leeds? Router blinking red for an hour and the sta…",
    "truncated": True,
    "extended_tweet": {
        "full_text": "Is anyone else's fibre dead in Leeds? Router blinking red for an hour "
        "and the status page says all is fine #broadband",
        "display_text_range": [0, 118],
    },
    "in_reply_to_status_id": 1759999999999999999,
    "in_reply_to_status_id_str": "1759999999999999999",
    "user": {"id": 90210, "id_str": "90210", "screen_name": "kettle_on", "location": "Yorkshire"},
    "coordinates": {"type": "Point", "coordinates": [-1.5491, 53.8008]},
    "place": {
        "id": "a1b2c3",
        "full_name": "Leeds, England",
        "bounding_box": {"type": "Polygon", "coordinates": [[[-1.8, 53.7], [-1.3, 53.9]]]},
    },
    "lang": "en",
}

TWITTER_V2: dict[str, Any] = {
    "data": [
        {
            "id": "1760000000000000101",
            "text": "Mobile data down across Porto, calls only. Anyone else? #outage",
            "created_at": "2024-02-22T09:30:00.000Z",
            "author_id": "4401",
            "lang": "en",
            "geo": {
                "place_id": "pl-porto",
                "coordinates": {"type": "Point", "coordinates": [-8.6291, 41.1579]},
            },
            "referenced_tweets": [{"type": "replied_to", "id": "1760000000000000100"}],
        },
        {
            "id": "1760000000000000102",
            "text": "RT @sparrow: sem rede em Braga desde as 9h, alguém mais?",
            "created_at": "2024-02-22T09:31:00.000Z",
            "author_id": "4402",
            "lang": "pt",
            "referenced_tweets": [{"type": "retweeted", "id": "1760000000000000050"}],
        },
        {
            "id": "1760000000000000103",
            "text": "Still no broadband in Lisbon, third hour now…",
            "note_tweet": {
                "text": "Still no broadband in Lisbon, third hour now. The support line hangs up "
                "after the menu and the app shows no incident at all."
            },
            "created_at": "2024-02-22T09:32:00.000Z",
            "author_id": "4403",
            "lang": "und",
            "geo": {"place_id": "pl-unknown"},
        },
    ],
    "includes": {
        "users": [
            {"id": "4401", "username": "gull_watch", "location": "Porto, Portugal"},
            {"id": "4402", "username": "tram28"},
            {"id": "4403", "username": "pastel_de_nata", "location": "Lisboa"},
        ],
        "places": [{"id": "pl-porto", "full_name": "Porto, Portugal", "country_code": "PT"}],
        "tweets": [
            {
                "id": "1760000000000000050",
                "text": "sem rede em Braga desde as 9h, alguém mais? a operadora não atende",
            }
        ],
    },
    "meta": {"result_count": 3},
}

MASTODON: dict[str, Any] = {
    "id": "111987654321000001",
    "created_at": "2024-02-22T09:30:00.000Z",
    "in_reply_to_id": "111987654320000000",
    "sensitive": False,
    "spoiler_text": "network moan",
    "visibility": "public",
    "language": "de",
    "uri": "https://social.example/users/funkloch/statuses/111987654321000001",
    "content": '<p>Kein Netz in <a href="https://social.example/tags/Hamburg" class="mention '
    'hashtag" rel="tag">#<span>Hamburg</span></a> Altona &amp; Ottensen.</p>'
    "<p>Seit 9 Uhr &quot;kein Dienst&quot;<br />wer noch?</p>",
    "account": {"id": "77", "username": "funkloch", "acct": "funkloch@social.example"},
    "reblog": None,
}


def one(obj: Any) -> Post:
    posts, refused = normalize_raw(obj)
    assert len(posts) == 1 and refused == []
    return posts[0]


def reason(obj: Any) -> str:
    with pytest.raises(InvalidRecord) as info:
        normalize_raw(obj)
    return info.value.reason


def changed(base: dict[str, Any], **fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    obj.update(fields)
    return obj


# --- detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "fmt"),
    [
        (NATIVE, "native"),
        ({"id": "1", "text": "x", "created_at": T0}, "native"),
        (TWITTER_V1, "twitter_v1"),
        ({"delete": {"status": {"id_str": "1"}}}, "twitter_v1"),
        (TWITTER_V2, "twitter_v2"),
        (MASTODON, "mastodon"),
    ],
)
def test_detect_format(obj: Any, fmt: str) -> None:
    assert detect_format(obj) == fmt


# --- native -----------------------------------------------------------------------------


def test_native_maps_every_field() -> None:
    post = one(NATIVE)
    assert post == Post(
        id="gs-0001",
        text="no 4G at all around the harbour since this morning",
        created_at_ms=T0,
        lang="en",
        lon=-1.5536,
        lat=47.2184,
        place="Nantes",
        author="sample:ops-bot",
        source="replay",
        is_repost=False,
        reply_to=None,
    )
    assert decode_raw(orjson.dumps(post.to_wire())) == ([post], [])


def test_native_epoch_ms_and_nul_stripped() -> None:
    post = one({"id": 42, "text": "sig\x00nal lost\x00", "created_at": T0 + 250})
    assert (post.id, post.text, post.created_at_ms) == ("42", "signal lost", T0 + 250)


def test_decode_raw_accepts_bom() -> None:
    line = b"\xef\xbb\xbf" + orjson.dumps(NATIVE)
    assert decode_raw(line).posts[0].id == "gs-0001"


# --- Twitter v1.1 -----------------------------------------------------------------------


def test_twitter_v1_maps_every_field() -> None:
    post = one(TWITTER_V1)
    assert post == Post(
        id="1760000000000000001",
        text="Is anyone else's fibre dead in Leeds? Router blinking red for an hour "
        "and the status page says all is fine #broadband",
        created_at_ms=T0,
        lang="en",
        lon=-1.5491,
        lat=53.8008,
        place="Leeds, England",
        author="twitter:90210",
        source="twitter",
        is_repost=False,
        reply_to="1759999999999999999",
    )


def test_twitter_v1_bounding_box_only_and_user_location() -> None:
    obj = changed(TWITTER_V1, coordinates=None, lang="und")
    del obj["id_str"], obj["extended_tweet"], obj["in_reply_to_status_id_str"]
    post = one(obj)
    assert (post.lon, post.lat, post.place) == (None, None, "Leeds, England")
    assert post.id == "1760000000000000001"
    assert post.text.endswith("the sta…")
    assert post.lang is None
    assert post.reply_to == "1759999999999999999"
    no_place = one(changed(obj, place=None))
    assert no_place.place == "Yorkshire"


def test_twitter_v1_full_text_preferred_over_text() -> None:
    obj = changed(TWITTER_V1, full_text="full text from a REST timeline")
    del obj["extended_tweet"]
    assert one(obj).text == "full text from a REST timeline"


def test_twitter_v1_retweet_uses_original_text() -> None:
    original = changed(
        TWITTER_V1, id_str="1759000000000000000", text="landline and internet both dead in Hull"
    )
    del original["extended_tweet"]
    obj = changed(
        TWITTER_V1,
        text="RT @kettle_on: landline and internet both dead in…",
        retweeted_status=original,
        in_reply_to_status_id=None,
        in_reply_to_status_id_str=None,
    )
    del obj["extended_tweet"]
    post = one(obj)
    assert post.is_repost
    assert post.text == "landline and internet both dead in Hull"
    assert post.id == "1760000000000000001"
    assert post.author == "twitter:90210"
    assert post.reply_to is None


@pytest.mark.parametrize(
    "notice",
    [
        {"delete": {"status": {"id": 1, "id_str": "1", "user_id": 3, "user_id_str": "3"}}},
        {"limit": {"track": 120, "timestamp_ms": str(T0)}},
    ],
)
def test_twitter_v1_notices_are_not_posts(notice: dict[str, Any]) -> None:
    assert reason(notice) == "not a post"


# --- Twitter v2 -------------------------------------------------------------------------


def test_twitter_v2_maps_every_field() -> None:
    (reply, repost, long_tweet), refused = normalize_raw(TWITTER_V2)
    assert refused == []
    assert reply == Post(
        id="1760000000000000101",
        text="Mobile data down across Porto, calls only. Anyone else? #outage",
        created_at_ms=T0,
        lang="en",
        lon=-8.6291,
        lat=41.1579,
        place="Porto, Portugal",
        author="twitter:4401",
        source="twitter",
        is_repost=False,
        reply_to="1760000000000000100",
    )
    assert repost == Post(
        id="1760000000000000102",
        text="sem rede em Braga desde as 9h, alguém mais? a operadora não atende",
        created_at_ms=T0 + 60_000,
        lang="pt",
        author="twitter:4402",
        source="twitter",
        is_repost=True,
    )
    assert long_tweet == Post(
        id="1760000000000000103",
        text="Still no broadband in Lisbon, third hour now. The support line hangs up "
        "after the menu and the app shows no incident at all.",
        created_at_ms=T0 + 120_000,
        lang=None,
        place="Lisboa",  # place_id not in includes: falls back to the user's location
        author="twitter:4403",
        source="twitter",
    )


def test_twitter_v2_single_object_data_without_includes() -> None:
    tweet = copy.deepcopy(TWITTER_V2["data"][1])
    post = one({"data": tweet})
    assert post.is_repost
    assert post.text.startswith("RT @sparrow:")  # no includes.tweets to take the original from
    assert post.place is None


def test_twitter_v2_one_bad_tweet_is_refused_alone() -> None:
    obj = copy.deepcopy(TWITTER_V2)
    del obj["data"][1]["created_at"]
    posts, refused = normalize_raw(obj)
    assert [p.id for p in posts] == ["1760000000000000101", "1760000000000000103"]
    ((error, part),) = refused
    assert error.reason == "missing created_at" and error.detail.startswith("data[1]")
    # the part is the response with that tweet alone: refused whole again, for the same reason
    assert orjson.loads(part) == {**obj, "data": [obj["data"][1]]}
    with pytest.raises(InvalidRecord, match="missing created_at"):
        decode_raw(part)


def test_twitter_v2_without_a_good_tweet_is_refused_whole() -> None:
    obj = copy.deepcopy(TWITTER_V2)
    for tweet in obj["data"]:
        tweet["created_at"] = "yesterday"
    with pytest.raises(InvalidRecord) as info:
        normalize_raw(obj)
    assert info.value.reason == "invalid created_at"
    assert info.value.detail.startswith("data[0]")


# --- Mastodon ---------------------------------------------------------------------------


def test_mastodon_maps_every_field() -> None:
    post = one(MASTODON)
    assert post == Post(
        id="111987654321000001",
        text='Kein Netz in #Hamburg Altona & Ottensen.\n\nSeit 9 Uhr "kein Dienst"\nwer noch?',
        created_at_ms=T0,
        lang="de",
        author="mastodon:funkloch@social.example",
        source="mastodon",
        is_repost=False,
        reply_to="111987654320000000",
    )


def test_mastodon_reblog_takes_reblogged_content() -> None:
    original = changed(
        MASTODON, id="111987000000000000", content="<p>Glasfaser weg in Köln &lt;3h&gt;</p>"
    )
    obj = changed(MASTODON, content="", reblog=original, in_reply_to_id=None)
    post = one(obj)
    assert post.is_repost
    assert post.text == "Glasfaser weg in Köln <3h>"
    assert post.id == "111987654321000001"
    assert post.author == "mastodon:funkloch@social.example"


# --- malformed input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"id": "1", "text": "caf\xe9", "created_at": 1708594200000}', "invalid utf-8"),
        (b"\xff\xfe{}", "invalid utf-8"),
        (b'{"id": "1", "text": ', "invalid json"),
        (b"", "invalid json"),
        (b'{"lon": NaN}', "invalid json"),
        (b"[]", "not an object"),
        (b'[{"id": "1", "text": "x", "created_at": 1708594200000}]', "not an object"),
        (b"12.5", "not an object"),
        (b'"no signal"', "not an object"),
        (b"null", "not an object"),
        (b"{}", "unknown format"),
        (b'{"kind": "watermark", "source": "x", "watermark_ms": 1}', "unknown format"),
        (b'{"data": []}', "not a post"),
    ],
)
def test_decode_raw_rejects(data: bytes, expected: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        decode_raw(data)
    assert info.value.reason == expected


BASE = {"id": "1", "text": "no signal", "created_at": T0}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"id": "1", "created_at": T0}, "missing text"),
        (changed(TWITTER_V1, text=None, extended_tweet=None), "missing text"),
        (changed(MASTODON, content=None), "missing text"),
        ({"id": "1", "text": "no signal"}, "missing created_at"),
        (changed(BASE, created_at="yesterday"), "invalid created_at"),
        (changed(BASE, created_at="2024-02-22T09:30:00"), "invalid created_at"),  # no offset
        (changed(BASE, created_at=True), "invalid created_at"),
        (changed(TWITTER_V1, created_at="Thu 22 Feb 2024 09:30"), "invalid created_at"),
        (changed(BASE, created_at="1970-01-01T00:00:00Z"), "created_at out of range"),
        (changed(BASE, created_at=0), "created_at out of range"),
        (changed(BASE, created_at="9999-12-31T23:59:59Z"), "created_at out of range"),
        (
            changed(TWITTER_V1, created_at="Thu Jan 01 00:00:00 +0000 1970"),
            "created_at out of range",
        ),
        (changed(BASE, lon=181.0, lat=0.0), "invalid lon"),
        (changed(BASE, lon=float("nan"), lat=0.0), "invalid lon"),
        (changed(BASE, lon=float("inf"), lat=0.0), "invalid lon"),
        (changed(BASE, lon=2.35), "invalid coordinates"),
        (
            changed(TWITTER_V1, coordinates={"type": "Point", "coordinates": [2.35]}),
            "invalid coordinates",
        ),
        (changed(TWITTER_V1, coordinates=[2.35, 48.85]), "invalid coordinates"),
        (
            changed(TWITTER_V1, coordinates={"type": "Point", "coordinates": [-200.0, 48.85]}),
            "invalid lon",
        ),
        (changed(BASE, text="x" * 10_001), "text too long"),
        (changed(BASE, schema_version=2), "unsupported schema_version"),
        (changed(BASE, id=""), "missing id"),
        (changed(TWITTER_V1, user="kettle_on"), "invalid user"),
        (changed(MASTODON, reblog="yes"), "invalid reblog"),
        (changed(MASTODON, account=["funkloch"]), "invalid account"),
        ({"data": None}, "invalid data"),
        ({"data": ["1760000000000000101"]}, "invalid data"),
        (changed(TWITTER_V2, includes={"users": {"4401": {}}}), "invalid includes"),
        ({"status": "ok", "posts": 3}, "unknown format"),
        ({1: "x"}, "unknown format"),
        ({"id", "text"}, "not an object"),
        # values nested 1,000 deep are described in the detail, not printed
        (changed(TWITTER_V1, coordinates=NESTED), "invalid coordinates"),
        (changed(TWITTER_V1, in_reply_to_status_id_str=NESTED), "invalid in_reply_to_status_id"),
        ({"data": [{"id": "1", "referenced_tweets": NESTED}]}, "invalid referenced_tweets"),
        (changed(MASTODON, in_reply_to_id=NESTED), "invalid in_reply_to_id"),
        (changed(BASE, id=NESTED), "missing id"),
    ],
)
def test_normalize_raw_rejects(obj: Any, expected: str) -> None:
    assert reason(obj) == expected


@pytest.mark.parametrize("markup", ["<", "<br", "<p ", "</p><p ", "<a href='x' "])
def test_mastodon_markup_costs_linear_time(markup: str) -> None:
    # a tag never holds "<": 200,000 stray ones would otherwise take minutes to strip
    obj = changed(MASTODON, content=markup * (200_000 // len(markup)))
    started = time.perf_counter()
    assert reason(obj) == "text too long"
    assert time.perf_counter() - started < 1.0


def test_huge_int_from_python_is_invalid_record() -> None:
    # Not reachable from JSON bytes, but normalize_raw promises only InvalidRecord.
    assert reason(changed(BASE, lon=10**400, lat=0)).startswith(("invalid", "malformed"))


# --- property: only Post lists or InvalidRecord -------------------------------------------

KEYS = st.sampled_from(
    [
        *("id", "id_str", "text", "full_text", "created_at", "lang", "lon", "lat", "place"),
        *("user", "coordinates", "extended_tweet", "retweeted_status", "delete", "limit"),
        *("data", "includes", "users", "places", "tweets", "geo", "referenced_tweets"),
        *("note_tweet", "author_id", "place_id", "type", "account", "content", "reblog"),
        *("acct", "location", "full_name", "in_reply_to_id", "schema_version", "is_repost"),
    ]
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.integers(min_value=T0 - 10**12, max_value=T0 + 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["Point", "retweeted", "replied_to", "und", "2024-02-22T09:30:00Z"])
    | st.sampled_from(["Thu Feb 22 09:30:00 +0000 2024", "<p>a<br>b &amp; c</p>"])
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=30,
)


def check(data: bytes) -> None:
    try:
        posts, refused = decode_raw(data)
    except InvalidRecord:
        return
    assert isinstance(posts, list)
    assert posts
    assert all(isinstance(p, Post) for p in posts)
    assert all(isinstance(e, InvalidRecord) and isinstance(b, bytes) for e, b in refused)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_decode_raw_json_values_give_posts_or_invalid_record(value: Any) -> None:
    check(orjson.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_decode_raw_arbitrary_bytes_give_posts_or_invalid_record(data: bytes) -> None:
    check(data)


def mutate(obj: Any, draw: st.DataObject) -> Any:
    """Replace, add or drop one value at a random depth of a copy of ``obj``."""
    if isinstance(obj, dict) and obj and draw.draw(st.booleans()):
        key = draw.draw(st.sampled_from(sorted(obj)))
        return {**obj, key: mutate(obj[key], draw)}
    if isinstance(obj, list) and obj and draw.draw(st.booleans()):
        n = draw.draw(st.integers(0, len(obj) - 1))
        return [*obj[:n], mutate(obj[n], draw), *obj[n + 1 :]]
    if isinstance(obj, dict) and draw.draw(st.booleans()):
        key = draw.draw(KEYS)
        return {k: v for k, v in obj.items() if k != key} | draw.draw(
            st.dictionaries(st.just(key), JSON, max_size=1)
        )
    return draw.draw(JSON)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([NATIVE, TWITTER_V1, TWITTER_V2, MASTODON]), st.data())
def test_decode_raw_mutated_samples_give_posts_or_invalid_record(
    sample: dict[str, Any], draw: st.DataObject
) -> None:
    check(orjson.dumps(mutate(sample, draw)))


NATIVE_ODD = (
    st.sampled_from(
        [
            *(
                None,
                "",
                " ",
                "\x00",
                "a\x00b",
                0,
                -1,
                1.0,
                1.5,
                True,
                [],
                {},
                "x" * 1001,
                "é" * 1000,
            ),
            *("2024-02-22T09:30:00.000Z", "2024-02-22 09:30:00.000Z", "2024-02-22T09:30:00", "und"),
            *(1708594200000, 10**19, 1e22, 180, -180.5, -0.0, 90.0, "y" * 10_001),
        ]
    )
    | JSON
)


def general_path(data: bytes, private: Private | None) -> list[Post] | tuple[str, str]:
    try:
        posts, refused = normalize_raw(load_raw(data), private)
    except InvalidRecord as exc:
        return exc.reason, exc.detail
    assert refused == []  # a native record is one post
    return posts


@settings(max_examples=600, deadline=None)
@given(st.data(), st.booleans())
def test_native_post_agrees_with_the_general_path(draw: st.DataObject, private: bool) -> None:
    """The one-pass native decoder answers only where the general path accepts the record,
    and with the same post (or declines)."""
    obj = dict(NATIVE)
    for key in draw.draw(st.lists(st.sampled_from([*NATIVE, "kind", "data", "extra"]), max_size=3)):
        if draw.draw(st.booleans()):
            obj.pop(key, None)
        else:
            obj[key] = draw.draw(NATIVE_ODD)
    data = orjson.dumps(obj)
    hook = (lambda author, text: (author and author[::-1], text.upper())) if private else None
    fast = native_post(data, hook)
    if fast is not None:
        assert general_path(data, hook) == [fast]
    elif data == orjson.dumps(NATIVE):
        pytest.fail("the common shape took the general path")


def test_native_post_takes_the_common_shapes() -> None:
    assert native_post(orjson.dumps(NATIVE)) == Post.from_wire(NATIVE)
    bare = {"id": "a", "text": "t", "created_at": T0}
    assert native_post(orjson.dumps(bare)) == Post.from_wire(bare)
    for declined in [{**bare, "id": 7}, {**bare, "text": "t\x00"}, {**bare, "kind": "x"}]:
        assert native_post(orjson.dumps(declined)) is None
