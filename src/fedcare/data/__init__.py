"""Data: connectors to a validated :class:`Cohort`, schemas, splits and data set loaders.

Every name is imported when first asked for (PEP 562): a site's ClientApp process (Flower
starts one per message) that needs one light function does not pay for pandas or scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedcare._lazy import lazy_exports

if TYPE_CHECKING:
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

_LAZY = {
    'Cohort': 'fedcare.data._cohort',
    'Feature': 'fedcare.data._cohort',
    'IngestReport': 'fedcare.data._ingest',
    'Ingested': 'fedcare.data._ingest',
    'Mapping': 'fedcare.data._mapping',
    'Schema': 'fedcare.data._cohort',
    'UnitError': 'fedcare.data._units',
    'cohort_from_frame': 'fedcare.data._table',
    'encode': 'fedcare.data._cohort',
    'heart_disease_table': 'fedcare.data._heart',
    'identifier_columns': 'fedcare.data._identifiers',
    'infer_schema': 'fedcare.data._table',
    'load_heart_disease': 'fedcare.data._heart',
    'load_heart_disease_frame': 'fedcare.data._heart',
    'load_mapping': 'fedcare.data._mapping',
    'parse_mapping': 'fedcare.data._mapping',
    'read_fhir': 'fedcare.data._fhir',
    'read_mapped_table': 'fedcare.data._ingest',
    'read_omop': 'fedcare.data._omop',
    'read_table': 'fedcare.data._table',
    'site_split': 'fedcare.data._split',
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
