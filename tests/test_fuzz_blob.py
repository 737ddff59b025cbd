"""Property test: whatever bytes arrive, the parser answers with a CodecError or a valid result."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec_rt import CodecError, blob

GOLDEN = (Path(__file__).parent / "data" / "golden_v1_0_store_phase.cra").read_bytes()


def _parse(data: bytes) -> None:
    try:
        blob.read(data)
    except CodecError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _parse(data)
    _parse(b"CRTB" + data)
    _parse(GOLDEN[:56] + data)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, len(GOLDEN) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(GOLDEN)))
def test_mutated_golden_blob(edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(GOLDEN)
    for i, v in edits:
        data[i] = v
    _parse(bytes(data))
    _parse(bytes(data[:cut]))
