"""Rates of two-stage IV regression with learned (DFIV) or fixed (kernel, sieve) features.

Setting (Kim, Meunier, Gretton, Suzuki, Li, "Optimality and adaptivity of deep neural
features for instrumental variable regression", ICLR 2025, arXiv 2501.04898): the
structural function lies in a Besov ball :math:`B^s_{p,q}` on a d-dimensional domain, the
conditional-expectation operator T is ill-posed of degree r (link condition
:math:`\\|Tf\\| \\asymp \\|f\\|_{B^{-r}}`, singular values :math:`\\asymp j^{-r/d}`), n is the
stage-2 size and m the stage-1 size *in Kim et al.'s convention* (Xu et al. and
:mod:`theorytk.dfiv` use the opposite letters).

What was confirmed, and where (every theorem's ``source`` says it again):

* [paper: abstract, ar5iv and UCL Discovery pages of 2501.04898] DFIV attains the minimax
  optimal rate over Besov balls under standard NPIV assumptions plus a smoothness
  condition on the law of X given Z; fixed-feature (kernel or sieve) IV is strictly
  suboptimal for targets of low spatial homogeneity; DFIV is more data-efficient than
  kernel two-stage methods in the stage-1 samples.
* [secondary: sciencestack TL;DR of 2501.04898] upper and lower bounds for both the
  projected and the full L2 risk; separation when p < 2; stage 1 needs only m = Omega(n)
  while kernel methods need m/n -> infinity.
* [secondary: the ICLR 2025 OpenReview reviews, mirrored in a public GitHub Markdown file]
  accept (poster), scores 6/6/8; an upper bound for DFIV over Besov balls plus an
  information-theoretic lower bound for NPIV in Besov spaces, with "a balanced number of
  Stage 1 and 2 samples"; Assumption 5 (P_X has a Lebesgue density bounded below); the
  rates carry polylog factors ((log)^3 mentioned); no experiments; the bounds are for the
  exact minimiser over the network class, not for gradient training.
* NOT confirmed: the exponents themselves and the theorem numbers. Only the first screen
  of the paper's pages is stored here (searched: ar5iv, sciencestack, tomesphere, UCL
  Discovery; the PDF body was not readable). The forms below are the classical NPIV
  minimax rates (Chen & Reiss 2011, Econometric Theory, Thm 3.1 form) that a minimax-optimal
  claim must match, and the fixed-feature exponent is the linear-estimator rate of
  Donoho & Johnstone (1998) / Suzuki (ICLR 2019) with s replaced by
  :math:`s' = s - d(1/p - 1/2)`, extrapolated to IV by us. Polylog factors are dropped.
* [derived here] :data:`SIEVE_PROXY_RISK`: the bias-variance proxy of a spectral-cutoff
  (Fourier sieve) IV estimator on a diagonal operator, whose optimum over the cutoff falls
  at the fixed-feature exponent for d = 1; it also gives the finite-n curve that
  :mod:`validations.dfiv_rates` compares the oracle sieve with.
"""
import functools

import sympy as sp

from proofs.theorem import Source, Theorem

s, r, d, p = sp.symbols("s r d p", positive=True)
N, m, c = sp.symbols("N m c", positive=True)
n, J, sigma = sp.symbols("n J sigma", positive=True)   # stage-2 size (Kim's n), sieve cutoff, noise sd
s_lin, C = sp.symbols("s_prime C", positive=True)       # coefficient smoothness s' and |c_k|^2 = C |k|^-(2s'+1)

KIM_2025 = ("Kim, Meunier, Gretton, Suzuki, Li, Optimality and adaptivity of deep neural features for instrumental "
            "variable regression, ICLR 2025, arXiv 2501.04898")
_NOT_READ = ("The exponent and theorem number could not be read (only the abstract/first screen of 2501.04898 is "
             "stored); the form is the classical NPIV minimax rate that the paper's optimality claim must match.")


def rate_exponent(smoothness, ill_posedness, dim):
    """e(s, r, d) = 2s / (2s + 2r + d): the L2-risk exponent of n."""
    return 2 * smoothness / (2 * smoothness + 2 * ill_posedness + dim)


