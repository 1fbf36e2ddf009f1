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
  layout could not be read.
"""
import sympy as sp

from proofs.theorem import Source, Theorem

d, n, k = sp.symbols("d n k", positive=True, integer=True)
eta, gamma, s, v, a, kappa, eps, rho = sp.symbols("eta gamma s v a kappa eps rho", positive=True)

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

THEOREMS = (COT_FIXED_POINT, NO_COT_FLOOR, NO_COT_ERROR, *WISHART, *COT_ERROR.values(), *COT_ERROR_MP.values(), PLATEAU,
            LOOPED_ONE_STEP, NS_RESIDUAL, NS_ITERATIONS)


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
