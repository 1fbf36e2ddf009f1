"""Hypothesis properties of theorytk.reversal.

* For one-hot embeddings and any training subset (any directed pairs, inputs repeated or not),
  the logits of every entity that is never a training input stay exactly 0 at every step, so its
  next-token distribution is uniform; the tied model breaks this as soon as it is an output.
* For entity pairs of any size, share and step, every reverse-untrained p(A|B) = 1/M to rounding.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.reversal import BilinearModel, EntityTask, entity_pairs, train_bilinear


@st.composite
def one_hot_subsets(draw):
    M = draw(st.integers(3, 12))
    pairs = draw(st.lists(st.tuples(st.integers(0, M - 1), st.integers(0, M - 1)), min_size=1, max_size=2 * M))
    inputs = np.array([x for x, _ in pairs], dtype=np.int64)
    targets = np.array([y for _, y in pairs], dtype=np.int64)
    untrained = np.setdiff1d(np.arange(M), inputs)
    return M, inputs, targets, untrained


def _task(M, inputs, targets, untrained):
    tests = {"untrained": (untrained, np.zeros_like(untrained))}
    return EntityTask("pairs", M // 2, np.eye(M), inputs, targets, tests, np.zeros(M // 2, dtype=bool), "one_hot", 0)


@settings(max_examples=40, deadline=None)
@given(one_hot_subsets(), st.floats(0.1, 20.0), st.integers(0, 30))
def test_untrained_inputs_keep_zero_logits_for_any_training_subset(case, lr, steps):
    M, inputs, targets, untrained = case
    fit = train_bilinear(BilinearModel(_task(M, inputs, targets, untrained)), lr=lr, steps=steps,
                         record=range(steps + 1))
    rows = np.searchsorted(fit.probes, untrained)
    assert np.all(fit.logits[:, rows, :] == 0.0)
    if untrained.size:
        np.testing.assert_allclose(fit.probabilities("untrained"), 1.0 / M, rtol=1e-15)


@settings(max_examples=20, deadline=None)
@given(one_hot_subsets(), st.floats(0.5, 5.0))
def test_the_tied_model_moves_an_untrained_input_that_is_an_output(case, lr):
    M, inputs, targets, untrained = case
    hit = np.intersect1d(untrained, targets)
    fit = train_bilinear(BilinearModel(_task(M, inputs, targets, untrained), symmetric=True), lr=lr, steps=3)
    rows = np.searchsorted(fit.probes, hit)
    assert np.all(np.any(fit.logits[-1][rows] != 0.0, axis=1))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.floats(0.0, 0.9), st.floats(1.0, 80.0), st.integers(0, 10_000))
def test_reverse_untrained_pairs_stay_uniform(P, share, lr, seed):
    task = entity_pairs(P, share, seed=seed)
    fit = train_bilinear(BilinearModel(task), lr=lr, steps=50, until_loss=0.01)
    if task.pairs("reverse")[0].size:
        np.testing.assert_allclose(fit.probabilities("reverse"), 1.0 / task.M, rtol=1e-14)