def linear_smoothness(smoothness, integrability, dim):
    """s' = s - d max(0, 1/p - 1/2): the smoothness a linear (fixed-feature) estimator can exploit."""
    return smoothness - dim * sp.Max(0, 1 / integrability - sp.Rational(1, 2))


L2_RISK = Theorem(
    name="l2_risk_exponent",
    statement="E||f_hat - f||_{L2}^2 ~ n^(-e), e = 2s/(2s + 2r + d), up to polylog (DFIV, upper and lower bound)",
    expr=rate_exponent(s, r, d),
    symbols=(s, r, d),
    source=Source(KIM_2025, "main upper/lower bounds for the L2 risk (theorem number not confirmed); "
                  "classical form: Chen & Reiss 2011", "unconfirmed", _NOT_READ),
    constant_known=False,
)

PROJECTED_RISK = Theorem(
    name="projected_risk_exponent",
    statement="E||T(f_hat - f)||^2 ~ n^(-e_proj), e_proj = 2(s + r)/(2(s + r) + d), up to polylog",
    expr=rate_exponent(s + r, 0, d),
    symbols=(s, r, d),
    source=Source(KIM_2025, "projected-risk bounds (theorem number not confirmed)", "unconfirmed",
                  _NOT_READ + " Form: the regression rate of the smoothness s + r that Tf has under the link condition."),
    constant_known=False,
)

LINEAR_L2_RISK = Theorem(
    name="fixed_feature_l2_exponent",
    statement="fixed-feature (kernel/sieve) IV: best exponent 2s'/(2s' + 2r + d), s' = s - d max(0, 1/p - 1/2)",
    expr=rate_exponent(linear_smoothness(s, p, d), r, d),
    symbols=(s, r, d, p),
    source=Source(KIM_2025, "Sec. 4 separation for p < 2 (statement read in the abstract; exponent not confirmed)",
                  "unconfirmed",
                  "Linear-estimator lower bound over Besov balls: Donoho & Johnstone 1998, Suzuki ICLR 2019 "
                  "(regression, r = 0); the IV version with 2r in the denominator is our extrapolation."),
    assumptions=(s > d / p,),
    constant_known=False,
)

STAGE1_DFIV = Theorem(
    name="stage1_samples_dfiv",
    statement="DFIV reaches the minimax rate with m >= c n stage-1 samples (m = Omega(n), Kim et al.'s letters)",
    expr=c * N,
    symbols=(c, N),
    source=Source(KIM_2025, "stage-1 result (theorem number not confirmed)", "secondary",
                  "m = Omega(n) for DFIV versus m/n -> infinity for kernel two-stage estimators: read in the "
                  "sciencestack TL;DR of 2501.04898; the abstract confirms 'provably more data efficient in the "
                  "Stage 1 samples'. The constant c is unspecified."),
    constant_known=False,
)


def coefficient_smoothness(decay):
    """s' such that :math:`|c_k| \\sim |k|^{-a}` gives :math:`|c_k|^2 = |k|^{-(2s'+1)}`: s' = a - 1/2 (d = 1).

    It is the L2 (p = 2) smoothness of the coefficient sequence, :math:`\\sum_{|k|>J}|c_k|^2
    \\asymp J^{-2s'}`: what a linear (fixed-feature) estimator can use.
    """
    return sp.nsimplify(decay) - sp.Rational(1, 2)


# Fourier coefficients of the circle targets of theorytk.dfiv.circle_iv, |c_k| ~ |k|^-a: (s, p, a). Jump: the
# indicator of [a0, b0) has |c_k| = |sin(pi k (b0 - a0))| / (pi |k|); kink: 4|x - 1/2| - 1 has c_k = 4/(pi k)^2, k odd.
CIRCLE_TARGETS = {"jump": (1, 1, 1), "kink": (2, 1, 2)}

