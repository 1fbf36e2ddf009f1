"""DFIV against sieve 2SLS and Kernel IV: rates on a problem of known ill-posedness, and the demand design.

Claims under test (Kim, Meunier, Gretton, Suzuki, Li, ICLR 2025, arXiv 2501.04898; exponents
in :mod:`proofs.dfiv_rates`, forms unconfirmed there), on the circle problem of
:func:`theorytk.dfiv.circle_iv` (r = 2 alpha = 1, d = 1; targets jump in B^1_{1,inf},
kink in B^2_{1,inf}, smooth), n = m = N/2, protocol of the notes (dfiv.md Sec. 5):

Gates (exit status 1 if any fails; a failure is a finding):

1. the oracle-tuned Fourier sieve follows the bias-variance trade-off that yields the
   fixed-feature exponent, for jump and kink: (a) its L2-risk slope over the swept N agrees
   with the slope of the bias-variance proxy over the same N
   (:meth:`theorytk.dfiv.data.CircleIV.sieve_risk_curve`, exact c_k, mu_k and noise
   variance; bootstrap 95% interval inside proxy slope +-0.12); (b) the proxy's own slope at
   N = 1e7..1e9 equals the sympy fixed-feature exponent within 0.02 (computed, with the proxy
   derivation in :data:`proofs.dfiv_rates.SIEVE_PROXY_RISK`); and its mean risk falls
   monotonically in N with at most one violation. The measured slope against the asymptotic
   exponent +-0.12 (the notes' original criterion) is reported in (b)'s sentence and in
   ``exploratory.json``: with b = 0.05 the ill-posedness only bites above frequency
   1/(2 pi b) ~ 3, beyond the oracle cutoffs reached at these N, so the finite-N slope is
   pre-asymptotic (steeper), as the proxy predicts;
2. DFIV (hyperparameters chosen on validation data only) has a mean-risk slope <= -0.15 with
   a bootstrap upper end < 0 on jump, kink and smooth; on the regression control (X = Z,
   rho = 0) its risk is within 2x of ridge regression of y on its own learned features;
3. the projected-risk slope is steeper than the L2-risk slope, for the sieve and for DFIV, on jump
   and kink (finite smoothness; for the analytic target both exponents tend to 1 and no
   ordering is predicted, so its slopes are only recorded).

Exploratory (recorded with intervals in ``exploratory.json``, never a gate: Kim et al.'s
bound is for the exact ERM over a constrained class, not for gradient training): the DFIV
minus sieve slope on jump at r = 1 and r = 0 (separation if <= -0.05 with the interval
excluding 0); the stage-1 sweep (stage-2 size fixed, stage-1 size from n/4 to 4n); the
per-target comparison of DFIV, sieve and KIV (validation-chosen and, labelled, oracle); and
(full run only) the demand-design table over rho with a box plot.
"""
import json

import numpy as np
from threadpoolctl import threadpool_limits

from proofs import dfiv_rates as thm
from theorytk import stats
from theorytk.claims import Check, Rate, Verdicts
from theorytk.dfiv import DFIV, KernelIV, SieveIV, circle_embedding, circle_iv, demand_design, demand_dfiv, select
from theorytk.dfiv import two_stage
from theorytk.dfiv.data import RISK_GRID
from validations import _harness

NAME = "dfiv_rates"
DESCRIPTION = "DFIV vs sieve 2SLS and Kernel IV: risk rates in N on a known-ill-posedness problem, demand design."

