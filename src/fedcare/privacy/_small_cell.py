"""Small-cell protection: no figure a site sends may describe fewer than k patients."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["COUNT_KEYS", "suppress_small_cells"]

#: Metric names that are counts of patients.
COUNT_KEYS = frozenset({"n-rows", "n-test", "n-dropped", "n-train", "num-examples",
                        "n-events", "n-non-events"})
#: Figures that describe the ranking/risk of the patients of each class.
CLASS_FIGURES = ("auc", "calibration_slope", "calibration_intercept")


def suppress_small_cells(metrics: Mapping[str, float], k: int) -> dict[str, float]:
    """Suppress (set to NaN, reported as null) what would describe fewer than ``k``.

    - a count of patients between 1 and ``k - 1`` is suppressed (0 is kept: it reveals
      no patient); when it is ``n-events`` or ``n-non-events``, both are (the rows minus
      the one shown would give the other);
    - AUC and calibration figures are suppressed when either outcome class of the test
      rows (``n-events`` / ``n-non-events``) has fewer than ``k`` patients;
    - every figure is suppressed when the rows it summarises (``num-examples``) are
      fewer than ``k``.

    Parameters
    ----------
    metrics : mapping of str to float
        One MetricRecord's values.
    k : int
        Smallest group that may be described (k = 1 turns protection off).
    """
    out = dict(metrics)
    nan = float("nan")
    if k <= 1:
        return out
    events, non_events = out.get("n-events"), out.get("n-non-events")
    if events is not None and non_events is not None and min(events, non_events) < k:
        for key in CLASS_FIGURES:
            if key in out:
                out[key] = nan
    n = out.get("num-examples")
    if n is not None and 0 < n < k:
        out = dict.fromkeys(out, nan)
    small = {key for key in COUNT_KEYS & set(out) if 0 < out[key] < k}
    if small & {"n-events", "n-non-events"}:
        # the other class's count is the rows minus this one: withhold both
        small |= {"n-events", "n-non-events"} & set(out)
    for key in small:
        out[key] = nan
    return out

