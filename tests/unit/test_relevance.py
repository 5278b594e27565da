"""The relevance stage: text normalisation, lexicon loading and checks, the decision rule."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ConfigError, InvalidRecord
from models.records import Post, RelevantPost
from models.relevance import (
    ANY_SERVICE,
    CATEGORIES,
    MAX_MATCHES,
    OPINION,
    PAIR_WINDOW,
    TECH_TAGS,
    Brand,
    Brands,
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
        ("Нет связи ВСЁ ЕЩЁ", "нет связи все еще"),
        ("网络断了", "网络断了"),
        ("ＩＮＴＥＲＮＥＴ繋がらない", "internet繋がらない"),
        ("İNTERNET YOK, BAĞLANTI KOPUYOR", "internet yok. baglanti kopuyor"),
        ("internet yok, bağlantı kopuyor", "internet yok. baglanti kopuyor"),
        ("ÇEKMİYOR", "cekmiyor"),
        ("الإنترنت مقطوع", "الانترنت مقطوع"),  # hamza-carrying alef
        ("أنا في الشبكة", "انا في الشبكه"),  # teh marbuta
        ("مستشفى", "مستشفي"),  # alef maksura
        ("الشَّبَكَةُ ضعيفةٌ", "الشبكه ضعيفه"),  # vowel marks
        ("النـــت فاصل", "النت فاصل"),  # tatweel
        ("٤ جي ؛ ۵G", "4 جي . 5g"),  # Eastern Arabic digits, Arabic semicolon
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
        ("still no internet and the speeds I pay for are a joke", "fixed_broadband"),
        ("cable box not working and channels keep pixelating", "tv"),
        ("poor signal in the whole town since the storm", "mobile_data"),
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
    "de": [
        ("Seit heute Morgen kein Netz in ganz Köln", "mobile_data"),
        ("Internet geht nicht, schon wieder seit 3 Stunden", "fixed_broadband"),
        ("Bei mir geht das Internet nicht mehr, Router blinkt rot", "fixed_broadband"),
        ("Kann nicht telefonieren, Anrufe brechen ständig ab", "voice"),
        ("SMS kommen nicht an seit gestern", "sms"),
        ("Magenta TV geht nicht, kein Fernsehen heute Abend", "tv"),
        ("Totalausfall: weder Internet noch Telefon", "total_outage"),
        ("LTE ist extrem langsam hier in der Innenstadt", "mobile_data"),
        ("Störung beim DSL? Verbindung bricht ständig ab", "fixed_broadband"),
    ],
    "pt": [
        ("sem sinal aqui no bairro desde cedo", "mobile_data"),
        ("a internet caiu de novo, que raiva", "fixed_broadband"),
        ("não consigo ligar pra ninguém, as chamadas caem", "voice"),
        ("sms não chega, preciso do código do banco", "sms"),
        ("tv sem sinal e o decodificador não funciona", "tv"),
        ("tudo fora do ar: sem internet e sem telefone", "total_outage"),
        ("o 4g está muito lento hoje", "mobile_data"),
        ("minha fibra parou de funcionar ontem à noite", "fixed_broadband"),
        ("a net tá caindo toda hora, impossível trabalhar", "fixed_broadband"),
    ],
    "nl": [
        ("Geen bereik in heel Utrecht sinds vanochtend", "mobile_data"),
        ("Internet ligt eruit, modem knippert rood", "fixed_broadband"),
        ("Storing bij het glasvezel? internet is heel traag", "fixed_broadband"),
        ("Kan niet bellen, gesprekken vallen steeds weg", "voice"),
        ("sms komt niet aan, al twee uur", "sms"),
        ("Geen tv vanavond, decoder doet het niet", "tv"),
        ("Alles ligt eruit, geen internet en geen tv", "total_outage"),
        ("4G werkt niet in het centrum", "mobile_data"),
    ],
    "ru": [
        ("Нет связи с утра, что происходит?", "mobile_data"),
        ("Телефон не ловит сеть в центре Москвы", "mobile_data"),
        ("Опять пропал интернет, уже третий раз за неделю", "fixed_broadband"),
        ("Домашний интернет тормозит весь вечер", "fixed_broadband"),
        ("Звонки не проходят, сбрасываются через минуту", "voice"),
        ("Не приходят смс с кодами от банка", "sms"),
        ("Не работает телевидение, пропали каналы", "tv"),
        ("Ничего не работает: нет ни интернета ни связи", "total_outage"),
        ("Мобильный интернет не работает, LTE пропадает", "mobile_data"),
    ],
    "zh": [
        ("今天手机一直没信号，怎么回事", "mobile_data"),
        ("家里断网了，宽带坏了一上午", "fixed_broadband"),
        ("网速太慢了，看视频一直卡顿", "fixed_broadband"),
        ("打不了电话，通话中断好几次", "voice"),
        ("收不到短信，验证码一直不来", "sms"),
        ("电视没信号，机顶盒也没反应", "tv"),
        ("全城断网，电话和网络都断了", "total_outage"),
        ("5G信号很差，老是掉线", "mobile_data"),
        ("網路斷了，整棟樓都上不了網", "fixed_broadband"),
    ],
    "ja": [
        ("朝からずっと圏外なんだけど", "mobile_data"),
        ("ドコモ通信障害？全然繋がらない", "mobile_data"),
        ("家のネットが繋がらない、ルーターのランプが赤", "fixed_broadband"),
        ("光回線が遅すぎて仕事にならない", "fixed_broadband"),
        ("電話が繋がらない、発信できない", "voice"),
        ("SMSが届かない、認証コードが来ない", "sms"),
        ("テレビが映らない、ひかりTVもダメ", "tv"),
        ("電話もネットも繋がらない、大規模障害？", "total_outage"),
        ("ｗｉｆｉ繋がらない、ネット重い", "fixed_broadband"),
    ],
    "ar": [
        ("لا يوجد شبكة في الرياض من الصباح", "mobile_data"),
        ("النت فاصل من امس والراوتر ما يشتغل", "fixed_broadband"),
        ("والنت طافي عندنا من ساعتين", "fixed_broadband"),
        ("الإنترنت بطيء جدا اليوم", "fixed_broadband"),
        ("مش قادر اتصل بحد، المكالمات تنقطع", "voice"),
        ("الرسائل ما توصل من الصبح", "sms"),
        ("الرسيفر لا يعمل والقنوات مقطوعة", "tv"),
        ("لا نت ولا شبكة، انقطاع الاتصالات في المنطقة", "total_outage"),
        ("مفيش شبكة خالص في البيت", "mobile_data"),
    ],
    "id": [
        ("sinyal hilang dari pagi, gak bisa apa apa", "mobile_data"),
        ("indihome lemot banget dari kemarin", "fixed_broadband"),
        ("internet mati total di rumah, lampu los merah", "fixed_broadband"),
        ("wifinya lelet parah, tolong dicek", "fixed_broadband"),
        ("gak bisa nelpon, panggilan gagal terus", "voice"),
        ("otp tidak masuk, sms gak masuk dari tadi", "sms"),
        ("useetv mati, tv tidak ada siaran", "tv"),
        ("gangguan massal? internet dan telepon mati", "total_outage"),
        ("jaringan 4g jelek banget di sini", "mobile_data"),
        ("tidak ada sinyal sama sekali di kantor", "mobile_data"),
        ("indihome kenapa lagi sih, dari pagi loading terus", "fixed_broadband"),
        ("@IndiHome jaringan LOS dari semalam min", "fixed_broadband"),
    ],
    "tr": [
        ("Sabahtan beri telefon çekmiyor, şebeke yok", "mobile_data"),
        ("Internet yok, modem ışığı yanmıyor", "fixed_broadband"),
        ("İNTERNETİM GİTTİ yine, rezalet", "fixed_broadband"),
        ("internet cok yavas, surekli kopuyor", "fixed_broadband"),
        ("Arama yapamıyorum, görüşmeler kesiliyor", "voice"),
        ("SMS gelmiyor, doğrulama kodu gelmiyor", "sms"),
        ("Tivibu çalışmıyor, kanallar gelmiyor", "tv"),
        ("Ne internet var ne telefon, iletişim kesildi", "total_outage"),
        ("4.5G çekmiyor, mobil veri çalışmıyor", "mobile_data"),
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
        "the speed limit signs are down",
        "horrible news coverage of the storm",
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
    "de": [
        "Das soziale Netzwerk ist voller Hass",
        "Stromausfall in der ganzen Straße, Ampeln aus",
        "Signalstörung bei der S-Bahn, alle Züge verspätet",
        "Meine Rechnung ist schon wieder zu hoch",
        "Jetzt mit 5G: das neue Angebot für 19,99 im Monat",
        "Das Internet ist nicht langsam, alles gut",
        "Internet geht wieder, danke für die schnelle Hilfe",
        "Wann kommt Glasfaser in unsere Straße?",
        "Tut uns leid! Schreib uns eine DM, wir schauen uns das gerne an",
        "Mein Display ist kaputt, Akku hält nicht",
    ],
    "pt": [
        "adoro essa rede social",
        "falta de luz no bairro inteiro",
        "a fatura veio cobrando a mais de novo",
        "promoção: internet fibra por 99 por mês, assine já",
        "a internet não está lenta hoje, ótimo",
        "a internet já voltou, obrigado",
        "pedimos desculpas pelo transtorno, nos chame por DM",
        "o metrô parou por falha na linha",
        "a novela da rede globo foi ótima",
    ],
    "nl": [
        "Sociale media is een probleem voor jongeren",
        "Seinstoring bij Utrecht, geen treinen",
        "Stroomstoring in de hele wijk",
        "Mijn factuur is weer hoger geworden",
        "Internet werkt weer, storing verholpen",
        "Nu met 5G: bestel nu met korting",
        "Vervelend om te horen! Stuur ons een DM, we kijken graag met je mee",
        "Wanneer komt glasvezel in onze straat?",
    ],
    "ru": [
        "В социальных сетях пишут всякую ерунду",
        "Отключение горячей воды до пятницы",
        "Нет света во всем доме",
        "Опять списали деньги за тариф",
        "Связь восстановили, все заработало",
        "Приносим извинения за неудобства, напишите нам в личные сообщения",
        "Открылась новая сеть магазинов у дома",
        "Интернет работает нормально, без проблем",
        "Метро встало, поезда стоят",
    ],
    "zh": [
        "社交网络上大家都在讨论",
        "小区停电了，电梯也停了",
        "这个月话费又乱扣费",
        "5G套餐限时优惠，立即办理",
        "网络已恢复正常，谢谢",
        "给您带来不便敬请谅解，请您私信我们",
        "地铁故障，列车延误",
        "网速很快，一点都不卡",
        "手机没电了，充不进电",
    ],
    "ja": [
        "SNSでみんな騒いでる",
        "停電でエアコンが止まった",
        "電車が人身事故で運転見合わせ",
        "料金が高すぎる、請求書がおかしい",
        "通信障害は復旧しました",
        "ご不便をおかけして申し訳ございません、DMにてご連絡ください",
        "キャンペーン中！5G対応スマホがお得",
        "サーバー落ちてゲームできない",
        "ネットが遅くない、快適",
    ],
    "ar": [
        "شبكات التواصل الاجتماعي مليئة بالاشاعات",
        "انقطاع الكهرباء في الحي كله",
        "الفاتورة هذا الشهر غالية جدا",
        "عروض رمضان: باقات انترنت بخصومات لفترة محدودة",
        "رجع النت الحمد لله",
        "نعتذر عن الإزعاج، يرجى مراسلتنا على الخاص",
        "تفكيك شبكة تهريب في المدينة",
        "النت مو بطيء اليوم، ممتاز",
        "قناة الجزيرة تبث برنامجا جديدا",
    ],
    "id": [
        "media sosial lagi rame soal ini",
        "mati lampu dari sore, pln kemana",
        "tagihan indihome bulan ini naik terus",
        "promo kuota gratis, daftar sekarang",
        "internet sudah normal kembali, makasih",
        "mohon maaf atas ketidaknyamanannya kak, boleh dm nomor internet ya",
        "krl gangguan lagi, kereta telat",
        "gak ada gangguan kok, lancar kok",
        "mau pasang baru indihome caranya gimana",
        "@ann Kalau masih kendala, infoin nomor internetnya di DM ya",
    ],
    "tr": [
        "Sosyal medya çok toksik oldu",
        "Elektrik kesintisi yüzünden her yer karanlık",
        "Faturam yine yüksek geldi, zam yapmışlar",
        "Kampanya: 5G hediye, hemen başvur",
        "İnternet düzeldi, teşekkürler",
        "Yaşadığınız sorun için özür dileriz, DM üzerinden bilgilerinizi iletebilir misiniz",
        "Metro arızası nedeniyle seferler gecikmeli",
        "İnternet yavaş değil, sorun yok",
        "Altyapı ne zaman gelecek bizim sokağa?",
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
    assert r.lang == lang, r  # identified
    assert 0.6 <= r.score <= 1.0
    assert r.terms
    tagged = clf.classify_text(text, lang=lang)
    assert tagged.lang == lang
    assert (tagged.relevant, tagged.category, tagged.score) == (True, category, r.score)


@pytest.mark.parametrize(
    ("lang", "text"), [(lang, text) for lang, texts in NEGATIVE.items() for text in texts]
)
def test_negative(clf: RelevanceClassifier, lang: str, text: str) -> None:
    for r in (clf.classify_text(text, lang=lang), clf.classify_text(text)):
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


@pytest.mark.parametrize(
    "text",
    [
        "power cut in the whole street, internet down too",
        "no hay señal en el metro",
        "Stromausfall vorbei, aber immer noch kein Internet",
        "falta de luz e agora sem sinal também",
        "mati lampu dan sinyal hilang",
        "停电了，而且没信号",
        "انقطاع الكهرباء ومافي شبكة",
        "elektrik kesintisi bitti ama internet yok",
    ],
)
def test_strong_phrase_outside_exclusion_survives(clf: RelevanceClassifier, text: str) -> None:
    assert clf.classify_text(text).relevant


def test_exclusion_overlapping_the_evidence(clf: RelevanceClassifier) -> None:
    assert not clf.classify_text("social network is down").relevant
    assert not clf.classify_text("la rete sociale è down").relevant
    # "outage in" overlaps "power outage" without holding it: the exclusion wins
    assert not clf.classify_text("power outage in our street since last night").relevant


# (a strong phrase holding an exclusion, the exclusion with a pair outside it, lang, category)
HOLDING = [
    ("communications blackout across the island", "blackout here, internet so laggy", "en",
     "total_outage"),
    ("apagón de internet en toda la ciudad", "apagón, la conexión va lenta", "es",
     "total_outage"),
    ("apagão de internet no bairro", "apagão no bairro, a conexão está lenta", "pt",
     "total_outage"),
    ("no recibo sms desde ayer", "el recibo llegó y la conexión va lenta", "es", "sms"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "excluded", "lang", "category"), HOLDING)
def test_strong_phrase_holding_an_exclusion_wins(
    clf: RelevanceClassifier, text: str, excluded: str, lang: str, category: str
) -> None:
    r = clf.classify_text(text, lang)
    assert (r.relevant, r.category) == (True, category), r
    assert not clf.classify_text(excluded, lang).relevant  # elsewhere the exclusion counts


def test_a_problem_pairs_only_with_a_network_word_near_it(clf: RelevanceClassifier) -> None:
    far = (
        "Reading up on the history of the internet tonight for my history class, and the "
        "traffic on the drive home was so slow"
    )
    assert not clf.classify_text(far).relevant
    assert clf.classify_text("the internet tonight was so slow").relevant
    # at most PAIR_WINDOW words between, on either side, across clause marks
    gap = " ".join(["blah"] * PAIR_WINDOW)
    assert clf.classify_text(f"internet {gap} slow", "en").relevant
    assert clf.classify_text(f"slow. {gap} internet", "en").relevant
    assert not clf.classify_text(f"internet {gap} blah slow", "en").relevant
    assert clf.classify_text(f"slow. internet {gap} blah laggy", "en").relevant  # the near one
    # a context word and an operator: the same reach
    assert clf.classify_text(f"@Comcast my service {gap} slow").relevant
    assert not clf.classify_text(f"@Comcast my service {gap} blah slow").relevant
    # an operator and an outage word pair at any distance
    assert clf.classify_text(f"@Comcast {gap} blah down").relevant


def test_opinion_words_pair_with_generic_words_only_with_an_operator(
    clf: RelevanceClassifier,
) -> None:
    assert not clf.classify_text("so much garbage on the internet these days").relevant
    assert not clf.classify_text(
        "such horrible damage downtown and no one is giving it any coverage"
    ).relevant
    assert clf.classify_text("@Comcast internet has been garbage all week").relevant
    assert clf.classify_text("my broadband has been garbage all week").relevant  # [service]
    assert clf.classify_text("the internet has been slow all week").relevant  # plain problem
    assert not clf.classify_text("wifi di kafe ini ampas banget", "id").relevant
    assert clf.classify_text("@IndiHome wifi di rumah ampas banget dari pagi", "id").relevant


def test_opinion_key_of_the_problem_table(tmp_path: Path) -> None:
    path = tmp_path / "en.toml"
    path.write_text(
        'lang = "en"\n[generic]\nfixed_broadband = ["internet"]\n'
        '[service]\nfixed_broadband = ["broadband"]\n'
        '[problem]\nterms = ["slow"]\nopinion = ["trash"]\n',
        encoding="utf-8",
    )
    lex = Lexicon.load((), paths=[path])
    assert {(t.text, t.label) for t in lex.terms if t.role == "problem"} == {
        ("slow", "terms"),
        ("trash", OPINION),
    }
    clf = RelevanceClassifier(lex)
    assert clf.classify_text("internet slow").relevant
    assert not clf.classify_text("internet trash").relevant
    assert clf.classify_text("broadband trash").relevant


# (negated, the same complaint without the negation) per language; Japanese and Turkish
# negate with a verb suffix, so their "not a problem" forms are [exclude] phrases.
NEGATION = {
    "en": ("the internet is not slow at all", "the internet is slow"),
    "it": ("la fibra non è più lenta", "la fibra è lenta"),
    "fr": ("ma connexion n'est plus en panne", "ma connexion est en panne"),
    "es": ("el internet no está caído", "el internet está caído"),
    "de": ("das Netz ist nicht gestört", "das Netz ist gestört"),
    "pt": ("a internet não está lenta", "a internet está lenta"),
    "nl": ("het internet is niet traag", "het internet is traag"),
    "ru": ("интернет больше не тормозит", "интернет тормозит"),
    "zh": ("宽带从不出问题", "宽带出问题了"),
    "ja": ("ネットが遅くない", "ネットが遅い"),
    "ar": ("النت مو بطيء", "النت بطيء"),
    "id": ("internetnya gak lemot kok", "internetnya lemot"),
    "tr": ("internet yavaş değil", "internet yavaş"),
}


@pytest.mark.parametrize("lang", sorted(NEGATION))
def test_negation_per_language(clf: RelevanceClassifier, lang: str) -> None:
    negated, plain = NEGATION[lang]
    assert not clf.classify_text(negated, lang=lang).relevant
    assert clf.classify_text(plain, lang=lang).relevant
    assert not clf.classify_text(negated).relevant  # and with the language identified


def test_negation_window(clf: RelevanceClassifier) -> None:
    # too far from the problem word, or in another clause: not negated
    assert clf.classify_text("not sure why but my internet is down").relevant
    assert clf.classify_text("no, not again. broadband down").relevant
    # a bare "não" / "не" is not a negator: these are complaints
    assert clf.classify_text("não aguento mais, a internet caiu").relevant
    assert clf.classify_text("уже не первый день не работает интернет").relevant


def test_negation_tables_cover_the_languages_that_negate_before() -> None:
    lex = Lexicon.load()
    negating = {t.lang for t in lex.terms if t.role == "negation"}
    assert negating == set(NEGATION) - {"ja", "tr"}


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
    assert clf.classify_text("internet lemot").lang == "id"
    assert clf.classify_text("wifi").lang is None  # in every lexicon: a tie
    assert clf.classify_text("lol 4G").lang is None
    assert clf.classify_text("hello there").lang == "en"
    assert clf.classify_text("hello there", lang="en-GB").lang == "en"
    # an undetermined tag is no tag: the language is identified
    assert clf.classify_text("hello there", lang="und").lang == "en"
    assert clf.classify_text("hello there", lang="qme").lang == "en"  # Twitter: media only
    assert clf.classify_text("!!", lang="zxx").lang is None
    assert clf.classify_text("sinyal hilang", lang="in").lang == "id"  # old code for Indonesian
    assert clf.classify_text("", lang=None).lang is None


def test_only_the_posts_language_pairs(clf: RelevanceClassifier) -> None:
    # Dutch "storing" (outage) is English "storing" (keeping): in an English post it is not
    # a problem word, in a Dutch one it is.
    text = "storing my internet history in the cloud"
    assert clf.classify_text(text).lang == "en"
    assert not clf.classify_text(text).relevant
    assert clf.classify_text("het internet heeft storing", lang="nl").relevant
    assert not clf.classify_text("het internet heeft storing", lang="en").relevant
    # exclusions too: Italian "metro" says nothing in an English post
    assert clf.classify_text("metro area internet outage tonight").relevant
    # strong phrases count whatever the language
    assert clf.classify_text("no signal", lang="de").relevant


def test_classify_post_uses_its_lang(clf: RelevanceClassifier) -> None:
    post = Post(id="1", text="sin señal en todo el barrio", created_at_ms=1708594200000, lang="es")
    r = clf.classify(post)
    assert isinstance(r, Relevance)
    assert (r.relevant, r.category, r.lang) == (True, "mobile_data", "es")
    other = Post(id="2", text="sin señal", created_at_ms=1708594200000, lang="ca")
    assert clf.classify(other).lang == "ca"


def test_not_relevant_without_any_match_is_shared(clf: RelevanceClassifier) -> None:
    a = clf.classify_text("lovely weather today")
    assert a == Relevance(False, None, 0.0, (), (), "en")
    assert clf.classify_text("nice walk today") is a
    assert clf.classify_text("¿qué tal?") == Relevance(False, None, 0.0, (), (), "es")


# --- the hard cases of the issue (English), resolved and reply phrases ----------------------

HARD_RELEVANT = [
    "love paying for internet that never works",  # sarcasm about a real fault
    "is there an outage in 90210? no internet since 8am",
    "no signal since this morning, is the tower down?",
    "@comcastcares internet has been down for 30 mins now",
    "internet has been out for 3 hours, when will it be back up?",
    "it was back to normal for an hour, now no signal again",
    "RT @ann: no internet in the whole building since noon",  # a repost counts
]
HARD_NOT_RELEVANT = [
    "Now with 5G! Switch today and get a free phone",  # promotion
    "When will fiber be available in my area?",  # coverage plan, no fault
    "I was overcharged on my bill again",  # billing
    "my screen is cracked and the phone won't turn on",  # device
    "my package was never delivered, tracking number says shipped",  # delivery
    "@AskPlayStation PSN down again?",  # an app or game network
    "watching the finale on network tv tonight",  # TV network
    "power outage in my area, no electricity since noon",  # power cut alone
    "my internet is back up, thanks for the quick help",  # a fault that is over
    "no signal all morning but it's back to normal now",
    "Sorry to hear that! Please send us a DM so we can look into this",  # operator reply
    "We're aware of an issue affecting customers in Dallas, no signal. Our technicians are working",
    "customer service is terrible, on hold for an hour",
]


@pytest.mark.parametrize("text", HARD_RELEVANT)
def test_hard_cases_relevant(clf: RelevanceClassifier, text: str) -> None:
    assert clf.classify_text(text).relevant, clf.classify_text(text)


@pytest.mark.parametrize("text", HARD_NOT_RELEVANT)
def test_hard_cases_not_relevant(clf: RelevanceClassifier, text: str) -> None:
    assert not clf.classify_text(text).relevant, clf.classify_text(text)


# How people report a fault to their operator, one case per family of phrasings (inflections,
# spellings without apostrophes, opinion words, what the phone or the modem shows...).
FAULT_FAMILIES = [
    ("been without internet for two days now", "fixed_broadband"),
    ("haven't had service since the storm", "total_outage"),  # no service named
    ("phone stuck on 3G all day", "mobile_data"),
    ("full bars but nothing loads", "mobile_data"),
    ("no netwrk in my village since morning", "mobile_data"),
    ("data isnt working and LTE is so slow", "mobile_data"),
    ("can't make or receive calls since this morning", "voice"),
    ("call drops every few minutes on my commute", "voice"),
    ("phone lines are down across the county after the flood", "voice"),
    ("texts won't go through to android users", "sms"),
    ("internet is trash tonight", "fixed_broadband"),
    ("what's wrong with my internet today", "fixed_broadband"),
    ("paying for 150 mbps and only getting 10", "fixed_broadband"),
    ("the modem keeps blinking orange", "fixed_broadband"),
    ("internet keeps dying every evening", "fixed_broadband"),
    ("lost all my channels again", "tv"),
    ("cable and internet are both out", "total_outage"),
    ("communications are down in the valley", "total_outage"),
    ("@comcastcares wifi is acting up again", "fixed_broadband"),  # context word + operator
    ("@AskFrontier it comes and goes all morning", "fixed_broadband"),  # operator + outage
    ("@Telstra_news mobile services impacted by the floods", "mobile_data"),
    ("jaringannya ampas banget", "mobile_data"),
    ("telefoni e cellulari in tilt dopo il terremoto", "voice"),
]
# Look-alikes of those phrasings that are no fault of a telecom network.
LOOK_ALIKES = [
    "the wifi at the hotel is so slow",  # a venue's wifi
    "free wifi at the cafe keeps dropping",
    "@Delta your service has been terrible today",  # customer service
    "@ChipotleTweets are you guys down? the app won't load",  # an app
    "the signal to noise ratio in this debate is awful",
    "the wedding reception was terrible",
    "my internet was down this morning but it's working now",  # over
    "can you fix my bill please, the internet plan is wrong",  # billing
    "happy australia day to all you guys down under",
    "@AmazonHelp I don't have internet at home, can I pay by phone?",
]


@pytest.mark.parametrize(("text", "category"), FAULT_FAMILIES)
def test_fault_report_families(clf: RelevanceClassifier, text: str, category: str) -> None:
    r = clf.classify_text(text)
    assert (r.relevant, r.category) == (True, category), r


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_not_faults(clf: RelevanceClassifier, text: str) -> None:
    assert not clf.classify_text(text).relevant, clf.classify_text(text)


@pytest.mark.parametrize(
    ("over", "again"),
    [
        ("通信障害は復旧しました", "復旧したと思ったらまた圏外"),
        ("internet sudah normal kembali", "sudah normal kembali tapi sinyal hilang lagi"),
        ("Internet geht wieder", "ging wieder, jetzt wieder kein Netz"),
        ("связь восстановили", "восстановили, а теперь опять нет связи"),
    ],
)
def test_resolved_phrase_sets_aside_what_came_before(
    clf: RelevanceClassifier, over: str, again: str
) -> None:
    assert not clf.classify_text(over).relevant
    assert clf.classify_text(again).relevant


@pytest.mark.parametrize(
    "text",
    [
        "ci scusiamo per il disagio, nessun segnale? scrivici in dm",
        "lamentamos las molestias, envíanos un DM con tu número",
        "mohon maaf atas ketidaknyamanannya, sinyal hilang? boleh dm nomor hp",
        "ご不便をおかけして申し訳ございません。通信障害が発生しています",
        "نعتذر عن الإزعاج، انقطاع الانترنت قيد المعالجة",
        "Yaşadığınız sorun için özür dileriz, internet yok mu? DM üzerinden yazın",
    ],
)
def test_reply_phrases_mark_operator_replies(clf: RelevanceClassifier, text: str) -> None:
    r = clf.classify_text(text)
    assert not r.relevant, r
    assert r.terms  # the evidence is still there for --explain


# --- matching: open terms, Arabic proclitics, scripts without spaces ------------------------


def test_open_ended_terms(tmp_path: Path) -> None:
    path = tmp_path / "ru.toml"
    path.write_text(
        'lang = "ru"\n[generic]\nfixed_broadband = ["интернет*"]\n'
        '[problem]\nterms = ["пропал"]\n[strong]\nmobile_data = ["*сбой связи"]\n',
        encoding="utf-8",
    )
    lex = Lexicon.load((), paths=[path])
    assert {(t.text, t.open_start, t.open_end) for t in lex.terms} == {
        ("интернет", False, True),
        ("пропал", False, False),
        ("сбой связи", True, False),
    }
    clf = RelevanceClassifier(lex, Brands(()))
    assert clf.classify_text("пропал интернет").relevant
    assert clf.classify_text("у меня пропал интернета доступ").relevant  # open end
    assert not clf.classify_text("пропал пинтернет").relevant  # but not an open start
    assert clf.classify_text("масштабныйсбой связи").relevant  # open start


def test_open_and_closed_entries_of_one_text(tmp_path: Path) -> None:
    # "net" is a closed generic word in one file and an open problem stem in another: glued
    # to more letters, only the open entry counts.
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('lang = "xa"\n[strong]\nmobile_data = ["net"]\n', encoding="utf-8")
    b.write_text('lang = "xb"\n[tech]\nwifi = ["net*"]\n', encoding="utf-8")
    clf = RelevanceClassifier(Lexicon.load((), paths=[a, b]), Brands(()))
    assert clf.classify_text("net").relevant
    r = clf.classify_text("network")
    assert (r.relevant, r.tech) == (False, ("wifi",))


def test_arabic_proclitics(clf: RelevanceClassifier) -> None:
    for text in ("النت فاصل", "والنت فاصل", "فالنت فاصل", "وبالنت فاصل"):
        assert clf.classify_text(text).relevant, text
    # more than two letters glued on is another word
    assert "نت" not in clf.classify_text("كانت جميلة").terms


def test_cjk_terms_match_inside_the_text(clf: RelevanceClassifier) -> None:
    r = clf.classify_text("我家从昨天开始断网了")
    assert (r.relevant, r.category, r.lang) == (True, "fixed_broadband", "zh")
    r = clf.classify_text("ドコモ圏外なんだけど")
    assert (r.relevant, r.category, r.lang, r.brands) == (True, "mobile_data", "ja", ("docomo",))


# --- brands and operator replies ------------------------------------------------------------


def test_bundled_brands() -> None:
    brands = Brands.load()
    ids = [b.id for b in brands.brands]
    assert len(ids) == len(set(ids))
    expected = {"att", "verizon", "tmobile", "comcast", "tim", "vodafone", "orange", "telekom",
                "movistar", "kpn", "mts", "china_mobile", "docomo", "stc", "telkomsel",
                "indihome", "turkcell", "bt", "ee", "o2", "safaricom"}  # fmt: skip
    assert expected <= set(ids)
    handles = [h for b in brands.brands for h in b.handles]
    assert len(handles) == len(set(handles))
    assert all(b.countries or b.id == "starlink" for b in brands.brands)
    assert {c for b in brands.brands for c in b.countries} >= {
        "US", "GB", "IT", "FR", "ES", "DE", "PT", "BR", "NL", "RU", "CN", "JP", "SA", "EG",
        "ID", "TR", "KE",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "brands"),
    [
        ("@comcastcares internet down again", ("comcast",)),
        ("@COMCASTCARES and @VerizonSupport, no signal", ("comcast", "verizon")),
        ("AT&T no signal in Dallas", ("att",)),
        ("went to the store at T-Mobile", ("tmobile",)),  # "at t" inside "at t mobile"
        ("türk telekom internet yok", ("turk_telekom",)),  # not Deutsche "telekom"
        ("Telekom: kein Netz", ("telekom",)),
        ("у Мегафона нет сети", ("megafon",)),  # inflected, open name
        ("中国移动的信号太差了", ("china_mobile",)),
        ("indihome gangguan lagi", ("indihome",)),
        ("lovely day", ()),
        ("mail me at joe@att.net", ("att",)),  # the brand's mail domain
        ("@AskFrontier and @DIRECTVService: nothing works", ("directv", "frontier")),
    ],
)
def test_brand_mentions(clf: RelevanceClassifier, text: str, brands: tuple[str, ...]) -> None:
    assert clf.classify_text(text).brands == brands


def test_brands_are_not_evidence_on_their_own(clf: RelevanceClassifier) -> None:
    r = clf.classify_text("@Verizon the app is so slow and the store has problems")
    assert (r.relevant, r.brands) == (False, ("verizon",))
    assert not clf.classify_text("Vodafone Vodafone Vodafone").relevant
    assert not clf.classify_text("down again", lang="en").relevant  # an outage word alone


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("@Verizon down again?", "total_outage"),  # no service named, no brand category
        ("SFR en panne depuis ce matin", "total_outage"),
        ("Turkcell çekmiyor hiç", "mobile_data"),  # the brand's category
        ("XL lemot parah hari ini", "mobile_data"),
        ("Biznet gangguan lagi", "fixed_broadband"),
        ("ドコモ繋がらない", "mobile_data"),
        ("Comcast down again", "fixed_broadband"),
        ("Vodafone outage on LTE", "mobile_data"),  # the tech tag first
    ],
)
def test_operator_and_outage_word(clf: RelevanceClassifier, text: str, category: str) -> None:
    r = clf.classify_text(text)
    assert (r.relevant, r.category) == (True, category), r
    assert r.brands
    assert r.score >= 0.6
    # negated, or in another language than the post's, the outage word does not count
    assert not clf.classify_text("@Verizon is not down", lang="en").relevant
    assert not clf.classify_text("SFR en panne", lang="en").relevant


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("@Comcast wifi is so slow tonight", "fixed_broadband"),  # the tech tag
        ("@sprintcare my service is terrible in Albuquerque", "mobile_data"),  # the brand's
        ("@Verizon my line is dead again", "total_outage"),  # no service, no brand category
        ("EE signal is poor at home", "mobile_data"),  # a generic word pairs as ever
    ],
)
def test_context_words_pair_only_with_an_operator(
    clf: RelevanceClassifier, text: str, category: str
) -> None:
    r = clf.classify_text(text, lang="en")
    assert (r.relevant, r.category) == (True, category), r
    without = clf.classify_text(text.split(" ", 1)[1], lang="en")
    assert without.relevant == (category == "mobile_data" and "signal" in text), without


def test_context_words_do_not_pair_with_shop_service(clf: RelevanceClassifier) -> None:
    for text in (
        "@Verizon the service at your store was terrible",
        "@BTCare the worst customer service ever",
        "@Comcast wifi router arrived today",  # a context word without a problem
    ):
        assert not clf.classify_text(text, lang="en").relevant, text


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Dropped calls all afternoon, is there an outage?", "voice"),  # the service says
        ("@Comcast is there an outage in Buffalo?", "fixed_broadband"),  # the operator's
        ("is there an outage near downtown? nothing works", "total_outage"),  # nothing says
        ("any outages on 5G tonight?", "mobile_data"),  # the tech tag
        ("everything is down, is there an outage?", "total_outage"),
    ],
)
def test_complaints_naming_no_service(clf: RelevanceClassifier, text: str, category: str) -> None:
    r = clf.classify_text(text, lang="en")
    assert (r.relevant, r.category) == (True, category), r


@pytest.mark.parametrize(
    "text",
    [
        "@ann Maaf ya Kak untuk kendalanya, sinyal hilang? Cek lagi ya. -Duwi",
        "@bob So sorry your internet is down! Please check the router ^JS https://t.co/abc",
        "@cy Kalau masih kendala internet, infoin ke kami ya 😊 -Indah (10 maret 2025)",
    ],
)
def test_signed_replies_are_operator_replies(clf: RelevanceClassifier, text: str) -> None:
    r = clf.classify_text(text)
    assert (r.relevant, r.reply) == (False, True), r
    assert r.terms


def test_signature_needs_a_reply_and_a_name(clf: RelevanceClassifier) -> None:
    for text in (
        "Phone line down across the county -Reuters",  # not a reply: news attribution
        "@Verizon no signal on Metro-North",  # a hyphenated word
        "@Comcast internet down again -_-",
        "@Comcast internet down again -CC",  # initials need ^ or *
    ):
        r = clf.classify_text(text, lang="en")
        assert (r.relevant, r.reply) == (True, False), (text, r)


def test_operator_replies(clf: RelevanceClassifier) -> None:
    text = "@123 sorry about the outage in your area, no internet since 8? let's fix it"
    assert clf.classify_text(text).relevant
    for author in ("comcastcares", "@ComcastCares", "twitter_handle:comcastcares"):
        r = clf.classify_text(text, author=author)
        assert (r.relevant, r.category, r.score, r.operator) == (False, None, 0.0, "comcast")
        assert r.terms
    assert clf.classify_text(text, author="twitter:12345").relevant  # an id, not a handle
    assert clf.classify_text(text, author="mastodon:ann@mastodon.social").relevant
    post = Post(id="9", text=text, created_at_ms=1708594200000, author="mastodon:TMobileHelp@x.y")
    assert clf.classify(post).operator == "tmobile"


def test_custom_brand_file(tmp_path: Path) -> None:
    path = tmp_path / "brands.toml"
    path.write_text(
        '[acme]\nnames = ["acme net", "acmé*"]\nhandles = ["@AcmeCare"]\n'
        'accounts = ["twitter:42"]\ncountries = ["FR"]\n',
        encoding="utf-8",
    )
    brands = Brands.load(path)
    assert brands.brands == (
        Brand("acme", ("acme net", "acmé*"), ("acmecare",), ("FR",), ("twitter:42",)),
    )
    assert brands.of_author("twitter:42") == "acme"
    assert brands.of_author("acmecare") == "acme"
    assert brands.of_author("twitter:43") is None
    clf = RelevanceClassifier(Lexicon.load(["en"]), brands)
    assert clf.classify_text("ACME NET no signal").brands == ("acme",)
    assert clf.classify_text("acmeville no signal @acmecare").brands == ("acme",)
    assert clf.classify_text("no signal @Verizon").brands == ()  # only the operator's brands
    r = clf.classify_text("no signal", author="twitter:42")
    assert (r.relevant, r.operator) == (False, "acme")


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ("[Acme]\nnames = ['acme']\n", "Acme"),
        ("acme = 'x'\n", "x"),
        ("[acme]\nname = ['acme']\n", "name"),
        ("[acme]\nnames = ['acme', 3]\n", "3"),
        ("[acme]\nnames = ['!!']\n", "!!"),
        ("[acme]\nnames = ['ac*me']\n", "ac*me"),
        ("[acme]\nhandles = ['@acme care']\n", "acme care"),
        ("[acme]\nnames = ['acme']\ncountries = ['France']\n", "France"),
        ("[acme]\ncountries = ['FR']\n", "needs names"),
        ("[a]\nhandles = ['x']\n[b]\nhandles = ['X']\n", "also an account of a"),
        ("[acme\n", "TOML"),
    ],
)
def test_malformed_brand_file(tmp_path: Path, body: str, bad: str) -> None:
    path = tmp_path / "brands.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Brands.load(path)
    assert str(path) in str(info.value)
    assert bad in str(info.value)


def test_missing_brand_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read brand file"):
        Brands.load(tmp_path / "nope.toml")


def test_relevant_post_carries_brands_on_the_wire() -> None:
    rp = RelevantPost("p", 1708594200000, "abc", "z1", "R1", "voice", "en", 0.9, "place", False,
                      ("att", "verizon"))  # fmt: skip
    wire = rp.to_wire()
    assert wire["brands"] == ["att", "verizon"]
    assert RelevantPost.from_wire(wire) == rp
    del wire["brands"]  # a message written before brands existed still decodes
    assert RelevantPost.from_wire(wire).brands == ()
    with pytest.raises(InvalidRecord, match="invalid brands"):
        RelevantPost.from_wire({**wire, "brands": "att"})


# --- lexicon loading -----------------------------------------------------------------------


LANGS = {"en", "it", "fr", "es", "de", "pt", "nl", "ru", "zh", "ja", "ar", "id", "tr"}


def test_bundled_lexicons() -> None:
    assert set(Lexicon.bundled()) == LANGS
    lex = Lexicon.load()
    assert lex.langs == Lexicon.bundled()
    assert len(lex.sources) == len(lex.langs)
    required = {"service", "generic", "strong", "problem", "outage", "exclude", "resolved", "reply",
                "tech"}  # fmt: skip
    for lang in lex.langs:
        roles = {t.role for t in lex.terms if t.lang == lang}
        assert required <= roles <= required | {"negation", "context"}, lang
        categories = {t.label for t in lex.terms if t.lang == lang and t.role == "strong"}
        assert set(CATEGORIES) <= categories <= {*CATEGORIES, ANY_SERVICE}, lang
    assert all(t.text == normalize_text(t.text) for t in lex.terms)
    assert {p.lang for p in lex.profiles} == LANGS


@pytest.mark.parametrize("lang", sorted(LANGS))
def test_tech_tags_in_every_language(lang: str) -> None:
    terms = Lexicon.load([lang]).terms
    assert {t.label for t in terms if t.role == "tech"} == set(TECH_TAGS)
    assert any(t.text == "lte" and t.label == "4g" for t in terms if t.role == "tech")
    clf = RelevanceClassifier(Lexicon.load([lang]), Brands(()))
    assert clf.classify_text("5G LTE 4G 3G 2G FTTH VDSL Wi-Fi").tech == (
        "5g",
        "4g",
        "3g",
        "2g",
        "fibre",
        "dsl",
        "wifi",
    )


def test_exclusions_are_not_frequent_words_of_another_language() -> None:
    # An exclusion counts in every language when the post's language is unknown: it must not
    # be a common word elsewhere ("ter" is a French railway but Portuguese "to have").
    lex = Lexicon.load()
    common = {p.lang: p.words for p in lex.profiles}
    for t in lex.terms:
        if t.role == "exclude":
            clash = [lang for lang, words in common.items() if lang != t.lang and t.text in words]
            assert not clash, (t, clash)


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
        ('lang = "en"\n[problem]\nopinions = ["trash"]\n', "opinions"),
        ('lang = "en"\n[outage]\nopinion = ["trash"]\n', "opinion"),
        ('lang = "en"\n[problem]\nterms = "down"\n', "down"),
        ('lang = "en"\nproblem = ["down"]\n', "problem"),
        ('lang = "en"\n[problem]\nterms = ["!!"]\n', "!!"),
        ('lang = "en"\n[problem]\nterms = ["down"]\n[exclude]\nx = ["down"]\n', "down"),
        ('lang = "English"\n', "English"),
        ("[problem]\nterms = []\n", "lang"),
        ('lang = "en"\n[problem\n', "TOML"),
        ('lang = "en"\n[problem]\nterms = ["do*wn"]\n', "do*wn"),
        ('lang = "en"\n[langid]\nscripts = ["klingon"]\n', "klingon"),
        ('lang = "en"\n[langid]\nwords = ["the"]\n', "words"),
        ('lang = "en"\n[langid]\nletters = ["ñ"]\n', "letters"),
        ('lang = "en"\n[langid]\nstopwords = "the"\n', "the"),
        ('lang = "en"\n[reply]\nphrases = ["dm us"]\n', "phrases"),
        ('lang = "en"\n[context]\nvoice = ["line"]\n', "voice"),
        ('lang = "en"\n[service]\nany = ["outage"]\n', "any"),
        ('lang = "en"\n[resolved]\nterms = ["back up"]\n[exclude]\nx = ["back up"]\n', "back up"),
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


# --- hostile text --------------------------------------------------------------------------


def test_hostile_texts_cost_bounded_time(clf: RelevanceClassifier) -> None:
    # Thousands of matches in 10,000 characters are read up to MAX_MATCHES (the rule's
    # work grows with the square of the matches), and an Arabic word of 10,000 letters is
    # not walked back letter by letter for its proclitics at every match inside it.
    floods = ["no signal ", "@Verizon @ATT ", "没有信号 北京", "بداتا", "بنت"]
    # and network words far from problem words: only the nearest pairs are measured
    far = "internet " * 64 + "ab " * 3000 + "slow " * 64
    started = time.perf_counter()
    for _ in range(3):
        for flood in floods:
            clf.classify_text((flood * 10_000)[:10_000])
        clf.classify_text(far)
    assert time.perf_counter() - started < 0.3


def test_a_long_text_is_decided_on_its_first_matches(clf: RelevanceClassifier) -> None:
    assert clf.classify_text("no signal " + "wifi ok " * 10).relevant
    assert not clf.classify_text("wifi ok " * (MAX_MATCHES + 1) + "no signal").relevant


def test_verdicts_handed_out_again_belong_to_their_post() -> None:
    clf = RelevanceClassifier(Lexicon.load(["en", "ru"]))
    text = "No signal since this morning 😡 @ATT"
    first = clf.classify_text(text)
    by_operator = clf.classify_text(text, author="ATT")
    assert first.relevant and first.operator is None and first.brands == ("att",)
    assert (by_operator.relevant, by_operator.score, by_operator.operator) == (False, 0.0, "att")
    assert clf.classify_text(text) is first  # equal verdicts are one object
    assert clf.classify_text("нет сети с утра 😡").terms == ("нет", "нет сети", "сети")
