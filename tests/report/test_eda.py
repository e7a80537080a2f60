"""Exploratory statistics: the summary, pairwise correlations, top pairs, files and command."""

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from squall.cli.main import main
from squall.report.eda import EDA_OUTPUTS, correlations, summarize, top_pairs


def test_summary_counts_missing_and_quantiles():
    values = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, np.nan], "b": [np.nan] * 5})
    s = summarize(values, {"a": "hPa"}).set_index("feature")
    assert s.loc["a", "unit"] == "hPa" and s.loc["b", "unit"] == ""
    assert s.loc["a", "count"] == 4 and s.loc["a", "missing_share"] == pytest.approx(0.2)
    assert s.loc["a", "mean"] == pytest.approx(2.5)
    assert s.loc["a", "std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert s.loc["a", "q50"] == pytest.approx(2.5) and s.loc["a", "q25"] == pytest.approx(1.75)
    assert s.loc["a", "min"] == 1 and s.loc["a", "max"] == 4
    assert s.loc["b", "count"] == 0 and s.loc["b", "missing_share"] == 1
    assert np.isnan(s.loc["b", "mean"])
    assert list(s.columns[-8:]) == ["q01", "q05", "q25", "q50", "q75", "q95", "q99", "max"]


def test_correlations_use_jointly_observed_reports_and_rank_pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    values = pd.DataFrame(
        {"x": x, "neg": -3 * x + 1, "noise": rng.normal(size=200), "const": np.ones(200)}
    )
    values.loc[:49, "neg"] = np.nan  # 150 reports with both x and neg
    corr, counts = correlations(values)
    assert corr.loc["x", "neg"] == pytest.approx(-1.0)
    assert counts.loc["x", "neg"] == 150 and counts.loc["x", "x"] == 200
    assert np.isnan(corr.loc["x", "const"])  # no variance: no correlation
    pairs = top_pairs(corr, counts, n=2)
    assert len(pairs) == 2
    first = pairs.iloc[0]
    assert {first["feature_a"], first["feature_b"]} == {"x", "neg"}
    assert first["correlation"] == pytest.approx(-1.0) and first["reports"] == 150
    assert "const" not in set(pairs["feature_a"]) | set(pairs["feature_b"])


def test_eda_command_writes_tables_and_plots(tmp_path, capsys):
    from squall.data.synthetic import generate_demo_data

    paths = generate_demo_data(
        tmp_path / "data", seed=2, days_train=6, days_test=6, n_storms=2, n_faults=2
    )
    assert main(["eda", str(paths["test"]), "--out", str(tmp_path / "eda"), "--pairs", "3"]) == 0
    out = tmp_path / "eda"
    names = {p.name for p in out.iterdir()}
    # every output; besides them at most squall's own record of the run (see squall.io)
    assert set(EDA_OUTPUTS) <= names
    assert not {n for n in names - set(EDA_OUTPUTS) if n.endswith((".csv", ".png"))}
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["feature"]) == [
        "AIR_TEMP",
        "SEA_SURF_TEMP",
        "SEA_LVL_PRES",
        "WIND_SPEED",
        "WAVE_HGT",
        "WAVE_PERIOD",
    ]
    pres = summary.set_index("feature").loc["SEA_LVL_PRES"]
    assert pres["unit"] == "hPa" and 950 < pres["q50"] < 1050  # physical units, not raw
    corr = pd.read_csv(out / "correlation.csv", index_col="feature")
    assert np.allclose(np.diag(corr.to_numpy()), 1.0)
    assert np.allclose(corr.to_numpy(), corr.to_numpy().T, equal_nan=True)
    assert len(pd.read_csv(out / "top_pairs.csv")) == 3
    for name in ("histograms.png", "correlation.png"):
        image = matplotlib.image.imread(out / name)
        assert image.shape[0] > 200 and image.std() > 0.05
    assert "most correlated:" in capsys.readouterr().out


def test_eda_bad_input_is_one_line(tmp_path, capsys):
    assert main(["eda", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "eda")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("squall: error: no such file") and err.count("\n") == 1
    assert not (tmp_path / "eda").exists()
