"""Speed of bilinear-model GD: the numba kernel vs its NumPy reference vs JAX-CPU, side by side.

Case (issue 15): the largest validation case, P = 40 pairs (M = 80 entities), half trained both
ways (N = 60 pairs), Gaussian embeddings with d = 1024, and the full protocol's largest one-hot case
P = 100 (M = 200, N = 150). Every implementation runs the same fixed number of GD steps (no early
stop) from Theta_0 = 0. Reported: GD steps per second of

* ``kernel``: :func:`theorytk.reversal._kernels.gd` (coefficients W, Gram K; fastmath off);
* ``numpy``: :func:`theorytk.reversal.reference.gd` (the same algorithm with matrix products);
* ``theta numpy``: GD on Theta itself (d x d) with :func:`theorytk.reversal.reference.loss_and_gradient`,
  the plain formulation (what the coefficient form saves grows with d);
* ``products numpy``: the reference's two matrix products alone (``K W K_in`` with the block
  precomputed, one BLAS call each), its floor: ``2 (M^2 N + M N^2)`` flops a step, the same as the
  kernel's on the dense case;
* ``jax``: the coefficient step under ``jax.jit`` (``lax.fori_loop``), float64 on the CPU, when JAX
  is installed (otherwise a message says so and the column is NaN);

and the ratios kernel/numpy and kernel/jax. The kernel's, NumPy's and JAX's final coefficients agree
(asserted, to 1e-9 relative).

Where the time goes (Gaussian case, one thread, best of 15-25 repeats, load 3.5-7 on 2 cores, so
+-40%): the two products ``2 (M^2 N + M N^2) = 1.34`` MFLOP are 55 us by BLAS (numba's ``np.dot``
or NumPy's ``@``, about 25 GFLOP/s) and about 35-60 us by ``theorytk._gemm.gemm_nn`` (no
transposes, state ``W^T``); the softmax over ``M N = 4800`` logits was 63-79 us with the scalar libm
``exp`` (the kernel's bottleneck, and JAX's advantage: its fused softmax is 15 us) and is 15 us
with the vectorised :func:`theorytk._vecmath.exp_nonpositive`; the update is 3-5 us.
The NumPy reference performs the same two products, so its time is at least the
``products numpy`` column: ``numpy / products numpy`` (3.4-3.8 measured) is what removing all of
its overhead gains at BLAS speed. The kernel passes that only by its products being faster than
OpenBLAS on these small shapes (``gemm_nn``: 29 us, 46 GFLOP/s at best, against BLAS's 39 us),
so >= 5x NumPy on the dense case is at the edge of what the flops allow. Measured in this
module's table (medians, load ~6-7): 3.0-5.3x NumPy and 0.67-1.48x JAX over six runs; best of
15 interleaved repeats (same load): kernel 1.73e4 steps/s, NumPy 4.23e3 (4.1x), its products
alone 2.0e4 (the 4.7x ceiling), JAX 1.41e4 (1.22x). The one-hot case does ``O(M N)`` work a step
against the reference's dense products, and its softmax (30 000 logits) is the kernel's main
cost: 7.8x NumPy and 6.3x JAX at best, 6.7-8.9x and 2.4-7.8x in the medians.
"""
import numpy as np

from benchmarks._timing import median_seconds, table
from theorytk.reversal import _kernels, entity_pairs, reference

CASES = {"gaussian P=40 d=1024 (M=80, N=60)": dict(P=40, both=0.5, d=1024, steps=200),
         "one-hot P=100 (M=200, N=150)": dict(P=100, both=0.5, d=None, steps=100)}
LR = 60.0


def _problem(spec):
    embedding = "one_hot" if spec["d"] is None else "gaussian"
    task = entity_pairs(spec["P"], spec["both"], embedding, spec["d"], seed=0)
    probes = np.unique(task.inputs)
    return task, task.gram(), probes, np.array([0], dtype=np.int64)


def _kernel(task, K, probes, record, steps):
    def run():
        loss = np.empty(steps + 1)
        logits = np.empty((2, probes.size, task.M))
        recorded = np.empty(2, dtype=np.int64)
        W = np.zeros((task.M, task.N))
        _kernels.gd(K, task.inputs, task.targets, W, LR, steps, -np.inf, False, record, probes, loss, logits, recorded)
        return W
    return run


def _numpy(task, K, probes, record, steps):
    return lambda: reference.gd(K, task.inputs, task.targets, np.zeros((task.M, task.N)), LR, steps, -np.inf, False,
                                record, probes)[0]


def _products(task, K, steps):
    K_in = K[np.ix_(task.inputs, task.inputs)]
    W = np.zeros((task.M, task.N))

    def run():
        for _ in range(steps):
            K @ W @ K_in
    return run


def _theta(task, steps):
    def run():
        Theta = np.zeros((task.d, task.d))
        for _ in range(steps):
            Theta -= LR * reference.loss_and_gradient(Theta, task.embeddings, task.inputs, task.targets)[1]
    return run


def _jax(task, K, steps):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    Kj, inputs, targets = jnp.asarray(K), jnp.asarray(task.inputs), jnp.asarray(task.targets)
    K_in = Kj[inputs][:, inputs]
    onehot = jax.nn.one_hot(targets, task.M, dtype=jnp.float64).T

    def step(_, W):
        P = jax.nn.softmax(Kj @ W @ K_in, axis=0)
        return W - LR / task.N * (P - onehot)

    run = jax.jit(lambda W: jax.lax.fori_loop(0, steps, step, W))
    W0 = jnp.zeros((task.M, task.N))
    return lambda: np.asarray(run(W0).block_until_ready())


def main(cases=None, repeats=3, min_time=0.2):
    """Time every case of ``cases`` (default :data:`CASES`); print and return the table rows."""
    rows = []
    for name, spec in (CASES if cases is None else cases).items():
        task, K, probes, record = _problem(spec)
        steps = spec["steps"]
        kernel = median_seconds(_kernel(task, K, probes, record, steps), repeats, min_time)
        numpy_time = median_seconds(_numpy(task, K, probes, record, steps), repeats, min_time)
        products = median_seconds(_products(task, K, steps), repeats, min_time)
        theta = median_seconds(_theta(task, steps), 1, min_time)
        jax_run = _jax(task, K, steps)
        if jax_run is None:
            print(f"{name}: jax is not installed; the jax column is NaN")
        jax_time = median_seconds(jax_run, repeats, min_time) if jax_run else float("nan")
        W = _kernel(task, K, probes, record, steps)()
        for other, label in ((_numpy(task, K, probes, record, steps), "numpy"), (jax_run, "jax")):
            if other is not None and not np.allclose(other(), W, rtol=1e-9, atol=1e-9 * np.abs(W).max()):
                raise AssertionError(f"{name}: the {label} coefficients differ from the kernel's")
        rows.append({"case": name, "steps": steps, "kernel steps/s": steps / kernel,
                     "numpy steps/s": steps / numpy_time,
                     "products numpy steps/s": steps / products, "theta numpy steps/s": steps / theta,
                     "jax steps/s": steps / jax_time, "kernel/numpy": numpy_time / kernel,
                     "kernel/jax": jax_time / kernel})
    print(table(rows, list(rows[0])))
    return rows


if __name__ == "__main__":
    main()
