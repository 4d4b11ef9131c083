"""Static checks that catch real bugs (undefined names, unused imports, syntax errors)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_pyflakes_rules_pass():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F,E9", "gross_profit_assets", "gross_profit_assets_tests"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
