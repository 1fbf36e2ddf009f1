r"""Implicit bias of a one-layer transformer on even pairs: phase 1 separates, phase 2 is logistic GD to the max margin.

Setting (:mod:`theorytk.implicit_bias`): features :math:`h_j` (the attention outputs), labels
:math:`y_j = \pm 1`, readout :math:`u`, mean logistic loss :math:`L = \frac1N \sum_j \ell(y_j u^\top h_j)`,
GD with step :math:`\eta`. :math:`\hat w` is the hard-margin SVM without bias,
:math:`\hat w = \arg\min \|w\|` s.t. :math:`y_j w^\top h_j \ge 1`, with dual
:math:`\hat w = \sum_j \alpha_j y_j h_j`, :math:`\alpha \ge 0`.

Sources and what was found (search of arXiv 2505.00926 through the stored pages: the abstract
on arXiv, OpenReview ``yTAR011mOF``, PMLR 267:25516-25549, ar5iv's first paragraphs; the body of
the paper, its theorems and constants, was **not** reached):

* [paper] (abstract) Huang, Liang, Yang, ICML 2025: a one-layer transformer (attention then a
  linear layer) trained by GD on even pairs shows two phases: the attention grows rapidly and maps
  the sequences into separable vectors; then the attention stabilises while the linear layer grows
  logarithmically, approaches the max-margin hyperplane in direction, and the loss falls as O(1/t).
  Parity is solved with CoT, at inference with the even-pairs model or by CoT training.
* [derived] Phase 2 with frozen separable features is logistic GD on separable data: Soudry,
  Hoffer, Nacson, Gunasekar, Srebro, *The Implicit Bias of Gradient Descent on Separable Data*,
  JMLR 19 (2018), Thm. 3: :math:`u_t = \hat w \log t + \tilde\rho + o(1)` [secondary for this
  model: the paper's own theorem statement and constants are unconfirmed]. From it: the log
  slope :math:`\|\hat w\|`, the exact constant :math:`\eta t L_t \to \|\hat w\|^2` (the paper
  states only O(1/t)), the direction gap O(1/log^2 t).
* [derived] Why attention is needed: with attention weights that depend on positions only
  (uniform attention in particular), four strings that differ only in their first and last
  token have features with :math:`h_{aa} + h_{bb} = h_{ab} + h_{ba}`, so no readout separates them.
* [derived] Parity by CoT: the parity state obeys :math:`c_t = a \iff c_{t-1} = s_t`; each step
  is an even-pairs question on :math:`(c_{t-1}, s_t)` [the paper's CoT format is unconfirmed].
* [secondary] Why parity needs CoT: Kozachinskiy, Steifer, Walega, *Parity, Sensitivity, and
  Transformers*, arXiv 2602.05896 (abstract): no one-layer one-head transformer computes PARITY (its
  average sensitivity grows too slowly); the reason the validation's ``parity_without_cot`` mutant must
  fail. Not a theorem here: their transformer class (with its positional encodings) is not checked to
  contain ours.
* [unconfirmed] the model's embedding, query and initialisation (see :mod:`theorytk.implicit_bias.model`).

Every sympy-checkable step is an entry of :func:`obligations`, checked in ``tests/proofs``.
"""
import itertools

import sympy as sp

from proofs.theorem import Source, Theorem

w, eta, t, C = sp.symbols("w_hat eta t C", positive=True)

HUANG_2025 = ("Huang, Liang, Yang, How Transformers Learn Regular Language Recognition: A Theoretical Study on "
              "Training Dynamics and Implicit Bias, ICML 2025, arXiv 2505.00926")
SOUDRY_2018 = ("Soudry, Hoffer, Nacson, Gunasekar, Srebro, The Implicit Bias of Gradient Descent on Separable Data, "
               "JMLR 19, 2018, arXiv 1710.10345")
DERIVED = "derived here"
_BODY = ("Only the abstract of " + HUANG_2025 + " was reached [paper: abstract]; its theorem numbers and constants "
         "are unconfirmed. Phase 2 is treated as logistic GD on the frozen features h_T [derived].")
