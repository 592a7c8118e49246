"""Chart builders: what each chart encodes, and that only aggregated rows reach it."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

from paincycle import charts, measures, synth
from paincycle import trajectories as tr
from paincycle.cohort import read_cohort


def spec(chart) -> dict:
    return json.loads(chart.to_json())


def datasets(chart) -> list[list[dict]]:
    return list(spec(chart).get("datasets", {}).values())


def all_layers(node: dict) -> list[dict]:
    """Every leaf (a spec with a mark) in a layered / concatenated spec."""
    found = []
    if "mark" in node:
        found.append(node)
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for child in node.get(key, []):
            found.extend(all_layers(child))
    return found


def mark_type(leaf: dict) -> str:
    mark = leaf["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


BANDS = pd.DataFrame({"week": [0, 1, 2, 3], "median": [15.0, 14, 12, 11], "q1": [10.0, 9, 8, 7],
                      "q3": [20.0, 19, 17, 15], "n_patients": [40, 3, 35, 30]})


def test_band_chart_shades_registry_bands_and_names_the_better_direction():
    chart = charts.band_chart(BANDS, "phq9")
    assert isinstance(chart, alt.LayerChart)
    s = spec(chart)
    leaves = all_layers(s)
    titles = [leaf["encoding"]["y"].get("title") for leaf in leaves if "y" in leaf.get("encoding", {})]
    assert any("lower is better" in (t or "") for t in titles)
    assert "lower is better" in s["title"]["subtitle"]
    marks = [mark_type(leaf) for leaf in leaves]
    assert marks.count("rect") == 1 and "area" in marks and "line" in marks
    band_rows = next(rows for rows in datasets(chart) if rows and "band" in rows[0])
    assert [r["band"] for r in band_rows] == ["mild", "moderate", "moderately severe", "severe"]
    assert [(r["lo"], r["hi"]) for r in band_rows] == [(5, 10), (10, 15), (15, 20), (20, 27)]
    better = spec(charts.band_chart(BANDS.assign(median=40.0, q1=35.0, q3=45.0),
                                    "promis_physical_function"))
    assert "higher is better" in better["title"]["subtitle"]


def test_band_chart_leaves_out_weeks_with_few_patients():
    chart = charts.band_chart(BANDS, "phq9", min_patients=10)
    week_rows = next(rows for rows in datasets(chart) if rows and "median" in rows[0])
    assert [r["week"] for r in week_rows] == [0, 2, 3]


def test_severity_segments_for_better_high_bands_run_below_the_threshold():
    seg = charts.severity_segments("pseq")
    assert seg[["lo", "hi", "band"]].values.tolist() == [[0, 20, "low"]]


def test_function_has_promis_t_score_bands_where_lower_is_worse():
    """PROMIS physical function: mild below 45, moderate below 40, severe below 30 (lower is worse)."""
    seg = charts.severity_segments("promis_physical_function")
    assert seg[["lo", "hi", "band"]].values.tolist() == [
        [40, 45, "mild"], [30, 40, "moderate"], [10, 30, "severe"]]
    assert list(seg["depth"]) == sorted(seg["depth"])  # the deepest grey is the worst band
    pf = measures.get("promis_physical_function")
    assert [pf.band_of(v) for v in (28.4, 35, 42, 45, 60)] == [
        "severe", "moderate", "mild", None, None]
    assert measures.get("promis_social_roles").bands == pf.bands


def test_band_chart_marks_each_week_and_breaks_the_line_over_missing_weeks():
    bands = pd.DataFrame({"week": [0, 1, 2, 6, 7, 12], "median": [10.0, 9, 9, 8, 8, 7],
                          "q1": [8.0] * 6, "q3": [12.0] * 6, "n_patients": [30, 30, 30, 30, 2, 30]})
    chart = charts.band_chart(bands, "phq9", min_patients=5)
    rows = next(r for r in datasets(chart) if r and "median" in r[0])
    assert [r["week"] for r in rows] == [0, 1, 2, 6, 12]  # week 7 has too few patients
    assert [r["run"] for r in rows] == [0, 0, 0, 1, 2]  # a new run after each gap
    leaves = all_layers(spec(chart))
    paths = [leaf for leaf in leaves if mark_type(leaf) in ("line", "area")]
    assert paths and all(leaf["encoding"]["detail"]["field"] == "run" for leaf in paths)
    assert "point" in [mark_type(leaf) for leaf in leaves]


def test_followed_strip_counts_patients_under_each_week_and_shows_the_minimum():
    followed = pd.DataFrame({"week": [0, 1, 2, 3], "n_followed": [40, 40, 31, 30]})
    top, bottom = charts.band_chart_pair(BANDS, "phq9", followed, min_patients=10)
    drawn = next(r for r in datasets(top) if r and "median" in r[0])
    assert [r["week"] for r in drawn] == [0, 2, 3]
    scored = next(r for r in datasets(bottom) if r and "drawn" in r[0])
    assert [(r["week"], r["n_patients"], r["drawn"]) for r in scored] == [
        (0, 40, "drawn"), (1, 3, "too few"), (2, 35, "drawn"), (3, 30, "drawn")]
    still = next(r for r in datasets(bottom) if r and "n_followed" in r[0])
    assert [r["n_followed"] for r in still] == [40, 40, 31, 30]
    floor = next(r for r in datasets(bottom) if r and "text" in r[0])
    assert floor[0]["n"] == 10 and "10 patients" in floor[0]["text"]
    x_top = [leaf["encoding"]["x"]["scale"]["domain"] for leaf in all_layers(spec(top))
             if "scale" in leaf.get("encoding", {}).get("x", {})]
    x_bottom = [leaf["encoding"]["x"]["scale"]["domain"] for leaf in all_layers(spec(bottom))
                if "scale" in leaf.get("encoding", {}).get("x", {})]
    assert x_top and {json.dumps(d) for d in x_top + x_bottom} == {json.dumps([0, 3])}


def test_min_patients_per_week_never_draws_a_median_of_a_handful():
    assert charts.min_patients_per_week(3) == charts.MIN_PATIENTS_PER_WEEK == 5
    assert charts.min_patients_per_week(40) == 5  # a 40-patient import: not 2
    assert charts.min_patients_per_week(200) == 10
    assert charts.min_patients_per_week(100_000) == 20


def test_band_chart_sends_one_row_per_week_not_per_observation():
    cohort = synth.generate(150, seed=3)
    bands = tr.cohort_bands(cohort, "pain_nrs")
    n_obs = int((cohort.observations["measure"] == "pain_nrs").sum())
    chart = charts.band_chart(bands, "pain_nrs")
    rows = sum(len(d) for d in datasets(chart))
    assert rows <= len(bands) + len(charts.severity_segments("pain_nrs"))
    assert rows < n_obs / 20


def test_domain_band_charts_is_a_grid_of_one_chart_per_measure():
    grid = charts.domain_band_charts({"phq9": BANDS, "isi": BANDS, "pain_nrs": BANDS.assign(
        median=5.0, q1=4.0, q3=6.0)})
    assert isinstance(grid, alt.VConcatChart)
    s = spec(grid)
    assert len(s["vconcat"]) == 2 and len(s["vconcat"][0]["hconcat"]) == 2


def _timeline_cohort(tiny_cohort_dir):
    return read_cohort(tiny_cohort_dir)


def leaf_rows(chart) -> list[dict]:
    return [r for d in datasets(chart) for r in d]


def test_patient_timeline_stacks_four_domains_on_dates_with_labelled_lanes(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    chart = charts.patient_timeline(cohort, "P001", ongoing=["cbt"])
    assert isinstance(chart, alt.VConcatChart)
    s = spec(chart)
    titles = [row["title"]["text"] for row in s["vconcat"]]
    assert titles == [
        "Pain: Average pain (NRS 0-10) (↓ lower is better)", "Mood: PHQ-9 total (↓ lower is better)",
        "Sleep: no scores recorded", "Function: PROMIS physical function T (↑ higher is better)",
        "Treatments and appointments"]
    leaves = all_layers(s)
    dates = [leaf for leaf in leaves if leaf["encoding"].get("x", {}).get("type") == "temporal"]
    domains = [leaf["encoding"]["x"]["scale"]["domain"] for leaf in dates
               if "scale" in leaf["encoding"]["x"]]
    # a week before intake (2025-01-06) to a week after the last record (2026-01-05), on every row
    assert len(domains) >= 5 and all(d == [{"year": 2024, "month": 12, "date": 30},
                                           {"year": 2026, "month": 1, "date": 12}] for d in domains)
    weeks = [leaf for leaf in leaves if leaf["encoding"].get("x", {}).get("field") == "w"]
    assert len(weeks) == 1 and weeks[0]["encoding"]["x"]["axis"]["title"] == charts.WEEK_TITLE
    # one y-axis width everywhere, so the rows' plots line up with the lanes
    extents = {leaf["encoding"]["y"]["axis"]["minExtent"] for leaf in leaves
               if "axis" in leaf["encoding"].get("y", {}) and leaf["encoding"]["y"]["axis"]}
    assert extents == {charts.LANE_LABEL_WIDTH}

    lanes = s["vconcat"][-1]
    rows = leaf_rows(chart)
    courses = [r for r in rows if "x2" not in r and r.get("lane") == "CBT"]
    assert courses and courses[0]["treatment"] == "cbt" and courses[0]["ongoing"] == "ongoing"
    assert courses[0]["start"].startswith("2025-01-20") and courses[0]["stop"].startswith("2026-01-05")
    y = next(leaf for leaf in all_layers(lanes) if "y" in leaf["encoding"])["encoding"]["y"]
    assert y["scale"]["domain"] == ["CBT", charts.MISSED_LANE]  # only what P001 had
    missed = [r for r in rows if r.get("lane") == charts.MISSED_LANE]
    assert [r["date"][:10] for r in missed] == ["2025-02-17"]
    colours = next(leaf for leaf in all_layers(lanes) if "color" in leaf["encoding"])
    assert colours["encoding"]["color"]["scale"] == {"domain": ["cbt"],
                                                     "range": [charts.TREATMENT_COLOURS["cbt"]]}
    pain = [r for r in rows if r.get("measure") == "pain_nrs" and "value" in r]
    assert sorted(r["value"] for r in pain) == [5.0, 7.0]
    assert {r["date"][:10] for r in pain} == {"2025-01-09", "2025-04-10"}  # mid-week of weeks 0, 13


def test_patient_timeline_lanes_hold_only_the_patients_treatments_in_human_names():
    cohort = synth.generate(60, seed=5)
    treated = cohort.events[cohort.events["event"] == "treatment_start"]
    pid = treated["patient_id"].value_counts().index[0]
    had = set(treated.loc[treated["patient_id"] == pid, "detail"].astype(str))
    lanes = spec(charts.patient_timeline(cohort, pid))["vconcat"][-1]
    y = next(leaf for leaf in all_layers(lanes) if "y" in leaf["encoding"])["encoding"]["y"]
    treatment_lanes = [lane for lane in y["scale"]["domain"]
                       if lane not in (charts.ATTENDED_LANE, charts.MISSED_LANE)]
    assert sorted(treatment_lanes) == sorted(charts.treatment_name(t) for t in had)
    assert all("_" not in lane for lane in treatment_lanes)
    bars = next(leaf for leaf in all_layers(lanes) if mark_type(leaf) == "bar")
    scale = bars["encoding"]["color"]["scale"]
    assert set(scale["domain"]) == had
    # severity bands are grey only: no treatment colour is drawn in the domain rows
    for row in spec(charts.patient_timeline(cohort, pid))["vconcat"][:-1]:
        for leaf in all_layers(row):
            assert "color" not in leaf["encoding"]
            colour = leaf["mark"].get("color") if isinstance(leaf["mark"], dict) else None
            assert colour in (None, "#888888", "#444444", charts.LINE_COLOUR)


def test_every_treatment_has_a_name_and_a_distinct_colour_blind_safe_colour():
    from paincycle.cohort import TREATMENTS

    assert set(charts.TREATMENT_COLOURS) == set(TREATMENTS) == set(charts.TREATMENT_NAMES)
    assert len(set(charts.TREATMENT_COLOURS.values())) == len(TREATMENTS)
    assert set(charts.TREATMENT_COLOURS.values()) <= set(charts.OKABE_ITO)
    assert charts.treatment_name("graded_exercise") == "Graded exercise"


def test_patient_timeline_without_events(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    chart = charts.patient_timeline(cohort, "P003")
    rows = leaf_rows(chart)
    assert [r["value"] for r in rows if "value" in r] == [8.0]
    assert any(r.get("text") == "no treatments or appointments recorded" for r in rows)


def test_patient_timeline_rows_fit_their_titles_when_streamlit_sizes_them(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    plain = charts.patient_timeline_rows(cohort, "P001")
    whole = charts.patient_timeline_rows(cohort, "P001", whole_height=True)
    assert len(plain) == len(whole) == 5
    assert spec(whole[0])["height"] == charts.DOMAIN_ROW_HEIGHT + charts.ROW_TITLE_PX + \
        charts.WEEKS_AXIS_PX
    assert spec(whole[1])["height"] == spec(plain[1])["height"] + charts.ROW_TITLE_PX


def test_responder_tiles_one_per_domain_with_the_mcid(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    status = tr.domain_status(tr.responder_status(cohort))
    chart = charts.responder_tiles(status[status["patient_id"] == "P001"])
    assert isinstance(chart, alt.LayerChart)
    rows = next(d for d in datasets(chart) if d and "detail" in d[0])
    by_domain = {r["domain"]: r for r in rows}
    assert list(by_domain) == ["Pain", "Mood", "Sleep", "Function", "Psychological"]
    assert by_domain["Mood"]["status"] == "improved"
    assert by_domain["Mood"]["scores"] == "18 → 12"  # baseline -> latest
    assert by_domain["Mood"]["detail"] == "-6 since baseline · MCID 5"
    assert by_domain["Sleep"]["status"] == "not enough data" and by_domain["Sleep"]["scores"] == ""
    assert by_domain["Function"]["scores"] == "35.5 → 41"
    assert by_domain["Function"]["detail"] == "+5.5 since baseline · MCID 4"


def test_sparkline_from_values_or_frame():
    chart = charts.sparkline([3.0, 4.0, 6.0])
    rows = datasets(chart)[0]
    assert [r["value"] for r in rows] == [3.0, 4.0, 6.0]
    s = spec(chart)
    assert s["encoding"]["x"]["axis"] is None and s["encoding"]["y"]["axis"] is None
    frame = charts.sparkline(pd.DataFrame({"week": [0, 5], "value": [1.0, 2.0], "extra": [1, 1]}))
    assert [r["week"] for r in datasets(frame)[0]] == [0, 5]


def test_the_patient_page_charts_pass_the_vega_lite_schema(tiny_cohort_dir):
    """The Patient page draws these without validating them again (ui.trajectories.draw):
    here they are validated once, against Altair's Vega-Lite schema."""
    cohort = _timeline_cohort(tiny_cohort_dir)
    status = tr.domain_status(tr.responder_status(cohort))
    for chart in [*charts.patient_timeline_rows(cohort, "P001"),
                  charts.responder_tiles(status[status["patient_id"] == "P001"])]:
        assert chart.to_dict(validate=True)["$schema"].startswith("https://vega.github.io/schema/")
