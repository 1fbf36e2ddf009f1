"""SplitMix64 streams: one 64-bit state per walker or prompt, in numba kernels and in NumPy twins.

A stream depends only on its seed, never on the thread that runs it, so a kernel that gives
every item of a ``prange`` its own stream returns the same numbers on any number of threads,
and the vectorised NumPy twins below reproduce them (uniforms exactly; normals to rounding of
``log``/``cos``/``sin``, whose last bit NumPy's SIMD loops and the C library may round
differently).

* :func:`uniform` / :func:`uniforms`: the next output's top 53 bits times 2^-53, uniform on [0, 1);
* :func:`normal_pair` / :func:`normals`: two independent standard normals from two uniforms by
  the Box-Muller transform [2]_, :math:`r = \\sqrt{-2\\log(1 - u_1)}`, :math:`(r\\cos 2\\pi u_2,
  r\\sin 2\\pi u_2)` (``1 - u_1`` lies in (0, 1], so the logarithm is finite);
* :func:`mix`: a stream's seed from a root seed and an index, one SplitMix64 output of their
  combination (distinct indices give unrelated streams).

References
----------
.. [1] G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014 (SplitMix64).
.. [2] G. E. P. Box, M. E. Muller, "A note on the generation of random normal deviates",
   Ann. Math. Statist. 29(2), 610-611, 1958.
"""
import math

import numpy as np

from theorytk._jit import kernel

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
S30, S27, S31, S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
UNIT = 1.0 / 9007199254740992.0  # 2^-53
TWO_PI = 2.0 * math.pi


@kernel(inline="always")
def _output(z):
    z = (z ^ (z >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


@kernel(inline="always")
def uniform(state):
    """Advance a SplitMix64 state; return ``(new_state, u)`` with ``u`` uniform on [0, 1)."""
    state = state + GOLDEN
    return state, float(_output(state) >> S11) * UNIT


@kernel(inline="always")
def normal_pair(state):
    """Advance a state twice; return ``(new_state, z1, z2)``, two standard normals (Box-Muller)."""
    state, u1 = uniform(state)
    state, u2 = uniform(state)
    r = math.sqrt(-2.0 * math.log(1.0 - u1))
    return state, r * math.cos(TWO_PI * u2), r * math.sin(TWO_PI * u2)


@kernel(inline="always")
def mix(seed, index):
    """The seed of stream ``index`` under the root ``seed`` (both uint64)."""
    return _output(seed + (index + np.uint64(1)) * GOLDEN)


def uniforms(states):
    """Advance SplitMix64 states (uint64 array, in place); return their uniforms on [0, 1)."""
    states += GOLDEN
    z = states.copy()
    z ^= z >> S30
    z *= MIX1
    z ^= z >> S27
    z *= MIX2
    z ^= z >> S31
    return (z >> S11).astype(np.float64) * UNIT


def normals(states, pairs):
    """``pairs`` Box-Muller pairs per state (uint64 array, advanced in place): shape ``states.shape + (2 pairs,)``.

    Entry ``2i`` and ``2i + 1`` of a stream are the two normals of its ``i``-th
    :func:`normal_pair`, so this is the kernel's sequence, vectorised over streams.
    """
    out = np.empty(states.shape + (2 * pairs,))
    for i in range(pairs):
        u1, u2 = uniforms(states), uniforms(states)
        r = np.sqrt(-2.0 * np.log(1.0 - u1))
        out[..., 2 * i], out[..., 2 * i + 1] = r * np.cos(TWO_PI * u2), r * np.sin(TWO_PI * u2)
    return out


def mixed(seed, indices):
    """:func:`mix` of one root ``seed`` with each of ``indices``, vectorised (uint64 in and out)."""
    z = np.uint64(seed) + (np.asarray(indices, dtype=np.uint64) + np.uint64(1)) * GOLDEN
    z = z ^ (z >> S30)
    z = z * MIX1
    z = z ^ (z >> S27)
    z = z * MIX2
    return z ^ (z >> S31)
