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
   ``exploratory.json``. W has scale b = 0.1 (``B_SCALE``), so mu_k = (1 + (2 pi b k)^2)^-alpha
   bites from frequency ~1.6 on and the ill-posedness shapes the risk at feasible N: the
   proxy's slope over N = 500..8000 is -0.239 for the jump (exponent -0.25); with the notes'
   b = 0.05 it was -0.317, pre-asymptotic (measured 2026-12-03);
2. DFIV (hyperparameters chosen on validation data only) has a mean-risk slope <= -0.15 with
   a bootstrap upper end < 0 on jump, kink and smooth; on the regression control (X = Z,
   rho = 0) its risk is within 2x of ridge regression of y on its own learned features;
3. the projected-risk slope is steeper than the L2-risk slope, for the sieve and for DFIV, on jump
   and kink (finite smoothness; for the analytic target both exponents tend to 1 and no
   ordering is predicted, so its slopes are only recorded);
4. adaptivity (the paper's separation, jump: p = 1 < 2): DFIV's L2-risk slope is the adaptive
   exponent -e(s, r, d) = -0.4 of :data:`proofs.dfiv_rates.L2_RISK` (interval inside +-0.12),
   and the fixed-feature sieve, the control, misses it (its interval lies above -0.4);
5. the stage-1 requirement (:data:`proofs.dfiv_rates.STAGE1_DFIV`, m = Omega(n)): at fixed
   stage-2 size n, DFIV's mean log risk with m = n stage-1 samples is within 3 SE of the one
   with m = 4n (one-sided).

Planted wrong models (:data:`MUTANTS`), each run on the configs its rejecting claims need
(:data:`MUTANT_RUNS`): stage 1 skipped (z := x), feature nets that do not learn, a fixed
small sieve in place of DFIV, and a stage 1 starved to 1/16 of its rows.

Exploratory (recorded with intervals in ``exploratory.json``, never a gate): the DFIV
minus sieve slope on jump at r = 1 and r = 0 (separation if <= -0.05 with the interval
excluding 0); the stage-1 sweep means (stage-2 size fixed, stage-1 size from n/4 to 4n); the
per-target comparison of DFIV, sieve and KIV (validation-chosen and, labelled, oracle); and
(full run only) the demand-design table over rho with a box plot. The authors published no
demand-design MSE table that could be found (the paper's figures only; notes dfiv.md), so
that comparison is not a gate.
"""
import dataclasses
import json

import numpy as np
from threadpoolctl import threadpool_limits

from proofs import dfiv_rates as thm
from theorytk import stats
from theorytk.claims import Check, Rate, Verdicts
from theorytk.dfiv import DFIV, KernelIV, SieveIV, circle_embedding, circle_iv, demand_design, demand_dfiv, select
from theorytk.dfiv import two_stage
from theorytk.dfiv.data import RISK_GRID
from theorytk.mutants import Mutant
from validations import _harness

NAME = "dfiv_rates"
DESCRIPTION = "DFIV vs sieve 2SLS and Kernel IV: risk rates in N on a known-ill-posedness problem, demand design."

ALPHA = 0.5                                  # r = 2 alpha = 1
B_SCALE = 0.1                                # scale of W: mu_k = (1 + (2 pi b k)^2)^-alpha
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
# gate 5: "m = c n suffices" is tested at c = 1 against c = 4 (the sweep's largest stage 1), one-sided, K_SE standard
# errors of the difference of the two replicate means
K_SE = 3.0
STAGE1_SUFFICIENT, STAGE1_REFERENCE = 1.0, 4.0

MUTANTS = (
    Mutant("no_stage1", "stage 1 skipped: the instrument is replaced by the treatment (z := x), so each two-stage fit "
                        "is least squares of y on x; on the circle problem X = Z + W is independent of W, so this is "
                        "unbiased but converges at the regression rate (r = 0), not the IV rate of r = 1"),
    Mutant("frozen_features", "DFIV's feature nets do not learn (learning rate 1e-12): 2SLS on the random initial "
                              "features"),
    Mutant("small_sieve", "a fixed small sieve (Fourier, J = 2) in place of the adaptive DFIV"),
    Mutant("stage1_starved", "stage 1 fits on 1/16 of its rows: an estimator that needs m/n -> infinity stage-1 "
                             "samples (as kernel two-stage methods do), not m = Omega(n)"),
)
# the (family, method, target) runs a mutant's sweep needs: those of the claims that reject it, or (small_sieve, which
# none rejects) of every claim it could fail; a claim without its runs is absent from the mutant's verdict, which
# counts as not rejecting
MUTANT_RUNS = {"no_stage1": {("rate", "sieve", "jump"), ("rate", "sieve", "kink")},
               "frozen_features": {("rate", "dfiv", "jump")},
               "small_sieve": {("rate", "dfiv", target) for target in ("jump", "kink", "smooth")},
               "stage1_starved": {("stage1", "dfiv", "jump")}}
# claims that no planted model moves, measured on the quick run of 2026-12-03 (each mutant "accepts" them), with why
DFIV_FALLS_SANITY = {
    "kink": "random frozen features (0.0198 -> 0.0107) and a J = 2 sieve (0.0179 -> 0.0061) also fall at slope "
            "<= -0.15 on the kink at N = 500..4000, so it cannot tell them from DFIV; kept: a DFIV whose risk stops "
            "falling is a bug",
}
PROJECTED_SANITY = ("every estimator here, the planted wrong ones included (all four accept it, measured 2026-12-03), "
                    "errs mostly at high frequencies where mu_k is small, so the ordering checks the two risk metrics "
                    "and the theorem's direction, not the model")
FROZEN_LR = 1e-12
SMALL_SIEVE_TERMS = 2
STARVED_FRACTION = 16


def protocol(quick):
    """Sweep sizes: the notes' protocol (DFIV to N = 8000, KIV to 2000), or a small version for ``--quick``.

    The sieve gets sizes and replicates per target (``jump`` sizes must include ``dfiv_sizes``
    for the exploratory slope difference): its fits are cheap, and the kink's oracle risk is
    the noisiest of the gated ones (coefficient of variation 0.2-0.45 per replicate against
    0.1-0.15 for the jump, measured), so in quick mode it gets the widest range, spaced by 4
    (the most slope precision per second of fitting), and the most replicates; the smooth
    target's sieve slope is only recorded. Every bootstrapped slope has >= 10 replicates; the
    DFIV stage-1 runs have 30, since gate 5 compares two means one-sidedly at 3 SE: with 10 the
    starved mutant's spread (risk sd 0.034 at 31 stage-1 rows) hid an excess of 0.025
    (3 SE = 0.032, measured 2026-12-03 on the raw risk; gate 5 now uses log risk).
    """
    if quick:
        return dict(targets=("jump", "kink", "smooth"),
                    sieve_sizes={"jump": (500, 1000, 2000, 4000, 8000), "kink": (500, 2000, 8000, 32000),
                                 "smooth": (500, 1000, 2000, 4000)},
                    sieve_reps={"jump": 10, "kink": 12, "smooth": 10},
                    dfiv_sizes=(500, 1000, 2000, 4000), kiv_targets=("jump",), kiv_sizes=(500, 1000), dfiv_reps=10,
                    kiv_reps=2, epochs=40, control_sizes=(500, 1000, 2000), control_reps={"sieve": 10, "dfiv": 10},
                    stage2_fixed=500, stage1_factors=(0.25, 1.0, 4.0), stage1_reps={"dfiv": 30, "sieve": 10},
                    demand=None)
    sizes = (500, 1000, 2000, 4000, 8000, 16000, 32000)
    return dict(targets=("jump", "kink", "smooth"), sieve_sizes={"jump": sizes, "kink": sizes, "smooth": sizes},
                sieve_reps={"jump": 12, "kink": 12, "smooth": 10},
                dfiv_sizes=(500, 1000, 2000, 4000, 8000), kiv_targets=("jump", "kink"), kiv_sizes=(500, 1000, 2000),
                dfiv_reps=10, kiv_reps=2, epochs=150, control_sizes=(500, 1000, 2000, 4000, 8000),
                control_reps={"sieve": 10, "dfiv": 10}, stage2_fixed=2000,
                stage1_factors=(0.25, 0.5, 1.0, 2.0, 4.0), stage1_reps={"dfiv": 30, "sieve": 10},
                demand=dict(rhos=(0.1, 0.25, 0.5, 0.75, 0.9), n=5000, reps=10))


def dfiv_model(lam, epochs, lr=1e-2):
    """The circle-problem DFIV of the notes: width-32 one-hidden-layer nets on (cos, sin), k_x = 8, k_z = 16."""
    return DFIV(treatment_layers=(32,), instrument_layers=(32,), treatment_features=8, instrument_features=16,
                lam1=lam, lam2=lam, epochs=epochs, stage1_iter=5, stage2_iter=1, lr=lr, eval_every=5,
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
    control, mutant = family == "control", config.get("mutant")
    data = _planted(circle_iv(config["N"], config["target"], ALPHA, b=B_SCALE, control=control,
                              stage1_size=config.get("stage1_size"), seed=data_seed), mutant)
    out = {}
    if method == "sieve" or (method == "dfiv" and mutant == "small_sieve"):
        terms = [SMALL_SIEVE_TERMS] if method == "dfiv" else sieve_terms(data.stage1.size, data.stage2.size)
        sel = select(lambda j: SieveIV("fourier", j), terms, data, risk=data.l2_risk)
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
        lr = FROZEN_LR if mutant == "frozen_features" else 1e-2
        sel = select(lambda lam: _Fitted(dfiv_model(lam, config["epochs"], lr), data.validation, fit_seed), lams,
                     data, risk=data.l2_risk)
        out["setting"], out["oracle_setting"] = sel.chosen_setting, sel.oracle_setting
        if control:  # ridge regression of y on DFIV's own learned features (X = Z here)
            net = sel.chosen.model
            feats = net.treatment_features_of(data.stage2.x)
            u = two_stage.ridge_solve(feats, data.stage2.y, net.lam2)
            out["ridge_l2"] = data.l2_risk(lambda x: net.treatment_features_of(x) @ u)
    out.update(_risks(data, sel.chosen, ""))
    out.update(_risks(data, sel.oracle, "oracle_"))
    return out


def _planted(data, mutant):
    """``data`` as the mutant ``mutant`` sees it (unchanged for the true model and the model-side mutants)."""
    if mutant == "no_stage1":
        return dataclasses.replace(data, **{part: dataclasses.replace(getattr(data, part), z=getattr(data, part).x)
                                            for part in ("stage1", "stage2", "validation")})
    if mutant == "stage1_starved":
        rows = slice(0, max(2, data.stage1.size // STARVED_FRACTION))
        stage1 = data.stage1
        return dataclasses.replace(data, stage1=type(stage1)(stage1.x[rows], stage1.z[rows], stage1.y[rows]))
    return data


def replicates(p, config):
    """Replicates of one config: per family (stage-1 sweep, control), per target (sieve), else per method."""
    if config["family"] == "stage1":
        return p["stage1_reps"][config["method"]]
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
    return circle_iv(4, target, ALPHA, b=B_SCALE, n_test=1, seed=0)


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


def _rate_fits(results, targets, seed):
    """Bootstrap slope fits of every (target, method, risk) that has >= 2 replicates at >= 2 sizes."""
    fits = {}
    for i, target in enumerate(targets):
        for method in ("sieve", "dfiv", "kiv"):
            for value in ("l2", "projected", "oracle_l2", "oracle_projected"):
                x, s = _samples(results, value, family="rate", method=method, target=target)
                if s.shape[0] >= 2 and len(x) >= 2:
                    fits[(target, method, value)] = (x, s, stats.bootstrap_slope(x, s, seed=seed + i))
    return fits


def _gate_sieve(fits, proxies):
    """Gate 1 for each finite-smoothness target whose sieve runs exist."""
    claims = []
    for target, (smooth, integ) in BESOV.items():
        if (target, "sieve", "oracle_l2") in fits:
            x, s, fit = fits[(target, "sieve", "oracle_l2")]
            claims += _sieve_claims(target, smooth, integ, x, fit, proxies[target])
            claims.append(_monotone_check(x, s, f"oracle sieve, {target}"))
    return claims


def _gate_dfiv(targets, fits):
    """Gate 2 (first half): DFIV's risk falls with N, per target whose DFIV runs exist."""
    claims = []
    for target in targets:
        if (target, "dfiv", "l2") not in fits:
            continue
        x, s, fit = fits[(target, "dfiv", "l2")]
        holds = fit.slope <= DFIV_MAX_SLOPE and fit.hi < 0
        claims.append(Check(f"DFIV (validation-tuned) L2 risk falls with N, {target}", holds,
                            {"slope": fit.slope, "lo": fit.lo, "hi": fit.hi, "threshold": DFIV_MAX_SLOPE,
                             "N": x.tolist(), "mean_risk": s.mean(0).tolist()},
                            f"DFIV on {target}: slope {fit.slope:.3f} [{fit.lo:.3f}, {fit.hi:.3f}] "
                            f"({'meets' if holds else 'fails'} slope <= {DFIV_MAX_SLOPE} with upper end < 0); "
                            f"mean risk {s.mean(0)[0]:.3g} -> {s.mean(0)[-1]:.3g} (no theorem covers gradient-trained "
                            f"DFIV, Kim et al. bound the exact ERM; the threshold is the notes' criterion).",
                            sanity=DFIV_FALLS_SANITY.get(target)))
    return claims


def _gate_control(results):
    """Gate 2 (second half): on the regression control DFIV is within 2x of ridge on its own features."""
    x, dfiv_c = _samples(results, "l2", family="control", method="dfiv")
    if not x.size:
        return []
    _, ridge_c = _samples(results, "ridge_l2", family="control", method="dfiv")
    ratio = np.median(dfiv_c, axis=0) / np.median(ridge_c, axis=0)
    return [Check("regression control: DFIV risk within 2x of ridge on its own learned features",
                  bool(np.all(ratio <= CONTROL_RATIO)),
                  {"N": x.tolist(), "ratio_of_medians": ratio.tolist(), "limit": CONTROL_RATIO},
                  f"X = Z, rho = 0 (jump): median DFIV / ridge risk ratios {np.round(ratio, 3).tolist()} "
                  f"over N = {x.astype(int).tolist()} (limit {CONTROL_RATIO:g}).",
                  sanity="no theorem: with X = Z and rho = 0 DFIV reduces to ridge on its features as "
                         "lambda1 -> 0 (property test), the 2x is the notes' criterion (dfiv.md Sec. 5)")]


def _gate_projected(fits):
    """Gate 3: projected risk falls faster than L2 risk where the exponents differ (finite smoothness).

    For the analytic target both exponents tend to 1 (e_proj - e -> 0 as s -> oo), so its
    slopes are only recorded as exploratory.
    """
    claims = []
    for target in BESOV:
        for method, value in (("sieve", "oracle_"), ("dfiv", "")):
            if (target, method, value + "projected") not in fits:
                continue
            l2, proj = fits[(target, method, value + "l2")][2], fits[(target, method, value + "projected")][2]
            claims.append(Check(f"projected risk falls faster than L2 risk, {method} "
                                f"({'oracle' if value else 'validation'}-tuned), {target}", proj.slope < l2.slope,
                                {"projected_slope": proj.slope, "projected_ci": [proj.lo, proj.hi],
                                 "l2_slope": l2.slope, "l2_ci": [l2.lo, l2.hi]},
                                f"{method} on {target}: projected slope {proj.slope:.3f} [{proj.lo:.3f}, "
                                f"{proj.hi:.3f}] vs L2 slope {l2.slope:.3f} [{l2.lo:.3f}, {l2.hi:.3f}].",
                                theorem=thm.PROJECTED_RISK,
                                basis={"compared_with": thm.L2_RISK.name,
                                       "prediction": "e_proj(s, r, d) > e(s, r, d) for r > 0 (tests/proofs)"},
                                sanity=PROJECTED_SANITY))
    return claims


def _gate_adaptivity(fits):
    """Gate 4, the paper's separation on the jump target (p = 1 < 2), r = 2 alpha.

    DFIV's L2-risk slope must be the adaptive exponent -e(s, r, d) of :data:`proofs.dfiv_rates.L2_RISK`
    (bootstrap interval inside it +- ``SLOPE_TOLERANCE``, gate 1's criterion), and the
    oracle-tuned fixed-feature sieve, the control, must miss it: its interval lies above
    (flatter than) the adaptive exponent, as :data:`proofs.dfiv_rates.LINEAR_L2_RISK` says
    any linear estimator must for p < 2.
    """
    smooth, integ = BESOV["jump"]
    r = 2 * ALPHA
    adaptive = -float(thm.L2_RISK.evaluate(s=smooth, r=r, d=1))
    fixed = -float(thm.LINEAR_L2_RISK.evaluate(s=smooth, r=r, d=1, p=integ))
    claims = []
    if ("jump", "dfiv", "l2") in fits:
        x, _, fit = fits[("jump", "dfiv", "l2")]
        claims.append(Rate(
            f"adaptivity: DFIV (validation-tuned) L2 risk vs N, jump (s={smooth}, p={integ}, r={r:g}), N = "
            f"{int(x[0])}..{int(x[-1])}: the adaptive exponent", fit, expected=adaptive, tolerance=SLOPE_TOLERANCE,
            theorem=thm.L2_RISK,
            basis={"expected": f"-e(s={smooth}, r={r:g}, d=1) of {thm.L2_RISK.name}",
                   "fixed_feature_exponent": fixed,
                   "scope": "Kim et al. bound the exact ERM over a norm-constrained network class, with unknown "
                            "constants and polylog factors; this is gradient-trained DFIV (k_x = 8) at feasible N"}))
    if ("jump", "sieve", "oracle_l2") in fits:
        x, _, fit = fits[("jump", "sieve", "oracle_l2")]
        holds = fit.lo > adaptive
        claims.append(Check(
            "adaptivity control: the oracle-tuned Fourier sieve does not reach the adaptive exponent, jump", holds,
            {"slope": fit.slope, "lo": fit.lo, "hi": fit.hi, "adaptive_exponent": adaptive,
             "fixed_feature_exponent": fixed, "N": x.tolist()},
            f"oracle sieve on jump over N = {int(x[0])}..{int(x[-1])}: slope {fit.slope:.3f} [{fit.lo:.3f}, "
            f"{fit.hi:.3f}], lower end {'above' if holds else 'at or below'} the adaptive exponent {adaptive:.3f} "
            f"(the fixed-feature exponent is {fixed:.3f}: for p = {integ} < 2 no linear estimator reaches the "
            f"adaptive rate).", theorem=thm.LINEAR_L2_RISK,
            basis={"compared_with": thm.L2_RISK.name, "rule": "bootstrap lower end > adaptive exponent"}))
    return claims


def _gate_stage1(p, results):
    """Gate 5: m = c n stage-1 samples suffice (c = ``STAGE1_SUFFICIENT``), DFIV at fixed stage-2 size n.

    One-sided, on log risk (rates are multiplicative and the risk is right-skewed: its sd is
    half its mean where stage 1 is short, measured): the mean log risk at m = c n exceeds the
    one at m = ``STAGE1_REFERENCE`` n by at most ``K_SE`` standard errors of the difference
    (replicate spread of each mean), i.e. the ratio of geometric-mean risks is at most
    exp(K_SE SE).
    """
    n2 = p["stage2_fixed"]
    by_m = {}
    for r in results:
        if r.config["family"] == "stage1" and r.config["method"] == "dfiv":
            by_m.setdefault(r.config["stage1_size"], []).append(r.scalars["l2"])
    small, large = int(round(STAGE1_SUFFICIENT * n2)), int(round(STAGE1_REFERENCE * n2))
    if small not in by_m or large not in by_m:
        return []
    a, b = np.log(by_m[small]), np.log(by_m[large])
    se = float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))
    excess = float(a.mean() - b.mean())
    holds = excess <= K_SE * se
    return [Check(
        f"stage-1 requirement: DFIV with m = {STAGE1_SUFFICIENT:g} n stage-1 samples does as well as with "
        f"m = {STAGE1_REFERENCE:g} n (n = {n2}, jump)", holds,
        {"stage2_size": n2, "geometric_mean_risk_by_stage1_size":
            {int(m): float(np.exp(np.mean(np.log(v)))) for m, v in sorted(by_m.items())},
         "log_excess": excess, "se": se, "k": K_SE, "replicates": [int(a.size), int(b.size)]},
        f"DFIV at n = {n2}: geometric-mean L2 risk {np.exp(a.mean()):.4g} at m = {small} vs {np.exp(b.mean()):.4g} "
        f"at m = {large}, log ratio {excess:+.3f} {'within' if holds else 'beyond'} {K_SE:g} SE = {K_SE * se:.3f} "
        f"(m = c n with c = {STAGE1_SUFFICIENT:g} suffices if more stage-1 data does not help; the theorem's c is "
        f"unspecified).",
        theorem=thm.STAGE1_DFIV, basis={"c": STAGE1_SUFFICIENT, "reference_c": STAGE1_REFERENCE, "k": K_SE,
                                        "scale": "log risk"})]


