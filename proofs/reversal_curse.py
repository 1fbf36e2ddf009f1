r"""The reversal curse and intransitivity in the bilinear next-token model.

Setting (as in :mod:`theorytk.reversal`): entities :math:`0..M-1` with embeddings :math:`e_j`,
logits :math:`z_y(x) = e_y^\top \Theta e_x`, :math:`\Theta_0 = 0`, full-batch GD on the mean
cross-entropy :math:`L` over the training pairs. Pairs task: every :math:`A_i \to B_i` trained, a
subset also :math:`B_i \to A_i`; the other :math:`B_i \to A_i` are the reverse-untrained test,
with loss :math:`L_{rev}`. Chains task: :math:`A_i \to B_i`, :math:`B_i \to C_i` trained,
:math:`A_i \to C_i` tested.

Sources, with the labels of our notes (``../shared/notes/wave2/reversal_curse_bilinear.md``):

* Zhu, Huang, Zhang, Jordan, Jiao, Tian, Russell, *Towards a Theoretical Understanding of the
  'Reversal Curse' via Training Dynamics*, NeurIPS 2024, arXiv 2405.04669. [paper: abstract and
  front matter only; the full text was not reachable] the bilinear model is a simplification of
  a one-layer transformer, analysed by (S)GD; the curse comes from asymmetric weights (raising
  :math:`A \to B` does not raise :math:`B \to A`); intransitivity is shown for one-layer
  transformers. [secondary: themoonlight and liner digests] logits bilinear in the input and
  candidate embeddings, gradient flow :math:`d\Theta/dt = -\nabla L`, and the main bound
  :math:`L_{rev}(\Theta_t)/L_{rev}(\Theta_0) \ge (L(\Theta_t)/L(\Theta_0))^\varepsilon` with
  :math:`\varepsilon` small. [unconfirmed] the theorem's number, :math:`\varepsilon` and its
  dependence on :math:`d` and :math:`M`, the embedding distribution (we use :math:`N(0, I_d/d)`),
  shared vs separate input/output embeddings, :math:`\Theta_0`, whether the theory's training set
  has a bidirectional subset.
* [code] marlo-z/reversal_curse_analysis ``src/datasets/ReverseDataset.py``: pairs over disjoint
  alphabets, 70% trained both ways, the rest one way (direction drawn at random) with the other
  held out; the repository holds only the multi-layer GPT-2 experiments, no bilinear model.
* [searched again] for :math:`\varepsilon`, its dependence on :math:`d` and the assumptions of the
  one-layer-transformer section: the stored arXiv HTML v1/v2 (only the front matter and abstract
  come back), the LessWrong linkpost (Sec. 4: "one-layer transformers under certain assumptions
  similar to Tian et al. (2023a)"), a NeurIPS poster digest (Sec. 4 has a table of token
  notations), the themoonlight and liner digests, and the authors' code (GPT-2 only, 24 layers by
  default; ``--n_layers 1`` would be a GPT-2 block with MLP and LayerNorm, not Tian et al.'s
  framework). None states :math:`\varepsilon`, its d-dependence or those assumptions, so
  the paper's :math:`\varepsilon` stays [unconfirmed] and the transformer variant is not built.
* [derived] everything else, each sympy-checkable step an entry of :func:`obligations`, checked
  in ``tests/proofs``.
"""
import sympy as sp

from proofs.theorem import Source, Theorem

M, N, n = sp.symbols("M N n", positive=True, integer=True)
p, L, q, eps, C, d, r = sp.symbols("p L q epsilon C d r", positive=True)

ZHU_2024 = ("Zhu, Huang, Zhang, Jordan, Jiao, Tian, Russell, Towards a Theoretical Understanding of the 'Reversal "
            "Curse' via Training Dynamics, NeurIPS 2024, arXiv 2405.04669")
DERIVED = "derived here"
_ONE_HOT_STEP = ("the gradient of a pair x -> y is (p(.|x) - e_y) e_x^T / N, in one-hot coordinates non-zero only in "
                 "column x (obligation gradient_in_input_column)")

