"""In-context linear regression by linear self-attention: the closed forms theorytk.icl checks.

Setting (:mod:`theorytk.icl`): a prompt of n pairs (x_i, y_i), x_i ~ N(0, I_d),
w* ~ N(0, I_d), y_i = <w*, x_i>; S = X X^T / n with X = [x_1 .. x_n] (d x n); the Wishart
matrix W = X X^T. One LSA layer in the sparse form the gradient flow preserves gives
w_hat_{i+1} = w_hat_i + V31 S (W13 w_hat_i - w*); with V31 = -eta I, W13 = I it is one
gradient-descent step on the prompt's least-squares loss, so a CoT of length k is k GD steps
and its error is E tr (I - eta S)^{2k}.

What was confirmed (see each theorem's ``source``):

* Huang, Wang, Lee, ICLR 2025 (arXiv 2502.21212): only the abstract was readable (CoT lets
  a one-layer LSA implement multi-step GD; without CoT it performs one step and cannot
  recover w*) [paper: abstract]. The model, the sparse blocks and the no-CoT optimum are
  read in a follow-up restating it (Javanmard, Mirzasoleiman, Mirrokni, arXiv 2603.01293,
  Sec. 3 and eq. 3.7) [secondary].
* Everything else is derived here, with the sympy-checkable steps in :func:`obligations`
  (checked in ``tests/proofs``) and the Wishart moments checked by Monte Carlo in
  ``tests/properties``.
* Newton-Schulz (Giannou, Yang, Wang, Papailiopoulos, Lee, AISTATS 2025, arXiv 2403.03183):
  the residual squaring and the iteration count are derived here; the paper's own token
  layout could not be read (the stored arXiv v1 HTML page gives the abstract and the first
  paragraphs of the introduction only; searched again for this module).
* The looped layer (Yang, Lee, Nowak, Papailiopoulos, ICLR 2024, arXiv 2311.12424; Gatmiry
  et al., ICML 2024): in the preconditioned-GD form each loop is w <- w - gamma S (w - w*), so
  K loops have the error E tr (I - gamma S)^{2K}; its defining equation
  d/dgamma E tr (I - gamma S)^{2K} = 0 is exact here for K <= 2 only, because it needs
  E tr W^m up to m = 2K and only m <= 4 are derived (:data:`LOOPED_EQUATION`,
  :func:`looped_step`). With every entry trained two loops reach a larger family
  (:data:`LOOPED_POLYNOMIAL_K2`).
* General covariance x ~ N(0, Sigma): the no-CoT error of w_hat = v S w* and the optimum
  V31 = -Gamma^{-1} (Javanmard et al. eq. 3.7 and Prop. 5.1 [secondary]), re-derived here from
  E[S^2] = Sigma^2 + (Sigma^2 + tr Sigma Sigma)/n (Isserlis, checked by differentiating the
  Gaussian moment generating function), stated for a two-level spectrum (d1 eigenvalues s1,
  d2 eigenvalues s2: what the validation tests).
"""
import sympy as sp

from proofs.theorem import Source, Theorem

d, n, k = sp.symbols("d n k", positive=True, integer=True)
d1, d2 = sp.symbols("d1 d2", positive=True, integer=True)
eta, gamma, s, v, a, kappa, eps, rho = sp.symbols("eta gamma s v a kappa eps rho", positive=True)
s1, s2, lam, T, ratio = sp.symbols("s1 s2 lam T ratio", positive=True)

HUANG = ("Huang, Wang, Lee, Transformers Learn to Implement Multi-step Gradient Descent with Chain of Thought, "
         "ICLR 2025, arXiv 2502.21212")
JAVANMARD = "Javanmard, Mirzasoleiman, Mirrokni, arXiv 2603.01293"
GIANNOU = ("Giannou, Yang, Wang, Papailiopoulos, Lee, How Well Can Transformers Emulate In-context Newton's Method?, "
           "AISTATS 2025, arXiv 2403.03183")
