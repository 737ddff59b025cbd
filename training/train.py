"""`codec-train`: train the spectrogram autoencoder on folders of wav/flac/ogg.

Every knob is a flag whose default comes from the environment variable of the same name (upper case),
so `EPOCHS=5 codec-train data/` and `codec-train --epochs 5 data/` are the same run. The loop is seeded,
writes `RESULTS_DIR/model_last.pth` after every epoch, and `--resume` continues from it (same data order,
same crops: the epoch's RNG is derived from the seed and the epoch number). With `--ema-decay D` it also
keeps an exponential moving average of the weights (Polyak averaging, `torch.optim.swa_utils`) and writes it
as `RESULTS_DIR/model_ema.pth`, a checkpoint without optimizer state that `codec-export` and `--init-from`
take as they take any other: a rate-trained model's tones swing from one checkpoint to the next, its average
does not.

Rate-distortion training (`--coder 1`): the latent is rounded (straight-through) and a rate term, the bits
of the latent under the learned prior (`models/prior.py`) in kbps, is added with weight lambda. With
`--rate-kbps R`, lambda follows the rate to R (dual ascent on log lambda, each step), so one run lands at
an operating point of the ladder; `--init-from` a fixed-width checkpoint starts from its weights.

On several processes: `torchrun --nproc_per_node N -m training.train ...` (`distributed.py`): each rank
trains on its shard of every batch, rank 0 prints and writes the checkpoint, and `--resume` continues from
it under torchrun or alone (a checkpoint is the same whatever the number of processes that wrote it).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from codec_rt.config import ModelConfig
from models import SpecAutoencoder

from . import distributed
from . import stft_torch as st
from .data import ClipSet
from .losses import CodecLoss, LossWeights


def _env(name: str, default: Any) -> Any:
    v = os.environ.get(name)
    return default if v is None else type(default)(v)


def _load_matching(path: Path, cfg: ModelConfig, model: SpecAutoencoder, init: bool = False) -> dict[str, Any]:
    """Load `path`'s weights into `model`, refusing a checkpoint of another architecture. With `init`, a
    fixed-width checkpoint may seed a range-coded model (the coder and bits differ; the prior starts fresh),
    and a phase head may start learning the phase advance (`PHASE_LOSS=advance`)."""
    ck: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    theirs = ModelConfig.from_dict(ck["config"])
    if init:
        theirs = ModelConfig.from_dict(theirs.to_dict() | {"coder": cfg.coder, "default_bits": cfg.default_bits,
                                                           "phase_advance": cfg.phase_advance,
                                                           "phase_floor": cfg.phase_floor})
    if theirs != cfg:
        raise SystemExit(f"{path} was trained with {ck['config']}, not {cfg.to_dict()}")
    state = dict(ck["model"])
    their_head = ck.get("arch", {}).get("phase_head", 0)
    if their_head != model.phase_head:
        if not init:
            raise SystemExit(f"{path} has phase_head {their_head}, not {model.phase_head}")
        # Another phase head: keep the last layer's log-magnitude output, start the phase outputs fresh.
        mine = model.state_dict()
        for k, v in list(state.items()):
            if k in mine and mine[k].shape != v.shape:
                fresh = mine[k].clone()
                if k.endswith(".weight"):
                    fresh[:, :1] = v[:, :1]
                else:
                    fresh[:1] = v[:1]
                state[k] = fresh
    missing, unexpected = model.load_state_dict(state, strict=not init)
    if unexpected or any(not k.startswith("prior.") for k in missing):
        raise SystemExit(f"{path}: weights do not fit (missing {missing}, unexpected {unexpected})")
    return ck


PRIOR_LR_SCALE = 20.0


def audio_samples(batch: np.ndarray) -> int:
    """Samples of `[B, N]` before each row's zero padding (up to its last non-zero sample)."""
    nz = batch != 0
    last = batch.shape[1] - np.argmax(nz[:, ::-1], axis=1)
    return max(int(np.where(nz.any(axis=1), last, 0).sum()), 1)


