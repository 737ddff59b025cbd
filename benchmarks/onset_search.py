"""Does a latent exist that decodes a tone's onset after silence without its burst? (docs/TRAINING.md)

    python -m benchmarks.onset_search [MODEL_DIR]

For the fidelity suite's tones after silence (`benchmarks.fidelity.cases`): encode (rounded latent), then two
sweeps of +-1 over each value of the latent steps around the onset, keeping a change when the decoded
magnitude's spectral convergence over the onset's frames falls (analysis by synthesis; content-adaptive latent
optimization, Campos et al., "Content adaptive optimization for neural image compression", CVPR workshops
2019). Prints the suite's onset burst (`tone_metrics`' onset_db: the peak of the first 10 ms over the steady
peak, dB), decoded with the graph's phase and 32 Griffin-Lim iterations, before and after.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import fidelity
from codec_rt import Codec, phase, stft
from codec_rt.level import input_gain


def main() -> None:
    codec = Codec.load(Path(sys.argv[1])) if len(sys.argv) > 1 else Codec.load(bitrate=12)
    m, cfg = codec.model, codec.config
    n, h, s = cfg.n_fft, cfg.hop, cfg.time_stride

    def synth(z: np.ndarray, g: float, length: int) -> np.ndarray:
        f = m.decode(z)[0]
        mag = np.exp(np.minimum(f[0], 12.0)) / g
        y = phase.refine_frames(mag[None], f[1][None], n, h, 32, lo=n // 2, hi=n // 2 + length,
                                match_energy=m.energy_match)[0]
        return y[n // 2 : n // 2 + length]

    for case in [c for c in fidelity.cases() if c.kind == "tone" and "start" in c.meta]:
        x32, length, t0 = case.audio, case.audio.shape[-1], int(case.meta["start"])
        g = input_gain(x32)
        feats = stft.encoder_features(x32 * g[:, None], cfg)
        z = np.rint(m.encode(feats)).astype(np.float32)
        frame = t0 // h
        s0, s1 = max(0, (frame - 6) // s), min(z.shape[-1], (frame + 8) // s + 1)
        w0, w1 = max(0, s0 - 4), min(z.shape[-1], s1 + 4)  # the decoder's reach around the steps searched
        target = np.exp(feats[0, 0, :, w0 * s : w1 * s])

        def loss(zz: np.ndarray, w0: int = w0, w1: int = w1, target: np.ndarray = target) -> float:
            d = np.exp(m.decode(zz[..., w0:w1])[0, 0, :, : target.shape[1]])
            return float(np.sum((d - target) ** 2) / np.sum(target**2))

        best, zz, t = loss(z), z.copy(), time.time()
        for _ in range(2):
            for idx in np.ndindex(z.shape[1], z.shape[2], s1 - s0):
                c, r, j = idx[0], idx[1], s0 + idx[2]
                for dv in (-1.0, 1.0):
                    zz[0, c, r, j] += dv
                    trial = loss(zz)
                    if trial < best:
                        best = trial
                        break
                    zz[0, c, r, j] -= dv
        before, after = (fidelity.tone_metrics(case, synth(v, g[0], length).astype(np.float64))["onset_db"]
                         for v in (z, zz))
        print(f"{case.name}: burst {before:+.2f} dB -> {after:+.2f} dB, {int((zz != z).sum())} values changed, "
              f"{time.time() - t:.1f} s")


if __name__ == "__main__":
    main()