DERIVED = "derived here"

_MOMENT_NOTE = ("Derived by Wick's theorem over the pairings of tr (X X^T)^m; checked against its d = 1 (chi-square "
                "moments) and n = 1 (||x||^(2m) moments) specialisations and the n <-> d symmetry in tests/proofs, and "
                "by Monte Carlo in tests/properties. The same values are the classical Wishart moments "
                "(Hanlon, Stanley, Stembridge 1992; Graczyk, Letac, Massam 2003).")

#: E tr W^m for W = X X^T, X a d x n standard Gaussian matrix, m = 0..4.
WISHART_MOMENTS = (
    d,
    n * d,
    n * d * (n + d + 1),
    n * d * (n**2 + d**2 + 3 * n * d + 3 * n + 3 * d + 4),
    n * d * (n**3 + d**3 + 6 * n**2 * d + 6 * n * d**2 + 6 * n**2 + 6 * d**2 + 17 * n * d + 21 * n + 21 * d + 20),
)


def _moment_theorem(m):
    return Theorem(
        name=f"wishart_moment_{m}",
        statement=f"E tr (X X^T)^{m} (X: d x n standard Gaussian)",
        expr=WISHART_MOMENTS[m],
        symbols=(d, n),
        source=Source(DERIVED, "Wick pairings of tr W^m", "derived here", _MOMENT_NOTE),
    )


#: The Marchenko-Pastur leading order d n^m MP_m(d/n) of each moment (exact only for m <= 1).
WISHART_LEADING = (d, n * d, n * d * (n + d), n * d * (n**2 + 3 * n * d + d**2),
                   n * d * (n**3 + 6 * n**2 * d + 6 * n * d**2 + d**3))

WISHART = tuple(_moment_theorem(m) for m in range(1, 5))


def cot_error_expr(steps, step_size=eta, moments=WISHART_MOMENTS):
    r"""E tr (I - eta S)^{2k} for k = ``steps`` <= 2, expanded in the Wishart moments.

    .. math:: E_k = \sum_{m=0}^{2k} \binom{2k}{m} (-\eta)^m \, \frac{E \operatorname{tr} W^m}{n^m}.

    ``moments`` are the E tr W^m, m = 0..4 (default the exact ones).
    """
    return sum(sp.binomial(2 * steps, m) * (-step_size) ** m * moments[m] / n**m for m in range(2 * steps + 1))


_COT_WHERE = ("GD from w_0 = 0 on the prompt: w_k - w* = (I - eta S)^k (0 - w*); with w* ~ N(0, I) independent of X, "
              "E||w_k - w*||^2 = E tr (I - eta S)^{2k}; expand the binomial (S commutes with I) and take the Wishart moments.")

COT_ERROR = {
    steps: Theorem(
        name=f"cot_error_k{steps}",
        statement=f"E||w_hat_{steps} - w*||^2 = E tr (I - eta S)^{2 * steps} (CoT of {steps} GD steps)",
        expr=sp.expand(cot_error_expr(steps)),
        symbols=(d, n, eta),
        source=Source(DERIVED, _COT_WHERE, "derived here",
                      "The CoT = k-step GD construction (V31 = -eta I, W13 = I, W24 = -1) is Huang et al.'s Thm 3.2 as "
                      f"restated in {JAVANMARD} [secondary]; the error formula is ours."),
    )
    for steps in (1, 2)
}

#: Marchenko-Pastur moments of S (ratio gamma = d/n): lim E tr S^m / d.
MP_MOMENTS = (sp.Integer(1), sp.Integer(1), 1 + gamma, 1 + 3 * gamma + gamma**2, 1 + 6 * gamma + 6 * gamma**2 + gamma**3)

