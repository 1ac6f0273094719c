"""Data: connectors to a validated :class:`Cohort`, schemas, splits and data set loaders."""

from fedcare.data._cohort import Cohort, Feature, Schema, encode
from fedcare.data._heart import (
    heart_disease_table,
    load_heart_disease,
    load_heart_disease_frame,
)
from fedcare.data._split import site_split
from fedcare.data._table import cohort_from_frame, infer_schema, read_table

__all__ = [
    "Cohort",
    "Feature",
    "Schema",
    "cohort_from_frame",
    "encode",
    "heart_disease_table",
    "infer_schema",
    "load_heart_disease",
    "load_heart_disease_frame",
    "read_table",
    "site_split",
]
