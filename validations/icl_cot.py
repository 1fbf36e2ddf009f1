"""Chain of thought = multi-step gradient descent in a linear self-attention layer; Newton-Schulz.

Claims under test (Huang, Wang, Lee, ICLR 2025, arXiv 2502.21212; Giannou et al., AISTATS 2025,
arXiv 2403.03183; closed forms of :mod:`proofs.icl_cot`), on the protocol of our notes
(wave2/cot_multistep_gd.md, wave2/newton_schulz_lsa.md):

* V1 floor: a one-layer LSA trained on the no-CoT loss (all entries of V, W, Adam) reaches
  the floor d(d+1)/(n+d+1) on held-out prompts.
* V2 CoT = GD: a layer trained on the CoT loss (teacher forcing, targets the GD iterates
  with the edge step eta = 1/(1+sqrt(d/n))^2) rolls out autoregressively to GD on the same
  prompts (paired, mean |diff| <= 1e-2 E_k) and to the exact E_1, E_2.
* V3 separation: its error after k CoT steps is below the no-CoT floor.
* V4 structure: the learned products V31 W13 = -eta I and V31 W24 = eta I (products, not
  blocks: the model has a rescaling symmetry), each entry within 0.02 (the notes' V4).
* The GD construction at step eta/2 rolls out to E_1, E_2 at eta/2 (it is not the training
  step, so this claim sees a rollout that feeds back targets instead of predictions).
* The Wishart moments E tr W^m, m <= 4, against Monte Carlo over the prompts' designs.
* n < d: GD (the construction) plateaus at d - n.
* Newton-Schulz as a looped LSA layer on [A^T; X; I]: ||R_k|| = rho^(2^k) and the iteration
  count k(eps) = ceil(log2(log eps / log rho)).

Margins: 3 standard errors of the mean over the held-out prompts (independent draws), plus a
relative tolerance where a deterministic discrepancy is known: TRAIN_REL_TOL for the trained
models (finite training; measured 3e-4 to 4e-3 relative on the CoT rollout), PLATEAU_REL_TOL
for the finite number of GD steps at n < d, NS_REL_TOL for round-off in Newton-Schulz.
"""
from functools import lru_cache

import numpy as np
import sympy as sp

from proofs import icl_cot as thm
from proofs.theorem import Theorem
from theorytk.claims import Agreement, Check, UpperBound, Verdicts
from theorytk.icl import (LinearSelfAttention, edge_step, gd_rollout_error, iterations_needed, newton_schulz, ns_layer,
                          regression_prompts, train)
from theorytk.mutants import Mutant
from theorytk.random import as_seed_sequence
from validations import _harness

NAME = "icl_cot"
DESCRIPTION = "One-layer LSA: CoT = multi-step GD (trained), the no-CoT floor, Wishart moments, Newton-Schulz."

K_SE = 3.0                 # margins: 3 SE of the mean over held-out prompts
TRAIN_REL_TOL = 0.01       # trained models: finite training (notes V1: 1%)
PAIRED_REL_TOL = 1e-2      # notes V2: mean |diff| <= 1e-2 E_k
PRODUCT_TOL = 0.02         # notes V4
PLATEAU_REL_TOL = 0.01     # finite GD steps at n < d: the error decreases to d - n from above
NS_REL_TOL = 1e-6          # round-off of Newton-Schulz while the residual is >= NS_FLOOR
NS_FLOOR = 1e-6
NS_EPS = 1e-10
CONDITION_NUMBERS = (10.0, 100.0, 1000.0)

MUTANTS = (
    Mutant("n_below_d", "every prompt that is simulated or evaluated has n = d - 1 < d while the theory is evaluated "
                        "at the configured n (training keeps the configured n: at n = d - 1 the theory's step makes "
                        "Adam's loss blow up, which icl.train reports as TrainingDiverged, no verdict)"),
    Mutant("cot_length_1", "the CoT model is trained on a chain of thought of length 1"),
    Mutant("rollout_fed_target", "the rollout feeds back the training target (GD iterate at the training eta) "
                                 "instead of the model's prediction"),
    Mutant("wrong_wishart_moment", "E tr W^4 is replaced by its Marchenko-Pastur leading order"),
    Mutant("ns_no_identity", "the Newton-Schulz layer loses its identity block (Q_{I,I} = 0)"),
)


