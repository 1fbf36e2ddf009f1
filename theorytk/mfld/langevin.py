"""N-particle noisy gradient descent (time-discretised mean-field Langevin dynamics).

.. math::

    X^i_{k+1} = X^i_k - \\eta \\nabla \\frac{\\delta F}{\\delta \\mu}(\\rho_{X_k})(X^i_k)
    + \\sqrt{2 \\lambda \\eta}\\, \\xi^i_k, \\qquad \\xi^i_k \\sim N(0, I_{d+1}),

the Euler-Maruyama scheme of :math:`dX^i = -\\nabla \\frac{\\delta F}{\\delta\\mu}(\\rho_X)(X^i) dt
+ \\sqrt{2\\lambda} dW^i`, whose invariant law is
:math:`\\mu_*^{(N)} \\propto \\exp(-N F(\\rho_x)/\\lambda)` (Nitanda, Wu, Suzuki, AISTATS 2022;
Suzuki, Wu, Nitanda, NeurIPS 2023; Nitanda et al., ICML 2025). With
:math:`\\frac{\\delta F}{\\delta\\mu}(\\mu)(x) = \\frac1n\\sum_j \\ell'(f_\\mu(z_j), y_j) h(x, z_j)
+ \\lambda'|x|^2` the drift costs O(N n d) per step.
"""
import os
from dataclasses import dataclass

import numba
import numpy as np

from theorytk import _validate
from theorytk._jit import numba_threads
from theorytk.errors import SolverFailure
from theorytk.mfld import _kernels
from theorytk.mfld.problem import MeanFieldProblem
from theorytk.random import child_generators

_NOISE_CHUNK_VALUES = 1 << 20  # normals drawn per chunk (8 MiB)
_BLOCK_PARALLEL_WORK = 1 << 16  # multiply-adds per step below which a parallel launch per step costs more than it saves


