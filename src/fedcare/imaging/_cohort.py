"""DICOM slices in, a validated and de-identified image cohort out.

Every file goes through the same steps, in this order, and nothing about it leaves
:func:`load_slice` before the third:

1. read with pydicom (an unreadable or corrupt file is a finding, not a crash);
2. checked: modality, a single greyscale slice, decodable pixel data, square pixels,
   private tags, a burned-in-annotation flag;
3. de-identified with the PS3.15 E.1-1 basic profile (:func:`fedcare.deid.deidentify_dataset`;
   private tags removed, UIDs replaced by keyed ones, names, IDs and dates emptied);
4. the pixels rescaled (slope/intercept: HU for CT), windowed to [0, 1] (CT: -1000 to
   400 HU; other modalities: the slice's own 0.5th-99.5th percentiles; or a fixed range)
   and resampled to a square ``size`` x ``size`` grid with MONAI transforms (non-square
   pixels are first resampled to square ones); a slice mostly at the window's top is
   flagged ``saturated``.

:func:`read_image_cohort` applies it to every file a labels table names and adds
site-level checks: slices missing from a series, pixel spacing inconsistent within a
site, files the table names that are not there. Findings are counts per site and kind
(:class:`ImageFinding`), like the table quality check's; they never hold a value, a name
or a file name from inside a DICOM header.
"""

from __future__ import annotations

import csv
import logging
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from fedcare._logs import quieted
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = [
    "LEFT_OUT",
    "MEANINGS",
    "ImageCohort",
    "ImageFinding",
    "SliceResult",
    "load_slice",
    "read_image_cohort",
    "read_labels",
    "scan_dicom_folder",
]

CT_WINDOW = (-1000.0, 400.0)
"""The HU window ``window = "auto"`` maps to [0, 1] for CT (air to soft tissue)."""

PERCENTILES = (0.5, 99.5)
"""``window = "percentile"`` (``"auto"`` for every modality but CT): each slice's own
0.5th and 99.5th percentiles map to 0 and 1 (projection X-ray, MR, ... have no absolute
scale like HU)."""

SATURATED = 0.5
"""A slice with more than this share of its pixels at the window's top is ``saturated``."""

LEFT_OUT = frozenset({"unreadable", "modality", "not-a-slice", "no-pixels", "undecodable",
                      "bad-pixels", "burned-in", "missing-file"})
"""Finding kinds that keep a file out of the cohort (the others are warnings)."""

MEANINGS = {
    "unreadable": "not a readable DICOM file (corrupt, truncated or another format)",
    "modality": "modality other than the study's",
    "not-a-slice": "not a single greyscale slice (colour, multi-frame or 3-D)",
    "no-pixels": "no pixel data (a structured report, plan or dose object)",
    "undecodable": "compressed pixel data no installed decoder reads",
    "burned-in": "the file says it has text burned into its pixels (BurnedInAnnotation YES)",
    "missing-file": "named in the labels table but not found under the image folder",
    "non-square-pixels": "pixel spacing differs between rows and columns (resampled)",
    "private-tags": "private tags present (removed by de-identification)",
    "no-spacing": "no pixel spacing (treated as square)",
    "spacing-spread": "pixel spacing differs by more than 10 % within the site",
    "saturated": "over half the pixels at the window's top: the window does not fit these "
                 "images (set window, e.g. 'percentile')",
    "bad-pixels": "pixel data that do not match the header (truncated or corrupt)",
    "missing-slices": "a series whose instance numbers have gaps",
}
"""What each finding kind means (reports and ``--help``)."""


@dataclass(frozen=True)
class ImageFinding:
    """One kind of problem at one site: how many files, and whether they were left out."""

    site: str
    kind: str
    count: int
    left_out: bool

    @property
    def detail(self) -> str:
        return MEANINGS.get(self.kind, self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "kind": self.kind, "count": self.count,
                "left_out": self.left_out, "detail": self.detail}


@dataclass
class SliceResult:
    """One file after :func:`load_slice`: its pixels (or None), findings and facts kept
    for the site-level checks (series, instance number, spacing: no identity)."""

    image: np.ndarray | None
    findings: list[str]
    series: str = ""
    instance: int | None = None
    spacing: tuple[float, float] | None = None
    deid_actions: int = 0


def _spacing(ds: Any) -> tuple[float, float] | None:
    value = ds.get("PixelSpacing", None) or ds.get("ImagerPixelSpacing", None)
    try:
        sy, sx = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (sy, sx) if sy > 0 and sx > 0 else None