COT_ERROR_MP = {
    steps: Theorem(
        name=f"cot_error_mp_k{steps}",
        statement=f"lim E_{steps}/d as d, n -> oo with d/n = gamma (Marchenko-Pastur)",
        expr=sp.expand(sum(sp.binomial(2 * steps, m) * (-eta) ** m * MP_MOMENTS[m] for m in range(2 * steps + 1))),
        symbols=(gamma, eta),
        source=Source(DERIVED, "limit of E tr W^m/(d n^m) with d = gamma n (checked in tests/proofs)", "derived here"),
    )
    for steps in (1, 2)
}

COT_MP_GAP = {
    steps: Theorem(
        name=f"cot_error_mp_gap_k{steps}",
        statement=f"E_{steps}/d - lim E_{steps}/d at d = ratio n: the finite-size gap to the Marchenko-Pastur limit",
        expr=sp.factor(sp.expand((COT_ERROR[steps].expr / d).subs(d, ratio * n) - COT_ERROR_MP[steps].expr.subs(gamma, ratio))),
        symbols=(n, ratio, eta),
        source=Source(DERIVED, "the exact E_k (Wishart moments) minus its limit, at d = ratio n; its leading power in n is "
                      "derived by sympy (Theorem.exponent)", "derived here",
                      "At k = 1 the gap is exactly eta^2/n."),
    )
    for steps in (1, 2)
}

COT_FIXED_POINT = Theorem(
    name="cot_fixed_point",
    statement="the CoT loss vanishes at V31 W13 = -eta I, V31 W24 = eta I: each CoT column is one GD step",
    expr=eta,
    symbols=(eta,),
    source=Source(JAVANMARD, "Sec. 3, restating Huang et al. Thm 3.2 (sparse V31, W13, W24 = -1; targets the GD iterates)",
                  "secondary",
                  "Derived here: w_hat' = w_hat + V31 S (W13 w_hat + W24 w*) is w - eta S (w - w*) iff the products are "
                  "-eta I and eta I (the model has the rescaling V31 -> c V31, (W13, W24) -> (W13, W24)/c)."),
)

NO_COT_FLOOR = Theorem(
    name="no_cot_floor",
    statement="min over one-layer LSAs of E||w_hat - w*||^2 without CoT = d(d+1)/(n+d+1)",
    expr=d * (d + 1) / (n + d + 1),
    symbols=(d, n),
    source=Source(JAVANMARD, "eq. 3.7 (V31 = -Gamma^-1, Gamma = (1 + 1/n) Sigma + tr(Sigma)/n I), restating Huang et al. "
                  "Thm 3.1", "secondary",
                  "The value at Sigma = I is derived here: w_hat = -a S w* with the isotropic a (the optimum is "
                  "isotropic by rotation invariance), E = d + 2 a d + a^2 d (n+d+1)/n, minimised at a = -n/(n+d+1). "
                  "Huang et al.'s own Thm 3.1 statement could not be read (abstract only)."),
)

NO_COT_ERROR = Theorem(
    name="no_cot_error_scaled",
    statement="E||w_hat - w*||^2 of w_hat = -v S w* for x ~ N(0, s I): d(1 - v s)^2 + d (d+1) v^2 s^2 / n",
    expr=d * (1 - v * s) ** 2 + d * (d + 1) * v**2 * s**2 / n,
    symbols=(d, n, v, s),
    source=Source(DERIVED, "Javanmard's general-Sigma formula ||I + V Sigma||_F^2 + (1/n)[tr(V Sigma^2 V^T) + tr Sigma "
                  "tr(V Sigma V^T)] at Sigma = s I, V = -v I; E[S^2] = Sigma^2 + (Sigma^2 + tr Sigma Sigma)/n", "derived here",
                  f"The general formula is {JAVANMARD}, Prop. 5.1 [secondary]; at s = 1, v = n/(n+d+1) it is the floor."),
)

PLATEAU = Theorem(
    name="underdetermined_plateau",
    statement="n < d: GD from 0 stays in the row space of X^T, so lim_k E||w_k - w*||^2 = d - n",
    expr=d - n,
    symbols=(d, n),
    assumptions=(sp.Lt(n, d),),
    source=Source(DERIVED, "w_k in range(X) (rank n a.s.), w_k -> P w*; E||(I - P) w*||^2 = tr(I - P) = d - n",
                  "derived here"),
)