def protocol(quick):
    """Sizes: a small version for ``--quick`` (one config per claim family), else the notes' protocol."""
    if quick:
        return dict(cot=((3, 12),), no_cot=((3, 6),), cot_steps=4, train_steps=1000, batch=128, lr=1e-2,
                    eval_prompts=20000, moments=((2, 3), (3, 5)), mc_prompts=40000, plateau=((6, 3),),
                    plateau_steps=1500, ns_d=8)
    return dict(cot=((4, 8), (4, 16), (8, 16), (8, 32)), no_cot=((3, 6), (5, 10), (4, 16)), cot_steps=8,
                train_steps=4000, batch=256, lr=2e-3, eval_prompts=40000, moments=((2, 3), (3, 5), (5, 10)),
                mc_prompts=200000, plateau=((6, 3), (8, 5)), plateau_steps=4000, ns_d=16)


def _n_run(config):
    """The n the simulation uses (the mutant n_below_d plants n = d - 1)."""
    return config["d"] - 1 if config.get("mutant") == "n_below_d" else config["n"]


@lru_cache(maxsize=32)
def _trained(d, n, loss, cot_steps, eta, steps, batch, lr, seed_entropy):
    """A trained model (cached: mutants that do not touch training reuse it)."""
    return train(LinearSelfAttention(d), n=n, prompts_per_step=batch, steps=steps, seed=seed_entropy, loss=loss,
                 cot_steps=cot_steps, eta=eta, lr=lr).model


def _seed_int(seed):
    return int(as_seed_sequence(seed).generate_state(1)[0])


def _rollout(model, prompts, steps, config, eta_train):
    teacher = eta_train if config.get("mutant") == "rollout_fed_target" else None
    return model.rollout_error(prompts, steps, teacher_eta=teacher)


def _summary(errors):
    m = errors.shape[0]
    return {"mean": errors.mean(axis=0), "se": errors.std(axis=0, ddof=1) / np.sqrt(m), "median": np.median(errors, axis=0)}


