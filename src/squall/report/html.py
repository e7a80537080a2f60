"""The report a person reads: one self-contained HTML page per run (``squall report``).

The page needs nothing but itself: every figure is a PNG inside it (a ``data:`` URI), the style
sheet and the one small script (open the collapsed tables before printing) are inline, and it
names no other file or address, so it works offline and prints. Sections: what was run, the
error timeline per track, one panel per event (observed values and the reconstruction in
physical units, the explanation, the original reports), the map of events, the evaluation
against labels (when given), the training curves and the exploratory statistics of the data.

:func:`build_report` computes everything (:func:`squall.report.collect.collect`) and returns a
:class:`Report`; :func:`write_report` writes the page and, for papers, every figure as a PNG
file into a directory beside it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from squall.errors import NAME, ParameterError, SquallError
from squall.io import atomic_dir, atomic_path, check_output, listed_dir
from squall.report import sections
from squall.report.collect import Run, collect
from squall.report.sections import esc

#: Event panels drawn (the highest peak scores when there are more events; all are in the table).
DEFAULT_MAX_EVENTS = 30
#: Tracks in the error timeline (tracks with events first, then by highest score).
DEFAULT_MAX_TRACKS = 12
#: First line of the index file in a figures directory (marks it as ours to replace).
FIGURES_MARK = "squall report figures"


@dataclass
class Report:
    """The page and its figures (file name -> caption and PNG bytes, in page order)."""

    html: str
    figures: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def build_report(
    bundle_dir: str | os.PathLike[str],
    data=None,
    *,
    from_dir: str | os.PathLike[str] | None = None,
    engine: str = "numpy",
    threshold: float | None = None,
    threshold_quantile: float | None = None,
    labels: str | os.PathLike[str] | None = None,
    since: str | None = None,
    max_events: int = DEFAULT_MAX_EVENTS,
    max_tracks: int = DEFAULT_MAX_TRACKS,
    title: str | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> Report:
    """Score ``data`` with the bundle (or use the detect run in ``from_dir``) and build the
    report. See :func:`squall.report.collect.collect` for the arguments it passes on."""
    for name, value in (("max_events", max_events), ("max_tracks", max_tracks)):
        if value < 1:
            raise ParameterError(name, f"{NAME} must be at least 1, got {value}")
    run = collect(
        bundle_dir,
        data,
        from_dir=from_dir,
        engine=engine,
        threshold=threshold,
        threshold_quantile=threshold_quantile,
        labels=labels,
        since=since,
        log=log,
    )
    return render(run, max_events=max_events, max_tracks=max_tracks, title=title, log=log)


def write_report(
    report: Report, out: str | os.PathLike[str], figures_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """Write the page to ``out`` and, when ``figures_dir`` is given, every figure as a PNG there
    with an ``index.txt`` of captions (the directory is replaced whole; only an empty one or an
    earlier figures directory holding nothing but its own files, unchanged). Each write is
    atomic. Returns the paths written."""
    check_targets(out, figures_dir)
    written = []
    # the page goes to its temporary file first: if that cannot be written, no figures folder
    # is left behind either
    with atomic_path(out) as page:
        page.write_text(report.html)
        if figures_dir is not None:
            with atomic_dir(figures_dir, _figures_replaceable) as tmp:
                lines = [f"{FIGURES_MARK} (the figures of {Path(out).name})"]
                for name, (caption, png) in report.figures.items():
                    (tmp / name).write_bytes(png)
                    lines.append(f"{name}: {caption}")
                (tmp / "index.txt").write_text("\n".join(lines) + "\n")
            written.append(str(figures_dir))
    return [str(out), *written]


def check_targets(
    out: str | os.PathLike[str],
    figures_dir: str | os.PathLike[str] | None = None,
    inputs: Iterable = (),
) -> None:
    """Refuse, before any work (:func:`squall.io.check_output`), an ``out`` that is not an .html
    file name or is one of ``inputs``, and a figures directory that is neither empty nor an
    earlier figures directory, or that is or holds an input."""
    inputs = [p for p in inputs if p is not None]
    check_output(out, inputs=inputs, suffixes=(".html", ".htm"))
    if figures_dir is not None:
        try:
            check_output(
                figures_dir,
                inputs=[*inputs, out],
                directory=True,
                replaceable=_figures_replaceable,
                option=_FIGURES_PARAM,
            )
        except ParameterError:
            raise
        except SquallError as exc:  # the message names the parameter, the CLI shows its flag
            raise _as_parameter_error(exc, "figures_dir", _FIGURES_PARAM) from None


#: Stands for the figures directory's parameter in :func:`squall.io.check_output`'s messages.
_FIGURES_PARAM = "\x00figures_dir\x00"


def _as_parameter_error(exc: SquallError, param: str, token: str) -> ParameterError:
    """``exc`` (a message naming the parameter as ``token``) as a :class:`ParameterError` of
    ``param``: Python shows the parameter's name, the command line its flag."""
    return ParameterError(param, str(exc).replace(token, NAME))