LOOPED_ONE_STEP = Theorem(
    name="looped_one_step",
    statement="argmin_gamma E tr (I - gamma S)^2 = n/(n+d+1) (looped optimum, K = 1)",
    expr=n / (n + d + 1),
    symbols=(d, n),
    source=Source(DERIVED, "d/dgamma E tr (I - gamma S)^{2K} = 0 is the defining equation of the looped optimum "
                  "(isotropic step by rotation invariance); at K = 1 it is linear in gamma", "derived here",
                  "Gatmiry et al., ICML 2024: the looped optimum is multi-step preconditioned GD [secondary]."),
)


def _looped_equation(loops):
    return sp.expand(sp.diff(cot_error_expr(loops, gamma), gamma))


LOOPED_EQUATION = {
    loops: Theorem(
        name=f"looped_equation_K{loops}",
        statement=f"d/dgamma E tr (I - gamma S)^{2 * loops} = 0 defines the looped step gamma_{loops} (K = {loops} loops, "
                  "final-output loss, preconditioned-GD form)",
        expr=_looped_equation(loops),
        symbols=(d, n, gamma),
        source=Source(DERIVED, "each loop is w <- w - gamma S (w - w*) (W13 = I, W24 = -1, V31 = -gamma I), so the error "
                      "after K loops is E tr (I - gamma S)^(2K) (as E_k); isotropic by rotation invariance; exact for "
                      "K <= 2 (moments up to m = 4)", "derived here",
                      "Gatmiry et al., ICML 2024 prove that the looped linear layer's global minimiser is multi-step "
                      "preconditioned GD [secondary: abstract]; Yang et al., ICLR 2024 (arXiv 2311.12424) train a looped "
                      "block on its final output [paper: abstract]."),
    )
    for loops in (1, 2)
}


def looped_step(loops, d_, n_):
    """gamma_K: the real root of :data:`LOOPED_EQUATION` that minimises E tr (I - gamma S)^{2K} (exact, K <= 2).

    Returns
    -------
    float
    """
    if loops not in LOOPED_EQUATION:
        raise ValueError(f"loops must be one of {tuple(LOOPED_EQUATION)} (E tr W^m is derived for m <= 4), got {loops!r}")
    objective = cot_error_expr(loops, gamma).subs({d: d_, n: n_})
    roots = [r for r in sp.real_roots(sp.Poly(LOOPED_EQUATION[loops].expr.subs({d: d_, n: n_}), gamma)) if r > 0]
    return float(min(roots, key=lambda r: objective.subs(gamma, r)))


def _trace_moment(m):
    """E tr S^m = E tr W^m / n^m."""
    return WISHART_MOMENTS[m] / n**m


_POLY_A = sp.Matrix([[_trace_moment(2), _trace_moment(3)], [_trace_moment(3), _trace_moment(4)]])
_POLY_B = sp.Matrix([_trace_moment(1), _trace_moment(2)])

LOOPED_POLYNOMIAL_K2 = Theorem(
    name="looped_polynomial_K2",
    statement="min over (alpha, beta) of E tr (I - alpha S - beta S^2)^2: what two loops with every entry trained reach "
              "through the sparse blocks (an upper bound on their optimum)",
    expr=sp.factor(d - (_POLY_B.T * _POLY_A.inv() * _POLY_B)[0, 0]),
    symbols=(d, n),
    source=Source(DERIVED, "w_1 = b S w*, w_2 = (I - a S) w_1 + b S w* with a = -V31 W13, b = V31 W24 free: "
                  "w_2 = (alpha S + beta S^2) w*, alpha = 2b, beta = -ab; the quadratic in (alpha, beta) "
                  "d - 2 alpha m1 - 2 beta m2 + alpha^2 m2 + 2 alpha beta m3 + beta^2 m4 (m_j = E tr S^j) is "
                  "minimised at A (alpha, beta) = (m1, m2)", "derived here",
                  "It is below the equal-step optimum E_2(gamma_2): the notes' protocol V5 ('the trained looped LSA is "
                  "within 3 SE of min_gamma E tr (I - gamma S)^(2K)') holds for the preconditioned-GD form only."),
)

