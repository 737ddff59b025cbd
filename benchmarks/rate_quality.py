"""Rate-quality benchmark: our bitrate ladder beside Opus and Codec2 on held-out speech and music.

    python -m benchmarks.rate_quality [--speech data/dev/speech] [--music data/dev/music] [--limit 40]
        [--music-limit 10] [--codecs ours,opus,codec2] [--model NAME=DIR ...] [--out results/rate_quality]

Every clip (see `clips.py`: deterministic files and excerpts, mono, 16 kHz) goes through every codec
point; the decoded audio is aligned to the input (one integer lag per codec point and set, the peak of
the set's clips' summed cross-correlations within +-50 ms, refined per clip to a fraction of a sample;
`--align clip` for per-clip peaks) and scored (`scoring.py`: PESQ-WB, STOI, SI-SDR, LSD, mel distance).
Bitrates are measured, never nominal: Opus from its audio packets, Codec2 from its .bit file, ours from
the whole framed blob (what `codec-rt encode` writes); a point's kbps is 8 * total bytes / total seconds.

Writes to --out:
- results.json: {"schema": "codec-rt/rate_quality/2", "sample_rate", "max_lag_ms", "align", "clip_seconds",
  "tools": {...}, "clips": {set: [{"name", "path", "start_s", "seconds"}]},
  "points": [{"codec", "setting", "nominal_kbps", "label", "kbps", "model_id" (ours only),
              "sets": {set: {"kbps", "file_kbps", "seconds", "bytes", "mean": {metric: float|null},
                             "nan": {metric: int}, "lag_ms": {"integer", "mean", "min", "max"},
                             "clips": [{"name", "seconds", "bytes", "file_bytes", "kbps", "lag_ms",
                                        "clip_peak_ms", metric...}]}}}]}
  Metrics: pesq_wb, stoi, si_sdr (dB), lsd (dB), mel (dB). NaN (unscorable clip, e.g. PESQ finding no
  utterance in a quiet music excerpt) is written as null and counted in "nan"; means skip it.
  A set's "lag_ms" "integer" is its integer lag (null with `--align clip`); a clip's "lag_ms" the refined
  shift applied (positive: output late); "clip_peak_ms" the clip's own correlation peak, for diagnosis.
- results.md: one markdown table per set.
- rate_quality.png: one panel per metric, x = actual kbps (log), one curve per codec, speech solid,
  music dashed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import baselines, ours
from .baselines import F32, Coded
from .clips import Clip, load_set
from .scoring import HIGHER_IS_BETTER, MAX_LAG_S, METRICS, RATE, codec_lag, refine, score

SCHEMA = "codec-rt/rate_quality/2"
# ours-ll: the low-latency (causal, <= 20 ms) ladder; ours-fixed: the fixed-width model (`--bits`, its default bits);
# ours: each point in its own mode (24 kbps: the 12 kbps model in `low_band_phase`, format 1.8); ours-lbp: the
# ladder's predicted-phase points with the low band's phase in the blob (`--mode low_band_phase`)
CODECS = ("ours", "ours-lbp", "ours-ll", "ours-fixed", "opus", "codec2")
DEFAULT_CODECS = ("ours", "ours-ll", "ours-fixed", "opus", "codec2")
LABELS = {"pesq_wb": "PESQ-WB", "stoi": "STOI", "si_sdr": "SI-SDR (dB)", "lsd": "LSD (dB)", "mel": "mel dist. (dB)"}
COLORS = {"ours": "tab:red", "ours-lbp": "tab:purple", "ours-ll": "tab:orange", "ours-fixed": "tab:brown",
          "opus": "tab:blue",
          "codec2": "tab:green"}


@dataclass
class Point:
    """One operating point; `make` loads it lazily (a model load is not free) and returns its round trip."""

    codec: str
    setting: str
    nominal_kbps: float | None
    make: Callable[[], tuple[Callable[[F32], Coded], dict[str, Any]]]


def _tool(run: Callable[[F32], Coded]) -> Callable[[], tuple[Callable[[F32], Coded], dict[str, Any]]]:
    return lambda: (run, {})


def candidate(spec: str) -> Point:
    """`NAME=DIR`: a model directory off the ladder (a candidate), scored as codec NAME."""
    name, path = ours.model_spec(spec)

    def make() -> tuple[Callable[[F32], Coded], dict[str, Any]]:
        run, model_id = ours.round_trip(None, model=path)
        return run, {"model_id": model_id}

    return Point(name, str(path), None, make)


def points(codecs: list[str], opus_kbps: list[float], codec2_modes: list[int]) -> list[Point]:
    out: list[Point] = []
    for name in codecs:
        if name in ("ours", "ours-lbp", "ours-ll", "ours-fixed"):
            low_latency, fixed_width = name == "ours-ll", name == "ours-fixed"
            mode = "low_band_phase" if name == "ours-lbp" else None
            for k in ours.ladder(low_latency, fixed_width, lbp=name == "ours-lbp"):

                def make_ours(
                    k: float | None = k, ll: bool = low_latency, fw: bool = fixed_width, mode: str | None = mode
                ) -> tuple[Callable[[F32], Coded], dict[str, Any]]:
                    run, model_id = ours.round_trip(k, ll, fw, mode=mode)
                    return run, {"model_id": model_id}

                out.append(Point(name, "default model" if k is None else f"{k:g} kbps", k, make_ours))
        elif name == "opus":
            if not baselines.have_opus():
                print("skipping opus: opusenc/opusdec not found", file=sys.stderr)
                continue
            for k in opus_kbps:
                out.append(Point("opus", f"{k:g} kbps hard-cbr", k, _tool(partial(baselines.opus_round_trip, kbps=k))))
        elif name == "codec2":
            if not baselines.have_codec2():
                print("skipping codec2: c2enc/c2dec not found", file=sys.stderr)
                continue
            for m in codec2_modes:
                out.append(Point("codec2", f"mode {m}", m / 1000, _tool(partial(baselines.codec2_round_trip, mode=m))))
        else:
            raise SystemExit(f"unknown codec {name!r}; choose from {', '.join(CODECS)}")
    return out


def _finite_mean(vals: list[float]) -> float | None:
    v = [x for x in vals if math.isfinite(x)]
    return float(np.mean(v)) if v else None


def run_point(
    run: Callable[[F32], Coded], sets: dict[str, list[Clip]], max_lag_s: float, per_clip_lag: bool
) -> dict[str, Any]:
    """Round-trip every clip, align (one integer lag per set of the codec point unless `per_clip_lag`,
    refined per clip to a fraction of a sample), score, and aggregate per set: kbps over total bytes and
    seconds, metric means over the clips a metric could score. A set's lag comes from its own clips alone,
    so its figures do not depend on which other sets ran. Returns the per-set results."""
    out: dict[str, Any] = {}
    for n, cs in sets.items():
        coded = [run(c.audio) for c in cs]
        lag, peaks = codec_lag([(c.audio, y.audio) for c, y in zip(cs, coded, strict=True)],
                               int(round(max_lag_s * RATE)))
        rows: list[dict[str, Any]] = []
        for c, y, peak in zip(cs, coded, peaks, strict=True):
            s = score(c.audio, y.audio, refine(c.audio, y.audio, peak if per_clip_lag else lag))
            rows.append(
                {"name": c.name, "seconds": c.seconds, "bytes": y.bytes, "file_bytes": y.file_bytes,
                 "kbps": 8 * y.bytes / c.seconds / 1000, "clip_peak_ms": 1000 * peak / RATE, **s}
            )
        seconds = sum(r["seconds"] for r in rows)
        lags = [r["lag_ms"] for r in rows]
        out[n] = {
            "kbps": 8 * sum(r["bytes"] for r in rows) / seconds / 1000,
            "file_kbps": 8 * sum(r["file_bytes"] for r in rows) / seconds / 1000,
            "seconds": seconds,
            "bytes": sum(r["bytes"] for r in rows),
            "mean": {m: _finite_mean([r[m] for r in rows]) for m in METRICS},
            "nan": {m: sum(not math.isfinite(r[m]) for r in rows) for m in METRICS},
            "lag_ms": {"integer": None if per_clip_lag else 1000 * lag / RATE,
                       "mean": float(np.mean(lags)), "min": min(lags), "max": max(lags)},
            "clips": rows,
        }
    return out


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("codec-rt", "numpy", "soxr", "pesq", "pystoi", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return {**out, **baselines.tool_versions()}


def _null_nan(o: Any) -> Any:
    """JSON has no NaN: unscorable figures become null (their count is in "nan")."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _null_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_null_nan(v) for v in o]
    return o


