"""Open a report in headless Chromium, offline, and check what it shows.

Used by the report's browser test and to make the README's screenshot::

    python -m squall.report.browser report.html --screenshot docs/images/report.png \
        --height 1000 --scroll-to "#event-6"

Chromium runs with a fresh temporary profile, no background networking, no component updates,
no sync, no QUIC, and every connection sent to a proxy on a dead port (127.0.0.1:9), so a page
that tried to load anything from the network would fail to, and Chrome's performance log
(``Network.requestWillBeSent``) records every request it did try. Needs the Debian packages
``chromium`` and ``chromium-driver`` and the Python package selenium (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from squall.errors import SquallError

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Schemes a self-contained page may load from.
LOCAL_SCHEMES = ("data:", "file:", "about:", "chrome:", "chrome-error:", "blob:")
#: Elements whose size and images are measured (CSS selectors).
SELECTORS = (
    "#timeline-img",
    "section.event",
    "img.event-plot",
    "#map-img",
    "#training-img",
    "#histograms-img",
    "#correlation-img",
)


@dataclass
class PageCheck:
    """What Chromium saw: the screenshot, every requested URL and the measured elements
    (selector -> one dict per element: ``width``, ``height`` and, for images, ``complete``
    and ``natural_width``)."""

    screenshot: bytes
    requests: list[str]
    elements: dict[str, list[dict]] = field(default_factory=dict)
    title: str = ""

    @property
    def remote_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


def available() -> str | None:
    """None when Chromium, chromedriver and selenium are all there, else what is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install 'squall[dev]')")
    return ", ".join(missing) or None


def open_page(
    path: str | os.PathLike[str], width: int = 1280, height: int = 900, scroll_to: str | None = None
) -> PageCheck:
    """Load ``path`` in headless Chromium; return the screenshot (``width`` x ``height``
    pixels from the top, or from the element ``scroll_to`` selects), the requests and the
    element sizes."""
    absent = available()
    if absent:
        raise SquallError(f"cannot open a browser: {absent} not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    page = Path(path).resolve()
    if not page.is_file():
        raise SquallError(f"no such file: {path}")
    profile = tempfile.mkdtemp(prefix="squall-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-default-apps",
        "--disable-extensions",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:  # the window includes the browser's frame; the page gets exactly width x height
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.get(page.as_uri())
        driver.execute_script("return document.readyState")
        elements = {sel: driver.execute_script(_MEASURE, sel) for sel in SELECTORS}
        if scroll_to:
            driver.execute_script(
                "var el = document.querySelector(arguments[0]);"
                "if (el) { el.scrollIntoView(true); }",
                scroll_to,
            )
        shot = driver.get_screenshot_as_png()
        requests = []
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                requests.append(message["params"]["request"]["url"])
        return PageCheck(shot, requests, elements, driver.title)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_MEASURE = """
return Array.from(document.querySelectorAll(arguments[0])).map(function (el) {
  var r = el.getBoundingClientRect();
  var out = {width: r.width, height: r.height};
  if (el.tagName === 'IMG') { out.complete = el.complete; out.natural_width = el.naturalWidth; }
  return out;
});
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m squall.report.browser",
        description="open a report offline in headless Chromium",
    )
    p.add_argument("report", help="the HTML file")
    p.add_argument("--screenshot", required=True, help="PNG to write")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--scroll-to", help="CSS selector of the element to show at the top")
    a = p.parse_args(argv)
    from squall.io import atomic_path

    try:
        check = open_page(a.report, a.width, a.height, a.scroll_to)
        with atomic_path(a.screenshot) as tmp:
            tmp.write_bytes(check.screenshot)
    except SquallError as exc:
        print(f"squall: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{a.screenshot}: {len(check.screenshot):,} bytes; {len(check.requests)} requests, "
        f"{len(check.remote_requests)} remote",
        file=sys.stderr,
    )
    return 0 if not check.remote_requests else 1


if __name__ == "__main__":
    sys.exit(main())
