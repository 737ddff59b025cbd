"""The promise of the project: the runtime installs and runs where torch is not installed."""

import ast
import os
import subprocess
import venv
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "runtime" / "codec_rt"


def test_runtime_sources_never_import_torch() -> None:
    for f in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in {"torch", "models", "training", "export"} for n in names), f


def test_encode_decode_in_a_venv_without_torch(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    subprocess.run([py, "-m", "pip", "install", "-q", str(REPO)], check=True, env=env)
    r = subprocess.run([py, "-c", "import torch"], capture_output=True, env=env)
    assert r.returncode != 0, "torch must not be installed in this environment"
    cli = env_dir / "bin" / "codec-rt"
    src = REPO / "tests" / "data" / "speech_fr_16k.flac"
    subprocess.run([cli, "encode", src, "-o", tmp_path / "s.cra"], check=True, env=env, cwd=tmp_path)
    subprocess.run([cli, "decode", tmp_path / "s.cra", "-o", tmp_path / "s.wav"], check=True, env=env, cwd=tmp_path)
    assert sf.info(str(tmp_path / "s.wav")).frames == sf.info(str(src)).frames
    # The speed timer needs no repository files either.
    subprocess.run([cli, "bench", "--seconds", "0.3", "--threads", "1", "--bitrate", "6"], check=True, env=env,
                   cwd=tmp_path, capture_output=True)
    # The runtime really ran without torch, not some other installation of codec_rt.
    probe = "import codec_rt, sys; print(codec_rt.__file__); assert 'torch' not in sys.modules"
    out = subprocess.run([py, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert str(env_dir) in out.stdout
