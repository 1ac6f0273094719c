"""Data: connectors to a validated :class:`Cohort`, schemas, splits and data set loaders."""

from fedcare.data._cohort import Cohort, Feature, Schema, encode
from fedcare.data._fhir import read_fhir
from fedcare.data._heart import (
    heart_disease_table,
    load_heart_disease,
    load_heart_disease_frame,
)
from fedcare.data._identifiers import identifier_columns
from fedcare.data._ingest import Ingested, IngestReport, read_mapped_table
from fedcare.data._mapping import Mapping, load_mapping, parse_mapping
from fedcare.data._omop import read_omop
from fedcare.data._split import site_split
from fedcare.data._table import cohort_from_frame, infer_schema, read_table
from fedcare.data._units import UnitError

__all__ = [
    "Cohort",
    "Feature",
    "IngestReport",
    "Ingested",
    "Mapping",
    "Schema",
    "UnitError",
    "cohort_from_frame",
    "encode",
    "heart_disease_table",
    "identifier_columns",
    "infer_schema",
    "load_heart_disease",
    "load_heart_disease_frame",
    "load_mapping",
    "parse_mapping",
    "read_fhir",
    "read_mapped_table",
    "read_omop",
    "read_table",
    "site_split",
]
