"""squall report on a forecasting bundle: the page draws each event's observed values against
the model's forecasts (the predictor's horizon cells), not a reconstruction it does not have."""

from tests.forecast.test_forecast_backtest import _forecast_bundle

from squall.data.synthetic import generate_harmonics


def test_report_runs_on_a_forecaster(tmp_path, cli):
    _, path = _forecast_bundle(tmp_path)
    data = generate_harmonics(tmp_path / "d", components=2, tracks=2, steps=150, noise=0.05)
    out = tmp_path / "r.html"
    code, _, err = cli(
        "report", path, data["harmonics"], "--out", out, "--threshold-quantile", "0.99", "--quiet"
    )
    assert code == 0, err
    page = out.read_text()
    assert "Event #0" in page and "<img" in page
