"""Altair chart builders: pure functions from analysis frames to charts.

Every builder takes already aggregated rows (a cohort band is one row per
week, never one per observation), so a chart costs the same for 5 patients
or 100,000, and the same chart serves the pages and the exported reports.
Colours are the Okabe-Ito palette, safe for the common colour-vision deficiencies;
severity is shown with grey shading of increasing depth, never with colour alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from paincycle import measures, trajectories
from paincycle.cohort import TREATMENTS, Cohort

#: Okabe-Ito, without black (kept for marks such as missed appointments).
OKABE_ITO: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                              "#D55E00", "#F0E442", "#999999")
LINE_COLOUR = "#0072B2"
MISSED_COLOUR = "#000000"
STATUS_COLOURS: dict[str, str] = {
    "improved": "#0072B2",
    "no reliable change": "#BBBBBB",
    "worse": "#D55E00",
    "not enough data": "#EEEEEE",
}
#: Label shown on a responder tile for each status.
STATUS_LABELS: dict[str, str] = {
    "improved": "improved", "no reliable change": "no change", "worse": "worse",
    "not enough data": "not enough data",
}
WEEK_TITLE = "Weeks since intake"
#: Whole band chart, titles and axes included. Streamlit fits a chart into this
#: height with its theme's larger paddings; at 220 px the plot shrank to a strip
#: and the rotated y-axis title pushed the heading out of view.
BAND_CHART_HEIGHT = 300
#: Responder tiles, domain labels included: three lines of text per tile.
TILES_HEIGHT = 130


def better_direction(code: str) -> str:
    """'lower is better' or 'higher is better', from the registry's direction."""
    return "lower is better" if measures.get(code).worse_high else "higher is better"


def _arrow(code: str) -> str:
    return "↓" if measures.get(code).worse_high else "↑"


def _y_domain(code: str, values: Sequence[float] = ()) -> list[float] | None:
    """Full instrument range for questionnaires; data-driven for open-ended counts (steps)."""
    m = measures.get(code)
    if m.high - m.low <= 100:
        return [m.low, m.high]
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return [m.low, max(finite) * 1.1] if finite else None


def severity_segments(code: str) -> pd.DataFrame:
    """The registry's severity bands as y-ranges (lo, hi, band, depth) for shading.

    Worse-high bands run from their threshold up to the next; better-high
    bands (PSEQ "low") run from the bottom of the scale up to their threshold.
    ``depth`` grows with severity (0..1) and drives the grey's opacity.
    """
    m = measures.get(code)
    bands = sorted(m.bands, key=lambda b: b.threshold)
    rows = []
    if m.worse_high:
        for i, band in enumerate(bands):
            hi = bands[i + 1].threshold if i + 1 < len(bands) else m.high
            rows.append((band.threshold, hi, band.name, (i + 1) / len(bands)))
    else:
        lows = sorted(bands, key=lambda b: -b.threshold)
        for i, band in enumerate(lows):
            lo = lows[i + 1].threshold if i + 1 < len(lows) else m.low
            rows.append((lo, band.threshold, band.name, (i + 1) / len(lows)))
    return pd.DataFrame(rows, columns=["lo", "hi", "band", "depth"])


def _severity_layers(code: str, x_max: float) -> list[alt.Chart]:
    segments = severity_segments(code)
    if segments.empty:
        return []
    segments = segments.assign(mid=(segments["lo"] + segments["hi"]) / 2, x_label=x_max)
    base = alt.Chart(segments)
    shade = base.mark_rect(color="#888888").encode(
        y=alt.Y("lo:Q"), y2="hi:Q",
        opacity=alt.Opacity("depth:Q", scale=alt.Scale(domain=[0, 1], range=[0.06, 0.3]),
                            legend=None),
        tooltip=[alt.Tooltip("band:N", title="Severity band")],
    )
    labels = base.mark_text(align="right", dx=-3, fontSize=10, color="#444444").encode(
        x=alt.X("x_label:Q"), y=alt.Y("mid:Q"), text="band:N")
    return [shade, labels]


