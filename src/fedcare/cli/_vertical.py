"""``fedcare vertical``: a hospital and an insurer learn from the people they share.

Two parties hold different columns about partly the same people (a hospital: diagnoses
and labs; an insurer: demographics and claims). ``psi`` finds how many people they
share without either showing the other its identifiers; ``train`` then fits a logistic
regression (CKKS) or SecureBoost trees (OU) over both parties' features under
homomorphic encryption, with the label at one party, and sets it beside each party alone
and the plaintext model on the joined table; with ``--save`` each party keeps its part,
and ``predict`` scores new people with both parts. Each party is a Flower ClientApp
reading only its own file (in this process);
docs/vertical.md says what each party and the coordinator see.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fedcare.cli._common import (
    EXIT_CODES,
    check_output_file,
    console,
    dim,
    handle_errors,
    warn,
    write_json,
)
from fedcare.exceptions import ConfigError

if TYPE_CHECKING:
    from fedcare.study._vertical import Party

__all__ = ["vertical_app"]

vertical_app = typer.Typer(
    help="Vertical studies: two parties (e.g. a hospital and an insurer) with different "
         "columns about the same people; private set intersection, then an encrypted "
         "model over both (logistic or secureboost); predict for new people with both "
         "parties' saved parts.\n\nExample: fedcare vertical train --party "
         "hospital=hospital.csv:patient_id --party insurer=insurer.csv:member_id "
         "--id-kind resident_id --label hospital:hospdead --json out.json --report "
         "out.html",
    no_args_is_help=True)

PartyOpt = Annotated[list[str] | None, typer.Option(
    "--party", help="NAME=FILE or NAME=FILE:ID_COLUMN (CSV or Parquet), twice: one per "
                    "party. Each party's file is read only by that party's app.")]
Coordinator = Annotated[Path | None, typer.Option(
    help="Run on the live federation of this coordinator folder instead (the two parties "
         "are sites whose site.toml has a \\[site.vertical] table; docs/vertical.md).")]
IdColumn = Annotated[str | None, typer.Option(
    help="Identifier column of a party given without :ID_COLUMN.")]
IdKind = Annotated[str, typer.Option(
    help="How identifiers are normalised before matching: generic (case, width, "
         "whitespace, separators), mrn (the same), resident_id (Chinese resident ID: "
         "checksum checked, 15-digit cards upgraded), phone (digits, +86/0086 dropped).")]
Label = Annotated[str | None, typer.Option(
    help="PARTY:COLUMN, the binary label and the party holding it (it compares in the "
         "PSI; in training it learns which of its people are shared, in psi only how "
         "many unless --reveal).")]
Positive = Annotated[str | None, typer.Option(
    help="The label value that means the outcome, when the label is not 0/1 or "
         "true/false (never guessed: the wrong way round flips every weight).")]
Features = Annotated[list[str] | None, typer.Option(
    "--features", help="PARTY:COL1,COL2 (default: every column but the identifier and "
                       "the label).")]
MinOverlap = Annotated[int, typer.Option(
    min=1, help="Refuse the study when fewer people are shared (too few to protect "
                "anyone).")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")]
ReportOut = Annotated[Path | None, typer.Option("--report", help="Write an HTML report.")]


def _parties(specs: list[str], id_column: str | None, id_kind: str, label: str | None,
             features: list[str] | None, positive: str | None = None) -> list[Party]:
    from fedcare.study._vertical import Party

    parties: list[Party] = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep or not name or not rest:
            raise ConfigError(f"--party must be NAME=FILE or NAME=FILE:ID_COLUMN, got '{spec}'")
        path, column = rest, id_column
        if ":" in rest and not Path(rest).exists():
            path, _, column = rest.rpartition(":")
        if not column:
            raise ConfigError(f"--party {name}: no identifier column; give NAME=FILE:COLUMN "
                              "or --id-column")
        parties.append(Party(name, Path(path), column, id_kind))
    names = [p.name for p in parties]
    if label is not None:
        party, sep, column = label.partition(":")
        if not sep or party not in names or not column:
            raise ConfigError(f"--label must be PARTY:COLUMN with PARTY one of {names}, got "
                              f"'{label}'")
        parties[names.index(party)].label = column
        parties[names.index(party)].positive = positive
    for spec in features or []:
        party, sep, columns = spec.partition(":")
        if not sep or party not in names:
            raise ConfigError(f"--features must be PARTY:COL1,COL2 with PARTY one of "
                              f"{names}, got '{spec}'")
        parties[names.index(party)].features = [c for c in columns.split(",") if c]
    return parties


def _live_only(party: list[str] | None, label: str | None) -> None:
    if party or label:
        raise ConfigError("with --coordinator the parties are the federation's sites: each "
                          "names its file, identifier column and label in its own "
                          "site.toml ([site.vertical]); leave out --party and --label")


def _psi_table(result: dict[str, Any]) -> Table:
    table = Table(title="Private set intersection", title_justify="left")
    for column in ("party", "rows", "usable ids", "changes (a row may count twice)",
                   "invalid", "duplicates"):
        table.add_column(column, justify="left" if column == "party" else "right")
    for name, report in result["psi"]["normalisation"].items():
        changed = sum(int(report.get(k, 0)) for k in (
            "width_folded", "whitespace_trimmed", "case_folded", "separators_removed",
            "country_code_removed", "upgraded_15_to_18"))
        table.add_row(name, str(report["total"]), str(result["psi"]["sizes"][name]),
                      str(changed), str(report["invalid"]),
                      str(report["duplicates"]))
    return table


def _results_table(result: dict[str, Any]) -> Table:
    table = Table(title="Test AUC (the same test people for every setting)",
                  title_justify="left")
    for column in ("setting", "AUC", "95% CI", "Brier", "test n"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for name, metrics in result["results"].items():
        auc, ci = metrics.get("auc"), metrics.get("auc_ci95")
        table.add_row(name, "-" if auc is None else f"{auc:.3f}",
                      "-" if not ci else f"{ci[0]:.3f}-{ci[1]:.3f}",
                      "-" if metrics.get("brier") is None else f"{metrics['brier']:.3f}",
                      str(metrics.get("n", "-")))
    return table


def _passive_name(result: dict[str, Any]) -> str:
    return next((n for n, p in result.get("parties", {}).items() if p["role"] == "passive"),
                "the passive party")


def _outputs(result: dict[str, Any], json_out: Path | None, report: Path | None) -> None:
    html = None
    if report is not None:  # rendered first: a report that fails leaves no JSON behind
        from fedcare.report._vertical import render_vertical_report

        html = render_vertical_report(result)
    if json_out is not None:
        write_json(result, json_out)
        dim(f"JSON: {json_out}")
    if report is not None and html is not None:
        from fedcare._io import write_text_atomic

        write_text_atomic(report, html)
        dim(f"report: {report}")


@vertical_app.command("psi", epilog=EXIT_CODES)
def psi(party: PartyOpt = None, id_column: IdColumn = None, id_kind: IdKind = "generic",
        label: Label = None, reveal: Annotated[bool, typer.Option(
            help="The comparing party (the label party, else the first) learns which of "
                 "its people are shared; --no-reveal: only how many.")] = False,
        min_overlap: MinOverlap = 10, coordinator: Coordinator = None,
        chunk: Annotated[int, typer.Option(
            help="Identifiers per message: each party reads, blinds "
                 "and sends its file this many at a time through its own spool folder, "
                 "so memory stays bounded whatever the file's size (millions of people); "
                 "on a live federation, where a message round takes seconds, a larger "
                 "chunk means fewer rounds.")] = 250_000,
        out: Annotated[Path | None, typer.Option(
            help="With --reveal: the comparing party writes its shared people here "
                 "(row number and identifier as its file writes them; on a live "
                 "federation the site writes <site>/vertical-psi/ itself).")] = None,
        json_out: JsonOut = None) -> None:
    """How many people two parties share, neither showing the other its identifiers
    (ECDH-PSI on X25519; only counts are printed).

    Each party streams its identifier column from disk (memory bounded by --chunk;
    docs/vertical.md, "Large files"). With --reveal the comparing party (the label
    party, else the first) learns which of its people are shared, and --out writes them.

    Example: fedcare vertical psi --party hospital=h.csv:patient_id --party
    insurer=i.csv:member_id --id-kind resident_id --json psi.json
    """
    with handle_errors():
        check_output_file("--json", json_out)
        check_output_file("--out", out)
        if out is not None and not reveal:
            raise ConfigError("--out needs --reveal: without it no party learns who is "
                              "shared, only how many")
        if coordinator is not None:
            from fedcare.study._vertical import submit_vertical_study

            _live_only(party, label)
            if out is not None:
                raise ConfigError("--out with --coordinator: on a live federation the "
                                  "comparing site writes its shared people into its own "
                                  "vertical-psi/ folder; no file is named here")
            result = submit_vertical_study(coordinator, train=False, reveal=reveal,
                                           min_overlap=min_overlap, psi_chunk=chunk,
                                           progress=dim)
        else:
            from fedcare.study._vertical import run_vertical_study

            parties = _parties(party or [], id_column, id_kind, label, None)
            result = run_vertical_study(parties, train=False, reveal=reveal,
                                        min_overlap=min_overlap, psi_chunk=chunk,
                                        shared_out=out, progress=dim)
        console.print(_psi_table(result))
        console.print(f"shared people: {result['psi']['overlap']} "
                      f"({result['psi']['seconds']:.1f} s)")
        written = result["psi"].get("shared_file")
        if written:
            where = out if out is not None else f"its vertical-psi/{written}"
            console.print(f"party '{result['psi']['revealed_to']}' wrote the shared people "
                          f"to {where}")
        _outputs(result, json_out, None)


@vertical_app.command("train", epilog=EXIT_CODES)
def train(party: PartyOpt = None, label: Label = None, positive: Positive = None,
          id_column: IdColumn = None,
          id_kind: IdKind = "generic", features: Features = None,
          model: Annotated[str, typer.Option(
              help="logistic (vertical logistic regression under CKKS) or secureboost "
                   "(gradient-boosted trees; the passive party sums encrypted gradients "
                   "per histogram bin under Okamoto-Uchiyama; lossless against the "
                   "plaintext histogram GBDT with the same bins).")] = "logistic",
          trees: Annotated[int, typer.Option(min=1, help="secureboost: trees.")] = 5,
          depth: Annotated[int, typer.Option(min=1, help="secureboost: depth of each "
                                                         "tree.")] = 3,
          bins: Annotated[int, typer.Option(min=2, max=127, help="secureboost: most "
                                            "quantile bins per feature (each party bins "
                                            "its own).")] = 32,
          learning_rate: Annotated[float, typer.Option(
              help="secureboost: shrinkage of every leaf.")] = 0.3,
          epochs: Annotated[int, typer.Option(min=1, help="Training epochs (each three "
                                                         "message rounds).")] = 10,
          test_fraction: Annotated[float, typer.Option(
              help="Share of the shared people held out for testing.")] = 0.25,
          seed: Annotated[str, typer.Option(help="Seed of the test split.")] = "0",
          min_overlap: MinOverlap = 100,
          recalibrate: Annotated[bool, typer.Option(
              help="Rescale the joint score to risks (Platt scaling on the training "
                   "people). The Taylor-approximated model ranks as well as plaintext but "
                   "its risks are compressed; recalibrating shows the label party the "
                   "joint score of every training person (docs/vertical.md).")] = False,
          references: Annotated[bool, typer.Option(
              help="Also fit the plaintext model on the joined table (possible only "
                   "because this machine holds both files).")] = True,
          coordinator: Coordinator = None,
          save: Annotated[Path | None, typer.Option(
              help="Each party writes its own part of the joint model to "
                   "SAVE/<party>/<model id>.json (as on its own disk), for fedcare "
                   "vertical predict.")] = None,
          json_out: JsonOut = None, report: ReportOut = None) -> None:
    """PSI, then a model over both parties' features under homomorphic encryption
    (logistic regression under CKKS, or SecureBoost trees); compared with each party
    alone and the plaintext model on the joined table."""
    with handle_errors():
        check_output_file("--json", json_out)
        check_output_file("--report", report)
        if model not in ("logistic", "secureboost"):
            raise ConfigError(f"--model must be logistic or secureboost, got '{model}'")
        tree_settings = {"n_trees": trees, "max_depth": depth, "max_bins": bins,
                         "learning_rate": learning_rate}
        if coordinator is not None:
            from fedcare.study._vertical import submit_vertical_study

            _live_only(party, label)
            if save is not None:
                raise ConfigError("--save is for the embedded run: on a live federation "
                                  "each site keeps its part in its own folder")
            result = submit_vertical_study(coordinator, epochs=epochs,
                                           test_fraction=test_fraction, seed=seed,
                                           min_overlap=min_overlap, recalibrate=recalibrate,
                                           model=model, trees=tree_settings, progress=dim)
        else:
            if label is None:
                raise ConfigError("train needs --label PARTY:COLUMN")
            from fedcare.study._vertical import run_vertical_study

            parties = _parties(party or [], id_column, id_kind, label, features, positive)
            result = run_vertical_study(parties, epochs=epochs, test_fraction=test_fraction,
                                        seed=seed, min_overlap=min_overlap,
                                        references=references, recalibrate=recalibrate,
                                        model=model, trees=tree_settings, save=save,
                                        progress=dim)
        console.print(_psi_table(result))
        joint = result["results"]["joint"]
        console.print(f"shared people: {result['psi']['overlap']}; with a label: "
                      f"{joint['n_train']} for training, {joint['n_test']} for testing")
        console.print(_results_table(result))
        from fedcare.report._vertical import gain_lines

        for line in gain_lines(result):
            console.print(line)
        for a in (result.get("known_directions") or {}).get("against", []):
            warn(f"against known medicine: {a['feature']} ({a['concept']}) "
                 f"{a['learned']} in the joint model, expected {a['expected']} (no "
                 "interval: chance is possible); review before use")
        for name, metrics in result["results"].items():
            if name.endswith("_only") and (metrics.get("auc") or 0) > 0.98:
                warn(f"{name} predicts the label almost perfectly (AUC "
                     f"{metrics['auc']:.3f}): does that party hold the label, or a copy or "
                     "consequence of it? Leave such columns out (--features)")
        slope = result["results"]["joint"].get("calibration_slope")
        if slope is not None and not 0.8 <= slope <= 1.25:
            warn(f"the joint model's calibration slope on the test people is {slope:.2f}: "
                 "it ranks people, but its probabilities are not risks"
                 + ("" if recalibrate else
                    "; --recalibrate rescales them" if model == "logistic" else
                    " (a slope above 1: too few trees or too low a --learning-rate; "
                    "below 1: too many)"))
        if model == "secureboost":
            same = result["results"].get("plaintext_same_algorithm")
            console.print(f"{joint['trees']} trees, {joint['nodes']} nodes, "
                          f"{joint['passive_splits']} split(s) on "
                          f"{_passive_name(result)}'s features; "
                          f"{joint['message_rounds']} message rounds"
                          + ("" if same is None else
                             f"; same algorithm in plaintext: AUC difference "
                             f"{same['auc_difference']:.1e}"))
        console.print(f"total {result['seconds']:.1f} s")
        saved = joint.get("saved") or {}
        if save is not None and saved and all(saved.values()):
            console.print(f"model {result['model_id']}: each party's part in "
                          f"{save}/<party>/{result['model_id']}.json; predict with fedcare "
                          f"vertical predict --model-id {result['model_id']} --models {save}")
        elif coordinator is not None and saved and all(saved.values()):
            console.print(f"model {result['model_id']}: each site keeps its part in its own "
                          f"vertical-models/; predict with fedcare vertical predict "
                          f"--coordinator {coordinator} --model-id {result['model_id']}")
        _outputs(result, json_out, report)


@vertical_app.command("predict", epilog=EXIT_CODES)
def predict(party: PartyOpt = None, model_id: Annotated[str, typer.Option(
                "--model-id", help="The model's id (printed by train --save, and in its "
                                   "JSON as model_id).")] = "",
            models: Annotated[Path, typer.Option(
                help="The folder train --save wrote: MODELS/<party>/<model id>.json.")
            ] = Path("."),
            id_column: IdColumn = None,
            id_kind: Annotated[str | None, typer.Option(
                help="Leave out: each party matches identifiers as it did in training "
                     "(a different value is refused).")] = None,
            out: Annotated[Path | None, typer.Option(
                help="CSV the label party writes: each shared new person's normalised "
                     "identifier and probability.")] = None,
            coordinator: Annotated[Path | None, typer.Option(
                help="Predict on the live federation of this coordinator folder: each site "
                     "reads the new people from its own 'predict-data' file and its part "
                     "from its own model folder; the label party writes the probabilities "
                     "into its own vertical-predictions/ folder (no --party, --models or "
                     "--out).")] = None,
            json_out: JsonOut = None) -> None:
    """Predict for new people that both parties hold: a PSI on their files of new people,
    then each party's part of the model (the passive party's share of each person's
    score stays encrypted or masked on its way); the label party writes the
    probabilities.

    Example: fedcare vertical predict --model-id 0d3568c45484c37d --models models/
    --party hospital=new_h.csv:patient_id --party insurer=new_i.csv:member_id --out p.csv

    Example (live): fedcare vertical predict --coordinator coord/ --model-id 0d3568c45484c37d
    """
    with handle_errors():
        check_output_file("--json", json_out)
        if not model_id:
            raise ConfigError("predict needs --model-id (printed by fedcare vertical train "
                              "--save, or by train --coordinator)")
        if coordinator is not None:
            if party or out is not None:
                raise ConfigError("with --coordinator each site reads its own new people "
                                  "('predict-data' in its site.toml [site.vertical]) and the "
                                  "label party writes the probabilities at its own site: "
                                  "leave out --party and --out")
            from fedcare.study._vertical import submit_vertical_study

            result = submit_vertical_study(coordinator, predict_model=model_id,
                                           min_overlap=1, progress=dim)
            p = result["prediction"]
            console.print(f"{p['predicted']} shared people predicted ({p['kind']}); "
                          f"{p['not_shared']} of {p['label_party']}'s rows are not at the "
                          "other party and have no prediction")
            console.print(f"predictions: at site {p['label_party']}, "
                          f"vertical-predictions/{p['file']}")
            slope = p.get("test_calibration_slope")
            if slope is not None and not 0.8 <= slope <= 1.25:
                warn(f"on its test people this model's calibration slope was {slope:.2f}: "
                     "the 'probability' column ranks people but is not a risk "
                     "(docs/vertical.md)")
            _outputs(result, json_out, None)
            return
        if out is None:
            raise ConfigError("predict needs --out FILE (the label party's predictions)")
        check_output_file("--out", out)
        from fedcare.study._vertical import predict_vertical

        parties = _parties(party or [], id_column, id_kind or "", None, None)
        result = predict_vertical(parties, model_id, models, out, progress=dim)
        p = result["prediction"]
        console.print(f"{p['predicted']} shared people predicted ({p['kind']}); "
                      f"{p['not_shared']} of {p['label_party']}'s rows are not at the other "
                      f"party and have no prediction")
        console.print(f"predictions: {out}")
        slope = p.get("test_calibration_slope")
        if slope is not None and not 0.8 <= slope <= 1.25:
            warn(f"on its test people this model's calibration slope was {slope:.2f}: the "
                 "'probability' column ranks people but is not a risk (docs/vertical.md)")
        _outputs(result, json_out, None)
