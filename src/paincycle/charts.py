"""Altair chart builders: pure functions from analysis frames to charts.

Every builder takes already aggregated rows (a cohort band is one row per
week, never one per observation), so a chart costs the same for 5 patients
or 100,000, and the same chart serves the pages and the exported reports.
Colours are the Okabe-Ito palette, safe for the common colour-vision deficiencies;
severity is shown with grey shading of increasing depth, never with colour alone,
and no treatment colour is ever drawn over it (treatments have lanes of their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from paincycle import measures, trajectories
from paincycle.cohort import Cohort

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
#: One colour per treatment, the same on every patient; each lane also names its treatment,
#: so the colour only repeats what the label says (the most common three are far apart).
TREATMENT_COLOURS: dict[str, str] = dict(zip(
    ("cbt", "physiotherapy", "graded_exercise", "snri", "mbsr", "opioid_taper",
     "sleep_intervention", "other"), OKABE_ITO, strict=True))
#: How a treatment code reads on screen and on paper.
TREATMENT_NAMES: dict[str, str] = {
    "cbt": "CBT", "physiotherapy": "Physiotherapy", "graded_exercise": "Graded exercise",
    "snri": "SNRI", "mbsr": "Mindfulness (MBSR)", "opioid_taper": "Opioid taper",
    "sleep_intervention": "Sleep intervention", "other": "Other treatment",
}
ATTENDED_LANE = "Appointments attended"
MISSED_LANE = "Appointments missed"
WEEK_TITLE = "Weeks since intake"
#: Fewest patients behind a drawn week of a cohort chart, whatever the cohort's size
#: (a median of two or three patients is noise, not a trajectory).
MIN_PATIENTS_PER_WEEK = 5
#: Space kept for every y-axis of the patient timeline, so the rows' plots line up
#: with the treatment lanes, whose axis carries the treatments' names.
LANE_LABEL_WIDTH = 130
DOMAIN_ROW_HEIGHT = 95
#: What a row's title, the weeks axis on top and the dates axis below take, in pixels.
ROW_TITLE_PX = 38
WEEKS_AXIS_PX = 52
DATES_AXIS_PX = 34
LANE_HEIGHT = 20
#: The patients-per-week strip under each cohort band chart, and the y-axis space both keep
#: so their plots line up on one time axis.
COUNT_HEIGHT = 80
COUNT_AXIS_WIDTH = 48
#: The week axis under the counts strip (labels and title), in pixels.
COUNT_AXIS_PX = 75
#: Whole band chart, titles and axes included. Streamlit fits a chart into this
#: height with its theme's larger paddings; at 220 px the plot shrank to a strip
#: and the rotated y-axis title pushed the heading out of view.
BAND_CHART_HEIGHT = 300
#: Responder tiles, domain labels included: four lines of text per tile.
TILES_HEIGHT = 150


def treatment_name(code: str) -> str:
    """'Graded exercise' for graded_exercise: what a clinician reads in a lane or a header."""
    return TREATMENT_NAMES.get(code, str(code).replace("_", " ").capitalize())


def min_patients_per_week(n_patients: int) -> int:
    """Patients a week of a cohort chart needs to be drawn: at least MIN_PATIENTS_PER_WEEK,
    rising to 20 in large cohorts (a twentieth of the patients), so sparse late weeks do not
    draw a jagged tail."""
    return max(MIN_PATIENTS_PER_WEEK, min(20, n_patients // 20))


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


def _runs(periods: pd.Series) -> np.ndarray:
    """A run number per row (rows sorted by period): a new run starts after a skipped period,
    so a line is broken where weeks had no data instead of bridging them."""
    values = periods.to_numpy()
    if not len(values):
        return np.zeros(0, dtype="int64")
    return np.concatenate([[0], np.cumsum(np.diff(values) > 1)]).astype("int64")


def band_chart(bands_df: pd.DataFrame, measure: str, unit: str = "week",
               min_patients: int = 1, title: str | None = None,
               x_domain: Sequence[float] | None = None, x_axis: bool = True) -> alt.LayerChart:
    """Cohort median and interquartile range over time for one measure.

    Severity bands from the registry are shaded behind it, the better
    direction is written on the axis, and weeks with fewer than
    ``min_patients`` patients are left out (a median of two is noise). A
    point marks every week drawn; the line and the band break where weeks are
    missing, so no straight line pretends to know the weeks in between.
    ``x_axis=False`` leaves the week labels to a chart drawn under it.
    """
    m = measures.get(measure)
    rows = bands_df[bands_df["n_patients"] >= min_patients] if len(bands_df) else bands_df
    rows = rows.sort_values(unit).copy()
    rows["run"] = _runs(rows[unit])
    x_title = WEEK_TITLE if unit == "week" else "Months since intake"
    x_max = float(rows[unit].max()) if len(rows) else 52.0
    y_title = f"{m.unit} ({_arrow(measure)} {better_direction(measure)})"
    y_scale = alt.Scale(domain=_y_domain(measure, rows["q3"].tolist() if len(rows) else []),
                        nice=False, zero=False)
    x_scale = alt.Scale(domain=list(x_domain), nice=False) if x_domain is not None else alt.Undefined
    axis = alt.Undefined if x_axis else alt.Axis(title=None, labels=False, ticks=False)
    base = alt.Chart(rows).encode(x=alt.X(f"{unit}:Q", title=x_title, scale=x_scale, axis=axis))
    tooltip = [alt.Tooltip(f"{unit}:Q", title=x_title), alt.Tooltip("median:Q", format=".1f"),
               alt.Tooltip("q1:Q", title="lower quartile", format=".1f"),
               alt.Tooltip("q3:Q", title="upper quartile", format=".1f"),
               alt.Tooltip("n_patients:Q", title="patients")]
    y_axis = alt.Axis(minExtent=COUNT_AXIS_WIDTH, maxExtent=COUNT_AXIS_WIDTH)
    iqr = base.mark_area(opacity=0.3, color=LINE_COLOUR).encode(
        y=alt.Y("q1:Q", title=y_title, scale=y_scale, axis=y_axis), y2="q3:Q", detail="run:N",
        tooltip=tooltip)
    median = base.mark_line(color=LINE_COLOUR, strokeWidth=2).encode(
        y=alt.Y("median:Q", scale=y_scale), detail="run:N", tooltip=tooltip)
    points = base.mark_point(filled=True, size=16, color=LINE_COLOUR, opacity=1).encode(
        y=alt.Y("median:Q", scale=y_scale), tooltip=tooltip)
    layers = [*_severity_layers(measure, x_max), iqr, median, points]
    heading = title or f"{m.domain.capitalize()}: {m.instrument}"
    return alt.layer(*layers).properties(
        title=alt.Title(heading, subtitle=f"Median and middle 50% of patients · "
                                          f"{_arrow(measure)} {better_direction(measure)}"),
        height=BAND_CHART_HEIGHT,
    )


def followed_chart(bands_df: pd.DataFrame, followed: pd.DataFrame, unit: str = "week",
                   min_patients: int = 1, x_domain: Sequence[float] | None = None,
                   whole_height: bool = False) -> alt.LayerChart:
    """The strip under a band chart: how many patients each week rests on.

    Grey area: patients still followed that week (their follow-up reaches it;
    ``followed`` has ``unit`` and ``n_followed``). Bars: patients scored on this
    measure that week, dark where the week is drawn above and pale where it
    has fewer than ``min_patients`` (the dashed line) and is left out. With
    ``whole_height`` the height counts the week axis too (as Streamlit fits it).
    """
    scored = bands_df[[unit, "n_patients"]].copy() if len(bands_df) else pd.DataFrame(
        {unit: pd.Series(dtype="int64"), "n_patients": pd.Series(dtype="int64")})
    scored["drawn"] = np.where(scored["n_patients"] >= min_patients, "drawn", "too few")
    x_scale = alt.Scale(domain=list(x_domain), nice=False) if x_domain is not None else alt.Undefined
    x_title = WEEK_TITLE if unit == "week" else "Months since intake"
    x = alt.X(f"{unit}:Q", title=x_title, scale=x_scale)
    y_axis = alt.Axis(title="patients", minExtent=COUNT_AXIS_WIDTH, maxExtent=COUNT_AXIS_WIDTH,
                      tickCount=3)
    still = alt.Chart(followed).mark_area(color="#BBBBBB", opacity=0.6, interpolate="step-after"
                                          ).encode(
        x=x, y=alt.Y("n_followed:Q", axis=y_axis),
        tooltip=[alt.Tooltip(f"{unit}:Q", title=x_title),
                 alt.Tooltip("n_followed:Q", title="patients still followed")])
    bars = alt.Chart(scored).mark_bar(width=2).encode(
        x=x, y=alt.Y("n_patients:Q"),
        color=alt.Color("drawn:N", legend=None, scale=alt.Scale(domain=["drawn", "too few"],
                                                                range=[LINE_COLOUR, "#9FC4E0"])),
        tooltip=[alt.Tooltip(f"{unit}:Q", title=x_title),
                 alt.Tooltip("n_patients:Q", title="patients scored this week")])
    least = pd.DataFrame({"n": [min_patients],
                          "text": [f"dashed line: {min_patients} patients, the fewest drawn"]})
    floor = alt.Chart(least).mark_rule(color="#444444", strokeDash=[3, 3]).encode(y="n:Q")
    floor_label = alt.Chart(least).mark_text(align="left", baseline="top", fontSize=10,
                                             color="#444444").encode(
        x=alt.value(3), y=alt.value(2), text="text:N")
    return alt.layer(still, bars, floor, floor_label).properties(
        height=COUNT_HEIGHT + (COUNT_AXIS_PX if whole_height else 0))


def band_chart_pair(bands_df: pd.DataFrame, measure: str, followed: pd.DataFrame,
                    unit: str = "week", min_patients: int = 1, whole_height: bool = False
                    ) -> tuple[alt.LayerChart, alt.LayerChart]:
    """:func:`band_chart` and the :func:`followed_chart` under it, on the same time range
    (draw them one under the other; their y-axes keep the same width so the weeks line up,
    and the weeks are labelled once, under the counts)."""
    periods = [*bands_df[unit].tolist(), 0]
    x_domain = [min(periods), max(max(periods), 1)]
    top = band_chart(bands_df, measure, unit, min_patients, x_domain=x_domain, x_axis=False)
    bottom = followed_chart(bands_df, followed[followed[unit] <= x_domain[1]], unit, min_patients,
                            x_domain=x_domain, whole_height=whole_height)
    return top, bottom


def band_chart_with_counts(bands_df: pd.DataFrame, measure: str, followed: pd.DataFrame,
                           unit: str = "week", min_patients: int = 1) -> alt.VConcatChart:
    """:func:`band_chart_pair` stacked into one chart (for reports)."""
    return alt.vconcat(*band_chart_pair(bands_df, measure, followed, unit, min_patients), spacing=6)


def domain_band_charts(bands: Mapping[str, pd.DataFrame], unit: str = "week",
                       min_patients: int = 1, columns: int = 2) -> alt.VConcatChart:
    """The four domains' band charts in a grid ({measure code: cohort_bands frame})."""
    charts = [band_chart(frame, code, unit, min_patients).properties(width=320)
              for code, frame in bands.items()]
    rows = [alt.hconcat(*charts[i:i + columns]) for i in range(0, len(charts), columns)]
    return alt.vconcat(*rows) if rows else alt.vconcat(alt.Chart(pd.DataFrame()).mark_text())


