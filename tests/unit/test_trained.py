"""The trained relevance layer: features, fitting, folds, threshold, model file, the stage."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from models.errors import ConfigError
from models.records import Post
from models.relevance import Lexicon, Relevance, RelevanceClassifier, normalize_text
from models.trained import (
    EVIDENCE,
    Example,
    FeatureConfig,
    Featurizer,
    RelevanceModel,
    TrainConfig,
    TrainedRelevance,
    TrainingSet,
    choose_threshold,
    cross_val_proba,
    cross_validate,
    fit_logistic,
    lexicon_fingerprint,
    needs_model,
    out_of_fold,
    stratified_folds,
    stratified_share,
    train,
)

# Hand-made English examples: complaints about the network, and near misses that share
# its words (social/TV networks, billing, promotions, fixed problems, other services).
RELEVANT = [
    "no signal on my phone since this morning",
    "internet down again at home, third time this week",
    "my broadband has been down since 7am",
    "mobile data not working at all in the city centre",
    "is the network down? zero bars on my phone",
    "4G keeps dropping every few minutes",
    "wifi and internet down since 9, router lights all red",
    "dropped calls all afternoon, is there an outage",
    "texts not sending for two hours now",
    "no internet connection since last night",
    "my fibre connection is down again",
    "cannot make calls, no service at all here",
]
NOT_RELEVANT = [
    "great social network post",
    "the TV network aired the finale last night",
    "my bill is too high this month",
    "now with 5G in your city!",
    "my internet isn't down anymore, thanks",
    "neural network training is so slow",
    "calm down, it's just a game",
    "internet back up after the outage, thanks for the fix",
    "the network of friends I made this year is great",
    "please send us a DM about your internet bill",
    "new phone arrived, the camera is amazing",
    "lovely walk in the park today",
]


@pytest.fixture(scope="module")
def clf() -> RelevanceClassifier:
    return RelevanceClassifier(Lexicon.load(["en"]))


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return [Example(t, True) for t in RELEVANT] + [Example(t, False) for t in NOT_RELEVANT]


@pytest.fixture(scope="module")
def trained(clf: RelevanceClassifier, examples: list[Example]) -> RelevanceModel:
    return train(examples, clf, TrainConfig(folds=3, seed=1, l2=0.3)).model


def small(clf: RelevanceClassifier) -> Featurizer:
    return Featurizer(FeatureConfig(hash_bits=16), clf.lexicon)


# --- features ------------------------------------------------------------------------------


def test_hashing_is_pinned(clf: RelevanceClassifier) -> None:
    """Saved models depend on these exact columns: a change here needs FORMAT_VERSION + 1."""
    cols = sorted(small(clf).hashed("no signal. since", ("no signal",)))
    digest = hashlib.sha256(json.dumps(cols).encode()).hexdigest()[:16]
    # no (4) + signal (16) + since (13) + the bigram "no signal" + the term; " si" twice
    assert len(cols) == 35 and len(set(cols)) == 34
    assert digest == "69cc7f0f87be851d"


def test_word_bigrams_follow_order_and_stop_at_clause_marks(clf: RelevanceClassifier) -> None:
    f = small(clf)
    ab, ba, cut = (set(f.hashed(t, ())) for t in ("aa bb", "bb aa", "aa. bb"))
    assert ab != ba and len(ab - ba) == 1  # only the bigram differs
    assert cut < ab and len(ab - cut) == 1


def test_character_ngrams_stay_inside_words(clf: RelevanceClassifier) -> None:
    only3 = Featurizer(FeatureConfig(hash_bits=16, char_min=3, char_max=3, word_max=1), clf.lexicon)
    # the word itself, then " ab", "abc", "bc " (the word padded with a space each side)
    assert len(only3.hashed("abc", ())) == 4
    # nothing spans the space between two words ("c d" and the like)
    assert only3.hashed("abc def", ()) == only3.hashed("abc", ()) + only3.hashed("def", ())
    assert set(only3.hashed("abcdef", ())) != set(only3.hashed("abc def", ()))


def test_evidence_columns_name_the_roles_category_and_tech(clf: RelevanceClassifier) -> None:
    f = small(clf)
    text = "4G not working since this morning"
    verdict = clf.classify_text(text)
    assert verdict.relevant and verdict.category == "mobile_data"
    ev = f.evidence(verdict)
    names = {EVIDENCE[c - f.size] for c in ev}
    assert {"role:problem", "role:tech", "lexicon:relevant", "category:mobile_data"} <= names
    assert "tech:4g" in names and "role:exclude" not in names
    assert "lexicon:operator" not in names
    assert ev[f.size + EVIDENCE.index("lexicon:score")] == verdict.score
    branded = f.evidence(clf.classify_text("@Verizon " + text))
    roles = {n for n in names if n.startswith("role:")}
    assert {EVIDENCE[c - f.size] for c in branded} == names | {"lexicon:operator"} | {
        f"operator&role:{n.removeprefix('role:')}" for n in roles
    }
    cols, vals = f.row(normalize_text(text), verdict)
    hashed = cols < f.size
    assert np.isclose(np.sum(vals[hashed] ** 2), 1.0)  # n-gram part has unit length


def test_operator_role_columns_are_a_unit_block_only_with_an_operator(
    clf: RelevanceClassifier,
) -> None:
    f = small(clf)
    for text in ("4G not working since this morning", "my bill is too high", "internet down"):
        plain = f.evidence(clf.classify_text(text))
        branded = f.evidence(clf.classify_text("@Verizon " + text))
        pairs = {c: v for c, v in branded.items() if EVIDENCE[c - f.size].startswith("operator&")}
        assert not any(EVIDENCE[c - f.size].startswith("operator&") for c in plain)
        assert np.isclose(sum(v * v for v in pairs.values()), 1.0), text
        assert {EVIDENCE[c - f.size].split(":")[1] for c in pairs} == {
            EVIDENCE[c - f.size].split(":")[1]
            for c in plain
            if EVIDENCE[c - f.size].startswith("role:")
        }
    # an operator's name with no lexicon term: no role, so no operator&role column
    assert not any(
        EVIDENCE[c - f.size].startswith("operator&")
        for c in f.evidence(clf.classify_text("@Verizon hello there"))
    )


def test_feature_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="char_max"):
        FeatureConfig(char_min=5, char_max=3)
    with pytest.raises(ConfigError, match="word_max"):
        FeatureConfig(word_max=0)


# --- fitting, folds, threshold -------------------------------------------------------------


def test_fit_logistic_separates_and_l2_shrinks() -> None:
    x = sparse.csr_matrix(np.array([[1.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]))
    y = np.array([1, 1, 0, 0])
    w_weak, _ = fit_logistic(x, y, l2=0.01)
    w_strong, _ = fit_logistic(x, y, l2=10.0)
    assert w_weak[0] > 0 > w_weak[1] and w_weak[2] == 0.0  # unused column stays 0
    assert abs(w_strong[0]) < abs(w_weak[0])


def test_fit_logistic_takes_one_penalty_per_column() -> None:
    rng = np.random.default_rng(5)
    x = sparse.csr_matrix(rng.random((60, 4)))
    y = x[:, 0].toarray().ravel() + x[:, 3].toarray().ravel() > 1.0
    same, _ = fit_logistic(x, y, l2=0.5)
    vector, _ = fit_logistic(x, y, l2=np.full(4, 0.5))
    assert np.allclose(same, vector)
    w, b = fit_logistic(x, y, l2=np.array([0.01, 0.01, 0.01, 100.0]))
    assert abs(w[3]) < 0.1 * abs(w[0])
    r = 1 / (1 + np.exp(-(x @ w + b))) - y
    assert np.allclose(x.T @ r + np.array([0.01, 0.01, 0.01, 100.0]) * w, 0, atol=1e-4)


def test_penalty_is_l2_evidence_on_the_lexicon_columns_only() -> None:
    config = TrainConfig(l2=0.05, l2_evidence=2.0, features=FeatureConfig(hash_bits=10))
    penalty = config.penalty()
    assert penalty.shape == (1024 + len(EVIDENCE),)
    assert (penalty[:1024] == 0.05).all()
    by_name = dict(zip(EVIDENCE, penalty[1024:], strict=True))
    for name, value in by_name.items():
        assert value == (0.05 if name.startswith("operator&") else 2.0), name


def test_fit_logistic_reaches_the_optimum() -> None:
    rng = np.random.default_rng(3)
    x = sparse.csr_matrix(rng.random((40, 5)))
    y = rng.random(40) < 0.4
    w, b = fit_logistic(x, y, l2=0.5)
    z = x @ w + b
    r = 1 / (1 + np.exp(-z)) - y
    assert np.allclose(x.T @ r + 0.5 * w, 0, atol=1e-4)  # gradient of the objective
    assert abs(r.sum()) < 1e-4


def test_fit_logistic_with_one_class_ends_with_low_probabilities() -> None:
    # a training split can hold no relevant row at all
    x = sparse.csr_matrix(np.random.default_rng(0).random((10, 4)))
    w, b = fit_logistic(x, np.zeros(10), l2=0.1)
    assert (1 / (1 + np.exp(-(x @ w + b))) < 0.05).all()


def test_stratified_folds_spread_each_class_and_follow_the_seed() -> None:
    y = np.array([1] * 6 + [0] * 14)
    folds = stratified_folds(y, 3, seed=0)
    for f in range(3):
        assert (folds[y == 1] == f).sum() == 2
        assert (folds == f).sum() in (6, 7)
    assert np.array_equal(folds, stratified_folds(y, 3, seed=0))
    assert not np.array_equal(folds, stratified_folds(y, 3, seed=1))


def test_out_of_fold_probabilities_never_see_their_own_row() -> None:
    # Each row has its own feature only: a model that saw the row would recall its label;
    # out of fold, all it has is the bias of the other folds, the same for a whole fold.
    n = 12
    y = np.array([1, 0] * (n // 2))
    p = cross_val_proba(sparse.identity(n, format="csr"), y, k=3, seed=0, l2=0.01)
    folds = stratified_folds(y, 3, seed=0)
    for f in range(3):
        assert np.ptp(p[folds == f]) < 1e-9


@pytest.mark.parametrize(
    ("positives", "min_recall", "expected"),
    [
        (4, 0.5, 0.8),  # recall 0.5 reached at 0.8 with precision 1
        (4, 0.75, 0.4),  # recall 0.75 first at 0.4 (precision 0.75 beats 0.6 at 0.2)
        (4, 0.9, 0.4),  # unreachable: best F1
        (3, 0.0, 0.8),  # best precision; ties -> the lowest cut (0.9 and 0.8 are both 1.0)
    ],
)
def test_choose_threshold(positives: int, min_recall: float, expected: float) -> None:
    y = np.array([1, 1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.7, 0.4, 0.2])
    assert choose_threshold(y, p, positives, min_recall) == expected


def test_choose_threshold_keeps_equal_probabilities_together() -> None:
    # A cut at 0.6 takes both 0.6 rows (precision 0.5), never the relevant one alone (1.0)
    y = np.array([1, 0, 1, 0])
    p = np.array([0.6, 0.6, 0.5, 0.1])
    assert choose_threshold(y, p, 2, 0.5) == 0.5


def test_train_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="l2"):
        TrainConfig(l2=0)
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="l2_evidence"):
            TrainConfig(l2_evidence=bad)
    with pytest.raises(ConfigError, match="threshold"):
        TrainConfig(threshold=1.0)
    for bad in (0.0, 1.5):
        with pytest.raises(ConfigError, match="min_recall"):
            TrainConfig(min_recall=bad)


# --- training ------------------------------------------------------------------------------


def test_training_is_deterministic(clf: RelevanceClassifier, examples: list[Example]) -> None:
    config = TrainConfig(folds=3, seed=1, l2=0.3)
    a, b = train(examples, clf, config), train(examples, clf, config)
    assert np.array_equal(a.model.weights, b.model.weights)
    assert a.model.threshold == b.model.threshold
    assert np.array_equal(a.cv.relevant, b.cv.relevant)
    assert a.cv.thresholds == b.cv.thresholds and len(a.cv.thresholds) == 3


def test_cross_validation_scores_only_rows_with_lexicon_terms(
    clf: RelevanceClassifier, examples: list[Example]
) -> None:
    config = TrainConfig(folds=3, seed=0)
    data = TrainingSet.build(examples, clf, Featurizer(config.features, clf.lexicon))
    assert not data.gated.all()  # "lovely walk in the park today" has no lexicon term
    cv = cross_validate(data, config)
    assert np.isnan(cv.proba[~data.gated]).all() and not cv.relevant[~data.gated].any()
    assert not np.isnan(cv.proba[data.gated]).any()
    assert data.x.shape == (
        int(data.gated.sum()),
        Featurizer(config.features, clf.lexicon).n_features,
    )


def test_cross_validated_figures_are_worse_than_training_fit_on_noise(
    clf: RelevanceClassifier,
) -> None:
    # Random labels: a model scored on its own training rows would look good; out of fold
    # it must not do better than chance.
    rng = np.random.default_rng(0)
    texts = RELEVANT + NOT_RELEVANT
    examples = [Example(t, bool(rng.random() < 0.5)) for t in texts * 2]
    result = train(examples, clf, TrainConfig(folds=4, seed=0, l2=0.01))
    y = result.data.y
    cv_acc = float((result.cv.relevant == y).mean())
    assert cv_acc < 0.75


def test_out_of_fold_share_trains_on_fewer_rows_of_each_class(
    clf: RelevanceClassifier, examples: list[Example]
) -> None:
    config = TrainConfig(folds=3, seed=2)
    data = TrainingSet.build(examples, clf, Featurizer(config.features, clf.lexicon))
    whole = out_of_fold(data, config, seed=2)
    part = out_of_fold(data, config, seed=2, share=0.4)
    assert np.array_equal(np.isnan(part), ~data.gated)  # the scored folds are whole
    assert not np.allclose(part[data.gated], whole[data.gated])
    assert np.array_equal(part, out_of_fold(data, config, seed=2, share=0.4), equal_nan=True)
    kept = stratified_share(data.y, 0.4, seed=2)
    for cls in (True, False):
        assert kept[data.y == cls].sum() == math.ceil(0.4 * (data.y == cls).sum())
    for bad in (0.0, 1.5):
        with pytest.raises(ConfigError, match="share"):
            stratified_share(data.y, bad, seed=0)


def test_min_recall_trades_precision_for_recall(
    clf: RelevanceClassifier, examples: list[Example]
) -> None:
    config = TrainConfig(folds=3, seed=0, l2=0.3)
    # two relevant rows that look like the others: full recall needs a lower cut
    noisy = [*examples, Example(NOT_RELEVANT[0], True), Example(NOT_RELEVANT[5], True)]
    data = TrainingSet.build(noisy, clf, Featurizer(config.features, clf.lexicon))
    everything = np.ones(len(data.y), dtype=bool)
    cuts = [
        data.threshold(everything, dataclasses.replace(config, min_recall=r), seed=0)
        for r in (0.3, 1.0)
    ]
    assert cuts[1] < cuts[0]
    x, y = data.model_rows(everything)
    proba = cross_val_proba(x, y, config.folds, 0, config.penalty())
    assert (proba[y] >= cuts[1]).all()  # every relevant row kept out of fold
    result = train(noisy, clf, dataclasses.replace(config, min_recall=1.0))
    assert result.model.info["min_recall"] == 1.0


def test_explicit_threshold_is_used(clf: RelevanceClassifier, examples: list[Example]) -> None:
    result = train(examples, clf, TrainConfig(folds=3, threshold=0.37))
    assert result.model.threshold == 0.37 and set(result.cv.thresholds) == {0.37}


def test_too_few_labelled_rows_is_a_config_error(clf: RelevanceClassifier) -> None:
    examples = [Example(RELEVANT[0], True)] + [Example(t, False) for t in NOT_RELEVANT]
    with pytest.raises(ConfigError, match="at least 2"):
        train(examples, clf, TrainConfig(folds=2))


# --- model file ----------------------------------------------------------------------------


def test_model_file_round_trips(trained: RelevanceModel, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    trained.save(path)
    back = RelevanceModel.load(path)
    assert np.array_equal(back.weights, trained.weights)
    assert (back.bias, back.threshold, back.features) == (
        trained.bias,
        trained.threshold,
        trained.features,
    )
    assert back.lexicon_sha256 == trained.lexicon_sha256 and back.info == trained.info


def test_bad_model_files_are_config_errors_naming_the_setting(
    trained: RelevanceModel, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"GROUNDSWELL_X.*cannot read"):
        RelevanceModel.load(tmp_path / "missing.npz", "GROUNDSWELL_X")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ConfigError, match=r"GROUNDSWELL_X.*not a relevance model"):
        RelevanceModel.load(junk, "GROUNDSWELL_X")
    good = tmp_path / "good.npz"
    trained.save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ConfigError, match="GROUNDSWELL_X"):
        RelevanceModel.load(truncated, "GROUNDSWELL_X")
    with np.load(good) as data:
        meta = json.loads(str(data["meta"][()]))
        weights = data["weights"]
    for change, message in (
        ({"version": 99}, "format version 99"),
        ({"evidence": ["role:other"]}, "retrain"),
        ({"features": {"hash_bits": 12}}, "corrupt"),
    ):
        bad = tmp_path / "bad.npz"
        np.savez(bad, weights=weights, meta=np.array(json.dumps({**meta, **change})))
        with pytest.raises(ConfigError, match=message):
            RelevanceModel.load(bad, "GROUNDSWELL_X")


# --- the stage -----------------------------------------------------------------------------


def test_stage_decides_with_the_model_and_keeps_lexicon_fields(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    stage = TrainedRelevance(clf, trained)
    verdict, p = stage.explain_text("4G not working since this morning")
    assert p is not None and verdict.relevant == (p >= trained.threshold)
    lexicon = clf.classify_text("4G not working since this morning")
    assert (verdict.tech, verdict.terms, verdict.lang) == (
        lexicon.tech,
        lexicon.terms,
        lexicon.lang,
    )
    if verdict.relevant:
        assert verdict.score == round(p, 4) and verdict.category == "mobile_data"


def test_posts_without_lexicon_terms_never_reach_the_model(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    always = dataclasses.replace(trained, bias=50.0)  # the model would say yes to anything
    stage = TrainedRelevance(clf, always)
    verdict, p = stage.explain_text("lovely walk in the park today")
    assert p is None and not verdict.relevant
    post = Post(id="1", text="the network of friends I made", created_at_ms=1_700_000_000_000)
    assert stage.classify(post).relevant  # a lexicon term ("network"): the model decides
    proba = stage.predict_proba(["lovely walk in the park", post])
    assert proba[0] == 0.0 and proba[1] > 0.99


def test_operator_names_reach_the_model_and_operator_replies_do_not(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    stage = TrainedRelevance(clf, dataclasses.replace(trained, bias=50.0))
    verdict, p = stage.explain_text("@Verizon hello there")  # a brand, no lexicon term
    assert p is not None and verdict.relevant and verdict.brands == ("verizon",)
    for text, author in (
        ("@ann so sorry the internet is down, we are on it ^JS", None),  # signed reply
        ("@ann please DM us about the outage", None),  # a reply phrase
        ("the internet is down in your area", "VerizonSupport"),  # an operator account
    ):
        verdict, p = stage.explain_text(text, author=author)
        assert p is None and not verdict.relevant, text
        assert not needs_model(verdict)


def test_model_accepting_what_the_lexicon_rejected_gets_a_category(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    stage = TrainedRelevance(clf, dataclasses.replace(trained, bias=50.0))
    lexicon = clf.classify_text("wifi slow at the cafe")
    verdict = stage.classify_text("wifi slow at the cafe")
    assert not lexicon.relevant and verdict.relevant
    assert verdict.category == "fixed_broadband"


def test_model_rejecting_what_the_lexicon_accepted(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    stage = TrainedRelevance(clf, dataclasses.replace(trained, bias=-50.0))
    verdict = stage.classify_text("no signal on my phone since this morning")
    assert (verdict.relevant, verdict.category, verdict.score) == (False, None, 0.0)


def test_batch_and_single_probabilities_agree(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    stage = TrainedRelevance(clf, trained)
    texts = RELEVANT + NOT_RELEVANT
    batch = stage.predict_proba(texts)
    single = [stage.explain_text(t)[1] or 0.0 for t in texts]
    assert np.allclose(batch, single)


def test_model_of_another_lexicon_is_refused(trained: RelevanceModel) -> None:
    other = RelevanceClassifier(Lexicon.load(["en", "it"]))
    assert lexicon_fingerprint(other.lexicon) != trained.lexicon_sha256
    with pytest.raises(ConfigError, match=r"GROUNDSWELL_RELEVANCE_MODEL.*another lexicon"):
        TrainedRelevance(other, trained, "GROUNDSWELL_RELEVANCE_MODEL")


def test_stage_returns_the_lexicon_verdict_type(
    clf: RelevanceClassifier, trained: RelevanceModel
) -> None:
    verdict = TrainedRelevance(clf, trained).classify_text("internet down again")
    assert type(verdict) is Relevance
