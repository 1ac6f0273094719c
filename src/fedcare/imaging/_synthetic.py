"""Synthetic labelled CT-like slices for a multi-site image study, written as DICOM.

**Synthetic.** No labelled medical images install offline (docs/imaging.md), so image
studies are trained and measured on slices drawn here: a chest-like body ellipse with two
lungs, and in about 40 % of slices (``label`` 1) one round nodule inside a lung, of
random size (radius 3-12 mm: from under one pixel of the 64 x 64 grid to four) and
contrast (+150 HU over lung, a faint ground-glass nodule, to +800 HU, a solid one). Each
site is a "scanner" of its own: noise level, blur, a calibration offset, pixel spacing and matrix
size differ, and one site stores its values with another rescale intercept; sites also
differ in prevalence. The files carry invented names, IDs, dates and a private tag (as a
hospital's export would), so that the loader's de-identification has something to do.

The default layout (:data:`SITES`) is four hospitals, one of them small (40 slices), for
the question the imaging issue asks: does a small site gain from learning with others?
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SITES", "SYNTHETIC_MARKER", "ScannerSite", "synthetic_slice",
           "write_synthetic_study"]

SYNTHETIC_MARKER = "SYNTHETIC.txt"
"""A file of this name in an image folder says its slices are synthetic (reports say so)."""


@dataclass(frozen=True)
class ScannerSite:
    """One synthetic hospital: how many slices, and how its scanner differs."""

    name: str
    n: int
    prevalence: float
    noise_hu: float          # standard deviation of the noise, HU
    blur: float              # Gaussian blur of the image, pixels (0: none)
    offset_hu: float         # calibration offset added to every value, HU
    spacing: tuple[float, float]  # pixel spacing (row, column), mm
    matrix: int              # rows = columns of the stored image
    intercept: float = -1024.0  # the stored RescaleIntercept (values stored as HU - it)


SITES: tuple[ScannerSite, ...] = (
    ScannerSite("hospital-a", 320, 0.40, 25.0, 0.0, 0.0, (3.6, 3.6), 96),
    ScannerSite("hospital-b", 240, 0.35, 45.0, 0.6, 20.0, (4.0, 4.0), 88),
    ScannerSite("hospital-c", 200, 0.45, 35.0, 0.0, -15.0, (4.4, 4.4), 80, intercept=0.0),
    ScannerSite("hospital-d", 40, 0.40, 60.0, 0.9, 30.0, (3.7, 3.7), 96),
)
"""Four synthetic hospitals; ``hospital-d`` is the small one (40 slices)."""

_FIRST = ("Wei", "Li", "Anna", "James", "Mei", "Omar", "Sofia", "Hiro", "Grace", "Ivan")
_LAST = ("Zhang", "Wang", "Smith", "Garcia", "Chen", "Okafor", "Novak", "Tanaka", "Brown")


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return image
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-(x ** 2) / (2 * sigma ** 2))
    kernel /= kernel.sum()
    out = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 0, image)
    return np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, out)


def synthetic_slice(rng: np.random.Generator, site: ScannerSite, lesion: bool
                    ) -> np.ndarray:
    """One slice in HU, shape (``site.matrix``, ``site.matrix``) (synthetic)."""
    m = site.matrix
    # physical coordinates in mm, centred; the field of view is matrix x spacing
    rows = (np.arange(m) - m / 2 + 0.5) * site.spacing[0]
    cols = (np.arange(m) - m / 2 + 0.5) * site.spacing[1]
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    image = np.full((m, m), -1000.0)                        # air
    a, b = rng.uniform(150, 170), rng.uniform(105, 125)        # body half-axes, mm
    body = (xx / a) ** 2 + (yy / b) ** 2 <= 1
    image[body] = 40.0 + rng.normal(0, 5)                   # soft tissue
    lungs = []
    for side in (-1, 1):
        cx, cy = side * rng.uniform(60, 70), rng.uniform(-10, 10)
        la, lb = rng.uniform(40, 48), rng.uniform(65, 80)
        lung = ((xx - cx) / la) ** 2 + ((yy - cy) / lb) ** 2 <= 1
        image[lung] = -820.0 + rng.normal(0, 20)
        lungs.append((cx, cy, la, lb))
    spine = (xx / 18) ** 2 + ((yy - b + 25) / 18) ** 2 <= 1
    image[spine] = 700.0                                    # bone
    if lesion:
        cx, cy, la, lb = lungs[int(rng.integers(2))]
        radius = rng.uniform(3.0, 12.0)
        t = rng.uniform(0, 2 * np.pi)
        rr = rng.uniform(0, 0.55)
        px, py = cx + rr * (la - radius) * np.cos(t), cy + rr * (lb - radius) * np.sin(t)
        nodule = (xx - px) ** 2 + (yy - py) ** 2 <= radius ** 2
        image[nodule] += rng.uniform(150, 800)  # ground-glass (faint) to solid
    image = _blur(image, site.blur)
    image = image + site.offset_hu + rng.normal(0, site.noise_hu, image.shape)
    return image


def _dataset(image_hu: np.ndarray, site: ScannerSite, index: int,
             rng: np.random.Generator) -> object:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CT"
    ds.PatientName = f"{_LAST[rng.integers(len(_LAST))]}^{_FIRST[rng.integers(len(_FIRST))]}"
    ds.PatientID = f"{site.name[-1].upper()}{rng.integers(10**6, 10**7)}"
    ds.PatientBirthDate = (dt.date(1940, 1, 1) + dt.timedelta(days=int(
        rng.integers(0, 20000)))).strftime("%Y%m%d")
    ds.StudyDate = (dt.date(2024, 1, 1) + dt.timedelta(days=int(
        rng.integers(0, 600)))).strftime("%Y%m%d")
    ds.InstitutionName = f"Synthetic {site.name.title()}"
    ds.Manufacturer = "fedcare synthetic"
    ds.InstanceNumber = 1
    ds.SliceThickness = 1.0
    ds.PixelSpacing = [f"{site.spacing[0]:.4f}", f"{site.spacing[1]:.4f}"]
    ds.Rows = ds.Columns = site.matrix
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, site.intercept
    stored = np.clip(np.round(image_hu - site.intercept), -32768, 32767).astype(np.int16)
    ds.PixelData = stored.tobytes()
    block = ds.private_block(0x0011, "fedcare synthetic scanner", create=True)
    block.add_new(0x01, "LO", f"scanner serial SN{index:05d}")
    return ds


def write_synthetic_study(folder: str | Path, *, seed: int = 0,
                          sites: tuple[ScannerSite, ...] = SITES) -> Path:
    """Write a synthetic image study: ``<folder>/images/<site>/<n>.dcm`` and
    ``<folder>/labels.csv`` (columns ``file``, ``site``, ``label``; rows shuffled).
    Returns the labels file. Deterministic for a ``seed``.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, int]] = []
    for site in sites:
        where = folder / "images" / site.name
        where.mkdir(parents=True, exist_ok=True)
        n_pos = round(site.n * site.prevalence)
        labels = np.array([1] * n_pos + [0] * (site.n - n_pos))
        rng.shuffle(labels)
        for i, label in enumerate(labels):
            ds = _dataset(synthetic_slice(rng, site, bool(label)), site, i, rng)
            path = where / f"{i:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)  # type: ignore[attr-defined]
            rows.append((f"{site.name}/{path.name}", site.name, int(label)))
    (folder / "images" / SYNTHETIC_MARKER).write_text(
        "These DICOM files are synthetic (fedcare.imaging.write_synthetic_study, seed "
        f"{seed}): generated slices, not patients' images.\n", encoding="utf-8")
    order = rng.permutation(len(rows))
    labels_file = folder / "labels.csv"
    with labels_file.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "site", "label"])
        writer.writerows(rows[i] for i in order)
    return labels_file
