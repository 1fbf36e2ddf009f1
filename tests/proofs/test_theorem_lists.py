"""Every proofs module lists each of its theorems in THEOREMS, sourced, with the symbols it declares."""
import importlib

import pytest

from tests.proofs._obligations import assert_listed_and_sourced

MODULES = ("poc_mfld", "metastable_cot", "doob_alignment", "dfiv_rates", "icl_cot", "contrastive_etf",
           "memory_capacity", "implicit_bias", "reversal_curse")


@pytest.mark.parametrize("name", MODULES)
def test_every_theorem_is_listed_and_sourced(name):
    assert_listed_and_sourced(importlib.import_module(f"proofs.{name}"))


def test_every_proofs_module_is_checked():
    import pkgutil

    import proofs

    found = {m.name for m in pkgutil.iter_modules(proofs.__path__) if not m.name.startswith("_") and m.name != "theorem"}
    assert found == set(MODULES)
