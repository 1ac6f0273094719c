"""Exact sums through SecAgg+: floats as limbs on its quantisation grid, and the packing of
a site's reply into the one vector that is summed.

``secaggplus_mod`` scales a site's arrays by ``num_examples / max_weight``, clips them to
``[-c, c]`` (``c = clipping_range``), rounds them *stochastically* onto a grid of ``T =
quantization_range`` steps, and masks them; ``SecAggPlusWorkflow`` unmasks the sum and
divides it by the summed weights. fedcare's sites always report weight 1 (``max_weight``
1), so the coordinator gets the mean over its ``k`` sites and multiplies by ``k``. Each
float is sent as ``L`` *limbs* (:func:`encode_limbs`): ``x`` rounded to the grid step
``2c/T``, then the remainder times ``T`` rounded likewise, and so on. With ``c`` and
``T`` powers of two every limb already lies on the grid, so Flower's stochastic
rounding leaves it unchanged, and the only error is the rounding of the last limb: at
most ``c / T**L`` per site and element, i.e.

    |secure sum - plain sum| <= k * c / T**L   (+ float64 rounding, ~1e-16 relative)

``T = 2**(32 - ceil(log2(k + 1)))`` (2**29 for 4 sites: the sum of k quantised values
must stay below Flower's 2**32 mask modulus). ``c`` and ``L`` per message type are in
:data:`fedcare.federation.protocol.SECURE` (model arrays ``c = 2**27``, ``L = 2``: bound
``k * 2**-31``, 1.9e-9 for 4 sites; sums of counts and moments ``c = 2**40``, ``L = 3``).
A value beyond ``c`` is refused at the site (never clipped silently).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

from fedcare.exceptions import FederationError

from .protocol import SecureEncoding, TaskResult

__all__ = ["MODULUS_RANGE", "decode_limbs", "encode_limbs", "error_bound", "pack",
           "quantization_range", "unpack"]

MODULUS_RANGE = 2**32
"""Flower's default (and largest) mask modulus."""


def quantization_range(n_sites: int) -> int:
    """The largest power of two ``T`` with ``n_sites * T < 2**32`` (no wrap-around)."""
    if n_sites < 3:
        raise FederationError(f"SecAgg+ needs at least 3 sites, got {n_sites}")
    return 2 ** (32 - math.ceil(math.log2(n_sites + 1)))


def error_bound(n_sites: int, clip: float, limbs: int, target: int | None = None) -> float:
    """Largest absolute error of one element of the secure sum (before float rounding)."""
    target = quantization_range(n_sites) if target is None else target
    return n_sites * clip / float(target) ** limbs


def encode_limbs(arrays: Sequence[np.ndarray], clip: float, target: int,
                 limbs: int) -> list[np.ndarray]:
    """Split each float array into ``limbs`` limbs that Flower's quantiser keeps exact.

    Limb 0 is ``x`` rounded to the grid step ``2 * clip / target``; limb ``j`` is the
    remainder of limb ``j - 1`` times ``target``, rounded to the same step. Each lies in
    ``[-clip, clip]`` on the grid, so SecAgg+'s stochastic rounding leaves it unchanged;
    ``sum_j limb_j / target**j`` recovers ``x`` to within ``clip / target**limbs``.

    Parameters
    ----------
    arrays : list of ndarray
        Any shapes; at most ``clip`` in absolute value (checked: never clipped silently).
    clip, target : float, int
        SecAgg+'s ``clipping_range`` and ``quantization_range`` (powers of two).
    limbs : int
        At least 1.

    Returns
    -------
    list of ndarray
        ``limbs * len(arrays)`` float64 arrays: every array's limb 0, then every limb 1, ...
    """
    step = 2 * clip / target
    out: list[list[np.ndarray]] = [[] for _ in range(limbs)]
    for array in arrays:
        rest = np.asarray(array, dtype=np.float64)
        if not np.all(np.isfinite(rest)) or np.any(np.abs(rest) > clip):
            raise FederationError(
                f"secure sum: a value is not finite or exceeds the clipping range {clip:g}")
        for j in range(limbs):
            limb = np.round(rest / step) * step
            out[j].append(limb)
            rest = (rest - limb) * target
    return [a for limb in out for a in limb]


def decode_limbs(encoded: Sequence[np.ndarray], target: int, limbs: int) -> list[np.ndarray]:
    """Inverse of :func:`encode_limbs` on (sums of) limbs: ``sum_j limb_j / target**j``."""
    m = len(encoded) // limbs
    return [sum((np.asarray(encoded[j * m + i], dtype=np.float64) / float(target) ** j
                 for j in range(limbs)), start=np.zeros(np.shape(encoded[i])))
            for i in range(m)]


def pack(result: TaskResult, encoding: SecureEncoding) -> tuple[list[np.ndarray], str]:
    """A site's reply as the arrays to be summed, and their layout (public: names, shapes).

    Weighted encodings send ``n * array`` and ``n`` (``n`` = the reply's
    ``num-examples``), so that the sum divided by the summed ``n`` is the weighted mean.
    Then the encoding's metrics, one scalar each.
    """
    named = isinstance(result.arrays, dict)
    items = (sorted(result.arrays.items()) if isinstance(result.arrays, dict)
             else [(str(i), a) for i, a in enumerate(result.arrays or [])])
    weight = float(result.metrics.get("num-examples") or 0.0) if encoding.weighted else 1.0
    # at least 1-d: Flower's SecAgg+ workflow adds its offset and divides in place, which
    # leaves 0-d arrays (scalars) unchanged; the layout restores their shapes
    arrays = [np.atleast_1d(weight * np.asarray(a, dtype=np.float64)) for _, a in items]
    if encoding.weighted:
        arrays.append(np.array([weight]))
    for key in encoding.metrics:
        value = result.metrics.get(key)
        arrays.append(np.array([float("nan") if value is None else float(value)]))
    layout = {"named": named, "names": [k for k, _ in items],
              "shapes": [list(np.shape(a)) for _, a in items]}
    return arrays, json.dumps(layout, sort_keys=True)


def unpack(summed: Sequence[np.ndarray], layout: str, encoding: SecureEncoding) -> TaskResult:
    """Inverse of :func:`pack` on the sum over sites: arrays (weighted mean or sum) and
    the summed metrics."""
    spec = json.loads(layout)
    k = len(spec["names"])
    arrays = [np.asarray(a, dtype=np.float64).reshape(shape)
              for a, shape in zip(summed[:k], spec["shapes"], strict=True)]
    rest = list(summed[k:])
    metrics: dict[str, float | int | None] = {}
    if encoding.weighted:
        total = float(rest.pop(0)[0])
        arrays = [a / total for a in arrays]
        metrics["num-examples"] = round(total)
    for key in encoding.metrics:
        value = float(rest.pop(0)[0])
        metrics[key] = round(value) if key == "num-examples" else value
    out: list[np.ndarray] | dict[str, np.ndarray] = (
        dict(zip(spec["names"], arrays, strict=True)) if spec["named"] else arrays)
    return TaskResult(out, metrics)
