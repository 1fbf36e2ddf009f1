"""Metastable chain-of-thought chains: the hitting-time statements theorytk.metastable checks.

Paper: Kim, Wu, Lee, Suzuki, "Metastable dynamics of chain-of-thought reasoning: provable
benefits of search, RL and distillation", ICML 2025, PMLR 267:30791-30825, arXiv 2502.01694.

What was confirmed (see each theorem's ``source``):

* [paper] (arXiv HTML abstract and Sec. 1, PMLR abstract): CoT as a metastable Markov
  process, dense clusters and sparse edges of small probability; search that rewards
  sparse edges decreases the expected number of steps to reach different clusters;
  policy-gradient finetuning and distillation of a compressed metastable representation.
* [secondary] (notes/metastable.md: paper digests, the acmrep2026 reproducibility page):
  the algorithm names (Algorithms 1-4, confirmed by acmrep), the theorem numbers (Thm 3.2
  hitting time, Prop 3.4 PPO-Clip, Thm 4.3 distillation, Thm 5.3 SDA) and the rates. The
  full text of Secs. 2-5 and the appendices could NOT be read here (the stored arXiv page
  shows only its first screen; searches of stored pages on 2026-11-23 and again on 2026-12-02 (arXiv
  HTML v2, ar5iv, alphaXiv, sciencestack, paperhub, acmrep) returned only abstracts and first screens),
  so every theorem number and rate below stays [secondary], with unknown constants.
* The hitting-time rate: digests disagree between Theta~(KM/eps) and e^{Theta(KM/eps)}.
  The exponential reading cannot hold on a finite chain (E[tau] <= n eps^{-n} when every
  used transition has probability >= eps), and the exact solves here are affine in 1/eps
  (:data:`RENEWAL`): we use Theta~(KM/eps) (:data:`PAPER_HITTING_TIME`).
* Sec. 5 (the local-information limit) [secondary]: a paper digest describes the "logic task"
  (group elements on edges, identity on dense and non-trivial on sparse edges, the answer
  the product along the path) and four access levels (none, path only, local neighbourhood,
  global) compared by the SQ dimension with access; the task's exact definition and the
  bound of Thm 5.3 could not be read. :data:`LOCAL_VIEWS_COINCIDE` and
  :data:`LOCAL_SEARCH_LIMIT` are our concrete analogue on chains, derived here.
* Everything the validation's pass/fail rests on is derived here, with the sympy-checkable
  steps in :func:`obligations` (checked in ``tests/proofs``).
"""
import sympy as sp

from proofs.theorem import Source, Theorem

K, M = sp.symbols("K M", positive=True, integer=True)
eps, q, Q, f, h, b, lam, eps_max = sp.symbols("eps q Q f h b lam eps_max", positive=True)

PAPER = ("Kim, Wu, Lee, Suzuki, Metastable dynamics of chain-of-thought reasoning: provable benefits of search, "
         "RL and distillation, ICML 2025, arXiv 2502.01694")
DERIVED = "derived here"
_SECONDARY_NOTE = ("Theorem number and rate from secondary sources (paper digests; notes/metastable.md Sec. 2); the "
                   "PDF's Secs. 2-5 and appendices were not readable here, so constants and logs inside Theta~ are "
                   "unknown and only the rate is checked.")

LEADING_TERM = Theorem(
    name="leading_term",
    statement="E_{x_in}[tau_{C_K}] = T0 (1 + O(eps)), T0 = sum_{k<K} M_k/(eps Q_k), Q_k = sum of exit weights q of C_k",
    expr=(K - 1) * M / (eps * Q),
    symbols=(K, M, eps, Q),
    source=Source(DERIVED, "Kac: the uniform cluster law gives each exit state mass 1/M_k, so the exit rate is "
                  "eps Q_k / M_k per step; summing the K-1 mean exit times. Exact form: RENEWAL (one exit) shows "
                  "E = T0 + b with b independent of eps.", "derived here",
                  "Written for equal cluster sizes M and equal Q; theorytk.metastable.leading_term sums per cluster."),
)

