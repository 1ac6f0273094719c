"""De-identification of clinical text, tables and DICOM (English and Chinese).

Free text and tables: the 18 HIPAA Safe Harbor identifier types and their Chinese
counterparts (PIPL, GB/T 37964) are found by recognisers (patterns, checksums, word lists,
jieba's person-name tags) and replaced by type tags (``[NAME]``) or keyed HMAC-SHA256
pseudonyms (``[NAME-3fa2c19b0d4e]``); ages over 89 become ``90+``.  Dates follow a date
mode: ``shift`` (default) moves them by a keyed per-person offset in their own format so
intervals within a person are kept (not Safe Harbor); ``safe-harbor`` cuts them to the year
and groups years that may show an age over 89; ``tag`` writes ``[DATE]``.  DICOM: the
basic application-level confidentiality profile of PS3.15 Annex E.

Public API::

    deidentify_text(text, lang="auto", mode="tag", key=None, dates="shift",
                    day_first=False, reference_year=None) -> Result(text, spans, lang)
    deidentify_frame(frame, ...) -> (DataFrame, FrameReport)
    deidentify_dicom(path_or_dataset, out=None, ...) -> (Dataset, DicomReport)
    deidentify_path(source, out, ...) -> Summary      # a .txt/.csv/.dcm file or a folder
    find_phi(text, lang="auto") -> list[Span]         # recognition only
    load_key(key_file=None) -> bytes | None           # --key-file or $FEDCARE_DEID_KEY

jieba, OpenCC (traditional Chinese read as simplified by the rules) and pydicom are imported
on first use, not with this package.
"""

from __future__ import annotations

from fedcare.deid._common import KEY_ENV, PHI_TYPES, Result, Span, is_valid_cn_id, load_key
from fedcare.deid._dicom import DicomReport, deidentify_dataset, deidentify_dicom
from fedcare.deid._eval import score
from fedcare.deid._files import SUFFIXES, Summary, deidentify_path
from fedcare.deid._recognise import detect_language, find_phi
from fedcare.deid._table import FrameReport, classify_columns, deidentify_frame
from fedcare.deid._text import deidentify_text, person_key

__all__ = [
    "KEY_ENV",
    "PHI_TYPES",
    "SUFFIXES",
    "DicomReport",
    "FrameReport",
    "Result",
    "Span",
    "Summary",
    "classify_columns",
    "deidentify_dataset",
    "deidentify_dicom",
    "deidentify_frame",
    "deidentify_path",
    "deidentify_text",
    "detect_language",
    "find_phi",
    "is_valid_cn_id",
    "load_key",
    "person_key",
    "score",
]
