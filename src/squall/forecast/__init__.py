"""Forecasting without a learned model and how forecasts are judged: error metrics
(:mod:`~squall.forecast.metrics`), classical baselines (:mod:`~squall.forecast.baselines`),
spectra of regular and irregular series (:mod:`~squall.forecast.spectrum`) and rolling-origin
backtests (:mod:`~squall.forecast.backtest`). Numpy and pandas only; at the layer of
:mod:`squall.detect` (it may use data, bundles and engines)."""
