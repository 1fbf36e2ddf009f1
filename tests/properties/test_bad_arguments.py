"""Every argument of the public API refuses values that are wrong for any argument, naming the argument.

Issue 13 part 5: per system, each listed public function gets a bad value for one argument at a
time (the others valid), and a ``TypeError`` or ``ValueError`` whose message names that argument
must come back. The space of (function, argument, bad value) is finite, so it is enumerated
exhaustively rather than sampled with hypothesis (every combination runs, every time). The bad values are wrong for every argument of the API, whatever
its type: ``None`` (where the default is not ``None``), a non-numeric string, a ragged list, NaN,
a dict and a bare object. A call that raises anything else, hangs or returns is a defect.
"""
import inspect

import numpy as np
import pytest

from theorytk import alignment, contrastive, dfiv, icl, memory, metastable, mfld

BAD = {"None": None, "string": "abc", "ragged": [[1.0], [2.0, 3.0]], "nan": float("nan"), "dict": {},
       "object": object()}

_CHAIN = metastable.cot_chain(3, 4, 0.05, seed=0)
_PROBLEM = mfld.MeanFieldProblem(z=np.linspace(-2, 2, 6), y=np.sin(np.linspace(-2, 2, 6)), lam=0.1, lam_l2=0.05)
_MIX = alignment.GaussianMixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [np.eye(2) * 0.5, np.eye(2)])
_POT = alignment.QuadraticPotential([[0.2, 0.0], [0.0, 0.1]], [0.5, -0.3])
_SAMPLER = alignment.DoobSampler(_MIX, _POT, "exact")
_T = memory.diagonal_ssm(12, 2, seed=0).matrix
_U = contrastive.simplex_etf(4, 4)
_CIRCLE = dfiv.circle_iv(200, seed=0)
_SIEVE = dfiv.SieveIV("fourier", 2).fit(_CIRCLE.stage1, _CIRCLE.stage2)

# (system, callable, valid keyword arguments); every argument listed is fuzzed
CASES = [
    ("mfld", mfld.MeanFieldProblem, dict(z=np.linspace(-1, 1, 4), y=np.zeros(4), lam=0.1, lam_l2=0.05)),
    ("mfld", mfld.simulate, dict(problem=_PROBLEM, n_particles=4, steps=2, eta=0.1, replicas=1, seed=0)),
    ("mfld", mfld.mean_field_optimum, dict(problem=_PROBLEM, grid=21, tol=1e-8, max_iter=50000)),
    ("metastable", metastable.cot_chain, dict(clusters=3, cluster_size=4, eps=0.05, degree=3, lazy=0.5, seed=0)),
    ("metastable", metastable.hitting_times, dict(chain=_CHAIN, target=_CHAIN.goal, moments=1)),
    ("metastable", metastable.committor, dict(chain=_CHAIN, A=[0], B=list(_CHAIN.goal), backward=False)),
    ("metastable", metastable.quasi_stationary, dict(chain=_CHAIN, cluster=0)),
    ("metastable", metastable.boost_sparse_edges, dict(chain=_CHAIN, factor=2.0)),
    ("metastable", metastable.simulate_hitting, dict(chain=_CHAIN, walkers=8, seed=0, max_steps=100_000)),
    ("metastable", metastable.finetune, dict(chain=_CHAIN, reward=_CHAIN.sparse_edges, iterations=1, rollouts=2,
                                             horizon=5, lr=1.0, clip=0.2, epochs=1, seed=0)),
    ("alignment", alignment.ou_coefficients, dict(t=0.5)),
    ("alignment", alignment.Gaussian, dict(mean=[0.0], cov=[[1.0]])),
    ("alignment", alignment.QuadraticPotential, dict(A=[[0.1]], b=[0.2], c=0.0)),
    ("alignment", alignment.DoobSampler, dict(reference=_MIX, potential=_POT, correction="exact", scheme="exponential",
                                             mc_samples=4, inner_steps=5)),
    ("alignment", _SAMPLER.sample, dict(n=4, steps=3, horizon=1.0, seed=0)),
    ("dfiv", dfiv.circle_iv, dict(n=40, target="jump", alpha=0.5, rho=0.5, sigma=0.5, b=0.05, seed=0)),
    ("dfiv", dfiv.demand_design, dict(n=40, rho=0.5, seed=0)),
    ("dfiv", dfiv.SieveIV, dict(basis="fourier", terms=2, lam1=1e-10, lam2=1e-10)),
    ("dfiv", _SIEVE.predict, dict(x=np.linspace(0, 1, 5)[:, None])),
    ("dfiv", dfiv.DFIV, dict(treatment_features=4, instrument_features=4, lam1=0.1, lam2=0.1, epochs=1, lr=1e-3)),
    ("icl", icl.regression_prompts, dict(d=2, n=4, batch=2, seed=0, scale=1.0)),
    ("icl", icl.newton_schulz, dict(A=np.eye(3) * 0.5, steps=2)),
    ("icl", icl.cot_error, dict(d=2, n=8, eta=0.5, steps=2)),
    ("icl", icl.iterations_needed, dict(eps=1e-3, rho=0.5)),
    ("contrastive", contrastive.all_batches, dict(N=4, B=2)),
    ("contrastive", contrastive.loss, dict(U=_U, V=_U, batches=contrastive.all_batches(4, 2), tau=1.0,
                                           symmetric=True)),
    ("contrastive", contrastive.etf_loss, dict(N=4, B=2, tau=1.0)),
    ("contrastive", contrastive.minimise, dict(N=4, d=4, batches=contrastive.all_batches(4, 2), restarts=1,
                                               max_steps=5, seed=0)),
    ("memory", memory.ess, dict(T=_T, method="tolerance")),
    ("memory", memory.diagonal_ssm, dict(L=8, state=2, seed=0)),
    ("memory", memory.copy_error, dict(T=_T, context=3)),
    ("memory", memory.fir, dict(L=8, taps=3, seed=0)),
    ("memory", memory.softmax_attention, dict(L=8, dim=4, seed=0)),
]


def _fuzzable(case):
    system, fn, valid = case
    defaults = {name: p.default for name, p in inspect.signature(fn).parameters.items()}
    return [(name, kind) for name in valid for kind, value in BAD.items()
            if not (value is None and defaults.get(name, inspect.Parameter.empty) is None)]


CALLS = [(case, name, kind) for case in CASES for name, kind in _fuzzable(case)]


def _id(call):
    (system, fn, _), name, kind = call
    return f"{system}.{getattr(fn, '__qualname__', fn)}:{name}={kind}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}.{getattr(c[1], '__qualname__', c[1])}" for c in CASES])
def test_the_valid_call_succeeds(case):
    """The control of the test below: with every argument valid the call returns a result, so each refusal there
    is caused by the one bad value."""
    _, fn, valid = case
    assert fn(**valid) is not None


@pytest.mark.parametrize("call", CALLS, ids=[_id(c) for c in CALLS])
def test_every_bad_value_of_every_argument(call):
    (_, fn, valid), name, kind = call
    with pytest.raises((TypeError, ValueError)) as info:
        fn(**{**valid, name: BAD[kind]})
    assert name in str(info.value), f"{type(info.value).__name__}: {info.value}"
