"""Offline language identification: scripts, word and letter votes, accuracy and speed."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import langid
from models.errors import ConfigError
from models.langid import SCRIPTS, LanguageIdentifier, LanguageProfile, dominant_script
from models.relevance import Lexicon, normalize_text


@pytest.fixture(scope="module")
def ident() -> LanguageIdentifier:
    return LanguageIdentifier(Lexicon.load().profiles, normalize_text)


# A small hand-made test set: posts as people write them, about the network and not.
SENTENCES = {
    "en": [
        "My internet has been down since this morning and nobody can tell me why",
        "Does anyone else have no signal in the city centre right now?",
        "I just want to watch the game tonight without buffering every five minutes",
        "Thanks for the quick reply, the problem is fixed now",
        "Why is my phone showing SOS only again?",
        "We moved house last week and the router still isn't working",
        "Can you check if there is an outage near me?",
        "Great weather today, going for a walk with the dog",
    ],
    "it": [
        "Da stamattina non funziona internet e nessuno mi sa dire perché",
        "Qualcuno ha problemi con la rete mobile in centro a Milano?",
        "Stasera volevo vedere la partita ma la fibra è lentissima",
        "Grazie per la risposta, adesso funziona tutto",
        "Il telefono non prende da ieri sera, che succede?",
        "Abbiamo cambiato casa e il modem ancora non si connette",
        "Che bella giornata oggi, andiamo al mare con i bambini",
        "Non ho ancora capito quando arriva il tecnico",
    ],
    "fr": [
        "Depuis ce matin pas de réseau et personne ne sait pourquoi",
        "Quelqu'un d'autre a des soucis avec la box ce soir ?",
        "Je voulais regarder le match mais la connexion coupe sans arrêt",
        "Merci pour la réponse, tout fonctionne à nouveau",
        "Mon téléphone n'a plus de signal depuis hier soir",
        "On a déménagé et la fibre n'est toujours pas installée",
        "Il fait très beau aujourd'hui, on va se promener avec le chien",
        "Je ne comprends pas pourquoi c'est toujours aussi lent chez moi",
    ],
    "es": [
        "Desde esta mañana no tengo internet y nadie me dice por qué",
        "¿Alguien más está sin señal en el centro de Madrid?",
        "Quería ver el partido pero la fibra va lentísima",
        "Gracias por la respuesta, ya funciona todo",
        "Mi teléfono no tiene cobertura desde anoche",
        "Nos mudamos la semana pasada y el router todavía no conecta",
        "Qué buen día hace hoy, vamos a pasear con el perro",
        "No entiendo por qué siempre se corta la conexión por la noche",
    ],
    "de": [
        "Seit heute Morgen habe ich kein Internet und niemand sagt mir warum",
        "Hat noch jemand kein Netz in der Innenstadt?",
        "Ich wollte das Spiel schauen, aber die Verbindung bricht ständig ab",
        "Danke für die schnelle Antwort, jetzt geht wieder alles",
        "Mein Handy hat seit gestern Abend keinen Empfang",
        "Wir sind umgezogen und der Router funktioniert immer noch nicht",
        "Heute ist so schönes Wetter, wir gehen mit dem Hund spazieren",
        "Ich verstehe nicht, warum es abends immer so langsam ist",
    ],
    "pt": [
        "Desde cedo estou sem internet e ninguém me explica o motivo",
        "Mais alguém está sem sinal no centro de São Paulo?",
        "Queria ver o jogo mas a conexão cai toda hora",
        "Obrigado pela resposta, agora está tudo funcionando",
        "Meu celular não pega sinal desde ontem à noite",
        "Nós mudamos de casa e o roteador ainda não conecta",
        "Que dia lindo hoje, vamos passear com o cachorro",
        "Não entendo por que a net fica tão lenta à noite",
    ],
    "nl": [
        "Sinds vanochtend heb ik geen internet en niemand weet waarom",
        "Heeft nog iemand geen bereik in het centrum van Amsterdam?",
        "Ik wilde de wedstrijd kijken maar de verbinding valt steeds weg",
        "Bedankt voor het snelle antwoord, alles werkt weer",
        "Mijn telefoon heeft sinds gisteravond geen signaal",
        "We zijn verhuisd en de router doet het nog steeds niet",
        "Wat een mooi weer vandaag, we gaan wandelen met de hond",
        "Ik snap niet waarom het internet 's avonds altijd zo traag is",
    ],
    "ru": [
        "С самого утра нет интернета и никто не может объяснить почему",
        "У кого-нибудь еще нет связи в центре Москвы?",
        "Хотел посмотреть матч, но интернет постоянно отваливается",
        "Спасибо за быстрый ответ, теперь все работает",
        "Мой телефон не ловит сеть со вчерашнего вечера",
        "Сегодня отличная погода, идем гулять с собакой",
    ],
    "zh": [
        "从早上开始家里就没有网络，客服也说不清楚原因",
        "市中心有人手机没信号吗？",
        "想看球赛结果网速太慢一直卡",
        "谢谢回复，现在一切正常了",
        "今天天气真好，我们去公园散步吧",
        "網路從昨天晚上就斷了，真的很煩",
    ],
    "ja": [
        "朝からネットが繋がらなくて困っています",
        "都心で圏外になってる人いますか？",
        "試合を見たかったのに回線が重すぎる",
        "返信ありがとうございます、もう直りました",
        "今日はいい天気なので犬と散歩に行きます",
        "昨日の夜から電話が全然つながらない",
    ],
    "ar": [
        "من الصباح ما في نت ولا أحد يعرف السبب",
        "هل عند أحد مشكلة في الشبكة في وسط الرياض؟",
        "كنت أبي أشوف المباراة بس النت فاصل",
        "شكرا على الرد، الحين كل شي يشتغل",
        "الجو اليوم جميل، سنذهب إلى الحديقة",
        "جوالي ما فيه تغطية من امس بالليل",
    ],
    "id": [
        "Dari pagi internet mati dan tidak ada yang bisa jelasin kenapa",
        "Ada yang sinyalnya hilang juga di Jakarta Selatan?",
        "Mau nonton bola tapi wifinya lemot banget",
        "Makasih balasannya, sekarang sudah normal lagi",
        "Hp aku gak dapet sinyal dari semalam",
        "Kami baru pindah rumah dan modemnya masih belum nyala",
        "Cuaca hari ini cerah banget, mau jalan jalan sama anjing",
        "Gak ngerti kenapa tiap malam koneksinya putus terus",
    ],
    "tr": [
        "Sabahtan beri internet yok ve kimse nedenini söylemiyor",
        "Şehir merkezinde şebeke yok mu başka kimsede?",
        "Maçı izlemek istedim ama bağlantı sürekli kopuyor",
        "Hızlı cevap için teşekkürler, şimdi her şey çalışıyor",
        "Telefonum dün akşamdan beri çekmiyor",
        "Taşındık ve modem hâlâ çalışmıyor",
        "Bugün hava çok güzel, köpekle yürüyüşe çıkıyoruz",
        "Akşamları internet neden bu kadar yavaş anlamıyorum",
    ],
}


def test_accuracy_on_the_hand_made_set(ident: LanguageIdentifier) -> None:
    per_lang = {
        lang: sum(ident.identify(s) == lang for s in texts) / len(texts)
        for lang, texts in SENTENCES.items()
    }
    total = sum(len(t) for t in SENTENCES.values())
    accuracy = sum(per_lang[lang] * len(t) for lang, t in SENTENCES.items()) / total
    assert set(SENTENCES) == set(Lexicon.bundled())
    assert all(len(texts) >= 6 for texts in SENTENCES.values())
    assert accuracy >= 0.95, per_lang
    assert min(per_lang.values()) >= 0.8, per_lang


def test_speed(ident: LanguageIdentifier) -> None:
    texts = [t for texts in SENTENCES.values() for t in texts] * 50
    norms = [normalize_text(t) for t in texts]
    start = time.process_time()
    for text, norm in zip(texts, norms, strict=True):
        ident.identify(text, norm)
    rate = len(texts) / max(time.process_time() - start, 1e-9)
    assert rate > 20_000, f"{rate:,.0f} texts/s"  # some 300,000/s on one idle core


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("sin señal", "es"),
        ("kein Netz", "de"),
        ("internet lemot", "id"),
        ("geen bereik", "nl"),
        ("sem sinal", "pt"),
        ("nessun segnale", "it"),
        ("pas de réseau", "fr"),
        ("internet yok", "tr"),
        ("нет связи", "ru"),
        ("没信号", "zh"),
        ("圏外", "zh"),  # kanji only: the usual language of Han
        ("圏外です", "ja"),
        ("لا توجد شبكة", "ar"),
        ("신호가 없어요", "ko"),  # no profile: the script's language
        ("Δεν έχω σήμα", "el"),
        ("אין קליטה", "he"),
        ("ไม่มีสัญญาณ", "th"),
        ("wifi", None),  # a word of every language: a tie
        ("4G 5G", None),
        ("", None),
        ("!!! 😡", None),
        ("@VerizonSupport lol", None),
    ],
)
def test_short_posts(ident: LanguageIdentifier, text: str, lang: str | None) -> None:
    assert ident.identify(text) == lang


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("No signal", "latin"),
        ("Señal caída", "latin"),
        ("нет сети @MTS", "cyrillic"),
        ("@stc_ksa لا توجد شبكة", "arabic"),
        ("ドコモ圏外です", "kana"),
        ("没信号", "han"),
        ("au圏外", "han"),  # two Han characters weigh like four letters
        ("docomo圏外", "latin"),
        ("신호", "hangul"),
        ("", None),
        ("123 !!", None),
    ],
)
def test_dominant_script(text: str, script: str | None) -> None:
    assert dominant_script(text) == script


# Letters of every script told apart and others, Latin letters and what is often beside them.
_SCRIPT_SOUP = st.text(
    st.sampled_from("aZ éßÆ×÷ ḁ ·.,!? 09 😡📶 ’“ ж Ω ש ب ক क ก 한 ㄱ あ ア 中 𠀀 ｱ ﬁ ‎"), max_size=30
)


@settings(max_examples=500, deadline=None)
@given(_SCRIPT_SOUP)
def test_dominant_script_is_the_script_with_most_letters(text: str) -> None:
    # The short cut for texts without letters of other scripts than Latin must agree with
    # counting every letter.
    counts = langid._script_counts(text)
    assert dominant_script(text) == (max(counts, key=counts.__getitem__) if counts else None)


def test_remembered_decisions_stay_right_and_bounded(
    ident: LanguageIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [t for texts in SENTENCES.values() for t in texts]
    expected = [ident.identify(t) for t in texts]
    monkeypatch.setattr(langid, "_DECISIONS_KEPT", 5)
    small = LanguageIdentifier(Lexicon.load().profiles, normalize_text)
    for _ in range(2):  # the second time, some from memory
        assert [small.identify(t) for t in texts] == expected
    assert 0 < len(small._votes["latin"].decided) <= 5
    assert all(len(votes.decided) <= 5 for votes in small._votes.values())


def test_letters_break_a_tie() -> None:
    ident = LanguageIdentifier(
        [
            LanguageProfile("es", ("latin",), frozenset({"no"}), frozenset("ñ")),
            LanguageProfile("it", ("latin",), frozenset({"no"}), frozenset("ò")),
        ]
    )
    assert ident.identify("no") is None
    assert ident.identify("no señal") == "es"
    assert ident.identify("NO SEÑAL") == "es"  # either case
    assert ident.identify("no però") == "it"


def test_frequent_words_weigh_more_than_other_words() -> None:
    ident = LanguageIdentifier(
        [
            LanguageProfile("en", ("latin",), frozenset({"the"}), other_words=frozenset({"down"})),
            LanguageProfile("id", ("latin",), frozenset({"yang"}), other_words=frozenset({"mati"})),
        ]
    )
    assert ident.identify("the internet mati") == "en"
    assert ident.identify("down yang") == "id"
    assert ident.identify("down mati") is None


def test_profiles_of_a_language_merge() -> None:
    ident = LanguageIdentifier(
        [
            LanguageProfile("ja", ("kana",)),
            LanguageProfile("zh", ("han",)),
            LanguageProfile("ja", ("han",), frozenset({"x"})),
        ]
    )
    assert ident.langs == ("ja", "zh")
    assert ident.profiles[0].scripts == ("kana", "han")
    assert ident.identify("圏外") == "zh"  # Han: zh's usual script, only ja's second


def test_no_profiles() -> None:
    ident = LanguageIdentifier([])
    assert ident.identify("the network is down") is None
    assert ident.identify("нет сети") == "ru"


def test_long_text_reads_only_the_first_words(ident: LanguageIdentifier) -> None:
    text = "il telefono non prende " * 20 + "the the the " * 2000
    start = time.process_time()
    assert ident.identify(text) == "it"
    assert time.process_time() - start < 0.5


def test_profile_checks() -> None:
    with pytest.raises(ConfigError, match="klingon"):
        LanguageProfile("tlh", ("klingon",))
    with pytest.raises(ConfigError, match="must not be empty"):
        LanguageProfile("xx", ())
    assert "latin" in SCRIPTS and "han" in SCRIPTS


def test_bundled_profiles() -> None:
    profiles = {p.lang: p for p in Lexicon.load().profiles}
    assert profiles["ja"].scripts == ("kana", "han")
    assert profiles["zh"].scripts == ("han",)
    for lang in ("en", "it", "fr", "es", "de", "pt", "nl", "id", "tr"):
        assert profiles[lang].scripts == ("latin",)
        assert len(profiles[lang].words) >= 50, lang  # frequent words
        assert profiles[lang].other_words, lang  # the words of its lexicon terms
