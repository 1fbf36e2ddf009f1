"""Speed of the mean-field Langevin step: numba kernel vs NumPy reference vs JAX-CPU, like with like.

Cases (issue 2): one replica of N = 2000 particles, n = 1000 samples, d = 20 inputs (the
large case) and N = 64 (small case), plus the validation's workload (32 replicas, N = 512,
n = 16, d = 1). Every peer does the same work (the step, and a record of ``f`` and of the
mean squared norm at every step), measured two ways (issue 17, part 6):

* **same noise**: every peer steps on one pre-drawn array of standard normals (``kernel``: the
  numba driver that ``simulate`` picks; ``numpy``: :func:`theorytk.mfld.reference.step`;
  ``jax``: the same step under ``jax.jit`` in float64 on the CPU, scanning over the array);
* **own noise**: end to end, each drawing its own normals (``simulate``: NumPy's PCG64 per
  replica, outside the kernel; ``jax``: threefry normals drawn inside the jitted loop).

The JAX peers are written here for the benchmark, and run when JAX is importable (e.g.
``PYTHONPATH=/tmp/jaxpkg``); otherwise their columns are NaN and the header says so. Also
reported: GFLOP/s counting the two products of a step (forward ``w.z`` and backward
gradient: ``4 N n (d+1)`` flops per replica-step) against a large float64 matmul measured in
the same run; a cost curve (seconds per step against N on the large case's data, with its
log-log slope, for the kernel and for JAX on the same noise); and the time of a second
process's import and first call, which cached kernels should keep under a second.
"""

import numpy as np

from benchmarks._timing import alternating_medians, matmul_gflops, table
from benchmarks.startup import fresh_process_seconds
from theorytk._jit import numba_threads
from theorytk.mfld import MeanFieldProblem, reference, simulate
from theorytk.mfld.langevin import _choose_driver

CASES = {
    "large N=2000 n=1000 d=20": dict(replicas=1, N=2000, n=1000, d=20, steps=10),
    "small N=64 n=1000 d=20": dict(replicas=1, N=64, n=1000, d=20, steps=50),
    "validation R=32 N=512 n=16 d=1": dict(replicas=32, N=512, n=16, d=1, steps=20),
}


