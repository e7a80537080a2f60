"""squall.data.scaling.Scaler: fitted on training data only, stored as plain numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from squall.data.scaling import Scaler
from squall.errors import SquallError

NAN = np.nan

#: Training data (N=5, F=3) with missing values; per feature, by hand:
#: a: 1, 3, 5, 7 (NaN ignored) -> min 1, max 7, mean 4, std sqrt(5)
#: b: -10, 0, 10, 20, 30      -> min -10, max 30, mean 10, std sqrt(200)
#: c: 2, 2, 2 (constant)       -> min = max = mean = 2, std 0
TRAIN = np.array(
    [[1.0, -10.0, 2.0], [3.0, 0.0, NAN], [NAN, 10.0, 2.0], [5.0, 20.0, NAN], [7.0, 30.0, 2.0]]
)
FEATURES = ["a", "b", "c"]


def fitted(kind="minmax", values=TRAIN):
    return Scaler(kind, list(FEATURES)).fit(values)


def test_minmax_maps_training_min_and_max_to_0_and_1_ignoring_nan():
    s = fitted("minmax")
    np.testing.assert_allclose(s.offset_, [1.0, -10.0, 2.0])
    np.testing.assert_allclose(s.scale_[:2], [6.0, 40.0])
    scaled = s.transform(TRAIN)
    assert np.nanmin(scaled[:, 0]) == pytest.approx(0.0)
    assert np.nanmax(scaled[:, 0]) == pytest.approx(1.0)
    np.testing.assert_allclose(scaled[:, 1], [0.0, 0.25, 0.5, 0.75, 1.0])
    # NaN stays NaN in transform (fill is a separate step)
    np.testing.assert_array_equal(np.isnan(scaled), np.isnan(TRAIN))


def test_standard_maps_mean_and_std_to_0_and_1():
    s = fitted("standard")
    np.testing.assert_allclose(s.offset_[:2], [4.0, 10.0])
    np.testing.assert_allclose(s.scale_[:2], [np.sqrt(5.0), np.sqrt(200.0)])
    scaled = s.transform(TRAIN)
    for k in range(2):
        column = scaled[:, k][~np.isnan(scaled[:, k])]
        assert column.mean() == pytest.approx(0.0, abs=1e-12)
        assert column.std() == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_constant_feature_gets_scale_1_not_inf(kind):
    s = fitted(kind)
    assert s.scale_[2] == 1.0
    scaled = s.transform(TRAIN)
    assert np.isfinite(scaled[~np.isnan(TRAIN)]).all()
    np.testing.assert_allclose(scaled[[0, 2, 4], 2], 0.0)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_fill_is_the_scaled_training_mean(kind):
    s = fitted(kind)
    means = np.array([4.0, 10.0, 2.0])
    np.testing.assert_allclose(s.fill_, (means - s.offset_) / s.scale_)
    if kind == "minmax":
        np.testing.assert_allclose(s.fill_, [0.5, 0.5, 0.0])
    else:
        np.testing.assert_allclose(s.fill_, [0.0, 0.0, 0.0], atol=1e-12)
    filled = s.fill(s.transform(TRAIN))
    assert not np.isnan(filled).any()
    assert filled[2, 0] == pytest.approx(s.fill_[0]) and filled[1, 2] == pytest.approx(s.fill_[2])


def test_fit_accepts_windows_of_shape_n_t_f():
    windows = np.stack([TRAIN, TRAIN + 1.0])  # (2, 5, 3)
    s = Scaler("minmax", list(FEATURES)).fit(windows)
    np.testing.assert_allclose(s.offset_, [1.0, -10.0, 2.0])
    np.testing.assert_allclose(s.offset_ + s.scale_, [8.0, 31.0, 3.0])
    assert s.transform(windows).shape == windows.shape


def test_feature_without_observed_values_is_an_error_naming_it():
    values = TRAIN.copy()
    values[:, 1] = NAN
    with pytest.raises(SquallError, match=r"\bb\b"):
        Scaler("minmax", list(FEATURES)).fit(values)


def test_unknown_kind_is_an_error():
    with pytest.raises(SquallError, match="robust"):
        Scaler("robust", list(FEATURES)).fit(TRAIN)


def test_fit_with_wrong_number_of_feature_names_is_a_squall_error():
    with pytest.raises(SquallError, match="feature"):
        Scaler("minmax", ["a", "b"]).fit(TRAIN)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_transform_inverse_round_trip(kind):
    s = fitted(kind)
    new = np.array([[0.5, 100.0, 2.5], [NAN, -3.0, 1.0]])
    back = s.inverse_transform(s.transform(new))
    np.testing.assert_allclose(back, new)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(new))


def test_transform_never_refits():
    s = fitted("minmax")
    before = (s.offset_.copy(), s.scale_.copy(), s.fill_.copy())
    new = np.array([[13.0, -50.0, 4.0], [-5.0, 70.0, 0.0]])
    scaled = s.transform(new)
    # outside the training range maps outside [0, 1]: nothing is refitted on new data
    np.testing.assert_allclose(scaled[:, 0], [2.0, -1.0])
    np.testing.assert_allclose(scaled[:, 1], [-1.0, 2.0])
    np.testing.assert_allclose(scaled[:, 2], [2.0, -2.0])
    for a, b in zip(before, (s.offset_, s.scale_, s.fill_), strict=True):
        np.testing.assert_array_equal(a, b)


def test_transform_checks_the_feature_count_and_fitting():
    s = fitted("minmax")
    with pytest.raises(SquallError, match="3"):
        s.transform(np.zeros((2, 4)))
    with pytest.raises(SquallError, match="fit"):
        Scaler("minmax", list(FEATURES)).transform(TRAIN)


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_to_dict_from_dict_round_trip(kind):
    s = fitted(kind)
    data = json.loads(json.dumps(s.to_dict()))  # plain JSON numbers
    back = Scaler.from_dict(data)
    assert back.kind == kind and back.features == FEATURES
    for name in ("offset_", "scale_", "fill_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name))
    new = np.array([[2.0, 5.0, 2.0], [NAN, 40.0, 3.0]])
    np.testing.assert_array_equal(back.transform(new), s.transform(new))


@pytest.mark.parametrize(
    "change",
    [
        {"offset": [1.0, 2.0]},
        {"scale": [1.0, 1.0, 1.0, 1.0]},
        {"fill": []},
        {"features": ["a", "b"]},
        {"offset": [1.0, float("nan"), 0.0]},
        {"scale": [1.0, float("inf"), 1.0]},
        {"fill": [0.0, float("-inf"), 0.0]},
        {"scale": [1.0, 0.0, 1.0]},
        {"scale": [1.0, -2.0, 1.0]},
        {"offset": ["x", 1.0, 2.0]},
    ],
    ids=[
        "short-offset",
        "long-scale",
        "empty-fill",
        "fewer-features",
        "nan-offset",
        "inf-scale",
        "inf-fill",
        "zero-scale",
        "negative-scale",
        "text",
    ],
)
def test_from_dict_rejects_wrong_lengths_and_non_finite(change):
    data = fitted("minmax").to_dict()
    data.update(change)
    with pytest.raises(SquallError):
        Scaler.from_dict(data)


@pytest.mark.parametrize("key", ["kind", "features", "offset", "scale", "fill"])
def test_from_dict_rejects_missing_keys(key):
    data = fitted("minmax").to_dict()
    del data[key]
    with pytest.raises(SquallError):
        Scaler.from_dict(data)


def test_from_minmax_matches_a_fitted_minmax_scaler():
    s = fitted("minmax")
    known = Scaler.from_minmax(FEATURES, [1.0, -10.0, 2.0], [7.0, 30.0, 2.0])
    np.testing.assert_allclose(known.transform(TRAIN), s.transform(TRAIN))
