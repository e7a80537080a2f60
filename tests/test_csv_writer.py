"""io.write_csv: the one CSV writer; its floats read back to the same numbers."""

import numpy as np
import pandas as pd

from squall.io import write_csv


def test_floats_round_trip_exactly(tmp_path):
    values = np.array([0.1 + 0.2, 1 / 3, 1e-300, 123456.78901234567, -2.5e17, np.pi])
    write_csv(pd.DataFrame({"x": values}), tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")["x"].to_numpy()
    assert np.array_equal(back, values)  # %.10g would have lost digits
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary left
