r"""Memory of causal linear operators: rank caps of the past-to-future blocks and the COPY bound.

Setting (as in :mod:`theorytk.memory`): :math:`y = T u`, :math:`T` lower triangular
:math:`L \times L`; the split :math:`i \in \{1..L-1\}` has the past-to-future block
:math:`H_i = T_{i:, :i}` (outputs :math:`t \ge i`, inputs :math:`s < i`); the effective state size
is :math:`\mathrm{ESS}_i = \mathrm{rank}\, H_i` (tolerance version: singular values above a rounding
threshold; entropy version: :math:`\exp` of the entropy of the normalised singular values).

Sources (see each theorem's ``source``):

* Parnichkun, Tumma, Thomas, Moro, An, Suzuki, Yamashita, Poli, Massaroli, *Quantifying Memory
  Utilization with Effective State-Size*, ICML 2025, arXiv 2504.19561 [secondary: the ESS
  definition via minimal realisation theory, tolerance- and entropy-ESS, read in digests; the
  paper's index convention, tolerance and normalisation are unconfirmed].
* Ren, Li, Liu, *Exploring the Limitations of Mamba in COPY and CoT Reasoning*, arXiv
  2410.03810 [paper abstract: constant-size Mamba may struggle with COPY, exact when its size
  grows linearly in the length; their COPY definition and lower bound are unconfirmed].
* C. Eckart, G. Young, *The approximation of one matrix by another of lower rank*,
  Psychometrika 1, 211-218, 1936 (best rank-n approximation in Frobenius norm: drop the
  smallest singular values).
* Everything else is derived here, each sympy-checkable step an entry of :func:`obligations`,
  checked in ``tests/proofs``.
"""
import sympy as sp

from proofs.theorem import Source, Theorem

n, i, L, k, d, Lc, r = sp.symbols("n i L k d L_c r", positive=True, integer=True)

PARNICHKUN_2025 = ("Parnichkun, Tumma, Thomas, Moro, An, Suzuki, Yamashita, Poli, Massaroli, Quantifying Memory "
                   "Utilization with Effective State-Size, ICML 2025, arXiv 2504.19561")
REN_2024 = "Ren, Li, Liu, Exploring the Limitations of Mamba in COPY and CoT Reasoning, arXiv 2410.03810"
ECKART_YOUNG = "Eckart, Young, The approximation of one matrix by another of lower rank, Psychometrika 1, 1936"
DERIVED = "derived here"
_ESS_NOTE = ("ESS_i = rank T_{i:, :i} (outputs t >= i, inputs s < i) is the paper's definition as restated in "
             "secondary sources (its 1-based T_{i:, :i-1}); the paper's own caps per family were not read.")
_SHAPE = "rank H_i <= min(i, L - i): H_i is (L - i) x i"

SSM_RANK_CAP = Theorem(
    name="ssm_rank_cap",
    statement="diagonal LTI SSM of state n: ESS_i = rank T_{i:, :i} <= min(n, i, L - i)",
    expr=sp.Min(n, i, L - i),
    symbols=(n, i, L),
    source=Source(DERIVED, "for s < i <= t, T_ts = sum_k c_k lam_k^{t-s} b_k = sum_k (c_k lam_k^{t-i+1})(lam_k^{i-1-s} "
                  "b_k), so H_i = O_i R_i with O_i (L-i) x n and R_i n x i (obligation ssm_factorisation: the "
                  "state x_{i-1} carries the past); " + _SHAPE, "derived here",
                  "Minimal realisation theory (Kalman; Ho-Kalman) as invoked by " + PARNICHKUN_2025 + ". " + _ESS_NOTE),
    assumptions=(sp.Lt(i, L),),
)

