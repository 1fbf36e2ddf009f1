"""Compile every parallel kernel of theorytk afresh and print the kinds of its parallel regions (JSON).

``THEORYTK_CACHE_DIR=<empty dir> python -m tests.unit._parallel_regions_driver``: small calls of
the public functions compile each ``parallel=True`` kernel in this process (an empty cache,
so numba keeps its parfor diagnostics), then one JSON object maps ``module.kernel`` to the
list of its top-level parallel regions, each ``[patterns, line]``. A ``prange`` loop has the
pattern ``"prange"``; anything else (``"zeros function"``, ``"setitem"``, ``"inplace_binop"``
...) is an array expression that numba turned into a parallel region of its own, with a
thread wake-up every time it runs. Kernels that no call here compiled map to None.
"""
import importlib
import json
import pkgutil
import sys

import numba
import numpy as np
from numba.core.registry import CPUDispatcher
from numba.parfors.parfor import Parfor


@numba.njit
def _linear(x):
    return 0.5 * x[0]


def _exercise():
    from theorytk import alignment, contrastive, dfiv, icl, metastable, mfld
    from theorytk.mfld import _kernels as mfld_kernels

    rng = np.random.default_rng(0)
    z = rng.standard_normal((20, 2))
    problem = mfld.MeanFieldProblem(z, np.tanh(z[:, 0]), lam=0.01, lam_l2=0.05)
    mfld.simulate(problem, 30, 3, 0.01, replicas=2)
    X = rng.standard_normal((1, 60, 3))
    noise = rng.standard_normal((1, 2, 60, 3))
    mfld_kernels.advance_blocks(X, problem.zt, problem.y, *problem.codes, problem.lam, problem.lam_l2, 0.01, noise,
                                0, 1, 1e6, np.empty((1, 2, problem.n)), np.empty((1, 2)), np.full(1, -1))
    data = dfiv.demand_design(300, rho=0.5, seed=0)
    dfiv.demand_dfiv(epochs=1).fit(data.stage1, data.stage2, data.validation, seed=0)
    net = dfiv.features.MLP((3, 8, 4), rng, batch_norm=(-1,))
    acts = net.forward(rng.standard_normal((10, 3)), training=True)
    net.backward(acts, rng.standard_normal((10, 4)))
    icl.train(icl.LinearSelfAttention(2), n=4, prompts_per_step=8, steps=2, seed=0)
    icl.train(icl.LinearSelfAttention(2), n=4, prompts_per_step=8, steps=2, seed=0, loss="looped", loops=2)
    prompts = icl.regression_prompts(d=2, n=4, batch=8, seed=0)
    icl.LinearSelfAttention.gradient_descent(2, 0.5).rollout_error(prompts, 2)
    icl.LinearSelfAttention.gradient_descent(2, 0.5).looped_error(prompts, 2)
    contrastive.minimise(4, 3, contrastive.all_batches(4, 2), restarts=2, max_steps=5)
    chain = metastable.cot_chain(3, 6, 0.05, seed=0)
    metastable.simulate_hitting(chain, walkers=8, seed=0)
    metastable.sparse_edge_search(chain, budget=200, seed=0)
    metastable.finetune(chain, chain.sparse_edges, iterations=1, rollouts=4, horizon=20, seed=0)
    mix = alignment.GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]])
    alignment.DoobSampler(mix, alignment.LinearPotential([0.5]), "exact").sample(8, 3, 1.0, seed=0)
    alignment.DoobSampler(mix, alignment.CallablePotential(_linear, 1), "mc", mc_samples=4).sample(8, 3, 1.0, seed=0)


def import_every_module():
    """Import every module of theorytk, so that :func:`parallel_kernels` sees every kernel (a new system's too)."""
    import theorytk

    for info in pkgutil.walk_packages(theorytk.__path__, "theorytk."):
        importlib.import_module(info.name)


def parallel_kernels():
    """``{"module.name": dispatcher}`` of every ``parallel=True`` kernel in the loaded theorytk modules."""
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("theorytk"):
            for value in vars(module).values():
                if isinstance(value, CPUDispatcher) and value.targetoptions.get("parallel"):
                    found[f"{value.py_func.__module__}.{value.__name__}"] = value
    return found


def regions(dispatcher):
    """``[[patterns, line], ...]`` of the top-level parallel regions of the first compiled signature (None if none)."""
    for compiled in dispatcher.overloads.values():
        diagnostics = compiled.metadata["parfor_diagnostics"]
        return [[[p[0] for p in stmt.patterns], stmt.loc.line]
                for block in diagnostics.func_ir.blocks.values() for stmt in block.body if isinstance(stmt, Parfor)]
    return None


if __name__ == "__main__":
    import_every_module()
    _exercise()
    print(json.dumps({name: regions(d) for name, d in sorted(parallel_kernels().items())}))