ONE_HOT_REVERSE_INVARIANCE = Theorem(
    name="one_hot_reverse_invariance",
    statement="one-hot embeddings, Theta_0 = 0: p(A_i | B_i) = 1/M at every GD step for every reverse-untrained pair",
    expr=1 / M,
    symbols=(M,),
    source=Source(DERIVED, _ONE_HOT_STEP + "; B_i is never a training input when only A_i -> B_i is trained, so "
                  "column B_i of Theta_t stays 0, every logit z_j(B_i) stays exactly 0 and softmax(0) = 1/M "
                  "(obligation softmax_of_zeros); with Theta tied symmetric z_A(B) = z_B(A) moves with training "
                  "(obligation tied_reverse_is_forward)", "derived here",
                  "[paper] abstract: asymmetric weights cause the curse; [derived] the exact one-hot statement "
                  "(our notes measured 0.0125 = 1/80)."),
)

TRAINED_PAIR_PROBABILITY = Theorem(
    name="trained_pair_probability",
    statement="one-hot, each entity the input of at most one training pair: p(y_n | x_n)_t = exp(-L_t) for every "
              "training pair n and step t",
    expr=sp.exp(-L),
    symbols=(L,),
    source=Source(DERIVED, _ONE_HOT_STEP + " and depending only on column x (obligation column_update_is_local); "
                  "every column starts at 0 and sees the same update up to relabelling its rows, so every training "
                  "pair has the same p_t and L_t = -log p_t: the reverse direction is learned, at the forward rate, "
                  "when it is trained (notes V3)", "derived here", "The positive control of our notes, made exact."),
)

INTRANSITIVITY = Theorem(
    name="intransitivity",
    statement="one-hot chains A -> B -> C, Theta_0 = 0: p(C | A)_t = (1 - p(B | A)_t)/(M - 1) at every step",
    expr=(1 - p) / (M - 1),
    symbols=(p, M),
    source=Source(DERIVED, _ONE_HOT_STEP + "; column A is updated only by the pair A -> B: every non-target logit "
                  "z_j(A) moves by -eta p_j(A)/N, equal logits have equal probabilities (obligation "
                  "equal_logits_equal_probabilities), so from 0 they stay equal and share 1 - p(B|A)",
                  "derived here",
                  "[paper] abstract states intransitivity (the necessity of CoT) for one-layer transformers; "
                  "[derived] this exact bilinear version (our notes: the A -> C logit only decreases)."),
    assumptions=(sp.Ge(M, 2),),
)

INTRANSITIVE_BELOW_CHANCE = Theorem(
    name="intransitive_below_chance",
    statement="one-hot chains: p(C | A)_t <= 1/M at every step (A -> C is never learned)",
    expr=1 / M,
    symbols=(M,),
    source=Source(DERIVED, "INTRANSITIVITY with p(B|A)_t >= 1/M (its logit only rises, the others only fall): "
                  "1/M - (1 - p)/(M - 1) = (M p - 1)/(M (M - 1)) >= 0 (obligations below_chance_identity, "
                  "below_chance_sign)", "derived here"),
)

REVERSE_LOSS_BOUND = Theorem(
    name="reverse_loss_bound",
    statement="L_rev(Theta_t)/L_rev(Theta_0) >= (L(Theta_t)/L(Theta_0))^epsilon, epsilon small (q = L_t/L_0)",
    expr=q ** eps,
    symbols=(q, eps),
    source=Source(ZHU_2024, "the bilinear model's main bound (theorem number unconfirmed), gradient flow on CE",
                  "secondary",
                  "[secondary] read in a digest (themoonlight), not in the paper (arXiv HTML v1/v2: front matter "
                  "only). [unconfirmed] epsilon, its dependence on d and M, the conditions (embedding law, Theta_0, "
                  "shared embeddings, a bidirectional subset). [code] the authors' data (ReverseDataset.py) train "
                  "70% of pairs both ways and one random direction of the rest. [derived] equivalent to the reverse exponent "
                  "eps_emp = log(L_rev,t/L_rev,0)/log(L_t/L_0) <= epsilon (log q < 0); REVERSE_EXPONENT_BOUND gives "
                  "an epsilon(d) we can derive."),
    assumptions=(sp.Lt(q, 1),),
    constant_known=False,
)