def _figures_index(path: Path) -> bool:
    index = path / "index.txt"
    try:
        return index.is_file() and index.read_text(errors="replace").startswith(FIGURES_MARK)
    except OSError:
        return False


#: An empty directory, or an earlier figures directory holding only the files it lists in its
#: ``.squall-files`` (:func:`squall.io.listed_dir`): a user's file beside the figures, or an
#: edited figure, makes the folder theirs and it is refused, never replaced.
_figures_replaceable = listed_dir(_figures_index)


class _Page:
    """Collects the figures while the sections are written."""

    def __init__(self) -> None:
        self.figures: dict[str, tuple[str, bytes]] = {}

    def figure(self, fig, name: str, caption: str, id_: str = "", cls: str = "") -> str:
        from squall.report.plots import png_bytes

        png = png_bytes(fig)
        self.figures[name] = (caption, png)
        src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        attrs = (f' id="{id_}"' if id_ else "") + (f' class="{cls}"' if cls else "")
        return (
            f'<figure><img{attrs} src="{src}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )


def render(
    run: Run,
    *,
    max_events: int = DEFAULT_MAX_EVENTS,
    max_tracks: int = DEFAULT_MAX_TRACKS,
    title: str | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> Report:
    """The HTML page of a collected run."""
    from squall import __version__

    page = _Page()
    title = title or f"squall report: {Path(run.bundle_path).name} on " + ", ".join(
        Path(s).name for s in run.ws.sources
    )
    parts = [
        sections.run_section(run),
        sections.timeline_section(run, page, max_tracks),
        sections.events_section(run, page, max_events, log),
        sections.map_section(run, page),
        sections.evaluation_section(run),
        sections.training_section(run, page),
        sections.eda_section(run, page),
    ]
    nav = "".join(f'<a href="#{key}">{label}</a>' for key, label in sections.NAV)
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f'<header><h1>{esc(title)}</h1><p class="meta">{sections.headline(run)}<br>'
        f"made by squall {__version__} on {stamp}</p></header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}</main>"
    )
    text = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>{body}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
    return Report(text, page.figures)


STYLE = """
:root{--red:#cc0000;--line:#d8d8d8;--soft:#f4f5f7}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
 color:#1d1d1f;background:#fff}
header,main{max-width:1120px;margin:0 auto;padding:0 1.2rem}
header h1{font-size:1.45rem;margin:1rem 0 .2rem}
.meta{color:#555;margin:.2rem 0 .6rem}
nav{position:sticky;top:0;z-index:1;background:#fff;border-bottom:1px solid var(--line);
 padding:.35rem 1.2rem;text-align:center}
nav a{margin:0 .55rem;color:#204a87;text-decoration:none;font-size:.92rem}
section{scroll-margin-top:2.8rem}
h2{font-size:1.2rem;border-bottom:2px solid var(--soft);padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.02rem;margin:.2rem 0 .4rem}
figure{margin:.6rem 0}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:.82rem;color:#555;text-align:center}
table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0}
th,td{border-bottom:1px solid var(--line);padding:.15rem .55rem;text-align:left;
 vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
table.kv th{width:12rem}
table.events td:nth-child(3),table.events td:nth-child(4){white-space:nowrap}
.event{border:1px solid var(--line);border-radius:6px;padding:.5rem 1rem;margin:1.2rem 0}
.why{background:#fff4e5;border-left:3px solid #f57900;padding:.35rem .7rem;margin:.4rem 0}
.note{color:#555;font-size:.88rem}
.bad{color:var(--red)}
details summary{cursor:pointer;color:#204a87;margin:.3rem 0}
@media print{
 nav{display:none}
 body{font-size:10.5pt}
 header,main{max-width:none;padding:0}
 .event,figure,table.kv{break-inside:avoid}
 h2{break-after:avoid}
 .scroll{overflow:visible}
 a{color:inherit;text-decoration:none}
}
"""

#: Open every collapsed table before printing, so the printout shows them.
SCRIPT = (
    "window.addEventListener('beforeprint',function(){"
    "document.querySelectorAll('details').forEach(function(d){d.open=true;});});"
)
