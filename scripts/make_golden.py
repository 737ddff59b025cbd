"""Write the golden blobs of the current format version under tests/data/ (run once per format version).

    python scripts/make_golden.py

A tiny seeded model encodes one second of the test speech in both modes: tests/data/golden_model/ (fixed-width
codes, coder 0) for format 1.0, tests/data/golden_model_range/ (range-coded, coder 1) for format 1.1, from
format 1.2 on both models in the framed layout (packets of 8 latent steps, so a second makes 4 packets:
golden_v1_2_<coder>_<mode>.cra), and from 1.3 on also tests/data/golden_model_context/ (coder 2: the
range-coded model's weights with narrower tables, and context tables counted from its latents of the test
speech); from 1.4 on also two stereo goldens (the speech with -0.5 times it on the right, coded as mid and
side): golden_model_context/ framed and golden_model/ in the whole layout (1.5 on: framed ones only, the
whole layout being written as before); 1.8 mode low_band_phase only; 1.9 the same with
tests/data/golden_model_causal/ (a causal model, STFT 256 / 64, with a phase advance), mono and a pair
coded channel by channel; 1.10 (dithered phase codes) golden_model_context/ in modes store_phase and
low_band_phase and the causal model in low_band_phase (the fixed-width coder's float scales can move a code
between CPUs, which 1.7's fixed goldens do off AVX-512); 1.11 mode tonal_band_phase, golden_model_context/
framed and golden_model/ whole (its coder-0 payload's size set by the band), their source with a steady
two-tone chord under the speech (`TONES`), so that the band holds intervals; 1.12 sinusoidal tracks: the
causal model in low_band_phase, framed and whole, over the same chord and speech, so that tracks start,
step and end. The whole layout of a
non-causal model, coded with a lead-in and a lead-out since format 1.10's time (docs/FORMAT.md 7.5), is 1.6:
golden_v1_6_context_whole_predicted (each golden is named by the minor its blob says). Framed goldens are written as a
live `StreamEncoder` writes them (each packet's own gain: docs/FORMAT.md 7.6). The blobs and their decoded
output (phase_iters=0, contrast=1.0, highpass=False, so the reference pins the format and the graphs, not
the post-processing) are stored. tests/test_golden.py decodes
every golden blob forever. Never overwrite an existing version's files: add new ones. After writing, it
records this machine in tests/data/golden_env.json (tests/golden_env.py): the only environment where the new
goldens are promised to re-encode to the same bytes.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec_rt import Codec, StreamEncoder, blob, entropy, stft
from codec_rt.config import Coder, ModelConfig
from export.export import export, prior_tables
from models import SpecAutoencoder

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


MODEL_DIRS = {Coder.FIXED: "golden_model", Coder.RANGE: "golden_model_range",
              Coder.CONTEXT: "golden_model_context"}
CAUSAL = "golden_model_causal"  # 1.9 on: a causal, range-coded model with a phase advance (STFT 256 / 64)


def causal_model_dir() -> Path:
    """The tiny causal model, exported on first use."""
    d = DATA / CAUSAL
    if not d.exists():
        torch.manual_seed(1234)
        cfg = ModelConfig(n_fft=256, hop=64, channels=2, hidden=4, time_downsamples=0, coder=Coder.RANGE, causal=1,
                          phase_advance=1)
        model = SpecAutoencoder(cfg).eval()
        assert model.prior is not None
        torch.nn.init.constant_(model.prior.log_scale, 1.0)
        export(model, d, None)
    return d


def model_dir(coder: int) -> Path:
    """The tiny model of `coder`, exported on first use."""
    d = DATA / MODEL_DIRS[coder]
    if not d.exists():
        torch.manual_seed(1234)
        model = SpecAutoencoder(ModelConfig(channels=2, hidden=4, default_bits=6, coder=min(coder, 1))).eval()
        if model.prior is not None:  # wide enough for the untrained latent (coder 2: 15 tables a row, keep them small)
            torch.nn.init.constant_(model.prior.log_scale, 1.0 if coder == Coder.RANGE else 0.0)
        tables = None
        if coder == Coder.CONTEXT:  # the same weights as the coder-1 model, with context tables
            base = prior_tables(model)
            assert base is not None
            x, _ = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
            feats = torch.from_numpy(stft.to_features(stft.stft(x[None] * 4, 512, 128)))
            with torch.no_grad():
                z = model.encoder(feats)[0].numpy()
            tables = entropy.fit_context_tables([entropy.to_symbols(z, base)], base)
        export(model, d, tables)
    return d


PACKET_STEPS = 8  # framed goldens (1.2 on): 4 packets in one second


TONES = ((440.0, 0.45), (554.37, 0.45))  # Hz, amplitude: mode tonal_band_phase's chord (tests/test_golden.py)


def source(channels: int, tones: bool = False) -> tuple[np.ndarray, int]:
    """The goldens' input: the second second of the test speech, `[1, 16000]`; for stereo, with -0.5 times it
    on the right (a pair that independent channels would not keep); with `tones`, `TONES` added."""
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    x = np.ascontiguousarray(x[16000:32000].T)
    if tones:
        t = np.arange(x.shape[1]) / sr
        x = x + sum(a * np.sin(2 * np.pi * f * t) for f, a in TONES).astype(np.float32)
    return (x if channels == 1 else np.concatenate([x, -0.5 * x])), sr


def main() -> None:
    # (coder, mode, channels, framed): both modes of every coder, and from 1.4 on (mid/side) two stereo ones
    jobs = [(coder, mode, 1, True) for coder in MODEL_DIRS for mode in ("predicted", "store_phase")]
    if blob.MINOR >= 4:
        jobs += [(Coder.CONTEXT, "predicted", 2, True), (Coder.FIXED, "store_phase", 2, False)]
    if blob.MINOR >= 5:  # only framed blobs change (1.5 a lead-in, 1.6 a lead-out, 1.7 smoothed gains)
        jobs = [j for j in jobs if j[3]]
    if blob.MINOR >= 8:  # 1.8 is only written for mode low_band_phase: the other modes' blobs are 1.7's
        jobs = [(coder, "low_band_phase", 1, True) for coder in MODEL_DIRS]
    if blob.MINOR >= 9:  # 1.9 only for mode low_band_phase with a causal model: mono, and a pair one by one
        jobs = [(-1, "low_band_phase", 1, True), (-1, "low_band_phase", 2, True)]
    if blob.MINOR >= 10:  # 1.10 dithers stored phase: both modes that store it, coders whose bytes hold across CPUs
        jobs = [(Coder.CONTEXT, "store_phase", 1, True), (Coder.CONTEXT, "low_band_phase", 1, True),
                (-1, "low_band_phase", 1, True)]
    if blob.MINOR >= 11:  # 1.11 adds mode tonal_band_phase: framed, and whole with coder 0's band-sized payload
        jobs = [(Coder.CONTEXT, "tonal_band_phase", 1, True), (Coder.FIXED, "tonal_band_phase", 1, False)]
    tracks = blob.MINOR >= 12  # 1.12 adds sinusoidal tracks: the causal model, framed and whole
    if tracks:
        jobs = [(-1, "low_band_phase", 1, True), (-1, "low_band_phase", 1, False)]
    jobs.append((Coder.CONTEXT, "predicted", 1, False))  # the whole layout with its lead: 1.6 (FORMAT.md 7.5)
    wrote = False
    for coder, mode, channels, framed in jobs:
        codec = Codec.load(causal_model_dir() if coder < 0 else model_dir(coder))
        kind = "causal" if coder < 0 else Coder(coder).name.lower()
        with_tracks = tracks and coder < 0
        name = kind + ("_stereo" if channels == 2 else "") + ("" if framed else "_whole") + (
            "_tracks" if with_tracks else "")
        x, sr = source(channels, mode == "tonal_band_phase" or with_tracks)
        if framed:  # as a live stream writes it (each packet's own gain), which no file-level rule changes
            joint = channels == 2 and coder >= 0  # the causal pair: channels one by one (6.5's joint phase)
            enc = StreamEncoder(codec, sr, channels, mode=mode, packet_steps=PACKET_STEPS, joint_stereo=joint,
                                level_match=False, fitted_scales=False, tracks=with_tracks)
            data = enc.push(x) + enc.flush()
        else:
            data = codec.encode(x, sr, mode=mode, joint_stereo=channels == 2, level_match=False,
                                fitted_scales=False, tracks=with_tracks)
        stem = DATA / f"golden_v{blob.MAJOR}_{blob.read_header(data)[0].minor}_{name}_{mode}"
        if stem.with_suffix(".cra").exists():  # never overwritten
            continue
        stem.with_suffix(".cra").write_bytes(data)
        y, _ = codec.decode(data, phase_iters=0, contrast=1.0, highpass=False)
        np.save(stem.with_suffix(".npy"), y)
        print(f"wrote {stem}.cra ({len(data)} bytes) and its reference decode")
        wrote = True
    if wrote:
        runpy.run_path(str(DATA.parent / "golden_env.py"), run_name="__main__")


if __name__ == "__main__":
    main()
