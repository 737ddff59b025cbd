"""`codec-rt batch` on the local engine, as a user runs it: a folder of mixed clips with bad files among
them, blobs the same bytes as `codec-rt encode` writes, failures reported without stopping the batch,
reruns that do only what is left, a worker killed mid-batch, manifests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import Codec
from codec_rt.audio_in import read_audio

DATA = Path(__file__).parent / "data"
MakeClips = Callable[..., list[Path]]  # conftest.make_clips
Corpus = tuple[Path, list[Path]]  # the source folder, its good clips
Encoded = tuple[Path, subprocess.CompletedProcess[str]]  # the output folder, the batch that wrote it


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True)


def results(path: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["path"]: r for r in lines}


def blob_for(src: Path, src_root: Path, dst_root: Path) -> Path:
    return (dst_root / src.relative_to(src_root)).with_suffix(".cra")


@pytest.fixture(scope="module")
def corpus(make_clips: MakeClips, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """10 clips (5 sample rates, wav/flac/ogg, mono and stereo, nested folders) and 2 unreadable files."""
    root = tmp_path_factory.mktemp("corpus") / "src"
    return root, make_clips(root, 10, bad=2, seconds=1.5)


@pytest.fixture(scope="module")
def encoded(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Encoded:
    dst = tmp_path_factory.mktemp("encoded") / "dst"
    return dst, run("batch", "encode", str(corpus[0]), "-o", str(dst), "--workers", "2")


def test_encode_a_folder_same_bytes_as_encode_failures_reported(
        corpus: Corpus, encoded: Encoded, tmp_path: Path) -> None:
    (src, clips), (dst, r) = corpus, encoded
    assert r.returncode == 1, r.stderr  # two files failed
    assert "10 coded, 0 already done, 2 failed" in r.stderr and "Traceback" not in r.stderr
    res = results(dst / "batch_results.jsonl")
    assert len(res) == 12
    bad = {p: v for p, v in res.items() if v["status"] == "error"}
    assert sorted(Path(p).name for p in bad) == ["bad00.wav", "bad01.flac"]
    assert all("not a readable audio file" in v["error"] for v in bad.values())
    assert not any(Path(v["output"]).exists() for v in bad.values())
    # Every blob is what single-file `codec-rt encode` writes: the CLI for a wav, a flac and an ogg clip,
    # the same code in process for all.
    codec = Codec.load()
    for clip in clips:
        blob = blob_for(clip, src, dst)
        x, sr = read_audio(clip)
        assert blob.read_bytes() == codec.encode(x, sr, framed=True), clip
        row = res[str(clip)]
        assert row["status"] == "ok" and row["bytes"] == blob.stat().st_size
        assert row["seconds"] == pytest.approx(x.shape[1] / sr)
        assert row["kbps"] == pytest.approx(8 * row["bytes"] / row["seconds"] / 1000, rel=1e-3)
    for clip in clips[:6:2]:
        assert run("encode", str(clip), "-o", str(tmp_path / "one.cra"), "--force").returncode == 0
        assert (tmp_path / "one.cra").read_bytes() == blob_for(clip, src, dst).read_bytes(), clip
    assert not list(dst.rglob(".*.part*"))


def test_rerun_skips_what_is_done_and_redoes_the_rest(make_clips: MakeClips, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    clips = make_clips(src, 6, bad=2, seconds=1.0, seed=2)
    assert run("batch", "encode", str(src), "-o", str(dst), "--workers", "2").returncode == 1
    first = results(dst / "batch_results.jsonl")
    blobs = {p: p.read_bytes() for p in dst.rglob("*.cra")}
    stamps = {p: p.stat().st_mtime_ns for p in blobs}
    r = run("batch", "encode", str(src), "-o", str(dst), "--workers", "2")
    assert r.returncode == 1 and "0 coded, 6 already done, 2 failed" in r.stderr, r.stderr
    assert {p: p.stat().st_mtime_ns for p in blobs} == stamps  # no output written again
    again = results(dst / "batch_results.jsonl")
    assert [v["status"] for v in again.values()].count("skipped") == 6
    # the unreadable files are reported again, untried (no time spent), until they change
    bad = [p for p, v in again.items() if v["status"] == "error"]
    assert len(bad) == 2 and all(again[p]["error"] == first[p]["error"] for p in bad)
    assert all(v["wall_s"] == 0 for v in again.values())

    # A damaged blob, a cut one, one left by another model and a source changed since are coded again,
    # and so is a bad file replaced by good audio.
    damaged, cut, other, changed = (blob_for(c, src, dst) for c in clips[:4])
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x40
    damaged.write_bytes(bytes(data))
    cut.write_bytes(cut.read_bytes()[:-10])
    assert run("encode", str(clips[2]), "-o", str(other), "--bitrate", "3", "--force").returncode == 0
    os.utime(clips[3], ns=(time.time_ns(), changed.stat().st_mtime_ns + 1_000_000_000))
    fixed = Path(sorted(bad)[0])
    sf.write(str(fixed), sf.read(str(clips[0]))[0], sf.info(str(clips[0])).samplerate, format=fixed.suffix[1:])
    r = run("batch", "encode", str(src), "-o", str(dst), "--workers", "2")
    assert r.returncode == 1 and "5 coded, 2 already done, 1 failed" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in blobs} == blobs
    assert (dst / fixed.relative_to(src)).with_suffix(".cra").is_file()
    # --force codes everything again, and removes the temporary files a killed worker left for its outputs
    left = damaged.parent / f".{damaged.name}.k1ll3d.part.cra"
    other_file = damaged.parent / f".{damaged.stem}x.cra.k1ll3d.part.cra"
    for f in (left, other_file):
        f.write_bytes(b"half a blob")
    r = run("batch", "encode", str(src), "-o", str(dst), "--workers", "1", "--force")
    assert "7 coded, 0 already done, 1 failed" in r.stderr, r.stderr
    assert not left.exists() and other_file.exists()


def test_outputs_a_batch_wrote_stay_its_own_after_a_run_stopped_halfway(make_clips: MakeClips,
                                                                        tmp_path: Path) -> None:
    """Each run starts its results file afresh: a run stopped at once (Ctrl-C) left it empty, and the next
    run at another bitrate refused every blob the first had written as "no codec-rt batch wrote it"."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_clips(src, 3, bad=0, seconds=1.0, seed=4)
    assert run("batch", "encode", str(src), "-o", str(dst), "--workers", "1").returncode == 0
    (dst / "batch_results.jsonl").write_text("")  # what a run stopped before its first file leaves
    r = run("batch", "encode", str(src), "-o", str(dst), "--workers", "1", "--bitrate", "6")
    assert r.returncode == 0 and "3 coded, 0 already done, 0 failed" in r.stderr, r.stderr
    # a file the user put there is still theirs
    sf.write(str(src / "mine.wav"), 0.1 * np.sin(np.arange(8000) / 5), 16000)
    (dst / "mine.cra").write_bytes(b"the user's")
    r = run("batch", "encode", str(src), "-o", str(dst), "--workers", "1")
    assert r.returncode == 1 and "no codec-rt batch wrote it" in r.stderr, r.stderr
    assert (dst / "mine.cra").read_bytes() == b"the user's"
    # A blob renamed into place just before a stop, its result never recorded: the batch's, claimed when its
    # job started (its line is all the ledger has of it)
    claimed = sorted(dst.rglob("clip*.cra"))[0]
    ledger = dst / ".codec-rt-batch-outputs"
    kept = [line for line in ledger.read_text().splitlines() if str(claimed.resolve()) not in line]
    ledger.write_text("\n".join([*kept, json.dumps({"output": str(claimed.resolve())})]) + "\n")
    (dst / "batch_results.jsonl").write_text("")
    (src / "mine.wav").unlink()
    r = run("batch", "encode", str(src), "-o", str(dst), "--workers", "1", "--bitrate", "3")
    assert r.returncode == 0 and "3 coded, 0 already done, 0 failed" in r.stderr, r.stderr


