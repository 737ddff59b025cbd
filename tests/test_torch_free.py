"""The promise of the project: the runtime installs and runs where torch is not installed."""

import ast
import importlib.util
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import soundfile as sf

import codec_rt

REPO = Path(__file__).resolve().parents[1]
RUNTIME = Path(codec_rt.__file__).parent  # the runtime as imported: runtime/codec_rt, or an installed wheel
TRAINING_SIDE = {"torch", "models", "training", "export"}


def test_runtime_sources_never_import_torch() -> None:
    for f in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in TRAINING_SIDE for n in names), f


def imports_by_name(tree: ast.AST) -> list[str]:
    """The names a module imports through importlib.import_module or __import__ calls: `line: name`, and
    `line: ?` where the name is computed (which the check cannot read, so it counts too)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if callee not in {"import_module", "__import__"}:
            continue
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            found.append(f"{node.lineno}: ?")
        elif arg.value.split(".")[0] in TRAINING_SIDE:
            found.append(f"{node.lineno}: {arg.value}")
    return found


def test_runtime_sources_never_import_torch_by_name() -> None:
    found = {str(f.relative_to(RUNTIME)): names for f in sorted(RUNTIME.rglob("*.py"))
             if (names := imports_by_name(ast.parse(f.read_text())))}
    assert found == {}, f"the runtime imports the training side by name: {found}"


@pytest.mark.skipif(not (REPO / "runtime" / "codec_rt").is_dir(),
                    reason="builds the checkout; .ci/run's clean-install job tests the wheel itself")
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
    assert_training_commands_say_what_they_need(env_dir / "bin", env, tmp_path)
    # The runtime really ran without torch, not some other installation of codec_rt.
    probe = "import codec_rt, sys; print(codec_rt.__file__); assert 'torch' not in sys.modules"
    out = subprocess.run([py, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert str(env_dir) in out.stdout


def assert_training_commands_say_what_they_need(bin_dir: Path, env: dict[str, str] | None, cwd: Path) -> None:
    """The wheel also installs `codec-train` and `codec-export`; without torch each is one line naming the
    extra to install, and exit code 2, not a traceback."""
    for command in ("codec-train", "codec-export"):
        r = subprocess.run([bin_dir / command, "--help"], capture_output=True, text=True, env=env, cwd=cwd)
        assert r.returncode == 2, (command, r.returncode, r.stderr)
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "torch" in r.stderr and "codec-rt[train]" in r.stderr, r.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_training_commands_without_torch_say_what_they_need(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "codec-train").exists():
        pytest.skip("codec-rt is not installed into this interpreter's environment")
    assert_training_commands_say_what_they_need(bin_dir, None, tmp_path)
