"""Train a `models.autoencoder.PhaseNet` (phase head 2) on a frozen codec's decoded magnitudes (issue 13).

    python -m training.phase_train cache checkpoints/rd12k.pth --packed pack/train.flac -o results/phase/cache.npz
    python -m training.phase_train train results/phase/cache.npz -o results/phase/rd12k.pth --minutes 60
    python -m training.phase_train train ... --resume          # continues from -o with its optimizer
    python -m training.phase_train train ... --init-from checkpoints/rd12k.pth   # its network, a fresh optimizer
    python -m training.phase_train merge results/phase/rd12k.pth -o checkpoints/rd12k_pn.pth

`merge` writes a codec checkpoint with phase head 2 (the codec's weights and the phase network's, the config's
`phase_context` set): `codec-export` takes it as any other.

The cache holds, for every packed clip (level-normalized as the runtime does), the codec's decoded
log-magnitude from its rounded latent and the input's phase and log-magnitude (float16): the codec runs
once, and each step trains the phase network alone on random crops (starting on a multiple of n_fft / hop,
as the decoder graph's output does). The anti-wrapping losses of Ai and Ling
(`training.losses.anti_wrapping_losses`) train it, weighted by the square root of the target magnitude,
optionally with `Resynthesis` (`--resynth`). `--synth` at `cache` mixes in the fidelity suite's kinds.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec_rt.config import ModelConfig
from codec_rt.level import normalizing_gain
from export.export import load_checkpoint
from models.autoencoder import PhaseNet, SpecAutoencoder

from . import stft_torch as st
from .data import ClipSet
from .losses import LOGMAG_FLOOR, MEL_RESOLUTIONS, anti_wrapping_losses, mel_filterbank
from .synth import random_kind, synth_clip


class Resynthesis(torch.nn.Module):
    """L1 between log-mel spectra (`losses.MEL_RESOLUTIONS`) of the audio that the decoded magnitude with the
    predicted phase makes and of the input, plus L1 between that audio's own STFT log-magnitude and the
    input's: what a phase that cancels itself in the overlap-add loses."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.fbs = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.from_numpy(mel_filterbank(sample_rate, nf, nm)), requires_grad=False)
             for nf, _, nm in MEL_RESOLUTIONS])

    def forward(self, dec: torch.Tensor, pred: torch.Tensor, mag: torch.Tensor, ph: torch.Tensor) -> torch.Tensor:
        n = self.hop * (dec.shape[-1] - 1)
        y = st.istft(torch.polar(torch.exp(dec.clamp_max(10.0)), pred), self.n_fft, self.hop, n)
        x = st.istft(torch.polar(torch.exp(mag), ph), self.n_fft, self.hop, n)
        loss = (st.to_features(st.stft(y, self.n_fft, self.hop))[:, 0].clamp_min(LOGMAG_FLOOR)
                - mag[..., : n // self.hop + 1].clamp_min(LOGMAG_FLOOR)).abs().mean()
        for fb, (nf, hop, _) in zip(self.fbs, MEL_RESOLUTIONS, strict=True):
            mel_y, mel_x = (torch.log(torch.matmul(fb, st.stft(a, nf, hop).abs()) + 1e-5) for a in (y, x))
            loss = loss + (mel_y - mel_x).abs().mean()
        return loss


@torch.no_grad()
def build_cache(ckpt: Path, packed: Path, out: Path, limit: int, synth: float = 0.0, device: str = "cpu",
                threads: int = 0) -> None:
    """`synth`: that share of the clips is replaced by a synthetic one of the fidelity suite's kinds
    (`training/synth.py`, seeded), so the network also learns tones, chords and onsets. `threads` caps
    torch's CPU threads (0: its default, every core), for a cache built beside other runs."""
    if threads:
        torch.set_num_threads(threads)
    model = load_checkpoint(ckpt).to(device)
    cfg = model.cfg
    clips = ClipSet.from_packed(packed, cfg.sample_rate, limit, 0, 0).clips
    rng = np.random.default_rng(7)
    clips = [synth_clip(random_kind(rng), c.size, cfg.sample_rate, rng, speech=c) if rng.random() < synth else c
             for c in clips]
    dec, ph, mag = [], [], []
    t0 = time.time()
    for i, c in enumerate(clips):
        x = torch.from_numpy((c * normalizing_gain(c[None])[0]).astype(np.float32))[None].to(device)
        feats = st.encoder_features(x, cfg)
        z = model.encoder(feats)
        y = model.decoder(torch.round(z) if model.prior is not None else z)[..., : feats.shape[-1]]
        dec.append(y[0, 0].cpu().numpy().astype(np.float16))
        ph.append(feats[0, 1].cpu().numpy().astype(np.float16))
        mag.append(feats[0, 0].cpu().numpy().astype(np.float16))
        if i % 500 == 0:
            print(f"cached {i}/{len(clips)} ({time.time() - t0:.0f} s)", flush=True)
    lengths = np.array([d.shape[-1] for d in dec])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, dec=np.concatenate(dec, axis=1), phase=np.concatenate(ph, axis=1),
             mag=np.concatenate(mag, axis=1), lengths=lengths, checkpoint=str(ckpt))


def _batches(cache: dict[str, np.ndarray], rng: np.random.Generator, batch: int, frames: int, period: int
             ) -> Iterator[tuple[torch.Tensor, ...]]:
    """One epoch of `(decoded log-magnitude, phase, log-magnitude)` `[batch, F, frames]` crops, made as they
    are taken (an epoch's worth at once would copy the whole cache in float32)."""
    starts = np.concatenate([[0], np.cumsum(cache["lengths"])[:-1]])
    order = rng.permutation(np.flatnonzero(cache["lengths"] >= frames))
    for i in range(0, len(order) - batch + 1, batch):
        sel = []
        for j in order[i : i + batch]:
            n = int(cache["lengths"][j])
            # crops start on a multiple of the clock's period, as the decoder graph's output does
            s = int(starts[j]) + period * int(rng.integers(0, (n - frames) // period + 1))
            sel.append(slice(s, s + frames))
        yield tuple(torch.from_numpy(np.stack([cache[k][:, s] for s in sel]).astype(np.float32))
                    for k in ("dec", "phase", "mag"))


def train(cache_path: Path, out: Path, minutes: float, lr: float, batch: int, frames: int, hidden: int,
          threads: int, resume: bool, resynth: float, ip_weight: float,
          init_from: Path | None = None, device: str = "cpu") -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cache = dict(np.load(cache_path))
    # the config of the codec whose magnitudes these are
    cfg = ModelConfig.from_dict(torch.load(str(cache["checkpoint"]), map_location="cpu", weights_only=False)["config"])
    period = cfg.n_fft // cfg.hop
    net = PhaseNet(cfg.n_bins, hidden, period)
    resynthesis = Resynthesis(cfg.sample_rate, cfg.n_fft, cfg.hop).to(device)
    net.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.8, 0.99))
    epoch, step, spent = 0, 0, 0.0
    if init_from is not None and not (resume and out.exists()):
        ck = torch.load(init_from, map_location="cpu", weights_only=False)
        prefix = "decoder.phase_net."  # a merged codec checkpoint, or a phase_train one
        weights = ({k[len(prefix):]: v for k, v in ck["model"].items() if k.startswith(prefix)}
                   if "model" in ck else ck["phase_net"])
        net.load_state_dict(weights)  # copies into the parameters, on whichever device they are
        print(f"initialized from {init_from}", flush=True)
    if resume and out.exists():
        ck = torch.load(out, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["phase_net"])
        opt.load_state_dict(ck["optimizer"])
        epoch, step, spent = ck["epoch"], ck["step"], ck.get("minutes", 0.0)
        print(f"resumed at epoch {epoch}, step {step}, {spent:.1f} min", flush=True)
    t0 = time.time()
    total = spent + minutes
    while True:
        rng = np.random.default_rng([1, epoch])
        sums: dict[str, float] = {}
        n = 0
        for batch_cpu in _batches(cache, rng, batch, frames, period):
            dec, ph, mag = (t.to(device) for t in batch_cpu)
            done = spent + (time.time() - t0) / 60
            if done > total:
                break
            for g in opt.param_groups:  # cosine to 5 % over the run's planned minutes
                g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(done / max(total, 1e-9), 1.0))))
            pred = net(dec)
            # Weighted by the square root of the magnitude (a difference: of both bins'), not by a plain mask:
            # the many bins of noise have a phase no magnitude predicts, and they are not what the ear follows.
            aw = anti_wrapping_losses(pred, ph, torch.exp(0.5 * mag.clamp_min(LOGMAG_FLOOR)))
            loss = ip_weight * aw["ip"] + aw["gd"] + 2.0 * aw["iaf"]
            if resynth > 0:
                aw["resynth"] = resynthesis(dec, pred, mag, ph)
                loss = loss + resynth * aw["resynth"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            step += 1
            n += 1
            for k, v in aw.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            if step % 50 == 0:
                print(f"step {step} " + " ".join(f"{k} {v / n:.4f}" for k, v in sums.items())
                      + f" ({time.time() - t0:.0f} s)", flush=True)
        else:
            epoch += 1
        ck: dict[str, Any] = {"phase_net": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                              "step": step, "minutes": spent + (time.time() - t0) / 60, "hidden": hidden,
                              "n_bins": cfg.n_bins, "codec": str(cache["checkpoint"])}
        tmp = out.with_suffix(".tmp")
        torch.save(ck, tmp)
        os.replace(tmp, out)
        if spent + (time.time() - t0) / 60 > total:
            print(f"stopped at step {step}; resume with --resume", flush=True)
            return


def merge(path: Path, out: Path) -> None:
    ph = torch.load(path, map_location="cpu", weights_only=False)
    ck = torch.load(ph["codec"], map_location="cpu", weights_only=False)
    if ck.get("arch", {}).get("phase_head", 0) != 0:
        raise SystemExit(f"{ph['codec']} already has a phase head")
    cfg = replace(ModelConfig.from_dict(ck["config"]), phase_context=PhaseNet.context_frames())
    model = SpecAutoencoder(cfg, phase_head=2, phase_hidden=ph["hidden"])
    state = dict(ck["model"]) | {f"decoder.phase_net.{k}": v for k, v in ph["phase_net"].items()}
    model.load_state_dict(state)  # strict: every weight of both, nothing else
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "arch": {"phase_head": 2,
                "phase_hidden": ph["hidden"]}, "epoch": ck["epoch"], "step": ck["step"],
                "phase_net": {"source": str(path), "epoch": ph["epoch"], "step": ph["step"],
                              "minutes": ph["minutes"]}}, out)
    print(f"wrote {out}: {ph['codec']} with the phase network of {path} ({ph['step']} steps)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cache")
    c.add_argument("checkpoint", type=Path)
    c.add_argument("--packed", type=Path, default=Path("pack/train.flac"))
    c.add_argument("--limit", type=int, default=0)
    c.add_argument("--synth", type=float, default=0.0, help="share of clips replaced by synthetic ones")
    c.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    c.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    c.add_argument("-o", "--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("cache", type=Path)
    t.add_argument("-o", "--out", type=Path, required=True)
    t.add_argument("--minutes", type=float, default=60)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--frames", type=int, default=128)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--ip-weight", type=float, default=1.0)
    t.add_argument("--init-from", type=Path, help="start from this network (a phase_train or merged checkpoint)")
    t.add_argument("--resynth", type=float, default=0.0, help="weight of the resynthesis loss")
    m = sub.add_parser("merge")
    m.add_argument("phase_net", type=Path)
    m.add_argument("-o", "--out", type=Path, required=True)
    a = p.parse_args(argv)
    if a.cmd == "merge":
        merge(a.phase_net, a.out)
    elif a.cmd == "cache":
        build_cache(a.checkpoint, a.packed, a.out, a.limit, a.synth, a.device, a.threads)
    else:
        train(a.cache, a.out, a.minutes, a.lr, a.batch, a.frames, a.hidden, a.threads, a.resume, a.resynth,
              a.ip_weight, a.init_from, a.device)


if __name__ == "__main__":
    main()
