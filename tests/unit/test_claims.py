"""Tests of theorytk.claims: every verdict is exercised where it holds and where it fails."""
import json

import numpy as np
import pytest

from theorytk.claims import Agreement, Check, Rate, UpperBound, Verdicts
from theorytk.stats import SlopeFit, loglog_slope

LABELS = ["N=2", "N=4", "N=8"]


def slope_fit(lo, hi, level=0.95):
    mid = (lo + hi) / 2
    return SlopeFit(mid, 0.0, (hi - lo) / 4, lo, hi, level, 5, None, "ols")


# UpperBound --------------------------------------------------------------------------


def test_upper_bound_holds_and_names_the_worst_point():
    claim = UpperBound("N*E", empirical=[0.20, 0.30, 0.44], se=[0.01, 0.02, 0.01], bound=1.0, labels=LABELS)
    assert claim.holds and not claim.violated and claim.status == "holds"
    assert claim.sentence == "N*E stays under the bound: worst upper 3-SE end 0.47x of the bound at N=8. [no theorem]"
    numbers = claim.numbers
    assert numbers["worst_label"] == "N=8"
    assert numbers["worst_upper_ratio"] == pytest.approx(0.47)
    assert numbers["max_ratio"] == pytest.approx(0.44)
    assert numbers["n_upper_over"] == 0 and numbers["n_points"] == 3


def test_upper_bound_is_judged_at_the_upper_k_se_end():
    at_bound = UpperBound("E", empirical=0.7, se=0.1, bound=1.0)
    just_over = UpperBound("E", empirical=0.7 + 1e-9, se=0.1, bound=1.0)
    assert at_bound.holds and not just_over.holds
    assert UpperBound("E", empirical=0.7 + 1e-9, se=0.1, bound=1.0, k=2.0).holds


def test_upper_bound_inconclusive_when_the_band_straddles_the_bound():
    claim = UpperBound("E", empirical=[0.5, 0.95], se=[0.01, 0.1], bound=[1.0, 1.0], labels=["a", "b"])
    assert not claim.holds and not claim.violated and claim.status == "inconclusive"
    assert claim.sentence == (
        "E is not shown to stay under the bound: upper 3-SE end reaches 1.25x the bound at b, "
        "but no point is more than 3 SE above it. [no theorem]"
    )


def test_upper_bound_violated_when_a_point_is_significantly_over():
    claim = UpperBound("E", empirical=[0.5, 1.6, 2.0], se=[0.01, 0.1, 0.5], bound=1.0, labels=LABELS)
    assert not claim.holds and claim.violated and claim.status == "violated"
    # N=4: lower end 1.3 (significant); N=8: lower end 0.5 (not significant).
    assert claim.numbers["n_significantly_over"] == 1 and claim.numbers["n_upper_over"] == 2
    assert claim.sentence == (
        "E exceeds the bound: 1 of 3 points lie more than 3 SE above it, "
        "the furthest at N=4 with lower 3-SE end 1.3x the bound. [no theorem]"
    )


def test_upper_bound_broadcasts_and_labels_two_dimensional_arrays():
    claim = UpperBound("E", empirical=np.array([[0.1, 0.2], [0.3, 0.5]]), se=0.0, bound=[1.0, 2.0])
    assert claim.empirical.shape == claim.se.shape == claim.bound.shape == (2, 2)
    assert claim.holds
    assert claim.numbers["worst_label"] == "index (1, 0)"  # 0.3 / 1.0 beats 0.5 / 2.0
    assert "at index (1, 0)" in claim.sentence


def test_upper_bound_scalar_sentence_has_no_label():
    sentence = UpperBound("E", 0.2, 0.01, 1.0).sentence
    assert sentence == "E stays under the bound: worst upper 3-SE end 0.23x of the bound. [no theorem]"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(se=[-0.1, 0.1, 0.1]), ValueError, "se must be >= 0"),
        (dict(bound=[1.0, 0.0, 1.0]), ValueError, "bound must be > 0"),
        (dict(bound=[1.0, 1.0]), ValueError, r"got shapes empirical \(3,\), se \(3,\), bound \(2,\)"),
        (dict(empirical=[0.1, np.nan, 0.1]), ValueError, "empirical must be finite"),
        (dict(labels=["a", "b"]), ValueError, "one entry per element"),
        (dict(labels="abc"), TypeError, "labels must be a sequence of str"),
        (dict(k=-1.0), ValueError, "k must be >= 0"),
        (dict(name=""), ValueError, "name must be a non-empty str"),
        (dict(name=3), TypeError, "name must be a str"),
    ],
)
def test_upper_bound_rejects_bad_input(kwargs, error, match):
    args = dict(name="E", empirical=[0.1, 0.2, 0.3], se=[0.1, 0.1, 0.1], bound=[1.0, 1.0, 1.0]) | kwargs
    with pytest.raises(error, match=match):
        UpperBound(**args)


