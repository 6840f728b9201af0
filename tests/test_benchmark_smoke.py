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


DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data.py"


@pytest.mark.skipif(not DATA.exists(), reason="benchmarks/ is not in this checkout")
def test_data_benchmark_million_graph_helpers(tmp_path):
    import importlib.util

    import numpy as np
    from sklearn.neighbors import NearestNeighbors, kneighbors_graph

    spec = importlib.util.spec_from_file_location("data_benchmark", DATA)
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    X = np.random.default_rng(0).standard_normal((300, 4))
    neighbours = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(X, return_distance=False)
    # the neighbour table gives the benchmark's graph exactly
    connectivity = kneighbors_graph(X, 5, include_self=True)
    expected = 0.5 * (connectivity + connectivity.T)
    assert abs(data.graph_from_neighbours(neighbours) - expected).max() == 0
    assert data.knn_recall(X, neighbours, n_probe=50) == 1.0
    # a table whose last neighbour is another point's self finds less
    damaged = neighbours.copy()
    damaged[:, -1] = neighbours[::-1, 0]
    assert 0.75 <= data.knn_recall(X, damaged, n_probe=50) < 1.0
    # the cache is read back for the same method and refused for another
    cache = tmp_path / "graph.npz"
    np.savez(cache, neighbours=neighbours.astype(np.int32), method="pynndescent", graph_s=1.5,
             recall=0.9)
    graph, info = data.million_graph(X, "pynndescent", str(cache))
    assert abs(graph - expected).max() == 0
    assert info == {"graph_s": 1.5, "graph_recall": 0.9, "graph_cached": True}
    with pytest.raises(ValueError, match="another graph"):
        data.million_graph(X, "cells", str(cache))
