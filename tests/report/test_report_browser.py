"""The report in a real browser: headless Chromium, offline, renders the timeline, the event
panels and the map, and asks nothing of the network."""

import io
import os

import matplotlib.image
import pytest

from squall.report import browser
from squall.report.html import build_report, write_report

pytestmark = pytest.mark.browser


def _need_chromium() -> None:
    absent = [p for p in (browser.CHROMIUM, browser.CHROMEDRIVER) if not os.path.exists(p)]
    if absent:
        pytest.skip(
            f"{' and '.join(absent)} not installed (Debian packages chromium, "
            f"chromium-driver; 'make' installs them)"
        )


@pytest.fixture(scope="module")
def page(scored, tmp_path_factory):
    _need_chromium()
    out = tmp_path_factory.mktemp("browser") / "report.html"
    report = build_report(
        scored / "bundle",
        [scored / "data" / "test.csv"],
        labels=scored / "data" / "labels.csv",
        max_events=3,
    )
    write_report(report, out)
    return browser.open_page(out, width=1280, height=900)


def test_no_request_leaves_the_machine(page):
    assert page.requests, "the performance log recorded nothing: the check would prove nothing"
    assert any(u.startswith("file:") and u.endswith("/report.html") for u in page.requests)
    assert page.remote_requests == []
    assert sum(u.startswith("data:image/png") for u in page.requests) >= 5


def test_the_screenshot_is_not_blank(page):
    image = matplotlib.image.imread(io.BytesIO(page.screenshot), format="png")
    assert image.shape[:2] == (900, 1280)
    rgb = image[..., :3]
    assert rgb.std() > 0.05  # text and plots, not one colour
    assert (rgb.min(axis=2) < 0.3).mean() > 0.005  # some dark pixels: text, lines
    assert page.title.startswith("squall report")


def test_event_panels_and_map_rendered(page):
    panels = page.elements["section.event"]
    plots = page.elements["img.event-plot"]
    assert len(panels) == len(plots) == 3
    for el in panels + plots:
        assert el["width"] > 300 and el["height"] > 200
    for selector in (
        "#timeline-img",
        "#map-img",
        "#training-img",
        "#histograms-img",
        "#correlation-img",
    ):
        (img,) = page.elements[selector]
        assert img["complete"] and img["natural_width"] > 300, selector
        assert img["width"] > 300 and img["height"] > 200, selector
    for img in plots:
        assert img["complete"] and img["natural_width"] > 300


def test_a_remote_request_would_be_seen(tmp_path):
    """The control: a page that loads an image from the net is caught (and the dead proxy
    keeps the request from leaving)."""
    _need_chromium()
    page = tmp_path / "remote.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>x</p>"
        '<img src="http://example.invalid/figure.png"></body></html>'
    )
    check = browser.open_page(page, width=400, height=300)
    assert check.remote_requests == ["http://example.invalid/figure.png"]