def _adaptivity_record(results, fits, seed):
    """Exploratory: DFIV minus sieve slope at r = 1 (jump) and r = 0 (regression control), bootstrapped."""
    x1, d1 = fits[("jump", "dfiv", "l2")][:2]
    xs, s1 = _samples(results, "oracle_l2", family="rate", method="sieve", target="jump")
    diff = slope_difference(x1, d1, s1[:, np.isin(xs, x1)], seed)
    xc, dfiv_c = _samples(results, "l2", family="control", method="dfiv")
    _, sc = _samples(results, "oracle_l2", family="control", method="sieve")
    diff0 = slope_difference(xc, dfiv_c, sc, seed + 1)
    return {f"r={r_:g}": {"dfiv_minus_sieve_slope": d[0], "ci95": [d[1], d[2]], "theory_difference":
                          float(thm.LINEAR_L2_RISK.evaluate(s=1, r=r_, d=1, p=1) - thm.L2_RISK.evaluate(s=1, r=r_, d=1)),
                          "separation_shown": bool(d[0] <= SEPARATION and d[2] < 0), "N": xx.tolist()}
            for r_, d, xx in ((2 * ALPHA, diff, x1), (0.0, diff0, xc))}


def _demand_record(results):
    """Demand-design MSE per method and rho (KIV also at its oracle xi, labelled)."""
    demand = {}
    for r in results:
        if r.config["family"] == "demand":
            demand.setdefault(r.config["method"], {}).setdefault(r.config["rho"], []).append(r.scalars["mse"])
            if "oracle_mse" in r.scalars:
                demand.setdefault("kiv ORACLE xi", {}).setdefault(r.config["rho"], []).append(r.scalars["oracle_mse"])
    return demand