@torch.no_grad()
def fit_prior(model: SpecAutoencoder, batches: list[np.ndarray], cfg: ModelConfig, device: torch.device) -> None:
    """Start the prior at the latent's per-(channel, row) mean and spread, so the rate term is right from
    the first step (a fresh prior would price every value at ~2 bits, and lambda would run away)."""
    assert model.prior is not None
    zs = [model.encoder(st.encoder_features(torch.from_numpy(b).to(device), cfg)) for b in batches]
    z = torch.cat([x.permute(1, 2, 0, 3).flatten(2) for x in zs], dim=2)  # [C, F, N]
    model.prior.loc.copy_(z.mean(dim=2, keepdim=True))
    scale = (z.std(dim=2, keepdim=True) * math.sqrt(3) / math.pi).clamp_min(0.1)
    model.prior.log_scale.copy_(scale.log())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="codec-train", description=__doc__.split("\n")[0])
    p.add_argument("data", nargs="*", type=Path, help="folders searched recursively for wav/flac/ogg")
    knobs: list[tuple[str, Any, str]] = [
        ("MAX_TRAIN_FILES", 20, "files used (<= 0: all)"),
        ("MAX_AUDIO_SECONDS", 8.0, "random crop per file per epoch (<= 0 disables)"),
        ("N_FFT", 512, "STFT size (the window: the causal model's latency)"),
        ("HOP", 128, "STFT hop"),
        ("CAUSAL", 0, "1: causal convolutions in time (low-latency model; TIME_DOWNSAMPLES must be 0)"),
        ("MODEL_CHANNELS", 8, "latent channels"),
        ("MODEL_HIDDEN", 32, "width of the convolution stack"),
        ("FREQ_DOWNSAMPLES", 3, "stride-2 blocks (4 = the extra downsample)"),
        ("TIME_DOWNSAMPLES", 2, "how many of them also halve time"),
        ("MEL_LOSS_WEIGHT", 0.003, "weight of the two-resolution log-mel L1"),
        ("WAVE_LOSS_WEIGHT", 10.0, "weight of the waveform L1"),
        ("PHASE_LOSS_WEIGHT", 1.0, "weight of the phase L1"),
        ("SC_LOSS_WEIGHT", 0.0, "weight of the spectral convergence (losses.spectral_convergence)"),
        ("ONSET_LOSS_WEIGHT", 0.0, "weight of the frame level error at onsets, dB (losses.onset_level_error)"),
        ("PEAK_LOSS_WEIGHT", 0.0, "weight of the spectral peaks' frequency error, bins (losses.peak_frequency_error)"),
        ("PHASE_LOSS", "weighted", "phase term: weighted (magnitude-weighted L1) | antiwrap (IP + GD + IAF) | advance"),
        ("PHASE_HEAD", 0, "1: the decoder predicts real and imaginary parts and takes their angle"),
        ("WAVE_PHASE", "true", "phase in the wave and mel terms: true|predicted|both|gl (unrolled Griffin-Lim)"),
        ("EPOCHS", 80, "epochs (one random crop of every file each)"),
        ("BATCH_SIZE", 16, "clips per step"),
        ("LEARNING_RATE", 1e-3, "Adam learning rate"),
        ("QAT_BITS", 0, "train with quantizer noise of QAT_BITS..8 bits (0: no noise)"),
        ("DEFAULT_BITS", 8, "latent bits the exported model uses by default"),
        ("CODER", 0, "0: fixed-width codes; 1: rate-distortion training for range coding"),
        ("RATE_KBPS", 0.0, "coder 1: latent rate to steer lambda to, in kbps (0: keep RATE_LAMBDA fixed)"),
        ("RATE_LAMBDA", 0.02, "coder 1: weight of the rate term (per kbps), its start value when steered"),
        ("RATE_GAIN", 0.01, "coder 1: step of log lambda per training step at a rate e times the target"),
        ("SYNTH_FRACTION", 0.0, "share of each batch replaced by synthetic tones, chords, sweeps, bursts (synth.py)"),
        ("SYNTH_RATE_WEIGHT", 1.0, "coder 1: rate weight of synthetic rows (below 1: lambda steers on speech's kbps)"),
        ("DEVICE", "cpu", "torch device (cpu, cuda)"),
        ("PACKED", "", "read clips from this .flac + .lengths.npy pair instead of the folders"),
        ("LOG_EVERY", 0, "also print the running means every N steps (0: once per epoch)"),
        ("SEED", 0, "seed of data order, crops and init"),
        ("MAX_MINUTES", 0.0, "stop after the epoch that passes this wall time (0: no limit)"),
        ("RESULTS_DIR", "results", "where model_last.pth goes"),
        ("THREADS", 2, "torch intra-op threads"),
        ("EMA_DECAY", 0.0, "also keep a moving average of the weights, this decay a step (0: off), as model_ema.pth"),
        ("PHASE_FLOOR", 0, "1: the encoder reads a bin under stft.MAG_FLOOR as phase 0 (ModelConfig.phase_floor)"),
        ("FREEZE_ENCODER", 0, "1: train the decoder alone (encoder and prior fixed: the same blobs, a new decoder)"),
        ("FREEZE_DECODER", 0, "1: train the encoder and prior alone (the decoder fixed: new blobs, the same decoder)"),
    ]
    for name, default, help_ in knobs:
        p.add_argument(
            "--" + name.lower().replace("_", "-"), dest=name.lower(), type=type(default),
            default=_env(name, default), help=f"{help_} [env {name}, default {default}]",
        )
    p.add_argument("--init-from", type=Path, default=Path(v) if (v := os.environ.get("INIT_FROM")) else None,
                   help="start from this checkpoint's weights with a fresh optimizer and epoch count (fine-tuning) "
                   "[env INIT_FROM]")
    p.add_argument("--resume", action="store_true", default=_env("RESUME", 0) == 1,
                   help="continue from RESULTS_DIR/model_last.pth [env RESUME=1]")
    return p.parse_args(argv)