ALPHA = 0.5                                  # r = 2 alpha = 1
BESOV = {"jump": (1, 1), "kink": (2, 1)}     # (s, p) of the targets (notes Sec. 5)
SIEVE_GRID = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
DFIV_LAMS = (1e-3, 1e-2)
# gate 1 (a): the notes' pass criterion 1 (dfiv.md Sec. 5: bootstrap interval within +-0.12 of the predicted slope),
# with the prediction being the proxy's slope over the same N instead of the asymptotic exponent
SLOPE_TOLERANCE = 0.12
# gate 1 (b) is deterministic: the proxy's local slope drifts towards the exponent as the discrete cutoff grows and
# mu_k = (1 + (2 pi b k)^2)^-alpha approaches its power law; at ASYMPTOTIC_SIZES the drift left is below 0.01 (jump
# 0.001, kink 0.005 when this was set), and the nearest other exponent in proofs.dfiv_rates (adaptive: 0.4, 0.571)
# is more than 0.07 away, so 0.02 separates "settled at the exponent" from "a different exponent"
ASYMPTOTIC_TOLERANCE = 0.02
ASYMPTOTIC_SIZES = np.logspace(7, 9, 9)
PROXY_TERMS = np.arange(1, RISK_GRID // 2 + 1)   # (b)'s cutoffs: every frequency that the risk grid resolves
DFIV_MAX_SLOPE = -0.15
CONTROL_RATIO = 2.0
SEPARATION = -0.05


def protocol(quick):
    """Sweep sizes: the notes' protocol (DFIV to N = 8000, KIV to 2000), or a small version for ``--quick``.

    The sieve gets sizes and replicates per target (``jump`` sizes must include ``dfiv_sizes``
    for the exploratory slope difference): its fits are cheap, and the kink's oracle risk is
    the noisiest of the gated ones (coefficient of variation 0.2-0.45 per replicate against
    0.1-0.15 for the jump, measured), so in quick mode it gets the widest range, spaced by 4
    (the most slope precision per second of fitting), and the most replicates; the smooth
    target's sieve slope is only recorded.
    """
    if quick:
        return dict(targets=("jump", "kink", "smooth"),
                    sieve_sizes={"jump": (500, 1000, 2000, 4000, 8000), "kink": (500, 2000, 8000, 32000),
                                 "smooth": (500, 1000, 2000, 4000)},
                    sieve_reps={"jump": 6, "kink": 12, "smooth": 3},
                    dfiv_sizes=(500, 1000, 2000, 4000), kiv_targets=("jump",), kiv_sizes=(500, 1000), dfiv_reps=4,
                    kiv_reps=2, epochs=40, control_sizes=(500, 1000, 2000), control_reps={"sieve": 3, "dfiv": 3},
                    stage2_fixed=500, stage1_factors=(0.25, 1.0, 4.0), stage1_reps=2, demand=None)
    sizes = (500, 1000, 2000, 4000, 8000, 16000, 32000)
    return dict(targets=("jump", "kink", "smooth"), sieve_sizes={"jump": sizes, "kink": sizes, "smooth": sizes},
                sieve_reps={"jump": 8, "kink": 12, "smooth": 8},
                dfiv_sizes=(500, 1000, 2000, 4000, 8000), kiv_targets=("jump", "kink"), kiv_sizes=(500, 1000, 2000),
                dfiv_reps=3, kiv_reps=2, epochs=150, control_sizes=(500, 1000, 2000, 4000, 8000),
                control_reps={"sieve": 8, "dfiv": 3}, stage2_fixed=2000,
                stage1_factors=(0.25, 0.5, 1.0, 2.0, 4.0), stage1_reps=2,
                demand=dict(rhos=(0.1, 0.25, 0.5, 0.75, 0.9), n=5000, reps=10))


def dfiv_model(lam, epochs):
    """The circle-problem DFIV of the notes: width-32 one-hidden-layer nets on (cos, sin), k_x = 8, k_z = 16."""
    return DFIV(treatment_layers=(32,), instrument_layers=(32,), treatment_features=8, instrument_features=16,
                lam1=lam, lam2=lam, epochs=epochs, stage1_iter=5, stage2_iter=1, lr=1e-2, eval_every=5,
                treatment_input=circle_embedding, instrument_input=circle_embedding)


class _Fitted:
    """Wrap a model with a fixed fit-time seed so that :func:`select` can call ``fit(stage1, stage2)``."""

    def __init__(self, model, validation, seed):
        self.model, self.validation, self.seed = model, validation, seed

    def fit(self, stage1, stage2):
        self.model.fit(stage1, stage2, self.validation, seed=self.seed)
        return self

    def predict(self, x):
        return self.model.predict(x)

    def predict_instrument(self, z):
        return self.model.predict_instrument(z)


def _risks(data, model, prefix):
    return {f"{prefix}l2": data.l2_risk(model), f"{prefix}projected": data.projected_risk(model)}


def _kiv(data):
    """Kernel IV tuned by the authors' held-out criteria (data only, never the truth).

    Not by the validation loss that DFIV and the sieve use: for KIV that projected loss kept
    falling as xi -> 0 and chose the grid's lower end (1e-10) in most replicates, with L2
    risk 0.3-2.2 on the circle jump target against 0.03-0.04 at the best xi, and demand MSE
    2e5-5e5 (measured 2026-11-23); the authors' criterion lands within 5-20% of the best xi.
    """
    return KernelIV().fit(data.stage1, data.stage2)


def sieve_terms(n_stage1, n_stage2):
    """The sieve sizes J of ``SIEVE_GRID`` that the stage sizes support (instrument columns 4J + 1 < half of each)."""
    return [j for j in SIEVE_GRID if 4 * j + 1 < min(n_stage1, n_stage2) / 2]


def run_config(config, seed):
    """One fit (with its hyperparameter search) on freshly drawn data; returns exact risks.

    BLAS runs on one thread: the matrices are small and the sweep is serial, and on a shared
    2-core machine two BLAS threads made the sieve fits 1.5x (lightly loaded) to 9x (busy)
    slower, measured (``DFIV.fit`` already limits itself).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_config(config, seed)


def _run_config(config, seed):
    family, method = config["family"], config["method"]
    data_seed, fit_seed = seed.spawn(2)
    if family == "demand":
        data = demand_design(config["N"], config["rho"], seed=data_seed)
        if method == "dfiv":
            model = demand_dfiv().fit(data.stage1, data.stage2, data.validation, seed=fit_seed)
        elif method == "kiv":
            model = _kiv(data)
            path = model.predict_path(data.test_x, model.grid)
            return {"mse": data.mse(model), "oracle_mse": float(np.min(np.mean((path - data.test_f) ** 2, axis=1)))}
        else:
            model = select(lambda j: SieveIV("hermite", j), (1, 2, 3, 4, 5), data).chosen
        return {"mse": data.mse(model)}
    control = family == "control"
    data = circle_iv(config["N"], config["target"], ALPHA, control=control, stage1_size=config.get("stage1_size"),
                     seed=data_seed)
    out = {}
    if method == "sieve":
        sel = select(lambda j: SieveIV("fourier", j), sieve_terms(data.stage1.size, data.stage2.size), data,
                     risk=data.l2_risk)
        out["setting"], out["oracle_setting"] = sel.chosen_setting, sel.oracle_setting
    elif method == "kiv":
        model = _kiv(data)
        risk_grid = ((np.arange(RISK_GRID) + 0.5) / RISK_GRID)[:, None]   # the points l2_risk evaluates on
        path = model.predict_path(risk_grid, model.grid)
        oracle = model.grid[int(np.argmin([data.l2_risk(lambda x, v=v: v) for v in path]))]
        sel = type("KivSelection", (), {})()
        sel.chosen = model
        sel.oracle = lambda x: model.predict(x, lam2=oracle)
        out["setting"], out["oracle_setting"] = model.lam2_, float(oracle)
    else:
        lams = DFIV_LAMS if family != "stage1" else (1e-2,)
        sel = select(lambda lam: _Fitted(dfiv_model(lam, config["epochs"]), data.validation, fit_seed), lams, data,
                     risk=data.l2_risk)
        out["setting"], out["oracle_setting"] = sel.chosen_setting, sel.oracle_setting
        if control:  # ridge regression of y on DFIV's own learned features (X = Z here)
            net = sel.chosen.model
            feats = net.treatment_features_of(data.stage2.x)
            u = two_stage.ridge_solve(feats, data.stage2.y, net.lam2)
            out["ridge_l2"] = data.l2_risk(lambda x: net.treatment_features_of(x) @ u)
    out.update(_risks(data, sel.chosen, ""))
    out.update(_risks(data, sel.oracle, "oracle_"))
    return out


def replicates(p, config):
    """Replicates of one config: per family (stage-1 sweep, control), per target (sieve), else per method."""
    if config["family"] == "stage1":
        return p["stage1_reps"]
    if config["family"] == "control":
        return p["control_reps"][config["method"]]
    if config["method"] == "sieve":
        return p["sieve_reps"][config["target"]]
    return p[f"{config['method']}_reps"]


def configs(p):
    """Every run of the experiment, tagged by ``family``; replicates are configs with a ``rep`` key.

    (Methods differ in cost, so each gets its own number of replicates, see :func:`replicates`;
    every config has its own seed stream, so replicates are independent.)
    """
    out = []
    for target in p["targets"]:
        out += [dict(family="rate", method="sieve", target=target, N=n) for n in p["sieve_sizes"][target]]
        out += [dict(family="rate", method="dfiv", target=target, N=n, epochs=p["epochs"]) for n in p["dfiv_sizes"]]
        if target in p["kiv_targets"]:
            out += [dict(family="rate", method="kiv", target=target, N=n) for n in p["kiv_sizes"]]
    out += [dict(family="control", method="sieve", target="jump", N=n) for n in p["control_sizes"]]
    out += [dict(family="control", method="dfiv", target="jump", N=n, epochs=p["epochs"]) for n in p["control_sizes"]]
    n2 = p["stage2_fixed"]
    for f in p["stage1_factors"]:
        m1 = int(round(f * n2))
        for method in ("dfiv", "sieve"):
            out.append(dict(family="stage1", method=method, target="jump", N=m1 + n2, stage1_size=m1,
                            epochs=p["epochs"]))
    out = [dict(c, rep=k) for c in out for k in range(replicates(p, c))]
    if p["demand"]:
        out += [dict(family="demand", method=method, N=p["demand"]["n"], rho=rho, rep=k)
                for rho in p["demand"]["rhos"] for method in ("dfiv", "kiv", "sieve") for k in range(p["demand"]["reps"])]
    return out


def _samples(results, value, **match):
    """Replicate x size matrix of ``value`` for the runs matching ``match``, sizes ascending."""
    runs = [r for r in results if all(r.config.get(k) == v for k, v in match.items())]
    if not runs:
        return np.empty(0), np.empty((0, 0))
    sizes = sorted({r.config["N"] for r in runs})
    cols = [[r.scalars[value] for r in sorted(runs, key=lambda r: r.config["rep"]) if r.config["N"] == n] for n in sizes]
    reps = min(len(c) for c in cols)
    return np.array(sizes, dtype=float), np.array([c[:reps] for c in cols]).T


def _ols_slope(x, y):
    u = np.log(x)
    return float(np.polyfit(u, np.log(y), 1)[0])


def slope_difference(x, a, b, seed, n_boot=2000, level=0.95):
    """Slope of mean(a) minus slope of mean(b) in log-log, with a percentile bootstrap over each one's replicates."""
    rng = np.random.default_rng(seed)
    point = _ols_slope(x, a.mean(0)) - _ols_slope(x, b.mean(0))
    diffs = [_ols_slope(x, a[rng.integers(0, len(a), len(a))].mean(0))
             - _ols_slope(x, b[rng.integers(0, len(b), len(b))].mean(0)) for _ in range(n_boot)]
    lo, hi = np.quantile(diffs, [0.5 - level / 2, 0.5 + level / 2])
    return point, float(lo), float(hi)


def _truth(target):
    """The circle problem's truth for ``target`` (a minimal draw: only c_k, mu_k and the noise variance are used)."""
    return circle_iv(4, target, ALPHA, n_test=1, seed=0)


def proxy_curve(target, sizes):
    """The oracle sieve's proxy risk at each N of ``sizes``: min over the J that :func:`run_config` searches."""
    truth = _truth(target)
    return np.array([truth.oracle_sieve_proxy(n - n // 2, sieve_terms(n // 2, n - n // 2))
                     for n in np.asarray(sizes, dtype=int)])


def asymptotic_proxy(target):
    """``(slope, cutoff)``: the proxy's slope over ``ASYMPTOTIC_SIZES`` (J in ``PROXY_TERMS``), J at the largest N."""
    truth = _truth(target)
    sizes = ASYMPTOTIC_SIZES.astype(int)
    curves = [truth.sieve_risk_curve(n - n // 2, PROXY_TERMS) for n in sizes]
    return _ols_slope(sizes, np.array([c.min() for c in curves])), int(PROXY_TERMS[np.argmin(curves[-1])])


def _sieve_claims(target, smooth, integ, x, fit, proxy):
    """Gate 1 (a) and (b) for one target: measured slope = proxy slope over the swept N; proxy slope -> exponent."""
    r = 2 * ALPHA
    exponent = -float(thm.LINEAR_L2_RISK.evaluate(s=smooth, r=r, d=1, p=integ))
    proxy_slope = _ols_slope(x, proxy)
    swept = f"N = {int(x[0])}..{int(x[-1])}"
    rate = Rate(f"oracle sieve L2 risk vs N, {target} (s={smooth}, p={integ}, r={r:g}): slope of its bias-variance "
                f"proxy over {swept}", fit, expected=proxy_slope, tolerance=SLOPE_TOLERANCE, theorem=thm.SIEVE_PROXY_RISK,
                basis={"expected": "OLS slope over the swept N of the exact-sum proxy min_J R(J, m) "
                                   "(CircleIV.sieve_risk_curve: exact c_k, mu_k, noise variance)"})
    slope, cutoff = asymptotic_proxy(target)
    gap = abs(slope - exponent)
    inside = bool(exponent - SLOPE_TOLERANCE <= fit.lo and fit.hi <= exponent + SLOPE_TOLERANCE)
    large = f"N = {ASYMPTOTIC_SIZES[0]:.0e}..{ASYMPTOTIC_SIZES[-1]:.0e}"
    check = Check(
        f"oracle sieve L2 risk proxy, {target}: slope at {large} is the sympy fixed-feature exponent",
        gap <= ASYMPTOTIC_TOLERANCE,
        {"proxy_slope_large_N": slope, "large_N": [ASYMPTOTIC_SIZES[0], ASYMPTOTIC_SIZES[-1]],
         "cutoff_at_largest_N": cutoff, "asymptotic_exponent": exponent, "difference": gap,
         "tolerance": ASYMPTOTIC_TOLERANCE, "proxy_slope_swept_N": proxy_slope,
         "measured_slope_swept_N": [fit.slope, fit.lo, fit.hi], "measured_inside_asymptotic_band": inside,
         "asymptotic_band": [exponent - SLOPE_TOLERANCE, exponent + SLOPE_TOLERANCE]},
        f"{target}: the proxy's slope over {large} (optimal J = {cutoff} at the largest N) is {slope:.4f} vs the sympy "
        f"fixed-feature exponent {exponent:.4f} (difference {gap:.4f}, allowed {ASYMPTOTIC_TOLERANCE:g}); over {swept} "
        f"the proxy predicts {proxy_slope:.3f} and the oracle sieve measures {fit.slope:.3f} [{fit.lo:.3f}, "
        f"{fit.hi:.3f}], {'inside' if inside else 'not inside'} the asymptotic band {exponent:.3f} +- "
        f"{SLOPE_TOLERANCE:g} (the finite-N proxy slope differs from the exponent by {proxy_slope - exponent:+.3f}).",
        theorem=thm.LINEAR_L2_RISK,
        sanity="deterministic property of the proxy (no fitted model enters), so no planted wrong model can move it")
    return [rate, check]


def _monotone_check(x, samples, label):
    means = samples.mean(0)
    violations = int(np.sum(np.diff(means) >= 0))
    return Check(f"{label}: mean risk falls monotonically in N (at most one violation)", violations <= 1,
                 {"N": x.tolist(), "mean_risk": means.tolist(), "violations": violations},
                 f"{label}: mean risk {means[0]:.3g} at N={int(x[0])} -> {means[-1]:.3g} at N={int(x[-1])} with "
                 f"{violations} increase(s) ({'within' if violations <= 1 else 'more than'} the one allowed).",
                 sanity="consistency of the sieve sweep; implied in spirit by the rate gate, kept as a readable check")


def experiment(ctx):
    p = protocol(ctx.quick)
    results = ctx.sweep(run_config, configs(p), 1)
    verdicts, fits, explore = Verdicts(), {}, {}
    for i, target in enumerate(p["targets"]):
        for method in ("sieve", "dfiv", "kiv"):
            for value in ("l2", "projected", "oracle_l2", "oracle_projected"):
                x, s = _samples(results, value, family="rate", method=method, target=target)
                if s.shape[0] >= 2 and len(x) >= 2:
                    fits[(target, method, value)] = (x, s, stats.bootstrap_slope(x, s, seed=ctx.seed + i))
    # gate 1: the oracle sieve follows the bias-variance trade-off whose optimum gives the fixed-feature exponent
    proxies = {target: proxy_curve(target, fits[(target, "sieve", "oracle_l2")][0]) for target in p["targets"]}
    explore["sieve_proxy"] = {}
    for target in p["targets"]:
        x, s, fit = fits[(target, "sieve", "oracle_l2")]
        explore["sieve_proxy"][target] = {"N": x.tolist(), "measured_mean": s.mean(0).tolist(),
                                          "proxy": proxies[target].tolist(),
                                          "proxy_slope": _ols_slope(x, proxies[target]),
                                          "measured_slope": [fit.slope, fit.lo, fit.hi]}
    for target, (smooth, integ) in BESOV.items():
        x, s, fit = fits[(target, "sieve", "oracle_l2")]
        claims = _sieve_claims(target, smooth, integ, x, fit, proxies[target])
        verdicts.extend(claims)
        verdicts.append(_monotone_check(x, s, f"oracle sieve, {target}"))
        explore["sieve_proxy"][target].update(claims[1].numbers)
    # gate 2: DFIV falls with N; control within 2x of ridge on its own features
    for target in p["targets"]:
        x, s, fit = fits[(target, "dfiv", "l2")]
        holds = fit.slope <= DFIV_MAX_SLOPE and fit.hi < 0
        verdicts.append(Check(f"DFIV (validation-tuned) L2 risk falls with N, {target}", holds,
                              {"slope": fit.slope, "lo": fit.lo, "hi": fit.hi, "threshold": DFIV_MAX_SLOPE,
                               "N": x.tolist(), "mean_risk": s.mean(0).tolist()},
                              f"DFIV on {target}: slope {fit.slope:.3f} [{fit.lo:.3f}, {fit.hi:.3f}] "
                              f"({'meets' if holds else 'fails'} slope <= {DFIV_MAX_SLOPE} with upper end < 0); "
                              f"mean risk {s.mean(0)[0]:.3g} -> {s.mean(0)[-1]:.3g} (no theorem covers gradient-trained "
                              f"DFIV, Kim et al. bound the exact ERM; the threshold is the notes' criterion)."))
    x, dfiv_c = _samples(results, "l2", family="control", method="dfiv")
    _, ridge_c = _samples(results, "ridge_l2", family="control", method="dfiv")
    ratio = np.median(dfiv_c, axis=0) / np.median(ridge_c, axis=0)
    verdicts.append(Check("regression control: DFIV risk within 2x of ridge on its own learned features",
                          bool(np.all(ratio <= CONTROL_RATIO)),
                          {"N": x.tolist(), "ratio_of_medians": ratio.tolist(), "limit": CONTROL_RATIO},
                          f"X = Z, rho = 0 (jump): median DFIV / ridge risk ratios {np.round(ratio, 3).tolist()} "
                          f"over N = {x.astype(int).tolist()} (limit {CONTROL_RATIO:g}).",
                          sanity="no theorem: with X = Z and rho = 0 DFIV reduces to ridge on its features as "
                                 "lambda1 -> 0 (property test), the 2x is the notes' criterion (dfiv.md Sec. 5)"))
    # gate 3: projected steeper than L2, where the exponents differ: finite smoothness (for the analytic
    # target both exponents tend to 1, e_proj - e -> 0 as s -> oo; its slopes are recorded as exploratory)
    for target in BESOV:
        for method, value in (("sieve", "oracle_"), ("dfiv", "")):
            l2, proj = fits[(target, method, value + "l2")][2], fits[(target, method, value + "projected")][2]
            holds = proj.slope < l2.slope
            verdicts.append(Check(f"projected risk falls faster than L2 risk, {method} "
                                  f"({'oracle' if value else 'validation'}-tuned), {target}", holds,
                                  {"projected_slope": proj.slope, "projected_ci": [proj.lo, proj.hi],
                                   "l2_slope": l2.slope, "l2_ci": [l2.lo, l2.hi]},
                                  f"{method} on {target}: projected slope {proj.slope:.3f} [{proj.lo:.3f}, "
                                  f"{proj.hi:.3f}] vs L2 slope {l2.slope:.3f} [{l2.lo:.3f}, {l2.hi:.3f}].",
                                  theorem=thm.PROJECTED_RISK,
                                  basis={"compared_with": thm.L2_RISK.name,
                                         "prediction": "e_proj(s, r, d) > e(s, r, d) for r > 0 (tests/proofs)"}))
    # exploratory: adaptivity separation at r = 1 and r = 0 (control), stage-1 sweep, comparison, demand table
    x1, d1 = fits[("jump", "dfiv", "l2")][:2]
    xs, s1 = _samples(results, "oracle_l2", family="rate", method="sieve", target="jump")
    keep = np.isin(xs, x1)
    diff = slope_difference(x1, d1, s1[:, keep], ctx.seed)
    xc, sc = _samples(results, "oracle_l2", family="control", method="sieve")
    diff0 = slope_difference(xc, dfiv_c, sc, ctx.seed + 1)
    explore["adaptivity"] = {
        f"r={r_:g}": {"dfiv_minus_sieve_slope": d[0], "ci95": [d[1], d[2]], "theory_difference":
                    float(thm.LINEAR_L2_RISK.evaluate(s=1, r=r_, d=1, p=1) - thm.L2_RISK.evaluate(s=1, r=r_, d=1)),
                    "separation_shown": bool(d[0] <= SEPARATION and d[2] < 0), "N": xx.tolist()}
        for r_, d, xx in ((2 * ALPHA, diff, x1), (0.0, diff0, xc))}
    explore["smooth_slopes"] = {f"{method}/{value}": [fits[("smooth", method, value)][2].slope,
                                                      fits[("smooth", method, value)][2].lo,
                                                      fits[("smooth", method, value)][2].hi]
                                for method in ("sieve", "dfiv") for value in ("l2", "projected", "oracle_l2",
                                                                              "oracle_projected")
                                if ("smooth", method, value) in fits}
    explore["stage1"] = {}
    for method in ("dfiv", "sieve"):
        runs = [r for r in results if r.config["family"] == "stage1" and r.config["method"] == method]
        by_m = {}
        for r in runs:
            by_m.setdefault(r.config["stage1_size"], []).append(r.scalars["l2"])
        explore["stage1"][method] = {int(k): float(np.mean(v)) for k, v in sorted(by_m.items())}
    explore["stage1"]["stage2_size"] = p["stage2_fixed"]
    explore["comparison"] = {target: {f"{method}/{value}": {"N": fits[(target, method, value)][0].tolist(),
                                                             "mean": fits[(target, method, value)][1].mean(0).tolist(),
                                                             "slope": fits[(target, method, value)][2].slope}
                                      for method in ("sieve", "dfiv", "kiv") for value in ("l2", "oracle_l2")
                                      if (target, method, value) in fits}
                             for target in p["targets"]}
    demand = {}
    if p["demand"]:
        for r in results:
            if r.config["family"] == "demand":
                demand.setdefault(r.config["method"], {}).setdefault(r.config["rho"], []).append(r.scalars["mse"])
                if "oracle_mse" in r.scalars:
                    demand.setdefault("kiv ORACLE xi", {}).setdefault(r.config["rho"], []).append(
                        r.scalars["oracle_mse"])
        explore["demand_mse"] = {m: {str(rho): {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1
                                                else None, "values": v} for rho, v in d.items()}
                                 for m, d in demand.items()}
    (ctx.out / "exploratory.json").write_text(json.dumps(explore, indent=2))
    print("EXPLORATORY (not gates):", json.dumps(explore["adaptivity"]))
    if ctx.plot:
        from validations import _dfiv_rates_plots as plots

        plots.risk_vs_n(ctx.figure_path("risk_vs_n"), p, fits, ALPHA, proxies)
        plots.stage1(ctx.figure_path("stage1"), explore["stage1"])
        if demand:
            plots.demand_box(ctx.figure_path("demand_design"), demand)
    return verdicts


main = _harness.entry_point(NAME, DESCRIPTION, experiment)

if __name__ == "__main__":
    raise SystemExit(main())
