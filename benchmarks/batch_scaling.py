"""How `codec-rt batch encode` scales: files and audio hours per second with 1 and 2 workers, on the local
engine and on Ray, and Ray's overhead per file.

    python -m benchmarks.batch_scaling --clips 200 --seconds 2 --repeats 3 --json docs/batch_scaling.json

Each run encodes the same corpus of short clips (`batch_corpus.py`: mixed rates, channels and formats) into
a fresh folder, through the library's batch (`codec_rt.batch.run`), so what is timed is what the CLI does.
Two rates per run: `total` over the whole run (starting the workers and loading the model included), and
`steady` between the first and the last file done (the pool at work). Ray runs on a local cluster started
once by this harness (`ray.init(num_cpus=2)`; its start is timed apart), so its runs time the actors'
start, not the cluster's. `driver_cpu_s`: the CPU time of the process that hands out the files (listing,
checks of existing outputs, the results file); `workers_cpu_s` (local engine): the CPU time of its worker
processes, which does not depend on how many there are when the design adds no contention of its own, so
that the rate grows with the free cores. Ray's overhead per file: its steady seconds per file less
the local engine's, at the same worker count. The machine's load average is recorded with every run: a
shared machine's other work takes cores from the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from codec_rt import batch
from codec_rt.worker import Result

from .batch_corpus import make_corpus


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(src: Path, dst: Path, engine: str, workers: int) -> dict[str, Any]:
    """One batch encode into a fresh `dst` -> its figures."""
    shutil.rmtree(dst, ignore_errors=True)
    done: list[float] = []
    audio: list[float] = []

    def on_result(r: Result) -> None:
        done.append(time.perf_counter())
        audio.append(r.seconds)

    load0 = os.getloadavg()[0]
    t0, cpu0, children0 = time.perf_counter(), time.process_time(), _children_cpu()
    summary = batch.run(batch.Options(src, dst, engine=engine, workers=workers), on_result)
    wall, driver_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert summary.counts["error"] == 0 and summary.counts["ok"] == len(done), summary.counts
    n, hours = len(done), sum(audio) / 3600
    steady = done[-1] - done[0]
    workers_cpu = _children_cpu() - children0 if engine == "local" else None
    return {
        "engine": engine, "workers": workers, "files": n, "audio_hours": hours, "wall_s": wall,
        "files_per_s": n / wall, "audio_hours_per_s": hours / wall,
        "steady_files_per_s": (n - 1) / steady if steady > 0 else None,
        "steady_audio_hours_per_s": (hours - audio[0] / 3600) / steady if steady > 0 else None,
        "driver_cpu_s": driver_cpu, "load_avg_1min_before": load0,
        # the local pool's processes have ended: their CPU time (start and model load included)
        "workers_cpu_s": workers_cpu,
        # the cores the batch got: its processes' CPU seconds per wall second (others' work takes the rest)
        "cores_used": None if workers_cpu is None else (workers_cpu + driver_cpu) / wall,
        "workers_cpu_ms_per_file": None if workers_cpu is None else 1000 * workers_cpu / n,
        "load_avg_1min_after": os.getloadavg()[0],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A configuration's runs -> the run of median steady rate, with the best and every run's rates beside it
    (on a shared machine the best run is the one least slowed by other work)."""
    ordered = sorted(runs, key=lambda r: r["steady_files_per_s"] or 0.0)
    row = dict(ordered[len(ordered) // 2])
    row["best_files_per_s"] = max(r["files_per_s"] for r in runs)
    row["best_steady_files_per_s"] = ordered[-1]["steady_files_per_s"]
    row["all_files_per_s"] = [round(r["files_per_s"], 2) for r in runs]
    row["all_steady_files_per_s"] = [round(r["steady_files_per_s"] or 0.0, 2) for r in runs]
    row["all_load_avg_1min"] = [round(r["load_avg_1min_before"], 2) for r in runs]
    row["all_cores_used"] = [None if r["cores_used"] is None else round(r["cores_used"], 2) for r in runs]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--seconds", type=float, default=2.0, help="mean clip length")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--engines", default="local,ray")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="batch_scaling"))
    try:
        src = tmp / "src"
        make_corpus(src, a.clips, bad=0, seconds=a.seconds)
        out: dict[str, Any] = {"clips": a.clips, "mean_clip_seconds": a.seconds, "repeats": a.repeats,
                               "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
                               "load_avg_1min_at_start": os.getloadavg()[0]}
        if "ray" in a.engines.split(","):
            import logging

            import ray

            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                     _node_ip_address="127.0.0.1")
            out["ray_cluster_start_s"] = time.perf_counter() - t0
        engines = a.engines.split(",")
        configs = [(engine, workers) for engine in engines for workers in (1, 2)]
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {c: [] for c in configs}
        for i in range(a.repeats):  # interleaved, so that every configuration meets the same other work
            for engine, workers in configs:
                r = run_once(src, tmp / "dst", engine, workers)
                got = f", {r['cores_used']:.2f} cores" if r["cores_used"] is not None else ""
                print(f"{engine} x{workers} run {i + 1}: {r['files_per_s']:.1f} files/s total, "
                      f"{r['steady_files_per_s']:.1f} steady (load {r['load_avg_1min_before']:.2f}{got})", flush=True)
                runs[engine, workers].append(r)
        out["runs"] = [summarize(runs[c]) for c in configs]
        rows = {(r["engine"], r["workers"]): r for r in out["runs"]}
        for engine in engines:
            one, two = rows[engine, 1], rows[engine, 2]
            out[f"{engine}_speedup_total"] = two["files_per_s"] / one["files_per_s"]
            out[f"{engine}_speedup_steady"] = two["steady_files_per_s"] / one["steady_files_per_s"]
            out[f"{engine}_speedup_best_total"] = two["best_files_per_s"] / one["best_files_per_s"]
        if "ray" in engines and "local" in engines:
            out["ray_overhead_ms_per_file"] = {
                str(w): 1000 * (1 / rows["ray", w]["steady_files_per_s"] - 1 / rows["local", w]["steady_files_per_s"])
                for w in (1, 2)}
        print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))
        for r in out["runs"]:
            print(f"{r['engine']:5s} x{r['workers']}: {r['files_per_s']:6.1f} files/s total "
                  f"({r['audio_hours_per_s'] * 3600:6.1f} audio s/s), steady {r['steady_files_per_s']:6.1f} files/s "
                  f"({r['steady_audio_hours_per_s'] * 3600:6.1f} audio s/s), wall {r['wall_s']:.1f} s")
        if a.json is not None:
            a.json.write_text(json.dumps(out, indent=1) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