RENEWAL = Theorem(
    name="renewal",
    statement="one exit per cluster: E_{x_in}[tau_{C_K}] = sum_{k<K} [h_k + 1 + M (1 - eps q)/(eps q)]",
    expr=(K - 1) * (h + 1 + M * (1 - eps * q) / (eps * q)),
    symbols=(K, M, eps, q, h),
    source=Source(DERIVED, "Strong Markov property at the visits of exit_k: the walk first needs h_k = E^{P0}[entry_k "
                  "-> exit_k] steps; each visit leaves with probability s = eps q, otherwise the next state has law "
                  "P0(exit, .) (proportional renormalisation) and the return to exit takes 1/pi0(exit) = M steps "
                  "in mean (Kac); the number of failed visits is Geometric with mean (1 - s)/s; the successful "
                  "visit costs 1 step.", "derived here",
                  "Written with equal h_k, M, q over clusters; theorytk.metastable.renewal_hitting_time sums the "
                  "per-cluster terms."),
)

BOOSTED = Theorem(
    name="boosted",
    statement="rewarding every sparse edge by f: E(f) - b = (E(1) - b)/f with b = (K-1)(h + 1 - M)",
    expr=(K - 1) * (h + 1 + M * (1 - f * eps * q) / (f * eps * q)),
    symbols=(K, M, eps, q, h, f),
    source=Source(DERIVED, "RENEWAL with eps q -> f eps q (boosting multiplies the sparse probability by f and "
                  "renormalises the row proportionally, so P0 and h_k are unchanged).", "derived here"),
    assumptions=(f * eps * q < 1,),
)

QSD_EXIT = Theorem(
    name="qsd_exit",
    statement="nu P_CC = lam nu  =>  P_nu(tau > t) = lam^t, E_nu[tau] = 1/(1 - lam)",
    expr=1 / (1 - lam),
    symbols=(lam,),
    source=Source(DERIVED, "P_nu(tau > t) = nu P_CC^t 1 = lam^t nu 1 = lam^t; E tau = sum_{t>=0} lam^t.",
                  "derived here", "The quasi-stationary law of Collet, Martinez, San Martin, Quasi-stationary "
                  "distributions (Springer 2013), Ch. 2."),
    assumptions=(lam < 1,),
)

AGGREGATION = Theorem(
    name="aggregation",
    statement="Q_kl = sum_{i in C_k} pi_i P(i, C_l)/pi(C_k) has stationary law pi_bar_k = pi(C_k), for any partition",
    expr=sp.Integer(0),
    symbols=(),
    source=Source(DERIVED, "sum_k pi(C_k) Q_kl = sum_i pi_i P(i, C_l) = (pi P)(C_l) = pi(C_l).", "derived here",
                  "Simon-Ando aggregation (Simon & Ando, Econometrica 29, 1961; Courtois 1977)."),
)

POTENTIAL_ADJOINT = Theorem(
    name="potential_adjoint",
    statement="E_{nu*_AB}[tau_B] = <pi, h*_AB>/cap(A, B) with nu*, h* of the time reversal P*, any irreducible chain",
    expr=sp.Integer(0),
    symbols=(),
    source=Source(DERIVED, "t = E.[tau_B] solves (P - I)t = -1 off B, t = 0 on B; h* = P*(tau_A < tau_B) solves "
                  "(P* - I)h* = 0 off A u B. Duality <pi, u (P - I)v> = <pi, v (P* - I)u> with u = h*, v = t gives "
                  "<pi, h*> = sum_A pi(x) e*_A(x) t(x) = cap E_{nu*}[tau_B], and cap(A,B) is the same for P, P*.",
                  "derived here", "For reversible P (P* = P) this is Bovier, Eckhoff, Gayrard, Klein, CMP 228 (2002); "
                  "Bovier & den Hollander, Metastability (2015), Ch. 7."),
)

