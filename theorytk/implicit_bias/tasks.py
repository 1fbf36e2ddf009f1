r"""The two regular-language tasks: even pairs and parity, every string of length 1..L with its label.

Alphabet :math:`\{a, b\}`, encoded as tokens 0 (a) and 1 (b). A data set holds every string of
length :math:`1, \dots, L` (:math:`N = 2^{L+1} - 2` strings), padded with -1 to length L, and its
label :math:`y \in \{-1, +1\}`.

* **Even pairs** (Delétang et al., ICLR 2023, "Neural Networks and the Chomsky Hierarchy"):
  :math:`y = +1` iff the number of *contiguous* pairs ``ab`` plus ``ba`` is even. That count is the
  number of letter changes along the string, so even pairs :math:`\iff` first token = last token
  (exact; checked against the direct count in the tests). The paper's abstract speaks of
  "occurrences of certain subsequences"; the contiguous reading is the standard one and ours
  [unconfirmed against Sec. 2 of Huang, Liang, Yang, ICML 2025, arXiv 2505.00926, whose full text
  was not reached]; the non-contiguous reading would count :math:`n_a n_b`, a different task.
* **Parity check**: :math:`y = +1` iff the number of b's is even [which symbol is counted:
  unconfirmed; counting a's instead flips the label of every string of odd length]. A third-party
  note on the paper (a paper-note page in the stored code index, id 61396501216) states the same
  two definitions: even pairs = "ab" plus "ba" even, equivalent to first = last; parity = number of
  b's even [secondary].
* **Parity by truncated CoT** (:func:`cot_windows`, :func:`parity_cot`) [secondary: the same note;
  the paper's own text was not reached]: from a string :math:`x_1..x_n`, each CoT step compares the
  first and the last token of the current window, appends the answer (``a`` if they are equal, else
  ``b``) and drops the first token, so the window keeps length n. With a = 0, b = 1 the appended
  tokens are :math:`y_1 = x_1 \oplus x_n`, :math:`y_{k+1} = x_{k+1} \oplus y_k`, hence
  :math:`y_{n-1} = x_1 \oplus \dots \oplus x_n` is the parity after n - 1 steps [derived here;
  checked over all strings in the tests], and every step's label is the even-pairs label of its window.
  CoT training (teacher forcing) is the loss on those windows plus the even-pairs loss as a
  regulariser, :math:`\mathcal L_{Parity} = \mathcal L_{CoT} + \mathcal L_{Reg}` [secondary].
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate

__all__ = ["LanguageTask", "all_strings", "cot_windows", "even_pairs", "parity", "parity_cot"]

MAX_LENGTH = 16
"""Longest L accepted: 2^17 - 2 strings, already far beyond a full-batch GD study."""


@dataclass(frozen=True, eq=False)
class LanguageTask:
    """Every string of length 1..L over {a, b} with its label.

    Attributes
    ----------
    name : str
        ``"even_pairs"`` or ``"parity"``.
    max_length : int
        L.
    tokens : numpy.ndarray of int64, shape (N, L)
        Token ids (0 = a, 1 = b), padded with -1 after each string's end.
    lengths : numpy.ndarray of int64, shape (N,)
    labels : numpy.ndarray of float64, shape (N,)
        +1 or -1.
    """

    name: str
    max_length: int
    tokens: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    @property
    def size(self):
        """N, the number of strings."""
        return int(self.lengths.size)

    def strings(self):
        """The strings as text over {a, b}."""
        return ["".join("ab"[t] for t in row[:n]) for row, n in zip(self.tokens, self.lengths)]

    def with_labels(self, labels, name=None):
        """The same strings with other labels (e.g. shuffled): a new task."""
        labels = _validate.array("labels", labels, shape=(self.size,))
        if not np.all(np.abs(labels) == 1.0):
            raise ValueError("labels must all be +1 or -1")
        labels.setflags(write=False)
        return LanguageTask(name or self.name, self.max_length, self.tokens, self.lengths, labels)


def all_strings(max_length):
    """Every string of length 1..``max_length`` over {0, 1}: ``(tokens (N, L) padded with -1, lengths (N,))``.

    Ordered by length, then lexicographically (a < b).
    """
    L = _validate.integer("max_length", max_length, minimum=1, maximum=MAX_LENGTH)
    rows, lengths = [], []
    for n in range(1, L + 1):
        codes = np.arange(2**n)
        bits = (codes[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1
        rows.append(np.concatenate([bits, -np.ones((2**n, L - n), dtype=np.int64)], axis=1))
        lengths.append(np.full(2**n, n))
    return np.ascontiguousarray(np.concatenate(rows), dtype=np.int64), np.concatenate(lengths).astype(np.int64)


def _task(name, max_length, label_of):
    tokens, lengths = all_strings(max_length)
    labels = np.array([label_of(row[:n]) for row, n in zip(tokens, lengths)], dtype=float)
    for a in (tokens, lengths, labels):
        a.setflags(write=False)
    return LanguageTask(name, int(max_length), tokens, lengths, labels)


def even_pairs(max_length):
    """The even-pairs task: y = +1 iff the string's first token equals its last (see the module docstring).

    Parameters
    ----------
    max_length : int
        L in [1, 16]; the task holds every string of length 1..L.

    Returns
    -------
    LanguageTask
    """
    return _task("even_pairs", max_length, lambda s: 1.0 if s[0] == s[-1] else -1.0)


def parity(max_length):
    """The parity-check task: y = +1 iff the number of b's (token 1) is even.

    Parameters
    ----------
    max_length : int
        L in [1, 16].

    Returns
    -------
    LanguageTask
    """
    return _task("parity", max_length, lambda s: 1.0 if int(np.sum(s)) % 2 == 0 else -1.0)


def cot_windows(string):
    """The teacher-forced truncated-CoT windows of ``string`` (tokens 0/1, length n >= 2) and their labels.

    Returns ``(windows, labels, answer)``: ``windows`` (n - 1, n), the window before each CoT step;
    ``labels`` (n - 1,), +1 where the step appends ``a`` (its first and last tokens are equal), else -1;
    ``answer``, the last appended token (the parity of the b's: 0 even). See the module docstring.
    """
    window = [int(t) for t in string]
    if len(window) < 2 or any(t not in (0, 1) for t in window):
        raise ValueError(f"string must hold at least two tokens in {{0, 1}}, got {string!r}")
    windows, labels = [], []
    for _ in range(len(window) - 1):
        appended = window[0] ^ window[-1]
        windows.append(list(window))
        labels.append(1.0 if appended == 0 else -1.0)
        window = window[1:] + [appended]
    return np.array(windows, dtype=np.int64), np.array(labels), window[-1]


def parity_cot(max_length, cot_length):
    """The CoT-training set for parity: ``L_CoT + L_Reg`` of the module docstring as one data set.

    Every string of length 1..``max_length`` with its even-pairs label (the regulariser), followed by the
    teacher-forced windows (:func:`cot_windows`) of every string of length ``cot_length`` with their step
    labels. The loss of :func:`~theorytk.implicit_bias.train` is the mean over all of them (the note's
    per-length weights are not reproduced; any positive weights leave the max-margin limit unchanged).

    Parameters
    ----------
    max_length : int
        L in [2, 16].
    cot_length : int
        L_0 in [2, L]: the length of the parity strings whose CoT windows are trained (the note: L_0 = 4 with L = 6).

    Returns
    -------
    LanguageTask
        Named ``"parity_cot"``.
    """
    L = _validate.integer("max_length", max_length, minimum=2, maximum=MAX_LENGTH)
    L0 = _validate.integer("cot_length", cot_length, minimum=2, maximum=L)
    regulariser = even_pairs(L)
    strings, _ = all_strings(L0)
    steps = [cot_windows(row) for row in strings[-2**L0:]]                 # the strings of length L0
    windows = np.concatenate([w for w, _, _ in steps])
    tokens = np.concatenate([regulariser.tokens, np.pad(windows, ((0, 0), (0, L - L0)), constant_values=-1)])
    lengths = np.concatenate([regulariser.lengths, np.full(windows.shape[0], L0)])
    labels = np.concatenate([regulariser.labels] + [y for _, y, _ in steps])
    for a in (tokens, lengths, labels):
        a.setflags(write=False)
    return LanguageTask("parity_cot", L, np.ascontiguousarray(tokens, dtype=np.int64), lengths.astype(np.int64), labels)
