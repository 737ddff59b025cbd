"""scripts/write_ladder.py writes the shipped ladder from its command line (runtime/codec_rt/models/LADDER.md),
and refuses, in one line, a point the runtime would not read."""

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from codec_rt import ladder

SCRIPT = Path(__file__).parents[1] / "scripts" / "write_ladder.py"


def _script(models: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script, writing into `models` (links to the shipped model folders and a copy of ladder.json)."""
    for folder in ladder.MODELS_DIR.iterdir():
        if folder.is_dir():
            (models / folder.name).symlink_to(folder)
    (models / "ladder.json").write_text((ladder.MODELS_DIR / "ladder.json").read_text())
    spec = importlib.util.spec_from_file_location("write_ladder", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "MODELS_DIR", models)
    return module


def _run(module: ModuleType, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["write_ladder.py", *args])
    module.main()


def test_the_documented_command_writes_the_shipped_ladder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    doc = (ladder.MODELS_DIR / "LADDER.md").read_text()
    command = re.search(r"^python scripts/write_ladder.py (.*)$", doc, re.M)
    assert command is not None
    module = _script(tmp_path, monkeypatch)
    _run(module, command.group(1).split(), monkeypatch)
    assert (tmp_path / "ladder.json").read_text() == (ladder.MODELS_DIR / "ladder.json").read_text()


@pytest.mark.parametrize(("point", "says"), [
    ("rd12k=18::phase_bins=16", "only at a point with a band"),
    ("rd12k=18:store_phase:phase_bits=3", "only at a point with a band"),
    ("rd12k=18:low_band_phase:phase_bins=300", "phase_bins must be in 1..257"),
    ("rd12k=18:low_band_phase:phase_bins=abc", "invalid literal"),
    ("rd12k=18:low_band_phase:phase_bins=16,phase_bins=20", "each once"),
    ("rd12k=18::colour=3", "the options are"),
    ("rd12k=18::rate_lambda=nan", "rate_lambda must be a number"),
    ("rd12k=18:wishful", "unknown mode"),
])
def test_a_point_the_runtime_would_refuse_is_refused_before_writing(point: str, says: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    module = _script(tmp_path, monkeypatch)
    before = (tmp_path / "ladder.json").read_text()
    with pytest.raises(SystemExit, match=re.escape(says)):
        _run(module, ["rd12k=12", point, "--default", "12"], monkeypatch)
    assert (tmp_path / "ladder.json").read_text() == before