REVERSE_ENVELOPE = Theorem(
    name="reverse_envelope",
    statement="N(0, I/d) embeddings, trained to a fixed loss: max over reverse-untrained pairs and steps of "
              "|log(M p(A_i | B_i))| <= C d^(-1/2)",
    expr=C / sp.sqrt(d),
    symbols=(C, d, M),
    source=Source(DERIVED, "(a) |log(M p_A)| <= max_j z_j - min_j z_j <= 2 max_j |z_j| (log M p_A = z_A - log mean "
                  "exp z, to first order z_A - mean z: obligations log_mp_at_equal_logits, log_mp_first_order); "
                  "(b) z_j(B) = sum_n (K W)_jn e_{x_n}.e_B and B is never an input, so each term carries the inner "
                  "product of two independent N(0, I/d) vectors, of variance 1/d (obligation "
                  "inner_product_variance); (c) at a fixed training loss the coefficients K W tend to the one-hot "
                  "ones as d -> oo (an assumption, measured in our notes; it needs near-orthogonal embeddings, so "
                  "d >= M), so C = 2 sup_d |K W|_1 max_n sqrt(d) |e_x.e_B| stays bounded", "derived here",
                  "[derived] steps (a), (b); [unconfirmed] step (c) is assumed, not proved, and the paper's own "
                  "epsilon(d) is not known to us; C is not known in closed form: the validation fits it on "
                  "M <= d <= 256 (notes V2 fit on d <= 128; below d = M the step (c) regime does not hold) and tests the "
                  "envelope as a prediction at larger d. Our notes measured "
                  "|eps_emp| falling faster than d^(-1/2), so the envelope is a bound, not the rate."),
    assumptions=(sp.Ge(d, M),),
)

REVERSE_EXPONENT_BOUND = Theorem(
    name="reverse_exponent_bound",
    statement="N(0, I/d) embeddings: eps_emp = log(L_rev,t/L_rev,0)/log(L_t/L_0) <= -log(1 - C d^(-1/2)/log M)/log r, "
              "r = L_0/L_t",
    expr=-sp.log(1 - C / (sp.sqrt(d) * sp.log(M))) / sp.log(r),
    symbols=(C, d, M, r),
    source=Source(DERIVED, "Theta_0 = 0 gives L_rev,0 = log M (obligation reverse_loss_at_zero); -log p_i = log M - "
                  "log(M p_i) and REVERSE_ENVELOPE give L_rev,t >= log M (1 - u), u = C d^(-1/2)/log M; so "
                  "L_rev,t/L_rev,0 >= 1 - u = (L_t/L_0)^epsilon(d) (obligation exponent_attains_shape): the paper's "
                  "shape with this epsilon(d), which falls like d^(-1/2)", "derived here",
                  "Inherits REVERSE_ENVELOPE's assumption (c) and its fitted C."),
    assumptions=(sp.Lt(C / sp.sqrt(d), sp.log(M)), sp.Gt(r, 1), sp.Ge(d, M)),
)

TRAINED_SUBSET_LOSS = Theorem(
    name="trained_subset_loss",
    statement="a subset of n of the N training pairs has mean cross-entropy <= N L / n",
    expr=N * L / n,
    symbols=(N, n, L),
    source=Source(DERIVED, "each cross-entropy is >= 0, so n L_S <= N L (obligation subset_loss); for the pairs "
                  "trained in both directions it bounds the reverse loss of the trained reverse pairs (notes V3)",
                  "derived here"),
    assumptions=(sp.Le(n, N),),
)

THEOREMS = (ONE_HOT_REVERSE_INVARIANCE, TRAINED_PAIR_PROBABILITY, INTRANSITIVITY, INTRANSITIVE_BELOW_CHANCE,
            REVERSE_LOSS_BOUND, REVERSE_ENVELOPE, REVERSE_EXPONENT_BOUND, TRAINED_SUBSET_LOSS)


def _theta(size, name="t"):
    return sp.Matrix(size, size, lambda a, b: sp.Symbol(f"{name}{a}_{b}"))