def run_config(config, seed):
    family = config["family"]
    d, n = config["d"], _n_run(config)
    train_seed, eval_seed = (_seed_int(s) for s in as_seed_sequence(seed).spawn(2))
    if family == "cot":
        eta = edge_step(config["d"], config["n"])
        k_train = 1 if config.get("mutant") == "cot_length_1" else config["cot_steps"]
        model = _trained(d, config["n"], "cot", k_train, eta, config["train_steps"], config["batch"], config["lr"],
                         train_seed)
        prompts = regression_prompts(d, n, config["eval_prompts"], eval_seed)
        errors = _rollout(model, prompts, config["cot_steps"], config, eta)
        gd = gd_rollout_error(prompts, eta, config["cot_steps"])
        V31 = model.block("V", "w", "x")
        out = {f"trained_{key}": value for key, value in _summary(errors).items()}
        out.update({f"gd_{key}": value for key, value in _summary(gd).items()})
        out["paired_abs_diff"] = np.abs(errors - gd).mean(axis=0)
        out["product_w13_dev"] = float(np.abs(V31 @ model.block("W", "x", "w") + eta * np.eye(d)).max())
        out["product_w24_dev"] = float(np.abs(V31 * model.block("W", "y", "one")[0, 0] - eta * np.eye(d)).max())
        if config.get("keep_params"):
            out["V"], out["W"] = np.array(model.V), np.array(model.W)
        half = LinearSelfAttention.gradient_descent(d, eta / 2)
        out.update({f"half_{key}": value for key, value in _summary(_rollout(half, prompts, 2, config, eta)).items()})
        return out
    if family == "no_cot":
        model = _trained(d, config["n"], "no_cot", 1, 1.0, config["train_steps"], config["batch"], config["lr"],
                         train_seed)
        errors = model.rollout_error(regression_prompts(d, n, config["eval_prompts"], eval_seed), 1)[:, 0]
        return {"mean": float(errors.mean()), "se": float(errors.std(ddof=1) / np.sqrt(errors.size))}
    if family == "moments":
        prompts = regression_prompts(d, n, config["mc_prompts"], eval_seed)
        eig = np.linalg.eigvalsh(prompts.covariances() * n)   # eigenvalues of W = X X^T (the design's Gram)
        powers = np.stack([np.sum(eig**m, axis=1) for m in range(1, 5)], axis=1)
        return {"mean": powers.mean(axis=0), "se": powers.std(axis=0, ddof=1) / np.sqrt(powers.shape[0])}
    if family == "plateau":
        eta = edge_step(config["d"], config["n"])
        prompts = regression_prompts(d, n, config["eval_prompts"] // 10, eval_seed)
        errors = _rollout(LinearSelfAttention.gradient_descent(d, eta), prompts, config["steps"], config, eta)[:, -1]
        return {"mean": float(errors.mean()), "se": float(errors.std(ddof=1) / np.sqrt(errors.size))}
    raise ValueError(f"unknown family {family!r}")


def configs(p):
    common = dict(train_steps=p["train_steps"], batch=p["batch"], lr=p["lr"], eval_prompts=p["eval_prompts"])
    out = [dict(family="cot", d=d, n=n, cot_steps=p["cot_steps"], keep_params=i == 0, **common)
           for i, (d, n) in enumerate(p["cot"])]
    out += [dict(family="no_cot", d=d, n=n, **common) for d, n in p["no_cot"]]
    out += [dict(family="moments", d=d, n=n, mc_prompts=p["mc_prompts"]) for d, n in p["moments"]]
    out += [dict(family="plateau", d=d, n=n, steps=p["plateau_steps"], eval_prompts=p["eval_prompts"])
            for d, n in p["plateau"]]
    return out


def experiment(ctx):
    p = protocol(ctx.quick)
    results = ctx.sweep(run_config, configs(p), 1)
    family = {f: [r for r in results if r.config["family"] == f] for f in ("cot", "no_cot", "moments", "plateau")}
    cot = family["cot"]
    verdicts = Verdicts([_versus_dn(thm.NO_COT_FLOOR, family["no_cot"],
                                    "trained no-CoT LSA error vs the floor d(d+1)/(n+d+1)", TRAIN_REL_TOL)])
    verdicts.extend(_exact_cot(cot, "trained", "trained CoT rollout", ctx.mutant, lambda c: edge_step(c["d"], c["n"])))
    verdicts.extend(_exact_cot(cot, "half", "GD construction at eta/2", ctx.mutant,
                               lambda c: edge_step(c["d"], c["n"]) / 2))
    verdicts.append(_paired(cot))
    verdicts.append(_separation(cot))
    verdicts.append(_structure(cot))
    verdicts.extend(_moments(family["moments"], ctx.mutant))
    verdicts.append(_versus_dn(thm.PLATEAU, family["plateau"],
                               "n < d: GD-construction error after many steps vs d - n", PLATEAU_REL_TOL))
    ns = _newton_schulz(p["ns_d"], ctx.mutant, ctx.seed)
    verdicts.extend(ns["claims"])
    if ctx.plot:
        from validations import _icl_cot_plots as plots

        plots.error_vs_k(ctx.figure_path("error_vs_k"), cot, thm.NO_COT_FLOOR)
        plots.parameters(ctx.figure_path("learned_V_W"), cot[0])
        plots.newton_schulz(ctx.figure_path("newton_schulz_residual"), ns["norms"])
    return verdicts


def _label(c):
    return f"d={c['d']},n={c['n']}"


def _versus_dn(theorem, records, name, rel_tol):
    """Mean error per (d, n) config against ``theorem`` evaluated at (d, n), within K_SE SE + ``rel_tol``."""
    cs = [r.config for r in records]
    return Agreement.of(theorem, [r.scalars["mean"] for r in records], [r.scalars["se"] for r in records],
                        at={"d": [c["d"] for c in cs], "n": [c["n"] for c in cs]}, name=name, k=K_SE,
                        rel_tol=rel_tol, labels=[_label(c) for c in cs])


def _cot_theorem(steps, mutant):
    """E_k from the proofs; the mutant wrong_wishart_moment swaps E tr W^4 for its leading order."""
    if mutant != "wrong_wishart_moment":
        return thm.COT_ERROR[steps]
    moments = (*thm.WISHART_MOMENTS[:4], thm.WISHART_LEADING[4])
    true = thm.COT_ERROR[steps]
    return Theorem(true.name, true.statement, sp.expand(thm.cot_error_expr(steps, moments=moments)), true.symbols,
                   true.source)


def _exact_cot(records, prefix, what, mutant, step):
    claims = []
    for steps in (1, 2):
        cs = [r.config for r in records]
        rel = TRAIN_REL_TOL if prefix == "trained" else 0.0
        claims.append(Agreement.of(
            _cot_theorem(steps, mutant), [r.arrays[f"{prefix}_mean"][steps - 1] for r in records],
            [r.arrays[f"{prefix}_se"][steps - 1] for r in records],
            at={"d": [c["d"] for c in cs], "n": [c["n"] for c in cs], "eta": [step(c) for c in cs]},
            name=f"{what} error at k={steps} vs the exact E_{steps}", k=K_SE, rel_tol=rel,
            labels=[_label(c) for c in cs]))
    return claims


def _paired(records):
    worst = max(float(np.max(r.arrays["paired_abs_diff"] / r.arrays["gd_mean"])) for r in records)
    return Check("trained CoT rollout equals GD on the same prompts (paired)", worst <= PAIRED_REL_TOL,
                 {"worst_mean_abs_diff_over_E_k": worst, "threshold": PAIRED_REL_TOL},
                 f"Over every k and config, mean |rollout error - GD error| / mean GD error is at most {worst:.2e} "
                 f"({'<=' if worst <= PAIRED_REL_TOL else '>'} {PAIRED_REL_TOL:g}, the notes' V2).",
                 theorem=thm.COT_FIXED_POINT)


def _separation(records):
    cs = [r.config for r in records]
    return UpperBound.of(thm.NO_COT_FLOOR, [r.arrays["trained_mean"][-1] for r in records],
                         [r.arrays["trained_se"][-1] for r in records],
                         at={"d": [c["d"] for c in cs], "n": [c["n"] for c in cs]},
                         name="trained CoT error after k steps below the no-CoT floor", k=K_SE,
                         labels=[_label(c) for c in cs])


def _structure(records):
    worst = max(max(r.scalars["product_w13_dev"], r.scalars["product_w24_dev"]) for r in records)
    return Check("learned products V31 W13 = -eta I and V31 W24 = eta I", worst <= PRODUCT_TOL,
                 {"worst_entry_deviation": worst, "threshold": PRODUCT_TOL},
                 f"The largest entry of |V31 W13 + eta I| or |V31 W24 - eta I| over the configs is {worst:.2e} "
                 f"({'<=' if worst <= PRODUCT_TOL else '>'} {PRODUCT_TOL:g}, the notes' V4).",
                 theorem=thm.COT_FIXED_POINT)


def _moments(records, mutant):
    claims = []
    cs = [r.config for r in records]
    for m in range(1, 5):
        theorem = thm.WISHART[m - 1]
        if mutant == "wrong_wishart_moment" and m == 4:
            theorem = Theorem(theorem.name, theorem.statement, thm.WISHART_LEADING[4], theorem.symbols, theorem.source)
        claims.append(Agreement.of(theorem, [r.arrays["mean"][m - 1] for r in records],
                                   [r.arrays["se"][m - 1] for r in records],
                                   at={"d": [c["d"] for c in cs], "n": [c["n"] for c in cs]},
                                   name=f"Monte Carlo E tr W^{m} vs the Wishart moment", k=K_SE,
                                   labels=[_label(c) for c in cs]))
    return claims


def _spd(d, kappa, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return Q @ np.diag(np.geomspace(1.0, kappa, d)) @ Q.T


def _newton_schulz(d, mutant, seed):
    """NS residual norms for SPD matrices of each condition number, and the two claims on them."""
    rng = np.random.default_rng(seed)
    layer = None
    if mutant == "ns_no_identity":
        P, Q = ns_layer(d)
        Q[2 * d:, 2 * d:] = 0.0
        layer = (P, Q)
    norms, rhos, ks, residual, counts, predicted = {}, [], [], [], [], []
    for kappa in CONDITION_NUMBERS:
        rho = (kappa - 1) / (kappa + 1)
        predicted.append(int(thm.NS_ITERATIONS.evaluate(eps=NS_EPS, rho=rho)))
        with np.errstate(all="ignore"):
            _, r = newton_schulz(_spd(d, kappa, rng), iterations_needed(NS_EPS, rho) + 2, layer=layer)
        r = np.nan_to_num(r, nan=np.inf, posinf=np.inf)
        norms[kappa] = r
        keep = thm.NS_RESIDUAL.evaluate(rho=rho, k=np.arange(r.size)) >= NS_FLOOR
        rhos += [rho] * int(keep.sum())
        ks += list(np.flatnonzero(keep))
        residual += list(np.minimum(r[keep], 1e100))   # a diverged loop: finite, far off
        below = np.flatnonzero(r <= NS_EPS)
        counts.append(int(below[0]) if below.size else -1)
    residual_claim = Agreement.of(thm.NS_RESIDUAL, residual, 0.0,
                                  at={"rho": rhos, "k": ks}, name="Newton-Schulz LSA residual vs rho^(2^k)",
                                  k=K_SE, rel_tol=NS_REL_TOL)
    count_claim = Check("Newton-Schulz LSA iterations to eps vs ceil(log2(log eps/log rho))", counts == predicted,
                        {"kappa": list(CONDITION_NUMBERS), "observed": counts, "predicted": predicted, "eps": NS_EPS},
                        f"Steps to ||I - A X_k|| <= {NS_EPS:g}: observed {counts}, predicted {predicted} "
                        f"for kappa = {list(CONDITION_NUMBERS)}.", theorem=thm.NS_ITERATIONS)
    return {"claims": [residual_claim, count_claim], "norms": norms}


main = _harness.entry_point(NAME, DESCRIPTION, experiment, MUTANTS)

if __name__ == "__main__":
    raise SystemExit(main())