def test_decode_a_folder_of_blobs(corpus: Corpus, encoded: Encoded, tmp_path: Path) -> None:
    (src, clips), (blobs, _) = corpus, encoded
    out = tmp_path / "audio"
    r = run("batch", "decode", str(blobs), "-o", str(out), "--workers", "2", "--format", "flac")
    assert r.returncode == 0 and "10 coded, 0 already done, 0 failed" in r.stderr, r.stderr
    for clip in clips:
        a, b = sf.info(str(clip)), sf.info(str((out / clip.relative_to(src)).with_suffix(".flac")))
        assert (b.frames, b.samplerate, b.channels) == (a.frames, a.samplerate, a.channels)
    one = blob_for(clips[1], src, blobs)
    assert run("decode", str(one), "-o", str(tmp_path / "one.flac")).returncode == 0
    assert (tmp_path / "one.flac").read_bytes() == (out / clips[1].relative_to(src)).with_suffix(".flac").read_bytes()
    r = run("batch", "decode", str(blobs), "-o", str(out), "--format", "flac")
    assert r.returncode == 0 and "0 coded, 10 already done, 0 failed" in r.stderr, r.stderr


def test_each_failure_line_names_its_file(encoded: Encoded, tmp_path: Path) -> None:
    """A damaged blob's error says what is wrong, not where: the line adds the file's name."""
    blobs = tmp_path / "blobs"
    shutil.copytree(encoded[0], blobs)
    damaged = sorted(blobs.rglob("*.cra"))[0]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x40
    damaged.write_bytes(bytes(data))
    r = run("batch", "decode", str(blobs), "-o", str(tmp_path / "audio"), "--workers", "1")
    line = next(x for x in r.stderr.splitlines() if x.startswith("codec-rt: failed:"))
    assert r.returncode == 1 and str(damaged.relative_to(blobs)) in line and "checksum" in line, r.stderr


