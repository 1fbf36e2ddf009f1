"""Numba kernels for the small multilayer perceptrons of DFIV: whole-network forward, backward, Adam.

A feature network is a chain of dense layers ``a_{l+1} = act(a_l W_l + b_l)`` (ReLU on the
hidden layers, ReLU or the identity on the last). All weights and biases live in one flat
parameter vector, layer by layer (``W_l`` row-major, then ``b_l``); ``sizes`` holds the
layer widths. The activations of every layer live in one flat buffer, layer l as an
``(n, sizes[l])`` row-major block starting at ``offsets[l]``.

The rows are cut into blocks of at most :data:`BLOCK` rows and equal size to within a row
(:func:`block_rows`), and each block runs through *all* layers on one thread (``prange``):
the block's activations stay in cache between layers, the bias is the accumulators'
starting value, and the ReLU (forward) or its derivative (backward) is applied to each
result tile as it is stored. The products are the register-tiled ones of
:mod:`theorytk._gemm` (not BLAS: a pthreads OpenBLAS called from two numba threads at once ran each call about
four times slower here). The backward pass writes each block's weight gradient into its
own row of a ``(n_blocks, n_params)`` scratch array and then sums the rows *in block
order*; the block partition depends only on n, so the result is the same on any number of
threads.

No validation: :mod:`theorytk.dfiv.features` checks inputs. The plain-NumPy twins are in
:mod:`theorytk.dfiv.reference`.
"""
import numpy as np
from numba import prange

from theorytk._gemm import GATE, PLAIN, RELU, column_sums, gemm_nn, gemm_tn
from theorytk._jit import kernel

BLOCK = 128
"""Rows per block, at most: a 128 x 128 activation block (128 KiB) stays in L2 across layers."""


@kernel
def n_blocks(n):
    """Number of row blocks of n rows: ``ceil(n / BLOCK)``."""
    return (n + BLOCK - 1) // BLOCK


@kernel
def block_rows(n, blk):
    """Rows ``[i0, i1)`` of block ``blk``: the n rows cut into :func:`n_blocks` blocks whose sizes
    differ by at most one (2500 rows: 20 blocks of 125, so two threads get equal work). The cut
    depends only on n, never on the thread count."""
    count = n_blocks(n)
    return blk * n // count, (blk + 1) * n // count


@kernel
def _layer(params, sizes, layer):
    """Views ``(W, b)`` of layer ``layer`` in the flat parameter vector."""
    at = 0
    for l in range(layer):
        at += sizes[l] * sizes[l + 1] + sizes[l + 1]
    a, b = sizes[layer], sizes[layer + 1]
    return params[at:at + a * b].reshape((a, b)), params[at + a * b:at + a * b + b]


@kernel
def _activations(acts, offsets, sizes, n, layer):
    """The ``(n, sizes[layer])`` block of layer ``layer`` (layer >= 1) in the flat activation buffer."""
    return acts[offsets[layer]:offsets[layer] + n * sizes[layer]].reshape((n, sizes[layer]))


@kernel
def _block_forward(x, params, sizes, output_relu, acts, offsets, i0, i1):
    n = x.shape[0]
    layers = sizes.size - 1
    for l in range(layers):
        w, b = _layer(params, sizes, l)
        out = _activations(acts, offsets, sizes, n, l + 1)
        gemm_nn(x if l == 0 else _activations(acts, offsets, sizes, n, l), w, b, out, i0, i1,
                RELU if l < layers - 1 or output_relu else PLAIN, out)


@kernel(parallel=True)
def mlp_forward(x, params, sizes, output_relu, acts, offsets):
    """Fill the activations of layers 1..L for inputs ``x`` (n, sizes[0])."""
    n = x.shape[0]
    for blk in prange(n_blocks(n)):
        i0, i1 = block_rows(n, blk)
        _block_forward(x, params, sizes, output_relu, acts, offsets, i0, i1)