SPECTRAL_GAP_TWO_CLUSTERS = Theorem(
    name="spectral_gap_two_clusters",
    statement="two clusters of M states joined both ways by one edge of probability eps: "
              "1 - lambda_2 = 2 eps/M + O(eps^2)",
    expr=2 * eps / M,
    symbols=(eps, M),
    source=Source(DERIVED, "The meta-chain [[1 - eps/M, eps/M], [eps/M, 1 - eps/M]] has lambda_2 = 1 - 2 eps/M; "
                  "checked on the exact characteristic polynomial of the M = 3 lazy cyclic chain (obligations).",
                  "derived here", "Simon-Ando: K eigenvalues within O(eps) of 1, then a gap to the cluster spectrum."),
)

PAPER_HITTING_TIME = Theorem(
    name="paper_hitting_time",
    statement="E[tau_{X_out}] = Theta~(K M/eps) (Thm 3.2)",
    expr=K * M / eps,
    symbols=(K, M, eps),
    source=Source(PAPER, "Thm 3.2", "secondary", _SECONDARY_NOTE + " Some digests write e^{Theta(KM/eps)}: "
                  "impossible on a finite chain; the derived RENEWAL form is affine in 1/eps."),
    constant_known=False,
)

PAPER_PPO = Theorem(
    name="paper_ppo_clip",
    statement="PPO-Clip with advantage 1{edge in E^} raises sparse probabilities to eps_max, moves the model o(1/M) in "
              "TV, and the hitting time becomes Theta~(K M/eps_max) (Prop 3.4)",
    expr=K * M / eps_max,
    symbols=(K, M, eps_max),
    source=Source(PAPER, "Prop 3.4", "secondary", _SECONDARY_NOTE),
    constant_known=False,
)

PAPER_DISTILLATION = Theorem(
    name="paper_distillation",
    statement="the distilled, time-rescaled meta-chain (beta = Theta(log(M/eps))) hits the goal in O(K) steps "
              "(Thm 4.3)",
    expr=K,
    symbols=(K,),
    source=Source(PAPER, "Thm 4.3", "secondary", _SECONDARY_NOTE),
    constant_known=False,
)

c_eps, g_fast, n_hops = sp.symbols("c_eps g_fast n_hops", positive=True)


def _first_order(name, statement, derivation, note="", confidence="derived here", reference=DERIVED):
    """A statement ``deviation = c eps + O(eps^2)`` (unknown c > 0): its exponent in eps as eps -> 0+ is 1."""
    return Theorem(name=name, statement=statement, expr=c_eps * eps, symbols=(eps, c_eps),
                   source=Source(reference, derivation, confidence, note), constant_known=False)


_PERTURBED_PI = ("P = P0 + eps E with P0 block-diagonal (irreducible clusters, uniform law 1/M) gives pi = pi0 + "
                 "eps pi0 E Z + O(eps^2) inside each cluster's conditional law (Schweitzer, J. Appl. Prob. 5, 1968: "
                 "perturbation of the stationary law through the fundamental matrix Z)")

META_OFFDIAG = _first_order(
    "meta_offdiagonal",
    "Q_{k,k+1} = eps q/M (1 + O(eps)): |Q_{k,k+1} M/(eps q) - 1| = c eps + O(eps^2)",
    _PERTURBED_PI + "; with one exit, Q_{k,k+1} = pi(exit_k | C_k) eps q = (1/M + O(eps)) eps q. Checked exactly "
    "on the K = 2, M = 3 two-way chain (obligation meta_offdiagonal_first_order).")

META_MFPT = _first_order(
    "meta_mfpt",
    "|MFPT of Q from cluster 1 to K / pi-averaged MFPT of P from C_1 - 1| = c eps + O(eps^2)",
    "Both are T0 (1 + O(eps)) with the same T0 = sum_k M/(eps q) (RENEWAL for P; the K-state chain Q with forward "
    "probabilities Q_{k,k+1} = eps q/M (1 + O(eps)) for Q), so their ratio is 1 + O(eps). Checked exactly on the "
    "K = 2, M = 3 chain (obligation meta_mfpt_first_order).")

