"""Charts of the risk model's performance: pure functions from the model's metadata to Altair.

Every chart reads the out-of-fold curves stored with the model, so the page
draws the same numbers the model card and the CLI report give.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from paincycle.model_metadata import ModelMetadata

WIDTH, HEIGHT = 320, 280


def roc_chart(metadata: ModelMetadata) -> alt.Chart:
    """ROC curve with the chance diagonal; AUC in the title."""
    points = pd.DataFrame(metadata.curves.roc)
    auc = metadata.metrics.auc
    curve = alt.Chart(points).mark_line(point=False).encode(
        x=alt.X("fpr:Q", title="False positive rate (1 - specificity)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("tpr:Q", title="True positive rate (sensitivity)", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("fpr:Q", format=".2f"), alt.Tooltip("tpr:Q", format=".2f")],
    )
    diagonal = alt.Chart(pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="fpr:Q", y="tpr:Q")
    return (diagonal + curve).properties(title=f"ROC (out-of-fold AUC {auc:.2f})",
                                         width=WIDTH, height=HEIGHT)


def calibration_chart(metadata: ModelMetadata) -> alt.LayerChart:
    """Observed share of poor outcomes against predicted risk: points per risk decile and, where
    the file has it, the smoothed (spline) calibration curve as a line."""
    table = pd.DataFrame(metadata.curves.calibration)
    m = metadata.metrics
    points = alt.Chart(table).mark_line(point=True).encode(
        x=alt.X("predicted:Q", title="Predicted risk", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        y=alt.Y("observed:Q", title="Observed poor outcomes", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("predicted:Q", format=".0%"), alt.Tooltip("observed:Q", format=".0%"),
                 alt.Tooltip("n:Q", title="patients")],
    )
    ideal = alt.Chart(pd.DataFrame({"predicted": [0, 1], "observed": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="predicted:Q", y="observed:Q")
    title = (f"Calibration (intercept {m.calibration_intercept:+.2f}, "
             f"slope {m.calibration_slope:.2f})")
    layers = [ideal, points.mark_point(filled=True, size=40)]
    if metadata.curves.calibration_smooth:
        smooth = pd.DataFrame(metadata.curves.calibration_smooth).assign(curve="smoothed")
        layers.append(alt.Chart(smooth).mark_line(color="#1f77b4").encode(
            x="predicted:Q", y="observed:Q",
            tooltip=[alt.Tooltip("predicted:Q", format=".0%"),
                     alt.Tooltip("observed:Q", format=".0%", title="observed (smoothed)")]))
    return alt.layer(*layers).properties(title=title, width=WIDTH, height=HEIGHT)


def decision_curve_chart(metadata: ModelMetadata) -> alt.Chart:
    """Net benefit of reviewing by the model vs reviewing everyone or no one, over thresholds
    from half the prevalence to the highest risk (older files: 10-50%)."""
    table = pd.DataFrame(metadata.curves.decision).rename(columns={
        "model": "review flagged patients", "treat_all": "review everyone",
        "treat_none": "review no one"})
    long = table.melt("threshold", var_name="strategy", value_name="net_benefit")
    # "review everyone" plunges at high thresholds; the axis stops a little below zero so the
    # model's curve stays readable (the lines are clipped there, as decision curves are drawn)
    high = max(0.05, float(long["net_benefit"].max()) + 0.02)
    low = max(-high / 2, min(-0.02, float(long["net_benefit"].min())))
    return alt.Chart(long).mark_line(clip=True).encode(
        x=alt.X("threshold:Q", title="Risk threshold", axis=alt.Axis(format="%")),
        y=alt.Y("net_benefit:Q", title="Net benefit", scale=alt.Scale(domain=[low, high])),
        color=alt.Color("strategy:N", title=None,
                        legend=alt.Legend(orient="bottom", columns=1)),
        strokeDash=alt.StrokeDash("strategy:N", legend=None),
        tooltip=["strategy:N", alt.Tooltip("threshold:Q", format=".0%"),
                 alt.Tooltip("net_benefit:Q", format=".3f")],
    ).properties(title="Decision curve", width=WIDTH, height=HEIGHT + 80)  # + its legend


def ablation_chart(metadata: ModelMetadata) -> alt.LayerChart:
    """Cross-validated AUC of each feature block and of the full model (model.ablation_table).

    Bars start at 0.5 (a coin toss), so their length is the skill above chance.
    """
    table = pd.DataFrame(metadata.ablation)
    table = table[table["auc"].notna()].astype({"auc": float})
    base = alt.Chart(table).encode(
        y=alt.Y("features:N", title=None, sort=None, axis=alt.Axis(labelLimit=220)),
    )
    bars = base.mark_bar(clip=True).encode(
        x=alt.X("auc:Q", title="Cross-validated AUC (0.5 = chance)",
                scale=alt.Scale(domain=[0.5, 1])),
        x2=alt.datum(0.5),
        tooltip=["features:N", alt.Tooltip("auc:Q", format=".3f"), "n_features:Q"],
    )
    labels = base.mark_text(align="left", dx=4).encode(
        x="auc:Q", text=alt.Text("auc:Q", format=".2f"))
    # a step per bar (not a fixed height): the chart grows with its rows, and
    # Streamlit's theme cannot squeeze a few bars into an unreadable strip
    return (bars + labels).properties(title="What predicts: ablation", width=WIDTH,
                                      height=alt.Step(44))


def risk_histogram(scores: pd.DataFrame, threshold: float) -> alt.Chart:
    """Distribution of the current cohort's risks with the flag threshold marked (binned, small)."""
    bins = pd.cut(scores["risk"], bins=[i / 20 for i in range(21)], include_lowest=True)
    counts = bins.value_counts(sort=False)
    table = pd.DataFrame({"from": [b.left for b in counts.index], "to": [b.right for b in counts.index],
                          "patients": counts.to_numpy()})
    table["from"] = table["from"].clip(lower=0)
    bars = alt.Chart(table).mark_bar().encode(
        x=alt.X("from:Q", bin="binned", title="Risk", axis=alt.Axis(format="%")), x2="to:Q",
        y=alt.Y("patients:Q", title="Patients"), tooltip=["patients:Q"])
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(color="firebrick").encode(
        x="threshold:Q")
    return (bars + rule).properties(title="Risk in this cohort (red: flag threshold)",
                                    width=WIDTH * 2, height=180)


