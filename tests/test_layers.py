"""The runtime's layers run one way: each module imports only modules before it in LAYERS (so no cycle can
form), a new module must be placed there first, and no runtime file grows past the size of one job."""

import ast
from pathlib import Path

import pytest

import codec_rt

RUNTIME = Path(codec_rt.__file__).parent  # the sources as imported: the checkout's, or an installed wheel's

# Lowest first. A module may import any module before it, never one after it (nor itself).
LAYERS = [
    ["errors", "version"],
    ["config"],
    ["audio", "stft", "resample", "pitch", "phase", "phase_gradient", "postfilter", "peaks", "level", "lead"],  # signal
    ["quantize", "entropy", "tonal", "tracks", "track_analysis"],  # coding
    ["blob", "section", "packets"],  # container
    ["ladder", "model"],
    ["latent"],
    ["grid"],
    ["decoder_state"],
    ["encoder", "decoder"],
    ["codec"],  # the facade
    ["riff", "files", "audio_in", "metrics", "bench"],
    ["transcode"],  # one file coded, for `encode`, `decode` and `batch`
    ["corpus"],  # a batch's files
    ["worker"],
    ["local_engine", "ray_engine"],
    ["batch"],
    ["cli_options"],
    ["cli"],
    ["__main__", "__init__"],
]
ORDER = [m for layer in LAYERS for m in layer]
MAX_LINES = 450


def runtime_imports(path: Path) -> set[str]:
    """The codec_rt modules that `path` imports, anywhere in the file (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x, y: modules, or names of the package (its __init__)
                found.update(a.name if (path.parent / f"{a.name}.py").exists() else "__init__" for a in node.names)
            elif node.module and node.module.split(".")[0] == "codec_rt":
                parts = node.module.split(".")
                found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("codec_rt."))
    return found


def test_every_runtime_module_has_a_layer() -> None:
    modules = {p.stem for p in RUNTIME.glob("*.py")}
    assert modules == set(ORDER), f"place new modules in LAYERS: {sorted(modules ^ set(ORDER))}"


@pytest.mark.parametrize("module", ORDER)
def test_imports_only_go_down(module: str) -> None:
    rank = ORDER.index(module)
    for dep in runtime_imports(RUNTIME / f"{module}.py"):
        assert dep in ORDER, f"{module} imports {dep}, which is not a runtime module"
        assert ORDER.index(dep) < rank, f"{module} imports {dep}, which is not below it"


def test_imports_are_found_in_every_form(tmp_path: Path) -> None:
    (tmp_path / "cli.py").touch()
    (tmp_path / "x.py").write_text("from .codec import Codec\nfrom . import cli, Codec\nimport codec_rt.model\n"
                                   "def f():\n    from codec_rt.decoder import StreamDecoder\n")
    assert runtime_imports(tmp_path / "x.py") == {"codec", "cli", "__init__", "model", "decoder"}


def test_runtime_files_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in RUNTIME.glob("*.py")}
    assert {k: v for k, v in sizes.items() if v > MAX_LINES} == {}
