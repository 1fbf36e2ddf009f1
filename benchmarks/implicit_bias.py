"""Speed of full-batch GD on the one-layer transformer of theorytk.implicit_bias: numba kernel vs NumPy vs JAX-CPU.

Case (issue 15): the largest validation case, even pairs with L = 6 (126 strings, D = 8), eta = 1,
from the same initialisation, recording only the last step. Reported: GD steps per second of

* ``kernel``: :func:`theorytk.implicit_bias._kernels.train` (sparse one-hot scores and outer
  products, the whole loop in one kernel);
* ``numpy``: :func:`theorytk.implicit_bias.reference.train` (dense einsum per step);
* ``jax``: the same dense loss under ``jax.grad``, the GD loop in ``jax.jit`` with ``lax.fori_loop``,
  float64 on the CPU (written here; skipped with a message when JAX is not installed);

and the ratios kernel/numpy, kernel/jax. The final parameters of the three agree (asserted).
"""
import numpy as np

from benchmarks._timing import median_seconds, table
from theorytk.implicit_bias import _kernels, even_pairs, reference

CASES = {"even pairs L=6 (126 strings)": dict(L=6, steps=2000)}
ETA = 1.0


def _init(L, seed=0):
    rng = np.random.default_rng(seed)
    return 0.01 * rng.standard_normal((L + 2, L + 2)), 0.01 * rng.standard_normal(L + 2)


def _kernel_runner(data, W0, u0, steps):
    D = W0.shape[0]
    record = np.array([steps])
    outs = [np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros((1, D)), np.zeros((1, data.size, D))]

    def run():
        W, u = W0.copy(), u0.copy()
        _kernels.train(data.tokens, data.lengths, data.labels, W, u, ETA, steps, record, True, *outs)
        return W, u

    return run


def _numpy_runner(data, W0, u0, steps):
    def run():
        W, u, _ = reference.train(data.tokens, data.lengths, data.labels, W0, u0, ETA, steps, [steps])
        return W, u

    return run


def _jax_runner(data, W0, u0, steps):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    X, mask, last = (jnp.asarray(a) for a in reference.embed(data.tokens, data.lengths, W0.shape[0]))
    y = jnp.asarray(data.labels)

    def loss(params):
        W, u = params
        scores = jnp.where(mask, jnp.einsum("nid,de,ne->ni", X, W, last), -jnp.inf)
        h = jnp.einsum("ni,nid->nd", jax.nn.softmax(scores, axis=1), X)
        return jnp.mean(jnp.logaddexp(0.0, -y * (h @ u)))

    grad = jax.grad(loss)

    @jax.jit
    def fit(W, u):
        def step(_, params):
            gW, gu = grad(params)
            return params[0] - ETA * gW, params[1] - ETA * gu
        return jax.lax.fori_loop(0, steps, step, (W, u))

    def run():
        W, u = fit(jnp.asarray(W0), jnp.asarray(u0))
        return np.asarray(W.block_until_ready()), np.asarray(u)

    return run


def main(cases=None, repeats=3):
    """Time every case of ``cases`` (default :data:`CASES`); print and return the table rows."""
    rows = []
    for name, spec in (CASES if cases is None else cases).items():
        data = even_pairs(spec["L"])
        W0, u0 = _init(spec["L"])
        steps = spec["steps"]
        runners = {"kernel": _kernel_runner(data, W0, u0, steps), "numpy": _numpy_runner(data, W0, u0, steps),
                   "jax": _jax_runner(data, W0, u0, steps)}
        reference_W = runners["numpy"]()[0]
        row = {"case": name, "steps": steps}
        for label, run in runners.items():
            if run is None:
                print(f"{name}: jax is not installed; the JAX-CPU column is skipped")
                continue
            if not np.allclose(run()[0], reference_W, rtol=1e-9, atol=1e-12):
                raise AssertionError(f"{name}: {label} ends at other parameters than the NumPy reference")
            row[f"{label} steps/s"] = steps / median_seconds(run, repeats=repeats, min_time=0.1)
        row["kernel/numpy"] = row["kernel steps/s"] / row["numpy steps/s"]
        if "jax steps/s" in row:
            row["kernel/jax"] = row["kernel steps/s"] / row["jax steps/s"]
        rows.append(row)
    print(table(rows, list(dict.fromkeys(k for row in rows for k in row))))
    return rows


if __name__ == "__main__":
    main()