def test_upper_bound_is_frozen():
    claim = UpperBound("E", 0.2, 0.01, 1.0)
    with pytest.raises(AttributeError):
        claim.k = 1.0
    with pytest.raises(ValueError, match="read-only"):
        claim.empirical[0] = 2.0


# Rate --------------------------------------------------------------------------------


def test_rate_holds_when_the_interval_is_inside_the_equivalence_range():
    claim = Rate("W2 vs N", slope_fit(-1.06, -0.96), expected=-1.0, tolerance=0.1)
    assert claim.holds
    assert claim.sentence == (
        "W2 vs N falls at the predicted rate: OLS slope -1.01 with 95% interval [-1.06, -0.96] lies inside -1 ± 0.1. [no theorem]"
    )
    assert claim.margin == {"tolerance": 0.1, "level": 0.95}


def test_rate_fails_when_the_interval_excludes_the_expected_rate():
    claim = Rate("W2 vs N", slope_fit(-0.6, -0.4), expected=-1.0, tolerance=0.1)
    assert not claim.holds
    assert claim.sentence.startswith("W2 vs N does not fall at the predicted rate: OLS slope -0.5")
    assert "excludes the expected -1 ± 0.1" in claim.sentence


def test_rate_is_inconclusive_when_the_interval_is_too_wide():
    claim = Rate("W2 vs N", slope_fit(-1.3, -0.8), expected=-1.0, tolerance=0.1)
    assert not claim.holds
    assert "is not shown to fall at the predicted rate" in claim.sentence
    assert "contains the expected -1 but is not inside -1 ± 0.1" in claim.sentence


def test_rate_from_a_real_fit_holds_for_the_true_exponent_only():
    x = np.geomspace(1, 64, 7)
    noise = np.random.default_rng(0).normal(scale=0.01, size=x.size)
    fit = loglog_slope(x, x**-1.0 * np.exp(noise))
    assert Rate("E", fit, expected=-1.0, tolerance=0.05).holds
    assert not Rate("E", fit, expected=-0.5, tolerance=0.05).holds
    boot = SlopeFit(-1.0, 0.0, 0.01, -1.02, -0.98, 0.9, 2, None, "bootstrap")
    assert Rate("E", boot, -1.0, 0.05).sentence == (
        "E falls at the predicted rate: bootstrap slope -1 with 90% interval [-1.02, -0.98] lies inside -1 ± 0.05. [no theorem]"
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(fit=(-1.0, 0.1)), TypeError, "fit must be a theorytk.stats.SlopeFit"),
        (dict(tolerance=0.0), ValueError, "tolerance must be > 0"),
        (dict(expected=np.inf), ValueError, "expected must be finite"),
        (dict(expected="-1"), TypeError, "expected must be a real number"),
    ],
)
def test_rate_rejects_bad_input(kwargs, error, match):
    args = dict(name="E", fit=slope_fit(-1.1, -0.9), expected=-1.0, tolerance=0.2) | kwargs
    with pytest.raises(error, match=match):
        Rate(**args)


# Agreement ---------------------------------------------------------------------------


def test_agreement_holds_within_k_combined_se():
    # |a - b| = 0.5, combined SE = hypot(0.1, 0.1) = 0.1414, allowed 3 SE = 0.424 -> fails;
    # with se 0.2 each, combined 0.283, allowed 0.849 -> holds.
    assert not Agreement("E", a=1.5, se_a=0.1, b=1.0, se_b=0.1).holds
    claim = Agreement("E", a=1.5, se_a=0.2, b=1.0, se_b=0.2)
    assert claim.holds
    assert claim.sentence == (
        "E agrees within 3 combined SE: largest |a - b| = 0.5 (1.77 combined SE) is 0.589x the allowed 0.849. [no theorem]"
    )


def test_agreement_relative_tolerance_and_exact_reference():
    claim = Agreement("kernel vs reference", a=[1.0, 2.0 + 1e-12], se_a=0.0, b=[1.0, 2.0], rel_tol=1e-10)
    assert claim.holds
    strict = Agreement("kernel vs reference", a=[1.0, 2.0 + 1e-12], se_a=0.0, b=[1.0, 2.0], labels=["x", "y"])
    assert not strict.holds
    assert strict.numbers["worst_label"] == "y" and strict.numbers["worst_ratio"] == np.inf
    assert strict.to_dict()["numbers"]["worst_ratio"] is None  # inf is not JSON
    assert strict.sentence.startswith("kernel vs reference disagrees: 1 of 2 points differ by more than 3 combined SE")
    assert "with |a - b| = 1e-12 against the allowed 0." in strict.sentence


