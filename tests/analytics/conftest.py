"""Two real multi-centre survival tables from SurvSet, split into sites by centre.

- ``Pbc3``: PBC3 trial (CyA vs placebo in primary biliary cirrhosis), 349 patients,
  6 hospitals (``fac_unit``); ``time`` (days), ``event``; covariates ``num_age``,
  ``num_bili``, ``num_alb`` (6 missing -> complete cases), ``fac_sex``, ``fac_tment``.
- ``d.oropha.rec``: oropharynx carcinoma trial, 192 patients, 6 institutions
  (``fac_inst``); ``time`` (years), ``event``; covariates ``num_age``, ``fac_sex``,
  ``fac_treatm``, ``fac_tstage`` (categorical, levels 1-4).

And one real registry with many small centres (``dialysis``, not in ``table``):

- ``Dialysis``: Brazilian dialysis registry, 6805 patients, 67 centres
  (``fac_center``, 4 to 241 patients each); ``time`` (whole months, max 44), ``event``
  (death, 24 %); ``fac_disease`` (5 primary diseases).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest


@dataclass(frozen=True)
class Table:
    name: str
    df: pd.DataFrame
    site: str
    group: str
    group_levels: list[Any]
    covariates: list[str]
    levels: dict[str, list[Any]] = field(default_factory=dict)

    def sites(self) -> list[pd.DataFrame]:
        return [d for _, d in self.df.groupby(self.site, observed=True)]


@pytest.fixture(scope="session")
def pbc3(survset: Callable[[str], pd.DataFrame]) -> Table:
    df = survset("Pbc3")
    return Table("Pbc3", df, "fac_unit", "fac_tment", [0, 1],
                 ["num_age", "num_bili", "num_alb", "fac_sex", "fac_tment"],
                 {"fac_sex": [0, 1], "fac_tment": [0, 1]})


@pytest.fixture(scope="session")
def oropha(survset: Callable[[str], pd.DataFrame]) -> Table:
    df = survset("d.oropha.rec")
    for col in ("fac_inst", "fac_sex", "fac_treatm", "fac_tstage"):
        df[col] = df[col].astype(int)
    return Table("d.oropha.rec", df, "fac_inst", "fac_treatm", [1, 2],
                 ["num_age", "fac_sex", "fac_treatm", "fac_tstage"],
                 {"fac_sex": [1, 2], "fac_treatm": [1, 2], "fac_tstage": [1, 2, 3, 4]})


@pytest.fixture(scope="session")
def dialysis(survset: Callable[[str], pd.DataFrame]) -> Table:
    df = survset("Dialysis")
    return Table("Dialysis", df, "fac_center", "fac_disease",
                 sorted(df["fac_disease"].unique()), [])


@pytest.fixture(params=["pbc3", "oropha"])
def table(request: pytest.FixtureRequest) -> Table:
    return request.getfixturevalue(request.param)
