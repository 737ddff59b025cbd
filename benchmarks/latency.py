"""Latency and speed benchmark of codec-rt: streaming per-chunk latency, real-time factor and throughput on 1
and 2 threads, onnxruntime vs torch eager on the same model, opusenc + opusdec on the same audio, and the
command line's cold start, with the issue's three targets printed as ratios measured in one run.

    python -m benchmarks.latency --seconds 600 --json results/latency.json     # the 10-minute run
    codec-rt bench --seconds 600 --json results/latency.json                   # the same, installed

The harness is `codec_rt.bench` (so that `codec-rt bench` works from an installed package); this module is
its command line from a checkout. The JSON schema ("codec-rt-bench/1") is documented there:
"""

from __future__ import annotations

import sys

from codec_rt import bench
from codec_rt.cli import app

__doc__ = (__doc__ or "") + (bench.__doc__ or "")

SCHEMA = bench.SCHEMA
run = bench.run
report = bench.report


def main(argv: list[str] | None = None) -> None:
    """`codec-rt bench` with these arguments."""
    from codec_rt.cli import main as cli_main

    sys.argv = ["codec-rt", "bench", *(sys.argv[1:] if argv is None else argv)]
    cli_main()


__all__ = ["SCHEMA", "app", "main", "report", "run"]

if __name__ == "__main__":
    main()
