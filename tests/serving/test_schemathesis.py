"""Schemathesis over the served OpenAPI document: generated requests never get a 5xx.

Every operation is fuzzed with an admin key (allowed everywhere) against a real SQLite
registry holding the heart model; checks: no server error, status codes and response
bodies conform to the document. The number of cases is asserted to be non-trivial.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from fedcare.registry import Registry
from fedcare.serving import create_app

MAX_EXAMPLES = 60

# a DICOM upload is raw bytes, as application/octet-stream (the image route)
schemathesis.serializer.alias("application/dicom", "application/octet-stream")


def test_api_never_errors(tmp_path: Path, run_dir: Path) -> None:
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.register(run_dir)
    _, key = reg.create_api_key("schemathesis", "admin")
    app = create_app(reg, rate_limit="100000/second")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    cases: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={**(case.headers or {}), "X-API-Key": key})
            cases[case.operation.label] = cases.get(case.operation.label, 0) + 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=[
                not_a_server_error, status_code_conformance, response_schema_conformance])

        run()
    reg.close()
    print(f"schemathesis: {sum(cases.values())} cases over {len(cases)} operations; "
          f"status codes {dict(sorted(statuses.items()))}")
    assert len(cases) == 12, sorted(cases)
    assert sum(cases.values()) >= 12 * 20
    assert not any(code >= 500 for code in statuses)
    assert statuses.get(200, 0) > 0 and statuses.get(422, 0) > 0
