import pytest

from paincycle import measures


def test_registry_holds_every_measure_of_the_contract():
    assert len(measures.MEASURES) == 21
    assert set(measures.CLINICAL_DOMAINS) <= {m.domain for m in measures.MEASURES.values()}


def test_psychological_measures_form_a_group_of_their_own():
    psychological = {m.code for m in measures.in_domain(measures.PSYCHOLOGICAL)}
    assert psychological == {"pcs", "tsk", "pseq", "ieq"}
    assert {m.code for m in measures.in_domain("mood")} == {"phq9", "gad7", "promis_depression"}
    assert "tsk" not in {m.code for m in measures.in_domain("function")}
    assert measures.get("mme").domain == "context"


@pytest.mark.parametrize(("code", "value", "band"), [
    ("phq9", 4, None), ("phq9", 10, "moderate"), ("phq9", 22, "severe"),
    ("pain_nrs", 7, "severe"), ("isi", 15, "moderate"), ("pseq", 19, "low"), ("pseq", 20, None),
])
def test_bands(code, value, band):
    assert measures.get(code).band_of(value) == band


def test_unknown_code_suggests_the_closest():
    assert measures.suggest("phq-9") == "phq9"
    with pytest.raises(KeyError, match="did you mean 'phq9'"):
        measures.get("phq-9")
    assert measures.is_known("x_custom_scale")
    assert measures.BY_LOINC["44261-6"].code == "phq9"


def test_the_code_table_gives_each_loinc_code_one_measure_and_the_docs_list_it():
    from pathlib import Path

    codes = [code for m in measures.MEASURES.values() for code in m.loinc_codes]
    assert len(codes) == len(set(codes)) == len(measures.BY_LOINC), "a code means one measure"
    docs = (Path(__file__).resolve().parents[1] / "docs" / "importers.md").read_text()
    for m in measures.MEASURES.values():
        for code in m.also_loinc:
            assert f"| {m.code} | {code}" in docs, f"docs/importers.md does not list {code}"


def test_promis_form_t_scores_mean_the_domain_and_raw_scores_do_not() -> None:
    """Per-form T-score codes map to the domain's T-score; a raw score or another item bank
    must never be read as one (77821-7: depression 4a raw; 77859-7: sleep-related impairment)."""
    assert measures.BY_LOINC["77861-3"].code == "promis_depression"
    assert measures.BY_LOINC["77865-4"].code == "promis_pain_interference"
    assert measures.BY_LOINC["77860-5"].code == "promis_sleep_disturbance"
    assert measures.BY_LOINC["91721-1"].code == measures.BY_LOINC["77866-2"].code \
        == "promis_physical_function"
    assert "77821-7" not in measures.BY_LOINC and "77859-7" not in measures.BY_LOINC
