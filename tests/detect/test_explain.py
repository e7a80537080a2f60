"""Why was this flagged: direction and size in physical units, QC flags, station."""

import numpy as np
import pandas as pd
import pytest

from squall.data import windowset
from squall.data.noaa import read_noaa
from squall.data.scaling import Scaler
from squall.data.windows import WindowSettings, make_windows
from squall.detect.explain import explain, explanation_columns
from squall.detect.scoring import score
from squall.report.tables import events_frame, scores_frame


def test_a_pressure_drop_is_explained_in_hpa(noaa_csv):
    t0 = pd.Timestamp("2025-03-01")
    rows = []
    for h in range(48):
        drop = 14.0 if h == 30 else 0.0  # one report 14 hPa low
        rows.append(
            {
                "STATION": "SHIP1",
                "DATE": (t0 + pd.Timedelta(hours=h)).isoformat(),
                "LATITUDE": "5.00",
                "LONGITUDE": f"{105 + h / 100:.2f}",
                "SEA_LVL_PRES": str(int(round((1010.0 - drop) * 10))),
                "AIR_TEMP": "280",
                "NCDC_QC_FLAGS": "11111" + ("9" if h == 30 else "1") + "11111111",
                "TRIM_FLAG": "1111" + ("5" if h == 30 else "1") + "1",
            }
        )
    obs = read_noaa(noaa_csv(rows), ["SEA_LVL_PRES", "AIR_TEMP"])
    settings = WindowSettings(length=12, stride=1, resample="1h", max_gap="6h")
    w = make_windows(obs, settings)
    scaler = Scaler.from_minmax(obs.features, [1000.0, 20.0], [1020.0, 35.0])
    ws = windowset.build(w, obs, scaler)
    normal = scaler.transform(np.array([1010.0, 28.0]))  # what a perfect model expects
    recon = np.broadcast_to(normal, ws.x.shape).copy()
    scores = score(ws.x, recon, ws.mask)
    table = scores_frame(ws, scores, threshold=1e-6)
    assert table["flagged"].any()
    why = explain(table, ws, scores, scaler, obs.units)
    assert len(why) == len(events_frame(table, ws.features)) == 1
    p = why[0]["features"]["SEA_LVL_PRES"]
    assert p["deviation"] == pytest.approx(-14.0) and p["unit"] == "hPa"
    assert p["time"] == "2025-03-02T06:00:00"  # hour 30
    assert p["share"] == pytest.approx(1.0)
    assert "SEA_LVL_PRES 14 hPa below expected" in why[0]["text"]
    assert why[0]["qc"] == {"SEA_LVL_PRES NCDC 9": 1, "SEA_LVL_PRES TRIM 5": 1}
    assert why[0]["track"] == "SHIP1"
    cols = explanation_columns(why, ws.features)
    assert cols.loc[0, "dev_SEA_LVL_PRES"] == pytest.approx(-14.0)
    assert cols.loc[0, "dev_AIR_TEMP"] == pytest.approx(0.0)
    assert "SEA_LVL_PRES NCDC 9 x1" in cols.loc[0, "qc_flags"]
