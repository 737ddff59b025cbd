"""Where the golden blobs re-encode to the same bytes: the environment recorded in data/golden_env.json.

Re-encoding gives the exact bytes only on the runtime that wrote the goldens: another onnxruntime or numpy,
or another CPU (onnxruntime picks its kernels by instruction set, AVX-512 or not), can move a latent value
lying on a rounding boundary to the next code. So tests/test_golden.py checks the bytes only where this
environment matches the recorded one; decoding, and re-encoding up to rare one-code flips, hold everywhere.

    python tests/golden_env.py    # record this machine (scripts/make_golden.py does it after writing goldens)
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

FILE = Path(__file__).parent / "data" / "golden_env.json"


def current() -> dict[str, str | bool]:
    """This machine: onnxruntime and numpy versions, architecture, CPU model and whether it has AVX-512F."""
    import numpy as np
    import onnxruntime as ort

    cpu, flags = platform.processor(), set()
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the processor name is all there is, and AVX-512 counts as unknown (absent)
        info = ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            cpu = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    return {"onnxruntime": ort.__version__, "numpy": np.__version__, "machine": platform.machine(), "cpu": cpu,
            "avx512f": "avx512f" in flags}


def mismatches() -> list[str]:
    """How this machine differs from the recorded environment, one line each; empty where it matches."""
    recorded = json.loads(FILE.read_text())
    here = current()
    return [f"{key} is {here.get(key)!r}, the goldens' {value!r}" for key, value in recorded.items()
            if here.get(key) != value]


if __name__ == "__main__":
    FILE.write_text(json.dumps(current(), indent=2) + "\n")
    print(f"wrote {FILE}")
