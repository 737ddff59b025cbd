"""Range coding of the latent symbols: exact round trips, sizes near the model's entropy, determinism."""

from pathlib import Path

import numpy as np
import pytest

from codec_rt import CodecError, FormatError, ModelError, entropy
from codec_rt.entropy import EntropyTables
from codec_rt.model import Model
from codec_rt.stft import stft, to_features

DATA = Path(__file__).parent / "data"


def tables(seed: int = 0, channels: int = 3, bins: int = 4) -> EntropyTables:
    rng = np.random.default_rng(seed)
    offsets, freqs = [], []
    for _ in range(channels * bins):
        n = int(rng.integers(2, 40))
        f = rng.integers(1, 1000, n)
        f = np.maximum(1, np.floor(f / f.sum() * (2**16 - n))).astype(int) + 0
        f[np.argmax(f)] += 2**16 - f.sum()
        offsets.append(int(rng.integers(-20, 5)))
        freqs.append(tuple(int(x) for x in f))
    return EntropyTables(channels, bins, 16, tuple(offsets), tuple(freqs))


def sample(t: EntropyTables, frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = [o + rng.choice(len(f), frames, p=np.array(f) / 2**16) for o, f in zip(t.offsets, t.freqs, strict=True)]
    return np.array(rows, np.int32).reshape(t.channels, t.bins, frames)


def test_random_symbols_round_trip_and_cost_their_entropy() -> None:
    t = tables()
    s = sample(t, 500, seed=1)
    data = entropy.encode(s, t)
    np.testing.assert_array_equal(entropy.decode(data, t, 500), s)
    ideal = -sum(np.log2(np.array(f)[row - o] / 2**16).sum()
                 for o, f, row in zip(t.offsets, t.freqs, s.reshape(len(t.freqs), -1), strict=True))
    assert 8 * len(data) <= ideal * 1.01 + 64


def test_real_latents_round_trip_bit_exactly_and_deterministically() -> None:
    import soundfile as sf

    model = Model.load(DATA / "golden_model_range")
    assert model.entropy is not None
    x, _ = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    z = model.encode(to_features(stft(x[None, :32000] * 4, 512, 128)))[0]
    s = entropy.to_symbols(z, model.entropy)
    assert np.all(np.abs(s - np.rint(z)) <= np.abs(z - np.clip(z, model.entropy.low, model.entropy.high)) + 0.5)
    data = entropy.encode(s, model.entropy)
    assert data == entropy.encode(s.copy(), model.entropy)
    np.testing.assert_array_equal(entropy.decode(data, model.entropy, s.shape[-1]), s)


def test_tables_survive_json_and_refuse_bad_frequencies() -> None:
    t = tables()
    assert EntropyTables.from_json(t.to_json()) == t
    d = t.to_dict()
    for bad in ({"freqs": [[0] + list(f[1:]) for f in d["freqs"]]},  # a zero frequency
                {"freqs": [list(f) + [1] for f in d["freqs"]]},  # wrong sum
                {"offsets": d["offsets"][:-1]},  # missing table
                {"precision": 40}):
        with pytest.raises(ModelError):
            EntropyTables.from_dict(d | bad)
    with pytest.raises(ModelError):
        EntropyTables.from_json("[1, 2]")


def test_damaged_streams_give_symbols_in_range_or_a_typed_error() -> None:
    t = tables()
    rng = np.random.default_rng(3)
    for n in (0, 4, 8, 64):
        s = entropy.decode(rng.bytes(n), t, 50)
        assert s.shape == (3, 4, 50)
        assert np.all(s >= t.low) and np.all(s <= t.high)
    with pytest.raises(FormatError):
        entropy.decode(b"\0" * 5, t, 10)


def test_out_of_range_symbols_are_refused_by_encode() -> None:
    t = tables()
    s = sample(t, 10, seed=4)
    s[0, 0, 0] = t.offsets[0] - 1
    with pytest.raises(ValueError):
        entropy.encode(s, t)


# ---------------------------------------------------------------- context tables (coder 2)


def correlated(t: EntropyTables, frames: int, seed: int) -> np.ndarray:
    """Symbols whose rows move together, as a real latent's do: a shared random walk plus noise."""
    rng = np.random.default_rng(seed)
    common = np.rint(np.cumsum(rng.normal(0, 0.7, frames)) % 5 - 2)
    s = common[None, None, :] + rng.integers(-1, 2, (t.channels, t.bins, frames))
    return np.clip(s, t.low, t.high).astype(np.int32)


def test_context_tables_round_trip_and_beat_the_plain_tables_on_correlated_rows() -> None:
    t = tables(seed=5)
    train = [correlated(t, 400, seed=s) for s in range(6)]
    ct = entropy.fit_context_tables(train, t)
    assert ct.context == 1 and len(ct.freqs) == entropy.CONTEXTS * len(t.offsets)
    assert EntropyTables.from_json(ct.to_json()) == ct
    test = correlated(t, 300, seed=99)
    data = entropy.encode(test, ct)
    assert data == entropy.encode(test.copy(), ct)
    np.testing.assert_array_equal(entropy.decode(data, ct, 300), test)
    # The best a table per row can do: the entropy of each row's own training histogram.
    size = int((t.high - t.low).max()) + 1
    bits = 0.0
    for row_train, row_test in zip(np.concatenate(train, -1).reshape(12, -1) - t.low.reshape(12, 1),
                                   test.reshape(12, -1) - t.low.reshape(12, 1), strict=True):
        p = np.bincount(row_train, minlength=size) + 0.5
        bits -= np.log2(p[row_test] / p.sum()).sum()
    assert 8 * len(data) < 0.9 * bits


def test_context_tables_round_trip_symbols_they_never_saw() -> None:
    """Every in-range symbol stays codable in every context, including ones absent from the training counts."""
    t = tables(seed=6)
    ct = entropy.fit_context_tables([correlated(t, 50, seed=1)], t)
    s = sample(t, 200, seed=7)  # independent symbols over each table's whole range
    np.testing.assert_array_equal(entropy.decode(entropy.encode(s, ct), ct, 200), s)
    assert entropy.decode(entropy.encode(s[..., :0], ct), ct, 0).shape == (3, 4, 0)


def test_the_context_rule_and_the_decoders_lookups_agree() -> None:
    """`contexts` is the rule of the module docstring (checked on hand-made rows); the decoder looks each row's
    contexts up from the rows before it, and gets the same, for symbols over each row's whole range."""
    centers = np.zeros((2, 2, 1), np.int32)
    s = np.array([[[-3, 0, 1]], [[2, -1, 0]]], np.int32).repeat(2, axis=1)  # [C=2, F=2, T=3]
    s[:, 1] += 1
    # f = 0, c = 0: a = 2, b = 0 -> 6; f = 1 reads clip(d[c, 0], -2, 2) + 2; c = 1 reads min(|d[0, f]|, 2)
    np.testing.assert_array_equal(entropy.contexts(s, centers), [
        [[6, 6, 6], [0, 6, 9]],
        [[6 + 2, 6 + 0, 6 + 1], [12 + 2, 3 + 1, 6 + 2]],
    ])
    t = tables(seed=6)
    ct = entropy.fit_context_tables([correlated(t, 50, seed=1)], t)
    s = sample(t, 64, seed=8)
    every = entropy.contexts(s, ct.center)
    a3, b = ct._context_terms
    idx = (s - ct.low).reshape(t.channels * t.bins, -1)
    for r in range(t.channels * t.bins):
        c, f = divmod(r, t.bins)
        looked_up = (a3[r - 1][idx[r - 1]] if f else 6) + (b[r - t.bins][idx[r - t.bins]] if c else 0)
        np.testing.assert_array_equal(looked_up, every[c, f])


def test_context_tables_refuse_bad_shapes() -> None:
    t = tables(seed=5)
    d = entropy.fit_context_tables([correlated(t, 100, seed=0)], t).to_dict()
    for bad in ({"centers": d["centers"][:-1]},  # a row without its center
                {"freqs": d["freqs"][:-1]},  # a missing context table
                {"context": 2},  # an unknown context scheme
                {"centers": [o - 1 for o in d["offsets"]]},  # centers outside their rows
                {"freqs": [[2**16 - 3, 1, 1, 1] if i == 1 else f for i, f in enumerate(d["freqs"])]}):  # sizes differ
        with pytest.raises(ModelError):
            EntropyTables.from_dict(d | bad)


@pytest.mark.parametrize("context", [0, 1])
def test_sections_decoded_together_give_each_its_own_symbols(context: int) -> None:
    """A stream decoder decodes a push's packets together (`decode_many`): the same symbols as one by one,
    and a damaged section among them is a FormatError, not wrong symbols for its neighbours."""
    t = tables(seed=8)
    if context:
        t = entropy.fit_context_tables([correlated(t, 200, seed=s) for s in range(3)], t)
    parts = [correlated(t, 31, seed=20 + k) for k in range(5)]
    coded = [entropy.encode(s, t) for s in parts]
    np.testing.assert_array_equal(entropy.decode_many(coded, t, 31), np.stack(parts))
    assert entropy.decode_many([], t, 31).shape == (0, 3, 4, 31)
    with pytest.raises(FormatError, match="multiple of 4"):
        entropy.decode_many(coded[:2] + [coded[2][:-1]] + coded[3:], t, 31)


@pytest.mark.parametrize("point_kbps", [6.0, 12.0])
def test_rate_aware_rounding_trades_a_little_error_for_fewer_bytes(point_kbps: float) -> None:
    """A shipped context-coded model's latent of real speech: lambda 0 is plain rounding; as lambda rises the
    section shrinks, every symbol stays one of its value's two neighbours (in range), and the decoder reads
    back exactly the symbols chosen (the format is untouched)."""
    import soundfile as sf

    from codec_rt import ladder

    model = Model.load(ladder.choose(point_kbps).path)
    t = model.entropy
    assert t is not None and t.context == 1
    x, _ = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    cfg = model.config
    z = model.encode(to_features(stft(x[None] * 4, cfg.n_fft, cfg.hop)))[0]
    np.testing.assert_array_equal(entropy.rate_aware_symbols(z, t, 0.0), entropy.to_symbols(z, t))
    sizes, errors = [], []
    for lam in (0.0, 0.1, 0.3, 1.0):
        s = entropy.rate_aware_symbols(z, t, lam)
        assert np.all((s == np.clip(np.floor(z), t.low, t.high)) | (s == np.clip(np.floor(z) + 1, t.low, t.high)))
        data = entropy.encode(s, t)
        np.testing.assert_array_equal(entropy.decode(data, t, s.shape[-1]), s)
        sizes.append(len(data))
        errors.append(float(np.mean((z - s) ** 2)))
    assert sizes[0] > sizes[1] > sizes[2] > sizes[3]
    assert errors[0] < errors[1] < errors[2] < errors[3] < 0.25  # at most the wrong neighbour, on average far less
    assert sizes[2] < 0.95 * sizes[0]


def test_rate_aware_rounding_follows_the_context_the_chosen_symbols_pick() -> None:
    """With context tables, each row's costs come from the table that the symbols already chosen (not the
    plainly rounded ones) select: the choice equals a per-value recomputation under `contexts`; the steps
    at an onset (the latent's RMS change over `ONSET_STEP_CHANGE`) and their neighbours round plainly."""
    rng = np.random.default_rng(3)
    base = tables(seed=4, channels=3, bins=5)
    fitted = entropy.fit_context_tables([sample(base, 400, seed=k) for k in range(3)], base)
    # a latent that moves a little from step to step (a step change's RMS about 0.8), around varied rows
    z = (sample(base, 1, seed=9) + rng.uniform(-1.5, 1.5, (3, 5, 60))).astype(np.float32)
    lam = 0.7
    z[:, :, 30] += 8  # an onset: steps 29 to 31 keep plain rounding
    s = entropy.rate_aware_symbols(z, fitted, lam)
    ctx = entropy.contexts(s, fitted.center)
    rms = np.sqrt(np.mean(np.diff(z.astype(np.float64), axis=2) ** 2, axis=(0, 1)))
    onset = np.concatenate([[False], rms > entropy.ONSET_STEP_CHANGE])
    keep = onset | np.roll(onset, -1) | np.roll(onset, 1)
    assert 0 < keep.sum() < 10 and keep[29:32].all()
    assert np.any((s != entropy.to_symbols(z, fitted))[..., ~keep])  # lambda moved some values elsewhere
    for ci, fi, j in zip(*np.nonzero(np.ones_like(s)), strict=True):
        if keep[j]:
            assert s[ci, fi, j] == entropy.to_symbols(z, fitted)[ci, fi, j]
            continue
        r = ci * fitted.bins + fi
        lo, hi = int(fitted.low[ci, fi, 0]), int(fitted.high[ci, fi, 0])
        cands = sorted({min(max(int(np.floor(z[ci, fi, j])) + k, lo), hi) for k in (0, 1)})
        bits = fitted._bits[r][ctx[ci, fi, j]]
        cost = [(float(z[ci, fi, j]) - c) ** 2 + lam * bits[c - lo] for c in cands]
        assert s[ci, fi, j] == cands[int(np.argmin(cost))]


def test_with_the_input_power_only_a_transient_keeps_plain_rounding() -> None:
    """Two onsets of the same size in the latent: at step 15 a click (the input's power back under a quarter
    of its burst's two steps on), at step 40 a tone that starts and stays. Told each step's power, the click's
    steps 14 to 16 keep plain rounding and the tone's onset rounds rate-aware like the steps after it (plain,
    it came out louder than them: docs/MEASURED.md); without the power both keep plain rounding."""
    rng = np.random.default_rng(6)
    t = tables(seed=6, channels=3, bins=5)
    z = (sample(t, 1, seed=2) + rng.uniform(-1.5, 1.5, (3, 5, 60))).astype(np.float32)
    z[:, :, 15] += 8  # the click's step
    z[:, :, 40:] += 8  # the tone from step 40 on
    power = np.full(60, 1e-4)
    power[14:17] = [0.2, 1.0, 0.3]  # the click's burst, gone two steps on
    power[39:] = 1.0  # the tone's, steady from its onset
    lam, plain = 0.7, entropy.to_symbols(z, t)
    without = entropy.rate_aware_symbols(z, t, lam)
    told = entropy.rate_aware_symbols(z, t, lam, power)
    for s in (without, told):
        np.testing.assert_array_equal(s[..., 14:17], plain[..., 14:17])
    np.testing.assert_array_equal(without[..., 39:42], plain[..., 39:42])
    assert np.any(told[..., 39:42] != plain[..., 39:42])
    np.testing.assert_array_equal(told[..., 42:], without[..., 42:])


def test_an_onset_at_a_sections_end_is_told_by_the_steps_after_it() -> None:
    """A tone that starts at a packet's second-last step: the power of the steps after the section (the
    packet's window, which the stream encoder has) tells it sustained, and it rounds rate-aware; told only
    the section's own steps, it keeps plain rounding, as an onset too near the end to tell (a helper's
    sweep of onset positions found a fifth of them so, framed)."""
    rng = np.random.default_rng(7)
    t = tables(seed=6, channels=3, bins=5)
    z = (sample(t, 1, seed=2) + rng.uniform(-1.5, 1.5, (3, 5, 30))).astype(np.float32)
    z[:, :, 28:] += 8
    power = np.concatenate([np.full(27, 1e-4), np.ones(5)])  # 30 steps, then 2 of the window's after them
    lam, plain = 0.7, entropy.to_symbols(z, t)
    own = entropy.rate_aware_symbols(z, t, lam, power[:30])
    told = entropy.rate_aware_symbols(z, t, lam, power)
    np.testing.assert_array_equal(own[..., 27:], plain[..., 27:])
    assert np.any(told[..., 27:] != plain[..., 27:])
    with pytest.raises(CodecError, match="one per step"):
        entropy.rate_aware_symbols(z, t, lam, power[:29])


def test_the_onset_sum_adds_the_rows_in_coding_order() -> None:
    """Two steps whose change sums, row after row, to 1 ulp under `ONSET_STEP_CHANGE**2 * rows` (no onset:
    every value rounds rate-aware), where numpy's pairwise sum of the same squares gives 4 ulps over it:
    the order FORMAT.md 7.4 and the JavaScript encoder use decides (a helper's cross-runtime check found
    the two runtimes split here before the rows were summed in order)."""
    t = tables(seed=5, channels=4, bins=6)
    d = np.zeros(24, np.float32)
    d[:4], d[4], d[5] = np.float32("12.247041"), np.float32("0.199929"), np.float32("6.5404085e-05")
    d[[6, 7, 12, 13, 14, 15, 20, 21, 22, 23]] = np.float32("2.2618373e-07")  # each under half an ulp of the sum
    z = np.stack([np.zeros(24, np.float32), d], axis=1).reshape(4, 6, 2)
    limit = entropy.ONSET_STEP_CHANGE**2 * 24
    in_order = 0.0
    for v in d.astype(np.float64):
        in_order += v * v
    assert in_order < limit < float(np.sum(d.astype(np.float64).reshape(24, 1) ** 2, axis=0)[0])
    lam = 1000.0
    s = entropy.rate_aware_symbols(z, t, lam)
    x = z.astype(np.float64)
    lo = np.clip(np.floor(x), t.low, t.high)
    hi = np.clip(np.floor(x) + 1, t.low, t.high)
    want = np.empty_like(s)
    for r in range(24):
        ci, fi = divmod(r, 6)
        bits = t._bits[r][0][(np.stack([lo[ci, fi], hi[ci, fi]]) - t.offsets[r]).astype(int)]
        cost = (x[ci, fi] - np.stack([lo[ci, fi], hi[ci, fi]])) ** 2 + lam * bits
        want[ci, fi] = np.where(cost[1] < cost[0], hi[ci, fi], lo[ci, fi])
    assert np.any(want != entropy.to_symbols(z, t))  # plain rounding, as at an onset, would differ
    np.testing.assert_array_equal(s, want)


def test_symbol_costs_sit_on_a_grid_that_every_log2_rounds_alike() -> None:
    """Rate-aware rounding weighs `precision - log2(freq)` on a grid of 2**-16 (FORMAT.md 7.4): two runtimes'
    `log2`, which may differ in the last bit (numpy's and JavaScript's do for 51 frequencies up to 2**16),
    must give the same costs. No frequency up to 2**24 (the largest precision) lies within 1e-8 of a step
    of a rounding midpoint (the nearest: 6.6e-8, at 1205113), far above float64's error there (4e-10)."""
    nearest = 1.0
    for start in range(1, 2**24 + 1, 2**22):
        f = np.arange(start, min(start + 2**22, 2**24 + 1), dtype=np.float64)
        v = np.log2(f) / entropy.BITS_STEP
        nearest = min(nearest, float(np.min(np.abs(v - np.floor(v) - 0.5))))
    assert nearest > 1e-8
    t = tables()
    for row, freqs in zip(t._bits, t.freqs, strict=True):
        np.testing.assert_allclose(row[0], 16 - np.log2(np.array(freqs, np.float64)), atol=entropy.BITS_STEP / 2)
        assert np.all(row[0] / entropy.BITS_STEP == np.rint(row[0] / entropy.BITS_STEP))
