r"""Monte Carlo hitting times: an ensemble of independent walkers (numba).

Each walker runs the chain from its start until it first enters the target; walker ``w``
draws its uniforms from its own SplitMix64 stream seeded by ``stream_seeds(seed,
walkers)[w]`` (:mod:`theorytk.metastable._kernels`), so the sample is the same on 1 or 2
threads. The walkers are i.i.d., so the standard error of the mean is
:math:`s/\sqrt{W}` with :math:`s` the sample standard deviation.
"""
from dataclasses import dataclass

import numba
import numpy as np

from theorytk import _validate
from theorytk._jit import numba_threads
from theorytk.errors import SolverFailure
from theorytk.metastable import _kernels
from theorytk.metastable.exact import check_chain, reaches_almost_surely, state_set
from theorytk.random import stream_seeds

__all__ = ["HittingSample", "WalkersCensored", "simulate_hitting"]

_NO_LIMIT = np.iinfo(np.int64).max


class WalkersCensored(SolverFailure):
    """Some walkers did not reach the target within ``max_steps``."""


@dataclass(frozen=True, eq=False)
class HittingSample:
    """A sample of hitting times (:func:`simulate_hitting`).

    Attributes
    ----------
    times : ndarray of int64, shape (walkers,)
        :math:`\\tau_T` of each walker.
    steps : int
        Total steps taken by all walkers.
    """

    times: np.ndarray
    steps: int

    @property
    def mean(self):
        return float(self.times.mean())

    @property
    def se(self):
        """Standard error of the mean, :math:`s/\\sqrt{W}`."""
        return float(self.times.std(ddof=1) / np.sqrt(self.times.size))

    @property
    def cv(self):
        """Coefficient of variation :math:`s/\\bar\\tau`."""
        return float(self.times.std(ddof=1) / self.times.mean())


def starts_array(chain, start, walkers):
    if np.ndim(start) == 0:
        start = _validate.integer("start", start, minimum=0, maximum=chain.n_states - 1)
        return np.full(walkers, start, dtype=np.int64)
    starts = np.asarray(start)
    if starts.shape != (walkers,) or not np.issubdtype(starts.dtype, np.integer):
        raise ValueError(f"start must be a state or an integer array of shape ({walkers},), got {starts!r}")
    if starts.min() < 0 or starts.max() >= chain.n_states:
        raise ValueError(f"start must hold states in [0, {chain.n_states - 1}]")
    return starts.astype(np.int64)


def simulate_hitting(chain, start=None, target=None, *, walkers=10_000, seed=0, max_steps=None, threads=None):
    """Sample hitting times of ``target`` by ``walkers`` independent walkers.

    Parameters
    ----------
    chain : CotChain
    start : int or array_like of int, optional
        One start state for all walkers, or one per walker. Default ``chain.start``.
    target : int or array_like of int, optional
        Default ``chain.goal``.
    walkers : int
    seed : int or numpy.random.SeedSequence
    max_steps : int, optional
        Give up on a walker after this many steps (then :class:`WalkersCensored` is raised).
        By default walkers run until they hit, which is guaranteed to happen: a start from
        which the target is not reached almost surely is refused.
    threads : int, optional
        Numba threads (default: numba's setting); results do not depend on it.

    Returns
    -------
    HittingSample

    Raises
    ------
    ValueError
        Bad arguments, or a start state from which the target is not reached almost surely.
    WalkersCensored
        Some walker did not hit within ``max_steps``.
    """
    chain = check_chain(chain)
    walkers = _validate.integer("walkers", walkers, minimum=2)
    starts = starts_array(chain, chain.start if start is None else start, walkers)
    target = state_set(chain, "target", chain.goal if target is None else target)
    seed = _validate.seed("seed", seed)
    max_steps = _NO_LIMIT if max_steps is None else _validate.integer("max_steps", max_steps, minimum=1)
    threads = numba.get_num_threads() if threads is None else _validate.integer(
        "threads", threads, minimum=1, maximum=numba.config.NUMBA_NUM_THREADS)
    if max_steps == _NO_LIMIT:
        ok = reaches_almost_surely(chain.P, target)
        if not ok[starts].all():
            bad = int(starts[~ok[starts]][0])
            raise ValueError(f"start state {bad} does not reach the target almost surely (its hitting time is "
                             "infinite); pass max_steps to simulate censored walks")
    indptr, indices, cum = chain.table
    out = np.empty(walkers, dtype=np.int64)
    with numba_threads(threads):
        _kernels.hitting_times(indptr, indices, cum, target, starts, stream_seeds(seed, walkers), max_steps, out)
    censored = np.count_nonzero(out < 0)
    if censored:
        raise WalkersCensored(f"{censored} of {walkers} walkers did not reach the target within max_steps="
                              f"{max_steps}; raise max_steps (the exact mean is "
                              "hitting_times(chain, target).at(start))")
    return HittingSample(out, int(out.sum()))
