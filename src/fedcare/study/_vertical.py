"""Vertical studies as a Python user or the CLI calls them: two parties, one label.

:func:`run_vertical_study` runs the PSI (and the encrypted logistic regression) with
each party an in-process Flower ClientApp reading only its own file, then sets the
results beside references that need both tables in one place — possible here because
this process holds both files, never in a real deployment:

* ``plaintext``: scikit-learn's LogisticRegression on the joined table (same people,
  same training and test rows, same standardised features);
* ``plaintext_same_algorithm``: the protocol's own algorithm without encryption; the
  largest weight difference from the encrypted run is reported (CKKS precision).

``<party>_only`` settings come from the protocol itself: the label party's own
features fitted on the same rows (at the label party), and the passive party's features
alone trained through the same encrypted protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fedcare import __version__
from fedcare.evaluation import binary_metrics
from fedcare.exceptions import ConfigError
from fedcare.federation.engines.inprocess import run_vertical_inprocess
from fedcare.federation.vertical import VerticalKey
from fedcare.vertical import lr
from fedcare.vertical.ids import KINDS
from fedcare.vertical.party import align_label_party, alignment, read_party
from fedcare.vertical.spool import CHUNK

__all__ = ["Party", "predict_vertical", "run_vertical_study", "submit_vertical_study"]


@dataclass
class Party:
    """One party's file: ``name``, ``path``, ``id_column``, and optionally its label
    column and features."""

    name: str
    path: Path
    id_column: str
    id_kind: str = "generic"
    label: str | None = None
    features: Sequence[str] | None = None
    positive: str | None = None

    model_dir: Path | None = None
    predictions: Path | None = None
    shared: Path | None = None  # a revealed PSI: the comparing party's file of shared rows

    def node_config(self) -> dict[str, str]:
        out = {"site": self.name, "data": str(self.path), "id-column": self.id_column,
               "id-kind": self.id_kind}
        if self.model_dir is not None:
            out["model-dir"] = str(self.model_dir)
        if self.predictions is not None:
            out["predictions"] = str(self.predictions)
        if self.shared is not None:
            out["shared"] = str(self.shared)
        if self.label:
            out["label"] = self.label
        if self.features:
            out["features"] = ",".join(self.features)
        if self.positive is not None:
            out["positive"] = self.positive
        return out


def _chunk(psi_chunk: int) -> int:
    if not 100 <= int(psi_chunk) <= 4_000_000:
        raise ConfigError(f"--chunk must be between 100 and 4,000,000 identifiers per "
                          f"message, got {psi_chunk}")
    return int(psi_chunk)


def _check(parties: Sequence[Party], train: bool) -> None:
    if len(parties) != 2:
        raise ConfigError(f"a vertical study needs two parties (--party NAME=FILE), got "
                          f"{len(parties)}")
    if parties[0].name == parties[1].name:
        raise ConfigError(f"the two parties need different names, both are "
                          f"'{parties[0].name}'")
    for p in parties:
        if p.id_kind not in KINDS:
            raise ConfigError(f"--id-kind must be one of {list(KINDS)}, got '{p.id_kind}'")
    labelled = [p.name for p in parties if p.label]
    if train and len(labelled) != 1:
        raise ConfigError("training needs the label at exactly one party (--label "
                          f"PARTY:COLUMN); {len(labelled)} given")


def _references(parties: Sequence[Party], result: Mapping[str, Any], *, seed: str,
                fraction: float, epochs: int, lam: float) -> dict[str, Any]:
    """The plaintext references on the joined table (both files read here)."""
    from sklearn.linear_model import LogisticRegression

    a, b = sorted(parties, key=lambda p: p.label is None)
    ta = read_party(a.path, a.id_column, name=a.name, kind=a.id_kind, label=a.label,
                    features=a.features, positive=a.positive)
    tb = read_party(b.path, b.id_column, name=b.name, kind=b.id_kind, features=b.features)
    aligned = align_label_party(ta, alignment(ta, tb), seed=seed, fraction=fraction)
    XA, y, train, test = aligned.X, aligned.y, aligned.train, aligned.test
    joined = np.hstack([XA[:, 1:], tb.X])
    model = LogisticRegression(max_iter=2000).fit(joined[train], y[train])
    out: dict[str, Any] = {"plaintext": binary_metrics(
        y[test], model.predict_proba(joined[test])[:, 1])}
    wA, wB = lr.plaintext_reference(XA, tb.X, y, train.astype(float), epochs=epochs, lam=lam)
    weights = result["results"]["joint"]["weights"]
    encrypted = np.array([*weights[a.name].values(), *weights[b.name].values()])
    same = 1.0 / (1.0 + np.exp(-(XA[test] @ wA + tb.X[test] @ wB)))
    out["plaintext_same_algorithm"] = {
        **binary_metrics(y[test], same),
        "max_weight_difference": float(np.abs(encrypted - np.concatenate([wA, wB])).max())}
    return out


def _boost_references(parties: Sequence[Party], result: Mapping[str, Any], *, seed: str,
                      fraction: float, trees: Mapping[str, Any]) -> dict[str, Any]:
    """SecureBoost's references on the joined table: the same histogram algorithm in
    plaintext on the same bins (lossless: its metrics must equal the joint model's), and
    scikit-learn's HistGradientBoostingClassifier with the same trees, depth and rate."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from fedcare.vertical import secureboost as sb

    a, b = sorted(parties, key=lambda p: p.label is None)
    ta = read_party(a.path, a.id_column, name=a.name, kind=a.id_kind, label=a.label,
                    features=a.features, positive=a.positive)
    tb = read_party(b.path, b.id_column, name=b.name, kind=b.id_kind, features=b.features)
    aligned = align_label_party(ta, alignment(ta, tb), seed=seed, fraction=fraction)
    XA, y, train, test = aligned.X[:, 1:], aligned.y, aligned.train, aligned.test
    params = sb.TreeParams(n_trees=int(trees["n_trees"]), max_depth=int(trees["max_depth"]),
                           max_bins=int(trees["max_bins"]),
                           learning_rate=float(trees["learning_rate"]))
    codes_a, edges = sb.bin_features(XA[train], params.max_bins)
    codes_b, _ = sb.bin_features(tb.X, params.max_bins)
    plain = sb.fit_plain(codes_a, codes_b[train], y[train], params)
    p_same = plain.predict_proba(sb.apply_bins(XA[test], edges), codes_b[test])[:, 1]
    same: dict[str, Any] = dict(binary_metrics(y[test], p_same))
    joint = result["results"]["joint"]
    same["auc_difference"] = abs(float(same["auc"]) - float(joint["auc"]))
    same["brier_difference"] = abs(float(same["brier"]) - float(joint["brier"]))
    joined = np.hstack([XA, tb.X])
    hgb = HistGradientBoostingClassifier(
        max_iter=params.n_trees, max_depth=params.max_depth,
        learning_rate=params.learning_rate, l2_regularization=params.reg_lambda,
        max_bins=min(255, params.max_bins - 1), early_stopping=False, random_state=0,
    ).fit(joined[train], y[train])
    return {"plaintext": binary_metrics(y[test], hgb.predict_proba(joined[test])[:, 1]),
            "plaintext_same_algorithm": same}


def run_vertical_study(parties: Sequence[Party], *, train: bool = True, epochs: int = 10,
                       min_overlap: int = 100, test_fraction: float = 0.25,
                       seed: str = "0", lam: float = 1e-3, reveal: bool = True,
                       other_alone: bool = True, references: bool = True,
                       recalibrate: bool = False,
                       round_timeout: float = 3600.0, model: str = "logistic",
                       trees: Mapping[str, Any] | None = None,
                       save: str | Path | None = None, psi_chunk: int = CHUNK,
                       shared_out: str | Path | None = None,
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """PSI, and with ``train`` the encrypted vertical logistic regression.

    With ``save``, each party writes its own part of the joint model to
    ``save/<party>/<model id>.json`` (as each would on its own disk): what
    :func:`predict_vertical` needs. With ``shared_out`` (a PSI alone, revealed), the
    comparing party (the label party, else the first) writes its shared rows there:
    ``row,<its id column>``, the identifier as its file writes it.

    Returns the JSON-ready result: ``psi`` (``overlap``, ``sizes``, ``normalisation``
    counts per party, ``seconds``), and with ``train`` ``results`` (``joint``,
    ``<party>_only`` for both parties, ``plaintext``, ``plaintext_same_algorithm``,
    each with ``auc`` and the other binary metrics) and ``seconds``.
    """
    _check(parties, train)
    tree_settings = _tree_settings(model, trees, recalibrate)
    if not 0 < test_fraction < 1:
        raise ConfigError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    if epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}")
    started = time.perf_counter()
    order = sorted(parties, key=lambda p: p.label is None)  # the label party first
    if shared_out is not None:
        if train or not reveal:
            raise ConfigError("--out (the shared people's file) needs a PSI alone with "
                              "--reveal: only then does the comparing party learn who is "
                              "shared")
        order[0] = replace(order[0], shared=Path(shared_out))  # it compares
    if save is not None and train:
        order = [replace(p, model_dir=Path(save) / p.name) for p in order]
    config = {VerticalKey.MODE: "train" if train else "psi", VerticalKey.REVEAL: reveal,
              VerticalKey.MIN_OVERLAP: int(min_overlap), VerticalKey.EPOCHS: int(epochs),
              VerticalKey.LAMBDA: float(lam), VerticalKey.TEST_FRACTION: float(test_fraction),
              VerticalKey.SPLIT_SEED: str(seed), VerticalKey.OTHER_ALONE: bool(other_alone),
              VerticalKey.RECALIBRATE: bool(recalibrate),
              VerticalKey.PSI_CHUNK: _chunk(psi_chunk),
              "round-timeout": float(round_timeout), **_tree_config(model, tree_settings)}
    result, _ = run_vertical_inprocess([p.node_config() for p in order], config,
                                       progress=progress)
    if train and references and model == "secureboost":
        result["results"].update(_boost_references(order, result, seed=str(seed),
                                                   fraction=test_fraction,
                                                   trees=tree_settings))
    elif train and references:
        result["results"].update(_references(order, result, seed=str(seed),
                                             fraction=test_fraction, epochs=epochs, lam=lam))
    result["seconds"] = time.perf_counter() - started
    result["label"] = next(({"party": p.name, "column": p.label, "positive": p.positive
                             or "1"} for p in order if p.label), None)
    result["settings"] = {"model": model, **({"trees": tree_settings} if model == "secureboost"
                                             else {"epochs": epochs}),
                          "min_overlap": min_overlap,
                          "test_fraction": test_fraction, "seed": str(seed), "lambda": lam,
                          "reveal": reveal, "recalibrate": recalibrate,
                          "parties": {p.name: {"file": str(p.path), "id_column": p.id_column,
                                               "id_kind": p.id_kind,
                                               "features": list(p.features or [])}
                                      for p in order},
                          "fedcare": __version__}
    if train:
        result["known_directions"] = known_directions(result)
    return result


def known_directions(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The joint logistic model's weights (standardised features: a weight's sign is the
    direction of one SD more, or of a 0/1 flag's 1) checked against settled risk factors
    (:func:`fedcare.explain._expected.check_directions`); None for trees, which have no
    sign per feature."""
    from fedcare.explain._expected import check_directions

    joint = (result.get("results") or {}).get("joint") or {}
    weights = joint.get("weights_recalibrated") or joint.get("weights")
    if not weights:
        return None
    effects, kinds = [], {}
    for party_weights in weights.values():
        for name, weight in party_weights.items():
            if "=" in name:  # a text column's level against its first: no single sign
                continue
            effects.append({"feature": name, "effects": [
                {"comparison": "+1 SD", "level": None, "log_odds": float(weight)}]})
            kinds[name] = "numeric"
    label = result.get("label") or {}
    return check_directions(effects, {}, kinds, outcome_label=None,
                            target=label.get("column"))


def predict_vertical(parties: Sequence[Party], model_id: str, model_dir: str | Path,
                     out: str | Path, *, min_overlap: int = 1,
                     round_timeout: float = 3600.0,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Predict for new people with a saved vertical model: each party's file of new
    people and its own part (``model_dir/<party>/<model_id>.json``); the PSI aligns
    them and the label party writes each shared person's probability to ``out``.

    Raises
    ------
    DataNotFoundError
        A party holds no part of that model.
    DataError
        A new file lacks a trained column or holds a category not seen in training.
    """
    if len(parties) != 2 or parties[0].name == parties[1].name:
        raise ConfigError("prediction needs the two parties of the model (--party NAME=FILE "
                          "twice, with the names used in training)")
    for p in parties:
        if p.id_kind and p.id_kind not in KINDS:
            raise ConfigError(f"--id-kind must be one of {list(KINDS)}, got '{p.id_kind}'")
    started = time.perf_counter()
    configs = []
    for p in parties:
        config = replace(p, model_dir=Path(model_dir) / p.name, label=None).node_config()
        config["predictions"] = str(out)  # written by the label party only
        configs.append(config)
    run = {VerticalKey.MODE: "predict", VerticalKey.MODEL_ID: str(model_id),
           VerticalKey.REVEAL: True, VerticalKey.MIN_OVERLAP: int(min_overlap),
           "round-timeout": float(round_timeout)}
    result, _ = run_vertical_inprocess(configs, run, progress=progress)
    result["seconds"] = time.perf_counter() - started
    result["predictions"] = str(out)
    return result


def submit_vertical_study(coordinator_dir: str | Path, *, train: bool = True, epochs: int = 10,
                          min_overlap: int = 100, test_fraction: float = 0.25,
                          seed: str = "0", lam: float = 1e-3, reveal: bool = True,
                          other_alone: bool = True, recalibrate: bool = False,
                          timeout: float = 3600.0, round_timeout: float = 1800.0,
                          audit_dir: str = "", model: str = "logistic",
                          trees: Mapping[str, Any] | None = None,
                          predict_model: str | None = None, psi_chunk: int = CHUNK,
                          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The same study on a running federation: the two parties are SuperNodes whose
    node config names their file, identifier column and (one of them) the label.

    No plaintext reference here: no one holds both tables. ``predict_model``: instead,
    predict with that saved model for the new people of each site's ``predict-data`` file
    (each site's own part from its ``model-dir``); the label party writes the
    probabilities into its ``predictions`` folder, the result holds counts and that
    file's name.
    """
    from fedcare.federation.engines.deploy import submit
    from fedcare.federation.vertical.app import COMPONENTS, RUN_CONFIG_DEFAULTS

    mode = "predict" if predict_model else "train" if train else "psi"
    settings = {VerticalKey.MODE: mode, VerticalKey.REVEAL: reveal or mode == "predict",
                **({VerticalKey.MODEL_ID: str(predict_model)} if predict_model else {}),
                VerticalKey.MIN_OVERLAP: int(min_overlap), VerticalKey.EPOCHS: int(epochs),
                VerticalKey.LAMBDA: float(lam), VerticalKey.TEST_FRACTION: float(test_fraction),
                VerticalKey.SPLIT_SEED: str(seed), VerticalKey.OTHER_ALONE: bool(other_alone),
                VerticalKey.RECALIBRATE: bool(recalibrate),
                VerticalKey.PSI_CHUNK: _chunk(psi_chunk),
                "round-timeout": float(round_timeout), "audit-dir": str(audit_dir),
                "task": "vertical",
                **_tree_config(model, _tree_settings(model, trees, recalibrate))}
    started = time.perf_counter()
    result = submit(None, coordinator_dir, n_sites=2, timeout=timeout, on_progress=progress,
                    extra_run_config=settings, app=(COMPONENTS, RUN_CONFIG_DEFAULTS))
    result["seconds"] = time.perf_counter() - started
    return result


TREE_DEFAULTS: dict[str, Any] = {"n_trees": 5, "max_depth": 3, "max_bins": 32,
                                 "learning_rate": 0.3}
"""SecureBoost's defaults (as ``fedcare.vertical.secureboost.TreeParams``)."""


def _tree_settings(model: str, trees: Mapping[str, Any] | None,
                   recalibrate: bool) -> dict[str, Any]:
    if model not in ("logistic", "secureboost"):
        raise ConfigError(f"--model must be logistic or secureboost, got '{model}'")
    settings = {**TREE_DEFAULTS, **(trees or {})}
    if model == "secureboost":
        from fedcare.vertical.secureboost import TreeParams

        TreeParams(**settings)  # a bad value is a ConfigError naming it
        if recalibrate:
            raise ConfigError("--recalibrate is for the logistic model (its Taylor loss "
                              "compresses risks); SecureBoost's trees fit the logistic "
                              "loss itself")
    return settings


def _tree_config(model: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    return {VerticalKey.MODEL: model, VerticalKey.TREES: int(settings["n_trees"]),
            VerticalKey.DEPTH: int(settings["max_depth"]),
            VerticalKey.BINS: int(settings["max_bins"]),
            VerticalKey.LEARNING_RATE: float(settings["learning_rate"])}