_SIEVE_DERIVATION = (
    "1. T e_k = mu_k e_k with e_k(x) = exp(2 pi i k x) (T diagonal); the sieve spans e_k, |k| <= J, the instruments "
    "|k| <= K with K >= J, so the population stage 1 is exact. "
    "2. Neglecting stage-1 estimation error, stage 2 is least squares of Y on mu_k e_k(Z); to first order in the "
    "empirical Gram matrix, c_hat_k = c_k + mu_k^-1 (1/n) sum_i conj(e_k(Z_i)) U_i, so E|c_hat_k - c_k|^2 = "
    "sigma^2 / (n mu_k^2) with sigma^2 = E[(Y - (Th)(Z))^2] (the projected truncation error in U is neglected: at "
    "most the bias); coefficients above J are 0: bias^2 = sum_{|k|>J} |c_k|^2. "
    "3. Power laws |c_k|^2 = C |k|^-(2s'+1), mu_k = |k|^-r; sums as integrals (leading order in J): "
    "sum_{|k|>J} |c_k|^2 ~ C J^(-2s') / s', sum_{|k|<=J} mu_k^-2 ~ 2 J^(2r+1) / (2r+1). "
    "4. dR/dJ = 0 has the single positive root J* = (C n / sigma^2)^(1/(2s'+2r+1)), a minimum; "
    "R(J*) ~ n^(-2s'/(2s'+2r+1)) = n^(-e(s', r, 1)), the fixed-feature exponent when s' = s - (1/p - 1/2). "
    "Each step that sympy can check is checked in tests/proofs (obligations sieve_proxy_*).")

SIEVE_PROXY_RISK = Theorem(
    name="spectral_cutoff_proxy_risk",
    statement="spectral-cutoff (Fourier sieve) IV on a diagonal T: E||f_J - h||^2 ~= sum_{|k|>J} |c_k|^2 + "
              "(sigma^2/n) sum_{|k|<=J} mu_k^-2; with |c_k|^2 = C|k|^-(2s'+1), mu_k = |k|^-r (d = 1) this is "
              "C J^(-2s')/s' + 2 sigma^2 J^(2r+1)/((2r+1) n), minimised at J* ~ n^(1/(2s'+2r+1)) with risk "
              "~ n^(-2s'/(2s'+2r+1)) (n = stage-2 size)",
    expr=C * J ** (-2 * s_lin) / s_lin + 2 * sigma**2 * J ** (2 * r + 1) / ((2 * r + 1) * n),
    symbols=(J, n, s_lin, r, C, sigma),
    source=Source("derived here", _SIEVE_DERIVATION, "derived here",
                  "A proxy (leading-order approximation of the expected risk at a fixed cutoff), not a bound. The "
                  "exact sums for the circle problem are theorytk.dfiv.CircleIV.sieve_risk_curve; this power-law "
                  "form gives the exponents (the classical spectral cut-off trade-off, cf. Chen & Reiss 2011)."),
    constant_known=False,
)


#: every theorem of the module (the validation and tests iterate over it)
THEOREMS = (L2_RISK, PROJECTED_RISK, LINEAR_L2_RISK, STAGE1_DFIV, SIEVE_PROXY_RISK)


def sieve_proxy_optimum():
    """``(J*, R(J*))`` of :data:`SIEVE_PROXY_RISK`: the single positive root of dR/dJ = 0 and the risk there."""
    risk = SIEVE_PROXY_RISK.expr
    roots = sp.solve(sp.Eq(sp.diff(risk, J), 0), J)
    if len(roots) != 1:
        raise ArithmeticError(f"expected one positive critical point of the proxy risk, got {roots}")
    return roots[0], sp.simplify(risk.subs(J, roots[0]))


def worked_exponents(targets=(("jump", 1, 1), ("kink", 2, 1)), ill_posedness=(0, 1, 2), dim=1):
    """``{(target, r): (adaptive, linear)}`` exponents as exact rationals (the notes' d = 1 table)."""
    out = {}
    for name, smooth, integ in targets:
        for rr in ill_posedness:
            out[(name, rr)] = (sp.nsimplify(L2_RISK.expr.subs({s: smooth, r: rr, d: dim})),
                               sp.nsimplify(LINEAR_L2_RISK.expr.subs({s: smooth, r: rr, d: dim, p: integ})))
    return out


