"""The memory harness (benchmarks/memory.py, from a checkout) measures real child processes: each figure lies
above the floor of a process that only loads the model and below the machine's memory, and the report names
every point, its growth with the length and the README's bound."""

from __future__ import annotations

import numpy as np

from benchmarks import memory


def test_it_measures_each_coding_process_above_the_floor_and_reports_the_growth() -> None:
    result = memory.run(memory.DEFAULT_INPUT, [2.0, 4.0], [12.0])
    floor = result["floor_mb"]
    assert 20 < floor < 1000  # the interpreter, onnxruntime and a model
    assert [(r["kbps"], r["seconds"]) for r in result["rows"]] == [(12.0, 2.0), (12.0, 4.0)]
    for r in result["rows"]:
        assert r["blob_bytes"] > 0
        for op in ("encode", "decode", "encode_pipe", "decode_pipe"):
            assert floor * 0.9 < r[op] < 4096, (op, r[op])
    text = memory.report(result)
    assert "12 kbps: encode" in text and "the bound" in text and ("met" in text)


def test_a_child_is_measured_alone_whatever_its_parent_holds() -> None:
    """Linux carries a parent's peak into its child's `ru_maxrss`: a test runner holding 400 MB must not
    make `true` look that large."""
    held = np.ones(100_000_000, np.float32)  # 400 MB, touched
    assert memory.peak_mb(["true"]) < 60
    del held
