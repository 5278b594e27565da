"""The trained relevance layer: hashed n-grams plus the lexicon's evidence, logistic regression.

The lexicon (:mod:`models.relevance`) finds the candidates: a post in which it matched no
term and no operator name or handle at all (or written by an operator account, or reading
as an operator's reply) is never relevant and never reaches the model, which keeps the
stage fast (:func:`needs_model`). Every other post gets a probability from an
L2-regularised logistic regression over

* hashed counts, divided by the square root of their total: word uni- and bi-grams (not
  across clause marks), character 3..5-grams inside words (each word padded with a space on
  both sides), all on :func:`~models.relevance.normalize_text` output, and the matched
  lexicon terms;
* the lexicon's evidence: the roles of the matched terms (one column per lexicon table:
  strong, service, generic, problem, negation...), its verdict and score, whether it found
  an operator's name or handle, its category and its tech tags;
* the roles of the matched terms again when an operator is named, each worth 1/sqrt of
  their number: the same roles weigh differently in posts addressed to an operator.

The lexicon's evidence columns get a stronger penalty (``TrainConfig.l2_evidence``) than
the n-grams and the operator's roles (``TrainConfig.l2``): they are few, set in most rows
and worth 1 each, while an n-gram is worth a fraction of its row; with one penalty for all
they take most of the fit and the text is hardly heard.

A post is relevant when its probability reaches the model's threshold, chosen at training
from cross-validated probabilities (:func:`choose_threshold`): the most precise cut that
keeps a recall (``TrainConfig.min_recall``, by default the lexicon's own). The category, tech tags,
language and any other field still come from the lexicon's verdict; when the model accepts
a post the lexicon rejected, the category is the one its matched terms suggest
(:meth:`Featurizer.category_guess`). Fitting (trust-region Newton, :func:`fit_logistic`)
is deterministic: zero start, no sampling; only the cross-validation folds use the seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse, special

from models.errors import ConfigError
from models.records import Post
from models.relevance import (
    ANY_SERVICE,
    CATEGORIES,
    ROLES,
    TECH_CATEGORY,
    TECH_TAGS,
    Lexicon,
    Relevance,
    RelevanceClassifier,
    normalize_text,
)

__all__ = [
    "EVIDENCE",
    "FORMAT_VERSION",
    "CrossValidation",
    "Example",
    "FeatureConfig",
    "Featurizer",
    "RelevanceModel",
    "TrainConfig",
    "TrainedRelevance",
    "Training",
    "TrainingSet",
    "choose_threshold",
    "cross_val_proba",
    "cross_validate",
    "fit_logistic",
    "lexicon_fingerprint",
    "model_verdict",
    "needs_model",
    "out_of_fold",
    "stratified_folds",
    "stratified_share",
    "train",
]

FORMAT = "groundswell-relevance-model"
FORMAT_VERSION = 2
# The evidence columns that follow the hashed ones, by name; saved with a model and checked.
# The lexicon's own come first (penalised by TrainConfig.l2_evidence), then the roles of
# the matched terms in posts naming an operator (penalised like the n-grams).
EVIDENCE = (
    *(f"role:{role}" for role in ROLES),
    "lexicon:relevant",
    "lexicon:score",
    "lexicon:operator",
    *(f"category:{c}" for c in CATEGORIES),
    *(f"tech:{t}" for t in TECH_TAGS),
    *(f"operator&role:{role}" for role in ROLES),
)
_ROLE_BIT = {role: 1 << i for i, role in enumerate(ROLES)}
_RELEVANT_COL = len(ROLES)
_SCORE_COL = _RELEVANT_COL + 1
_OPERATOR_COL = _SCORE_COL + 1
_CATEGORY_COL = {c: _OPERATOR_COL + 1 + i for i, c in enumerate(CATEGORIES)}
_TECH_COL = {t: _OPERATOR_COL + 1 + len(CATEGORIES) + i for i, t in enumerate(TECH_TAGS)}
_LEXICON_COLS = _OPERATOR_COL + 1 + len(CATEGORIES) + len(TECH_TAGS)
# crc32 start values, one per feature kind, so that equal strings of two kinds differ.
_SALT_WORD, _SALT_CHAR, _SALT_TERM, _SALT_NGRAM = 0x1F3D5B79, 0x2C4E6A8B, 0x3A5C7E9D, 0x4B6D8FA1
_CACHE_WORDS = 200_000


@dataclass(frozen=True)
class FeatureConfig:
    """How a text becomes features; saved with a model and checked when it is loaded.

    >>> FeatureConfig(hash_bits=30)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: hash_bits=30: must be an integer in 10..24
    """

    hash_bits: int = 18
    word_max: int = 2
    char_min: int = 3
    char_max: int = 5

    def __post_init__(self) -> None:
        for name, low, high in (
            ("hash_bits", 10, 24),
            ("word_max", 1, 3),
            ("char_min", 1, 8),
            ("char_max", 1, 8),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(name, value, f"must be an integer in {low}..{high}")
        if self.char_max < self.char_min:
            raise ConfigError("char_max", self.char_max, f"must be >= char_min ({self.char_min})")


class Featurizer:
    """Feature rows of (normalised text, lexicon verdict) pairs.

    >>> f = Featurizer(FeatureConfig(hash_bits=12), Lexicon.load(["en"]))
    >>> clf = RelevanceClassifier(Lexicon.load(["en"]))
    >>> text = normalize_text("No signal since 8am")
    >>> cols, vals = f.row(text, clf.classify_text(text))
    >>> f.size + EVIDENCE.index("role:strong") in cols, len(cols) == len(vals)
    (True, True)
    """

    def __init__(self, config: FeatureConfig, lexicon: Lexicon) -> None:
        self.config = config
        self.size = 1 << config.hash_bits
        self.n_features = self.size + len(EVIDENCE)
        self._mask = self.size - 1
        self._roles: dict[str, int] = {}
        self._labels: dict[str, dict[str, str]] = {}
        for t in lexicon.terms:
            self._roles[t.text] = self._roles.get(t.text, 0) | _ROLE_BIT[t.role]
            self._labels.setdefault(t.text, {}).setdefault(t.role, t.label)
        self._words: dict[str, tuple[int, ...]] = {}

    def word(self, word: str) -> tuple[int, ...]:
        """The columns of one word: the word itself and its character n-grams (cached)."""
        cached = self._words.get(word)
        if cached is not None:
            return cached
        mask, cfg = self._mask, self.config
        padded = f" {word} "
        grams = [
            padded[i : i + n].encode()
            for n in range(cfg.char_min, cfg.char_max + 1)
            for i in range(len(padded) - n + 1)
        ]
        out = (
            zlib.crc32(word.encode(), _SALT_WORD) & mask,
            *(zlib.crc32(g, _SALT_CHAR) & mask for g in grams),
        )
        if len(self._words) >= _CACHE_WORDS:
            self._words.clear()
        self._words[word] = out
        return out

    def parts(self, norm: str, terms: Iterable[str]) -> tuple[list[str], list[int]]:
        """The words of a normalised text (their columns: :meth:`word`) and its other
        hashed columns: word n-grams from 2 words up, within a clause, and matched terms."""
        words: list[str] = []
        other: list[int] = []
        mask, word_max = self._mask, self.config.word_max
        for clause in norm.split("."):
            found = clause.split()
            words += found
            for n in range(2, word_max + 1):
                for i in range(len(found) - n + 1):
                    gram = " ".join(found[i : i + n]).encode()
                    other.append(zlib.crc32(gram, _SALT_NGRAM + n) & mask)
        for term in terms:
            other.append(zlib.crc32(term.encode(), _SALT_TERM) & mask)
        return words, other

    def hashed(self, norm: str, terms: Iterable[str]) -> list[int]:
        """The hashed columns of a text and its matched terms, one entry per occurrence."""
        words, other = self.parts(norm, terms)
        return [c for w in words for c in self.word(w)] + other

    def evidence(self, verdict: Relevance) -> dict[int, float]:
        """The lexicon's evidence as {column: value}, columns counted after the hashed ones;
        with an operator named, its roles again in the ``operator&role`` columns, each worth
        1/sqrt(number of roles) (a unit-length block, like the n-grams)."""
        roles = 0
        for term in verdict.terms:
            roles |= self._roles.get(term, 0)
        cols = {i: 1.0 for i, bit in enumerate(_ROLE_BIT.values()) if roles & bit}
        if verdict.brands and cols:
            share = 1.0 / math.sqrt(len(cols))
            cols.update({_LEXICON_COLS + i: share for i in list(cols)})
        if verdict.relevant:
            cols[_RELEVANT_COL] = 1.0
            cols[_SCORE_COL] = verdict.score
        if verdict.brands:
            cols[_OPERATOR_COL] = 1.0
        if verdict.category in _CATEGORY_COL:
            cols[_CATEGORY_COL[verdict.category]] = 1.0
        for tag in verdict.tech:
            if tag in _TECH_COL:
                cols[_TECH_COL[tag]] = 1.0
        return {self.size + i: v for i, v in cols.items()}

    def row(self, norm: str, verdict: Relevance) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of one feature row: each hashed occurrence is worth
        1/sqrt(number of occurrences), so long and short posts weigh alike; a column may
        repeat (its values add up)."""
        hashed = self.hashed(norm, verdict.terms)
        evidence = self.evidence(verdict)
        cols = np.fromiter([*hashed, *evidence], dtype=np.int64, count=len(hashed) + len(evidence))
        vals = np.empty(len(cols))
        vals[: len(hashed)] = 1.0 / math.sqrt(len(hashed)) if hashed else 0.0
        vals[len(hashed) :] = list(evidence.values())
        return cols, vals

    def matrix(self, rows: Sequence[tuple[str, Relevance]]) -> sparse.csr_matrix:
        """The feature matrix of (normalised text, verdict) pairs, one row each."""
        parts = [self.row(norm, verdict) for norm, verdict in rows]
        indptr = np.zeros(len(parts) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(c) for c, _ in parts])
        cols = np.concatenate([c for c, _ in parts]) if parts else np.zeros(0, np.int64)
        vals = np.concatenate([v for _, v in parts]) if parts else np.zeros(0)
        out = sparse.csr_matrix((vals, cols, indptr), shape=(len(parts), self.n_features))
        out.sum_duplicates()
        return out

    def category_guess(self, verdict: Relevance) -> str | None:
        """A category for a post the lexicon rejected: that of the first matched service
        term, else strong phrase naming a service, else tech tag, else generic term; None
        if none."""
        for role in ("service", "strong"):
            for term in verdict.terms:
                label = self._labels.get(term, {}).get(role)
                if label is not None and label != ANY_SERVICE:
                    return label
        for tag in verdict.tech:
            if tag in TECH_CATEGORY:
                return TECH_CATEGORY[tag]
        for term in verdict.terms:
            label = self._labels.get(term, {}).get("generic")
            if label is not None:
                return label
        return None