RESCALED_CORRECTION = _first_order(
    "rescaled_correction",
    "beta = log(M/eps): |rescaled meta-chain hitting time / ((K-1)(1+q)/q) - 1| = c eps + O(eps^2)",
    "The forward logit log Q_{k,k+1} + beta = log q + O(eps) and the diagonal one log(1 - O(eps)) = O(eps): the "
    "rescaled chain steps forward with probability q/(1+q) + O(eps); RESCALED_META_HITTING.")

RESCALED_META_HITTING = Theorem(
    name="rescaled_meta_hitting",
    statement="forward meta-chain, beta = log(1/Q_{k,k+1}) + log q: the rescaled chain hits the goal in "
              "n (1+q)/q steps, n = K - 1 hops, for every eps (O(K), eps-free: our concrete Thm 4.3)",
    expr=n_hops * (1 + q) / q + 0 * eps,
    symbols=(n_hops, q, eps),
    source=Source(DERIVED, "Softmax of (log(1 - Q_fwd), log Q_fwd + beta) = (1, q)/(1 + q): each hop is "
                  "Geometric((q/(1+q))) steps, n hops. With beta learned from sampled runs (beta^ = -log of the "
                  "mean sampled forward probability) q is 1 up to the sampling error.", "derived here",
                  "Our reading of Thm 4.3 (PAPER_DISTILLATION, [secondary]); the paper's beta = Theta(log(M/eps))."),
)

METASTABLE_LADDER = _first_order(
    "metastable_ladder",
    "a chain with K clusters joined by Theta(eps) edges has K eigenvalues with |1 - lambda_i| = O(eps)",
    "The K-dimensional null space of I - P0 (cluster indicators) moves by O(eps) under P0 + eps E "
    "(Kato perturbation of a semisimple eigenvalue); SPECTRAL_GAP_TWO_CLUSTERS is the K = 2 case, checked exactly.",
    "Simon & Ando, Econometrica 29 (1961); Courtois, Decomposability (1977); not re-read here.",
    confidence="secondary",
    reference="Simon & Ando, Aggregation of variables in dynamic systems, Econometrica 29 (1961)")

CLUSTER_SPECTRUM = Theorem(
    name="cluster_spectrum",
    statement="the (K+1)-th eigenvalue stays at the clusters' gap: |1 - lambda_(K+1)| = g + O(eps), g > 0",
    expr=g_fast + c_eps * eps,
    symbols=(eps, g_fast, c_eps),
    source=Source("Simon & Ando, Aggregation of variables in dynamic systems, Econometrica 29 (1961)",
                  "The remaining eigenvalues of P0 (each cluster's spectrum without its 1) move by O(eps) (Kato).",
                  "secondary", "Not re-read here."),
    constant_known=False,
)

GAP_RATIO = _first_order(
    "gap_ratio",
    "|(1 - lambda_2(P))/(1 - lambda_2(Q)) - 1| = c eps + O(eps^2)",
    "1 - lambda_2(P) and 1 - lambda_2(Q) are both (the meta-chain generator's eigenvalue) eps (1 + O(eps)) "
    "(METASTABLE_LADDER for P; Q's entries are those of the meta-generator to first order, META_OFFDIAG).")


burn_in = sp.Symbol("T_burn", positive=True)

BURN_IN_FALSE_FLAGS = Theorem(
    name="burn_in_false_flags",
    statement="Sparse Edge Search: false flags per flag <= T0 eps q/M (a round flags a dense edge only when the walk "
              "leaves its cluster during the burn-in of T0 steps, or the burn-in misses a state)",
    expr=burn_in * eps * q / M,
    symbols=(burn_in, eps, q, M),
    source=Source(DERIVED, "A union bound over the T0 burn-in steps: each leaves the cluster with probability "
                  "pi(exit | C) eps q <= eps q/M (1 + O(eps)) from near the uniform cluster law; the missed-state "
                  "term is about M^(1 - 20/t_rel) for T0 = 20 M ln M (theorytk.metastable.default_search_plan), "
                  "negligible for t_rel ~ 6.4.", "derived here",
                  "Our bound for our reading of Algorithm 2 (Sparse Edge Search [secondary])."),
)