def _fmt(v: float | None, digits: int) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """One table per set, codec points in run order."""
    lines = ["# Rate-quality benchmark", ""]
    for set_name, clips in results["clips"].items():
        secs = sum(c["seconds"] for c in clips)
        lines += [
            f"## {set_name}: {len(clips)} clips, {secs / 60:.1f} min, 16 kHz mono", "",
            "| codec | setting | actual kbps | PESQ-WB | STOI | SI-SDR dB | LSD dB | mel dB | lag ms |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in results["points"]:
            s = p["sets"][set_name]
            m = s["mean"]
            pesq = _fmt(m["pesq_wb"], 2) + (f" ({s['nan']['pesq_wb']} NaN)" if s["nan"]["pesq_wb"] else "")
            lines.append(
                f"| {p['codec']} | {p['setting']} | {s['kbps']:.2f} | {pesq} | {_fmt(m['stoi'], 3)} | "
                f"{_fmt(m['si_sdr'], 1)} | {_fmt(m['lsd'], 2)} | {_fmt(m['mel'], 2)} | {s['lag_ms']['mean']:.1f} |"
            )
        lines.append("")
    tools = results["tools"]
    lines += [
        "kbps: 8 x payload bytes / seconds over all clips (Opus: Ogg audio packets without the two header "
        "packets; Codec2: .bit file; ours: the framed blob `codec-rt encode` writes, header included). "
        "Metrics are means over the clips a metric could score (NaN: PESQ found no utterance) after "
        "cross-correlation alignment (lag ms: mean shift applied, one integer lag per codec point and set, "
        "refined per clip). Higher is better for PESQ-WB, STOI, SI-SDR; lower for LSD and mel distance.",
        "",
        f"Tools: {tools.get('opusenc', 'opusenc not run')}; codec2 {tools.get('codec2', 'not run')}; "
        f"pesq {tools.get('pesq')}, pystoi {tools.get('pystoi')}.",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    styles = {"speech": "-", "music": "--"}
    markers = {"speech": "o", "music": "s"}
    for ax, metric in zip(axes.flat, METRICS, strict=False):
        for codec in dict.fromkeys(p["codec"] for p in results["points"]):
            pts = [p for p in results["points"] if p["codec"] == codec]
            for set_name in results["clips"]:
                xy = sorted(
                    (p["sets"][set_name]["kbps"], p["sets"][set_name]["mean"][metric])
                    for p in pts
                    if p["sets"][set_name]["mean"][metric] is not None
                )
                if xy:
                    ax.plot(*zip(*xy, strict=True), styles.get(set_name, ":"), marker=markers.get(set_name, "^"),
                            color=COLORS.get(codec), label=f"{codec}, {set_name}")
        ax.set_xscale("log")
        ax.set_xticks([1, 2, 3, 6, 12, 24, 48])
        ax.set_xticklabels(["1", "2", "3", "6", "12", "24", "48"])
        ax.set_xlabel("actual kbps")
        ax.set_title(LABELS[metric] + ("  (higher is better)" if HIGHER_IS_BETTER[metric] else "  (lower is better)"))
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].axis("off")
    axes.flat[-1].legend(handles, labels, loc="center", fontsize=11)
    fig.suptitle("codec-rt vs Opus and Codec2, 16 kHz held-out clips")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _csv(s: str) -> list[str]:
    return [t.strip() for t in s.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--speech", default="data/dev/speech", help="speech folder ('' to skip)")
    p.add_argument("--music", default="data/dev/music", help="music folder ('' to skip)")
    p.add_argument("--limit", type=int, default=40, help="speech clips (0: all)")
    p.add_argument("--music-limit", type=int, default=10, help="music clips (0: all)")
    p.add_argument("--clip-seconds", type=float, default=10.0, help="middle excerpt of each file")
    p.add_argument("--min-seconds", type=float, default=1.5, help="skip shorter files")
    p.add_argument("--codecs", default=",".join(DEFAULT_CODECS), help=f"of {', '.join(CODECS)}")
    p.add_argument("--opus-kbps", default=",".join(str(k) for k in baselines.OPUS_KBPS))
    p.add_argument("--codec2-modes", default=",".join(str(m) for m in baselines.CODEC2_MODES))
    p.add_argument("--max-lag-ms", type=float, default=1000 * MAX_LAG_S)
    p.add_argument(
        "--align", choices=["codec", "clip"], default="codec",
        help="one lag per codec point from all its clips (default), or each clip's own correlation peak",
    )
    p.add_argument("--model", action="append", default=[], metavar="NAME=DIR",
                   help="also a model directory off the ladder (a candidate), as codec NAME; repeatable")
    p.add_argument("--out", type=Path, default=Path("results/rate_quality"))
    a = p.parse_args(argv)
    # Unscorable clips are counted in the results ("nan"); one warning line per clip and codec is noise.
    logging.getLogger("codec_rt.metrics").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning, "pesq")

    sets: dict[str, list[Clip]] = {}
    for name, arg, limit in (("speech", a.speech, a.limit), ("music", a.music, a.music_limit)):
        if not arg:
            continue
        folder = Path(arg)
        if not folder.is_dir():
            sys.exit(f"{folder}: no such folder (run scripts/prepare_data.sh, or pass --{name} '' to skip)")
        sets[name] = load_set(folder, limit, a.min_seconds, a.clip_seconds)
        if not sets[name]:
            sys.exit(f"no audio files of at least {a.min_seconds} s under {folder}")
        print(f"{name}: {len(sets[name])} clips, {sum(c.seconds for c in sets[name]):.0f} s from {folder}")
    if not sets:
        sys.exit("nothing to evaluate: both --speech and --music are empty")

    pts = points(_csv(a.codecs), [float(k) for k in _csv(a.opus_kbps)], [int(m) for m in _csv(a.codec2_modes)])
    pts += [candidate(spec) for spec in a.model]
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "sample_rate": 16000,
        "max_lag_ms": a.max_lag_ms,
        "align": a.align,
        "clip_seconds": a.clip_seconds,
        "tools": _versions(),
        "clips": {
            n: [{"name": c.name, "path": c.path, "start_s": c.start_s, "seconds": c.seconds} for c in cs]
            for n, cs in sets.items()
        },
        "points": [],
    }
    for pt in pts:
        t0 = time.perf_counter()
        run, extra = pt.make()
        per_set = run_point(run, sets, a.max_lag_ms / 1000, a.align == "clip")
        total_bytes = sum(s["bytes"] for s in per_set.values())
        total_seconds = sum(s["seconds"] for s in per_set.values())
        kbps = 8 * total_bytes / total_seconds / 1000
        results["points"].append(
            {"codec": pt.codec, "setting": pt.setting, "nominal_kbps": pt.nominal_kbps,
             "label": f"{pt.codec} {kbps:.1f} kbps", "kbps": kbps, **extra, "sets": per_set}
        )
        figs = "  ".join(
            f"{n}: {s['kbps']:.2f} kbps PESQ {_fmt(s['mean']['pesq_wb'], 2)} STOI {_fmt(s['mean']['stoi'], 3)}"
            for n, s in per_set.items()
        )
        print(f"{pt.codec:7s} {pt.setting:18s} {figs}  ({time.perf_counter() - t0:.0f} s)", flush=True)

    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps(_null_nan(results), indent=1, allow_nan=False) + "\n")
    (a.out / "results.md").write_text(markdown(_null_nan(results)))
    plot(_null_nan(results), a.out / "rate_quality.png")
    print(f"wrote {a.out / 'results.json'}, {a.out / 'results.md'}, {a.out / 'rate_quality.png'}")


if __name__ == "__main__":
    main()
