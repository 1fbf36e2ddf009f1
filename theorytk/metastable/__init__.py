"""Metastable Markov chains for chain-of-thought reasoning.

Kim, Wu, Lee, Suzuki, "Metastable dynamics of chain-of-thought reasoning: provable benefits
of search, RL and distillation", ICML 2025 (arXiv 2502.01694). Chains of K dense clusters
joined by sparse edges of probability eps (:func:`cot_chain`, :func:`chain_from_csr`);
exact hitting times, committors, stationary law, metastable spectrum, quasi-stationary
exit and potential theory by sparse linear algebra (:mod:`.exact`); Monte Carlo walkers
(:func:`simulate_hitting`); rewarding sparse edges (:func:`boost_sparse_edges`,
:func:`sparse_edge_search`), PPO-Clip/REINFORCE finetuning of a softmax model
(:func:`finetune`) and distillation to the meta-chain (:func:`distill`); the local-information
limit (:func:`lifted_chain`, :func:`local_search`, :func:`edge_views`).
"""
from theorytk.metastable.chains import EDGE_KINDS, CotChain, chain_from_csr, cot_chain
from theorytk.metastable.distill import MetaChain, aggregate, distill
from theorytk.metastable.exact import (
    HittingSolver,
    HittingTimes,
    PotentialTheory,
    QuasiStationary,
    Spectrum,
    committor,
    hitting_times,
    leading_term,
    metastable_eigenvalues,
    potential_theory,
    quasi_stationary,
    renewal_hitting_time,
    stationary_distribution,
    time_reversal,
)
from theorytk.metastable.finetune import FinetuneDiverged, FinetuneResult, SoftmaxModel, finetune, pretrain
from theorytk.metastable.local import LocalSearchResult, edge_views, lifted_chain, local_search, state_views
from theorytk.metastable.montecarlo import HittingSample, WalkersCensored, simulate_hitting
from theorytk.metastable.search import (
    SearchResult,
    boost_sparse_edges,
    default_search_plan,
    predicted_recall,
    sparse_edge_search,
)

__all__ = [
    "EDGE_KINDS",
    "CotChain",
    "FinetuneDiverged",
    "FinetuneResult",
    "HittingSample",
    "HittingSolver",
    "HittingTimes",
    "LocalSearchResult",
    "MetaChain",
    "PotentialTheory",
    "QuasiStationary",
    "SearchResult",
    "SoftmaxModel",
    "Spectrum",
    "WalkersCensored",
    "aggregate",
    "boost_sparse_edges",
    "chain_from_csr",
    "committor",
    "cot_chain",
    "default_search_plan",
    "distill",
    "edge_views",
    "finetune",
    "hitting_times",
    "leading_term",
    "lifted_chain",
    "local_search",
    "metastable_eigenvalues",
    "potential_theory",
    "predicted_recall",
    "pretrain",
    "quasi_stationary",
    "renewal_hitting_time",
    "simulate_hitting",
    "sparse_edge_search",
    "state_views",
    "stationary_distribution",
    "time_reversal",
]