def band_chart(bands_df: pd.DataFrame, measure: str, unit: str = "week",
               min_patients: int = 1, title: str | None = None) -> alt.LayerChart:
    """Cohort median and interquartile range over time for one measure.

    Severity bands from the registry are shaded behind it, the better
    direction is written on the axis, and weeks with fewer than
    ``min_patients`` patients are left out (a median of two is noise).
    """
    m = measures.get(measure)
    rows = bands_df[bands_df["n_patients"] >= min_patients] if len(bands_df) else bands_df
    rows = rows.copy()
    x_title = WEEK_TITLE if unit == "week" else "Months since intake"
    x_max = float(rows[unit].max()) if len(rows) else 52.0
    y_title = f"{m.unit} ({_arrow(measure)} {better_direction(measure)})"
    y_scale = alt.Scale(domain=_y_domain(measure, rows["q3"].tolist() if len(rows) else []),
                        nice=False, zero=False)
    base = alt.Chart(rows).encode(x=alt.X(f"{unit}:Q", title=x_title))
    tooltip = [alt.Tooltip(f"{unit}:Q", title=x_title), alt.Tooltip("median:Q", format=".1f"),
               alt.Tooltip("q1:Q", title="lower quartile", format=".1f"),
               alt.Tooltip("q3:Q", title="upper quartile", format=".1f"),
               alt.Tooltip("n_patients:Q", title="patients")]
    iqr = base.mark_area(opacity=0.3, color=LINE_COLOUR).encode(
        y=alt.Y("q1:Q", title=y_title, scale=y_scale), y2="q3:Q", tooltip=tooltip)
    median = base.mark_line(color=LINE_COLOUR, strokeWidth=2).encode(
        y=alt.Y("median:Q", scale=y_scale), tooltip=tooltip)
    layers = [*_severity_layers(measure, x_max), iqr, median]
    heading = title or f"{m.domain.capitalize()}: {m.instrument}"
    return alt.layer(*layers).properties(
        title=alt.Title(heading, subtitle=f"Median and middle 50% of patients · "
                                          f"{_arrow(measure)} {better_direction(measure)}"),
        height=BAND_CHART_HEIGHT,
    )


def domain_band_charts(bands: Mapping[str, pd.DataFrame], unit: str = "week",
                       min_patients: int = 1, columns: int = 2) -> alt.VConcatChart:
    """The four domains' band charts in a grid ({measure code: cohort_bands frame})."""
    charts = [band_chart(frame, code, unit, min_patients).properties(width=320)
              for code, frame in bands.items()]
    rows = [alt.hconcat(*charts[i:i + columns]) for i in range(0, len(charts), columns)]
    return alt.vconcat(*rows) if rows else alt.vconcat(alt.Chart(pd.DataFrame()).mark_text())


def patient_timeline(cohort: Cohort, patient_id: str,
                     measures_by_domain: Mapping[str, str] | None = None,
                     width: int | None = None) -> alt.FacetChart:
    """One patient's four domains stacked on one axis of weeks since intake.

    Each domain row shows its headline measure (weekly means) over the
    registry's severity shading; treatment courses are coloured spans and
    missed appointments dashed black rules in every row. Built as one small
    table faceted by domain (rows share the x-axis, each keeps its own
    y-axis), which draws several times faster than stacking separate charts.
    """
    mine = cohort.subset([patient_id]) if len(cohort.patients) > 1 else cohort
    weekly = trajectories.weekly_series(mine)
    weekly = weekly.assign(week_mid=weekly["week"] + 0.5)
    chosen = {**trajectories.primary_measures(weekly["measure"].unique()),
              **{d: c for d, c in (measures_by_domain or {}).items() if c in set(weekly["measure"])}}
    periods = trajectories.treatment_periods(mine, patient_id)
    visits = trajectories.appointments(mine, patient_id)
    missed = visits[visits["event"] == "missed"]
    ends = [0.0, *weekly["week_mid"].tolist(), *periods["stop_week"].dropna().tolist(),
            *missed["week"].tolist()]
    x_lo, x_hi = min(min(ends), 0.0), max(max(ends), 4.0) + 1
    frames, panels = [], []
    for domain in measures.CLINICAL_DOMAINS:
        code = chosen.get(domain)
        panel = (f"{domain.capitalize()}: {measures.get(code).instrument} "
                 f"({_arrow(code)} {better_direction(code)})" if code else f"{domain.capitalize()}: no scores")
        panels.append(panel)
        if code:
            values = weekly[weekly["measure"] == code]
            frames.append(pd.DataFrame({"panel": panel, "layer": "value", "x": values["week_mid"],
                                        "week": values["week"], "y": values["value"],
                                        "measure": code}))
            seg = severity_segments(code)
            frames.append(pd.DataFrame({"panel": panel, "layer": "band", "y": seg["lo"], "y2": seg["hi"],
                                        "label": seg["band"], "depth": seg["depth"], "x": x_hi,
                                        "ymid": (seg["lo"] + seg["hi"]) / 2}))
            extent = _y_domain(code, values["value"].tolist()) or [values["value"].min(),
                                                                    values["value"].max()]
            frames.append(pd.DataFrame({"panel": [panel], "layer": ["extent"], "y": [extent[0]],
                                        "y2": [extent[1]], "x": [x_lo]}))
        frames.append(pd.DataFrame({"panel": panel, "layer": "treatment", "x": periods["start_week"],
                                    "x2": periods["stop_week"], "treatment": periods["treatment"].astype(str),
                                    "start": periods["start"], "stop": periods["stop"]}))
        frames.append(pd.DataFrame({"panel": panel, "layer": "missed", "x": missed["week"],
                                    "date": missed["date"]}))
    data = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) \
        else pd.DataFrame({"panel": panels, "layer": "extent", "x": x_lo})

    x = alt.X("x:Q", title=WEEK_TITLE, scale=alt.Scale(domain=[x_lo, x_hi], nice=False))
    base = alt.Chart()

    def only(layer: str) -> alt.Chart:
        return base.transform_filter(alt.datum.layer == layer)

    layers = [
        # invisible: gives each row its instrument's full range as the y-axis
        only("extent").mark_rule(opacity=0).encode(
            x=x, y=alt.Y("y:Q", title=None, scale=alt.Scale(nice=False, zero=False)), y2="y2:Q"),
        only("band").mark_rect(color="#888888").encode(
            y="y:Q", y2="y2:Q",
            opacity=alt.Opacity("depth:Q", scale=alt.Scale(domain=[0, 1], range=[0.06, 0.3]), legend=None),
            tooltip=[alt.Tooltip("label:N", title="Severity band")]),
        only("band").mark_text(align="right", dx=-3, fontSize=10, color="#444444").encode(
            x="x:Q", y="ymid:Q", text="label:N"),
        only("treatment").mark_rect(opacity=0.22).encode(
            x=x, x2="x2:Q",
            color=alt.Color("treatment:N", title="Treatment",
                            scale=alt.Scale(domain=list(TREATMENTS), range=list(OKABE_ITO))),
            tooltip=["treatment:N", alt.Tooltip("start:T", format="%Y-%m-%d"),
                     alt.Tooltip("stop:T", format="%Y-%m-%d")]),
        only("value").mark_line(point=True, color=LINE_COLOUR).encode(
            x=x, y="y:Q", tooltip=[alt.Tooltip("week:Q", title="week"),
                                   alt.Tooltip("y:Q", title="score", format=".1f")]),
        only("missed").mark_rule(color=MISSED_COLOUR, strokeDash=[4, 3]).encode(
            x=x, tooltip=[alt.Tooltip("date:T", title="missed appointment", format="%Y-%m-%d")]),
    ]
    header = alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top",
                        labelFontWeight="bold", labelFontSize=12)
    return alt.layer(*layers, data=data).properties(height=130, width=width or 600).facet(
        row=alt.Row("panel:N", title=None, sort=panels, header=header),
    ).resolve_scale(y="independent").properties(
        title=alt.Title(f"Patient {patient_id}",
                        subtitle="Shaded spans: treatments · dashed lines: missed appointments"))


