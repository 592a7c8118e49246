"""The measure registry: the one place that knows each instrument's facts.

Ranges, directions, MCIDs, severity bands, domains and LOINC codes come from
the cohort format (shared contract); every validator, chart, feature and export
reads them from here rather than repeating a number. What a change *means*
(the MCID verdict, windows, which measure speaks) is in paincycle.rules.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

Domain = Literal["pain", "mood", "sleep", "function", "psychological", "context"]
Direction = Literal["worse_high", "better_high"]

#: The four clinical domains shown side by side everywhere, in display order.
CLINICAL_DOMAINS: tuple[str, ...] = ("pain", "mood", "sleep", "function")
#: Catastrophizing, fear of movement, self-efficacy and perceived injustice: a group of
#: their own, shown under this name and never counted as mood or function.
PSYCHOLOGICAL = "psychological"
#: Every group a change since baseline is judged in (tiles, verdicts, agenda, exports).
VERDICT_GROUPS: tuple[str, ...] = (*CLINICAL_DOMAINS, PSYCHOLOGICAL)
#: Display order of every group, with the opioid dose (context) last.
GROUP_ORDER: tuple[str, ...] = (*VERDICT_GROUPS, "context")

#: Prefix of clinic-defined measures that the registry does not know.
CUSTOM_PREFIX = "x_"


@dataclass(frozen=True)
class Band:
    """A named severity level.

    For worse-high measures ``threshold`` is where the level starts (PHQ-9
    moderate from 10). For better-high measures it is where the level ends:
    PSEQ "low" means a score below 20.
    """

    name: str
    threshold: float


@dataclass(frozen=True)
class Measure:
    code: str
    instrument: str
    domain: Domain
    low: float
    high: float
    direction: Direction
    mcid: float | None = None
    mcid_percent: float | None = None
    bands: tuple[Band, ...] = field(default_factory=tuple)
    loinc: str | None = None
    unit: str = "score"
    #: Other LOINC codes exports send for this same score (the registry's code table; a
    #: clinic's mapping can add more). A panel code counts when the panel carries a value:
    #: that value is the panel's total.
    also_loinc: tuple[str, ...] = ()
    #: The LOINC item codes a questionnaire response is scored from when it has no total,
    #: and how (every item answered, then their sum or mean); empty: not scored from items.
    items: tuple[str, ...] = ()
    item_rule: Literal["sum", "mean"] | None = None

    @property
    def loinc_codes(self) -> tuple[str, ...]:
        """Every LOINC code that means this measure, the registry's own first."""
        return ((self.loinc,) if self.loinc else ()) + self.also_loinc

    @property
    def worse_high(self) -> bool:
        return self.direction == "worse_high"

    def band_of(self, value: float) -> str | None:
        """Name of the severity band a score falls in, or None outside every band."""
        if not self.worse_high:
            below = [b for b in self.bands if value < b.threshold]
            return min(below, key=lambda b: b.threshold).name if below else None
        name = None
        for band in sorted(self.bands, key=lambda b: b.threshold):
            if value >= band.threshold:
                name = band.name
        return name

    def band_start(self, name: str) -> float:
        """Where the named band starts (KeyError when the measure has no such band)."""
        for band in self.bands:
            if band.name == name:
                return band.threshold
        raise KeyError(f"{self.code} has no band {name!r}")

    def in_range(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def label(self) -> str:
        return self.instrument


def _bands(*pairs: tuple[str, float]) -> tuple[Band, ...]:
    return tuple(Band(name, lower) for name, lower in pairs)


#: Better-high bands end at their threshold (see Band): mild is a T below 45.
_PROMIS_FUNCTION_BANDS = _bands(("mild", 45), ("moderate", 40), ("severe", 30))

_MEASURES: tuple[Measure, ...] = (
    Measure("pain_nrs", "Average pain (NRS 0-10)", "pain", 0, 10, "worse_high", 2, 30,
            _bands(("mild", 1), ("moderate", 4), ("severe", 7)), "72514-3",
            also_loinc=("38208-5",)),  # "Pain severity - Reported" (Synthea's FHIR, IHE mAPS)
    Measure("peg", "PEG-3 mean", "pain", 0, 10, "worse_high", 1, None, (), "91147-9",
            # pain on average, interference with enjoyment of life, with general activity
            items=("75893-8", "91145-3", "91146-1"), item_rule="mean"),
    Measure("bpi_interference", "BPI interference mean", "pain", 0, 10, "worse_high", 1, None,
            _bands(("mild", 0), ("moderate", 5), ("severe", 7)), "77565-0"),
    Measure("promis_pain_interference", "PROMIS pain interference T", "pain", 20, 90,
            "worse_high", 3, None, _bands(("mild", 55), ("moderate", 60), ("severe", 70)),
            "71961-7", "T-score",
            also_loinc=("77865-4",)),  # PROMIS pain interference v1.0 T-score (short forms, CAT)
    Measure("phq9", "PHQ-9 total", "mood", 0, 27, "worse_high", 5, None,
            _bands(("mild", 5), ("moderate", 10), ("moderately severe", 15), ("severe", 20)),
            "44261-6", also_loinc=("44249-1",),  # the PHQ-9 panel, when it carries the total
            items=("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
                   "44253-3", "44260-8"), item_rule="sum"),
    Measure("gad7", "GAD-7 total", "mood", 0, 21, "worse_high", 4, None,
            _bands(("mild", 5), ("moderate", 10), ("severe", 15)), "70274-6",
            also_loinc=("69737-5",),  # the GAD-7 panel, when it carries the total
            items=("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
            item_rule="sum"),
    Measure("promis_depression", "PROMIS depression T", "mood", 20, 90, "worse_high", 3, None,
            _bands(("mild", 55), ("moderate", 60), ("severe", 70)), "71965-8", "T-score",
            # the depression item bank's T-score (short forms, CAT); not 77821-7, a raw score
            also_loinc=("77861-3",)),
    Measure("pcs", "Pain Catastrophizing Scale", "psychological", 0, 52, "worse_high", 8, None,
            _bands(("high", 30),)),
    Measure("isi", "Insomnia Severity Index", "sleep", 0, 28, "worse_high", 6, None,
            _bands(("subthreshold", 8), ("moderate", 15), ("severe", 22))),
    Measure("promis_sleep_disturbance", "PROMIS sleep disturbance T", "sleep", 20, 90,
            "worse_high", 3, None, _bands(("mild", 55), ("moderate", 60), ("severe", 70)),
            "71955-9", "T-score",
            # sleep disturbance item bank T-score; not 77859-7 (sleep-related impairment)
            also_loinc=("77860-5",)),
    Measure("sleep_hours", "Diary total sleep time", "sleep", 0, 24, "better_high", 1, None, (),
            None, "hours"),
    # PROMIS function T-scores (higher is better) use the HealthMeasures adult cut points for
    # function domains (healthmeasures.net, "PROMIS Score Cut Points", the function figure),
    # the mirror of the symptom bands above at 0.5, 1 and 2 SD from the population mean of 50:
    # within normal limits from 45, mild below 45, moderate below 40, severe below 30.
    Measure("promis_physical_function", "PROMIS physical function T", "function", 10, 90,
            "better_high", 4, None, _PROMIS_FUNCTION_BANDS, "71959-1", "T-score",
            also_loinc=("91721-1", "77866-2")),  # physical function v2.0 and v1.0 T-scores
    Measure("promis_social_roles", "PROMIS social roles T", "function", 20, 90, "better_high",
            4, None, _PROMIS_FUNCTION_BANDS, "71957-5", "T-score"),
    Measure("odi", "Oswestry Disability Index", "function", 0, 100, "worse_high", 10, None,
            _bands(("moderate", 21), ("severe", 41), ("crippled", 61), ("bed-bound", 81)),
            "97909-6", "%"),
    Measure("pdi", "Pain Disability Index", "function", 0, 70, "worse_high", 9),
    Measure("steps", "Daily step count (wearable)", "function", 0, 100000, "better_high", 1000,
            None, (), "55423-8", "steps/day",
            also_loinc=("41950-7",)),  # "Number of steps in 24 hour Measured"
    Measure("active_minutes", "Daily active minutes", "function", 0, 1440, "better_high", 15,
            None, (), None, "min/day"),
    Measure("tsk", "Tampa Scale of Kinesiophobia", "psychological", 17, 68, "worse_high", 6, None,
            _bands(("high", 38),)),
    Measure("pseq", "Pain Self-Efficacy Questionnaire", "psychological", 0, 60, "better_high", 5.5,
            None, _bands(("low", 20),)),
    Measure("ieq", "Injustice Experience Questionnaire", "psychological", 0, 48, "worse_high", None,
            None, _bands(("high", 30),)),
    Measure("mme", "Daily opioid dose (MME)", "context", 0, 1000, "worse_high", None, None,
            _bands(("high", 50),), None, "mg/day"),
)

MEASURES: dict[str, Measure] = {m.code: m for m in _MEASURES}
#: The code table: every LOINC code that means a measure (tests check no code means two).
BY_LOINC: dict[str, Measure] = {code: m for m in _MEASURES for code in m.loinc_codes}
#: Morphine milligram equivalents per mg of the opioid taken by mouth (fentanyl: per mcg/hour
#: of a transdermal patch), from the CDC Clinical Practice Guideline for Prescribing Opioids
#: for Pain (Dowell et al., MMWR Recomm Rep 2022;71(RR-3):1-95). Buprenorphine has no factor
#: there and is not converted.
MME_FACTORS: dict[str, float] = {
    "codeine": 0.15, "fentanyl": 2.4, "hydrocodone": 1.0, "hydromorphone": 5.0,
    "methadone": 4.7, "morphine": 1.0, "oxycodone": 1.5, "oxymorphone": 3.0,
    "tapentadol": 0.4, "tramadol": 0.2,
}
#: Opioids recognised in medication names (those with an MME factor, and buprenorphine).
OPIOIDS: tuple[str, ...] = (*MME_FACTORS, "buprenorphine")
#: Item code -> the measure it is scored into (questionnaire responses without a total).
BY_ITEM: dict[str, Measure] = {code: m for m in _MEASURES for code in m.items}
#: The PHQ and GAD-7 frequency answers (LOINC answer list LL358-3): not at all, several
#: days, more than half the days, nearly every day.
FREQUENCY_ANSWERS: dict[str, int] = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2,
                                     "LA6571-9": 3}


def get(code: str) -> Measure:
    """The registry entry for ``code``; KeyError names the closest known code."""
    try:
        return MEASURES[code]
    except KeyError:
        hint = suggest(code)
        raise KeyError(f"unknown measure {code!r}" + (f" (did you mean {hint!r}?)" if hint else "")) from None


def is_known(code: str) -> bool:
    return code in MEASURES or code.startswith(CUSTOM_PREFIX)


def suggest(code: str) -> str | None:
    """Closest registry code to a mistyped one, for validation messages."""
    matches = difflib.get_close_matches(str(code).strip().lower(), list(MEASURES), n=1, cutoff=0.5)
    return matches[0] if matches else None


def in_domain(domain: str) -> list[Measure]:
    return [m for m in _MEASURES if m.domain == domain]


def domain_of(code: str) -> str | None:
    measure = MEASURES.get(code)
    return measure.domain if measure else None