def _cross_entropy(column, target):
    """-log softmax(column)[target] for a sympy column of logits."""
    return sp.log(sum(sp.exp(z) for z in column)) - column[target]


def one_hot_gradient(theta, pairs):
    """The gradient of the mean CE of ``pairs`` ((input, target) tuples) in Theta, one-hot (z(x) = Theta[:, x])."""
    loss = sum(_cross_entropy(theta[:, x], y) for x, y in pairs) / len(pairs)
    return theta.applyfunc(lambda entry: sp.diff(loss, entry))


def _gradient_in_input_column():
    """Squared gradient entries outside the input columns (pairs 0 -> 1, 1 -> 2 on M = 3): must be 0."""
    theta = _theta(3)
    G = one_hot_gradient(theta, [(0, 1), (1, 2)])
    return sum(G[a, 2] ** 2 for a in range(3))


def _column_update_is_local():
    """d(grad column 0)/d(column 1 entries): the update of column 0 does not see column 1."""
    theta = _theta(3)
    G = one_hot_gradient(theta, [(0, 1), (1, 2)])
    return sum(sp.diff(G[a, 0], theta[b, 1]) ** 2 for a in range(3) for b in range(3))


def _softmax(logits):
    total = sum(sp.exp(z) for z in logits)
    return [sp.exp(z) / total for z in logits]


def _log_mp_first_order():
    """log(M p_0) for M = 3 logits s*z minus s*(z_0 - mean z), through O(s^2): the first-order coefficient's error."""
    s = sp.Symbol("s")
    z = sp.symbols("z0:3")
    expr = sp.log(3 * _softmax([s * zi for zi in z])[0])
    first = sp.series(expr, s, 0, 2).removeO()
    return sp.simplify(first - s * (z[0] - sum(z) / 3))


def obligations():
    """The derivation steps that sympy can check, as ``name -> (kind, expression)``.

    ``kind`` is ``"zero"`` (the expression simplifies to 0) or ``"positive"`` (sympy decides it is
    > 0 under the symbols' assumptions). ``tests/proofs`` checks each.
    """
    a, b, s = sp.symbols("a b s", real=True)
    k = sp.Symbol("k", integer=True, positive=True)
    probs = _softmax([a, b, b])
    sym = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"s{min(i, j)}_{max(i, j)}"))
    u = C / (sp.sqrt(d) * sp.log(M))
    return {
        "gradient_in_input_column": ("zero", _gradient_in_input_column()),
        "column_update_is_local": ("zero", _column_update_is_local()),
        "softmax_of_zeros": ("zero", sp.exp(0) / (M * sp.exp(0)) - ONE_HOT_REVERSE_INVARIANCE.expr),
        "tied_reverse_is_forward": ("zero", sym[0, 1] - sym[1, 0]),
        "trained_loss_is_minus_log_p": ("zero", -sp.log(TRAINED_PAIR_PROBABILITY.expr) - L),
        "equal_logits_equal_probabilities": ("zero", (probs[1] - probs[2]) ** 2
                                             + (probs[1] - INTRANSITIVITY.expr.subs({p: probs[0], M: 3})) ** 2),
        "below_chance_identity": ("zero", INTRANSITIVE_BELOW_CHANCE.expr - INTRANSITIVITY.expr
                                  - (M * p - 1) / (M * (M - 1))),
        "below_chance_sign": ("positive", (M * p - 1).subs(p, (1 + q) / M)),
        "log_mp_at_equal_logits": ("zero", sp.log(3 * _softmax([a, a, a])[0])),
        "log_mp_first_order": ("zero", _log_mp_first_order()),
        "inner_product_variance": ("zero", sp.summation((1 / d) * (1 / d), (k, 1, d)) - 1 / d),
        "reverse_loss_at_zero": ("zero", -sp.log(ONE_HOT_REVERSE_INVARIANCE.expr) - sp.log(M)),
        "exponent_attains_shape": ("zero", sp.exp(-REVERSE_EXPONENT_BOUND.expr * sp.log(r)) - (1 - u)),
        "subset_loss": ("zero", n * TRAINED_SUBSET_LOSS.expr - N * L),
    }