@kernel
def _block_backward(x, weights_t, sizes, output_relu, acts, grad_out, deltas, offsets, zeros, partial_row, i0, i1):
    """Backward pass of rows i0:i1 through every layer; their weight gradients into ``partial_row``."""
    n = x.shape[0]
    layers = sizes.size - 1
    last = _activations(deltas, offsets, sizes, n, layers)
    out = _activations(acts, offsets, sizes, n, layers)
    for i in range(i0, i1):
        for j in range(last.shape[1]):
            last[i, j] = 0.0 if output_relu and out[i, j] <= 0.0 else grad_out[i, j]
    for l in range(layers - 1, -1, -1):
        delta = _activations(deltas, offsets, sizes, n, l + 1)
        gw, gb = _layer(partial_row, sizes, l)
        column_sums(delta, gb, i0, i1)
        if l == 0:
            gemm_tn(x, delta, gw, i0, i1)
        else:
            below = _activations(acts, offsets, sizes, n, l)
            gemm_tn(below, delta, gw, i0, i1)
            below_delta = _activations(deltas, offsets, sizes, n, l)
            wt, _ = _layer(weights_t, sizes[::-1], layers - 1 - l)
            gemm_nn(delta, wt, zeros, below_delta, i0, i1, GATE, below)


def backward_scratch(sizes, n):
    """Work arrays of :func:`mlp_backward` for ``n`` rows, allocated once per network and row count.

    ``(deltas, partial, weights_t)``: dL/d(pre-activation) of every layer (laid out like the
    activations), one weight-gradient row per block, and the transposed weights. Reusing
    them matters: a fresh multi-megabyte array per call costs a page fault per 4 KiB here
    (glibc returns large freed blocks to the system), more than the products themselves.
    """
    n_params = int(np.sum(sizes[:-1] * sizes[1:] + sizes[1:]))
    return (np.empty(n * int(sizes[1:].sum())), np.empty((n_blocks(n), n_params)),
            np.empty(n_params + int(sizes.sum())))


@kernel(parallel=True)
def mlp_backward(x, params, sizes, output_relu, acts, offsets, grad_out, grad, scratch):
    """dL/dparams into ``grad`` given dL/d(last activations) ``grad_out`` (n, sizes[-1]).

    ``scratch`` is :func:`backward_scratch` ``(sizes, n)``. Each block's gradient goes to its
    own row of ``scratch[1]``; the rows are then summed in block order.
    """
    n = x.shape[0]
    layers = sizes.size - 1
    blocks = n_blocks(n)
    deltas, partial, weights_t = scratch
    for l in range(layers):   # W_l^T, stored as the layers of the reversed network
        w, _ = _layer(params, sizes, l)
        wt, _ = _layer(weights_t, sizes[::-1], layers - 1 - l)
        wt[...] = w.T
    zeros = np.zeros(sizes.max())
    for blk in prange(blocks):
        i0, i1 = block_rows(n, blk)
        _block_backward(x, weights_t, sizes, output_relu, acts, grad_out, deltas, offsets, zeros, partial[blk], i0, i1)
    for chunk in prange((grad.size + BLOCK - 1) // BLOCK):   # contiguous runs of parameters; blocks in order
        k0, k1 = chunk * BLOCK, min(grad.size, chunk * BLOCK + BLOCK)
        grad[k0:k1] = partial[0, k0:k1]
        for blk in range(1, blocks):
            for k in range(k0, k1):
                grad[k] += partial[blk, k]


@kernel
def adam_step(params, grad, m, v, lr, beta1, beta2, eps, t):
    """One Adam update (Kingma & Ba 2015, Alg. 1; PyTorch's form) of ``params`` in place; ``t`` >= 1."""
    c1 = 1.0 - beta1**t
    c2 = 1.0 - beta2**t
    step = lr / c1
    for i in range(params.size):
        g = grad[i]
        m[i] = beta1 * m[i] + (1.0 - beta1) * g
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
        params[i] -= step * m[i] / (np.sqrt(v[i] / c2) + eps)
