"""The set-up of an image study: every site's usable slices and image checks.

In place of the table schema, quality and standardisation rounds: one message asks each
site for its usable slices, test slices and the findings of the checks it ran while
reading its files (counts per kind; :mod:`fedcare.imaging`). The same eligibility rules
as a table study's apply (:func:`.setup.eligible_sites`). Files a check left out are
reported as warnings with their count: they never reach training, and the study goes on
with the rest (a site left with no usable slice stops with a clear error at the site).
"""

from __future__ import annotations

import json
from typing import Any

from flwr.serverapp import Grid

from fedcare.config import StudyConfig

from ..protocol import MessageType, text
from .rounds import ask
from .setup import Setup, eligible_sites

__all__ = ["agree_images", "image_quality"]


def agree_images(grid: Grid, node_ids: list[int], config: StudyConfig) -> Setup:
    """Ask every site for its slices and findings; apply the eligibility rules."""
    replies = ask(grid, node_ids, MessageType.SCHEMA, {}, timeout=config.round_timeout,
                  min_sites=config.min_sites_per_round)
    schemas = {text(r.content, "schema") for r in replies}
    findings: list[dict[str, Any]] = []
    for r in replies:
        found = r.content.config_records["site"].get("findings")
        findings += json.loads(str(found)) if found else []
    sites, excluded, participants, names = eligible_sites(replies, config)
    return Setup(sorted(schemas)[0], sites, excluded, participants, names,
                 image_findings=findings)


def image_quality(setup: Setup, config: StudyConfig) -> dict[str, Any]:
    """The image checks as the study's quality section: ``findings`` (site, kind,
    severity, detail; files left out are warnings with their count), ``sites``."""
    findings = []
    for f in sorted(setup.image_findings, key=lambda f: (str(f["site"]), str(f["kind"]))):
        left_out = bool(f["left_out"])
        severity = "warning" if left_out or f["kind"] in ("spacing-spread",
                                                         "missing-slices") else "info"
        detail = (f"{f['count']} file(s) left out: {f['detail']}" if left_out
                  else f"{f['count']} file(s): {f['detail']}")
        findings.append({"site": f["site"], "feature": None, "kind": f["kind"],
                         "severity": severity, "detail": detail})
    summary = {s: sum(1 for f in findings if f["severity"] == s)
               for s in ("blocking", "warning", "info")}
    return {"findings": findings, "summary": summary, "check": "images",
            "sites": {name: {"n_rows": info.n_rows} for name, info in setup.sites.items()},
            "features": {}, "target": config.target, "min_cell": config.min_cell,
            "override": []}
