"""Console entry points of the training side (`codec-train`, `codec-export`).

The runtime wheel installs them too, and `pip install codec-rt` brings no torch: without the `train` extra
they print one line naming the missing modules and the install command, and exit with code 2, instead of a
traceback. This module imports nothing heavy, so that check runs first.
"""

from __future__ import annotations

import importlib.util
import sys

TRAIN_EXTRA = "pip install 'codec-rt[train]'"


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of `modules` that are not installed."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _require(command: str, needs: tuple[str, ...]) -> None:
    if absent := missing(needs):
        sys.stderr.write(f"{command}: needs {', '.join(absent)} (the train extra): {TRAIN_EXTRA}\n")
        raise SystemExit(2)


def train() -> None:
    """`codec-train`: training.train.main, once torch is there."""
    _require("codec-train", ("torch",))
    from training.train import main

    main()


def export() -> None:
    """`codec-export`: export.export.main, once torch, onnx and onnxscript (torch's dynamo exporter) are there."""
    _require("codec-export", ("torch", "onnx", "onnxscript"))
    from export.export import main

    main()