def _to_grid(hu: np.ndarray, spacing: tuple[float, float] | None, size: int,
             window: tuple[float, float] | str) -> np.ndarray:
    """Window to [0, 1] (fixed, or the slice's own percentiles) -> square pixels ->
    square field -> ``size`` x ``size``."""
    from monai.transforms.croppad.array import ResizeWithPadOrCrop
    from monai.transforms.intensity.array import ScaleIntensityRange
    from monai.transforms.spatial.array import Resize

    def apply(transform: Any, array: np.ndarray) -> np.ndarray:
        return np.asarray(transform(array))

    if isinstance(window, str):  # "percentile": the slice's own 0.5th to 99.5th
        from monai.transforms.intensity.array import ScaleIntensityRangePercentiles

        image = apply(ScaleIntensityRangePercentiles(
            lower=PERCENTILES[0], upper=PERCENTILES[1], b_min=0.0, b_max=1.0, clip=True),
            hu[None].astype(np.float32))
    else:
        image = apply(ScaleIntensityRange(a_min=window[0], a_max=window[1], b_min=0.0,
                                          b_max=1.0, clip=True), hu[None].astype(np.float32))
    rows, cols = hu.shape
    if spacing is not None and abs(spacing[0] - spacing[1]) > 1e-6 * max(spacing):
        finest = min(spacing)
        shape = (max(1, round(rows * spacing[0] / finest)),
                 max(1, round(cols * spacing[1] / finest)))
        image = apply(Resize(shape, mode="area"), image)
        rows, cols = shape
    if rows != cols:
        side = max(rows, cols)
        image = apply(ResizeWithPadOrCrop((side, side)), image)
    out = apply(Resize((size, size), mode="area"), image).astype(np.float32)
    return out


def load_slice(path: str | Path | BinaryIO, *, modality: Sequence[str] | None = ("CT",),
               size: int = 64, window: tuple[float, float] | str = "auto",
               keyed: Any = None) -> SliceResult:
    """Read, check, de-identify and resample one DICOM file (module docstring).

    Parameters
    ----------
    path : path or binary file object
        A file, or an upload's bytes (``io.BytesIO``).
    modality : sequence of str, optional
        Accepted modalities (None: any).
    size : int
        Side of the output grid.
    window : "auto", "percentile" or (low, high)
        How values (after the rescale slope and intercept: HU for CT) map to [0, 1]:
        ``"auto"``: :data:`CT_WINDOW` for a CT file, the slice's own percentiles
        (:data:`PERCENTILES`) for any other modality; ``"percentile"``: always those;
        ``(low, high)``: that fixed range.
    keyed : fedcare.deid Keyed, optional
        One key for the site's files (UIDs stay consistent within a series).
    """
    # pydicom warns (and logs) about malformed values quoting them: never in our logs
    with warnings.catch_warnings(), quieted("pydicom", logging.CRITICAL):
        warnings.simplefilter("ignore")
        try:
            return _load_slice(path, modality, size, window, keyed)
        except Exception:  # a header that lies in a way no step foresaw: not a crash
            return SliceResult(None, ["unreadable"])


def _load_slice(path: str | Path | BinaryIO, modality: Sequence[str] | None, size: int,
                window: tuple[float, float] | str, keyed: Any) -> SliceResult:
    import pydicom
    from pydicom.errors import InvalidDicomError

    from fedcare.deid import deidentify_dataset

    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError,
            AttributeError, IndexError, NotImplementedError):
        return SliceResult(None, ["unreadable"])
    findings: list[str] = []
    if any(elem.tag.is_private for elem in ds.iterall()):
        findings.append("private-tags")
    burned = str(ds.get("BurnedInAnnotation", "")).upper() == "YES"
    kind = str(ds.get("Modality", "") or "")
    series = str(ds.get("SeriesInstanceUID", "") or "")
    try:
        instance = int(ds.get("InstanceNumber")) if ds.get("InstanceNumber") is not None \
            else None
    except (TypeError, ValueError):
        instance = None
    spacing = _spacing(ds)
    # de-identified before anything else is read from it (pixels included)
    try:
        ds, report = deidentify_dataset(ds, keyed=keyed) if keyed is not None \
            else deidentify_dataset(ds)
    except Exception:  # a header the profile cannot walk is as bad as an unreadable file
        return SliceResult(None, ["unreadable"])
    actions = report.removed + report.emptied + report.dummied + report.uids + report.private
    result = SliceResult(None, findings, series, instance, spacing, actions)
    if burned:
        findings.append("burned-in")
        return result
    if modality is not None and kind not in modality:
        findings.append("modality")
        return result
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        findings.append("no-pixels")
        return result
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
    except (TypeError, ValueError):
        frames = samples = 0
    if samples != 1 or frames != 1:
        findings.append("not-a-slice")
        return result
    try:
        pixels = ds.pixel_array
    except Exception:  # no decoder for this transfer syntax, or pixel data that lie
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        compressed = bool(getattr(syntax, "is_compressed", False))
        findings.append("undecodable" if compressed else "bad-pixels")
        return result
    if pixels.ndim != 2:
        findings.append("not-a-slice")
        return result
    if spacing is None:
        findings.append("no-spacing")
    elif abs(spacing[0] - spacing[1]) > 0.01 * max(spacing):
        findings.append("non-square-pixels")
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    hu = pixels.astype(np.float64) * slope + intercept
    if window == "auto":
        window = CT_WINDOW if kind == "CT" else "percentile"
    result.image = _to_grid(hu, spacing, size, window)
    if float(np.mean(result.image >= 1.0)) > SATURATED:
        findings.append("saturated")
    return result


