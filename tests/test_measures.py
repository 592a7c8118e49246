import pytest

from paincycle import measures


def test_registry_holds_every_measure_of_the_contract():
    assert len(measures.MEASURES) == 21
    assert set(measures.CLINICAL_DOMAINS) <= {m.domain for m in measures.MEASURES.values()}


def test_improvement_is_direction_aware():
    phq9 = measures.get("phq9")
    assert phq9.improvement(18, 12) == 6
    assert phq9.is_important_improvement(18, 12)
    assert not phq9.is_important_improvement(18, 14)
    function = measures.get("promis_physical_function")
    assert function.improvement(35, 41) == 6
    assert function.is_important_improvement(35, 39)
    assert function.is_important_worsening(40, 36)
    assert not function.is_important_worsening(40, 37)


def test_pain_mcid_allows_points_or_percent():
    pain = measures.get("pain_nrs")
    assert pain.is_important_improvement(8, 6)  # 2 points
    assert pain.is_important_improvement(3, 2)  # 1 point but 33%
    assert not pain.is_important_improvement(8, 7)


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
