"""``squall synth --kind harmonics``: seed 001's signals, reproducible, with the periods it says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main
from squall.data.readers import ReaderConfig, read_data
from squall.data.synthetic import generate_harmonics, harmonic_signals
from squall.errors import SquallError


def test_same_seed_same_signals_other_seed_other_signals(tmp_path):
    a = generate_harmonics(tmp_path / "a", components=4, steps=300, seed=5)
    b = generate_harmonics(tmp_path / "b", components=4, steps=300, seed=5)
    c = generate_harmonics(tmp_path / "c", components=4, steps=300, seed=6)
    for name in ("harmonics", "components"):
        assert a[name].read_bytes() == b[name].read_bytes()
    assert a["harmonics"].read_bytes() != c["harmonics"].read_bytes()


def test_each_track_is_its_listed_sinusoids_plus_noise():
    values, table = harmonic_signals(components=6, tracks=5, steps=2000, noise=0.1, seed=1)
    assert values.shape == (5, 2000)
    counts = table.groupby("track").size()
    assert counts.between(1, 6).all() and len(counts) == 5
    t = np.arange(2000)
    for k, (_, comp) in enumerate(table.groupby("track", sort=True)):
        assert comp["period_steps"].between(2, 100).all()
        assert np.isclose(comp["amplitude"].sum(), 1.0)
        clean = sum(
            a * np.sin(2 * np.pi * t / p + ph)
            for p, a, ph in comp[["period_steps", "amplitude", "phase"]].to_numpy()
        )
        residual = values[k] - clean
        assert abs(residual.std() - 0.1) < 0.01 and abs(residual.mean()) < 0.01


def test_known_period_is_the_spectral_peak():
    values, table = harmonic_signals(components=1, tracks=3, steps=1200, noise=0.05, seed=2)
    for k, period in enumerate(table["period_steps"]):
        amp = np.abs(np.fft.rfft(values[k] * np.hanning(1200)))
        freq = np.fft.rfftfreq(1200)
        peak = freq[1:][np.argmax(amp[1:])]
        assert abs(1 / peak - period) / period < 0.05


def test_synth_command_writes_what_the_generic_reader_reads(tmp_path, capsys):
    out = tmp_path / "h"
    assert main(["synth", "--kind", "harmonics", "--components", "3", "--tracks", "2",
                 "--steps", "50", "--seed", "4", "--out", str(out), "--quiet"]) == 0  # fmt: skip
    obs = read_data(out / "harmonics.csv", ReaderConfig(track_column="track"))
    assert obs.features == ["value"] and sorted(obs.frame["track"].unique()) == ["h001", "h002"]
    assert len(obs) == 100
    for _, times in obs.frame.groupby("track")["time"]:
        assert (times.diff().dropna() == pd.Timedelta("1h")).all()
    comps = pd.read_csv(out / "components.csv")
    assert list(comps.columns) == ["track", "component", "period_steps", "amplitude", "phase"]
    assert main(["synth", "--kind", "harmonics", "--components", "0", "--out", str(out)]) == 2
    assert "--components" in capsys.readouterr().err


def test_bad_arguments_are_one_line_errors(tmp_path):
    with pytest.raises(SquallError, match="components"):
        harmonic_signals(components=0)
    with pytest.raises(SquallError, match="periods"):
        harmonic_signals(periods=(1, 5))
    with pytest.raises(SquallError, match="noise"):
        harmonic_signals(noise=float("nan"))