def _day(moment: pd.Timestamp) -> alt.DateTime:
    return alt.DateTime(year=moment.year, month=moment.month, date=moment.day)


def _domain_heading(domain: str, code: str | None) -> str:
    if code is None:
        return f"{domain.capitalize()}: no scores recorded"
    return f"{domain.capitalize()}: {measures.get(code).instrument} ({_arrow(code)} {better_direction(code)})"


def patient_timeline(cohort: Cohort, patient_id: str,
                     measures_by_domain: Mapping[str, str] | None = None,
                     width: int | None = None, ongoing: Sequence[str] = (),
                     title: str | None = None,
                     row_height: int = DOMAIN_ROW_HEIGHT) -> alt.VConcatChart:
    """:func:`patient_timeline_rows` stacked into one chart (for reports; ``width`` in pixels)."""
    rows = patient_timeline_rows(cohort, patient_id, measures_by_domain, ongoing, row_height)
    if width is not None:
        rows = [row.properties(width=width) for row in rows]
    chart = alt.vconcat(*rows, spacing=10).resolve_scale(x="independent", color="independent")
    return chart.properties(title=alt.Title(title, anchor="start")) if title else chart


def patient_timeline_rows(cohort: Cohort, patient_id: str,
                          measures_by_domain: Mapping[str, str] | None = None,
                          ongoing: Sequence[str] = (),
                          row_height: int = DOMAIN_ROW_HEIGHT,
                          whole_height: bool = False) -> list[alt.LayerChart]:
    """One patient's four domains stacked on one calendar, treatments and visits in lanes below.

    Each domain row draws its headline measure (weekly means, a point per
    week scored) over the registry's grey severity bands; the first row's top
    axis counts weeks since intake, the lanes' axis gives dates. The last row
    has one labelled lane per treatment the patient had (a bar per course; the
    treatments in ``ongoing`` are marked so at their last course) and lanes
    for attended and missed appointments. Every row has the same date range
    and the same y-axis width, so drawn one under another (as separate charts
    that each fit the page's width, or stacked by :func:`patient_timeline`)
    their time axes line up. ``row_height`` is each plot's height; with
    ``whole_height`` the rows' heights count their titles and axes too, as
    Streamlit fits a whole chart into its height.
    """
    mine = cohort.subset([patient_id]) if len(cohort.patients) > 1 else cohort
    found = mine.patients[mine.patients["patient_id"].astype(str) == str(patient_id)]
    weekly = trajectories.weekly_series(mine)
    periods = trajectories.treatment_periods(mine, patient_id)
    visits = trajectories.appointments(mine, patient_id)
    dates = [*mine.observations["date"], *mine.events["date"], *periods["stop"].dropna()]
    intake = (pd.Timestamp(found["intake_date"].iloc[0]) if len(found)
              else (min(dates) if dates else pd.Timestamp("today").normalize()))
    first = min([intake, *dates]) - pd.Timedelta(days=7)
    last = max([intake + pd.Timedelta(days=28), *dates]) + pd.Timedelta(days=7)
    x_scale = alt.Scale(domain=[_day(first), _day(last)], nice=False)
    weeks = [(first - intake).days / 7, (last - intake).days / 7]
    quiet_axis = alt.Axis(title=None, labels=False, ticks=False, domain=False, grid=True)
    y_axis = {"minExtent": LANE_LABEL_WIDTH, "maxExtent": LANE_LABEL_WIDTH}
    chosen = {**trajectories.primary_measures(weekly["measure"].unique()),
              **{d: c for d, c in (measures_by_domain or {}).items() if c in set(weekly["measure"])}}
    week_tip = alt.Tooltip("week:Q", title="weeks since intake")

    rows: list[alt.LayerChart] = []
    for domain in measures.CLINICAL_DOMAINS:
        code = chosen.get(domain)
        heading = alt.Title(_domain_heading(domain, code), anchor="start", fontSize=12, offset=4)
        if code is None:
            rows.append(alt.Chart(pd.DataFrame({"x": [_day(first).to_dict()]})).mark_point(opacity=0)
                        .encode(x=alt.X("x:T", scale=x_scale, axis=quiet_axis))
                        .properties(height=1, title=heading))
            continue
        m = measures.get(code)
        values = weekly[weekly["measure"] == code].copy()
        values["date"] = intake + pd.to_timedelta(values["week"] * 7 + 3, unit="D")
        values["week_start"] = intake + pd.to_timedelta(values["week"] * 7, unit="D")
        extent = _y_domain(code, values["value"].tolist()) or [values["value"].min(),
                                                                values["value"].max()]
        y_scale = alt.Scale(domain=extent, nice=False, zero=False)
        line = alt.Chart(values).mark_line(point=alt.OverlayMarkDef(filled=True, size=30),
                                           color=LINE_COLOUR, strokeWidth=2).encode(
            x=alt.X("date:T", scale=x_scale, axis=quiet_axis),
            y=alt.Y("value:Q", scale=y_scale, axis=alt.Axis(title=None, tickCount=4, **y_axis)),
            tooltip=[alt.Tooltip("week_start:T", title="week from", format="%Y-%m-%d"), week_tip,
                     alt.Tooltip("value:Q", title=m.instrument, format=".1f")])
        segments = severity_segments(code).assign(mid=lambda f: (f["lo"] + f["hi"]) / 2)
        layers = []
        if len(segments):
            shade = alt.Chart(segments).mark_rect(color="#888888").encode(
                y=alt.Y("lo:Q", scale=y_scale), y2="hi:Q",
                opacity=alt.Opacity("depth:Q", scale=alt.Scale(domain=[0, 1], range=[0.06, 0.3]),
                                    legend=None),
                tooltip=[alt.Tooltip("band:N", title="Severity band")])
            # a band too thin to hold its name keeps it in the tooltip only
            tall = (segments["hi"] - segments["lo"]) / (extent[1] - extent[0]) * row_height
            labels = alt.Chart(segments[tall >= 10]).mark_text(align="right", dx=-3, fontSize=10,
                                                               color="#444444").encode(
                x=alt.value("width"), y=alt.Y("mid:Q", scale=y_scale), text="band:N")
            layers = [shade, labels]
        row = alt.layer(*layers, line)
        if not rows:  # the first row carries the second time axis: weeks since intake
            ruler = alt.Chart(pd.DataFrame({"w": weeks})).mark_point(opacity=0).encode(
                x=alt.X("w:Q", scale=alt.Scale(domain=weeks, nice=False),
                        axis=alt.Axis(orient="top", title=WEEK_TITLE, grid=False,
                                      titleFontWeight="normal", titleColor="#444444")))
            row = alt.layer(ruler, *layers, line).resolve_scale(x="independent")
        extra = (ROW_TITLE_PX + (WEEKS_AXIS_PX if len(rows) == 0 else 0)) if whole_height else 0
        rows.append(row.properties(height=row_height + extra, title=heading))

    rows.append(_lanes(periods, visits, intake, x_scale, y_axis, ongoing,
                       ROW_TITLE_PX + DATES_AXIS_PX if whole_height else 0))
    return rows