LOCAL_VIEWS_COINCIDE = Theorem(
    name="local_views_coincide",
    statement="lifted chain (theorytk.metastable.lifted_chain, decoys): P Phi = Phi B with one out-edge of x per "
              "out-edge of phi(x) => every state has the anonymous depth-r view of the circulant base B, for every r; "
              "so every eps-edge (sparse or decoy) has the same view",
    expr=sp.Integer(0),
    symbols=(),
    source=Source(DERIVED, "Phi(x, i) = 1{position(x) = i}. PPhi = Phi B with equal out-degrees says the out-edges of x "
                  "biject with those of phi(x), probabilities kept: V_0(x) = V_0(phi x). Induction: V_r(x) = "
                  "{(p, V_(r-1)(y))} = {(p, V_(r-1)(phi y))} = V_r(phi x). The sparse edge of an exit and a decoy "
                  "are both the shift-c edge of probability eps.", "derived here",
                  "Views are preserved by coverings: Yamashita & Kameda, IEEE TPDS 7 (1996); Angluin, STOC 1980. "
                  "The paper's own local-access lower bound (Sec. 5, Thm 5.3, SQ dimension with access on a "
                  "group-labelled logic task [secondary]) could not be read; this is our concrete analogue."),
)

LOCAL_SEARCH_LIMIT = Theorem(
    name="local_search_limit",
    statement="on the lifted chain with decoys, any rule that picks size <= |S| edges from the views of the inspected "
              "states S (ties uniformly at random) has E[recall | S] <= s/|S| (s exit states in S); = 1/M once S is "
              "every state",
    expr=1 / M,
    symbols=(M,),
    source=Source(DERIVED, "By LOCAL_VIEWS_COINCIDE the |S| eps-edges of S form one view class holding the s sparse "
                  "edges, and the other candidates (dense edges) are never sparse. A rule taking j edges of the "
                  "class uniformly hits j s/|S| in mean (hypergeometric); j <= size = m sparse edges gives recall "
                  "<= s/|S|; with S all K M states, s = K.", "derived here"),
)

THEOREMS = (LEADING_TERM, RENEWAL, BOOSTED, QSD_EXIT, AGGREGATION, POTENTIAL_ADJOINT, SPECTRAL_GAP_TWO_CLUSTERS,
            META_OFFDIAG, META_MFPT, RESCALED_CORRECTION, RESCALED_META_HITTING, METASTABLE_LADDER, CLUSTER_SPECTRUM,
            GAP_RATIO, BURN_IN_FALSE_FLAGS, LOCAL_VIEWS_COINCIDE, LOCAL_SEARCH_LIMIT, PAPER_HITTING_TIME, PAPER_PPO,
            PAPER_DISTILLATION)


def lazy_cyclic_chain(n_exits):
    """The K = 2, M = 3 lazy cyclic chain with ``n_exits`` exit states (sympy, exact in eps).

    Each cluster kernel is (1/2)(I + S), S the cyclic shift; cluster 0 = {0, 1, 2} with
    start 0; its exits are state 2 (and state 1 for two exits), each leaving to state 3
    with probability eps (q = 1), the rest of the row scaled by 1 - eps. Cluster 1 = {3, 4, 5}
    is the goal. Returns the 6 x 6 matrix.
    """
    P = sp.zeros(6, 6)
    for base in (0, 3):
        for i in range(3):
            P[base + i, base + i] += sp.Rational(1, 2)
            P[base + i, base + (i + 1) % 3] += sp.Rational(1, 2)
    for x in (2, 1)[:n_exits]:
        P[x, :] = (1 - eps) * P[x, :]
        P[x, 3] += eps
    return P


