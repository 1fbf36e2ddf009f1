"""Speed of the ESS profile: theorytk.memory.ess against plain SVD loops, on one 1024-length operator.

Case (issue 16): a diagonal SSM of state 16 (complex poles), L = 1024, so 1023 past-to-future
blocks of up to 512 x 512. Reported: seconds per full ESS profile (tolerance-ESS at every split) of

* ``ess``: :func:`theorytk.memory.ess` (each numerically low-rank block sketched by a
  randomized range finder with a certified count, the others by gesdd without vectors);
* ``matrix_rank loop``: ``numpy.linalg.matrix_rank`` of every block (the same rule and tolerance);
* ``full SVD loop``: ``numpy.linalg.svd`` with singular vectors, then the same count (the plain loop
  a user writes first);

and the ratios. All three give the same ESS (asserted). There is no numba kernel: the work is
LAPACK and BLAS either way; the gain is in not decomposing a rank-16 block of up to 512 x 512
whole (the sketch costs three m x n x l products with l = 24, the previous count plus 8).
"""
import time

import numpy as np

from benchmarks._timing import table
from theorytk.memory import diagonal_ssm, ess, ess_from_singular_values

CASES = {"diagonal SSM n=16, L=1024": dict(L=1024, state=16)}


def _seconds(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls (no warm-up: nothing compiles); also its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def _rank_loop(T):
    return np.array([np.linalg.matrix_rank(T[i:, :i]) for i in range(1, T.shape[0])])


def _svd_loop(T):
    return np.array([ess_from_singular_values(np.linalg.svd(T[i:, :i])[1], (T.shape[0] - i, i))
                     for i in range(1, T.shape[0])])


def main(cases=None, repeats=1):
    """Time every case of ``cases`` (default :data:`CASES`); print and return the table rows."""
    rows = []
    for name, spec in (CASES if cases is None else cases).items():
        T = diagonal_ssm(spec["L"], spec["state"], seed=0).matrix
        fast, profile = _seconds(lambda: ess(T), repeats)
        rank, by_rank = _seconds(lambda: _rank_loop(T), repeats)
        svd, by_svd = _seconds(lambda: _svd_loop(T), repeats)
        if not (np.array_equal(profile, by_rank) and np.array_equal(profile, by_svd)):
            raise AssertionError(f"{name}: the three ESS profiles differ")
        rows.append({"case": name, "splits": spec["L"] - 1, "max ESS": int(profile.max()), "ess s": fast,
                     "matrix_rank loop s": rank, "full SVD loop s": svd, "rank loop/ess": rank / fast,
                     "svd loop/ess": svd / fast})
    print(table(rows, list(rows[0])))
    return rows


if __name__ == "__main__":
    main()
