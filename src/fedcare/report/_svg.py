"""Small inline SVG charts for the console: no JavaScript library, no network.

Every data point carries a ``<title>`` (the browser shows its value on hover and screen
readers read it); series differ by marker shape and dash pattern as well as colour, and
every chart has a text label and an ``aria-label``, so nothing depends on colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "forest_plot", "gauge", "line_chart"]

#: Colour-blind-safe palette (Okabe-Ito) with a dash pattern and marker per series.
_STYLES = (("#0072B2", "", "circle"), ("#D55E00", "6 3", "square"),
           ("#009E73", "2 3", "triangle"), ("#CC79A7", "8 3 2 3", "diamond"),
           ("#E69F00", "1 2", "circle"), ("#56B4E9", "4 2", "square"))


def _nice(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:  # rounds, counts: no tick between two whole numbers
        step = max(1.0, float(math.ceil(step)))
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    v = start
    while v <= hi + step * 0.5 or not ticks or ticks[-1] < hi:  # the axis covers hi
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float, step: float | None = None) -> str:
    """A tick label with as many decimals as the tick step needs."""
    if step is not None and step > 0 and abs(v) < 1e6:
        exponent = math.floor(math.log10(step))
        mantissa = round(step / 10 ** exponent, 6)
        decimals = max(0, -exponent + (0 if mantissa in (1, 2, 5, 10) else 1))
        return f"{v:.{min(decimals, 6)}f}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _marker(shape: str, x: float, y: float, colour: str, title: str) -> str:
    t = f"<title>{escape(title)}</title>"
    if shape == "square":
        return (f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}" '
                f'tabindex="0">{t}</rect>')
    if shape == "triangle":
        pts = f"{x:.1f},{y - 5:.1f} {x - 5:.1f},{y + 4:.1f} {x + 5:.1f},{y + 4:.1f}"
        return f'<polygon points="{pts}" fill="{colour}" tabindex="0">{t}</polygon>'
    if shape == "diamond":
        pts = f"{x:.1f},{y - 5:.1f} {x - 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x + 5:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{colour}" tabindex="0">{t}</polygon>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" tabindex="0">{t}</circle>'


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], *, title: str,
               x_label: str, y_label: str, width: int = 560, height: int = 300,
               y_range: tuple[float, float] | None = None, diagonal: bool = False,
               step: bool = False,
               bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None
               ) -> str:
    """Lines with markers; hover a point for its value.

    ``step``: each value holds until the next point (a survival curve).
    ``bands``: per series, ``(x, lower, upper)`` drawn as a light band (stepped too).
    """
    points = [p for s in series.values() for p in s
              if math.isfinite(p[0]) and math.isfinite(p[1])]
    if not points:
        return (f'<p class="empty">{escape(title)}: no values to plot.</p>')
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    lo_y, hi_y = y_range if y_range else (min(ys), max(ys))
    if diagonal:
        lo_y, hi_y = min(lo_y, min(xs)), max(hi_y, max(xs))
    xt = _nice(min(xs), max(xs), integer=all(float(x).is_integer() for x in xs))
    yt = _nice(lo_y, hi_y)
    # the legend sits between the title and the plot (never over a line)
    left, right, top, bottom = 56, 16, 28 + 14 * math.ceil(len(series) / 3), 44
    height += top - 28
    w, h = width - left - right, height - top - bottom
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def sx(v: float) -> float:
        return left + (v - x0) / ((x1 - x0) or 1) * w

    def sy(v: float) -> float:
        return top + h - (v - y0) / ((y1 - y0) or 1) * h

    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>',
           f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    for t in yt:
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
                   'class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" '
                   f'class="tick">{_fmt(t, yt[1] - yt[0] if len(yt) > 1 else None)}</text>')
    for t in xt:
        out.append(f'<text x="{sx(t):.1f}" y="{top + h + 16}" text-anchor="middle" '
                   f'class="tick">{_fmt(t, xt[1] - xt[0] if len(xt) > 1 else None)}</text>')
    out.append(f'<text x="{left + w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
               f'class="axis">{escape(x_label)}</text>')
    out.append(f'<text transform="translate(14 {top + h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" class="axis">{escape(y_label)}</text>')
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        out.append(f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" '
                   f'y2="{sy(hi):.1f}" class="diagonal"><title>perfect calibration'
                   '</title></line>')
    legend = []
    for i, (label, pts) in enumerate(series.items()):
        colour, dash, shape = _STYLES[i % len(_STYLES)]
        good = [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)]
        band = [b for b in (bands or {}).get(label, ())
                if all(math.isfinite(v) for v in b)]
        if band:
            edge_lo = _stepped([(x, lo) for x, lo, _ in band]) if step else [
                (x, lo) for x, lo, _ in band]
            edge_hi = _stepped([(x, hi) for x, _, hi in band]) if step else [
                (x, hi) for x, _, hi in band]
            ring = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in [*edge_hi,
                                                                     *reversed(edge_lo)])
            out.append(f'<polygon points="{ring}" fill="{colour}" fill-opacity="0.15" '
                       f'stroke="none"><title>{escape(label)}: 95% CI</title></polygon>')
        drawn = _stepped(good) if step else good
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in drawn)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                   f'stroke-width="2" stroke-dasharray="{dash}"/>')
        for x, y in good:
            out.append(_marker(shape, sx(x), sy(y), colour,
                               f"{label}: {x_label} {_fmt(x)}, {y_label} {_fmt(y)}"))
        lx = left + 8 + (i % 3) * (w / 3)
        ly = 30 + (i // 3) * 14
        legend.append(f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{ly:.1f}" y2="{ly:.1f}" '
                      f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>'
                      + _marker(shape, lx + 9, ly, colour, label)
                      + f'<text x="{lx + 22:.1f}" y="{ly + 4:.1f}" class="legend">'
                      f'{escape(label)}</text>')
    out.extend(legend)
    out.append("</svg>")
    return "".join(out)


def _stepped(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """A step function through ``points``: each y holds until the next x."""
    out: list[tuple[float, float]] = []
    for i, (x, y) in enumerate(points):
        if i:
            out.append((x, points[i - 1][1]))
        out.append((x, y))
    return out


def forest_plot(rows: Sequence[tuple[str, float, float, float]], *, title: str,
                x_label: str = "hazard ratio (log scale)", width: int = 560) -> str:
    """Ratios with 95% intervals on a log axis, a dashed line at 1; hover for values."""
    good = [r for r in rows if all(math.isfinite(v) and v > 0 for v in r[1:])]
    if not good:
        return f'<p class="empty">{escape(title)}: no values to plot.</p>'
    height = 60 + 26 * len(good)
    left, right, top = 170, 24, 28
    w = width - left - right
    lo = math.log(min(min(r[2] for r in good), 1.0) * 0.9)
    hi = math.log(max(max(r[3] for r in good), 1.0) * 1.1)

    def sx(v: float) -> float:
        return left + (math.log(v) - lo) / ((hi - lo) or 1) * w

    ticks = [t for t in (0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 20)
             if lo <= math.log(t) <= hi]
    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>',
           f'<text x="4" y="16" class="chart-title">{escape(title)}</text>']
    base = top + 26 * len(good)
    for t in ticks:
        out.append(f'<text x="{sx(t):.1f}" y="{base + 16}" text-anchor="middle" '
                   f'class="tick">{t:g}</text>')
    out.append(f'<line x1="{sx(1):.1f}" x2="{sx(1):.1f}" y1="{top - 4}" y2="{base}" '
               'class="diagonal"><title>HR = 1 (no association)</title></line>')
    for i, (name, est, low, up) in enumerate(good):
        y = top + 26 * i + 12
        text = f"{name}: {est:.3g} (95% CI {low:.3g}–{up:.3g})"
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" class="tick">'
                   f'{escape(name)}</text>')
        out.append(f'<line x1="{sx(low):.1f}" x2="{sx(up):.1f}" y1="{y}" y2="{y}" '
                   f'stroke="{_STYLES[0][0]}" stroke-width="2"/>')
        out.append(f'<rect x="{sx(est) - 5:.1f}" y="{y - 5}" width="10" height="10" '
                   f'fill="{_STYLES[0][0]}" tabindex="0"><title>{escape(text)}</title></rect>')
    out.append(f'<text x="{left + w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
               f'class="axis">{escape(x_label)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "",
              width: int = 560, signed: bool = False) -> str:
    """Horizontal bars with the value written beside each (hover: the same)."""
    if not rows:
        return f'<p class="empty">{escape(title)}: no values.</p>'
    height = 30 + 24 * len(rows)
    # room for the longest label at the tick font (about 6.5 px a Latin character, 12 px
    # a Chinese one), so that "Lower systolic blood pressure by 10 mmHg" is not cut
    longest = max(sum(12.0 if ord(ch) > 0x2E7F else 6.5 for ch in label)
                  for label, _ in rows)
    left, right = max(190, int(longest) + 12), 70
    width = max(width, left + right + 240)
    w = width - left - right
    top = max(abs(v) for _, v in rows) or 1.0
    zero = left + (w / 2 if signed else 0)
    scale = (w / 2 if signed else w) / top
    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>',
           f'<text x="4" y="16" class="chart-title">{escape(title)}</text>']
    for i, (label, v) in enumerate(rows):
        y = 26 + 24 * i
        x, bw = (zero, v * scale) if v >= 0 else (zero + v * scale, -v * scale)
        cls = "bar-neg" if v < 0 else "bar"
        text = f"{label}: {v:+.3g}{unit}" if signed else f"{label}: {v:.3g}{unit}"
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" class="tick">'
                   f'{escape(label)}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(bw, 1):.1f}" height="16" '
                   f'class="{cls}" tabindex="0"><title>{escape(text)}</title></rect>')
        out.append(f'<text x="{left + w + 4}" y="{y + 13}" class="tick">'
                   f'{v:+.3g}{escape(unit)}</text>' if signed else
                   f'<text x="{left + w + 4}" y="{y + 13}" class="tick">{v:.3g}'
                   f'{escape(unit)}</text>')
    if signed:
        out.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="22" y2="{height - 4}" '
                   'class="axis-line"/>')
    out.append("</svg>")
    return "".join(out)


def gauge(risk: float, *, yellow: float, red: float, label: str, level_text: str) -> str:
    """A half-dial from 0 to 30 % with green / yellow / red bands, the needle at ``risk``
    and the value and tier written out."""
    top = max(0.30, min(1.0, risk * 1.2))

    def point(v: float, r: float) -> tuple[float, float]:
        a = math.pi * (1 - min(v, top) / top)
        return 150 + r * math.cos(a), 140 - r * math.sin(a)

    def band(a: float, b: float, cls: str, name: str) -> str:
        (x1, y1), (x2, y2) = point(a, 110), point(b, 110)
        return (f'<path d="M {x1:.1f} {y1:.1f} A 110 110 0 0 1 {x2:.1f} {y2:.1f}" '
                f'class="{cls}" fill="none" stroke-width="22"><title>{escape(name)}</title>'
                '</path>')

    nx, ny = point(risk, 96)
    return (f'<svg viewBox="0 0 300 190" width="100%" style="max-width:320px" role="img" '
            f'aria-label="{escape(label)}: {100 * risk:.1f} %, {escape(level_text)}" '
            f'class="gauge"><title>{escape(label)}</title>'
            + band(0, yellow, "band-green", f"green: below {100 * yellow:.0f} %")
            + band(yellow, red, "band-yellow",
                   f"yellow: {100 * yellow:.0f}-{100 * red:.0f} %")
            + band(red, top, "band-red", f"red: {100 * red:.0f} % and above")
            + f'<line x1="150" y1="140" x2="{nx:.1f}" y2="{ny:.1f}" class="needle"/>'
            f'<circle cx="150" cy="140" r="6" class="needle-hub"/>'
            f'<text x="150" y="172" text-anchor="middle" class="gauge-value">'
            f'{100 * risk:.1f} %</text>'
            f'<text x="150" y="188" text-anchor="middle" class="gauge-level">'
            f'{escape(level_text)}</text></svg>')