def lifted_chain_symbolic(decoys=True, size=5, shifts=(1, 2), decoy_shift=3, exits=(4, 1)):
    """The two-cluster lifted chain (as ``theorytk.metastable.lifted_chain``) with symbols eps and ell (laziness).

    Returns ``(P, Phi, B)``: the 2*size x 2*size kernel, the position map and the circulant base kernel.
    """
    ell = sp.Symbol("ell", positive=True)
    n, d = 2 * size, len(shifts)
    B = sp.zeros(size, size)
    for i in range(size):
        B[i, i] += (1 - eps) * ell
        for s in shifts:
            B[i, (i + s) % size] += (1 - eps) * (1 - ell) / d
        B[i, (i + decoy_shift) % size] += eps
    P = sp.zeros(n, n)
    for k in range(2):
        for i in range(size):
            x = k * size + i
            is_exit = i == exits[k]
            scale = (1 - eps) if (is_exit or decoys) else 1
            P[x, x] += scale * ell
            for s in shifts:
                P[x, k * size + (i + s) % size] += scale * (1 - ell) / d
            if is_exit or decoys:
                P[x, ((k + is_exit) % 2) * size + (i + decoy_shift) % size] += eps
    Phi = sp.Matrix(n, size, lambda x, i: 1 if x % size == i else 0)
    return P, Phi, B


def covering_residual(P, Phi, B):
    """Sum of squares of P Phi - Phi B plus the difference in out-degrees (0 iff the position map is a covering)."""
    lump = sum(e**2 for e in (P * Phi - Phi * B))
    position = [next(i for i in range(Phi.shape[1]) if Phi[x, i]) for x in range(P.shape[0])]
    degrees = sum(abs(sum(1 for e in P.row(x) if e != 0) - sum(1 for e in B.row(position[x]) if e != 0))
                  for x in range(P.shape[0]))
    return sp.expand(lump) + degrees


def exact_hitting_time(P, start, target):
    """E_start[tau_target] solved exactly (rational in the symbols) for a sympy chain."""
    free = [i for i in range(P.shape[0]) if i not in target]
    A = sp.eye(len(free)) - P.extract(free, free)
    t = A.LUsolve(sp.ones(len(free), 1))
    return sp.simplify(t[free.index(start)])


def _random_rational_chain(n, seed):
    """A dense irreducible n-state chain with rational entries (deterministic from ``seed``)."""
    rows = []
    state = seed
    for _ in range(n):
        weights = []
        for _ in range(n):
            state = (1103515245 * state + 12345) % 2**31
            weights.append(1 + state % 7)
        total = sum(weights)
        rows.append([sp.Rational(w, total) for w in weights])
    return sp.Matrix(rows)


def _stationary(P):
    n = P.shape[0]
    A = (sp.eye(n) - P).T
    A = A.row_insert(n, sp.ones(1, n))
    rhs = sp.zeros(n, 1).row_insert(n, sp.ones(1, 1))
    return (A.T * A).LUsolve(A.T * rhs)


def _potential_identity_residual(P, A, B):
    """Exact residuals of E_{nu*}[tau_B] = <pi, h*>/cap and of cap(P) = cap(P*) for a rational chain."""
    n = P.shape[0]
    pi = _stationary(P)
    Pstar = sp.diag(*pi).inv() * P.T * sp.diag(*pi)
    t = sp.zeros(n, 1)
    free = [i for i in range(n) if i not in B]
    t_free = (sp.eye(len(free)) - P.extract(free, free)).LUsolve(sp.ones(len(free), 1))
    for i, x in enumerate(free):
        t[x] = t_free[i]
    h_star = _equilibrium_potential(Pstar, A, B)
    escape = {x: 1 - (Pstar[x, :] * h_star)[0, 0] for x in A}
    cap = sum(pi[x] * escape[x] for x in A)
    mean = sum(pi[x] * escape[x] * t[x] for x in A) / cap
    h = _equilibrium_potential(P, A, B)
    cap_forward = sum(pi[x] * (1 - (P[x, :] * h)[0, 0]) for x in A)
    return sp.simplify(mean - (pi.T * h_star)[0, 0] / cap), sp.simplify(cap - cap_forward)