def looped_polynomial_coefficients(d_, n_):
    """(alpha, beta) of :data:`LOOPED_POLYNOMIAL_K2` at (d, n): the solution of A (alpha, beta) = (m1, m2)."""
    at = {d: d_, n: n_}
    alpha_, beta_ = _POLY_A.subs(at).inv() * _POLY_B.subs(at)
    return float(alpha_), float(beta_)


_SIGMA_T = d1 * s1 + d2 * s2


def _eigen_error(lam_, trace, v_):
    """Per-eigenvalue no-CoT error of w_hat = v S w*: (1 - v lam)^2 + v^2 (lam^2 + tr Sigma lam)/n."""
    return (1 - v_ * lam_) ** 2 + v_**2 * (lam_**2 + trace * lam_) / n


def _eigen_floor(lam_, trace):
    """Per-eigenvalue least no-CoT error: (lam + tr Sigma)/((n + 1) lam + tr Sigma)."""
    return (lam_ + trace) / ((n + 1) * lam_ + trace)


_JAVANMARD_GENERAL = ("Javanmard's Prop. 5.1 E||w_hat - w*||^2 = ||I + V Sigma||_F^2 + (1/n)[tr(V Sigma^2 V^T) + "
                      "tr Sigma tr(V Sigma V^T)], from E[S^2] = Sigma^2 + (Sigma^2 + tr Sigma Sigma)/n (Isserlis)")

NO_COT_ERROR_GENERAL = Theorem(
    name="no_cot_error_general",
    statement="E||w_hat - w*||^2 of w_hat = v S w* for x ~ N(0, Sigma), Sigma with d1 eigenvalues s1 and d2 "
              "eigenvalues s2: sum_i (1 - v lam_i)^2 + v^2 (lam_i^2 + tr Sigma lam_i)/n",
    expr=d1 * _eigen_error(s1, _SIGMA_T, v) + d2 * _eigen_error(s2, _SIGMA_T, v),
    symbols=(d1, d2, s1, s2, n, v),
    source=Source(JAVANMARD, "Prop. 5.1 (general Sigma and V) at V = -v I", "secondary",
                  f"Re-derived here: {_JAVANMARD_GENERAL}; in the eigenbasis of Sigma it splits over the eigenvalues. "
                  "For a model trained on x ~ N(0, I) (v = n/(n+d+1)) and tested on Sigma it is the predicted "
                  "out-of-distribution error."),
)

NO_COT_FLOOR_GENERAL = Theorem(
    name="no_cot_floor_general",
    statement="min over one-layer LSAs of E||w_hat - w*||^2 without CoT for x ~ N(0, Sigma) (two-level spectrum): "
              "sum_i (lam_i + tr Sigma)/((n+1) lam_i + tr Sigma), at V31 = -Gamma^-1",
    expr=d1 * _eigen_floor(s1, _SIGMA_T) + d2 * _eigen_floor(s2, _SIGMA_T),
    symbols=(d1, d2, s1, s2, n),
    source=Source(JAVANMARD, "eq. 3.7 (V31 = -Gamma^-1, Gamma = (1 + 1/n) Sigma + tr(Sigma)/n I), restating Huang et "
                  "al. Thm 3.1", "secondary",
                  f"The value is derived here: {_JAVANMARD_GENERAL}, minimised eigenvalue by eigenvalue at "
                  "v_i = 1/((1 + 1/n) lam_i + tr Sigma/n); it is d(d+1)/(n+d+1) at Sigma = I."),
)