def _lanes(periods: pd.DataFrame, visits: pd.DataFrame, intake: pd.Timestamp,
           x_scale: alt.Scale, y_axis: dict, ongoing: Sequence[str], extra: int = 0
           ) -> alt.LayerChart:
    """Gantt lanes: one per treatment had (in order of first start), then the appointments."""
    courses = periods.assign(treatment=periods["treatment"].astype(str)).reset_index(drop=True)
    courses["lane"] = [treatment_name(t) for t in courses["treatment"]]
    running = set(ongoing)
    last_course = ~courses.duplicated("treatment", keep="last")
    courses["ongoing"] = np.where(courses["treatment"].isin(running) & last_course, "ongoing", "")
    courses["until"] = np.where(courses["ongoing"] == "ongoing", "ongoing",
                                pd.to_datetime(courses["stop"]).dt.strftime("%Y-%m-%d"))
    courses["weeks"] = ((pd.to_datetime(courses["stop"]) - pd.to_datetime(courses["start"])).dt.days
                        / 7).round(1)
    attended = visits[visits["event"] == "attended"].assign(lane=ATTENDED_LANE)
    missed = visits[visits["event"] == "missed"].assign(lane=MISSED_LANE)
    order = [*dict.fromkeys(courses["lane"]), *([ATTENDED_LANE] if len(attended) else []),
             *([MISSED_LANE] if len(missed) else [])]
    date_axis = alt.Axis(title=None, format="%b %Y", labelAngle=0, grid=True, labelOverlap=True)
    x = alt.X("start:T", scale=x_scale, axis=date_axis)
    y = alt.Y("lane:N", sort=order, scale=alt.Scale(domain=order), title=None,
              axis=alt.Axis(labelLimit=LANE_LABEL_WIDTH - 8, ticks=False, domain=False,
                            labelOverlap=False,
                            labelFontSize=11, labelColor="#222222", **y_axis))
    present = list(dict.fromkeys(courses["treatment"]))
    layers: list[alt.Chart] = [
        alt.Chart(courses).mark_bar(size=LANE_HEIGHT - 6, cornerRadius=2).encode(
            x=x, x2="stop:T", y=y,
            color=alt.Color("treatment:N", legend=None, scale=alt.Scale(
                domain=present, range=[TREATMENT_COLOURS.get(t, "#999999") for t in present])),
            tooltip=[alt.Tooltip("lane:N", title="treatment"),
                     alt.Tooltip("start:T", title="from", format="%Y-%m-%d"),
                     alt.Tooltip("until:N", title="until"), alt.Tooltip("weeks:Q", title="weeks")]),
        alt.Chart(courses[courses["ongoing"] == "ongoing"]).mark_text(
            align="left", dx=4, fontSize=10, fontStyle="italic", color="#222222").encode(
            x=alt.X("stop:T", scale=x_scale), y=y, text="ongoing:N"),
    ]
    visit_tip = [alt.Tooltip("lane:N", title="appointment"),
                 alt.Tooltip("date:T", title="date", format="%Y-%m-%d"),
                 alt.Tooltip("week:Q", title="weeks since intake", format=".0f")]
    if len(attended):
        layers.append(alt.Chart(attended).mark_tick(color="#666666", thickness=2,
                                                    size=LANE_HEIGHT - 6).encode(
            x=alt.X("date:T", scale=x_scale, axis=date_axis), y=y, tooltip=visit_tip))
    if len(missed):
        layers.append(alt.Chart(missed).mark_point(shape="cross", angle=45, filled=True, size=60,
                                                   color=MISSED_COLOUR, opacity=1).encode(
            x=alt.X("date:T", scale=x_scale, axis=date_axis), y=y, tooltip=visit_tip))
    if not order:  # nothing to put in a lane: say so on the dates
        note = pd.DataFrame({"start": [intake], "lane": ["Treatments"],
                             "text": ["no treatments or appointments recorded"]})
        return alt.Chart(note).mark_text(align="left", fontSize=11, color="#444444").encode(
            x=x, y=alt.Y("lane:N", title=None, axis=alt.Axis(**y_axis)), text="text:N"
        ).properties(height=LANE_HEIGHT + extra, title=alt.Title("Treatments and appointments",
                                                         anchor="start", fontSize=12))
    return alt.layer(*layers).properties(
        height=LANE_HEIGHT * len(order) + extra,
        title=alt.Title("Treatments and appointments", anchor="start", fontSize=12, offset=4))


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
    """One tile per domain: improved / no change / worse, baseline -> latest, the change and the MCID.

    ``status`` is one patient's :func:`trajectories.domain_status` (domain,
    measure, status, change, mcid; baseline and latest when present); domains
    without a row say "not enough data".
    """
    rows = []
    by_domain = {row.domain: row for row in status.itertuples()} if len(status) else {}
    for domain in measures.VERDICT_GROUPS:
        row = by_domain.get(domain)
        state = row.status if row is not None else "not enough data"
        scores = ""
        if row is not None and state != "not enough data":
            m = measures.get(row.measure)
            detail = f"{_score(row.change, signed=True)} since baseline · MCID {m.mcid:g}"
            baseline, latest = getattr(row, "baseline", None), getattr(row, "latest", None)
            if baseline is not None and latest is not None:
                scores = f"{_score(baseline)} → {_score(latest)}"
            instrument = m.instrument
        elif row is not None:
            detail, instrument = "no baseline or follow-up", measures.get(row.measure).instrument
        else:
            detail, instrument = "no scores", ""
        rows.append((domain.capitalize(), STATUS_LABELS[state], state, instrument, scores, detail))
    frame = pd.DataFrame(rows, columns=["domain", "label", "status", "instrument", "scores",
                                        "detail"])
    frame["ink"] = np.where(frame["status"] == "improved", "white", "black")  # legible on the tile
    x = alt.X("domain:N", sort=[d.capitalize() for d in measures.VERDICT_GROUPS],
              axis=alt.Axis(orient="top", title=None, labelFontSize=13, labelAngle=0))
    base = alt.Chart(frame).encode(x=x)
    tile = base.mark_rect(stroke="white", strokeWidth=4).encode(
        # no legend: each tile says its status in words, the colour only repeats it
        color=alt.Color("status:N", title="Change since baseline", legend=None,
                        scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))),
        tooltip=["domain:N", "status:N", alt.Tooltip("scores:N", title="baseline → latest"),
                 "detail:N"])
    ink = alt.Color("ink:N", scale=None)
    label = base.mark_text(fontSize=15, fontWeight="bold", dy=-26).encode(text="label:N", color=ink)
    instrument = base.mark_text(fontSize=10, dy=-8).encode(text="instrument:N", color=ink)
    scores = base.mark_text(fontSize=13, fontWeight="bold", dy=9).encode(text="scores:N", color=ink)
    detail = base.mark_text(fontSize=10, dy=26).encode(text="detail:N", color=ink)
    return alt.layer(tile, label, instrument, scores, detail).properties(height=TILES_HEIGHT)


def _score(value: float, signed: bool = False) -> str:
    """A score as written on a tile: '12' for whole numbers, '35.5' otherwise."""
    value = float(value)
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
