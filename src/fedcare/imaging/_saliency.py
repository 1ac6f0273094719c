"""Where the network looked: occlusion saliency (MONAI) and a PNG overlay.

Occlusion sensitivity (Zeiler & Fergus 2014) via :class:`monai.visualize.OcclusionSensitivity`:
a Gaussian-blurred patch slides over the slice, and the saliency of a pixel is how much
the predicted log-odds of a finding *drop* when the patches covering it are hidden
(clipped at 0, scaled to [0, 1] per slice). It needs only the model's output, so it works
for any network, and it is computed at the site or the server that holds the slice; a
saliency map is an image of the patient and is treated like one.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from typing import Any

import numpy as np

__all__ = ["occlusion_saliency", "saliency_png"]


def occlusion_saliency(model: Any, image: np.ndarray, *, mask_size: int = 9
                       ) -> tuple[np.ndarray, float]:
    """Saliency map (size x size, in [0, 1]) and the predicted probability of a finding.

    Parameters
    ----------
    model : CNNClassifier (fitted)
    image : ndarray of shape (size, size), (1, size, size) or (size * size,)
    mask_size : int
        Side of the occluding patch, pixels (odd).
    """
    import torch
    from monai.visualize.occlusion_sensitivity import OcclusionSensitivity

    side = math.isqrt(np.asarray(image).size)
    x = torch.as_tensor(np.asarray(image, dtype=np.float32).reshape(1, 1, side, side))
    module = model.module_.cpu()
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI's indexing warns on torch 2.13
        logit = float(module(x).squeeze())
        occ = OcclusionSensitivity(module, mask_size=mask_size, n_batch=64, verbose=False,
                                   mode="gaussian", activate=False)
        occluded, _ = occ(x)
    # (1, 1, H, W): the one logit's value with each neighbourhood hidden
    drop = logit - np.asarray(occluded, dtype=np.float64).reshape(side, side)
    drop = np.clip(drop, 0.0, None)
    peak = float(drop.max())
    saliency = drop / peak if peak > 0 else drop
    return saliency.astype(np.float32), float(1.0 / (1.0 + np.exp(-logit)))


def saliency_png(image: np.ndarray, saliency: np.ndarray, *, title: str = "",
                 dpi: int = 80) -> str:
    """The slice with its saliency overlaid, as a base64 PNG (for HTML and JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = saliency.shape[-1]
    fig, axes = plt.subplots(1, 2, figsize=(4.4, 2.3), dpi=dpi)
    axes[0].imshow(np.asarray(image).reshape(side, side), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("slice", fontsize=8)
    axes[1].imshow(np.asarray(image).reshape(side, side), cmap="gray", vmin=0, vmax=1)
    shown = np.ma.masked_less(saliency, 0.15)
    axes[1].imshow(shown, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
    axes[1].set_title("occlusion saliency", fontsize=8)
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