_PHASE2 = ("u_t = w_hat log t + rho + o(1) for logistic GD on separable data with a small enough step (" + SOUDRY_2018 +
           ", Thm. 3); on the support vectors y w_hat.h = 1 (obligation support_margin_one)")

LOG_SLOPE = Theorem(
    name="log_slope",
    statement="d||u_t|| / d log t -> ||w_hat|| (the readout grows logarithmically at the max-margin norm)",
    expr=w,
    symbols=(w,),
    source=Source(DERIVED, _PHASE2 + "; d/d log t of ||w_hat log t + rho|| -> ||w_hat|| (obligation "
                  "slope_limit)", "derived here", _BODY),
)

RATE_CONSTANT = Theorem(
    name="rate_constant",
    statement="eta t L_t -> ||w_hat||^2 (the O(1/t) loss with its exact constant)",
    expr=w**2,
    symbols=(w,),
    source=Source(DERIVED, _PHASE2 + "; then L_t = (1/(N t)) sum_SV e^{-y rho.h} (obligation loss_on_support), "
                  "du/dt = w_hat/t = (eta/(N t)) sum_SV e^{-y rho.h} y h (obligation gradient_balance) gives "
                  "alpha_j = (eta/N) e^{-y_j rho.h_j}, so eta t L_t = sum alpha (obligation eta_t_loss_is_sum_alpha) "
                  "= ||w_hat||^2 (obligation norm_is_sum_alpha, and the closed form of obligation two_point_svm)",
                  "derived here", "The paper states O(1/t) [paper: abstract]; the constant is ours. " + _BODY),
)

LOSS_RATE = Theorem(
    name="loss_rate",
    statement="L_t ~ ||w_hat||^2 / (eta t): the loss falls as 1/t",
    expr=w**2 / (eta * t),
    symbols=(w, eta, t),
    source=Source(HUANG_2025, "abstract: the loss decreases at a rate O(1/t); the prefactor ||w_hat||^2/eta is "
                  "rate_constant's (derived here)", "paper", _BODY),
)

DIRECTION = Theorem(
    name="direction_gap",
    statement="1 - cos(u_t, w_hat) = O(1 / log^2 t) -> 0 (the readout turns to the max-margin direction)",
    expr=C / sp.log(t)**2,
    symbols=(C, t),
    source=Source(SOUDRY_2018, "Thm. 3 and its corollary ||u_t/||u_t|| - w_hat/||w_hat|||| = O(1/log t); "
                  "1 - cos = ||a - b||^2 / 2 for unit a, b (obligation cosine_gap); for u = w_hat s + rho the gap "
                  "is |rho_perp|^2 / (2 ||w_hat||^2 s^2) + o(s^-2), s = log t (obligation direction_leading_term)",
                  "secondary", "The paper states the direction converges [paper: abstract]; the constant C = "
                  "|rho_perp|^2 / (2 ||w_hat||^2) depends on the unknown offset rho, so only the limit is checked. "
                  + _BODY),
    constant_known=False,
)

PHASE_ONE = Theorem(
    name="phase_one_separates",
    statement="after phase 1 the attention outputs are linearly separable: training accuracy = 1",
    expr=sp.Integer(1),
    symbols=(),
    source=Source(HUANG_2025, "abstract: in the first phase the attention layer grows rapidly, mapping the "
                  "sequences into separable vectors", "paper", "Its duration t_0 is unconfirmed; the validation "
                  "requires it by 5% of the run (the notes' V1)."),
)

TWO_PHASE = Theorem(
    name="attention_stabilises",
    statement="in phase 2 the attention stabilises while ||u|| grows like log t: "
              "(d||W||/d log t) / (d||u||/d log t) -> 0",
    expr=sp.Integer(0),
    symbols=(),
    source=Source(HUANG_2025, "abstract: in the second phase the attention layer becomes stable while the linear "
                  "layer grows logarithmically", "paper", "How fast the ratio falls is unconfirmed: the validation "
                  "checks that it falls across the last half-decades."),
)

