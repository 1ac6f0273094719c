"""`fedcare site approvals | approve | refuse` on a site folder with waiting requests (the
requests written as the site's policy mod writes them): the listing shows the manifest,
an approval and a refusal with its reason are recorded with who decided, a refusal without
a reason, a second decision and an unknown run get clear errors with their exit codes.
(On a live federation with a browser: tests/integration/test_deploy_approval.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fedcare.cli import app
from fedcare.config import StudyConfig
from fedcare.federation.site.approval import ApprovalBook, manifest


def test_approve_and_refuse_from_the_command_line(tmp_path: Path) -> None:
    site = tmp_path / "cleveland"
    site.mkdir()
    book = ApprovalBook(site)
    study = manifest(StudyConfig(data="x.csv", strategy="newton", rounds=4, min_cell=5))
    for run in ("101", "202"):
        assert book.request(run, "cleveland", study, auto=False) == "pending"
    runner = CliRunner()

    listed = runner.invoke(app, ["site", "approvals", str(site)])
    assert listed.exit_code == 0, listed.output
    assert "run 101" in listed.output and "run 202" in listed.output
    assert "train.newton" in listed.output and "patient rows: never" in listed.output

    no_reason = runner.invoke(app, ["site", "refuse", str(site), "202", "--reason", "  "])
    assert no_reason.exit_code != 0 and "needs a reason" in no_reason.output
    assert "Traceback" not in no_reason.output

    ok = runner.invoke(app, ["site", "approve", str(site), "101", "--by", "dr-wang"])
    assert ok.exit_code == 0 and "approved by dr-wang" in ok.output
    no = runner.invoke(app, ["site", "refuse", str(site), "202", "--by", "dr-li",
                             "--reason", "no ethics approval yet"])
    assert no.exit_code == 0 and "refused by dr-li: no ethics approval yet" in no.output
    assert book.state("101")["decided_by"] == "dr-wang"  # type: ignore[index]
    assert book.state("202")["reason"] == "no ethics approval yet"  # type: ignore[index]

    again = runner.invoke(app, ["site", "approve", str(site), "202"])
    assert again.exit_code != 0 and "already refused (by dr-li)" in again.output
    unknown = runner.invoke(app, ["site", "approve", str(site), "999"])
    assert unknown.exit_code != 0 and "no approval request for run 999" in unknown.output
    assert runner.invoke(app, ["site", "approvals", str(site)]).output.strip() == \
        "no study is waiting for approval"

    # every request and decision is in the site's audit log
    events = [json.loads(line).get("event") for line in
              (site / "audit.jsonl").read_text().splitlines()]
    assert events.count("requested") == 2 and "approved" in events and "refused" in events
