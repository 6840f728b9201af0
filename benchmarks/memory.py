"""Calibrate ``specseg.estimate_memory`` against the measured peak memory of ``segment``.

Every case runs ``segment`` in a fresh Python process on a piecewise-constant
scene (Voronoi cells plus noise, see ``_scenes.frame``) saved beforehand, so
that neither the scene generator nor another case inflates the peak. The
measured figure is the process's peak resident set size
(``ru_maxrss``) minus its resident size after importing specseg and loading the
image: the memory ``segment`` itself needs, which is what the estimate predicts.

    python benchmarks/memory.py                 # the table (a few minutes)
    python benchmarks/memory.py --quick         # 256² and 512² only
    python benchmarks/memory.py --output docs/memory-table.md --cache memory.json

``--cache`` keeps the measurements in a JSON file and reuses them, so that the
table can be redrawn after the model changes without measuring again.

The stage column says which stage set the peak (from the high-water mark
after each stage, reported through ``segment(progress=...)``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _scenes import frame  # noqa: E402

#: (label, shape, n_segments, mode)
CASES = [
    ("2-D 256², pixels", (256, 256), 8, "pixels"),
    ("2-D 512², pixels", (512, 512), 8, "pixels"),
    ("2-D 1024², pixels", (1024, 1024), 8, "pixels"),
    ("3-D 64³, pixels", (64, 64, 64), 8, "pixels"),
    ("3-D 128³, pixels", (128, 128, 128), 8, "pixels"),
    ("2-D 2048², pixels", (2048, 2048), 8, "pixels"),
    ("2-D 1024², regions", (1024, 1024), 8, "regions"),
    ("2-D 2048², regions", (2048, 2048), 8, "regions"),
    ("3-D 128³, regions", (128, 128, 128), 8, "regions"),
    ("2-D 4096², regions", (4096, 4096), 8, "regions"),
]
QUICK = ["2-D 256², pixels", "2-D 512², pixels", "2-D 1024², regions"]

_CHILD = r"""
import json, sys, time
import numpy as np


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024


import specseg
path, k, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
image = np.load(path)
# ru_maxrss would start at the parent's high-water mark (Linux keeps it across
# exec), so reset this process's own peak (VmHWM) to its current size instead
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
baseline = status("VmRSS")
marks = {}


def progress(stage, fraction):
    if fraction == 1.0:
        marks[stage] = status("VmHWM") - baseline


start = time.perf_counter()
labels = specseg.segment(image, k, mode=mode, random_state=0, progress=progress,
                         check_memory=False)
seconds = time.perf_counter() - start
print(json.dumps({"measured": status("VmHWM") - baseline, "marks": marks, "seconds": seconds,
                  "baseline": baseline}))
"""


def measure(shape, n_segments, mode, *, workdir):
    """Peak memory of ``segment`` on a scene of ``shape``, in a fresh process."""
    image, _ = frame(shape, random_state=0)
    path = Path(workdir) / "image.npy"
    np.save(path, image)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(n_segments), mode],
        capture_output=True, text=True, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["dtype"] = str(image.dtype)
    return result


def peak_stage(marks):
    """The stage during which the high-water mark rose the most."""
    previous, best, rise = 0, None, -1
    for stage, mark in marks.items():
        if mark - previous > rise:
            best, rise = stage, mark - previous
        previous = max(previous, mark)
    return best


def table(rows):
    lines = [
        "| case | pixels | k | estimate | measured | estimate / measured | peak stage "
        "| estimated peak stage | time |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']} | {row['pixels']:,} | {row['k']} | {row['estimate'] / 2**20:,.0f} MiB"
            f" | {row['measured'] / 2**20:,.0f} MiB | {row['ratio']:.2f} | {row['stage']}"
            f" | {row['estimated_stage']} | {row['seconds']:.1f} s |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--cache", type=Path, help="JSON file of measurements to reuse and extend")
    args = parser.parse_args(argv)
    import specseg

    wanted = args.case or (QUICK if args.quick else [c[0] for c in CASES])
    rows = []
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    with tempfile.TemporaryDirectory() as workdir:
        for case, shape, k, mode in CASES:
            if case not in wanted:
                continue
            key = f"{shape} k={k} {mode}"
            if key not in cache:
                cache[key] = measure(shape, k, mode, workdir=workdir)
                if args.cache:
                    args.cache.write_text(json.dumps(cache, indent=1))
            result = cache[key]
            estimate, stages = specseg.estimate_memory(
                shape, k, dtype=result["dtype"], mode=mode, return_stages=True
            )
            rows.append({
                "case": case, "pixels": int(np.prod(shape)), "k": k, "estimate": estimate,
                "measured": result["measured"], "ratio": estimate / result["measured"],
                "stage": peak_stage(result["marks"]),
                "estimated_stage": max(stages, key=stages.get),
                "seconds": result["seconds"],
            })
            print(f"{case}: {json.dumps(result)} estimate {stages}", file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    if args.output:
        header = (
            "# Memory: estimate against measurement\n\n"
            "`specseg.estimate_memory` against the peak memory of `specseg.segment` "
            "(solver \"auto\", `cluster_qr`, refinement on), measured by "
            "`benchmarks/memory.py` as the peak resident set size of a fresh process minus "
            "its size after importing specseg and loading the image. Scenes are 8 Voronoi "
            "cells plus Gaussian noise (`benchmarks/_scenes.py`). \"peak stage\" is the "
            "stage during which the measured peak rose the most; \"estimated peak stage\" "
            "the stage of the largest estimate.\n\n"
            f"Measured on {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
            f"NumPy {np.__version__}, specseg {specseg.__version__}.\n\n"
        )
        args.output.write_text(header + text + "\n")


if __name__ == "__main__":
    main()