UNIFORM_ATTENTION = Theorem(
    name="position_only_attention_fails",
    statement="with attention weights that depend on positions only, no linear readout separates even pairs "
              "(h_aa + h_bb - h_ab - h_ba = 0)",
    expr=sp.Integer(0),
    symbols=(),
    source=Source(DERIVED, "for strings a m a, b m b (positive) and a m b, b m a (negative) of the same length and "
                  "middle m, weights p_i depending on i only give h_aa + h_bb = h_ab + h_ba (obligation "
                  "midpoint_identity), so u.h_aa + u.h_bb = u.h_ab + u.h_ba: the two positives cannot both be "
                  "> 0 while the two negatives are < 0", "derived here",
                  "The notes' argument; the paper says attention is what maps the data to separable vectors "
                  "[paper: abstract]."),
)

COT_PARITY = Theorem(
    name="parity_by_cot",
    statement="parity by CoT with an even-pairs model that is right on the four two-token strings: accuracy = 1",
    expr=sp.Integer(1),
    symbols=(),
    source=Source(DERIVED, "c_0 = a, c_t = a iff c_{t-1} = s_t tracks the parity of the number of b's "
                  "(obligation cot_recursion over all strings of length <= 6); each step is the even-pairs label "
                  "of (c_{t-1}, s_t)", "derived here",
                  "The paper solves parity through CoT at inference with the even-pairs model [paper: abstract]; "
                  "this two-token format is ours (the paper's truncated format is COT_TRAINING's)."),
)

COT_TRAINING = Theorem(
    name="parity_by_cot_training",
    statement="parity by truncated CoT with a model that gives every window's even-pairs label: accuracy = 1",
    expr=sp.Integer(1),
    symbols=(),
    source=Source(HUANG_2025, "Sec. on parity check, as a third-party paper note (stored code index, id 61396501216) "
                  "states it; the paper's text was not reached: truncated CoT compares the window's first and last "
                  "tokens, appends a if equal else b and drops the first token; CoT training = loss on the "
                  "teacher-forced windows + the even-pairs loss", "secondary",
                  "Derived here: the appended tokens are y_1 = x_1 xor x_n, y_{k+1} = x_{k+1} xor y_k, so the last "
                  "is the parity of the b's (obligation truncated_cot_recursion over all strings of length <= 6) "
                  "and every window's step label is its even-pairs label (first = last), so a model trained to "
                  "zero error on parity_cot answers every step right. The paper states the two-phase dynamics for "
                  "CoT training too [paper: abstract].", arxiv="2505.00926"),
)

THEOREMS = (LOG_SLOPE, RATE_CONSTANT, LOSS_RATE, DIRECTION, PHASE_ONE, TWO_PHASE, UNIFORM_ATTENTION, COT_PARITY,
            COT_TRAINING)


def _midpoint_identity(length=4):
    """h_aa + h_bb - h_ab - h_ba for symbolic position-only weights p_i and a symbolic middle (token one-hots)."""
    p = sp.symbols(f"p0:{length}", positive=True)
    middle = sp.symbols(f"m1:{length - 1}")            # a middle token's a-indicator (b = 1 - m)

    def h(first, last):
        tok_a = p[0] * int(first == "a") + p[-1] * int(last == "a") + sum(pi * m for pi, m in zip(p[1:-1], middle))
        tok_b = p[0] * int(first == "b") + p[-1] * int(last == "b") + sum(pi * (1 - m) for pi, m in zip(p[1:-1], middle))
        return sp.Matrix([tok_a, tok_b, *p])           # position part: the weights themselves

    gap = h("a", "a") + h("b", "b") - h("a", "b") - h("b", "a")
    return sum(sp.Abs(sp.expand(x)) for x in gap)


def _cot_recursion(max_length=6):
    """Number of strings where the CoT state disagrees with the parity of the b-count (0)."""
    wrong = 0
    for n in range(1, max_length + 1):
        for s in itertools.product((0, 1), repeat=n):
            c = 0
            for token in s:
                c = 0 if c == token else 1
            wrong += int(c != sum(s) % 2)
    return sp.Integer(wrong)


def _truncated_cot_recursion(max_length=6):
    """Number of strings of length 2..``max_length`` where the truncated CoT's last appended token (first xor last
    of each window, the window shifted by one) differs from the parity of the b-count (0)."""
    wrong = 0
    for n in range(2, max_length + 1):
        for s in itertools.product((0, 1), repeat=n):
            window = list(s)
            for _ in range(n - 1):
                window = window[1:] + [window[0] ^ window[-1]]
            wrong += int(window[-1] != sum(s) % 2)
    return sp.Integer(wrong)


