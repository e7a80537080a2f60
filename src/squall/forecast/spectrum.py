"""Spectra of sensor series: the windowed periodogram of a regularly sampled series, the
Lomb-Scargle periodogram of an irregular or gappy one, dominant periods, and sinusoids fitted by
least squares (the harmonic baseline and ``squall spectrum --extrapolate`` continue them).

Amplitudes are those of the sinusoids ``a cos(2 pi f t + phi)`` the series holds: the periodogram
divides ``|rfft(w y)|`` by the window's sum (its coherent gain) and doubles every bin but 0 and
Nyquist; Lomb-Scargle's amplitude at ``f`` is the least-squares sinusoid fit at ``f`` (Scargle
1982: with the time shift ``tau`` the cosine and sine terms are orthogonal), on the series
minus its mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from squall.errors import SquallError

__all__ = [
    "WINDOWS",
    "Spectrum",
    "components",
    "dominant",
    "eval_sinusoids",
    "fit_sinusoids",
    "lomb_scargle",
    "periodogram",
    "strongest_frequencies",
]

Array = NDArray[np.float64]
#: Window functions of ``squall spectrum --window-function`` (symmetric, numpy's).
WINDOWS = ("hann", "hamming", "none")
#: Lomb-Scargle frequency grid: this many points per 1 / span (the grid oversampling).
OVERSAMPLE = 5
#: Most frequencies a Lomb-Scargle grid gets (the step grows beyond it).
MAX_FREQUENCIES = 20_000


@dataclass(frozen=True)
class Spectrum:
    """Amplitude per frequency (cycles per time unit of the input), and how it was made."""

    frequency: Array
    amplitude: Array
    method: str  # "periodogram" or "lomb-scargle"


def _window(name: str, n: int) -> Array:
    if name == "hann":
        return np.hanning(n)
    if name == "hamming":
        return np.hamming(n)
    if name == "none":
        return np.ones(n)
    raise SquallError(f"window function must be one of {', '.join(WINDOWS)}, got {name!r}")


def periodogram(values: ArrayLike, window: str = "hann", dt: float = 1.0) -> Spectrum:
    """The windowed periodogram of a regularly sampled series (no NaN), sampling step ``dt``:
    frequencies ``k / (n dt)``, ``k = 0 .. n // 2``; amplitude ``c_k |rfft(w y)_k| / sum(w)``
    with ``c_k = 2`` except at 0 and Nyquist (``c = 1``). The mean is removed first, so bin 0
    is 0 and the spectrum shows the oscillations."""
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or len(y) < 4 or not np.isfinite(y).all():
        raise SquallError("a periodogram needs at least 4 regularly sampled finite values")
    w = _window(window, len(y))
    amp = np.abs(np.fft.rfft((y - y.mean()) * w)) / w.sum()
    amp[1 : len(amp) - (len(y) % 2 == 0)] *= 2.0
    return Spectrum(np.asarray(np.fft.rfftfreq(len(y), dt), dtype=np.float64), amp, "periodogram")


def ls_frequencies(times: ArrayLike) -> Array:
    """The Lomb-Scargle grid for sample ``times``: from ``1 / span`` to the pseudo-Nyquist
    ``0.5 / median spacing``, step ``1 / (OVERSAMPLE span)`` (at most ``MAX_FREQUENCIES``)."""
    t = np.sort(np.asarray(times, dtype=np.float64))
    span = t[-1] - t[0]
    gaps = np.diff(t)
    gaps = gaps[gaps > 0]
    if span <= 0 or not gaps.size:
        raise SquallError("Lomb-Scargle needs samples at two different times at least")
    low, high = 1.0 / span, 0.5 / float(np.median(gaps))
    if high <= low:
        return np.array([low])
    step = max(1.0 / (OVERSAMPLE * span), (high - low) / MAX_FREQUENCIES)
    return np.arange(low, high + step / 2, step)


def lomb_scargle(
    times: ArrayLike, values: ArrayLike, frequencies: ArrayLike | None = None
) -> Spectrum:
    """Lomb-Scargle periodogram of samples ``values`` at ``times`` (any spacing, NaN pairs
    left out), at ``frequencies`` (default :func:`ls_frequencies`). At each ``f``, with
    ``tau`` from ``tan(4 pi f tau) = sum sin(4 pi f t) / sum cos(4 pi f t)`` and
    ``c = cos(2 pi f (t - tau))``, ``s = sin(...)``: ``a = sum y c / sum c^2``,
    ``b = sum y s / sum s^2`` (``y`` minus its mean), amplitude ``sqrt(a^2 + b^2)``: the
    least-squares sinusoid at ``f``."""
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if t.shape != y.shape:
        raise SquallError(f"times {t.shape} and values {y.shape} differ in length")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    if len(t) < 4:
        raise SquallError("Lomb-Scargle needs at least 4 observed values")
    freq = ls_frequencies(t) if frequencies is None else np.asarray(frequencies, np.float64)
    y = y - y.mean()
    t = t - t[0]
    amp = np.empty(len(freq))
    chunk = max(1, 2_000_000 // len(t))
    for lo in range(0, len(freq), chunk):
        # two trigonometric evaluations per sample and frequency: cos and sin of 2 w t and of
        # w (t - tau) follow from C = cos w t and S = sin w t by the angle-sum identities
        wt = (2.0 * np.pi * freq[lo : lo + chunk, None]) * t
        cw, sw = np.cos(wt), np.sin(wt)
        cc0, ss0, cs0 = (cw * cw).sum(1), (sw * sw).sum(1), (cw * sw).sum(1)
        two_w_tau = np.arctan2(2.0 * cs0, cc0 - ss0)  # tan 2 w tau = sum sin 2wt / sum cos 2wt
        ct, st = np.cos(two_w_tau / 2), np.sin(two_w_tau / 2)
        yc, ys = cw @ y, sw @ y
        cc = ct * ct * cc0 + 2 * ct * st * cs0 + st * st * ss0  # sum cos^2 w (t - tau)
        ss = st * st * cc0 - 2 * ct * st * cs0 + ct * ct * ss0  # sum sin^2 w (t - tau)
        # a term whose sum of squares vanishes (sin at the Nyquist frequency of samples on a
        # regular grid) carries no information: 0, not a rounding error divided by ~0
        tiny = 1e-9 * len(t)
        a = np.where(cc > tiny, (ct * yc + st * ys) / np.where(cc > tiny, cc, 1.0), 0.0)
        b = np.where(ss > tiny, (ct * ys - st * yc) / np.where(ss > tiny, ss, 1.0), 0.0)
        amp[lo : lo + chunk] = np.hypot(a, b)
    return Spectrum(freq, amp, "lomb-scargle")


def dominant(spectrum: Spectrum, n: int) -> list[tuple[float, float]]:
    """The ``n`` strongest local maxima of the spectrum above frequency 0, strongest first, as
    ``(frequency, amplitude)``."""
    f, a = spectrum.frequency, spectrum.amplitude
    if len(a) < 2:
        return [(float(f[0]), float(a[0]))] if len(a) and f[0] > 0 else []
    left = np.r_[-np.inf, a[:-1]]
    right = np.r_[a[1:], -np.inf]
    peak = np.flatnonzero((a >= left) & (a > right) & (f > 0))
    best = peak[np.argsort(-a[peak], kind="stable")][:n]
    return [(float(f[i]), float(a[i])) for i in best]


def components(
    times: ArrayLike,
    values: ArrayLike,
    n: int,
    spectrum_of: Callable[[Array], Spectrum],
) -> list[tuple[float, float]]:
    """The ``n`` dominant sinusoids of a series, strongest first, as ``(frequency, amplitude)``
    (prewhitening, as CLEAN): the strongest peak of ``spectrum_of(residual)`` is taken, every
    frequency so far is refitted jointly by least squares (:func:`fit_sinusoids`) and the fit
    subtracted; the next peak is looked for in what is left. A side lobe of a strong peak (a
    gap's or the series end's leakage) so never counts as a period of its own. The amplitudes
    are those of the joint fit."""
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    residual = y - np.nanmean(y)
    freqs: list[float] = []
    for _ in range(n):
        top = dominant(spectrum_of(residual), 1)
        if not top or top[0][1] <= 1e-12 * (np.nanmax(np.abs(y)) or 1.0):
            break
        if any(np.isclose(top[0][0], g) for g in freqs):
            break
        freqs.append(top[0][0])
        coef = fit_sinusoids(t, y, freqs)
        residual = y - eval_sinusoids(coef, freqs, t)
    if not freqs:
        return []
    coef = fit_sinusoids(t, y, freqs)
    k = len(freqs)
    amps = np.hypot(coef[1 : k + 1], coef[k + 1 :])
    return [(f, float(a)) for f, a in zip(freqs, amps, strict=True)]


def _design(t: Array, freqs: Array) -> Array:
    arg = 2.0 * np.pi * t[:, None] * freqs[None, :]
    return np.hstack([np.ones((len(t), 1)), np.cos(arg), np.sin(arg)])


def fit_sinusoids(times: ArrayLike, values: ArrayLike, frequencies: ArrayLike) -> Array:
    """Least-squares coefficients of ``c0 + sum_j (a_j cos 2 pi f_j t + b_j sin 2 pi f_j t)``
    on the observed samples: ``[c0, a_1.., b_1..]``."""
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    keep = np.isfinite(y)
    freqs = np.asarray(frequencies, dtype=np.float64).reshape(-1)
    x = _design(t[keep], freqs)
    # the normal equations (size 2k + 1), solved by least squares: a tall lstsq is many times
    # slower, and the harmonic baseline fits thousands of times
    coef, *_ = np.linalg.lstsq(x.T @ x, x.T @ y[keep], rcond=1e-12)
    return np.asarray(coef, dtype=np.float64)


def eval_sinusoids(coef: ArrayLike, frequencies: ArrayLike, times: ArrayLike) -> Array:
    """The fitted sum of :func:`fit_sinusoids` at ``times``."""
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    freqs = np.asarray(frequencies, dtype=np.float64).reshape(-1)
    return np.asarray(_design(t, freqs) @ np.asarray(coef, dtype=np.float64), dtype=np.float64)


def _refined_peak(y: Array, pad: int, low: float) -> float | None:
    """The frequency (cycles per step) of the strongest peak of ``|rfft(y, pad)|`` at or above
    ``low``, refined by a parabola through the log amplitudes around it."""
    amp = np.abs(np.fft.rfft(y, pad))
    freq = np.fft.rfftfreq(pad)
    ok = np.flatnonzero(freq >= low)
    if not ok.size or not np.isfinite(amp[ok]).all() or amp[ok].max() <= 0:
        return None
    i = int(ok[np.argmax(amp[ok])])
    f = float(freq[i])
    if 0 < i < len(amp) - 1 and min(amp[i - 1], amp[i + 1]) > 0:
        la, lb, lc = np.log(amp[i - 1 : i + 2])
        den = la - 2 * lb + lc
        if den < 0:
            f += 0.5 * (la - lc) / den * (freq[1] - freq[0])
    return min(max(f, low), 0.5)


def strongest_frequencies(values: ArrayLike, k: int) -> Array:
    """Up to ``k`` frequencies (cycles per step) of a regularly sampled series, strongest first:
    the peak of the zero-padded (16 x) DFT of what is not yet explained, refined, then every
    frequency so far refitted jointly by least squares and the fit subtracted (greedy; a peak
    hidden by a stronger one's leakage is found once that one is removed). Frequencies below
    one cycle per series length are not looked at; a residual below 1e-9 of the series stops
    the search."""
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    t = np.arange(n, dtype=np.float64)
    pad = 1 << int(np.ceil(np.log2(16 * n)))
    residual = y - y.mean()
    scale = float(np.sqrt(np.mean(residual**2)))
    freqs: list[float] = []
    for _ in range(k):
        if scale == 0 or np.sqrt(np.mean(residual**2)) < 1e-9 * scale:
            break
        f = _refined_peak(residual, pad, 1.0 / n)
        if f is None or any(abs(f - g) < 0.25 / n for g in freqs):
            break
        freqs.append(f)
        coef = fit_sinusoids(t, y, freqs)
        residual = y - eval_sinusoids(coef, freqs, t)
    return _polish(t, y, np.asarray(freqs, dtype=np.float64), 1.0 / pad)


def _sse(t: Array, y: Array, freqs: Array) -> float:
    return float(np.sum((y - eval_sinusoids(fit_sinusoids(t, y, freqs), freqs, t)) ** 2))


def _polish(t: Array, y: Array, freqs: Array, width: float, sweeps: int = 1) -> Array:
    """Each frequency moved within ``+-width`` (the padded DFT's bin) to where the joint
    least-squares fit leaves the smallest residual (golden-section search, ``sweeps`` passes
    over the frequencies): the DFT grid's rounding no longer drifts the continuation's phase."""
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    freqs = freqs.copy()
    for _ in range(sweeps):
        for j in range(len(freqs)):
            lo, hi = freqs[j] - width, freqs[j] + width

            def cost(f: float, j: int = j) -> float:
                trial = freqs.copy()
                trial[j] = f
                return _sse(t, y, trial)

            a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
            ca, cb = cost(a), cost(b)
            for _ in range(16):
                if ca < cb:
                    hi, b, cb = b, a, ca
                    a = hi - golden * (hi - lo)
                    ca = cost(a)
                else:
                    lo, a, ca = a, b, cb
                    b = lo + golden * (hi - lo)
                    cb = cost(b)
            best = (lo + hi) / 2
            if cost(best) <= cost(freqs[j]):
                freqs[j] = best
    return freqs
