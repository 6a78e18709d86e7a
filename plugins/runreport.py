"""The run's picture and a standalone HTML report, from a run directory.

``write_report`` reads a finished run directory (``summary.json`` and
``ledger.jsonl``) and writes two self-contained files next to it:

``timeline.svg``
    One row per cluster (by index) on a wall-clock axis starting at the run's
    first instant: batch wait, control plane, workers, load and destroy as
    coloured segments.  A phase that started and never ended is drawn up to the
    ledger event that ended it (``failed``, ``kept``, ``pending_deletion``,
    ``destroy_failed``...) and hatched with a red outline.  Below it, a
    histogram of the install durations (``install_s``).
``report.html``
    The run's header (uuid, seed, platform, counts, the command that deletes
    what is left), the picture inline, and a table of the clusters with links
    to their logs and dumps (never to a kubeconfig).

Both render offline: no script, font or file outside themselves.  The same
input always gives the same bytes.  ``cluster_row`` is shared with the
pytest-html report.  Command line::

    python3 -m plugins.runreport RUN_DIR [--html PATH] [--svg PATH]
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import os
import sys
from pathlib import Path
from typing import Iterable, NamedTuple
from urllib.parse import quote

from .rundir import RunDir, epoch_seconds
from .secrets import redact, register_environment

__all__ = ["ReportError", "cluster_row", "timeline_svg", "render_html", "write_report", "main"]


class ReportError(Exception):
    """A run directory the report cannot be made from."""


# ------------------------------------------------------------------ values
def _number(value: object) -> float | None:
    """Return a finite number of seconds, or None (strings, booleans and NaN are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _instant(value: object) -> float | None:
    """Return the epoch seconds of an ISO 8601 time (``Z`` or an offset; naive means UTC), or None."""
    return epoch_seconds(value) if isinstance(value, str) else None


def _iso(epoch: float) -> str:
    """Format epoch seconds as the harness does (UTC, milliseconds, ``Z``)."""
    when = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _num(value: float) -> str:
    """Format a coordinate: at most two decimals, no trailing zeros, never ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _seconds(value: float | None) -> str:
    """Format seconds for people: ``""`` when unknown, one decimal below 1000 s, whole seconds above."""
    if value is None:
        return ""
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"


def _esc(value: object) -> str:
    """Escape any value for HTML and XML text and attributes (None is empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def _clusters(summary: dict) -> list[dict]:
    """Return the summary's cluster entries, by index then name (entries without an index last)."""
    entries = summary.get("clusters") if isinstance(summary, dict) else None
    entries = [e for e in entries or [] if isinstance(e, dict)]

    def key(entry: dict):
        index = _number(entry.get("index"))
        return (index is None, index or 0.0, str(entry.get("name") or ""))

    return sorted(entries, key=key)


# ------------------------------------------------------------ cluster rows
KEPT_TEXT = {"kept": "yes", "destroyed": "no", "pending_deletion": "pending deletion", "not_created": "not created"}
# Files of a cluster folder worth a link, in this order: (name on the page, path inside the folder).
FOLDER_FILES = (("create log", "create.log"), ("load log", "load.log"), ("destroy log", "destroy.log"),
                ("dump log", "dump.log"))
DUMP_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def _href(target: Path, base: Path) -> str:
    """Return ``target`` relative to ``base``, with forward slashes, URL-quoted."""
    rel = os.path.relpath(target, base).replace(os.sep, "/")
    return quote(rel, safe="/") + ("/" if target.is_dir() and not rel.endswith("/") else "")


def _linkable(path: Path) -> bool:
    """Tell whether ``path`` is a file the page may link to (never a kubeconfig)."""
    return "kubeconfig" not in path.name.lower() and path.is_file()


def _cluster_folder(entry: dict, run_path: str | Path | None) -> Path | None:
    """Find the cluster's folder: under ``run_path`` when given (a moved run), else where the summary says."""
    name = entry.get("name")
    candidates = []
    if run_path is not None and isinstance(name, str) and name and "/" not in name and name not in (".", ".."):
        candidates.append(Path(run_path) / name)
    if isinstance(entry.get("folder"), str) and entry["folder"]:
        candidates.append(Path(entry["folder"]))
    return next((c for c in candidates if c.is_dir()), None)


def _folder_links(folder: Path, base: Path) -> list[dict]:
    """List the links to the logs, dump and folder of a cluster that exist."""
    links = []
    for name, rel in FOLDER_FILES:
        if _linkable(folder / rel):
            links.append({"name": name, "href": _href(folder / rel, base)})
        if rel == "load.log" and (folder / "load").is_dir():  # kube-burner's own logs, in its work folder
            logs = sorted(p for p in (folder / "load").iterdir() if p.suffix == ".log" and _linkable(p))
            links += [{"name": "kube-burner log" + (f" {i}" if len(logs) > 1 else ""), "href": _href(path, base)}
                      for i, path in enumerate(logs, 1)]
    dump = folder / "dump"
    if dump.is_dir():
        archives = sorted(p for p in dump.iterdir() if p.name.endswith(DUMP_ARCHIVES) and _linkable(p))
        if archives:
            links += [{"name": "dump archive" if len(archives) == 1 else f"dump/{p.name}", "href": _href(p, base)}
                      for p in archives]
        else:
            links.append({"name": "dump folder", "href": _href(dump, base)})
    links.append({"name": "folder", "href": _href(folder, base)})
    return links


def cluster_row(entry: dict, base: str | Path, *, run_path: str | Path | None = None) -> dict:
    """Return the table columns of one summary cluster entry, with links relative to ``base``.

    ``links`` lists the files that exist in the cluster's folder (under
    ``run_path`` when given, else the entry's ``folder``): create, load, destroy
    and dump logs, the dump archive (or folder), and the folder itself; never
    its kubeconfig.  ``error`` is redacted.  Unknown numbers are None.
    """
    timings = entry.get("timings") if isinstance(entry.get("timings"), dict) else {}
    final = entry.get("final")
    folder = _cluster_folder(entry, run_path)
    error = entry.get("error")
    workers = entry.get("workers")
    return {
        "cluster": str(entry.get("name") or ""),
        "workers": workers if isinstance(workers, int) and not isinstance(workers, bool) else None,
        "install_s": _number(timings.get("install_s")),
        "workers_ready_s": _number(timings.get("workers_s")),
        "destroy_s": _number(timings.get("destroy_s")),
        "kept": KEPT_TEXT.get(final, str(final).replace("_", " ") if final else ""),
        "outcome": str(entry.get("outcome") or ""),
        "error": redact(str(error)) if error else "",
        "links": _folder_links(folder, Path(base)) if folder is not None else [],
    }


# -------------------------------------------------------------- timeline
class Segment(NamedTuple):
    phase: str          # css class: batch-wait, control-plane, workers, load, destroy
    start: float        # epoch seconds
    end: float
    failed: bool        # started and never ended (or the load failed)
    note: str = ""


PHASES = (  # class, legend text, colour
    ("batch-wait", "batch wait", "#b8bfca"),
    ("control-plane", "control plane", "#4e79a7"),
    ("workers", "workers", "#59a14f"),
    ("load", "load", "#f28e2b"),
    ("destroy", "destroy", "#9c6fb0"),
)
PHASE_LABEL = {cls: label for cls, label, _ in PHASES}
PHASE_COLOUR = {cls: colour for cls, _, colour in PHASES}
FAIL_COLOUR = "#d62728"
INSTANT_KEYS = ("create_requested", "hc_created", "control_plane_available", "nodepools_ready", "workers_ready",
                "install_completed", "ready", "load_start", "load_end", "destroy_requested", "deleted")
# Ledger events that end an unfinished phase as a failure.
ENDING_EVENTS = {"failed", "create_failed", "kept", "pending_deletion", "destroy_failed"}
# Shorter batch waits are the pacing service's round trip, not a wait.
BATCH_WAIT_MIN_S = 0.5

WIDTH = 960
TOP = 58                 # title and legend
ROW_MAX = 18.0           # row height of small runs
TIMELINE_MAX_H = 900.0   # rows never take more than this: 1000 clusters get 0.9 px each
LABEL_MIN_ROW = 11.0     # names are drawn on rows at least this tall
HIST_H = 170.0
MIN_SEG_W = 1.0          # so that zero-length phases stay visible (their title says 0.0 s)


def _ledger_by_cluster(events: Iterable[dict]) -> dict[str, list[tuple[float, str]]]:
    """Group the ledger's (time, event) pairs by cluster, oldest first."""
    out: dict[str, list[tuple[float, str]]] = {}
    for event in events or []:
        if not isinstance(event, dict):
            continue
        when = _instant(event.get("time"))
        if when is not None and isinstance(event.get("cluster"), str):
            out.setdefault(event["cluster"], []).append((when, str(event.get("event"))))
    for items in out.values():
        items.sort()
    return out


def _segments(entry: dict, ledger: list[tuple[float, str]]) -> list[Segment]:
    """Compute the phases of one cluster from its timings, the ledger filling the gaps."""
    timings = entry.get("timings") if isinstance(entry.get("timings"), dict) else {}
    at = {key: _instant(timings.get(key)) for key in INSTANT_KEYS}

    def first(event: str) -> float | None:
        return next((t for t, e in ledger if e == event), None)

    def last(event: str) -> float | None:
        return next((t for t, e in reversed(ledger) if e == event), None)

    for key, event, pick in (("create_requested", "create_requested", first), ("ready", "ready", first),
                             ("destroy_requested", "destroy_requested", last)):
        if at[key] is None:
            at[key] = pick(event)
    known = [t for t in at.values() if t is not None] + [t for t, _ in ledger]
    last_known = max(known) if known else None

    def unfinished(start: float, ok: tuple[str, ...] = ()) -> tuple[float, bool, str]:
        """Find where a phase without a recorded end stops: the ledger event that ended it, else the last instant."""
        for when, event in ledger:
            if when >= start and event in ok:
                return when, False, ""
            if when >= start and event in ENDING_EVENTS:
                return when, True, f"did not finish: {event.replace('_', ' ')}"
        return max(start, last_known or start), True, "did not finish"

    def ended(start: float, end: float | None, later: Iterable[float | None]) -> tuple[float, bool, str]:
        """End a phase at its recorded end, else at the next instant the cluster reached, else as unfinished."""
        if end is not None:
            return max(start, end), False, ""
        later = [t for t in later if t is not None and t >= start]
        if later:  # the cluster got further: this phase ended, its own instant was not recorded
            return min(later), False, ""
        return unfinished(start)

    segments = []
    requested = at["create_requested"]
    wait = _number(timings.get("batch_wait_s"))
    if requested is not None and wait is not None and wait >= BATCH_WAIT_MIN_S:
        segments.append(Segment("batch-wait", requested - wait, requested, False))
    if requested is not None:
        end, failed, note = ended(requested, at["control_plane_available"],
                                  (at[k] for k in ("nodepools_ready", "workers_ready", "install_completed", "ready",
                                                   "load_start")))
        segments.append(Segment("control-plane", requested, end, failed, note))
    available = at["control_plane_available"]
    if available is not None:
        workers_end = at["workers_ready"] if at["workers_ready"] is not None else at["ready"]
        end, failed, note = ended(available, workers_end, (at["install_completed"], at["load_start"]))
        segments.append(Segment("workers", available, end, failed, note))
    if at["load_start"] is not None:
        start = at["load_start"]
        end, failed, note = ended(start, at["load_end"], (at["destroy_requested"],))
        status = timings.get("load_status")
        if isinstance(status, str) and status != "success":
            failed, note = True, f"load {status}"
        segments.append(Segment("load", start, end, failed, note))
    if at["destroy_requested"] is not None:
        start = at["destroy_requested"]
        if at["deleted"] is not None:
            end, failed, note = max(start, at["deleted"]), False, ""
        else:
            end, failed, note = unfinished(start, ok=("destroyed",))
        segments.append(Segment("destroy", start, end, failed, note))
    return segments


def _nice(raw: float, steps: Iterable[float] = (1, 2, 2.5, 5, 10)) -> float:
    """Return the smallest 'nice' number (1, 2, 2.5 or 5 times a power of ten) at least ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for step in steps:
        if step * power >= raw * (1 - 1e-9):
            return step * power
    return 10 * power


TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _time_step(span: float, max_ticks: int = 10) -> float:
    """Pick a tick step in seconds (1 s ... 1 day, then whole days) giving at most ``max_ticks`` intervals."""
    for step in TIME_STEPS:
        if span / step <= max_ticks:
            return float(step)
    return 86400.0 * math.ceil(span / 86400 / max_ticks)


def _clock(seconds: float, span: float) -> str:
    """Format a tick label: ``45s`` for short runs, ``m:ss`` up to an hour, ``h:mm`` beyond."""
    total = int(round(seconds))
    if span < 60:
        return f"{total}s"
    if span < 3600:
        return f"{total // 60}:{total % 60:02d}"
    return f"{total // 3600}:{total % 3600 // 60:02d}"


def _offset(seconds: float) -> str:
    """Format ``+m:ss`` (or ``+h:mm:ss``) since the run's first instant, for tooltips."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    return f"+{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"+{rest // 60}:{rest % 60:02d}"


def _bins(values: list[float]) -> tuple[float, float, list[int]]:
    """Bin ``values``: return (first edge, width, counts), about sqrt(n) bins of a nice width."""
    low, high = min(values), max(values)
    target = max(1, min(30, math.ceil(math.sqrt(len(values)))))
    width = _nice((high - low) / target) if high > low else _nice(max(abs(high), 1.0) / 10)
    if high > low and (high - low) / width > target:  # rounding may need one more step
        width = _nice(width * 1.01)
    if all(v == math.floor(v) for v in values):  # whole seconds (API timestamps): whole-second bins
        width = float(max(1, math.ceil(width)))
    start = math.floor(low / width) * width
    count = max(1, int(math.floor((high - start) / width + 1e-9)) + 1)
    counts = [0] * count
    for value in values:
        counts[min(count - 1, max(0, int(math.floor((value - start) / width + 1e-9))))] += 1
    return start, width, counts


def _edge(value: float) -> str:
    """Format a bin edge (whole numbers without decimals)."""
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:g}"


def _svg_open(width: float, height: float, label: str) -> list[str]:
    """Open the root ``<svg id="hcp-timeline">`` with its title and a white background."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" id="hcp-timeline" class="hcp-timeline" '
            f'width="{_num(width)}" height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
            f'role="img" aria-label="{_esc(label)}" font-family="sans-serif" font-size="11">',
            f"<title>{_esc(label)}</title>",
            f'<rect class="background" x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>']


def timeline_svg(summary: dict, events: list[dict]) -> str:
    """Draw the run: a timeline of every cluster's phases and a histogram of install durations.

    ``events`` are the ledger's lines.  The result is one self-contained ``<svg
    id="hcp-timeline">`` element (no external reference), the same for the same input.
    """
    clusters = _clusters(summary)
    uuid = str(summary.get("uuid") or "") if isinstance(summary, dict) else ""
    if not clusters:
        label = f"run {uuid}: no clusters" if uuid else "no clusters"
        parts = _svg_open(WIDTH, 60, label)
        parts.append(f'<text class="empty" x="{WIDTH / 2:g}" y="34" text-anchor="middle" font-size="14" '
                     f'fill="#555555">No clusters in this run{_esc(" (" + uuid + ")") if uuid else ""}</text>')
        return "\n".join(parts + ["</svg>"]) + "\n"

    ledger = _ledger_by_cluster(events)
    rows = []
    for entry in clusters:
        name = str(entry.get("name") or "")
        rows.append((entry, name, _segments(entry, ledger.get(name, []))))
    instants = [t for _, _, segs in rows for s in segs for t in (s.start, s.end)]
    instants += [t for _, name, _ in rows for t, _ in ledger.get(name, [])]
    t0 = min(instants) if instants else 0.0
    span = max(1.0, (max(instants) - t0) if instants else 1.0)

    n = len(rows)
    row_h = min(ROW_MAX, TIMELINE_MAX_H / n)
    labels = row_h >= LABEL_MIN_ROW
    left = 130.0 if labels else 56.0
    right = WIDTH - 24.0
    scale = (right - left) / span
    bar_h = row_h * 0.72 if row_h >= 6 else row_h
    rows_top = TOP
    rows_bottom = rows_top + n * row_h
    hist_top = rows_bottom + 78
    hist_bottom = hist_top + HIST_H
    height = hist_bottom + 62

    def x(t: float) -> float:
        return left + (t - t0) * scale

    label = f"Timeline of run {uuid}: {n} cluster(s)" if uuid else f"Timeline: {n} cluster(s)"
    parts = _svg_open(WIDTH, height, label)
    parts.append('<defs><pattern id="hcp-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
                 'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff" fill-opacity="0.15"/>'
                 f'<line x1="0" y1="0" x2="0" y2="6" stroke="{FAIL_COLOUR}" stroke-width="2.5"/></pattern></defs>')
    parts.append(f'<text class="heading" x="{_num(left)}" y="18" font-size="14" font-weight="bold" fill="#222222">'
                 f"{_esc(label)}</text>")
    # legend
    parts.append('<g class="legend">')
    lx = left
    for cls, text, colour in PHASES:
        parts.append(f'<g class="legend-item {cls}"><rect class="swatch {cls}" x="{_num(lx)}" y="30" width="14" '
                     f'height="10" fill="{colour}"/><text x="{_num(lx + 18)}" y="39" fill="#222222">{text}</text></g>')
        lx += 26 + 6.4 * len(text)
    parts.append(f'<g class="legend-item failed"><rect class="swatch failed" x="{_num(lx)}" y="30" width="14" '
                 f'height="10" fill="url(#hcp-hatch)" stroke="{FAIL_COLOUR}" stroke-width="1.2"/>'
                 f'<text x="{_num(lx + 18)}" y="39" fill="#222222">did not finish / failed</text></g>')
    parts.append("</g>")
    # time axis: grid lines through the rows, labels below
    step = _time_step(span)
    parts.append('<g class="time-axis">')
    tick = 0.0
    while tick <= span + 1e-9:
        tx = _num(x(t0 + tick))
        parts.append(f'<line class="grid" x1="{tx}" y1="{_num(rows_top)}" x2="{tx}" y2="{_num(rows_bottom + 4)}" '
                     f'stroke="#e2e2e2" stroke-width="1"/>')
        parts.append(f'<text class="tick" x="{tx}" y="{_num(rows_bottom + 17)}" text-anchor="middle" '
                     f'fill="#444444">{_clock(tick, span)}</text>')
        tick += step
    parts.append(f'<text class="axis-title" x="{_num((left + right) / 2)}" y="{_num(rows_bottom + 36)}" '
                 f'text-anchor="middle" fill="#444444">time since the run\'s first instant'
                 f'{_esc(" (" + _iso(t0) + ")") if instants else " (no timings recorded)"}</text>')
    parts.append("</g>")
    if not labels:  # a few cluster indices on the left instead of every name
        every = _nice(n / 10, (1, 2, 5, 10))
        parts.append('<g class="row-axis">')
        for i in range(0, n, int(every)):
            index = _number(rows[i][0].get("index"))
            text = f"#{index:.0f}" if index is not None else f"{i + 1}"
            parts.append(f'<text class="row-tick" x="{_num(left - 6)}" y="{_num(rows_top + i * row_h + 3)}" '
                         f'text-anchor="end" font-size="10" fill="#666666">{_esc(text)}</text>')
        parts.append("</g>")
    # rows
    parts.append(f'<g class="rows" data-rows="{n}" data-t0="{_esc(_iso(t0))}" data-span="{span:.3f}">')
    for i, (entry, name, segments) in enumerate(rows):
        top = rows_top + i * row_h
        bad = entry.get("outcome") not in ("passed", None)
        cls = "row failed" if bad else "row"
        parts.append(f'<g class="{cls}" data-cluster="{_esc(name)}" data-index="{_esc(entry.get("index"))}">')
        parts.append(f"<title>{_esc(name)}: {_esc(entry.get('outcome') or 'unknown')}, "
                     f"{_esc(KEPT_TEXT.get(entry.get('final'), entry.get('final') or 'no final state'))}"
                     f"{'' if segments else ', no timings'}</title>")
        if labels:
            shown = name if len(name) <= 20 else name[:19] + "…"
            parts.append(f'<text class="label{" failed" if bad else ""}" x="{_num(left - 6)}" '
                         f'y="{_num(top + row_h / 2 + 4)}" text-anchor="end" '
                         f'fill="{FAIL_COLOUR if bad else "#222222"}">{_esc(shown)}</text>')
        y = _num(top + (row_h - bar_h) / 2)
        h = _num(bar_h)
        for seg in segments:
            sx = x(seg.start)
            width = max(MIN_SEG_W, (seg.end - seg.start) * scale)
            seconds = seg.end - seg.start
            title = (f"{name} · {PHASE_LABEL[seg.phase]}: {seconds:.1f} s ({_offset(seg.start - t0)} to "
                     f"{_offset(seg.end - t0)}){' · ' + seg.note if seg.note else ''}")
            parts.append(f'<rect class="seg {seg.phase}{" failed" if seg.failed else ""}" x="{_num(sx)}" y="{y}" '
                         f'width="{_num(width)}" height="{h}" fill="{PHASE_COLOUR[seg.phase]}" '
                         f'data-start="{seg.start - t0:.3f}" data-end="{seg.end - t0:.3f}">'
                         f"<title>{_esc(title)}</title></rect>")
            if seg.failed:
                parts.append(f'<rect class="fail-mark {seg.phase}" x="{_num(sx)}" y="{y}" width="{_num(width)}" '
                             f'height="{h}" fill="url(#hcp-hatch)" stroke="{FAIL_COLOUR}" '
                             f'stroke-width="{1.2 if bar_h >= 4 else 0.6}"><title>{_esc(title)}</title></rect>')
        parts.append("</g>")
    parts.append("</g>")
    parts += _histogram(clusters, left, right, hist_top, hist_bottom)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _histogram(clusters: list[dict], left: float, right: float, top: float, bottom: float) -> list[str]:
    """Draw the install-duration histogram between ``top`` and ``bottom``, with its caption."""
    values = []
    for entry in clusters:
        timings = entry.get("timings") if isinstance(entry.get("timings"), dict) else {}
        value = _number(timings.get("install_s"))
        if value is not None:
            values.append(value)
    missing = len(clusters) - len(values)
    parts = [f'<g class="histogram" data-clusters="{len(values)}" data-missing="{missing}">',
             f'<text class="heading" x="{_num(left)}" y="{_num(top - 24)}" font-size="13" font-weight="bold" '
             f'fill="#222222">Install durations (install_s), {len(values)} cluster(s)</text>']
    caption_y = _num(bottom + 50)
    caption = (f"{missing} cluster(s) have no install duration (failed, interrupted or not created)" if missing
               else "every cluster has an install duration")
    if not values:
        parts.append(f'<text class="hist-empty" x="{_num((left + right) / 2)}" y="{_num((top + bottom) / 2)}" '
                     f'text-anchor="middle" fill="#555555">no install durations</text>')
        parts.append(f'<text class="caption" x="{_num(left)}" y="{caption_y}" fill="#444444">{_esc(caption)}</text>')
        return parts + ["</g>"]
    start, width, counts = _bins(values)
    peak = max(counts)
    count_step = max(1, int(_nice(peak / 5, (1, 2, 5, 10))))
    top_count = count_step * math.ceil(peak / count_step)
    height = bottom - top
    bin_w = (right - left) / len(counts)
    # count axis
    parts.append('<g class="count-axis">')
    value = 0
    while value <= top_count:
        y = bottom - value / top_count * height
        parts.append(f'<line class="grid" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(right)}" y2="{_num(y)}" '
                     f'stroke="#e2e2e2"/>')
        parts.append(f'<text class="count-tick" x="{_num(left - 6)}" y="{_num(y + 4)}" text-anchor="end" '
                     f'fill="#444444">{value}</text>')
        value += count_step
    parts.append(f'<text class="axis-title" x="{_num(left - 36)}" y="{_num((top + bottom) / 2)}" text-anchor="middle" '
                 f'fill="#444444" transform="rotate(-90 {_num(left - 36)} {_num((top + bottom) / 2)})">clusters</text>')
    parts.append("</g>")
    # bars
    for i, count in enumerate(counts):
        low, high = start + i * width, start + (i + 1) * width
        bar_h = count / top_count * height
        parts.append(f'<rect class="bar" x="{_num(left + i * bin_w + 1)}" y="{_num(bottom - bar_h)}" '
                     f'width="{_num(max(1.0, bin_w - 2))}" height="{_num(bar_h)}" fill="#4e79a7" '
                     f'data-count="{count}" data-from="{_edge(low)}" data-to="{_edge(high)}">'
                     f"<title>{_edge(low)}–{_edge(high)} s: {count} cluster(s)</title></rect>")
    # bin edges
    every = max(1, math.ceil((len(counts) + 1) / 12))
    parts.append('<g class="bin-axis">')
    for i in range(0, len(counts) + 1, every):
        parts.append(f'<text class="bin-label" x="{_num(left + i * bin_w)}" y="{_num(bottom + 16)}" '
                     f'text-anchor="middle" fill="#444444">{_edge(start + i * width)}</text>')
    parts.append(f'<text class="axis-title" x="{_num((left + right) / 2)}" y="{_num(bottom + 32)}" '
                 f'text-anchor="middle" fill="#444444">install duration, seconds (bins of {_edge(width)} s)</text>')
    parts.append("</g>")
    parts.append(f'<text class="caption" x="{_num(left)}" y="{caption_y}" fill="#444444">{_esc(caption)}</text>')
    return parts + ["</g>"]


# ------------------------------------------------------------------ HTML
CSS = """
body{font-family:sans-serif;margin:1.2em 2em;color:#222}
h1{font-size:1.35em;margin:0 0 .4em}
h2{font-size:1.1em;margin:1.4em 0 .5em}
code{font-family:monospace;background:#f3f3f3;padding:0 .25em}
dl.run-facts{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.4em 0}
dl.run-facts dt{color:#555}
dl.run-facts dd{margin:0}
ul.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5em;margin:.6em 0}
ul.counts li{border:1px solid #ccc;border-radius:4px;padding:.2em .6em;background:#fafafa}
ul.counts li .n{font-weight:bold;margin-right:.3em}
ul.counts li.bad{border-color:#d62728;color:#a01818}
#delete-command{background:#fff4e5;border:1px solid #f0b45a;padding:.5em .8em}
#timeline{overflow-x:auto}
table#clusters{border-collapse:collapse;font-size:.9em}
table#clusters th,table#clusters td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
table#clusters th{background:#f0f0f0;position:sticky;top:0}
table#clusters td.num{text-align:right;font-variant-numeric:tabular-nums}
table#clusters tr.failed td{background:#fde8e8}
table#clusters tr.failed td.outcome{color:#a01818;font-weight:bold}
table#clusters div.error{max-width:48em;overflow-wrap:anywhere;color:#7a1010;font-size:.9em;margin-top:.2em}
table#clusters tr.left td.kept{color:#9a5400;font-weight:bold}
table#clusters td.links a{margin-right:.6em;white-space:nowrap}
"""
COUNT_KEYS = (("ready", "ready"), ("failed", "failed"), ("kept", "kept"), ("destroyed", "destroyed"),
              ("pending_deletion", "pending deletion"), ("not_created", "not created"))


def _counts(summary: dict, clusters: list[dict]) -> dict[str, int]:
    """Return the summary's counts (counted from the clusters when an old summary has none)."""
    counts = summary.get("counts") if isinstance(summary.get("counts"), dict) else None
    if counts is not None:
        return {key: int(_number(counts.get(key)) or 0) for key, _ in COUNT_KEYS}
    out = {key: 0 for key, _ in COUNT_KEYS}
    for entry in clusters:
        out["ready"] += "ready" in (entry.get("events") or [])
        out["failed"] += entry.get("outcome") != "passed"
        if entry.get("final") in out:
            out[entry["final"]] += 1
    return out


def render_html(summary: dict, svg: str, base: str | Path, *, run_path: str | Path | None = None) -> str:
    """Render the standalone report page: header, the picture inline and the cluster table.

    Links are relative to ``base`` (the folder the page is written to); cluster
    folders are looked for under ``run_path`` (default: the summary's ``path``).
    Every value is escaped; errors and the delete command are redacted.
    """
    summary = summary if isinstance(summary, dict) else {}
    clusters = _clusters(summary)
    if run_path is None and isinstance(summary.get("path"), str) and summary["path"]:
        run_path = summary["path"]
    uuid = str(summary.get("uuid") or "unknown")
    platform = summary.get("platform") if isinstance(summary.get("platform"), dict) else {}
    where = str(platform.get("name") or platform.get("kind") or "")
    if platform.get("simulated") and "simulated" not in where.lower():
        where += " (simulated)"
    batch = summary.get("batch") if isinstance(summary.get("batch"), dict) else {}
    facts = [("uuid", uuid), ("seed", summary.get("cluster_name_seed")), ("platform", where),
             ("run directory", summary.get("path")), ("finished", summary.get("finished"))]
    if batch:
        size, delay = batch.get("size"), _number(batch.get("delay_between_batch"))
        facts.append(("batch", f"size {size or 'unlimited'}" + (f", delay {delay:g}s" if delay else "")))
    if summary.get("keep_clusters"):
        facts.append(("keep clusters", summary.get("keep_clusters")))
    counts = _counts(summary, clusters)

    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>hcp-scale run {_esc(uuid)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           '<header id="run-header">', f"<h1>hcp-scale run <code>{_esc(uuid)}</code></h1>", '<dl class="run-facts">']
    out += [f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in facts if v not in (None, "")]
    out.append("</dl>")
    out.append('<ul id="counts" class="counts">')
    out.append(f'<li class="count requested"><span class="n">{_esc(summary.get("requested", len(clusters)))}</span>'
               f"requested</li>")
    for key, text in COUNT_KEYS:
        bad = key in ("failed", "kept", "pending_deletion", "not_created") and counts[key]
        out.append(f'<li class="count {key.replace("_", "-")}{" bad" if bad else ""}">'
                   f'<span class="n">{counts[key]}</span>{_esc(text)}</li>')
    out.append("</ul>")
    command = summary.get("delete_command")
    if command:
        left = summary.get("left") if isinstance(summary.get("left"), list) else None
        many = f"{len(left)} cluster(s)" if left is not None else "Clusters"
        out.append(f'<p id="delete-command">{_esc(many)} left on the management cluster; delete them with '
                   f"<code>{_esc(redact(str(command)))}</code></p>")
    out.append("</header>")
    body = svg.strip()
    if body.startswith("<?xml"):
        body = body.split("?>", 1)[1].lstrip()
    out += ['<section id="timeline">', "<h2>Timeline</h2>", body, "</section>"]
    out += ['<section id="cluster-table">', f"<h2>Clusters ({len(clusters)})</h2>", '<table id="clusters">',
            "<thead><tr><th>Cluster</th><th>Workers</th><th>Install s</th><th>Workers ready s</th><th>Destroy s</th>"
            "<th>Kept</th><th>Outcome</th><th>Links</th></tr></thead>", "<tbody>"]
    base = Path(base)
    for entry in clusters:
        row = cluster_row(entry, base, run_path=run_path)
        bad = row["outcome"] not in ("passed", "")
        cls = "cluster failed" if bad else "cluster"
        if entry.get("final") in ("kept", "pending_deletion"):
            cls += " left"
        links = " ".join(f'<a href="{_esc(link["href"])}">{_esc(link["name"])}</a>' for link in row["links"])
        error = f'<div class="error">{_esc(row["error"])}</div>' if row["error"] else ""
        out.append(f'<tr class="{cls}" data-cluster="{_esc(row["cluster"])}">'
                   f'<td class="name">{_esc(row["cluster"])}{error}</td>'
                   f'<td class="num workers">{_esc(row["workers"])}</td>'
                   f'<td class="num install-s">{_seconds(row["install_s"])}</td>'
                   f'<td class="num workers-ready-s">{_seconds(row["workers_ready_s"])}</td>'
                   f'<td class="num destroy-s">{_seconds(row["destroy_s"])}</td>'
                   f'<td class="kept">{_esc(row["kept"])}</td>'
                   f'<td class="outcome">{_esc(row["outcome"])}</td>'
                   f'<td class="links">{links}</td></tr>')
    out += ["</tbody>", "</table>", "</section>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------- files
def _read_summary(run: Path) -> dict:
    """Load ``<run>/summary.json``; raise ReportError when it is missing, unreadable or not an object."""
    path = run / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{run}: no summary.json (not a finished run directory)") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a run summary (a JSON object is expected)")
    return data


def _write(path: Path, text: str) -> None:
    """Write ``text`` atomically (a browser never sees half a page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(run_path: str | Path, html_path: str | Path | None = None,
                 svg_path: str | Path | None = None) -> tuple[Path, Path]:
    """Write the run's picture and report page; return (html path, svg path).

    Defaults: ``<run>/report.html`` and ``<run>/timeline.svg``; the page's links
    are relative to its own folder.  Raise ReportError when ``run_path`` has no
    readable summary.json.
    """
    run = Path(run_path)
    if not run.is_dir():
        raise ReportError(f"{run}: no such run directory")
    summary = _read_summary(run)
    try:
        events = RunDir(run).events()
    except OSError:  # an unreadable ledger: the clusters' own timings still draw the picture
        events = []
    html_file = Path(html_path) if html_path else run / "report.html"
    svg_file = Path(svg_path) if svg_path else run / "timeline.svg"
    svg = timeline_svg(summary, events)
    page = render_html(summary, svg, html_file.absolute().parent, run_path=run.absolute())
    _write(svg_file, svg)
    _write(html_file, page)
    return html_file, svg_file


def main(argv: list[str] | None = None) -> int:
    """Regenerate report.html and timeline.svg of a finished run directory; print the paths written."""
    parser = argparse.ArgumentParser(
        prog="python3 -m plugins.runreport",
        description="Write the timeline picture (SVG) and the standalone HTML report of a finished run directory.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run directory (--path of the run)")
    parser.add_argument("--html", metavar="PATH", help="where to write the page (default RUN_DIR/report.html)")
    parser.add_argument("--svg", metavar="PATH", help="where to write the picture (default RUN_DIR/timeline.svg)")
    args = parser.parse_args(argv)
    register_environment()
    try:
        html_file, svg_file = write_report(args.run_dir, args.html, args.svg)
    except (ReportError, OSError) as exc:
        message = str(exc) if isinstance(exc, ReportError) else f"cannot write the report: {exc}"
        print(f"runreport: {' '.join(message.split())}", file=sys.stderr)
        return 2
    print(html_file)
    print(svg_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
