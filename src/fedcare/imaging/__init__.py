"""Medical imaging: DICOM slices in, checked and de-identified, for federated studies.

**Synthetic data.** No labelled medical images install offline: studies are trained and
measured on synthetic CT-like slices (:func:`write_synthetic_study`); the ingestion
checks also run on the real DICOM files that ship with pydicom. See docs/imaging.md.
"""

from fedcare.imaging._cohort import (
    LEFT_OUT,
    MEANINGS,
    ImageCohort,
    ImageFinding,
    load_slice,
    read_image_cohort,
    scan_dicom_folder,
)
from fedcare.imaging._saliency import occlusion_saliency, saliency_png
from fedcare.imaging._synthetic import (
    SITES,
    SYNTHETIC_MARKER,
    ScannerSite,
    synthetic_slice,
    write_synthetic_study,
)
from fedcare.models._cnn import CNNClassifier

__all__ = [
    "LEFT_OUT",
    "MEANINGS",
    "SITES",
    "SYNTHETIC_MARKER",
    "CNNClassifier",
    "ImageCohort",
    "ImageFinding",
    "ScannerSite",
    "load_slice",
    "occlusion_saliency",
    "read_image_cohort",
    "saliency_png",
    "scan_dicom_folder",
    "synthetic_slice",
    "write_synthetic_study",
]