def _equilibrium_potential(P, A, B):
    """h(x) = P_x(tau_A < tau_B): 1 on A, 0 on B, harmonic elsewhere (exact)."""
    n = P.shape[0]
    h = sp.zeros(n, 1)
    for x in A:
        h[x] = 1
    inner = [i for i in range(n) if i not in A and i not in B]
    if inner:
        rhs = P.extract(inner, list(A)) * sp.ones(len(A), 1)
        h_inner = (sp.eye(len(inner)) - P.extract(inner, inner)).LUsolve(rhs)
        for i, x in enumerate(inner):
            h[x] = h_inner[i]
    return h


def _two_way_meta_deviations(P):
    """|Q_01 M/eps - 1| and |meta MFPT/(pi-averaged MFPT from C_0) - 1| of a two-cluster chain (M = 3, q = 1)."""
    n = P.shape[0]
    balance = (sp.eye(n) - P).T
    balance[n - 1, :] = sp.ones(1, n)  # an irreducible chain: replace one balance equation by sum(pi) = 1
    pi = balance.LUsolve(sp.zeros(n - 1, 1).col_join(sp.ones(1, 1))).applyfunc(sp.factor)
    first, second = [0, 1, 2], [3, 4, 5]
    mass = sum(pi[i] for i in first)
    q01 = sum(pi[i] * sum(P[i, j] for j in second) for i in first) / mass
    times = [exact_hitting_time(P, x, second) for x in first]
    full = sum(pi[x] * t for x, t in zip(first, times)) / mass
    return sp.simplify(q01 * 3 / eps - 1), sp.simplify(1 / q01 / full - 1)