SELECTIVE_SSM_RANK_CAP = Theorem(
    name="selective_ssm_rank_cap",
    statement="one realisation of a selective (time-varying) diagonal SSM of state n: rank T_{i:, :i} <= min(n, i, L - i)",
    expr=sp.Min(n, i, L - i),
    symbols=(n, i, L),
    source=Source(DERIVED, "T_ts = sum_k c_{t,k} (prod_{r=s+1}^t a_{r,k}) b_{s,k}; for s < i <= t the product splits at "
                  "i-1: O_i[t, k] = c_{t,k} prod_{r=i}^t a_{r,k}, R_i[k, s] = prod_{r=s+1}^{i-1} a_{r,k} b_{s,k} "
                  "(obligation selective_factorisation); " + _SHAPE, "derived here",
                  "Per realisation only: an input-varying operator can copy with a rank-1 block u u^T/|u|^2, so this "
                  "gives no COPY bound for input-dependent a, b, c (our notes). " + _ESS_NOTE),
    assumptions=(sp.Lt(i, L),),
)

FIR_RANK_CAP = Theorem(
    name="fir_rank_cap",
    statement="causal FIR convolution with k taps: rank T_{i:, :i} <= min(k - 1, i, L - i)",
    expr=sp.Min(k - 1, i, L - i),
    symbols=(k, i, L),
    source=Source(DERIVED, "T_ts = h_{t-s} vanishes for t - s >= k, so the columns s < i - k + 1 of H_i are zero "
                  "(obligation fir_zero_columns): at most k - 1 non-zero columns; " + _SHAPE, "derived here", _ESS_NOTE),
    assumptions=(sp.Lt(i, L), sp.Ge(k, 2)),
)

LINEAR_ATTENTION_RANK_CAP = Theorem(
    name="linear_attention_rank_cap",
    statement="causal linear attention with d features: rank T_{i:, :i} <= min(d, i, L - i)",
    expr=sp.Min(d, i, L - i),
    symbols=(d, i, L),
    source=Source(DERIVED, "for s < i <= t the causal mask is 1, so H_i = Q_{i:} K_{:i}^T with d columns "
                  "(obligation linear_attention_factorisation); " + _SHAPE, "derived here", _ESS_NOTE),
    assumptions=(sp.Lt(i, L),),
)

SOFTMAX_RANK_CAP = Theorem(
    name="softmax_rank_cap",
    statement="causal softmax attention: rank T_{i:, :i} <= min(i, L - i), with equality for generic queries and keys",
    expr=sp.Min(i, L - i),
    symbols=(i, L),
    source=Source(PARNICHKUN_2025, "the bound is the block's shape; generic equality (the attention matrix is the "
                  "entrywise exponential of a low-rank matrix, generically of full rank) as restated in secondary "
                  "sources and measured in our notes (L = 24)", "secondary",
                  "The equality is claimed only for the realisations drawn, whose gap above the tolerance is "
                  "measured. " + _ESS_NOTE),
    assumptions=(sp.Lt(i, L),),
)

ENTROPY_ESS_BOUND = Theorem(
    name="entropy_ess_bound",
    statement="entropy-ESS = exp(-sum p_k log p_k) <= r = tolerance-ESS (the number of singular values kept)",
    expr=r,
    symbols=(r,),
    source=Source(DERIVED, "the entropy of a distribution on r points is at most log r (concavity of -p log p, "
                  "Jensen), with equality at the uniform one (obligations entropy_uniform, entropy_concave, "
                  "entropy_stationary_at_uniform)", "derived here",
                  "Entropy-ESS and tolerance-ESS as in " + PARNICHKUN_2025 + " [secondary]; the normalisation "
                  "p_k = sigma_k / sum sigma (not sigma^2) is ours (unconfirmed in the paper)."),
)

