"""What sites and the coordinator say to each other: one place for every name.

Message types, run-config keys, the records inside a message and the helpers that read
and build them. Site code (:mod:`fedcare.federation.site`) and coordinator code
(:mod:`fedcare.federation.coordinator`) both import from here and never from each
other.

A message from the coordinator holds a ConfigRecord ``config`` (and, for model rounds,
an ArrayRecord ``arrays``); a site's reply holds ``arrays`` (model arrays or sums, never
rows), a MetricRecord ``metrics`` (aggregate figures) and a ConfigRecord ``site``
(``{"site": name, ...}``: the site's name and short texts such as the personalisation
method chosen).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

if TYPE_CHECKING:
    from fedcare.config import StudyConfig

__all__ = [
    "ANALYTICS_MESSAGE_TYPES",
    "EVALUATION_RECORD",
    "INT_METRICS",
    "QUALITY_RECORD",
    "SUMS_RECORD",
    "MessageType",
    "RunKey",
    "SecureEncoding",
    "TaskResult",
    "arrays_of",
    "config_of",
    "decode_arrays",
    "ineligible",
    "metrics_of",
    "named_arrays_of",
    "number",
    "reply",
    "request",
    "site_of",
    "text",
]


class MessageType:
    """Every message type a fedcare site answers (Flower's ``<kind>.<name>`` form)."""

    SCHEMA: Final = "query.schema"
    QUALITY: Final = "query.quality"
    MOMENTS: Final = "query.moments"
    IMPUTE: Final = "query.impute"              # observed counts and sums (imputation)
    TRAIN: Final = "train"                      # FedAvg family: local SGD from the arrays
    NEWTON: Final = "train.newton"              # log-loss gradient and Hessian sums
    EVALUATE: Final = "evaluate"                # the global model on the site's test rows
    EVALUATE_LOCAL: Final = "evaluate.local"
    EVALUATE_PERSONALISED: Final = "evaluate.personalised"
    ANALYTICS_SETUP: Final = "query.analytics_setup"
    DESCRIBE: Final = "query.describe"
    EVENT_TIMES: Final = "query.event_times"
    KM: Final = "query.km"
    COX: Final = "query.cox"
    RECALIBRATE: Final = "query.recalibrate"    # a risk equation's recalibration sums


ANALYTICS_MESSAGE_TYPES = (MessageType.ANALYTICS_SETUP, MessageType.DESCRIBE,
                           MessageType.EVENT_TIMES, MessageType.KM, MessageType.COX,
                           MessageType.RECALIBRATE)


class RunKey:
    """Run-config keys beyond the study settings (``StudyConfig.to_run_config()``)."""

    TASK: Final = "task"                        # study | analytics | quality
    ANALYTICS_REQUEST: Final = "analytics-request"
    NUM_SITES: Final = "num-sites"
    OUTPUT_DIR: Final = "output-dir"
    WAIT_FOR_SITES: Final = "wait-for-sites"
    AUDIT_DIR: Final = "audit-dir"              # = StudyConfig.audit_dir
    MIN_CELL: Final = "min-cell"                # = StudyConfig.min_cell
    SECURE: Final = "secure-aggregation"        # = StudyConfig.secure_aggregation
    PULL_INTERVAL: Final = "pull-interval"      # s between the study ServerApp's pulls

    TASKS: Final = ("study", "analytics", "quality")
    """What the ServerApp can run (``task``)."""

    DEFAULTS: Final[Mapping[str, str | int | float | bool]] = {
        NUM_SITES: 0, OUTPUT_DIR: "", WAIT_FOR_SITES: 60.0, TASK: "study",
        ANALYTICS_REQUEST: "", PULL_INTERVAL: 0.2}
    """Keys a Flower app project must declare beside the study settings."""


class ConfigKey:
    """Keys of the ``config`` record the coordinator sends."""

    SCHEMA: Final = "schema"
    STD_MEAN: Final = "std-mean"
    STD_SCALE: Final = "std-scale"
    SERVER_ROUND: Final = "server-round"
    ROUND_OFFSET: Final = "round-offset"
    PROXIMAL_MU: Final = "proximal-mu"
    REQUEST: Final = "request"
    LEVELS: Final = "levels"
    STEP: Final = "step"
    TASK: Final = "task"                        # the message type a secure sum stands for
    EVALUATE_RECEIVED: Final = "evaluate-received"  # train: first evaluate the model sent
    ALSO_EVALUATE: Final = "also-evaluate"      # evaluate: also these settings (a,b)
    ALSO_SUM: Final = "also-sum"                # quality: also this sums request's answer
    ALSO_QUALITY: Final = "also-quality"        # schema: also the quality aggregates


EVALUATION_RECORD: Final = "evaluation"
"""The metric record of a ``train`` / ``train.newton`` reply that holds the site's
evaluation of the model it received (asked with :attr:`ConfigKey.EVALUATE_RECEIVED`)."""


SUMS_RECORD: Final = "sums"
"""The metric record of a ``query.quality`` reply that holds the metrics of the sums
request the coordinator also asked for (:attr:`ConfigKey.ALSO_SUM`; the sums' arrays are
the reply's ``arrays``)."""


QUALITY_RECORD: Final = "quality"
"""The metric record of a ``query.schema`` reply that holds the site's data-quality
aggregates under its own schema (asked with :attr:`ConfigKey.ALSO_QUALITY`; sent only by
a site that the eligibility rules would keep). The coordinator uses them when the agreed
schema is every participant's own, and asks in a ``query.quality`` message otherwise."""


INT_METRICS = frozenset({"num-examples", "n-train", "n-rows", "n-test", "n-dropped",
                         "n-events", "n-non-events"})
"""Metric names that are counts (read back as int)."""


@dataclass(frozen=True)
class SecureEncoding:
    """How a task's arrays travel through SecAgg+ (see :mod:`.coordinator.sums`).

    ``clip`` is the largest absolute value a site may send (a power of two), ``limbs``
    the number of limbs per float; ``weighted``: the arrays are averaged with the
    ``num-examples`` weights (the FedAvg family), else summed; ``metrics``: the metric
    names summed with them.
    """

    clip: float
    limbs: int
    weighted: bool = False
    metrics: tuple[str, ...] = ("num-examples",)


SECURE: Final[Mapping[str, SecureEncoding]] = {
    MessageType.MOMENTS: SecureEncoding(2.0**40, 3),
    MessageType.IMPUTE: SecureEncoding(2.0**40, 3),
    MessageType.NEWTON: SecureEncoding(2.0**27, 2, metrics=("num-examples", "train-loss")),
    MessageType.TRAIN: SecureEncoding(2.0**27, 2, weighted=True, metrics=()),
    MessageType.COX: SecureEncoding(2.0**40, 3, metrics=()),
    MessageType.KM: SecureEncoding(2.0**40, 3, metrics=()),  # step "km-totals" only
    MessageType.RECALIBRATE: SecureEncoding(2.0**40, 3, metrics=()),
}
"""The message types whose replies can be summed with SecAgg+."""


@dataclass
class TaskResult:
    """What a site task returns: arrays (a list, or named), metrics, short texts, and
    further metric records by name (``records``)."""

    arrays: list[np.ndarray] | dict[str, np.ndarray] | None = None
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict[str, float | int | None]] = field(default_factory=dict)


