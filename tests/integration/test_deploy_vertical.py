"""A vertical study on a real Flower deployment on loopback: a SuperLink and two
SuperNodes (a hospital and an insurer, synthetic tables) over TLS with SuperNode
authentication. The parties read only their own files (their node config); the model
must equal the in-process run's. ~3 minutes (each message round ~10 s of Flower polling
and ClientApp start-up).
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.federation.engines.deploy import (
    enroll_site,
    init_coordinator,
    init_site,
    start_coordinator,
    start_site,
    stop_process,
)
from fedcare.study._vertical import (
    Party,
    predict_vertical,
    run_vertical_study,
    submit_vertical_study,
)
from fedcare.vertical.examples import synthetic_party_nodes

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Path, dict[str, Path]]]:
    root = Path(tempfile.mkdtemp(prefix="fcv-", dir="/tmp"))
    configs = synthetic_party_nodes(root)
    files = {name: Path(config["data"]) for name, config in configs.items()}
    for name, config in configs.items():  # as `fedcare site start` sets them up
        config["model-dir"] = str(root / "models" / name)
        config["predictions"] = str(root / name / "vertical-predictions") + "/"
        config["predict-data"] = config["data"]  # new people: here the same file
        config["spool"] = str(root / name / "vertical-spool")
        config["shared"] = str(root / name / "vertical-psi") + "/"
    port = _free_port()
    procs = []
    try:
        init_coordinator(root / "coord", port=port)
        procs.append(start_coordinator(root / "coord"))
        for name, config in configs.items():
            init_site(root / name, name=name)
            enroll_site(root / "coord", root / name / "node.pub", name=name)
            procs.append(start_site(root / name, coordinator_address=f"127.0.0.1:{port}",
                                    ca_cert=root / "coord" / "ca.pem",
                                    data_node_config=config, clientappio_port=_free_port()))
        yield root, files
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


def test_the_deployed_vertical_study_equals_the_in_process_one(
        live: tuple[Path, dict[str, Path]]) -> None:
    root, files = live
    settings = {"epochs": 2, "min_overlap": 10, "other_alone": False}
    deployed = submit_vertical_study(root / "coord", audit_dir=str(root / "audit"),
                                     timeout=900, **settings)
    local = run_vertical_study([Party("hospital", files["hospital"], "patient_id",
                                      label="event"),
                                Party("insurer", files["insurer"], "member_id")],
                               references=False, **settings)
    assert deployed["psi"]["overlap"] == local["psi"]["overlap"] > 0
    assert deployed["psi"]["sizes"] == local["psi"]["sizes"]
    for party in ("hospital", "insurer"):
        got = deployed["results"]["joint"]["weights"][party]
        want = local["results"]["joint"]["weights"][party]
        assert got.keys() == want.keys()
        assert np.allclose(list(got.values()), list(want.values()), atol=1e-5)
    assert abs(deployed["results"]["joint"]["auc"] - local["results"]["joint"]["auc"]) < 1e-3
    # both parties kept an audit log of every message they received and sent
    for party in ("hospital", "insurer"):
        assert (root / "audit" / f"site-{party}.jsonl").stat().st_size > 0

    # live prediction with the parts each site saved: the same probabilities as the
    # embedded prediction from those parts, written at the label party only
    model_id = deployed["model_id"]
    assert all((root / "models" / p / f"{model_id}.json").is_file()
               for p in ("hospital", "insurer"))
    live_run = submit_vertical_study(root / "coord", predict_model=model_id, min_overlap=1,
                                     timeout=900)
    p = live_run["prediction"]
    assert p["label_party"] == "hospital" and p["predicted"] == deployed["psi"]["overlap"]
    written = root / "hospital" / "vertical-predictions" / p["file"]
    assert written.is_file() and not (root / "insurer" / "vertical-predictions").exists()
    embedded = predict_vertical([Party("hospital", files["hospital"], "patient_id"),
                                 Party("insurer", files["insurer"], "member_id")],
                                model_id, root / "models", root / "embedded.csv")
    assert embedded["prediction"]["predicted"] == p["predicted"]
    got, want = (pd.read_csv(f).sort_values("id").reset_index(drop=True)
                 for f in (written, root / "embedded.csv"))
    assert list(got["id"]) == list(want["id"])
    assert np.allclose(got["probability"], want["probability"], atol=1e-6)
    assert "probability" not in json.dumps(live_run)  # counts and a file name only


def test_a_deployed_overlap_only_psi_streams_in_chunks_and_leaves_no_spool(
        live: tuple[Path, dict[str, Path]]) -> None:
    root, files = live
    deployed = submit_vertical_study(root / "coord", train=False, reveal=False,
                                     min_overlap=1, psi_chunk=300, timeout=900)
    local = run_vertical_study([Party("hospital", files["hospital"], "patient_id"),
                                Party("insurer", files["insurer"], "member_id")],
                               train=False, reveal=False, min_overlap=1)
    assert deployed["psi"]["overlap"] == local["psi"]["overlap"] > 0
    assert deployed["psi"]["sizes"] == local["psi"]["sizes"]
    assert max(deployed["psi"]["sizes"].values()) > 600  # so more than two chunks
    assert deployed["psi"]["revealed_to"] is None
    assert not (root / "hospital" / "vertical-psi").exists()  # nobody learnt who
    # revealed: the comparing site (the hospital: it holds the label) writes its
    # shared people into its own vertical-psi/; the insurer writes nothing
    revealed = submit_vertical_study(root / "coord", train=False, reveal=True,
                                     min_overlap=1, psi_chunk=300, timeout=900)
    written = root / "hospital" / "vertical-psi" / revealed["psi"]["shared_file"]
    assert len(pd.read_csv(written)) == revealed["psi"]["overlap"] == \
        local["psi"]["overlap"]
    assert not (root / "insurer" / "vertical-psi").exists()
    for party in ("hospital", "insurer"):  # each site spooled, and its spool is empty again
        assert (root / party / "vertical-spool").is_dir()
        assert not list((root / party / "vertical-spool").glob("fedcare-psi-*"))


def test_deployed_secureboost_equals_the_in_process_trees(
        live: tuple[Path, dict[str, Path]]) -> None:
    """SecureBoost on the same deployment: every message a new ClientApp process, the
    parties' progress kept in Flower's node state between them."""
    root, files = live
    trees = {"n_trees": 2, "max_depth": 2, "max_bins": 8}
    settings = {"min_overlap": 10, "other_alone": False, "model": "secureboost",
                "trees": trees}
    deployed = submit_vertical_study(root / "coord", audit_dir=str(root / "audit-sb"),
                                     timeout=900, **settings)
    local = run_vertical_study([Party("hospital", files["hospital"], "patient_id",
                                      label="event"),
                                Party("insurer", files["insurer"], "member_id")],
                               references=False, **settings)
    got, want = deployed["results"]["joint"], local["results"]["joint"]
    for key in ("auc", "nodes", "passive_splits", "splits", "n_train", "n_test"):
        assert got[key] == want[key], key
    assert abs(got["brier"] - want["brier"]) < 1e-12  # the same trees; summation order
    assert got["passive_splits"] > 0
    for party in ("hospital", "insurer"):
        assert (root / "audit-sb" / f"site-{party}.jsonl").stat().st_size > 0