NS_RESIDUAL = Theorem(
    name="newton_schulz_residual",
    statement="||I - A X_k||_2 = rho^(2^k) for SPD A, X_0 = 2/(lmin + lmax) I, rho = (kappa-1)/(kappa+1)",
    expr=rho ** (2**k),
    symbols=(rho, k),
    source=Source(DERIVED, "R_{k+1} = I - A X_k (2I - A X_k) = (I - A X_k)^2 = R_k^2, so R_k = R_0^(2^k); R_0 = I - alpha A "
                  "has spectral norm max|1 - alpha lambda| = (kappa-1)/(kappa+1)", "derived here",
                  f"Newton-Schulz is the iteration {GIANNOU} emulate with two LSA layers [paper: arXiv v1 abstract]; "
                  "their token layout could not be read."),
)

NS_ITERATIONS = Theorem(
    name="newton_schulz_iterations",
    statement="k(eps) = ceil(log2(log eps / log rho)) Newton-Schulz steps reach ||R_k|| <= eps",
    expr=sp.ceiling(sp.log(sp.log(eps) / sp.log(rho), 2)),
    symbols=(eps, rho),
    assumptions=(sp.Lt(eps, 1), sp.Lt(rho, 1)),
    source=Source(DERIVED, "rho^(2^k) <= eps iff 2^k >= log eps/log rho (both logs negative)", "derived here"),
)

THEOREMS = (COT_FIXED_POINT, NO_COT_FLOOR, NO_COT_ERROR, *WISHART, *COT_ERROR.values(), *COT_ERROR_MP.values(),
            *COT_MP_GAP.values(), PLATEAU, LOOPED_ONE_STEP, *LOOPED_EQUATION.values(), LOOPED_POLYNOMIAL_K2,
            NO_COT_ERROR_GENERAL, NO_COT_FLOOR_GENERAL, NS_RESIDUAL, NS_ITERATIONS)


def edge_step(d_, n_):
    """The edge step 1/(1 + sqrt(d/n))^2: eta * lambda_max(S) -> 1 at the Marchenko-Pastur edge."""
    return 1 / (1 + sp.sqrt(sp.Rational(d_, n_))) ** 2


def _chi_square_moment(dof, m):
    """E (chi^2_dof)^m = dof (dof + 2) ... (dof + 2m - 2)."""
    return sp.prod([dof + 2 * j for j in range(m)])


def _ns_residual_2x2():
    """I - A X (2I - A X) - (I - A X)^2 for generic 2 x 2 matrices A, X (zero matrix)."""
    A = sp.Matrix(2, 2, sp.symbols("a11 a12 a21 a22"))
    X = sp.Matrix(2, 2, sp.symbols("x11 x12 x21 x22"))
    eye = sp.eye(2)
    return (eye - A * X * (2 * eye - A * X)) - (eye - A * X) ** 2


def _gaussian_fourth_moment_2x2():
    """E[(x x^T)^2] - (2 Sigma^2 + tr Sigma Sigma) for x ~ N(0, Sigma), Sigma a generic symmetric 2 x 2 matrix.

    The fourth moments come from differentiating the moment generating function exp(t^T Sigma t / 2)
    at t = 0 (not from Isserlis' formula, which is what is being checked).
    """
    p, q, r = sp.symbols("sigma11 sigma12 sigma22", real=True)
    Sigma = sp.Matrix([[p, q], [q, r]])
    t = sp.symbols("t1 t2")
    mgf = sp.exp((sp.Matrix(t).T * Sigma * sp.Matrix(t))[0, 0] / 2)

    def moment(*idx):
        expr = mgf
        for i in idx:
            expr = sp.diff(expr, t[i])
        return expr.subs({t[0]: 0, t[1]: 0})

    fourth = sp.Matrix(2, 2, lambda i, j: sum(moment(i, b, b, j) for b in range(2)))
    return fourth - (2 * Sigma**2 + Sigma.trace() * Sigma)