# -- reading records ------------------------------------------------------------------
def arrays_of(content: RecordDict, key: str = "arrays") -> list[np.ndarray]:
    """The numpy arrays of the ArrayRecord ``key`` (empty when absent)."""
    record = content.array_records.get(key)
    return [] if record is None else list(record.to_numpy_ndarrays())


def named_arrays_of(content: RecordDict, prefix: str = "",
                    key: str = "arrays") -> dict[str, np.ndarray]:
    """The float64 arrays of the ArrayRecord ``key`` whose names start with ``prefix``
    (the prefix removed)."""
    record = content.array_records.get(key)
    if record is None:
        return {}
    return {k[len(prefix):]: np.asarray(v.numpy(), dtype=np.float64)
            for k, v in record.items() if k.startswith(prefix)}


def decode_arrays(content: RecordDict, key: str = "arrays"
                  ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The ArrayRecord ``key`` decoded once: its arrays in order, and by name."""
    record = content.array_records.get(key)
    if record is None:
        return [], {}
    named = {k: v.numpy() for k, v in record.items()}
    return list(named.values()), named


def number(content: RecordDict, key: str, record: str = "metrics") -> float:
    """One value of the MetricRecord ``record`` as a float."""
    return float(cast(float, content.metric_records[record][key]))


def metrics_of(message: Message, record_key: str = "metrics"
               ) -> dict[str, float | int | None]:
    """A reply's metrics (of its MetricRecord ``record_key``): NaN (suppressed) as None,
    counts as int."""
    out: dict[str, float | int | None] = {}
    record = message.content.metric_records.get(record_key)
    for key in record or {}:
        value = number(message.content, key, record_key)
        out[key] = None if math.isnan(value) else (int(value) if key in INT_METRICS
                                                    else value)
    return out


def config_of(content: RecordDict, key: str = "config") -> ConfigRecord:
    """The ConfigRecord ``key`` (empty when absent)."""
    return content.config_records.get(key) or ConfigRecord()


def text(content: RecordDict, key: str, record: str = "site") -> str:
    """One value of the ConfigRecord ``record`` as a string."""
    return str(content.config_records[record][key])


def site_of(message: Message) -> str:
    """The site a reply comes from (its ``site`` record), else ``node <id>``."""
    records = message.content.config_records if message.has_content() else {}
    if "site" in records and "site" in records["site"]:
        return str(records["site"]["site"])
    return f"node {message.metadata.src_node_id}"


# -- building messages ----------------------------------------------------------------
def ineligible(config: StudyConfig, rows: int | None, n_test: int | None) -> str | None:
    """Why a study's eligibility rules leave out a site with ``rows`` usable rows and
    ``n_test`` test rows (``None`` for a count the small-cell rule withheld), or ``None``
    when it takes part. The coordinator applies it to the schema replies; a site applies
    it to its own counts before it sends anything more than them."""
    if rows is None:  # suppressed by the site: fewer than min_cell
        return (f"fewer than min_cell {config.min_cell} usable rows (needs at least "
                f"{max(config.min_cell, config.min_site_rows)})")
    if rows < config.min_site_rows:
        return (f"{rows} usable rows < min_site_rows {config.min_site_rows} "
                f"(needs {config.min_site_rows - rows} more)")
    if rows < config.min_cell:  # a site's own count, before the small-cell rule
        return ineligible(config, None, n_test)
    k_test = max(2, config.min_cell)
    if n_test is None or n_test < k_test:
        return (f"fewer than {k_test} test rows (small-cell rule: a site's test metrics "
                f"must describe at least min_cell patients; needs about "
                f"{int(k_test / config.test_size) + 1} usable rows)")
    return None


def _array_record(arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> ArrayRecord:
    if isinstance(arrays, Mapping):
        return ArrayRecord({k: Array(np.array(v, dtype=np.float64, order="C"))
                            for k, v in arrays.items()})
    return ArrayRecord([np.asarray(a) for a in arrays])


def request(message_type: str, node_id: int, config: Mapping[str, Any],
            arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray] | ArrayRecord | None = None,
            ) -> Message:
    """A coordinator's message to one site."""
    content = RecordDict({"config": ConfigRecord(dict(config))})
    if arrays is not None:
        content["arrays"] = arrays if isinstance(arrays, ArrayRecord) else _array_record(arrays)
    return Message(content=content, dst_node_id=node_id, message_type=message_type)


def reply(message: Message, site: str, result: TaskResult) -> Message:
    """A site's reply to ``message``: arrays, metrics (None as NaN) and its name."""
    record = RecordDict()
    if result.arrays is not None and len(result.arrays):
        record["arrays"] = _array_record(result.arrays)
    for key, metrics in {"metrics": result.metrics, **result.records}.items():
        record[key] = MetricRecord(
            {k: (float("nan") if v is None else v) for k, v in metrics.items()})
    record["site"] = ConfigRecord({"site": site, **result.texts})
    return Message(content=record, reply_to=message)
