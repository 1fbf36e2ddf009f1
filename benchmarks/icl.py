"""Speed of CoT training and rollouts of theorytk.icl: numba kernel vs NumPy reference vs JAX-CPU.

Case (issue 14): (d, n) = (10, 40), 256 fresh prompts per step, a CoT of k = 8 steps with the
edge step eta, all (2d+2)^2 entries of V and W trained by Adam. Reported:

* training steps per second of ``kernel`` (:func:`theorytk.icl._kernels.train`: sampling,
  loss, closed-form gradients and Adam in one kernel), ``numpy``
  (:func:`theorytk.icl.reference.loss_and_gradients` on the kernel's own prompts, drawn by the
  NumPy twin :func:`theorytk.icl.reference.sample_prompts`, and the same Adam)
  and ``jax`` (the same loss under ``jax.grad``, sampling and Adam in ``jax.jit`` with a
  ``fori_loop`` over steps, float64 on the CPU; written here for the benchmark, skipped when
  JAX is not installed), and the ratios kernel/numpy, kernel/jax;
* rollout throughput (prompts per second for an 8-step autoregressive rollout) of the kernel
  and the NumPy reference;
* a second case: the looped layer (K = 8 loops, final-output loss, back-propagation through
  the loops: :func:`theorytk.icl._kernels.looped_loss_and_gradients`) against its NumPy twin
  (no JAX peer for it; its rollout column is the looped rollout).
"""
import numpy as np

from benchmarks._timing import median_seconds, table
from theorytk.icl import _kernels, edge_step, reference, regression_prompts

CASES = {"d=10 n=40 k=8 B=256": dict(d=10, n=40, k=8, batch=256, steps=10, rollout_prompts=4096),
         "looped d=10 n=40 K=8 B=256": dict(d=10, n=40, k=8, batch=256, steps=10, rollout_prompts=4096, mode="looped")}
MODES = {"cot": _kernels.COT, "looped": _kernels.LOOPED}
LR = 2e-3
B1, B2, TINY = 0.9, 0.999, 1e-8


def _init(d, seed=0):
    rng = np.random.default_rng(seed)
    D = 2 * d + 2
    return 0.01 * rng.standard_normal((D, D)), 0.01 * rng.standard_normal((D, D))


def _kernel_runner(d, n, k, batch, steps, mode="cot"):
    eta = edge_step(d, n)
    seeds = np.arange(steps, dtype=np.int64)

    def run():
        V, W = _init(d)
        ones = np.ones_like(V)
        _kernels.train(V, W, ones, ones, d, n, batch, seeds, k, eta, MODES[mode], _kernels.ADAM, LR, 1.0,
                       np.empty(steps))

    return run


def _numpy_runner(d, n, k, batch, steps, mode="cot"):
    eta = edge_step(d, n)

    def gradients(V, W, X, y, wstar):
        if mode == "looped":
            return reference.looped_loss_and_gradients(V, W, X, y, wstar, k, False)
        return reference.loss_and_gradients(V, W, X, y, wstar, eta, k, _kernels.COT)

    def run():
        V, W = _init(d)
        state = [np.zeros_like(V) for _ in range(4)]
        for s in range(steps):
            X, y, wstar = reference.sample_prompts(batch, n, d, 1.0, np.uint64(s))    # the kernel's prompts
            _, gV, gW = gradients(V, W, X, y, wstar)
            for i, (param, g) in enumerate(((V, gV), (W, gW))):
                m, v = state[2 * i], state[2 * i + 1]
                m[:] = B1 * m + (1 - B1) * g
                v[:] = B2 * v + (1 - B2) * g * g
                param -= LR * (m / (1 - B1 ** (s + 1))) / (np.sqrt(v / (1 - B2 ** (s + 1))) + TINY)

    return run


def _jax_runner(d, n, k, batch, steps):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    eta = edge_step(d, n)
    D = 2 * d + 2

    def column(w):
        return jnp.concatenate([jnp.zeros((w.shape[0], d + 1)), w, jnp.ones((w.shape[0], 1))], axis=1)

    def loss(params, X, wstar):
        V, W = params
        y = jnp.einsum("bja,ba->bj", X, wstar)
        cols = jnp.concatenate([X, y[:, :, None], jnp.zeros((batch, n, d + 1))], axis=2)
        G = jnp.einsum("bja,bjc->bac", cols, cols) / n
        w = jnp.zeros((batch, d))
        z = column(w)
        total = 0.0
        for _ in range(k):
            G = G + jnp.einsum("ba,bc->bac", z, z) / n
            o = z + jnp.einsum("bac,bc->ba", G, z @ W.T) @ V.T
            w = w - eta * jnp.einsum("bja,bj->ba", X, jnp.einsum("bja,ba->bj", X, w - wstar)) / n
            z_next = column(w)
            total = total + 0.5 * jnp.sum((o - z_next) ** 2)
            z = z_next
        return total / batch

    grad = jax.grad(loss)

    def step(s, state):
        params, m, v, key = state
        key, kx, kw = jax.random.split(key, 3)
        X = jax.random.normal(kx, (batch, n, d))
        wstar = jax.random.normal(kw, (batch, d))
        g = grad(params, X, wstar)
        m = tuple(B1 * mi + (1 - B1) * gi for mi, gi in zip(m, g))
        v = tuple(B2 * vi + (1 - B2) * gi * gi for vi, gi in zip(v, g))
        t = s + 1.0
        params = tuple(p - LR * (mi / (1 - B1**t)) / (jnp.sqrt(vi / (1 - B2**t)) + TINY)
                       for p, mi, vi in zip(params, m, v))
        return params, m, v, key

    @jax.jit
    def run(params):
        zeros = (jnp.zeros((D, D)), jnp.zeros((D, D)))
        return jax.lax.fori_loop(0, steps, step, (params, zeros, zeros, jax.random.PRNGKey(0)))[0]

    params = tuple(jnp.asarray(a) for a in _init(d))
    return lambda: run(params)[0].block_until_ready()


def main(cases=None):
    """Time every case of ``cases`` (default :data:`CASES`); print and return the table rows."""
    rows = []
    for name, spec in (CASES if cases is None else cases).items():
        d, n, k, batch, steps = spec["d"], spec["n"], spec["k"], spec["batch"], spec["steps"]
        mode = spec.get("mode", "cot")
        looped = mode == "looped"
        kernel = median_seconds(_kernel_runner(d, n, k, batch, steps, mode))
        numpy_time = median_seconds(_numpy_runner(d, n, k, batch, steps, mode), repeats=3)
        jax_run = None if looped else _jax_runner(d, n, k, batch, steps)
        jax_time = median_seconds(jax_run) if jax_run else float("nan")
        p = regression_prompts(d, n, spec["rollout_prompts"], 0)
        V, W = _init(d)
        roll_kernel = median_seconds(lambda: _kernels.rollout(V, W, p.X, p.y, p.w_star, k, 0.0, looped))
        roll_numpy = median_seconds(lambda: reference.rollout(V, W, p.X, p.y, p.w_star, k, 0.0, looped), repeats=3)
        rows.append({
            "case": name, "kernel steps/s": steps / kernel, "numpy steps/s": steps / numpy_time,
            "jax steps/s": steps / jax_time, "kernel/numpy": numpy_time / kernel, "kernel/jax": jax_time / kernel,
            "kernel rollout prompts/s": p.batch / roll_kernel, "numpy rollout prompts/s": p.batch / roll_numpy,
        })
    print(table(rows, list(rows[0])))
    return rows


if __name__ == "__main__":
    main()
