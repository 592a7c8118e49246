"""Chart builders: what each chart encodes, and that only aggregated rows reach it."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

from paincycle import charts, synth
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
    assert charts.severity_segments("promis_physical_function").empty


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


def test_patient_timeline_stacks_four_domains_with_treatments_and_missed_visits(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    chart = charts.patient_timeline(cohort, "P001")
    assert isinstance(chart, alt.FacetChart)
    s = spec(chart)
    assert s["facet"]["row"]["sort"] == [
        "Pain: Average pain (NRS 0-10) (↓ lower is better)", "Mood: PHQ-9 total (↓ lower is better)",
        "Sleep: no scores", "Function: PROMIS physical function T (↑ higher is better)"]
    assert s["resolve"]["scale"]["y"] == "independent"  # x stays shared: one time axis
    leaves = all_layers(s["spec"])
    x_domains = {json.dumps(leaf["encoding"]["x"]["scale"]["domain"]) for leaf in leaves
                 if "scale" in leaf.get("encoding", {}).get("x", {})}
    assert len(x_domains) == 1
    rows = [r for d in datasets(chart) for r in d]
    panels = {r["panel"] for r in rows}
    cbt = [r for r in rows if r["layer"] == "treatment"]
    assert len(cbt) == 4 and {r["panel"] for r in cbt} == panels  # shaded in every row
    assert cbt[0]["treatment"] == "cbt" and cbt[0]["x"] == 2.0 and cbt[0]["x2"] == 52.0
    missed = [r for r in rows if r["layer"] == "missed"]
    assert len(missed) == 4 and missed[0]["x"] == 6.0
    pain = [r for r in rows if r["layer"] == "value" and r["measure"] == "pain_nrs"]
    assert sorted(r["y"] for r in pain) == [5.0, 7.0]
    extents = {r["panel"]: (r["y"], r["y2"]) for r in rows if r["layer"] == "extent"}
    assert extents["Mood: PHQ-9 total (↓ lower is better)"] == (0, 27)  # the registry range


def test_patient_timeline_without_events(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    rows = [r for d in datasets(charts.patient_timeline(cohort, "P003")) for r in d]
    assert {r["layer"] for r in rows} == {"value", "band", "extent"}
    assert [r["y"] for r in rows if r["layer"] == "value"] == [8.0]


def test_responder_tiles_one_per_domain_with_the_mcid(tiny_cohort_dir):
    cohort = _timeline_cohort(tiny_cohort_dir)
    status = tr.domain_status(tr.responder_status(cohort))
    chart = charts.responder_tiles(status[status["patient_id"] == "P001"])
    assert isinstance(chart, alt.LayerChart)
    rows = next(d for d in datasets(chart) if d and "detail" in d[0])
    by_domain = {r["domain"]: r for r in rows}
    assert list(by_domain) == ["Pain", "Mood", "Sleep", "Function", "Psychological"]
    assert by_domain["Mood"]["status"] == "improved"
    assert by_domain["Mood"]["detail"] == "-6.0 since baseline · MCID 5"
    assert by_domain["Sleep"]["status"] == "not enough data"
    assert by_domain["Function"]["detail"] == "+5.5 since baseline · MCID 4"


def test_sparkline_from_values_or_frame():
    chart = charts.sparkline([3.0, 4.0, 6.0])
    rows = datasets(chart)[0]
    assert [r["value"] for r in rows] == [3.0, 4.0, 6.0]
    s = spec(chart)
    assert s["encoding"]["x"]["axis"] is None and s["encoding"]["y"]["axis"] is None
    frame = charts.sparkline(pd.DataFrame({"week": [0, 5], "value": [1.0, 2.0], "extra": [1, 1]}))
    assert [r["week"] for r in datasets(frame)[0]] == [0, 5]
