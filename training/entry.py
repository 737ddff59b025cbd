"""Console entry points of the training side (`codec-train`, `codec-export`).

The runtime wheel installs them too, and `pip install codec-rt` brings no torch: without the `train` extra
they print one line naming the missing modules and the install command, and exit with code 2, instead of a
traceback. This module imports nothing heavy, so that check runs first.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

TRAIN_EXTRA = "pip install 'codec-rt[train]'"


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of `modules` that are not installed."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _run(command: str, target: str, needs: tuple[str, ...]) -> None:
    if absent := missing(needs):
        sys.stderr.write(f"{command}: needs {', '.join(absent)} (the train extra): {TRAIN_EXTRA}\n")
        raise SystemExit(2)
    module, _, name = target.partition(":")
    getattr(importlib.import_module(module), name)()


def train() -> None:
    """`codec-train`: training.train.main, once torch is there."""
    _run("codec-train", "training.train:main", ("torch",))


def export() -> None:
    """`codec-export`: export.export.main, once torch, onnx and onnxscript (torch's dynamo exporter) are there."""
    _run("codec-export", "export.export:main", ("torch", "onnx", "onnxscript"))