def test_a_file_no_batch_wrote_is_never_replaced_without_force(corpus: Corpus, encoded: Encoded,
                                                                tmp_path: Path) -> None:
    # Decoding the blobs into a copy of the source folder: the originals there are older than the blobs, but
    # they are the user's, not a stale decode.
    (src, _), (blobs, _) = corpus, encoded
    mine = tmp_path / "mine"
    shutil.copytree(src, mine)
    originals = {p: p.read_bytes() for p in mine.rglob("*.flac")}
    decoded_over = [p for p in originals if blob_for(p, mine, blobs).exists()]  # (a bad file has no blob)
    assert decoded_over
    r = run("batch", "decode", str(blobs), "-o", str(mine), "--format", "flac")
    assert r.returncode == 1 and f"{len(decoded_over)} failed" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in originals} == originals
    res = results(mine / "batch_results.jsonl")
    refused = [v for v in res.values() if v["status"] == "error"]
    assert len(refused) == len(decoded_over) and all("no codec-rt batch wrote it" in v["error"] for v in refused)
    r = run("batch", "decode", str(blobs), "-o", str(mine), "--format", "flac", "--force")
    assert r.returncode == 0, r.stderr
    assert all(p.read_bytes() != originals[p] for p in decoded_over)


def test_a_provider_this_machine_lacks_is_one_line_before_any_work(corpus: Corpus, tmp_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    r = run("batch", "encode", str(corpus[0]), "-o", str(tmp_path / "out"), "--provider", "cuda")
    assert r.returncode == 2 and r.stderr.startswith("codec-rt: error: provider 'cuda' is not available"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_manifest_and_usage_errors(corpus: Corpus, tmp_path: Path) -> None:
    src, clips = corpus
    manifest = src / "list.txt"
    manifest.write_text(f"# clips to code\n{clips[0].relative_to(src)}\n\n{clips[1]}\nmissing.wav\n"
                        f"{DATA / 'speech_fr_16k.flac'}\n")
    try:
        r = run("batch", "encode", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1", "--bitrate", "6")
    finally:
        manifest.unlink()
    assert r.returncode == 1 and "3 coded, 0 already done, 1 failed" in r.stderr, r.stderr
    res = results(tmp_path / "out" / "batch_results.jsonl")
    assert res["missing.wav"]["status"] == "error" and "no such file" in res["missing.wav"]["error"]
    assert (tmp_path / "out" / clips[0].relative_to(src)).with_suffix(".cra").is_file()
    assert (tmp_path / "out" / clips[1].relative_to(src)).with_suffix(".cra").is_file()
    # an absolute path outside the manifest's folder is mirrored whole under the output folder
    assert (tmp_path / "out" / (DATA / "speech_fr_16k.cra").relative_to("/")).is_file()

    for args, words in [(["batch", "encode", str(tmp_path / "nope"), "-o", str(tmp_path / "o")], "no such folder"),
                        (["batch", "encode", str(clips[0]), "-o", str(tmp_path / "o")], "codec-rt encode"),
                        (["batch", "encode", str(src), "-o", str(tmp_path / "o"), "--bitrate", "1"], "no model"),
                        (["batch", "encode", str(src), "-o", str(tmp_path / "o"), "--bits", "5", "--model",
                          str(Codec.load().model.path)], "range-coded"),
                        (["batch", "decode", str(src), "-o", str(tmp_path / "o"), "--bits", "5"], "bits"),
                        (["batch", "decode", str(src), "-o", str(clips[0])], "is a file")]:
        r = run(*args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bits_pick_the_fixed_width_model_as_codec_rt_encode_does(corpus: Corpus, tmp_path: Path) -> None:
    src, clips = corpus
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"{clips[0]}\n")
    r = run("batch", "encode", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1", "--bits", "4")
    assert r.returncode == 0, r.stderr
    blob = tmp_path / "out" / clips[0].relative_to("/").with_suffix(".cra")
    x, sr = read_audio(clips[0])
    assert blob.read_bytes() == Codec.load(fixed_width=True).encode(x, sr, bits=4, framed=True)


@pytest.mark.parametrize("kbps", ["24", "18", "10"])
def test_a_bitrate_codes_in_its_points_mode_as_codec_rt_encode_does(corpus: Corpus, tmp_path: Path,
                                                                     kbps: str) -> None:
    """The 24 and 18 kbps points are the 12 kbps model with the low band's phase in the blob (18: a
    narrower band at fewer bits), the 10 kbps one the same model rounded rate-aware: a batch writes what
    `codec-rt encode --bitrate KBPS` writes (24, 18: format 1.10, mode low_band_phase; 10: fewer bytes than
    the 12 kbps point's)."""
    src, clips = corpus
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"{clips[0]}\n")
    r = run("batch", "encode", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1", "--bitrate", kbps)
    assert r.returncode == 0, r.stderr
    blob = (tmp_path / "out" / clips[0].relative_to("/").with_suffix(".cra")).read_bytes()
    if kbps in ("24", "18"):
        assert blob[5] == 10 and blob[8] == 2  # minor 10 (dithered phase codes), mode 2
    else:
        assert run("encode", str(clips[0]), "-o", str(tmp_path / "12.cra"), "--bitrate", "12").returncode == 0
        assert len(blob) < len((tmp_path / "12.cra").read_bytes())
    assert run("encode", str(clips[0]), "-o", str(tmp_path / "one.cra"), "--bitrate", kbps).returncode == 0
    assert blob == (tmp_path / "one.cra").read_bytes()


def test_a_mode_codes_as_codec_rt_encode_mode_does(corpus: Corpus, tmp_path: Path) -> None:
    """`--mode` overrides the point's, as for `codec-rt encode`: the 24 kbps point's model in its predicted
    mode is the 12 kbps point's blob; a decode refuses it (the blob says its mode)."""
    src, clips = corpus
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"{clips[0]}\n")
    r = run("batch", "encode", str(manifest), "-o", str(tmp_path / "out"), "--workers", "1", "--bitrate", "24",
            "--mode", "predicted")
    assert r.returncode == 0, r.stderr
    blob = (tmp_path / "out" / clips[0].relative_to("/").with_suffix(".cra")).read_bytes()
    assert blob[8] == 0  # mode 0
    assert run("encode", str(clips[0]), "-o", str(tmp_path / "one.cra"), "--bitrate", "24", "--mode",
               "predicted").returncode == 0
    assert blob == (tmp_path / "one.cra").read_bytes()
    r = run("batch", "decode", str(tmp_path / "out"), "-o", str(tmp_path / "o"), "--mode", "predicted")
    assert r.returncode == 2 and "mode" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_worker_killed_mid_batch_costs_only_a_retry(make_clips: MakeClips, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    clips = make_clips(src, 24, bad=0, seconds=6.0, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "codec_rt", "batch", "encode", str(src), "-o", str(dst),
                             "--workers", "2"], stderr=subprocess.PIPE, text=True)
    log, killed = dst / "batch_results.jsonl", None
    deadline = time.monotonic() + 120
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        workers = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        if log.exists() and log.read_text().count("\n") >= 1 and len(workers) == 2:
            done = log.read_text().count("\n")
            os.kill(workers[0], signal.SIGKILL)
            killed = done
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=300)
    assert killed is not None and killed < len(clips), "the batch ended before a worker could be killed"
    assert proc.returncode == 0 and "24 coded, 0 already done, 0 failed" in stderr, stderr
    codec = Codec.load()
    for clip in clips:
        x, sr = read_audio(clip)
        assert blob_for(clip, src, dst).read_bytes() == codec.encode(x, sr, framed=True)
    assert not list(dst.rglob(".*.part*"))


def test_clips_are_mixed(corpus: Corpus) -> None:
    infos = [sf.info(str(c)) for c in corpus[1]]
    assert {i.samplerate for i in infos} == {8000, 16000, 22050, 44100, 48000}
    assert {i.channels for i in infos} == {1, 2} and {c.suffix for c in corpus[1]} == {".wav", ".flac", ".ogg"}
    assert all(np.isfinite(sf.read(str(c))[0]).all() for c in corpus[1])


def test_a_points_band_its_model_cannot_code_is_refused_before_any_work(corpus: Corpus, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A ladder whose 18 kbps point names more bins than its model has: the batch stops before coding a file,
    as a bad --bits does, where each file used to fail on its own."""
    from codec_rt import CodecError, batch, ladder

    d = json.loads((ladder.MODELS_DIR / "ladder.json").read_text())
    next(p for p in d["points"] if p.get("phase_bins"))["phase_bins"] = 258
    models = tmp_path / "models"
    models.mkdir()
    for folder in ladder.MODELS_DIR.iterdir():
        if folder.is_dir():
            (models / folder.name).symlink_to(folder)
    (models / "ladder.json").write_text(json.dumps(d))
    monkeypatch.setattr(ladder, "MODELS_DIR", models)
    ladder._read.cache_clear()
    try:
        with pytest.raises(CodecError, match="phase_bins must be in 1..257"):
            batch.run(batch.Options(corpus[0], tmp_path / "out", bitrate=18, workers=1))
        assert not (tmp_path / "out").exists()
    finally:
        monkeypatch.undo()
        ladder._read.cache_clear()