def _exploratory(p, results, fits, proxies, claims, seed):
    """``exploratory.json``: everything recorded but not gated (true model only)."""
    explore = {"sieve_proxy": {}}
    for target in p["targets"]:
        x, s, fit = fits[(target, "sieve", "oracle_l2")]
        explore["sieve_proxy"][target] = {"N": x.tolist(), "measured_mean": s.mean(0).tolist(),
                                          "proxy": proxies[target].tolist(),
                                          "proxy_slope": _ols_slope(x, proxies[target]),
                                          "measured_slope": [fit.slope, fit.lo, fit.hi]}
    for claim in claims:
        for target in BESOV:
            if claim.name.startswith(f"oracle sieve L2 risk proxy, {target}"):
                explore["sieve_proxy"][target].update(claim.numbers)
    explore["adaptivity"] = _adaptivity_record(results, fits, seed)
    explore["smooth_slopes"] = {f"{method}/{value}": [fit.slope, fit.lo, fit.hi]
                                for method in ("sieve", "dfiv")
                                for value in ("l2", "projected", "oracle_l2", "oracle_projected")
                                if ("smooth", method, value) in fits for fit in [fits[("smooth", method, value)][2]]}
    explore["stage1"] = {}
    for method in ("dfiv", "sieve"):
        by_m = {}
        for r in results:
            if r.config["family"] == "stage1" and r.config["method"] == method:
                by_m.setdefault(r.config["stage1_size"], []).append(r.scalars["l2"])
        explore["stage1"][method] = {int(k): float(np.mean(v)) for k, v in sorted(by_m.items())}
    explore["stage1"]["stage2_size"] = p["stage2_fixed"]
    explore["comparison"] = {target: {f"{method}/{value}": {"N": fits[(target, method, value)][0].tolist(),
                                                             "mean": fits[(target, method, value)][1].mean(0).tolist(),
                                                             "slope": fits[(target, method, value)][2].slope}
                                      for method in ("sieve", "dfiv", "kiv") for value in ("l2", "oracle_l2")
                                      if (target, method, value) in fits}
                             for target in p["targets"]}
    demand = _demand_record(results)
    if demand:
        explore["demand_mse"] = {m: {str(rho): {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1
                                                else None, "values": v} for rho, v in d.items()}
                                 for m, d in demand.items()}
    return explore, demand