def _save(ckpt: dict[str, Any], path: Path) -> None:
    """Write a checkpoint whole or not at all (a run killed while saving keeps the previous one)."""
    tmp = path.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    ranks, device = distributed.setup(a.device)
    try:
        _train(a, ranks, device)
    finally:
        distributed.teardown(ranks)


def _train(a: argparse.Namespace, ranks: distributed.Ranks, device: torch.device) -> None:
    logging.basicConfig(level=logging.INFO if ranks.main else logging.WARNING, format="%(message)s")

    def say(text: str) -> None:
        if ranks.main:
            print(text, flush=True)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = ModelConfig(n_fft=a.n_fft, hop=a.hop, channels=a.model_channels, hidden=a.model_hidden,
                      freq_downsamples=a.freq_downsamples, time_downsamples=a.time_downsamples,
                      default_bits=a.default_bits, coder=a.coder, causal=a.causal,
                      phase_advance=int(a.phase_loss == "advance"), phase_floor=a.phase_floor)
    cfg.validate()
    out = Path(a.results_dir)
    if ranks.main:
        out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "model_last.pth"

    model = SpecAutoencoder(cfg, phase_head=a.phase_head)
    start_epoch, step, log_lambda = 0, 0, float(np.log(a.rate_lambda))
    if a.init_from is not None and not (a.resume and ckpt_path.exists()):
        ck = _load_matching(a.init_from, cfg, model, init=True)
        say(f"initialized from {a.init_from} (trained {ck['epoch']} epochs)")
    model.to(device)
    if a.freeze_encoder:  # the latent, and so the rate and the entropy tables, stay as they are
        for p in [*model.encoder.parameters(), *(model.prior.parameters() if model.prior is not None else [])]:
            p.requires_grad_(False)
    if a.freeze_decoder:  # the decoder and the decoding rules fitted to it stay as they are
        if a.freeze_encoder:
            raise SystemExit("FREEZE_ENCODER and FREEZE_DECODER leave nothing to train")
        for p in model.decoder.parameters():
            p.requires_grad_(False)
    # The prior's few parameters must track the encoder's moving latent: a learning rate 20x the codec's.
    prior_params = [p for p in model.prior.parameters() if p.requires_grad] if model.prior is not None else []
    codec_params = [p for n, p in model.named_parameters() if not n.startswith("prior.") and p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": codec_params, "lr_scale": 1.0}]
    if prior_params:
        groups.append({"params": prior_params, "lr_scale": PRIOR_LR_SCALE})
    opt = torch.optim.Adam(groups, lr=a.learning_rate)
    ck = None
    if a.resume and ckpt_path.exists():
        ck = _load_matching(ckpt_path, cfg, model)
        opt.load_state_dict(ck["optimizer"])
        start_epoch, step = ck["epoch"], ck["step"]
        log_lambda = ck.get("log_lambda", log_lambda)
        say(f"resumed from {ckpt_path} at epoch {start_epoch}, step {step}")
    # The average starts from the weights as they now are (initialized or resumed), or goes on from the run's.
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(a.ema_decay), use_buffers=True) \
        if a.ema_decay > 0 else None
    if ck is not None and ema is not None and "ema" in ck:
        ema.load_state_dict(ck["ema"])
    elif ck is not None and ema is not None:
        say(f"{ckpt_path} holds no moving average: EMA_DECAY starts one from its weights")
    elif ck is not None and "ema" in ck:
        say(f"{ckpt_path} holds a moving average; without EMA_DECAY it is dropped and model_ema.pth goes stale")

    if a.packed:
        data = ClipSet.from_packed(Path(a.packed), cfg.sample_rate, a.max_train_files, a.max_audio_seconds, a.seed)
    else:
        data = ClipSet(a.data, cfg.sample_rate, a.max_train_files, a.max_audio_seconds, a.seed)
    if model.prior is not None and start_epoch == 0 and not a.freeze_encoder:
        fit_prior(model, data.batches(a.batch_size, np.random.default_rng([a.seed, 2**31]))[:16], cfg, device)
    net = distributed.wrap(model, ranks, device)  # DDP broadcasts rank 0's weights: every rank starts equal
    if ranks.world > 1:  # the quantizer and rate noise: a stream of each rank's own
        torch.manual_seed(a.seed * 1000 + ranks.rank)

    if a.phase_loss not in ("weighted", "antiwrap", "advance"):
        raise SystemExit("PHASE_LOSS must be 'weighted', 'antiwrap' or 'advance'")
    if a.wave_phase not in ("true", "predicted", "both", "gl"):
        raise SystemExit("WAVE_PHASE must be 'true', 'predicted', 'both' or 'gl'")
    weights = LossWeights(phase=a.phase_loss_weight, wave=a.wave_loss_weight, mel=a.mel_loss_weight,
                          wave_phase=a.wave_phase, phase_loss=a.phase_loss, sc=a.sc_loss_weight,
                          onset=a.onset_loss_weight, peak=a.peak_loss_weight)
    loss_fn = CodecLoss(cfg.sample_rate, cfg.n_fft, cfg.hop, weights).to(device)
    t0 = time.time()
    for epoch in range(start_epoch, a.epochs):
        rng = np.random.default_rng([a.seed, epoch])
        # Cosine decay to 5 % over EPOCHS or MAX_MINUTES, whichever runs out first, so a short run still ends
        # on a low learning rate.
        progress = epoch / max(a.epochs, 1)
        if a.max_minutes > 0:
            progress = max(progress, (time.time() - t0) / (60 * a.max_minutes))
        lr = a.learning_rate * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(progress, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        sums: dict[str, float] = {}
        skipped = 0
        step_at_epoch_start = step
        batches = data.labelled_batches(a.batch_size, rng, a.synth_fraction)
        model.train()
        out_of_time = False
        for wave_np, synth_np in batches:
            if a.max_minutes > 0 and ranks.any(time.time() - t0 > 60 * a.max_minutes):
                out_of_time = True  # stop mid-epoch: the checkpoint below keeps every step taken
                break
            rows, weight = ranks.shard(wave_np)  # this rank's rows; weight: its share of the global loss
            wave = torch.from_numpy(rows).to(device)
            feats = st.encoder_features(wave, cfg)
            bits = float(rng.uniform(a.qat_bits, 8.0)) if a.qat_bits > 0 else None
            pred, z = net(feats, noise_bits=bits)
            loss, terms = loss_fn(pred, feats, wave)
            loss = loss * weight
            names = ["loss", *terms]
            shares = [v * weight for v in terms.values()]
            if model.prior is not None:
                # kbps of the latent: bits over the seconds of real audio in the batch. Counting the zero padding
                # of short clips as audio would understate the rate (the padding costs almost nothing). Each
                # rank's bits over the global batch's seconds: the ranks' terms add up to the batch's kbps.
                row_bits = model.rate_bits(z).sum(dim=(1, 2, 3))
                synth_rows = torch.from_numpy(ranks.shard(synth_np)[0]).to(device)
                seconds = audio_samples(wave_np) / cfg.sample_rate
                kbps_part = row_bits.sum() / seconds / 1000
                # A steady tone is priced at every step, so a full rate term teaches the encoder to drop tones
                # (docs/TRAINING.md); a lower weight on the synthetic rows lets it keep them.
                row_weight = torch.where(synth_rows, a.synth_rate_weight, 1.0)
                rate_part = (row_bits * row_weight).sum() / seconds / 1000
                loss = loss + float(np.exp(log_lambda)) * ranks.world * (rate_part if weight else 0 * rate_part)
                names.append("kbps")
                shares.append(ranks.world * kbps_part.item() if weight else 0.0)
                if a.synth_rate_weight != 1.0:  # lambda steers on the speech rows (all rows in a batch of none)
                    any_speech = bool((~synth_np).any())
                    speech_s = audio_samples(wave_np[~synth_np] if any_speech else wave_np) / cfg.sample_rate
                    speech_bits = (row_bits[~synth_rows] if any_speech else row_bits).sum().item()
                    names.append("speech_kbps")
                    shares.append(ranks.world * speech_bits / speech_s / 1000 if weight else 0.0)
            opt.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # of the averaged gradient
            means = dict(zip(names, ranks.mean([loss.item(), *shares]), strict=True))  # the global batch's
            terms = {k: v for k, v in means.items() if k != "loss"}
            if model.prior is not None:
                kbps = terms.get("speech_kbps", terms["kbps"])
                terms["lambda"] = float(np.exp(log_lambda))
                if a.rate_kbps > 0:  # dual ascent on log lambda, symmetric in the log of the rate's ratio to target
                    ratio = np.log(max(kbps, 1e-3) / a.rate_kbps)
                    log_lambda = float(np.clip(log_lambda + a.rate_gain * np.clip(ratio, -1, 1), -12, 3))
            if not (np.isfinite(means["loss"]) and torch.isfinite(grad_norm)):
                skipped += 1  # one bad batch must not poison the weights
                continue
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            for k, v in {"loss": means["loss"], **terms}.items():
                sums[k] = sums.get(k, 0.0) + v
            if a.log_every and step % a.log_every == 0:
                n_ok = max(step - step_at_epoch_start, 1)
                say(f"  step {step} " + " ".join(f"{k} {v / n_ok:.4f}" for k, v in sums.items())
                    + f" ({time.time() - t0:.0f} s)")
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise SystemExit(f"weights became non-finite in epoch {epoch + 1}; {ckpt_path} keeps the last good ones")
        if ranks.main:  # the unwrapped model's weights: the same checkpoint alone or under torchrun
            ckpt = {"config": cfg.to_dict(), "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "arch": {"phase_head": a.phase_head},
                    "epoch": epoch + 1, "step": step, "log_lambda": log_lambda, "world_size": ranks.world,
                    "args": vars(a) | {"data": [str(d) for d in a.data]}}
            if ema is not None:
                ckpt["ema"] = ema.state_dict()
            _save(ckpt, ckpt_path)
            if ema is not None:
                averaged = {k: v for k, v in ckpt.items() if k not in ("optimizer", "ema", "model")}
                _save(averaged | {"model": ema.module.state_dict(), "ema_decay": a.ema_decay}, out / "model_ema.pth")
        terms_s = " ".join(f"{k} {v / max(step - step_at_epoch_start, 1):.4f}" for k, v in sums.items())
        extra = f" skipped {skipped} non-finite batches" if skipped else ""
        say(f"epoch {epoch + 1}/{a.epochs} step {step} {terms_s}{extra} ({time.time() - t0:.0f} s)")
        if out_of_time or (a.max_minutes > 0 and ranks.any(time.time() - t0 > 60 * a.max_minutes)):
            say(f"stopping after {a.max_minutes} min; resume with --resume")
            break
    ranks.barrier()  # the last checkpoint is written before any rank ends


if __name__ == "__main__":
    main()