COPY_ERROR_BOUND = Theorem(
    name="copy_error_bound",
    statement="COPY of a context of length L_c by a linear operator with ESS_{L_c} <= n: MSE per token >= (L_c - n)/L_c",
    expr=(Lc - n) / Lc,
    symbols=(Lc, n),
    source=Source(ECKART_YOUNG, "MSE = E|H u - u|^2 / L_c = |H - I|_F^2 / L_c for i.i.d. unit-variance u (obligation "
                  "copy_mse_is_frobenius), H = T_{L_c:2L_c, :L_c} is a sub-block of the split-L_c block so rank H "
                  "<= n; Eckart-Young: min over rank <= n of |H - I|_F^2 = sum of the L_c - n smallest squared "
                  "singular values of I (all 1) = L_c - n (obligation eckart_young_tail)", "derived here",
                  "The task follows " + REN_2024 + " as restated in our notes (their definition and bound are "
                  "unconfirmed); derived here from Eckart-Young."),
    assumptions=(sp.Le(n, Lc),),
)

COPY_RECOVERED_BOUND = Theorem(
    name="copy_recovered_bound",
    statement="COPY by a linear operator with ESS_{L_c} <= n: recovered fraction 1 - MSE <= n/L_c",
    expr=n / Lc,
    symbols=(Lc, n),
    source=Source(DERIVED, "1 - COPY_ERROR_BOUND (obligation recovered_is_complement): the Eckart-Young bound as an "
                  "upper bound", "derived here", "Same statement as copy_error_bound."),
    assumptions=(sp.Le(n, Lc),),
)

LINEAR_ATTENTION_COPY = Theorem(
    name="linear_attention_copy",
    statement="linear attention with d = n features, k_s = e_s (s < n), q_{L_c+j} = e_j (j < n): MSE = (L_c - n)/L_c",
    expr=(Lc - n) / Lc,
    symbols=(Lc, n),
    source=Source(DERIVED, "its copy block is diag(1_n, 0_{L_c-n}), so |H - I|_F^2 = L_c - n (obligations "
                  "construction_block_N5_n2, construction_tail): it attains COPY_ERROR_BOUND", "derived here",
                  "Our notes measured it by Monte Carlo at L_c = 16."),
    assumptions=(sp.Le(n, Lc),),
)

LTI_ROOTS_OF_UNITY_COPY = Theorem(
    name="lti_roots_of_unity_copy",
    statement="LTI diagonal SSM of state n with poles omega^k (omega = e^{2 pi i/L_c}, n frequencies closed under "
              "k -> -k) and residues 1/L_c: MSE = (L_c - n)/L_c",
    expr=(Lc - n) / Lc,
    symbols=(Lc, n),
    source=Source(DERIVED, "H_js = g(L_c + j - s) with g(m) = (1/L_c) sum_k omega^{k m} = (1/L_c) sum_k omega^{k (j-s)}, "
                  "i.e. H = F_S F_S^* / L_c with orthogonal Fourier columns: a real orthogonal projection of rank n "
                  "(obligations lti_projection_*), so |H - I|_F^2 = L_c - n: it attains COPY_ERROR_BOUND",
                  "derived here",
                  "Contradicts our notes, which found the LTI best fit strictly above the bound (0.7647 vs 0.75 at "
                  "L_c = 16, n = 4): marginally stable poles on the unit circle attain it exactly."),
    assumptions=(sp.Le(n, Lc),),
)

EXACT_COPY_STATE = Theorem(
    name="exact_copy_state",
    statement="the least state n at which an input-invariant linear operator copies a context of length L_c exactly is L_c",
    expr=Lc,
    symbols=(Lc,),
    source=Source(REN_2024, "abstract: Mamba is exact at COPY when its size grows linearly with the length; here for "
                  "input-invariant operators: (L_c - n)/L_c > 0 for n < L_c (obligation bound_positive_below_L_c) and "
                  "the constructions reach 0 at n = L_c (obligation bound_zero_at_L_c)", "paper",
                  "The paper's statement is for Mamba (selective); the exact threshold n = L_c is derived here for "
                  "input-invariant operators."),
)