def test_agreement_fails_sentence_gives_the_z_score():
    claim = Agreement("E", a=[1.0, 1.0], se_a=[0.1, 0.1], b=[1.1, 2.0], rel_tol=0.01)
    assert not claim.holds and claim.numbers["n_disagree"] == 1
    assert claim.sentence == (
        "E disagrees: 1 of 2 points differ by more than 3 combined SE + 0.01|b|, "
        "worst at index 1 with |a - b| = 1 (10 combined SE) against the allowed 0.32. [no theorem]"
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(se_a=-1.0), ValueError, "se_a must be >= 0"),
        (dict(se_b=[-1.0, 0.0]), ValueError, "se_b must be >= 0"),
        (dict(rel_tol=-0.1), ValueError, "rel_tol must be >= 0"),
        (dict(b=[1.0, 2.0, 3.0]), ValueError, "must broadcast together"),
    ],
)
def test_agreement_rejects_bad_input(kwargs, error, match):
    args = dict(name="E", a=[1.0, 2.0], se_a=0.1, b=[1.0, 2.0]) | kwargs
    with pytest.raises(error, match=match):
        Agreement(**args)


# Check and Verdicts --------------------------------------------------------------------


def test_check_stores_json_safe_numbers():
    numbers = {"residual": np.float64(3e-13), "iters": np.int64(7)}
    claim = Check("residual", np.bool_(True), numbers, "Residual 3e-13 < 1e-10.")
    assert claim.holds is True and claim.margin is None
    assert claim.to_dict() == {
        "name": "residual",
        "kind": "Check",
        "holds": True,
        "numbers": {"residual": 3e-13, "iters": 7},
        "margin": None,
        "sentence": "Residual 3e-13 < 1e-10. [no theorem]",
        "theorem": None,
        "sanity_check": None,
    }


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(holds=1), TypeError, "holds must be a bool"),
        (dict(numbers=[1.0]), TypeError, "numbers must be a mapping"),
        (dict(numbers={"f": object()}), TypeError, "claim numbers must be numbers"),
        (dict(sentence=""), ValueError, "sentence must be a non-empty str"),
    ],
)
def test_check_rejects_bad_input(kwargs, error, match):
    args = dict(name="c", holds=True, numbers={}, sentence="ok.") | kwargs
    with pytest.raises(error, match=match):
        Check(**args)


def _claims():
    return [
        UpperBound("N*E", [0.2, 0.3], 0.01, 1.0, labels=["N=2", "N=4"]),
        Rate("rate", slope_fit(-1.3, -0.8), -1.0, 0.1),
        Agreement("agree", 1.0, 0.1, 1.05),
        Check("residual", True, {"residual": 1e-13}, "Residual 1e-13 is below 1e-10."),
    ]


def test_verdicts_all_hold_only_when_every_claim_holds():
    verdicts = Verdicts(_claims())
    assert len(verdicts) == 4 and not verdicts.all_hold
    del verdicts[1]
    assert verdicts.all_hold
    verdicts.append(Check("false", False, {}, "It failed."))
    assert not verdicts.all_hold
    assert not Verdicts().all_hold  # judged nothing


def test_verdicts_refuse_non_claims_on_every_insertion_path():
    verdicts = Verdicts(_claims())
    for insert in (
        lambda: verdicts.append({"holds": True}),
        lambda: verdicts.insert(0, "claim"),
        lambda: verdicts.extend([None]),
        lambda: verdicts.__setitem__(0, 1.0),
        lambda: verdicts.__setitem__(slice(0, 1), [1.0]),
        lambda: Verdicts([True]),
    ):
        with pytest.raises(TypeError, match="Verdicts holds claims"):
            insert()
    assert len(verdicts) == 4


def test_verdicts_to_json_is_strict_json_with_every_claim(tmp_path):
    verdicts = Verdicts(_claims())
    path = verdicts.to_json(tmp_path / "verdict.json")
    data = json.loads(path.read_text())
    assert data["all_hold"] is False and data["n_claims"] == 4 and data["n_hold"] == 3
    assert [claim["kind"] for claim in data["claims"]] == ["UpperBound", "Rate", "Agreement", "Check"]
    for claim, record in zip(verdicts, data["claims"]):
        assert set(record) == {"name", "kind", "holds", "numbers", "margin", "sentence", "theorem", "sanity_check"}
        assert record["holds"] == claim.holds and record["sentence"] == claim.sentence
    assert data["claims"][0]["numbers"]["empirical"] == [0.2, 0.3]
    assert data["claims"][1]["numbers"]["chi2_reduced"] is None


def test_verdicts_summary_has_one_line_per_claim_and_a_total():
    lines = Verdicts(_claims()).summary().splitlines()
    assert len(lines) == 5
    assert [line.split()[0] for line in lines[:4]] == ["PASS", "FAIL", "PASS", "PASS"]
    assert lines[1].split()[1:3] == ["Rate", "rate"]
    assert lines[4] == "3 of 4 claims hold: NOT all hold."
