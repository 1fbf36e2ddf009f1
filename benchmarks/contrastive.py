"""Speed of the contrastive minimiser: numba kernel vs NumPy reference vs JAX-CPU.

Case (issue 16): N = 10 pairs, B = 5 (all C(10, 5) = 252 batches), d = 10, tau = 1, restarts
of a fixed number of projected-gradient steps (the tolerance is set to 1e-300 so that every
restart runs all its steps and the three implementations do equal work). Reported: restarts
per second of

* ``kernel``: :func:`theorytk.contrastive._kernels.minimise`, all restarts in one call
  (parallel over restarts);
* ``minimise``: the public :func:`theorytk.contrastive.minimise` end to end;
* ``numpy``: :func:`theorytk.contrastive.reference.minimise` (vectorised over batches);
* ``jax``: the same step under ``jax.jit`` (``vmap`` over restarts, ``fori_loop`` over steps)
  in float64 on the CPU, when JAX is installed (written here for the benchmark);

and the ratios kernel/numpy and kernel/jax.
"""
import numpy as np

from benchmarks._timing import median_seconds, table
from theorytk.contrastive import _kernels, all_batches, minimise, reference
from theorytk.contrastive.minimise import initial_points

CASES = {"N=10 B=5 d=10 (252 batches)": dict(N=10, B=5, d=10, restarts=16, steps=200)}
TAU = 1.0
NO_STOP = 1e-300


def _kernel_runner(X0, batches, lr, steps):
    R = X0.shape[0]

    def run():
        loss, gnorm, count = np.empty(R), np.empty(R), np.empty(R, dtype=np.int64)
        _kernels.minimise(X0.copy(), batches, TAU, True, lr, NO_STOP, steps, loss, gnorm, count)

    return run


def _jax_runner(X0, batches, lr, steps):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    idx = jnp.asarray(batches)
    m, B = batches.shape
    eye = jnp.eye(B)

    def objective(U, V):
        S = U @ V.T / TAU
        block = S[idx[:, :, None], idx[:, None, :]]
        rows = jax.nn.log_softmax(block, axis=2)
        cols = jax.nn.log_softmax(block, axis=1)
        return -(jnp.sum(rows * eye) + jnp.sum(cols * eye)) / (m * B)

    grad = jax.grad(objective, argnums=(0, 1))

    def project(X, G):
        return G - jnp.sum(G * X, axis=1, keepdims=True) * X

    def step(_, state):
        U, V = state
        gU, gV = grad(U, V)
        U = U - lr * project(U, gU)
        V = V - lr * project(V, gV)
        return U / jnp.linalg.norm(U, axis=1, keepdims=True), V / jnp.linalg.norm(V, axis=1, keepdims=True)

    @jax.jit
    def run(X):
        return jax.vmap(lambda U, V: jax.lax.fori_loop(0, steps, step, (U, V)))(X[:, 0], X[:, 1])

    X = jnp.asarray(X0)
    return lambda: run(X)[0].block_until_ready()


def main(cases=None):
    """Time every case of ``cases`` (default :data:`CASES`); print and return the table rows."""
    rows = []
    for name, spec in (CASES if cases is None else cases).items():
        N, B, d, R, steps = spec["N"], spec["B"], spec["d"], spec["restarts"], spec["steps"]
        batches = all_batches(N, B)
        lr = 0.5 * N
        X0 = initial_points(N, d, R, seed=0)
        kernel = median_seconds(_kernel_runner(X0, batches, lr, steps))
        public = median_seconds(lambda: minimise(N, d, batches, restarts=R, lr=lr, tol=NO_STOP, max_steps=steps))
        numpy_one = median_seconds(lambda: reference.minimise(X0[:1], batches, TAU, True, lr, NO_STOP, steps), repeats=3)
        jax_run = _jax_runner(X0, batches, lr, steps)
        jax_time = median_seconds(jax_run) if jax_run else float("nan")
        rows.append({
            "case": name, "steps/restart": steps, "kernel restarts/s": R / kernel, "minimise restarts/s": R / public,
            "numpy restarts/s": 1 / numpy_one, "jax restarts/s": R / jax_time,
            "kernel/numpy": numpy_one * R / kernel, "kernel/jax": jax_time / kernel,
        })
    print(table(rows, list(rows[0])))
    return rows


if __name__ == "__main__":
    main()
