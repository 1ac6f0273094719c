"""A run's set-up: every site's columns merged into one schema, and who may take part."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from flwr.app import Message
from flwr.serverapp import Grid

from fedcare.config import StudyConfig
from fedcare.data._cohort import FeatureKind
from fedcare.data._study import schema_from_json, schema_to_json
from fedcare.exceptions import FederationError

from ..protocol import (
    QUALITY_RECORD,
    SUMS_RECORD,
    ConfigKey,
    MessageType,
    ineligible,
    metrics_of,
    site_of,
    text,
)
from ..result import SiteInfo
from .rounds import ask, part_view

__all__ = ["Setup", "agree_schema", "eligible_sites", "merge_schemas"]


def merge_schemas(texts: Sequence[str], drop: Collection[str] = ()) -> str:
    """One schema from the sites': same columns; the widest kind; the union of levels.

    ``drop``: columns no site may use as a feature (those any site found to identify
    people); they are taken out of every site's schema first.
    """
    schemas = [schema_from_json(t) for t in texts]
    schemas = [replace(s, features=tuple(f for f in s.features if f.name not in drop))
               for s in schemas]
    first = schemas[0]
    names = [f.name for f in first.features]
    for s in schemas[1:]:
        if [f.name for f in s.features] != names:
            only = sorted(set(names) ^ {f.name for f in s.features})
            raise FederationError("sites disagree on the feature columns"
                                  + (f" ({only} not at every site)" if only else ""))
    features = []
    for i, f in enumerate(first.features):
        kinds = {s.features[i].kind for s in schemas}
        kind: FeatureKind = "categorical" if "categorical" in kinds else (
            "numeric" if "numeric" in kinds else "binary")
        features.append(replace(f, kind=kind, categories=()))
    merged = replace(first, features=tuple(features))
    levels = [{f.name: list(f.categories) for f in s.features} for s in schemas]
    return schema_to_json(merged.merge_categories(levels))


@dataclass
class Setup:
    """What the schema round established."""

    schema_json: str
    sites: dict[str, SiteInfo]
    excluded: dict[str, str]
    participants: list[int]
    names: dict[int, str]            # node id -> site, every site that answered
    identifiers: dict[str, str] = field(default_factory=dict)  # column -> why refused
    dropped_features: dict[str, str] = field(default_factory=dict)  # missing = drop-feature
    image_findings: list[dict[str, object]] = field(default_factory=list)  # image study
    #: The participants' quality replies (as a ``query.quality`` reply holds them) sent
    #: with their schemas, when the agreed schema is every participant's own; ``None``:
    #: the coordinator asks in a quality message (:func:`agree_schema`'s ``also_quality``).
    quality_replies: list[Message] | None = None

    @property
    def participant_names(self) -> dict[int, str]:
        """Node id -> site of the sites taking part."""
        return {n: self.names[n] for n in self.participants}


def agree_schema(grid: Grid, node_ids: list[int], config: StudyConfig,
                 also_quality: str | None = None) -> Setup:
    """Ask every site for its columns; merge them; apply the eligibility rules.

    A site is excluded (and reported, never merged with another) when it has fewer than
    ``min_cell`` usable rows (its count is suppressed), fewer than ``min_site_rows``, or
    fewer than ``max(2, min_cell)`` test rows.

    ``also_quality`` (``""`` or a sums request, as :attr:`ConfigKey.ALSO_SUM`): each site
    that the eligibility rules would keep also sends its data-quality aggregates (and
    those sums) under its own schema; when the agreed schema is every participant's own,
    they are the quality round's answers (``Setup.quality_replies``): one message round
    fewer. Otherwise they are dropped unread and the quality round asks again.
    """
    cfg = {} if also_quality is None else {ConfigKey.ALSO_QUALITY: also_quality}
    replies = ask(grid, node_ids, MessageType.SCHEMA, cfg, timeout=config.round_timeout,
                  min_sites=config.min_sites_per_round)
    identifiers: dict[str, str] = {}
    for r in replies:
        found = r.content.config_records["site"].get("identifiers")
        for column, reason in json.loads(str(found)).items() if found else ():
            identifiers.setdefault(str(column), f"{reason} at site '{site_of(r)}'")
    schema_json = merge_schemas([text(r.content, "schema") for r in replies],
                                drop=identifiers)
    sites, excluded, participants, names = eligible_sites(replies, config)
    setup = Setup(schema_json, sites, excluded, participants, names, identifiers)
    if also_quality is not None:
        taking_part = [r for r in replies if r.metadata.src_node_id in participants]
        if all(QUALITY_RECORD in r.content.metric_records
               and text(r.content, "schema") == schema_json for r in taking_part):
            # each as a ``query.quality`` reply holds it
            setup.quality_replies = [part_view(r, QUALITY_RECORD, SUMS_RECORD)
                                     for r in taking_part]
    return setup




def eligible_sites(replies: list[Message], config: StudyConfig
                   ) -> tuple[dict[str, SiteInfo], dict[str, str], list[int], dict[int, str]]:
    """The eligibility rules over the schema replies (:func:`agree_schema`): sizes per
    site, the excluded sites and why, the participants' node ids, node id -> site."""
    sites: dict[str, SiteInfo] = {}
    excluded: dict[str, str] = {}
    participants: list[int] = []
    names = {r.metadata.src_node_id: site_of(r) for r in replies}
    for r in replies:
        m, name = metrics_of(r), site_of(r)
        rows, n_test = m.get("n-rows"), m.get("n-test")
        reason = ineligible(config, None if rows is None else int(rows),
                            None if n_test is None else int(n_test))
        if reason is not None:
            excluded[name] = reason
        else:
            participants.append(r.metadata.src_node_id)
        dropped = m.get("n-dropped")
        described = r.content.config_records["site"].get("data")
        sites[name] = SiteInfo(n_rows=None if rows is None else int(rows),
                               n_dropped_missing=None if dropped is None else int(dropped),
                               data=None if described is None else str(described))
    if len(participants) < 2:
        raise FederationError(
            f"a federated study needs at least 2 eligible sites, got {len(participants)} "
            f"(excluded: {excluded})")
    return sites, excluded, participants, names