@dataclass
class ImageCohort:
    """Slices of one or more sites, ready to train on (they never leave their site).

    Attributes
    ----------
    images : ndarray of shape (n, 1, size, size), float32 in [0, 1]
    y : ndarray of shape (n,), int (0/1)
    sites : ndarray of shape (n,), str
    files : list of str
        Paths relative to the image folder (for the site's own use; never sent).
    findings : list of ImageFinding
    seconds : float
        Time to read, check, de-identify and resample.
    deid_actions : int
        Attributes removed, emptied, replaced or dummied by de-identification, all files.
    """

    images: np.ndarray
    y: np.ndarray
    sites: np.ndarray
    files: list[str]
    findings: list[ImageFinding] = field(default_factory=list)
    seconds: float = 0.0
    deid_actions: int = 0

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def site_names(self) -> list[str]:
        return sorted(set(self.sites.tolist()))

    def of_site(self, name: str) -> ImageCohort:
        """The slices of one site (its findings only)."""
        mask = self.sites == name
        if not mask.any():
            raise DataError(f"site '{name}' has no usable images")
        return ImageCohort(self.images[mask], self.y[mask], self.sites[mask],
                           [f for f, m in zip(self.files, mask, strict=True) if m],
                           [f for f in self.findings if f.site == name], self.seconds,
                           self.deid_actions)

    def flat(self) -> np.ndarray:
        """The images as rows, shape (n, size * size) (what fedcare's models take)."""
        return self.images.reshape(len(self.images), -1)


def label_value(value: object, positive: str | None) -> int:
    """A label as 0/1 (``positive``: the value meaning 1)."""
    text = str(value).strip()
    return int(text == positive) if positive else int(text)


def read_labels(labels: Path, file_column: str, label_column: str,
                site_column: str | None, positive: str | None = None
                ) -> list[dict[str, str]]:
    if not labels.is_file():
        raise DataNotFoundError(f"{labels}: labels table not found")
    try:
        with labels.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{labels}: not a readable CSV table ({type(exc).__name__})") from None
    for role, column in (("file", file_column), ("label", label_column),
                         ("site", site_column)):
        if column is not None and column not in columns:
            raise DataError(f"{labels}: no {role} column '{column}' (columns: {columns})")
    if not rows:
        raise DataError(f"{labels}: no rows")
    levels = {str(r[label_column]).strip() for r in rows}
    if positive and positive not in levels:
        raise DataError(f"{labels}, column '{label_column}': no row holds the positive "
                        f"level given ({len(levels)} distinct values)")
    if positive and len(levels) > 2:
        raise DataError(f"{labels}, column '{label_column}': {len(levels)} distinct values; "
                        "a binary label has 2")
    for i, row in enumerate(rows, start=2):
        value = str(row[label_column]).strip()
        if not value or (not positive and value not in ("0", "1")):
            raise DataError(f"{labels}, row {i}, column '{label_column}': expected 0 or 1"
                            + ("" if positive else " (or name the positive level)"))
        if not str(row[file_column] or "").strip():
            raise DataError(f"{labels}, row {i}, column '{file_column}': empty file name")
        if site_column is not None and not str(row[site_column] or "").strip():
            raise DataError(f"{labels}, row {i}, column '{site_column}': empty site")
    return rows