def _case(replicas, N, n, d, steps, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    problem = MeanFieldProblem(z, np.tanh(z @ rng.standard_normal(d)), lam=0.01, lam_l2=0.05)
    x0 = rng.standard_normal((replicas, N, d + 1))
    noise = rng.standard_normal((replicas, steps, N, d + 1))
    return problem, x0, noise


def _kernel_runner(problem, x0, noise):
    advance, threads = _choose_driver(problem, x0.shape[1], x0.shape[0])
    replicas, steps = noise.shape[:2]
    out_f = np.empty((replicas, steps, problem.n))
    out_sq = np.empty((replicas, steps))
    act, loss = problem.codes

    def run():
        status = np.full(replicas, -1, dtype=np.int64)
        with numba_threads(threads):
            advance(x0.copy(), problem.zt, problem.y, act, loss, problem.lam, problem.lam_l2, 0.01, noise, 0, 1,
                    1e6, out_f, out_sq, status)

    return run


def _jax():
    """``(jax, jax.numpy)`` with float64 enabled, or None where JAX is not importable."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def _jax_runner(problem, x0, steps, noise=None):
    """A callable that runs ``steps`` JAX steps from ``x0`` (None without JAX).

    With ``noise`` (R, steps, N, d+1) the loop scans over that array; without it, each step
    draws its normals with ``jax.random`` inside the jitted loop. Either way it returns the
    records of ``f`` and of the mean squared norm, as the kernel does.
    """
    found = _jax()
    if found is None:
        return None
    jax, jnp = found
    z, y, d, n = jnp.asarray(problem.z), jnp.asarray(problem.y), problem.d, problem.n
    lam, lam_l2, eta = problem.lam, problem.lam_l2, 0.01
    sigma = float(np.sqrt(2 * lam * eta))

    def step(x, xi):
        h = jnp.tanh(x[..., :d] @ z.T + x[..., d:])
        f = h.mean(axis=-2)
        g = (1.0 - h**2) * ((f - y) / n)[..., None, :]
        grad = jnp.concatenate([g @ z, g.sum(axis=-1, keepdims=True)], axis=-1) + 2 * lam_l2 * x
        return x - eta * grad + sigma * xi, (f, jnp.mean(jnp.sum(x**2, axis=-1), axis=-1))

    x = jnp.asarray(x0)
    if noise is not None:
        run = jax.jit(lambda x, xs: jax.lax.scan(step, x, xs))
        xs = jnp.asarray(np.moveaxis(noise, 1, 0))   # (steps, R, N, d+1), converted once, outside the timing

        def go():
            return run(x, xs)
    else:
        def own_noise(carry, _):
            x, key = carry
            key, sub = jax.random.split(key)
            x, records = step(x, jax.random.normal(sub, x.shape))
            return (x, key), records

        run = jax.jit(lambda x, key: jax.lax.scan(own_noise, (x, key), None, length=steps))
        key = jax.random.PRNGKey(0)

        def go():
            return run(x, key)
    return lambda: jax.block_until_ready(go())


SAME = ("kernel steps/s", "numpy steps/s", "jax steps/s", "kernel/numpy", "kernel/jax", "kernel GFLOP/s",
        "of matmul peak")
OWN = ("simulate steps/s", "jax own-noise steps/s", "simulate/jax", "spread (max/min of rounds)")


def main(cases=None, start_time=True, matmul_size=2000, curve=(64, 128, 256, 512, 1024, 2048, 4096), rounds=5):
    """Time every case of ``cases`` (default :data:`CASES`) and the cost curve over ``curve``; print, return the rows.

    The peers of a case (and of a point of the curve) are timed in turn, ``rounds`` times
    (:func:`alternating_medians`); the spread column is the largest max/min over the rounds.
    """
    peak = matmul_gflops(matmul_size)
    rows = []
    for name, spec in (CASES if cases is None else cases).items():
        problem, x0, noise = _case(**spec)
        replicas, steps, N = spec["replicas"], spec["steps"], spec["N"]
        flops = 4.0 * replicas * N * problem.n * (problem.d + 1)
        runs = {
            "kernel": _kernel_runner(problem, x0, noise),
            "numpy": lambda: reference.step(x0, problem.z, problem.y, problem.lam, problem.lam_l2, 0.01, noise[:, 0]),
            "jax": _jax_runner(problem, x0, steps, noise),
            "simulate": lambda: simulate(problem, N, steps, 0.01, replicas=replicas, init=x0, record_every=1),
            "jax own": _jax_runner(problem, x0, steps),
        }
        t, spread = alternating_medians(runs, rounds)
        kernel, public, jax_step, jax_own_step = (t[k] / steps for k in ("kernel", "simulate", "jax", "jax own"))
        numpy_step = t["numpy"]   # one step per call
        rows.append({
            "case": name, "kernel steps/s": 1 / kernel, "numpy steps/s": 1 / numpy_step, "jax steps/s": 1 / jax_step,
            "kernel/numpy": numpy_step / kernel, "kernel/jax": jax_step / kernel,
            "kernel GFLOP/s": flops / kernel / 1e9, "of matmul peak": flops / kernel / 1e9 / peak,
            "simulate steps/s": 1 / public, "jax own-noise steps/s": 1 / jax_own_step,
            "simulate/jax": jax_own_step / public, "spread (max/min of rounds)": max(spread.values()),
        })
    print(f"float64 matmul {matmul_size}x{matmul_size} on this machine: {peak:.1f} GFLOP/s; "
          + ("JAX " + _jax()[0].__version__ if _jax() else "JAX absent: its columns are NaN"))
    print("same work, same pre-drawn noise (and records of f and |x|^2 every step):")
    print(table(rows, ("case",) + SAME))
    print("same work end to end, each peer drawing its own noise (simulate: NumPy PCG64; JAX: threefry in jit):")
    print(table(rows, ("case",) + OWN))
    if curve:
        points, slopes = cost_curve(curve, rounds=rounds)
        print("cost curve (large case's data, n = 1000, d = 20, one replica, same pre-drawn noise):")
        print(table(points, list(points[0])))
        print("log-log slope of seconds per step against N: "
              + ", ".join(f"{peer} {slope:.2f}" for peer, slope in slopes.items()))
    if start_time:
        imported, called = fresh_process_seconds("mfld.simulate")
        print(f"second process: import theorytk.mfld + first simulate call: {imported + called:.2f} s (target < 1 s; "
              "every system: python -m benchmarks startup)")
    return rows


def cost_curve(sizes, n=1000, d=20, rounds=3):
    """Seconds per step of the kernel (and JAX, on the same noise) for one replica of each N in ``sizes``.

    Returns the table rows and the least-squares slope of log(seconds per step) on log N
    per peer (1 for a cost proportional to N).
    """
    points = []
    for N in sizes:
        steps = max(5, 16384 // N)
        problem, x0, noise = _case(1, N, n, d, steps)
        t, _ = alternating_medians({"kernel": _kernel_runner(problem, x0, noise),
                                    "jax": _jax_runner(problem, x0, steps, noise)}, rounds)
        kernel, jax_step = t["kernel"] / steps, t["jax"] / steps
        points.append({"N": N, "kernel steps/s": 1 / kernel, "jax steps/s": 1 / jax_step,
                       "kernel/jax": jax_step / kernel, "kernel us/step/particle": kernel / N * 1e6})
    logn = np.log([p["N"] for p in points])
    slopes = {}
    for peer in ("kernel", "jax"):
        rates = np.array([p[f"{peer} steps/s"] for p in points])
        slopes[peer] = float(np.polyfit(logn, -np.log(rates), 1)[0]) if np.isfinite(rates).all() else float("nan")
    return points, slopes


if __name__ == "__main__":
    main()