def obligations():
    """The derivation steps that sympy can check, as ``name -> (kind, expression)``.

    ``kind`` is ``"zero"`` (the expression simplifies to 0), ``"limit"`` with
    ``(expression, value)`` (the limit as eps -> 0+ equals value) or ``"first_order"`` (the
    expression over eps has a finite non-zero limit as eps -> 0+: it is c eps + O(eps^2)). ``tests/proofs`` checks each.
    """
    t, s = sp.symbols("t s", positive=True)
    x = sp.Symbol("x")
    one_exit = exact_hitting_time(lazy_cyclic_chain(1), 0, [3, 4, 5])
    two_exits = exact_hitting_time(lazy_cyclic_chain(2), 0, [3, 4, 5])
    # h for the lazy 3-cycle from state 0 to state 2: two moves, each taking Geometric(1/2) steps
    h_cycle = exact_hitting_time(lazy_cyclic_chain(1).extract([0, 1, 2], [0, 1, 2]).subs(eps, 0), 0, [2])
    # spectral picture: two clusters joined both ways (exit 2 -> 3 and exit 5 -> 0)
    P2 = lazy_cyclic_chain(1)
    P2[5, :] = (1 - eps) * P2[5, :]
    P2[5, 0] += eps
    meta_offdiag, meta_mfpt = _two_way_meta_deviations(P2)
    c = sp.Symbol("c")
    char = sp.Poly(sp.expand((x * sp.eye(6) - P2).det().subs(x, 1 - c * eps)), eps)
    # the lowest power of eps with a coefficient that is not identically zero in c
    lowest = next(coeff for coeff in reversed(char.all_coeffs()) if sp.expand(coeff) != 0)
    chain4 = _random_rational_chain(4, seed=7)
    potential, capacity = _potential_identity_residual(chain4, A=[0], B=[3])
    potential2, capacity2 = _potential_identity_residual(chain4, A=[0, 1], B=[3])
    # aggregation on a 4-state rational chain, partition {0, 1} | {2, 3}
    pi4 = _stationary(chain4)
    parts = ([0, 1], [2, 3])
    pi_bar = sp.Matrix([sum(pi4[i] for i in part) for part in parts])
    Qagg = sp.Matrix(2, 2, lambda k, l: sum(pi4[i] * sum(chain4[i, j] for j in parts[l]) for i in parts[k]) / pi_bar[k])
    lifted, position_map, base = lifted_chain_symbolic()
    # local-information limit: pick m = 2 of the |S| = 10 eps-edges of the fully inspected K = 2, M = 5 lift,
    # s = 2 of them sparse; the hypergeometric mean of the hits over m is the recall
    n_class, n_sparse, m_pick = 10, 2, 2
    hits = sum(j * sp.binomial(n_sparse, j) * sp.binomial(n_class - n_sparse, m_pick - j) for j in range(m_pick + 1))
    return {
        "lift_rows_stochastic": ("zero", sum(sp.simplify(e) ** 2 for e in (lifted * sp.ones(10, 1) - sp.ones(10, 1)))),
        "lift_is_covering_of_circulant": ("zero", covering_residual(lifted, position_map, base)),
        "local_recall_is_chance": ("zero", hits / sp.binomial(n_class, m_pick) / m_pick
                                   - LOCAL_SEARCH_LIMIT.expr.subs(M, 5)),
        # Sympy closed forms of the K = 2, M = 3 chain equal the renewal identity with h = E[0 -> 2]
        "renewal_equals_exact_solve": ("zero", one_exit - RENEWAL.expr.subs({K: 2, M: 3, q: 1, h: h_cycle})),
        "renewal_affine_in_inverse_eps": ("zero", sp.diff(eps * RENEWAL.expr, eps, 2)),
        "two_exits_leading_term": ("limit", (eps * two_exits, LEADING_TERM.expr.subs({K: 2, M: 3, Q: 2}) * eps)),
        "one_exit_leading_term": ("limit", (eps * one_exit, LEADING_TERM.expr.subs({K: 2, M: 3, Q: 1}) * eps)),
        "renewal_leading_term": ("limit", (eps * RENEWAL.expr, eps * LEADING_TERM.expr.subs(Q, q))),
        # boosting: E(f) - b = (E(1) - b)/f with b = (K-1)(h + 1 - M)
        "boost_one_over_f": ("zero", (BOOSTED.expr - (K - 1) * (h + 1 - M))
                             - (RENEWAL.expr - (K - 1) * (h + 1 - M)) / f),
        # QSD: survival lam^t sums to 1/(1 - lam)
        "qsd_geometric_mean": ("zero", sp.summation(lam**t, (t, 0, sp.oo)).subs(lam, s / (1 + s))
                               - QSD_EXIT.expr.subs(lam, s / (1 + s))),
        # aggregation identity on an exact rational chain
        "aggregation_stationary": ("zero", sp.simplify((pi_bar.T * Qagg - pi_bar.T).norm())),
        "aggregation_rows_stochastic": ("zero", sp.simplify((Qagg * sp.ones(2, 1) - sp.ones(2, 1)).norm())),
        # potential theory with adjoint objects: exact for a non-reversible rational chain; capacity symmetric
        "potential_adjoint_identity": ("zero", potential),
        "potential_adjoint_identity_two_state_A": ("zero", potential2),
        "capacity_same_for_reversal": ("zero", capacity),
        "capacity_same_for_reversal_two_state_A": ("zero", capacity2),
        # meta-chain of the two-way K = 2, M = 3 chain: both deviations are exactly first order in eps
        "meta_offdiagonal_first_order": ("first_order", meta_offdiag),
        "meta_mfpt_first_order": ("first_order", meta_mfpt),
        # spectral: with lambda = 1 - c eps, the lowest order in eps of det(lambda I - P) is a polynomial in c
        # whose roots are the two eigenvalues near 1: c = 0 (lambda = 1) and c = 2/M (the metastable one)
        "spectral_two_clusters_roots": ("zero", sp.Poly(lowest, c).monic().as_expr()
                                        - sp.expand(c * (c - SPECTRAL_GAP_TWO_CLUSTERS.expr.subs(M, 3) / eps))),
    }