THEOREMS = (SSM_RANK_CAP, SELECTIVE_SSM_RANK_CAP, FIR_RANK_CAP, LINEAR_ATTENTION_RANK_CAP, SOFTMAX_RANK_CAP,
            ENTROPY_ESS_BOUND, COPY_ERROR_BOUND, COPY_RECOVERED_BOUND, LINEAR_ATTENTION_COPY, LTI_ROOTS_OF_UNITY_COPY,
            EXACT_COPY_STATE)


def roots_of_unity_frequencies(size, context):
    """The frequencies of the LTI copy construction (the same rule as theorytk.memory.operators, twin-tested)."""
    if size == context:
        return list(range(context))
    pairs = [f % context for f in range(1, size // 2 + 1)] + [(-f) % context for f in range(1, size // 2 + 1)]
    return ([0] + pairs) if size % 2 else pairs


def _block(T, split):
    return T[split:, :split]


def _ssm_factorisation(size, length):
    lam = sp.symbols(f"lam0:{size}")
    b = sp.symbols(f"b0:{size}")
    c = sp.symbols(f"c0:{size}")
    T = sp.Matrix(length, length, lambda t, s: sum(c[q] * lam[q] ** (t - s) * b[q] for q in range(size)) if t > s else 0)
    out = sp.zeros(1, 1)
    for split in range(1, length):
        O = sp.Matrix(length - split, size, lambda t, q: c[q] * lam[q] ** (t + 1))
        R = sp.Matrix(size, split, lambda q, s: lam[q] ** (split - 1 - s) * b[q])
        out += sp.Matrix([sum((_block(T, split) - O * R).applyfunc(sp.expand))])
    return out[0]


def _selective_factorisation(size, length):
    a = sp.Matrix(length, size, lambda t, q: sp.Symbol(f"a{t}_{q}"))
    b = sp.Matrix(length, size, lambda t, q: sp.Symbol(f"b{t}_{q}"))
    c = sp.Matrix(length, size, lambda t, q: sp.Symbol(f"c{t}_{q}"))

    def prod(q, lo, hi):
        return sp.Mul(*[a[m, q] for m in range(lo, hi + 1)])

    T = sp.Matrix(length, length, lambda t, s: sum(c[t, q] * prod(q, s + 1, t) * b[s, q] for q in range(size))
                  if t >= s else 0)
    total = 0
    for split in range(1, length):
        O = sp.Matrix(length - split, size, lambda t, q: c[t + split, q] * prod(q, split, t + split))
        R = sp.Matrix(size, split, lambda q, s: prod(q, s + 1, split - 1) * b[s, q])
        total += sum((_block(T, split) - O * R).applyfunc(lambda x: sp.expand(x) ** 2))
    return total


def _fir_zero_columns(taps, length):
    h = sp.symbols(f"h0:{taps}")
    T = sp.Matrix(length, length, lambda t, s: h[t - s] if 0 <= t - s < taps else 0)
    return sum(sum(_block(T, split)[:, :split - taps + 1].applyfunc(lambda x: x**2))
               for split in range(taps, length))


def _linear_attention_factorisation(features, length):
    Q = sp.Matrix(length, features, lambda t, q: sp.Symbol(f"q{t}_{q}"))
    K = sp.Matrix(length, features, lambda t, q: sp.Symbol(f"k{t}_{q}"))
    T = sp.Matrix(length, length, lambda t, s: (Q[t, :] * K[s, :].T)[0] if t >= s else 0)
    return sum(sum((_block(T, split) - Q[split:, :] * K[:split, :].T).applyfunc(lambda x: sp.expand(x) ** 2))
               for split in range(1, length))


def _copy_mse_is_frobenius(size):
    """E|(H - I) u|^2 for i.i.d. unit-variance u (u_a u_b -> delta_ab) minus |H - I|_F^2."""
    H = sp.Matrix(size, size, lambda a, b: sp.Symbol(f"H{a}_{b}"))
    u = sp.symbols(f"u0:{size}")
    residual = (H - sp.eye(size)) * sp.Matrix(u)
    poly = sp.Poly(sp.expand(sum(x**2 for x in residual)), *u)
    expectation = sum(coeff for monom, coeff in poly.terms() if sorted(monom) == [0] * (size - 1) + [2])
    return expectation - sum((H - sp.eye(size)).applyfunc(lambda x: x**2))


def _lti_projection(context, size):
    """H = F_S F_S^* / L_c for the construction's frequencies: H^2 - H, tr H - n, Im H, |H - I|_F^2 - (L_c - n)."""
    omega = sp.exp(2 * sp.pi * sp.I / context)
    freqs = roots_of_unity_frequencies(size, context)
    g = [sp.nsimplify(sum(omega ** (f * m) for f in freqs) / context) for m in range(2 * context)]
    H = sp.Matrix(context, context, lambda j, s: sp.expand_complex(g[context + j - s]))
    return {"idempotent": sum((H * H - H).applyfunc(lambda x: sp.Abs(sp.simplify(x)))),
            "trace": sp.simplify(H.trace() - size),
            "real": sum(H.applyfunc(lambda x: sp.Abs(sp.simplify(sp.im(x))))),
            "error": sp.simplify(sum((H - sp.eye(context)).applyfunc(lambda x: x**2)) - (context - size))}


def obligations():
    """The derivation steps that sympy can check, as ``name -> (kind, expression)``.

    ``kind`` is ``"zero"`` (the expression simplifies to 0) or ``"positive"`` (sympy decides it is
    > 0 under the symbols' assumptions). ``tests/proofs`` checks each.
    """
    p, q, j = sp.Symbol("p", positive=True), sp.Symbol("q", positive=True), sp.Symbol("j", positive=True)
    entropy2 = -p * sp.log(p) - (1 - p) * sp.log(1 - p)
    idx = sp.Symbol("idx", integer=True)
    construction = sp.diag(*([1] * 2 + [0] * 3))
    checks = {
        "ssm_factorisation": ("zero", _ssm_factorisation(2, 5)),
        "selective_factorisation": ("zero", _selective_factorisation(2, 4)),
        "fir_zero_columns": ("zero", _fir_zero_columns(3, 6)),
        "linear_attention_factorisation": ("zero", _linear_attention_factorisation(2, 4)),
        "entropy_uniform": ("zero", -r * (1 / r) * sp.log(1 / r) - sp.log(r)),
        "entropy_stationary_at_uniform": ("zero", sp.diff(entropy2, p).subs(p, sp.Rational(1, 2))),
        # -H''(p) = 1/(p(1-p)) > 0 on (0, 1): with p = 1/(1+q), q > 0
        "entropy_concave": ("positive", sp.simplify(-sp.diff(entropy2, p, 2).subs(p, 1 / (1 + q)))),
        "copy_mse_is_frobenius": ("zero", _copy_mse_is_frobenius(3)),
        "eckart_young_tail": ("zero", sp.summation(1, (idx, n + 1, Lc)) - Lc * COPY_ERROR_BOUND.expr),
        "recovered_is_complement": ("zero", 1 - COPY_ERROR_BOUND.expr - COPY_RECOVERED_BOUND.expr),
        "construction_block_N5_n2": ("zero", sum((construction - sp.eye(5)).applyfunc(lambda x: x**2))
                                     - 5 * LINEAR_ATTENTION_COPY.expr.subs({Lc: 5, n: 2})),
        "construction_tail": ("zero", sp.summation(1, (idx, n, Lc - 1)) - Lc * LINEAR_ATTENTION_COPY.expr),
        "bound_zero_at_L_c": ("zero", COPY_ERROR_BOUND.expr.subs(n, Lc)),
        "bound_positive_below_L_c": ("positive", COPY_ERROR_BOUND.expr.subs(n, Lc - j)),
    }
    for context, size in ((4, 1), (4, 2), (4, 3), (5, 2), (5, 3), (6, 4)):
        for part, expr in _lti_projection(context, size).items():
            checks[f"lti_projection_{part}_Lc{context}_n{size}"] = ("zero", expr)
    return checks