def plan(p, mutant):
    """The configs of one run: all of them for the true model, a mutant's :data:`MUTANT_RUNS` otherwise.

    A mutant's stage-1 runs are only the two sizes that gate 5 compares (starved to 1/16, the
    sweep's m = n/4 would leave fewer rows than DFIV's instrument features).
    """
    if mutant is None:
        return configs(p)
    gate_sizes = {int(round(c * p["stage2_fixed"])) for c in (STAGE1_SUFFICIENT, STAGE1_REFERENCE)}
    return [c for c in configs(p) if (c["family"], c["method"], c.get("target")) in MUTANT_RUNS[mutant]
            and (c["family"] != "stage1" or c["stage1_size"] in gate_sizes)]


def experiment(ctx):
    p = protocol(ctx.quick)
    results = ctx.sweep(run_config, plan(p, ctx.mutant), 1)
    fits = _rate_fits(results, p["targets"], ctx.seed)
    proxies = {target: proxy_curve(target, fits[(target, "sieve", "oracle_l2")][0]) for target in p["targets"]
               if (target, "sieve", "oracle_l2") in fits}
    verdicts = Verdicts(_gate_sieve(fits, proxies) + _gate_dfiv(p["targets"], fits) + _gate_control(results)
                        + _gate_projected(fits) + _gate_adaptivity(fits) + _gate_stage1(p, results))
    if ctx.mutant is not None:   # a mutant's runs feed its verdict only; the artifacts are the true model's
        return verdicts
    explore, demand = _exploratory(p, results, fits, proxies, verdicts, ctx.seed)
    (ctx.out / "exploratory.json").write_text(json.dumps(explore, indent=2))
    print("EXPLORATORY (not gates):", json.dumps(explore["adaptivity"]))
    if ctx.plot:
        from validations import _dfiv_rates_plots as plots

        plots.risk_vs_n(ctx.figure_path("risk_vs_n"), p, fits, ALPHA, proxies)
        plots.stage1(ctx.figure_path("stage1"), explore["stage1"])
        if demand:
            plots.demand_box(ctx.figure_path("demand_design"), demand)
    return verdicts


main = _harness.entry_point(NAME, DESCRIPTION, experiment, MUTANTS)

if __name__ == "__main__":
    raise SystemExit(main())