def _general_error_2x2():
    """tr(I + 2 V Sigma + V E[S^2] V^T) - Javanmard's formula, generic 2 x 2 V and symmetric Sigma (zero)."""
    V = sp.Matrix(2, 2, sp.symbols("v11 v12 v21 v22"))
    p, q, r = sp.symbols("sigma11 sigma12 sigma22", real=True)
    Sigma = sp.Matrix([[p, q], [q, r]])
    ES2 = Sigma**2 + (Sigma**2 + Sigma.trace() * Sigma) / n
    eye = sp.eye(2)
    direct = (eye + 2 * V * Sigma + V * ES2 * V.T).trace()   # E||(I + V S) w*||^2, w* ~ N(0, I)
    formula = ((eye + V * Sigma) * (eye + V * Sigma).T).trace() + ((V * Sigma**2 * V.T).trace()
                                                                     + Sigma.trace() * (V * Sigma * V.T).trace()) / n
    return sp.expand(direct - formula)


def obligations():
    """The derivation steps that sympy can check, as ``name -> (kind, expression)``.

    ``kind`` is ``"zero"`` (the expression simplifies to 0) or ``"positive"`` (sympy decides
    it is > 0 under the symbols' assumptions). ``tests/proofs`` checks each.
    """
    floor_error = d + 2 * a * d + a**2 * d * (n + d + 1) / n
    a_star = -n / (n + d + 1)
    looped = sp.expand(cot_error_expr(1, gamma))
    checks = {
        # the isotropic no-CoT error is minimised at a* = -n/(n+d+1) with value d(d+1)/(n+d+1)
        "floor_stationary": ("zero", sp.diff(floor_error, a).subs(a, a_star)),
        "floor_convex": ("positive", sp.diff(floor_error, a, 2)),
        "floor_value": ("zero", floor_error.subs(a, a_star) - NO_COT_FLOOR.expr),
        # the scaled no-CoT error at s = 1, v = n/(n+d+1) is the floor
        "scaled_error_at_floor": ("zero", NO_COT_ERROR.expr.subs({s: 1, v: n / (n + d + 1)}) - NO_COT_FLOOR.expr),
        # the floor's isotropic form is E_1 at eta = n/(n+d+1): one GD step with the optimal step
        "floor_is_one_step": ("zero", COT_ERROR[1].expr.subs(eta, n / (n + d + 1)) - NO_COT_FLOOR.expr),
        # the looped K = 1 optimum solves its defining equation
        "looped_one_step_stationary": ("zero", sp.diff(looped, gamma).subs(gamma, LOOPED_ONE_STEP.expr)),
        # E_1 from the moments, written out
        "cot_error_k1": ("zero", COT_ERROR[1].expr - (d - 2 * eta * d + eta**2 * d * (n + d + 1) / n)),
        # residual squaring of Newton-Schulz, for generic 2 x 2 matrices
        "ns_residual_squares": ("zero", sp.simplify(_ns_residual_2x2()).norm()),
        "ns_residual_recursion": ("zero", NS_RESIDUAL.expr.subs(k, k + 1) - NS_RESIDUAL.expr**2),
        # rho = |1 - alpha lmin| = |1 - alpha lmax| for alpha = 2/(lmin + lmax), lmax = kappa lmin
        "ns_contraction_low": ("zero", (1 - 2 / (1 + kappa)) - (kappa - 1) / (kappa + 1)),
        "ns_contraction_high": ("zero", (2 * kappa / (1 + kappa) - 1) - (kappa - 1) / (kappa + 1)),
        # k(eps) is the least integer with rho^(2^k) <= eps: 2^k log rho = log eps at the real root
        "ns_iterations_root": ("zero", sp.expand_log(
            (2 ** sp.log(sp.log(eps) / sp.log(rho), 2)) * sp.log(rho) - sp.log(eps), force=True)),
    }
    # looped: the K = 1 equation is the stationarity above; K = 2 is a cubic whose root is a minimum
    checks["looped_equation_k2_degree"] = ("zero", sp.degree(LOOPED_EQUATION[2].expr, gamma) - 3)
    # the polynomial family contains the equal step: alpha = 2 gamma, beta = -gamma^2 gives (I - gamma S)^2
    alpha, beta = sp.symbols("alpha beta")
    poly_error = (d - 2 * alpha * _trace_moment(1) - 2 * beta * _trace_moment(2) + alpha**2 * _trace_moment(2)
                  + 2 * alpha * beta * _trace_moment(3) + beta**2 * _trace_moment(4))
    checks["looped_polynomial_contains_equal_step"] = ("zero", poly_error.subs({alpha: 2 * gamma, beta: -gamma**2})
                                                       - cot_error_expr(2, gamma))
    optimum = _POLY_A.inv() * _POLY_B
    checks["looped_polynomial_stationary_alpha"] = ("zero", sp.diff(poly_error, alpha).subs(
        {alpha: optimum[0], beta: optimum[1]}))
    checks["looped_polynomial_stationary_beta"] = ("zero", sp.diff(poly_error, beta).subs(
        {alpha: optimum[0], beta: optimum[1]}))
    checks["looped_polynomial_value"] = ("zero", poly_error.subs({alpha: optimum[0], beta: optimum[1]})
                                         - LOOPED_POLYNOMIAL_K2.expr)
    # general covariance
    checks["gaussian_fourth_moment"] = ("zero", _gaussian_fourth_moment_2x2().norm())
    checks["general_error_formula"] = ("zero", _general_error_2x2())
    v_star = 1 / ((1 + 1 / n) * lam + T / n)
    checks["general_floor_stationary"] = ("zero", sp.diff(_eigen_error(lam, T, v), v).subs(v, v_star))
    checks["general_floor_value"] = ("zero", _eigen_error(lam, T, v_star) - _eigen_floor(lam, T))
    checks["general_floor_convex"] = ("positive", sp.diff(_eigen_error(lam, T, v), v, 2))
    checks["general_floor_isotropic"] = ("zero", NO_COT_FLOOR_GENERAL.expr.subs({s1: 1, s2: 1, d1: d - d2})
                                         - NO_COT_FLOOR.expr)
    checks["general_error_scaled"] = ("zero", NO_COT_ERROR_GENERAL.expr.subs({s1: s, s2: s, d1: d - d2})
                                      - NO_COT_ERROR.expr)
    # the finite-size gap at k = 1 is eta^2/n
    checks["cot_mp_gap_k1"] = ("zero", COT_MP_GAP[1].expr - eta**2 / n)
    for m in range(1, 5):
        checks[f"wishart_m{m}_d1_chi_square"] = ("zero", WISHART_MOMENTS[m].subs(d, 1) - _chi_square_moment(n, m))
        checks[f"wishart_m{m}_n1_norm"] = ("zero", WISHART_MOMENTS[m].subs(n, 1) - _chi_square_moment(d, m))
        checks[f"wishart_m{m}_symmetric"] = ("zero", WISHART_MOMENTS[m] - WISHART_MOMENTS[m].subs({n: d, d: n},
                                                                                                  simultaneous=True))
        checks[f"wishart_m{m}_mp_limit"] = ("zero", sp.limit((WISHART_MOMENTS[m] / (d * n**m)).subs(d, gamma * n), n, sp.oo)
                                            - MP_MOMENTS[m])
    for m in range(5):
        checks[f"wishart_leading_m{m}"] = ("zero", WISHART_LEADING[m] - sp.expand(d * n**m * MP_MOMENTS[m].subs(gamma, d / n)))
    for steps in (1, 2):
        checks[f"cot_error_mp_k{steps}"] = ("zero", sp.limit((COT_ERROR[steps].expr / d).subs(d, gamma * n), n, sp.oo)
                                            - COT_ERROR_MP[steps].expr)
    return checks
