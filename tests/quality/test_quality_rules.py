"""The finding rules on synthetic sites: code spikes, labels, affine units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcare.data._units import QUANTITIES, convert
from fedcare.quality import check_table


def _sites(seed: int = 2, rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({
        "site": site, "score": np.round(rng.uniform(10, 40, rows), 1),
        "hba1c": np.round(rng.normal(6.5, 1.0, rows), 1), "y": rng.integers(0, 2, rows)})
        for site in ("a", "b", "c")], ignore_index=True)


def test_a_code_spike_inside_the_bulk_is_a_warning() -> None:
    frame = _sites()
    frame["score"] = np.round(np.random.default_rng(5).uniform(10, 60, len(frame)), 1)
    spike = frame.index[frame["site"] == "c"][:48]      # 40% of site c
    frame.loc[spike, "score"] = 99.0
    frame.loc[frame.index[frame["site"] == "a"][:2], "score"] = 99.0   # rare elsewhere
    report = check_table(frame, "site", "y")
    found = [(f.site, f.feature, f.kind, f.severity) for f in report.findings]
    assert found == [("c", "score", "missing_code", "warning")]
    # a and b do not name 99 (fewer than k): up to 4 each, 8 of 240 values
    assert report.findings[0].detail.startswith(
        "value 99 in 48 of 120 values (40.0%) but in at most 3.3% of the other sites' values")
    # the same value at every site is not a code
    frame.loc[frame.index[frame["site"] != "c"][:72], "score"] = 99.0
    assert check_table(frame, "site", "y").findings == ()


def test_a_code_far_from_every_value_is_a_sentinel() -> None:
    frame = _sites()                                     # score: 10-40
    frame.loc[frame.index[frame["site"] == "c"][:36], "score"] = 99.0
    [finding] = check_table(frame, "site", "y").findings
    assert (finding.site, finding.kind, finding.severity) == ("c", "missing_code", "blocking")
    assert finding.detail.startswith("value 99 in 36 of 120 values (30.0%), apart from every "
                                     "other value at the site")


def test_unlabelled_rows_block_and_one_class_site_warns() -> None:
    frame = _sites()
    frame["y"] = frame["y"].astype(float)
    frame.loc[frame.index[frame["site"] == "a"][:7], "y"] = np.nan
    frame.loc[frame["site"] == "b", "y"] = 1.0
    report = check_table(frame, "site", "y")
    found = {(f.site, f.kind): f for f in report.findings}
    assert found[("a", "missing")].severity == "blocking"
    assert found[("a", "missing")].detail.startswith("7 of 120 rows have no label")
    assert found[("b", "prevalence")].severity == "warning"
    assert "only one outcome class" in found[("b", "prevalence")].detail


def test_hba1c_in_ifcc_units_is_named() -> None:
    frame = _sites()
    c = frame["site"] == "c"
    # IFCC mmol/mol by the master equation (not "% x 10": convert refuses that guess)
    frame.loc[c, "hba1c"] = np.round(convert(frame.loc[c, "hba1c"], "%", "mmol/mol",
                                             quantity=QUANTITIES["hba1c"]), 0)
    report = check_table(frame, "site", "y")
    units = [f for f in report.findings if f.kind == "unit_mismatch"]
    assert [(f.site, f.feature) for f in units] == [("c", "hba1c")]
    assert "values look like mmol/mol, not %" in units[0].detail
    fixed = check_table(frame, "site", "y", site_units={"c": {"hba1c": "mmol/mol"}})
    assert fixed.findings == ()
