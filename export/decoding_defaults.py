"""Set an exported model's decoding defaults in place: the decoder graph's metadata keys that are decoding
settings, not part of the model id (docs/FORMAT.md 3.6), so its blobs and id stay as they are.

    python -m export.decoding_defaults runtime/codec_rt/models/rd12k --phase-start 1 --phase-iters 0

Only the keys given change; `--phase-iters -1` removes that key (the runtime's default by the model's kind).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx

from codec_rt.model import CHECKSUMS, Model, write_checksums
from export.export import decoding_metadata, set_metadata


def set_defaults(model_dir: Path, values: dict[str, str | None]) -> None:
    """Write (a value) or remove (None) `codec_rt.<key>` entries of `model_dir/decoder.onnx`'s metadata, then
    load the model to check it (ModelError for a value the runtime refuses; the old file is then restored)."""
    path = model_dir / "decoder.onnx"
    old = path.read_bytes()
    m = onnx.load_from_string(old)
    set_metadata(m, {f"codec_rt.{key}": value for key, value in values.items()})
    path.write_bytes(m.SerializeToString())
    sums = model_dir / CHECKSUMS
    old_sums = sums.read_bytes() if sums.is_file() else None
    write_checksums(model_dir)
    try:
        Model.load(model_dir)
    except Exception:
        path.write_bytes(old)
        if old_sums is None:
            sums.unlink(missing_ok=True)
        else:
            sums.write_bytes(old_sums)
        raise


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="decoding-defaults", description=__doc__.split("\n")[0])
    p.add_argument("model_dir", type=Path)
    p.add_argument("--phase-start", type=int, choices=[0, 1])
    p.add_argument("--phase-iters", type=int, help="0..10000; -1 removes the key")
    p.add_argument("--contrast", type=float)
    p.add_argument("--energy-match", type=int, choices=[0, 1])
    a = p.parse_args(argv)
    entries = decoding_metadata(
        contrast=a.contrast, phase_iters=None if a.phase_iters is None or a.phase_iters < 0 else a.phase_iters,
        energy_match=bool(a.energy_match), phase_start=a.phase_start or 0)
    given = {"contrast": a.contrast, "phase_iters": a.phase_iters, "energy_match": a.energy_match,
             "phase_start": a.phase_start}
    values = {key: entries[f"codec_rt.{key}"] for key, option in given.items() if option is not None}
    set_defaults(a.model_dir, values)
    print(f"{a.model_dir}: {values}")


if __name__ == "__main__":
    main()
