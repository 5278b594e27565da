"""The relevance stage: text normalisation, lexicon loading and checks, the decision rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ConfigError
from models.records import Post
from models.relevance import (
    CATEGORIES,
    Lexicon,
    Relevance,
    RelevanceClassifier,
    _normalize_general,
    normalize_text,
)


@pytest.fixture(scope="module")
def clf() -> RelevanceClassifier:
    return RelevanceClassifier()


# --- normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Internet   DOWN\t\n", "internet down ."),
        ("Ça ne marche PAS", "ca ne marche pas"),
        ("Señal caída en Bilbao", "senal caida en bilbao"),
        ("è già giù", "e gia giu"),
        ("Straße", "strasse"),
        ("e\u0301te\u0301", "ete"),  # decomposed accents
        ("no-signal", "no signal"),
        ("isn’t", "isn t"),
        ("@Vodafone_UK help", "vodafone uk help"),
        ("#NoSignal #wifiDown #4GDown", "no signal wifi down 4g down"),
        ("see https://example.com/a?b=1 and www.example.org now", "see and now"),
        ("down,no signal", "down.no signal"),
        ("Ｎｏ　ｓｉｇｎａｌ", "no signal"),  # full-width forms
        ("нет сети", "нет сети"),
        ("网络断了", "网络断了"),
        ("", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@given(st.text(alphabet=st.characters(max_codepoint=0xFF, exclude_characters="#:wW")))
def test_latin1_fast_path_matches_general_path(text: str) -> None:
    assert normalize_text(text) == _normalize_general(text)


# --- examples, per language ----------------------------------------------------------------

POSITIVE = {
    "en": [
        ("no signal on my phone since this morning @Operator", "mobile_data"),
        ("internet down again in Milano", "fixed_broadband"),
        ("Dropped calls all afternoon, is there an outage?", "voice"),
        ("texts not sending for two hours now", "sms"),
        ("my broadband has been down since 7am", "fixed_broadband"),
        ("TV not working again, iptv app stuck on loading", "tv"),
        ("everything is down here, no phone no internet", "total_outage"),
        ("4G keeps dropping in the city centre", "mobile_data"),
        ("#InternetDown again, third time this week", "fixed_broadband"),
        ("is the network down? zero bars", "mobile_data"),
    ],
    "it": [
        ("il 4G non funziona da stamattina", "mobile_data"),
        ("senza campo in tutto il quartiere da ore", "mobile_data"),
        ("internet non va da ieri sera, qualcuno ha lo stesso problema?", "fixed_broadband"),
        ("la fibra è lentissima stasera", "fixed_broadband"),
        ("non riesco a chiamare nessuno da due ore", "voice"),
        ("gli sms non arrivano da stamattina", "sms"),
        ("decoder non funziona, niente tv stasera", "tv"),
        ("non funziona niente: né internet né telefono", "total_outage"),
        ("rete down a Napoli?", "mobile_data"),
    ],
    "fr": [
        ("pas de réseau depuis 2h", "mobile_data"),
        ("la fibre est en panne depuis ce matin", "fixed_broadband"),
        ("ma box ne fonctionne plus depuis hier soir", "fixed_broadband"),
        ("impossible d'appeler depuis ce matin, ça sonne dans le vide", "voice"),
        ("mes SMS n'arrivent pas depuis midi", "sms"),
        ("plus de télé ce soir, le décodeur affiche une erreur", "tv"),
        ("plus rien ne fonctionne, ni internet ni téléphone", "total_outage"),
        ("la 4G est très lente dans le centre-ville", "mobile_data"),
        ("coupure internet dans tout le quartier", "fixed_broadband"),
    ],
    "es": [
        ("sin señal en todo el barrio", "mobile_data"),
        ("Internet caído desde las 8 en Valencia", "fixed_broadband"),
        ("no puedo llamar desde esta mañana", "voice"),
        ("no me llegan los sms del banco", "sms"),
        ("el deco no funciona, sin canales", "tv"),
        ("no funciona nada, ni internet ni teléfono", "total_outage"),
        ("la fibra va lentísima hoy", "fixed_broadband"),
        ("los datos móviles no funcionan en el centro", "mobile_data"),
        ("el 5G se cae cada cinco minutos", "mobile_data"),
    ],
}

NEGATIVE = {
    "en": [
        "great social network post",
        "the TV network aired the finale last night",
        "my bill is too high this month",
        "now with 5G in your city!",
        "my internet isn't down anymore",
        "neural network training is so slow",
        "wifi down at the cafe again",
        "calm down, it's just a game",
        "downstairs neighbours are loud",
        "internet back up after the outage, thanks",
    ],
    "it": [
        "linee ferroviarie in ritardo per un guasto",
        "blackout elettrico in centro, semafori spenti",
        "la bolletta di questo mese è altissima",
        "nuova offerta fibra a 24,90 al mese",
        "la rete non è down, è il tuo telefono",
        "treno fermo, rete ferroviaria in tilt",
        "manca la corrente da un'ora in tutto il palazzo",
        "partita giocata sul campo da calcio bagnato",
    ],
    "fr": [
        "réseau social",
        "j'adore ce réseau social",
        "le réseau n'est pas en panne chez moi",
        "panne de courant dans tout le quartier",
        "ma facture a encore augmenté",
        "nouvelle offre fibre à 19,99 par mois",
        "le métro ligne 4 est en panne",
        "internet est rétabli, merci",
    ],
    "es": [
        "red social",
        "me encanta esta red social",
        "corte de luz en todo el barrio",
        "la factura de este mes es carísima",
        "ahora con 5G en tu ciudad, contrata ya",
        "el internet ya funciona, gracias",
        "la red wifi de la cafetería no funciona",
        "el internet no está caído, es tu router",
    ],
}


@pytest.mark.parametrize(
    ("lang", "text", "category"),
    [(lang, text, cat) for lang, cases in POSITIVE.items() for text, cat in cases],
)
def test_positive(clf: RelevanceClassifier, lang: str, text: str, category: str) -> None:
    r = clf.classify_text(text)
    assert r.relevant, r
    assert r.category == category, r
    assert 0.6 <= r.score <= 1.0
    assert r.terms
    tagged = clf.classify_text(text, lang=lang)
    assert tagged.lang == lang
    assert (tagged.relevant, tagged.category, tagged.score) == (True, category, r.score)


@pytest.mark.parametrize(
    ("lang", "text"), [(lang, text) for lang, texts in NEGATIVE.items() for text in texts]
)
def test_negative(clf: RelevanceClassifier, lang: str, text: str) -> None:
    r = clf.classify_text(text, lang=lang)
    assert not r.relevant, r
    assert r.category is None
    assert r.score == 0.0


def test_enough_examples_per_language() -> None:
    for lang in Lexicon.bundled():
        assert len(POSITIVE[lang]) >= 8 and len(NEGATIVE[lang]) >= 8, lang


# --- categories, tech, evidence, language --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "tech"),
    [
        ("il 4G non funziona da stamattina", "mobile_data", ("4g",)),
        ("No internet on my 4G", "mobile_data", ("4g",)),  # the service word wins
        ("Can't make calls on LTE since 10am", "voice", ("4g",)),
        ("la fibra va lentísima hoy", "fixed_broadband", ("fibre",)),
        ("wifi and internet down since 9", "fixed_broadband", ("wifi",)),
        ("outage on 5G and fiber", "mobile_data", ("5g", "fibre")),
        ("is the network down", "mobile_data", ()),  # generic word: its fallback category
        ("internet slow on vdsl", "fixed_broadband", ("dsl",)),
        ("phone and internet down in the whole street", "total_outage", ()),
        ("everything is down, no service at all", "total_outage", ()),
    ],
)
def test_category_and_tech(
    clf: RelevanceClassifier, text: str, category: str, tech: tuple[str, ...]
) -> None:
    r = clf.classify_text(text)
    assert (r.relevant, r.category, r.tech) == (True, category, tech), r


def test_generic_word_takes_category_from_tech(clf: RelevanceClassifier) -> None:
    # "connection" falls back to fixed_broadband and "network" to mobile_data, unless a
    # technology says otherwise
    assert clf.classify_text("connection unstable").category == "fixed_broadband"
    assert clf.classify_text("connection unstable on umts").category == "mobile_data"
    assert clf.classify_text("network slow").category == "mobile_data"
    assert clf.classify_text("network slow on wifi").category == "fixed_broadband"


def test_terms_are_the_evidence_in_text_order(clf: RelevanceClassifier) -> None:
    r = clf.classify_text("Internet DOWN since 8, fibre light off")
    assert r.terms == ("internet", "internet down", "down", "fibre")
    assert r.tech == ("fibre",)


def test_score_grows_with_evidence(clf: RelevanceClassifier) -> None:
    generic = clf.classify_text("the network is down")
    specific = clf.classify_text("my broadband is down")
    strong = clf.classify_text("no signal here")
    more = clf.classify_text("no signal here, calls failing, network down")
    assert 0 < generic.score < specific.score < strong.score < more.score <= 1.0


def test_strong_phrase_outside_exclusion_survives(clf: RelevanceClassifier) -> None:
    assert clf.classify_text("power cut in the whole street, internet down too").relevant
    assert clf.classify_text("no hay señal en el metro").relevant
    assert not clf.classify_text("social network is down").relevant


def test_negation(clf: RelevanceClassifier) -> None:
    assert not clf.classify_text("the internet is not slow at all").relevant
    assert not clf.classify_text("la fibra non è più lenta").relevant
    assert not clf.classify_text("ma connexion n'est plus en panne").relevant
    # too far from the problem word, or in another clause: not negated
    assert clf.classify_text("not sure why but my internet is down").relevant
    assert clf.classify_text("no, not again. broadband down").relevant


def test_languages_must_agree_for_a_pair(clf: RelevanceClassifier) -> None:
    # Spanish "red" (network) never pairs with an English problem word.
    assert not clf.classify_text("the red team is not working together").relevant
    assert clf.classify_text("la red no funciona").relevant


def test_word_boundaries(clf: RelevanceClassifier) -> None:
    assert clf.classify_text("downtown broadband shop").terms == ("broadband",)
    assert clf.classify_text("5ghz band").terms == ()
    assert clf.classify_text("telefono nuovo").terms == ()


def test_language_inference(clf: RelevanceClassifier) -> None:
    assert clf.classify_text("pas de réseau depuis 2h").lang == "fr"
    assert clf.classify_text("sin señal").lang == "es"
    assert clf.classify_text("wifi").lang is None  # in every lexicon: a tie
    assert clf.classify_text("hello there").lang is None
    assert clf.classify_text("hello there", lang="en-GB").lang == "en"
    assert clf.classify_text("hello there", lang="und").lang is None


def test_classify_post_uses_its_lang(clf: RelevanceClassifier) -> None:
    post = Post(id="1", text="sin señal en todo el barrio", created_at_ms=1708594200000, lang="es")
    r = clf.classify(post)
    assert isinstance(r, Relevance)
    assert (r.relevant, r.category, r.lang) == (True, "mobile_data", "es")
    other = Post(id="2", text="sin señal", created_at_ms=1708594200000, lang="ca")
    assert clf.classify(other).lang == "ca"


def test_not_relevant_without_any_match_is_shared(clf: RelevanceClassifier) -> None:
    a = clf.classify_text("lovely weather today")
    assert a == Relevance(False, None, 0.0, (), (), None)
    assert clf.classify_text("nice walk") is a


# --- lexicon loading -----------------------------------------------------------------------


def test_bundled_lexicons() -> None:
    assert set(Lexicon.bundled()) >= {"en", "it", "fr", "es"}
    lex = Lexicon.load()
    assert lex.langs == Lexicon.bundled()
    assert len(lex.sources) == len(lex.langs)
    for lang in lex.langs:
        roles = {t.role for t in lex.terms if t.lang == lang}
        assert roles == {"service", "generic", "strong", "problem", "negation", "exclude", "tech"}
    assert all(t.text == normalize_text(t.text) for t in lex.terms)


def test_load_some_languages() -> None:
    lex = Lexicon.load(["it"])
    assert lex.langs == ("it",)
    assert {t.lang for t in lex.terms} == {"it"}
    assert Lexicon.load("fr").langs == ("fr",)
    assert Lexicon.load(()).terms == ()


def test_unknown_bundled_language() -> None:
    with pytest.raises(ConfigError, match="'xx'"):
        Lexicon.load(["xx"])


def test_extra_file_and_cjk_terms(tmp_path: Path) -> None:
    path = tmp_path / "zh.toml"
    path.write_text(
        'lang = "zh"\n[strong]\nmobile_data = ["没有信号"]\n'
        '[generic]\nfixed_broadband = ["网络"]\n[problem]\nterms = ["断了"]\n',
        encoding="utf-8",
    )
    clf = RelevanceClassifier(Lexicon.load(["en"], paths=[path]))
    assert clf.langs == ("en", "zh")
    r = clf.classify_text("今天没有信号了")  # no word boundaries around CJK terms
    assert (r.relevant, r.category, r.lang) == (True, "mobile_data", "zh")
    r = clf.classify_text("网络断了！")
    assert (r.relevant, r.category) == (True, "fixed_broadband")
    assert clf.classify_text("no signal").relevant


def test_same_language_files_merge(tmp_path: Path) -> None:
    path = tmp_path / "extra-en.toml"
    path.write_text('lang = "en"\n[strong]\nmobile_data = ["no phone signal"]\n', "utf-8")
    lex = Lexicon.load(["en"], paths=[path])
    assert lex.langs == ("en",)
    assert any(t.text == "no phone signal" for t in lex.terms)


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ('lang = "en"\n[servise]\nvoice = ["calls"]\n', "servise"),
        ('lang = "en"\n[service]\nmobile_dat = ["data"]\n', "mobile_dat"),
        ('lang = "en"\n[strong]\nvoice = ["no calls", 42]\n', "42"),
        ('lang = "en"\n[tech]\n6g = ["6g"]\n', "6g"),
        ('lang = "en"\n[problem]\nwords = ["down"]\n', "words"),
        ('lang = "en"\n[problem]\nterms = "down"\n', "down"),
        ('lang = "en"\nproblem = ["down"]\n', "problem"),
        ('lang = "en"\n[problem]\nterms = ["!!"]\n', "!!"),
        ('lang = "en"\n[problem]\nterms = ["down"]\n[exclude]\nx = ["down"]\n', "down"),
        ('lang = "English"\n', "English"),
        ("[problem]\nterms = []\n", "lang"),
        ('lang = "en"\n[problem\n', "TOML"),
    ],
)
def test_malformed_lexicon(tmp_path: Path, body: str, bad: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Lexicon.load((), paths=[path])
    message = str(info.value)
    assert str(path) in message
    assert bad in message


def test_missing_lexicon_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Lexicon.load((), paths=[tmp_path / "nope.toml"])


def test_empty_lexicon_classifies_nothing() -> None:
    clf = RelevanceClassifier(Lexicon.load(()))
    assert clf.classify_text("no signal", lang="en") == Relevance(False, None, 0.0, (), (), "en")


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), lang=st.none() | st.text(max_size=8))
def test_classify_text_never_raises(clf: RelevanceClassifier, text: str, lang: str | None) -> None:
    r = clf.classify_text(text, lang)
    assert 0.0 <= r.score <= 1.0
    assert r.relevant == (r.score > 0)
    assert (r.category in CATEGORIES) if r.relevant else r.category is None
    assert set(r.tech) <= {"2g", "3g", "4g", "5g", "fibre", "dsl", "wifi"}


_WORDS = sorted({t.text for t in Lexicon.load().terms} | {"the", "my", "and", ",", "!", "😡"})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=12))
def test_classify_lexicon_soup_never_raises(clf: RelevanceClassifier, words: list[str]) -> None:
    r = clf.classify_text(" ".join(words))
    assert 0.0 <= r.score <= 1.0
    assert r.relevant == (r.category is not None)
    assert all(term in _WORDS for term in r.terms)