def lexicon_fingerprint(lexicon: Lexicon) -> str:
    """SHA-256 of a lexicon's terms (order-free): a model only fits the lexicon it saw.

    >>> both, en = Lexicon.load(["en", "it"]), Lexicon.load(["en"])
    >>> lexicon_fingerprint(both) == lexicon_fingerprint(Lexicon.load(["it", "en"]))
    True
    >>> lexicon_fingerprint(both) == lexicon_fingerprint(en)
    False
    """
    h = hashlib.sha256()
    for line in sorted({repr(dataclasses.astuple(t)) for t in lexicon.terms}):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def needs_model(verdict: Relevance) -> bool:
    """Whether the model decides on a post: the lexicon matched a term or an operator's
    name or handle, and the post is neither by an operator account nor an operator's reply
    (those are never relevant).

    >>> needs_model(Relevance(False, None, 0.0, (), (), "en", brands=("att",)))
    True
    >>> needs_model(Relevance(False, None, 0.0, ("outage",), (), "en", reply=True))
    False
    """
    return bool(verdict.terms or verdict.brands) and verdict.operator is None and not verdict.reply


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RelevanceModel:
    """Weights over :class:`Featurizer` columns, a bias and the relevance threshold."""

    features: FeatureConfig
    weights: np.ndarray
    bias: float
    threshold: float
    lexicon_sha256: str
    info: dict[str, Any] = field(default_factory=dict)
    _w: list[float] = field(init=False, repr=False)  # the weights as floats, for one post

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError("threshold", self.threshold, "must be between 0 and 1")
        expected = (1 << self.features.hash_bits) + len(EVIDENCE)
        if self.weights.shape != (expected,):
            raise ConfigError("weights", self.weights.shape, f"expected ({expected},)")
        object.__setattr__(self, "_w", self.weights.tolist())

    def weight_sum(self, cols: Iterable[int]) -> float:
        """The sum of the weights of some columns (with repeats)."""
        return sum(map(self._w.__getitem__, cols))

    def probability(self, hashed_sum: float, n_hashed: int, evidence: dict[int, float]) -> float:
        """The probability of one post from the :meth:`weight_sum` of its ``n_hashed``
        hashed columns and its :meth:`Featurizer.evidence`: the value a row of
        :meth:`Featurizer.matrix` gets, without building arrays (the per-post path)."""
        w = self._w
        z = self.bias + (hashed_sum / math.sqrt(n_hashed) if n_hashed else 0.0)
        for col, value in evidence.items():
            z += w[col] * value
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def save(self, path: str | Path) -> None:
        """One compressed ``.npz`` file: the weights and a JSON header."""
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "features": dataclasses.asdict(self.features),
            "evidence": list(EVIDENCE),
            "bias": self.bias,
            "threshold": self.threshold,
            "lexicon_sha256": self.lexicon_sha256,
            "info": self.info,
        }
        with open(path, "wb") as fh:
            np.savez_compressed(fh, weights=self.weights, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | Path, setting: str = "relevance model") -> RelevanceModel:
        """Read a saved model; any problem is a :class:`ConfigError` naming ``setting``."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"][()]))
                weights = np.asarray(data["weights"], dtype=np.float64)
        except OSError as exc:
            raise ConfigError(setting, str(path), f"cannot read: {exc.strerror or exc}") from None
        except (ValueError, KeyError, EOFError, zipfile.BadZipFile, TypeError):
            raise ConfigError(setting, str(path), "not a relevance model file") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ConfigError(setting, str(path), "not a relevance model file")
        if meta.get("version") != FORMAT_VERSION:
            raise ConfigError(
                setting,
                str(path),
                f"model format version {meta.get('version')!r}; expected {FORMAT_VERSION}",
            )
        if meta.get("evidence") != list(EVIDENCE):
            raise ConfigError(
                setting, str(path), "made for other lexicon roles or categories; retrain it"
            )
        try:
            return cls(
                features=FeatureConfig(**meta["features"]),
                weights=weights,
                bias=float(meta["bias"]),
                threshold=float(meta["threshold"]),
                lexicon_sha256=str(meta["lexicon_sha256"]),
                info=dict(meta.get("info") or {}),
            )
        except (ConfigError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(setting, str(path), f"corrupt model file ({exc})") from None


def model_verdict(
    verdict: Relevance, p: float, threshold: float, featurizer: Featurizer
) -> Relevance:
    """The lexicon's verdict with the model's decision: relevant when ``p >= threshold``,
    ``score`` then ``p`` (else 0); a category guessed from the terms when the lexicon had
    none (:meth:`Featurizer.category_guess`); every other field kept.

    >>> f = Featurizer(FeatureConfig(hash_bits=10), Lexicon.load(["en"]))
    >>> v = Relevance(False, None, 0.0, ("wifi", "down"), ("wifi",), "en")
    >>> r = model_verdict(v, 0.8, 0.5, f)
    >>> r.relevant, r.category, r.score, model_verdict(v, 0.4, 0.5, f) == v
    (True, 'fixed_broadband', 0.8, True)
    """
    if p < threshold:
        if not verdict.relevant:
            return verdict
        return dataclasses.replace(verdict, relevant=False, category=None, score=0.0)
    category = verdict.category or featurizer.category_guess(verdict)
    return dataclasses.replace(verdict, relevant=True, category=category, score=round(p, 4))


class TrainedRelevance:
    """The lexicon classifier with the trained model deciding on its candidates.

    Same contract as :class:`~models.relevance.RelevanceClassifier` (``classify(post)``
    returns a :class:`~models.relevance.Relevance`): ``relevant`` is the model's decision,
    ``score`` its probability (0 when not relevant), the other fields are the lexicon's.
    A model trained with another lexicon is refused (:class:`ConfigError` naming
    ``setting``): its evidence features would not mean the same.

    >>> clf = RelevanceClassifier(Lexicon.load(["en"]))
    >>> yes = ["no signal since 8am", "internet down again", "4G keeps dropping"]
    >>> no = ["social network drama", "the TV network finale", "internet back up, thanks"]
    >>> examples = [Example(t, True) for t in yes] + [Example(t, False) for t in no]
    >>> stage = TrainedRelevance(clf, train(examples, clf, TrainConfig(folds=2)).model)
    >>> verdict, p = stage.explain_text("lovely day")  # no lexicon term: model not asked
    >>> verdict.relevant, p, stage.predict_proba(["lovely day"]).tolist()
    (False, None, [0.0])
    """

    def __init__(
        self,
        classifier: RelevanceClassifier,
        model: RelevanceModel,
        setting: str = "relevance model",
    ) -> None:
        current = lexicon_fingerprint(classifier.lexicon)
        if current != model.lexicon_sha256:
            raise ConfigError(
                setting,
                f"lexicon sha256 {model.lexicon_sha256[:12]}",
                f"the model was trained with another lexicon than the configured one "
                f"({current[:12]}: {', '.join(classifier.langs)}); retrain it",
            )
        self.classifier = classifier
        self.model = model
        self.featurizer = Featurizer(model.features, classifier.lexicon)
        self._sums: dict[str, tuple[float, int]] = {}  # word -> (weight sum, columns)

    def __repr__(self) -> str:
        return f"TrainedRelevance({self.classifier!r}, threshold={self.model.threshold})"

    def classify(self, post: Post) -> Relevance:
        """The verdict on a post."""
        return self.explain(post)[0]

    def classify_text(
        self, text: str, lang: str | None = None, author: str | None = None
    ) -> Relevance:
        """The verdict on raw text, with the post's language tag and author if known."""
        return self.explain_text(text, lang, author)[0]

    def explain(self, post: Post) -> tuple[Relevance, float | None]:
        """The verdict and the model's probability (None when the model was not asked)."""
        return self._decide(post.text, self.classifier.classify(post))

    def explain_text(
        self, text: str, lang: str | None = None, author: str | None = None
    ) -> tuple[Relevance, float | None]:
        """:meth:`explain` for raw text."""
        return self._decide(text, self.classifier.classify_text(text, lang, author))

    def _decide(self, text: str, verdict: Relevance) -> tuple[Relevance, float | None]:
        if not needs_model(verdict):
            return verdict, None
        p = self._probability(normalize_text(text), verdict)
        return model_verdict(verdict, p, self.model.threshold, self.featurizer), p

    def _probability(self, norm: str, verdict: Relevance) -> float:
        f, model, sums = self.featurizer, self.model, self._sums
        words, other = f.parts(norm, verdict.terms)
        total, n = model.weight_sum(other), len(other)
        for word in words:
            known = sums.get(word)
            if known is None:
                cols = f.word(word)
                known = (model.weight_sum(cols), len(cols))
                if len(sums) >= _CACHE_WORDS:
                    sums.clear()
                sums[word] = known
            total += known[0]
            n += known[1]
        return model.probability(total, n, f.evidence(verdict))

    def predict_proba(self, items: Iterable[Post | str]) -> np.ndarray:
        """The model's probability for each post or text; 0 where it is not asked
        (:func:`needs_model`)."""
        rows: list[tuple[str, Relevance]] = []
        where: list[int] = []
        n = 0
        for n, item in enumerate(items, 1):
            text = item if isinstance(item, str) else item.text
            verdict = (
                self.classifier.classify_text(item)
                if isinstance(item, str)
                else self.classifier.classify(item)
            )
            if needs_model(verdict):
                rows.append((normalize_text(text), verdict))
                where.append(n - 1)
        out = np.zeros(n)
        if rows:
            z = self.featurizer.matrix(rows) @ self.model.weights + self.model.bias
            out[where] = special.expit(z)
        return out


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One labelled text."""

    text: str
    relevant: bool
    lang: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters; ``l2`` is the penalty of the n-gram and operator-role
    weights, ``l2_evidence`` that of the lexicon's evidence columns (:data:`EVIDENCE`);
    ``threshold`` None means chosen by cross-validation, as the most precise cut whose
    out-of-fold recall is at least ``min_recall`` (None: the lexicon's recall on the same
    rows).

    >>> TrainConfig(folds=1)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: folds=1: must be an integer >= 2
    >>> TrainConfig(features=FeatureConfig(hash_bits=10)).penalty()[1020:1030].tolist()
    [0.03, 0.03, 0.03, 0.03, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    folds: int = 5
    seed: int = 0
    l2: float = 0.03
    l2_evidence: float = 1.0
    threshold: float | None = None
    min_recall: float | None = None
    max_iter: int = 200
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def __post_init__(self) -> None:
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2:
            raise ConfigError("folds", self.folds, "must be an integer >= 2")
        for name in ("l2", "l2_evidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ConfigError(name, value, "must be a positive number")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ConfigError("threshold", self.threshold, "must be between 0 and 1")
        if self.min_recall is not None and not 0.0 < self.min_recall <= 1.0:
            raise ConfigError("min_recall", self.min_recall, "must be in (0, 1]")
        if self.max_iter < 1:
            raise ConfigError("max_iter", self.max_iter, "must be >= 1")

    def penalty(self) -> np.ndarray:
        """The L2 penalty of each :class:`Featurizer` column: ``l2_evidence`` on the
        lexicon's evidence columns, ``l2`` on the others."""
        size = 1 << self.features.hash_bits
        out = np.full(size + len(EVIDENCE), self.l2)
        out[size : size + _LEXICON_COLS] = self.l2_evidence
        return out