def risk_over_time_chart(table: pd.DataFrame, threshold: float | None = None) -> alt.LayerChart:
    """One patient's weekly risk (line with a point per landmark), the flag threshold dashed."""
    frame = table.assign(date=pd.to_datetime(table["date"]).dt.strftime("%Y-%m-%d"))
    line = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("date:T", title="Week (date)", axis=alt.Axis(format="%d %b %Y")),
        y=alt.Y("risk:Q", title="Risk of a poor outcome", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("date:T", title="week of", format="%d %b %Y"),
                 alt.Tooltip("landmark:Q", title="day since intake"),
                 alt.Tooltip("risk:Q", format=".0%")])
    layers = [line]
    if threshold is not None:
        layers.append(alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(
            color="firebrick", strokeDash=[4, 4]).encode(y="threshold:Q"))
    # titled by the page's heading; the description names it for screen readers and tests
    return alt.layer(*layers).properties(description="Risk over time (weekly model)",
                                         width=WIDTH * 2, height=220)


def auc_by_landmark_chart(metadata: ModelMetadata) -> alt.LayerChart:
    """The weekly model's out-of-fold AUC at each landmark, with its 95% interval."""
    rows = [r for r in metadata.by_landmark if r.get("auc") is not None]
    frame = pd.DataFrame([{"landmark": r["landmark"], "auc": r["auc"], "lo": r["auc_ci"][0],
                           "hi": r["auc_ci"][1], "n": r["n"]} for r in rows])
    base = alt.Chart(frame).encode(
        x=alt.X("landmark:Q", title="Landmark (days since intake)"))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("lo:Q", title="Cross-validated AUC", scale=alt.Scale(domain=[0.5, 1])),
        y2="hi:Q")
    line = base.mark_line(point=True).encode(
        y="auc:Q", tooltip=["landmark:Q", alt.Tooltip("auc:Q", format=".3f"),
                            alt.Tooltip("lo:Q", title="95% CI from", format=".3f"),
                            alt.Tooltip("hi:Q", title="95% CI to", format=".3f"),
                            alt.Tooltip("n:Q", title="patients")])
    return (band + line).properties(title="Earliest warning: AUC by landmark", width=WIDTH * 2,
                                    height=220)
