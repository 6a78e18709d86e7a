"""Run the scale tests once on the simulated world and print what it cost and what it measured.

    python bench/run_figures.py [--clusters 50] [-n 10] [extra pytest args...]

Prints wall time, CPU seconds of everything the run started (pytest controller,
xdist workers, the simulated world, the stand-in CLIs), the largest resident
set of any of those processes, and the mean/max of each phase the harness
recorded in summary.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("batch_wait_s", "create_cli_s", "control_plane_s", "workers_s", "install_s", "ready_s", "destroy_s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("-n", dest="workers", default="10")
    args, extra = parser.parse_known_args()
    path = Path(tempfile.mkdtemp(prefix="hcp-bench-"))
    cmd = [sys.executable, "-m", "pytest", "tests_scale", "-q", "-p", "no:cacheprovider", "--cluster-count",
           str(args.clusters), "-n", args.workers, "--path", str(path), *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads((path / "summary.json").read_text())
    print(f"command      : {' '.join(cmd[1:])}")
    print(f"exit status  : {proc.returncode}   ({proc.stdout.strip().splitlines()[-1]})")
    print(f"machine      : {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"wall time    : {wall:.1f} s")
    print(f"CPU time     : {usage.ru_utime:.1f} s user + {usage.ru_stime:.1f} s system "
          f"= {(usage.ru_utime + usage.ru_stime) / args.clusters:.2f} CPU s per cluster (all processes)")
    print(f"largest RSS  : {usage.ru_maxrss / 1024:.0f} MB (any single process of the run)")
    print(f"clusters     : {summary['counts']}")
    print("phase (s)         mean     max")
    for phase in PHASES:
        values = [c["timings"][phase] for c in summary["clusters"] if c["timings"].get(phase) is not None]
        if values:
            print(f"  {phase:<14} {statistics.mean(values):7.2f} {max(values):7.2f}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
