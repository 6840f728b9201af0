"""A small smoke run of the side-by-side benchmark (the benchmark itself is the measure)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

COMPARE = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"

pytest.importorskip("sklearn")


@pytest.mark.skipif(not COMPARE.exists(), reason="benchmarks/ is not in this checkout")
def test_compare_prints_one_row_per_case_with_a_ratio():
    out = subprocess.run(
        [sys.executable, str(COMPARE), "--case", "seed 100² (masked, k=4)", "--repeat", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    row = next(line for line in out.splitlines() if line.startswith("| seed 100²"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "2,678"
    assert re.fullmatch(r"\d+\.\dx", cells[4]), cells[4]  # a measured ratio
    ari = float(re.search(r"ARI (\d\.\d+)", cells[6]).group(1))
    assert ari >= 0.95  # the seed example is segmented, not just timed
    assert "Each side ran 2 times" in out
