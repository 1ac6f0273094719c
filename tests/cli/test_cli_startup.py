"""`fedcare --help` answers fast: the CLI imports no heavy package until a command runs.

(Timings belong in benchmarks; this checks the cause: which modules get imported.)
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("flwr", "numpy", "pandas", "sklearn", "scipy", "torch", "fastapi", "matplotlib",
         "fedcare.federation", "fedcare.study", "fedcare.analytics")


def test_importing_the_cli_loads_no_heavy_package() -> None:
    code = ("import sys, fedcare.cli; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"imported at CLI start-up: {out}"


def test_help_texts_name_only_commands_that_exist() -> None:
    import re

    import typer.main

    from fedcare.cli import app

    group = typer.main.get_command(app)
    commands: set[str] = set()

    def walk(cmd: object, prefix: str) -> None:
        commands.add(prefix.strip())
        for name, sub in (getattr(cmd, "commands", {}) or {}).items():
            walk(sub, f"{prefix} {name}")

    walk(group, "")
    texts: list[str] = []

    def collect(cmd: object) -> None:
        texts.append(str(getattr(cmd, "help", "") or ""))
        texts.extend(str(getattr(p, "help", "") or "") for p in getattr(cmd, "params", []))
        for sub in (getattr(cmd, "commands", {}) or {}).values():
            collect(sub)

    collect(group)
    named = set()
    for text in texts:
        for m in re.finditer(r"fedcare ((?:[a-z]+ ?){1,2})", text):
            words = m.group(1).split()
            named.add(" ".join(words[:2]) if " ".join(words[:2]) in commands else words[0])
    missing = sorted(n for n in named if n not in commands)
    assert not missing, f"help texts name commands that do not exist: {missing}"