def memory_cap():
    """The bytes that a simulation's arrays may take: this machine's physical memory, or None where unknown.

    ``os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")`` (POSIX); where ``sysconf``
    does not report it (Windows) the sizes are not capped.
    """
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_sizes(problem, n_particles, steps, replicas, record_every, *, replicas_name="replicas"):
    """Validate the sizes of :func:`simulate` and refuse them if its arrays would exceed :func:`memory_cap`.

    Parameters
    ----------
    problem : MeanFieldProblem
    n_particles, steps, replicas : int
    record_every : int or None
        None resolves to about 1000 records.
    replicas_name : str
        How the message names the replica count (e.g. ``"replicas * members"`` for ensembles).

    Returns
    -------
    n_particles, steps, replicas, record_every : int
        Validated, ``record_every`` resolved.

    Raises
    ------
    TypeError, ValueError
        A size is not an integer in range, or the particles and noise
        (2 x replicas x n_particles x (d+1) float64) plus the records (replicas x records x
        (n+1) float64) need more bytes than :func:`memory_cap` (checked before anything is
        allocated).
    """
    if not isinstance(problem, MeanFieldProblem):
        raise TypeError(f"problem must be a MeanFieldProblem, got {type(problem).__name__}")
    n_particles = _validate.integer("n_particles", n_particles, minimum=1)
    steps = _validate.integer("steps", steps, minimum=1)
    replicas = _validate.integer("replicas", replicas, minimum=1)
    record_every = max(1, steps // 1000) if record_every is None else _validate.integer(
        "record_every", record_every, minimum=1, maximum=steps)
    cap = memory_cap()
    n_records = -(-steps // record_every)
    particle_bytes = 8 * 2 * replicas * n_particles * (problem.d + 1)
    record_bytes = 8 * replicas * n_records * (problem.n + 1)
    if cap is not None and particle_bytes + record_bytes > cap:
        raise ValueError(
            f"{replicas_name} = {replicas} with n_particles = {n_particles} needs {particle_bytes / 2**30:.3g} GiB "
            f"for the particles and their noise (2 x {replicas_name} x n_particles x (d+1) float64) and "
            f"{record_bytes / 2**30:.3g} GiB for the {n_records} records (steps = {steps} / record_every = "
            f"{record_every}) of n+1 values per replica: more than this machine's {cap / 2**30:.3g} GiB of memory; "
            + (f"lower {replicas_name} or n_particles" if particle_bytes >= record_bytes else
               f"raise record_every, or lower {replicas_name} or steps"))
    return n_particles, steps, replicas, record_every


class SimulationDiverged(SolverFailure, FloatingPointError):
    """A particle coordinate became NaN or left the allowed range during a simulation."""


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Result of :func:`simulate`.

    Attributes
    ----------
    problem : MeanFieldProblem
    particles : ndarray, shape (replicas, N, d+1)
        Final particles :math:`x_i = (w_i, b_i)` of every independent replica.
    times : ndarray, shape (S,)
        Times :math:`t = k\\eta` of the records.
    outputs : ndarray, shape (replicas, S, n)
        :math:`f_X(z_j)` at the recorded times (state before the step of that time).
    second_moment : ndarray, shape (replicas, S)
        :math:`\\frac1N\\sum_i |x_i|^2` at the recorded times.
    eta : float
    steps : int
    """

    problem: MeanFieldProblem
    particles: np.ndarray
    times: np.ndarray
    outputs: np.ndarray
    second_moment: np.ndarray
    eta: float
    steps: int

    @property
    def n_particles(self):
        return self.particles.shape[1]

    @property
    def energy(self):
        """:math:`F(\\rho_X) = \\frac1n\\sum_j \\ell(f_X(z_j), y_j) + \\lambda' \\frac1N\\sum_i|x_i|^2`, shape (replicas, S)."""
        return self.problem.data_loss(self.outputs) + self.problem.lam_l2 * self.second_moment

    def squared_error(self, f_star, burn_in=0.0):
        """Time average over ``t >= burn_in`` of :math:`\\|f_X - f_*\\|_n^2 = \\frac1n\\sum_j (f_X(z_j) - f_*(z_j))^2`.

        Returns one value per replica, shape (replicas,): independent replicas give the
        standard error of the stationary expectation.
        """
        return time_average_error(self.outputs, self.times, f_star, burn_in)


def time_average_error(outputs, times, f_star, burn_in):
    """Mean over records with ``times >= burn_in`` of ``mean_j (outputs - f_star)^2``, per leading index."""
    f_star = _validate.array("f_star", f_star, shape=(outputs.shape[-1],))
    burn_in = _validate.real("burn_in", burn_in, minimum=0.0)
    keep = times >= burn_in
    if not keep.any():
        raise ValueError(f"burn_in must be <= the last recorded time {times[-1]:g}, got {burn_in:g}")
    return np.mean((outputs[..., keep, :] - f_star) ** 2, axis=(-1, -2))


def _initial_particles(init, gens, n_particles, width):
    replicas = len(gens)
    if init is None:
        return np.stack([g.standard_normal((n_particles, width)) for g in gens])
    init = _validate.array("init", init, ndim=(2, 3))
    want = (n_particles, width) if init.ndim == 2 else (replicas, n_particles, width)
    if init.shape != want:
        raise ValueError(f"init must have shape {want} (or (N, d+1) for every replica), got {init.shape}")
    return np.broadcast_to(init, (replicas, n_particles, width)).copy()  # never write into the caller's array


def simulate(problem, n_particles, steps, eta, replicas=1, seed=0, record_every=None, init=None,
             divergence_threshold=1e6):
    """Run ``replicas`` independent N-particle noisy gradient descents.

    Parameters
    ----------
    problem : MeanFieldProblem
    n_particles : int
        N, the width of each network.
    steps : int
        Number of steps; the horizon is ``steps * eta``.
    eta : float
        Step size :math:`\\eta`; the noise per step is :math:`\\sqrt{2\\lambda\\eta}\\,\\xi`.
    replicas : int
        Independent copies (their spread gives standard errors).
    seed : int or numpy.random.SeedSequence
        Replica r uses ``SeedSequence(entropy, spawn_key=seed.spawn_key + (r,))``: its
        numbers depend on nothing else (not on the thread count, nor on ``replicas``).
    record_every : int, optional
        Record :math:`f_X(z_j)` every this many steps (default: about 1000 records).
    init : array_like, shape (N, d+1) or (replicas, N, d+1), optional
        Initial particles; default i.i.d. N(0, I) per replica.
    divergence_threshold : float
        A coordinate that is NaN or exceeds this in absolute value stops the run with
        :class:`SimulationDiverged`.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        Also when the arrays would not fit in memory (:func:`check_sizes`).
    SimulationDiverged
        With the step, the time and a hint about ``eta``.
    """
    n_particles, steps, replicas, record_every = check_sizes(problem, n_particles, steps, replicas, record_every)
    eta = _validate.positive("eta", eta)
    seed = _validate.seed("seed", seed)
    threshold = _validate.positive("divergence_threshold", divergence_threshold)

    width = problem.d + 1
    gens = child_generators(seed, replicas)
    X = _initial_particles(init, gens, n_particles, width)
    n_records = (steps + record_every - 1) // record_every
    outputs = np.empty((replicas, n_records, problem.n))
    second_moment = np.empty((replicas, n_records))
    status = np.full(replicas, -1, dtype=np.int64)
    advance, threads = _choose_driver(problem, n_particles, replicas)
    act, loss = problem.codes
    chunk = max(1, _NOISE_CHUNK_VALUES // (replicas * n_particles * width))
    noise = np.empty((replicas, min(chunk, steps), n_particles, width))
    with numba_threads(threads):
        for step0 in range(0, steps, chunk):
            if steps - step0 < noise.shape[1]:  # last, shorter chunk: a fresh contiguous buffer (one kernel signature)
                noise = np.empty((replicas, steps - step0, n_particles, width))
            for r, g in enumerate(gens):
                g.standard_normal(out=noise[r])
            advance(X, problem.zt, problem.y, act, loss, problem.lam, problem.lam_l2, eta, noise, step0,
                    record_every, threshold, outputs, second_moment, status)
            if (status >= 0).any():
                _raise_diverged(problem, eta, status, threshold)
    return SimulationResult(problem, X, np.arange(n_records) * record_every * eta, outputs, second_moment, eta, steps)


def _choose_driver(problem, n_particles, replicas):
    """Return (driver, threads): parallel over replicas, or over particle blocks of a few large replicas.

    Both drivers give bit-identical numbers on any thread count; this choice only affects
    speed. A parallel launch per step costs tens of microseconds (far more when another
    process holds a core), so blocks are used only for large steps, and no launch uses
    more threads than it has independent pieces of work.
    """
    threads = numba.get_num_threads()
    blocks = -(-n_particles // _kernels.BLOCK)
    work = n_particles * problem.n * (problem.d + 1)
    if replicas < threads and blocks >= 2 * threads and work >= _BLOCK_PARALLEL_WORK:
        return _kernels.advance_blocks, threads
    return _kernels.advance_replicas, min(threads, replicas)


def _raise_diverged(problem, eta, status, threshold):
    replica = int(np.argmax(status >= 0))
    step = int(status[replica])
    limit = 1.0 / problem.lam_l2
    raise SimulationDiverged(
        f"simulation diverged at step {step} (t = {step * eta:g}) in replica {replica}: a particle coordinate "
        f"became NaN or exceeded {threshold:g} in absolute value. The step size eta={eta:g} is probably too large: "
        f"the L2 term alone needs eta < 1/lam_l2 = {limit:g}, and the data term tightens this; try eta={eta / 4:g}."
    )