def _inside(root: Path, relative: str, labels: Path, row: int, column: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DataError(f"{labels}, row {row}, column '{column}': the path leaves the image "
                        "folder")
    return path


def _site_findings(site: str, results: Iterable[SliceResult], missing: int
                   ) -> list[ImageFinding]:
    results = list(results)
    counts: Counter[str] = Counter(k for r in results for k in r.findings)
    if missing:
        counts["missing-file"] += missing
    spacings = [r.spacing for r in results if r.image is not None and r.spacing]
    if spacings:
        finest = [min(s) for s in spacings]
        if max(finest) > 1.1 * min(finest):
            counts["spacing-spread"] += len(spacings)
    series: dict[str, list[int]] = {}
    for r in results:
        if r.series and r.instance is not None:
            series.setdefault(r.series, []).append(r.instance)
    for numbers in series.values():
        if len(numbers) > 1:
            ordered = sorted(set(numbers))
            if ordered[-1] - ordered[0] + 1 > len(ordered):
                counts["missing-slices"] += 1
    return [ImageFinding(site, kind, n, kind in LEFT_OUT) for kind, n in sorted(counts.items())]


def read_image_cohort(images: str | Path, labels: str | Path, *, file_column: str = "file",
                      label_column: str = "label", site_column: str | None = "site",
                      site: str | None = None, size: int = 64,
                      modality: Sequence[str] | None = ("CT",),
                      window: tuple[float, float] | str = "auto",
                      key: bytes | str | None = None, positive: str | None = None,
                      strict: bool = True) -> ImageCohort:
    """Every labelled slice of ``images`` (a folder), read, checked, de-identified and
    resampled (module docstring).

    Parameters
    ----------
    images : path
        The image folder; the labels table's file column holds paths relative to it.
    labels : path
        CSV with a file, a 0/1 label and (for a multi-site table) a site column.
    site : str, optional
        Read only this site's rows (what a site does with its own export).
    size, modality, window
        As for :func:`load_slice`.
    key : bytes or str, optional
        De-identification key (UIDs consistent across runs); random when omitted.
    positive : str, optional
        The label meaning "finding" when the label column is not 0/1 (e.g. ``yes``):
        that value is 1, any other value 0.
    strict : bool, default=True
        ``False`` (an export's check): a site with no usable slice is reported by its
        findings instead of stopping with an error.

    Raises
    ------
    DataNotFoundError
        The folder or the labels table does not exist.
    DataError
        A malformed table (the error names the row and column), or a site left with no
        usable image.
    """
    from fedcare.deid._text import make_keyed

    root, labels = Path(images), Path(labels)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: image folder not found")
    if not (isinstance(size, int) and 8 <= size <= 512):
        raise DataError(f"size must be an integer from 8 to 512, got {size!r}")
    started = time.perf_counter()
    rows = read_labels(labels, file_column, label_column, site_column, positive)
    keyed, _ = make_keyed(key, "tag")
    per_site: dict[str, list[tuple[int, SliceResult, dict[str, str]]]] = {}
    missing: Counter[str] = Counter()
    for i, row in enumerate(rows, start=2):
        name = str(row[site_column]).strip() if site_column else "site"
        if site is not None and name != site:
            continue
        path = _inside(root, str(row[file_column]).strip(), labels, i, file_column)
        if not path.is_file():
            missing[name] += 1
            continue
        result = load_slice(path, modality=modality, size=size, window=window, keyed=keyed)
        per_site.setdefault(name, []).append((i, result, row))
    if site is not None and site not in per_site:
        raise DataError(f"{labels}: site '{site}' has no readable file in {root}"
                        if missing[site] else f"{labels}: no rows for site '{site}'")
    findings: list[ImageFinding] = []
    images_out: list[np.ndarray] = []
    y, sites, files = [], [], []
    actions = 0
    for name in sorted(per_site):
        entries = per_site[name]
        findings += _site_findings(name, (r for _, r, _ in entries), missing[name])
        usable = [(r, row) for _, r, row in entries if r.image is not None]
        if not usable and not strict:
            continue
        if not usable:
            kinds = sorted({k for _, r, _ in entries for k in r.findings})
            raise DataError(f"site '{name}': none of its {len(entries)} files is a usable "
                            f"slice (findings: {kinds})")
        for r, row in usable:
            assert r.image is not None
            images_out.append(r.image)
            y.append(label_value(row[label_column], positive))
            sites.append(name)
            files.append(str(row[file_column]).strip())
        actions += sum(r.deid_actions for _, r, _ in entries)
    stacked = (np.stack(images_out).astype(np.float32) if images_out
               else np.zeros((0, 1, size, size), dtype=np.float32))
    return ImageCohort(stacked, np.asarray(y, dtype=np.int64),
                       np.asarray(sites), files, findings, time.perf_counter() - started,
                       actions)


def scan_dicom_folder(folder: str | Path, *, modality: Sequence[str] | None = None,
                      size: int = 64, window: tuple[float, float] | str = "auto"
                      ) -> tuple[int, int, list[ImageFinding], float]:
    """Read, check, de-identify and resample every ``*.dcm`` file under ``folder``
    without labels (an export's first look). Returns (files, usable slices, findings
    under the site name ``folder``'s name, seconds)."""
    from fedcare.deid._text import make_keyed

    root = Path(folder)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: image folder not found")
    started = time.perf_counter()
    keyed, _ = make_keyed(None, "tag")
    results = [load_slice(p, modality=modality, size=size, window=window, keyed=keyed)
               for p in sorted(root.rglob("*.dcm"))]
    usable = sum(r.image is not None for r in results)
    return (len(results), usable, _site_findings(root.name, results, 0),
            time.perf_counter() - started)
