"""Numba kernels for the small multilayer perceptrons of DFIV: whole-network forward, backward, Adam.

A feature network is a chain of dense layers ``a_{l+1} = act(a_l W_l + b_l)`` (ReLU on the
hidden layers, ReLU or the identity on the last). All weights and biases live in one flat
parameter vector, layer by layer (``W_l`` row-major, then ``b_l``); ``sizes`` holds the
layer widths. The activations of every layer live in one flat buffer, layer l as an
``(n, sizes[l])`` row-major block starting at ``offsets[l]``.

The rows are cut into fixed blocks of :data:`BLOCK` rows, and each block runs through *all*
layers on one thread (``prange``): the block's activations stay in cache between layers,
the bias and ReLU are fused into one pass after each product, and each product is one BLAS
call on the block (BLAS itself single-threaded). The backward pass writes each block's
weight gradient into its own row of a ``(n_blocks, n_params)`` scratch array and then sums
the rows *in block order*, so the result does not depend on the number of threads. The
block partition depends only on n, never on the thread count.

No validation: :mod:`theorytk.dfiv.features` checks inputs. The plain-NumPy twins are in
:mod:`theorytk.dfiv.reference`.
"""
import numpy as np
from numba import prange

from theorytk._jit import kernel

BLOCK = 128
"""Rows per block: a 128 x 128 activation block (128 KiB) stays in L2 across layers."""


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


@kernel(parallel=True)
def mlp_forward(x, params, sizes, output_relu, acts, offsets):
    """Fill the activations of layers 1..L for inputs ``x`` (n, sizes[0])."""
    n = x.shape[0]
    layers = sizes.size - 1
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        i0 = blk * BLOCK
        i1 = min(n, i0 + BLOCK)
        for l in range(layers):
            w, b = _layer(params, sizes, l)
            out = _activations(acts, offsets, sizes, n, l + 1)[i0:i1]
            if l == 0:
                np.dot(x[i0:i1], w, out)
            else:
                np.dot(_activations(acts, offsets, sizes, n, l)[i0:i1], w, out)
            relu = l < layers - 1 or output_relu
            for i in range(i1 - i0):
                for j in range(out.shape[1]):
                    v = out[i, j] + b[j]
                    out[i, j] = 0.0 if relu and v < 0.0 else v


@kernel
def _block_backward(x, params, sizes, output_relu, acts, offsets, grad_out, partial_row, i0, i1):
    """Backward pass of rows i0:i1 through every layer; their weight gradients into ``partial_row``."""
    n = x.shape[0]
    layers = sizes.size - 1
    g = grad_out[i0:i1].copy()
    for l in range(layers - 1, -1, -1):
        w, _ = _layer(params, sizes, l)
        gw, gb = _layer(partial_row, sizes, l)
        width = sizes[l + 1]
        if l < layers - 1 or output_relu:
            out = _activations(acts, offsets, sizes, n, l + 1)[i0:i1]
            for i in range(i1 - i0):
                for j in range(width):
                    if out[i, j] <= 0.0:
                        g[i, j] = 0.0
        for j in range(width):
            gb[j] = 0.0
        for i in range(i1 - i0):
            for j in range(width):
                gb[j] += g[i, j]
        if l == 0:
            np.dot(x[i0:i1].T, g, gw)
        else:
            np.dot(_activations(acts, offsets, sizes, n, l)[i0:i1].T, g, gw)
            g = np.dot(g, w.T)


@kernel(parallel=True)
def mlp_backward(x, params, sizes, output_relu, acts, offsets, grad_out, grad, partial):
    """dL/dparams into ``grad`` given dL/d(last activations) ``grad_out`` (n, sizes[-1]).

    ``partial`` is (n_blocks, n_params) scratch; its rows are summed in block order.
    """
    n = x.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        _block_backward(x, params, sizes, output_relu, acts, offsets, grad_out, partial[blk], blk * BLOCK,
                        min(n, blk * BLOCK + BLOCK))
    for k in prange(grad.size):
        s = 0.0
        for blk in range(n_blocks):
            s += partial[blk, k]
        grad[k] = s


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