def fit_logistic(
    x: sparse.csr_matrix, y: np.ndarray, l2: float | np.ndarray, max_iter: int = 200
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising the summed log-loss plus sum(``l2``/2 * w^2) (``l2`` one
    penalty for every column or one per column; the bias is not penalised), by a
    trust-region Newton method (conjugate gradients on exact Hessian-vector products) from
    zero; columns no row uses keep weight 0.

    >>> x = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    >>> w, b = fit_logistic(x, np.array([1, 1, 0, 0]), l2=0.1)
    >>> bool(w[0] > 0 > w[1])
    True
    >>> w2, _ = fit_logistic(x, np.array([1, 1, 0, 0]), l2=np.array([0.1, 10.0]))
    >>> bool(abs(w2[1]) < abs(w[1]))  # the second column penalised more
    True
    """
    used = np.unique(x.indices)
    xu = x[:, used].tocsr()
    xt = xu.T.tocsr()
    target = np.asarray(y, dtype=np.float64)
    penalty = np.asarray(l2, dtype=np.float64)
    if penalty.ndim:
        penalty = penalty[used]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = xu @ w + b
        pw = penalty * w
        loss = float(np.logaddexp(0.0, z).sum() - target @ z + 0.5 * (pw @ w))
        r = special.expit(z) - target
        grad = np.empty_like(theta)
        grad[:-1] = xt @ r + pw
        grad[-1] = r.sum()
        return loss, grad

    def hessp(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        p = special.expit(xu @ theta[:-1] + theta[-1])
        sv = p * (1.0 - p) * (xu @ v[:-1] + v[-1])
        out = np.empty_like(v)
        out[:-1] = xt @ sv + penalty * v[:-1]
        out[-1] = sv.sum()
        return out

    res = optimize.minimize(
        objective,
        np.zeros(len(used) + 1),
        jac=True,
        hessp=hessp,
        method="trust-ncg",
        options={"gtol": 1e-6, "maxiter": max_iter},
    )
    weights = np.zeros(x.shape[1])
    weights[used] = res.x[:-1]
    return weights, float(res.x[-1])


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The fold (0..k-1) of each row: each class dealt round-robin over the folds in a
    seeded random order, so every fold gets its share of both classes.

    >>> y = np.array([1, 1, 0, 0, 0, 0, 0, 1])
    >>> folds = stratified_folds(y, 3, seed=4)
    >>> sorted(folds.tolist()), sorted(folds[y == 1].tolist())
    ([0, 0, 0, 1, 1, 1, 2, 2], [0, 1, 2])
    >>> np.array_equal(folds, stratified_folds(y, 3, seed=4))
    True
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(y, dtype=bool)
    folds = np.empty(len(labels), dtype=np.int64)
    start = 0
    for cls in (True, False):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        folds[idx] = (start + np.arange(len(idx))) % k
        start += len(idx)
    return folds


def cross_val_proba(
    x: sparse.csr_matrix,
    y: np.ndarray,
    k: int,
    seed: int,
    l2: float | np.ndarray,
    max_iter: int = 200,
) -> np.ndarray:
    """Out-of-fold probabilities: each row scored by a model fitted on the other k-1
    stratified folds (:func:`stratified_folds`) only.

    >>> x = sparse.csr_matrix(np.kron(np.eye(2), np.ones((4, 1))))
    >>> p = cross_val_proba(x, np.array([1, 1, 1, 1, 0, 0, 0, 0]), k=2, seed=0, l2=0.1)
    >>> bool((p[:4] > 0.5).all() and (p[4:] < 0.5).all())
    True
    """
    x = sparse.csr_matrix(x)
    y = np.asarray(y, dtype=bool)
    folds = stratified_folds(y, k, seed)
    out = np.zeros(len(y))
    for f in range(k):
        test = folds == f
        if not test.any():
            continue
        w, b = fit_logistic(x[~test], y[~test], l2, max_iter)
        out[test] = special.expit(x[test] @ w + b)
    return out


def choose_threshold(y: np.ndarray, proba: np.ndarray, positives: int, min_recall: float) -> float:
    """The probability cut for "relevant": among the cuts reaching ``min_recall`` the one
    with the best precision (ties: the lowest cut); when none does, the best F1.

    ``y`` and ``proba`` cover the rows the model scores; ``positives`` counts every relevant
    row, so those the lexicon never passes on count as missed.

    >>> y, p = np.array([1, 1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.4, 0.2])
    >>> choose_threshold(y, p, positives=4, min_recall=0.5), choose_threshold(y, p, 4, 0.9)
    (0.8, 0.4)
    """
    if len(proba) == 0:
        return 0.5
    order = np.argsort(-proba, kind="stable")
    cuts = proba[order]
    tp = np.cumsum(np.asarray(y, dtype=bool)[order])
    chosen = np.arange(1, len(cuts) + 1)
    ends = np.r_[cuts[1:] != cuts[:-1], True]  # the last row of each group of equal values
    cuts, tp, chosen = cuts[ends], tp[ends], chosen[ends]
    precision = tp / chosen
    recall = tp / max(positives, 1)
    ok = recall >= min_recall - 1e-12
    if ok.any():
        best = np.flatnonzero(ok & (precision == precision[ok].max()))[-1]
    else:
        f1 = 2 * tp / (chosen + positives)
        best = np.flatnonzero(f1 == f1.max())[-1]
    return float(min(max(cuts[best], 1e-6), 1 - 1e-6))


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Labelled rows as the model sees them: ``y`` and ``lexicon`` (its verdict) for every
    row; ``gated`` marks the rows the model decides on (:func:`needs_model`), which alone
    have a row in ``x``."""

    y: np.ndarray
    lexicon: np.ndarray
    gated: np.ndarray
    x: sparse.csr_matrix

    @classmethod
    def build(
        cls, examples: Sequence[Example], classifier: RelevanceClassifier, featurizer: Featurizer
    ) -> TrainingSet:
        rows: list[tuple[str, Relevance]] = []
        verdicts = [classifier.classify_text(e.text, e.lang, e.author) for e in examples]
        for e, v in zip(examples, verdicts, strict=True):
            if needs_model(v):
                rows.append((normalize_text(e.text), v))
        return cls(
            y=np.array([e.relevant for e in examples], dtype=bool),
            lexicon=np.array([v.relevant for v in verdicts], dtype=bool),
            gated=np.array([needs_model(v) for v in verdicts], dtype=bool),
            x=featurizer.matrix(rows),
        )

    def lexicon_recall(self, rows: np.ndarray) -> float:
        positives = int(self.y[rows].sum())
        return float((self.y & self.lexicon)[rows].sum() / positives) if positives else 0.0

    def threshold(self, rows: np.ndarray, config: TrainConfig, seed: int) -> float:
        """The threshold for a model fitted on ``rows`` (a boolean mask over all rows):
        the configured one, else :func:`choose_threshold` on out-of-fold probabilities with
        ``config.min_recall`` (default: the lexicon's recall on those rows) as the recall
        to keep."""
        if config.threshold is not None:
            return config.threshold
        x, y = self.model_rows(rows)
        proba = cross_val_proba(x, y, config.folds, seed, config.penalty(), config.max_iter)
        keep = config.min_recall if config.min_recall is not None else self.lexicon_recall(rows)
        return choose_threshold(y, proba, int(self.y[rows].sum()), keep)

    def model_rows(self, rows: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Features and labels of the gated rows among ``rows``."""
        pick = rows[self.gated]
        return self.x[pick], self.y[self.gated][pick]


@dataclass(frozen=True, eq=False)
class CrossValidation:
    """Out-of-fold results over every labelled row: ``proba`` and ``cuts`` (the threshold
    applied to the row, chosen on the other folds alone; both NaN where the lexicon matched
    nothing), ``relevant`` the decision; ``thresholds`` one per fold."""

    proba: np.ndarray
    cuts: np.ndarray
    relevant: np.ndarray
    thresholds: tuple[float, ...]


def stratified_share(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A mask keeping ``share`` (in (0, 1]) of the rows of each class, rounded up, drawn in a
    seeded random order.

    >>> y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    >>> kept = stratified_share(y, 0.5, seed=3)
    >>> int(kept[y == 1].sum()), int(kept[y == 0].sum())
    (2, 3)
    >>> bool(stratified_share(y, 1.0, seed=3).all())
    True
    """
    if not 0.0 < share <= 1.0:
        raise ConfigError("share", share, "must be in (0, 1]")
    rng = np.random.default_rng([seed, 1])  # not the folds' draw
    labels = np.asarray(y, dtype=bool)
    kept = np.zeros(len(labels), dtype=bool)
    for cls in (True, False):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        kept[idx[: math.ceil(share * len(idx))]] = True
    return kept


def out_of_fold(
    data: TrainingSet, config: TrainConfig, seed: int, share: float = 1.0
) -> np.ndarray:
    """The out-of-fold probability of every labelled row (NaN where the lexicon passes the
    row to no model): ``config.folds`` stratified folds drawn with ``seed``, each scored by
    a model fitted on the other folds, or only on the rows of :func:`stratified_share`
    (``share``, ``seed``) among them: the same rows whichever fold is scored, for a
    learning curve."""
    folds = stratified_folds(data.y, config.folds, seed)
    kept = stratified_share(data.y, share, seed)
    proba = np.full(len(data.y), np.nan)
    for f in range(config.folds):
        test = folds == f
        if not test.any():
            continue
        x, y = data.model_rows(~test & kept)
        w, b = fit_logistic(x, y, config.penalty(), config.max_iter)
        proba[test & data.gated] = special.expit(data.model_rows(test)[0] @ w + b)
    return proba


def cross_validate(data: TrainingSet, config: TrainConfig) -> CrossValidation:
    """k-fold (stratified, seeded) figures of the whole training procedure: each fold is
    scored by a model (:func:`out_of_fold`) and a threshold that never saw it (nested
    cross-validation for the threshold when it is not fixed)."""
    proba = out_of_fold(data, config, config.seed)
    folds = stratified_folds(data.y, config.folds, config.seed)
    cuts = np.full(len(data.y), np.nan)
    thresholds: list[float] = []
    for f in range(config.folds):
        test = folds == f
        if not test.any():
            continue
        t = data.threshold(~test, config, config.seed + 1 + f)
        cuts[test & data.gated] = t
        thresholds.append(t)
    relevant = np.zeros(len(data.y), dtype=bool)
    scored = ~np.isnan(proba)
    relevant[scored] = proba[scored] >= cuts[scored]
    return CrossValidation(proba, cuts, relevant, tuple(thresholds))


@dataclass(frozen=True, eq=False)
class Training:
    """What :func:`train` produced: the model, its cross-validated results, the data."""

    model: RelevanceModel
    cv: CrossValidation
    data: TrainingSet


def train(
    examples: Sequence[Example], classifier: RelevanceClassifier, config: TrainConfig
) -> Training:
    """Fit the model on every candidate row (:func:`needs_model`), choose its threshold, and measure
    the procedure by :func:`cross_validate`.

    Needs at least 2 relevant and 2 other rows among the candidates.
    """
    featurizer = Featurizer(config.features, classifier.lexicon)
    data = TrainingSet.build(examples, classifier, featurizer)
    y = data.y[data.gated]
    if int(y.sum()) < 2 or int((~y).sum()) < 2:
        raise ConfigError(
            "labelled rows",
            f"{int(y.sum())} relevant, {int((~y).sum())} not, among the model's candidates",
            "need at least 2 of each among the rows with a lexicon term or an operator's name",
        )
    everything = np.ones(len(data.y), dtype=bool)
    weights, bias = fit_logistic(data.x, y, config.penalty(), config.max_iter)
    model = RelevanceModel(
        features=config.features,
        weights=weights,
        bias=bias,
        threshold=data.threshold(everything, config, config.seed),
        lexicon_sha256=lexicon_fingerprint(classifier.lexicon),
        info={
            "lexicon_langs": list(classifier.langs),
            "rows": len(data.y),
            "relevant": int(data.y.sum()),
            "candidate_rows": int(data.gated.sum()),
            "folds": config.folds,
            "seed": config.seed,
            "l2": config.l2,
            "l2_evidence": config.l2_evidence,
            "threshold_fixed": config.threshold is not None,
            "min_recall": config.min_recall,
        },
    )
    return Training(model, cross_validate(data, config), data)
