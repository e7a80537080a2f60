"""A small trained bundle, synthetic data with labelled events, and a detect run of it, shared by
the report tests (trained once per session: a few seconds)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def scored(tmp_path_factory) -> Path:
    """``data/`` (train.csv, test.csv, labels.csv), ``bundle/`` and ``found/`` (a detect run)."""
    pytest.importorskip("torch")
    from squall import pipeline
    from squall.data.synthetic import generate_demo_data

    root = tmp_path_factory.mktemp("report")
    paths = generate_demo_data(root / "data", seed=0)
    bundle = pipeline.train(
        paths["train"],
        root / "bundle",
        epochs=3,
        sizes=(16, 8),
        progress=False,
        log=lambda *_: None,
    )
    pipeline.detect(bundle, paths["test"], root / "found", plot=False)
    return root