def _two_point_svm():
    """SVM of +-(a, b) with labels +-1 solved by sympy: ||w||^2 - sum alpha (0) for both points as support."""
    a, b = sp.symbols("a b", positive=True)
    w1, w2, al = sp.symbols("w1 w2 alpha", positive=True)
    h = sp.Matrix([a, b])
    # both points give the constraint w.h = 1; minimum-norm w is along h; alpha equal by symmetry
    sol = sp.solve([w1 * a + w2 * b - 1, w1 * b - w2 * a], [w1, w2], dict=True)[0]
    wvec = sp.Matrix([sol[w1], sol[w2]])
    alpha = sp.solve(sp.Eq(wvec[0], 2 * al * h[0]), al)[0]   # w = alpha (+1)(h) + alpha (-1)(-h)
    return sp.simplify(wvec.dot(wvec) - 2 * alpha)


def obligations():
    """The derivation steps that sympy can check, as ``name -> (kind, expression)``.

    ``kind`` is ``"zero"`` (simplifies to 0) or ``"positive"`` (sympy decides > 0).
    """
    s, r, c, N = sp.symbols("s r c N", positive=True)
    r1, r2 = sp.symbols("r1 r2", real=True)
    e1, e2, a1, a2, m1, m2 = sp.symbols("e1 e2 a1 a2 m1 m2", positive=True)
    u_norm = sp.sqrt((w * s + r1)**2 + r2**2)            # u = w_hat s + rho, w_hat = (w, 0), s = log t
    cos = (w * (w * s + r1)) / (w * u_norm)
    x1, x2, y1, y2 = sp.symbols("x1 x2 y1 y2", real=True)
    unit_a, unit_b = sp.Matrix([sp.cos(x1), sp.sin(x1)]), sp.Matrix([sp.cos(x2), sp.sin(x2)])
    return {
        # on a support vector y w_hat.h = 1, so exp(-y u.h) = exp(-(log t + c)) = e^{-c} / t
        "support_margin_one": ("zero", sp.exp(-(1 * sp.log(t) + c)) - sp.exp(-c) / t),
        "loss_on_support": ("zero", sp.limit(t * sp.log(1 + sp.exp(-sp.log(t) - c)), t, sp.oo) - sp.exp(-c)),
        "gradient_balance": ("zero", sp.diff(w * sp.log(t), t) - w / t),
        # eta t L_t with L_t = (e1 + e2)/(N t) and alpha_j = (eta/N) e_j
        "eta_t_loss_is_sum_alpha": ("zero", eta * t * (e1 + e2) / (N * t) - (eta * e1 / N + eta * e2 / N)),
        # ||w_hat||^2 = w_hat . sum alpha y h = sum alpha (y w_hat.h) = sum alpha on the support (margins m = 1)
        "norm_is_sum_alpha": ("zero", (a1 * m1 + a2 * m2).subs({m1: 1, m2: 1}) - (a1 + a2)),
        "two_point_svm": ("zero", _two_point_svm()),
        "slope_limit": ("zero", sp.limit(sp.diff(u_norm, s), s, sp.oo) - w),
        "direction_leading_term": ("zero", sp.limit(s**2 * (1 - cos), s, sp.oo) - r2**2 / (2 * w**2)),
        "cosine_gap": ("zero", sp.simplify(1 - unit_a.dot(unit_b) - (unit_a - unit_b).dot(unit_a - unit_b) / 2)),
        "loss_exponent_is_minus_one": ("zero", LOSS_RATE.exponent("t") + 1),
        "direction_gap_vanishes": ("zero", sp.limit(DIRECTION.expr, t, sp.oo)),
        "midpoint_identity": ("zero", _midpoint_identity()),
        "cot_recursion": ("zero", _cot_recursion()),
        "truncated_cot_recursion": ("zero", _truncated_cot_recursion()),
        "rate_constant_is_slope_squared": ("zero", RATE_CONSTANT.expr - LOG_SLOPE.expr**2),
        "log_slope_positive": ("positive", LOG_SLOPE.expr),
    }
