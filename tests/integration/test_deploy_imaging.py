"""An image study on a real Flower deployment on loopback: a SuperLink and three
SuperNodes over TLS with SuperNode authentication, each site reading its own labels
table and DICOM folder (synthetic slices) from its node config. The model must equal the
in-process run's; no reply may carry pixels. ~1-2 minutes.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fedcare.config import StudyConfig
from fedcare.federation import run_inprocess
from fedcare.federation.engines.deploy import (
    enroll_site,
    init_coordinator,
    init_site,
    start_coordinator,
    start_site,
    stop_process,
    submit,
)
from fedcare.imaging import ScannerSite, write_synthetic_study

pytestmark = pytest.mark.slow

SITES = (
    ScannerSite("site-a", 36, 0.5, 25.0, 0.0, 0.0, (5.0, 5.0), 64),
    ScannerSite("site-b", 30, 0.5, 40.0, 0.6, 20.0, (5.5, 5.5), 60, intercept=0.0),
    ScannerSite("site-c", 30, 0.5, 50.0, 0.0, -10.0, (4.8, 4.8), 72),
)
NAMES = [s.name for s in SITES]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Path, dict[str, Path]]]:
    root = Path(tempfile.mkdtemp(prefix="fci-", dir="/tmp"))
    port = _free_port()
    procs = []
    own: dict[str, Path] = {}
    try:
        for site in SITES:  # each hospital's own export, in its own folder
            own[site.name] = root / f"{site.name}-export"
            write_synthetic_study(own[site.name], seed=7, sites=(site,))
        init_coordinator(root / "coord", port=port)
        procs.append(start_coordinator(root / "coord"))
        for name in NAMES:
            init_site(root / name, name=name)
            enroll_site(root / "coord", root / name / "node.pub", name=name)
            procs.append(start_site(
                root / name, coordinator_address=f"127.0.0.1:{port}",
                ca_cert=root / "coord" / "ca.pem", clientappio_port=_free_port(),
                data_node_config={"site": name, "data": str(own[name] / "labels.csv"),
                                  "images": str(own[name] / "images")}))
        yield root, own
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


def test_the_deployed_image_study_equals_the_in_process_one(
        live: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    root, own = live
    settings = dict(model="cnn", standardise="none", strategy="fedavg", rounds=2,
                    local_steps=3, lr=0.003, batch_size=16, target="label", test_size=0.4,
                    image_size=32)
    # the coordinator never reads images: the sites' node configs name their own
    deployed = submit(StudyConfig(data="labels.csv", images="(each site's own)", **settings),
                      root / "coord", n_sites=len(SITES), timeout=600)
    # the same slices in one folder for the in-process reference
    together = tmp_path / "together"
    rows = ["file,site,label"]
    for name, folder in own.items():
        shutil.copytree(folder / "images" / name, together / "images" / name)
        rows += (folder / "labels.csv").read_text().splitlines()[1:]
    (together / "labels.csv").write_text("\n".join(rows) + "\n")
    reference, _ = run_inprocess(StudyConfig(data=str(together / "labels.csv"),
                                             images=str(together / "images"), **settings),
                                 NAMES)
    for got, want in zip(deployed["arrays"], reference["arrays"], strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0, atol=1e-5)
    assert sorted(deployed["per_site"]["federated"]) == NAMES
    for name in NAMES:
        assert deployed["per_site"]["federated"][name]["auc"] == pytest.approx(
            reference["per_site"]["federated"][name]["auc"], abs=1e-6)