def obligations():
    """Properties of the exponents that sympy checks: ``name -> (kind, expression)``.

    ``kind``: ``"zero"`` (simplifies to 0), ``"positive"`` / ``"nonnegative"`` (sympy decides
    the sign under the symbols' assumptions).
    """
    e = L2_RISK.expr
    e_proj = PROJECTED_RISK.expr
    sp_ = sp.Symbol("s_prime", positive=True)
    delta = sp.Symbol("delta", positive=True)  # s - s' = d (1/p - 1/2) > 0 when p < 2
    q = sp.Symbol("q", positive=True)          # p >= 2 written as p = 2 + q
    return {
        "exponent_positive": ("positive", e),
        "exponent_below_one": ("positive", 1 - e),
        "increasing_in_s": ("positive", sp.simplify(sp.diff(e, s))),
        "decreasing_in_r": ("positive", sp.simplify(-sp.diff(e, r))),
        "decreasing_in_d": ("positive", sp.simplify(-sp.diff(e, d))),
        "regression_case_r0": ("zero", e.subs(r, 0) - 2 * s / (2 * s + d)),
        "projected_at_least_l2": ("nonnegative", sp.factor(sp.together(e_proj - e))),
        "projected_is_regression_of_s_plus_r": ("zero", e_proj - (2 * s / (2 * s + d)).subs(s, s + r)),
        # fixed features: s = s' + delta with delta = d(1/p - 1/2) > 0 for p < 2, so e(s') < e(s) strictly ...
        "linear_below_adaptive_p_lt_2": ("positive", sp.factor(sp.together(e.subs(s, sp_ + delta) - e.subs(s, sp_)))),
        # ... and delta = 0 for p >= 2: the exponents coincide
        "linear_equals_adaptive_p_ge_2": ("zero", LINEAR_L2_RISK.expr.subs(p, 2 + q) - e),
        "linear_smoothness_p_lt_2": ("zero", linear_smoothness(s, p, d).subs(p, sp.Rational(1, 1)) - (s - d / 2)),
        "linear_exponent_is_e_of_s_prime": ("zero", rate_exponent(sp_, r, d) - e.subs(s, sp_)),
        **_sieve_proxy_obligations(),
    }


@functools.cache
def _sieve_proxy_obligations():
    """Steps 3-4 of :data:`SIEVE_PROXY_RISK`'s derivation, and its exponent against :data:`LINEAR_L2_RISK`.

    Cached (sympy's solve and integrate take seconds; the expressions are immutable, and
    :func:`obligations` copies the mapping).
    """
    risk = SIEVE_PROXY_RISK.expr
    k = sp.Symbol("k", positive=True)
    j_star, r_star = sieve_proxy_optimum()
    t = sp.Symbol("t", positive=True)          # 1/p - 1/2 = t > 0, i.e. p = 1/(t + 1/2) < 2
    out = {
        "sieve_proxy_bias_integral": ("zero", 2 * sp.integrate(C * k ** (-2 * s_lin - 1), (k, J, sp.oo))
                                      - C * J ** (-2 * s_lin) / s_lin),
        "sieve_proxy_variance_integral": ("zero", 2 * sp.integrate(k ** (2 * r), (k, 0, J))
                                          - 2 * J ** (2 * r + 1) / (2 * r + 1)),
        # dR/dJ times the positive factor n J^(2s'+1)/2 is sigma^2 J^(2s'+2r+1) - C n: zero at J*
        "sieve_proxy_first_order_condition": ("zero", sp.expand(sp.diff(risk, J) * n * J ** (2 * s_lin + 1) / 2)
                                              .subs(J, j_star)),
        "sieve_proxy_optimum_is_a_minimum": ("positive", sp.simplify(sp.diff(risk, J, 2).subs(J, j_star))),
        "sieve_proxy_cutoff_exponent": ("zero", n * sp.diff(j_star, n) / j_star - 1 / (2 * s_lin + 2 * r + 1)),
        "sieve_proxy_risk_exponent": ("zero", -n * sp.diff(r_star, n) / r_star - rate_exponent(s_lin, r, 1)),
        "sieve_proxy_is_linear_exponent_p_lt_2": ("zero", rate_exponent(s - t, r, 1)
                                                  - LINEAR_L2_RISK.expr.subs({d: 1, p: 1 / (t + sp.Rational(1, 2))})),
    }
    for target, (smooth, integ, decay) in CIRCLE_TARGETS.items():
        out[f"sieve_proxy_coefficient_smoothness_{target}"] = (
            "zero", coefficient_smoothness(decay) - linear_smoothness(sp.Integer(smooth), sp.Integer(integ), 1))
    return out