def sparkline(values: Sequence[float] | pd.DataFrame, width: int = 120,
              height: int = 30) -> alt.Chart:
    """A tiny line of weekly values without axes, for tables and reports.

    Accepts a list of values (one per week) or a frame with week and value.
    """
    if isinstance(values, pd.DataFrame):
        frame = values[["week", "value"]]
    else:
        frame = pd.DataFrame({"week": range(len(values)), "value": list(values)})
    return alt.Chart(frame).mark_line(color=LINE_COLOUR, strokeWidth=1.5).encode(
        x=alt.X("week:Q", axis=None), y=alt.Y("value:Q", axis=None, scale=alt.Scale(zero=False)),
    ).properties(width=width, height=height)


def responder_tiles(status: pd.DataFrame) -> alt.LayerChart:
    """One tile per domain: improved / no change / worse, with the change and the MCID used.

    ``status`` is one patient's :func:`trajectories.domain_status` (domain,
    measure, status, change, mcid); domains without a row say "not enough data".
    """
    rows = []
    by_domain = {row.domain: row for row in status.itertuples()} if len(status) else {}
    for domain in measures.VERDICT_GROUPS:
        row = by_domain.get(domain)
        state = row.status if row is not None else "not enough data"
        if row is not None and state != "not enough data":
            m = measures.get(row.measure)
            detail = f"{row.change:+.1f} since baseline · MCID {m.mcid:g}"
            instrument = m.instrument
        elif row is not None:
            detail, instrument = "no baseline or follow-up", measures.get(row.measure).instrument
        else:
            detail, instrument = "no scores", ""
        rows.append((domain.capitalize(), STATUS_LABELS[state], state, instrument, detail))
    frame = pd.DataFrame(rows, columns=["domain", "label", "status", "instrument", "detail"])
    frame["ink"] = np.where(frame["status"] == "improved", "white", "black")  # legible on the tile
    x = alt.X("domain:N", sort=[d.capitalize() for d in measures.VERDICT_GROUPS],
              axis=alt.Axis(orient="top", title=None, labelFontSize=13, labelAngle=0))
    base = alt.Chart(frame).encode(x=x)
    tile = base.mark_rect(stroke="white", strokeWidth=4).encode(
        # no legend: each tile says its status in words, the colour only repeats it
        color=alt.Color("status:N", title="Change since baseline", legend=None,
                        scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))),
        tooltip=["domain:N", "status:N", "detail:N"])
    ink = alt.Color("ink:N", scale=None)
    label = base.mark_text(fontSize=15, fontWeight="bold", dy=-16).encode(text="label:N", color=ink)
    instrument = base.mark_text(fontSize=10, dy=4).encode(text="instrument:N", color=ink)
    detail = base.mark_text(fontSize=10, dy=18).encode(text="detail:N", color=ink)
    return alt.layer(tile, label, instrument, detail).properties(height=TILES_HEIGHT)
