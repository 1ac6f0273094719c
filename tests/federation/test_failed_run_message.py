"""A failed Flower run (simulation engine) is reported in one readable line, the
ServerApp's own message once, not a repeated dump of its log."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from fedcare.federation.engines import flwr_cli
from fedcare.federation.engines.deploy.submit import _SERVERAPP_FAILED

REASON = ("query.schema: all 4 sites refuse this study: its policy requires record-level "
          "DP (max_epsilon = 3), which strategy 'newton' cannot use")


def _fake_log(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    def run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 0, stdout=text, stderr="")

    monkeypatch.setattr(flwr_cli.subprocess, "run", run)


def test_the_serverapps_message_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_log(monkeypatch, "\n".join([f"ERROR : ServerApp raised FederationError('{REASON}')"]
                                     * 6))
    error = flwr_cli.failed_run("7", "local", {}, tmp_path, "finished:failed",
                                f"{_SERVERAPP_FAILED}{REASON}")
    text = str(error)
    assert text.count("refuse this study") == 1 and "\n" not in text
    assert "FederationError(" not in text
    assert (tmp_path / "run.log").is_file()


def test_other_failures_quote_the_last_error_line_once(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    _fake_log(monkeypatch, "ok\nRuntimeError: the SuperLink went away\n" * 5)
    text = str(flwr_cli.failed_run("8", "local", {}, tmp_path, "finished:failed",
                                   "SuperLink lost"))
    assert text.count("the SuperLink went away") == 1 and "\n" not in text
