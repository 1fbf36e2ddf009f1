"""Planted wrong models: a verdict is worth something only if it can fail.

A validation declares a few :class:`Mutant` s, wrong models that a real bug or a wrong
theory would give (a wrong temperature, a dropped correction, features that do not learn),
runs its claims on each of them as well as on the true model, and records which claims
reject which mutant. :class:`Discrimination` is that matrix, claim x mutant:

* ``"rejects"``: the claim holds on the true model and fails on the mutant;
* ``"accepts"``: the claim holds on the mutant too (it cannot tell them apart);
* ``"absent"``: the mutant run made no claim of that name.

The targets of a validation: every mutant is rejected by at least one claim, and every
claim rejects at least one mutant or is labelled a sanity check (``Claim.sanity``). This is
mutation testing [1]_ applied to a scientific verdict rather than to a test suite.

References
----------
.. [1] R. A. DeMillo, R. J. Lipton, F. G. Sayward, "Hints on test data selection: help for
   the practicing programmer", *Computer* 11(4), 34-41, 1978.
"""
from collections.abc import Mapping
from dataclasses import dataclass

from theorytk.claims import Verdicts

__all__ = ["Discrimination", "Mutant"]

REJECTS, ACCEPTS, ABSENT = "rejects", "accepts", "absent"


def _identifier(name):
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"mutant name must be a Python identifier (it tags configs and flags), got {name!r}")
    return name


@dataclass(frozen=True)
class Mutant:
    """A planted wrong model.

    Parameters
    ----------
    name : str
        An identifier, e.g. ``"wrong_temperature"``; runs of the mutant carry it as the
        config entry ``"mutant"``.
    description : str
        The wrong model in one sentence, and the bug or wrong theory it stands for.
    """

    name: str
    description: str

    def __post_init__(self):
        _identifier(self.name)
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValueError(f"mutant {self.name}: description must be a non-empty str")


@dataclass(frozen=True)
class Discrimination:
    """Which claims reject which planted wrong model.

    Build it with :meth:`of`. ``matrix[claim][mutant]`` is ``"rejects"``, ``"accepts"`` or
    ``"absent"``; ``sanity`` names the claims labelled sanity checks; ``errors`` maps a
    mutant whose run raised to the error's text (a mutant run that fails is counted as not
    rejected: a crash is no verdict).
    """

    claims: tuple
    mutants: tuple
    matrix: dict
    sanity: frozenset
    errors: dict

    @classmethod
    def of(cls, truth, by_mutant, mutants, errors=None):
        """The matrix from the true model's ``Verdicts`` and each mutant's.

        Parameters
        ----------
        truth : Verdicts
            The claims on the true model.
        by_mutant : Mapping[str, Verdicts]
            The same experiment's claims on each mutant (by mutant name).
        mutants : sequence of Mutant
            Every declared mutant (one that is missing from ``by_mutant`` must be in ``errors``).
        errors : Mapping[str, str], optional
            Mutants whose run raised, with the message.
        """
        if not isinstance(truth, Verdicts):
            raise TypeError(f"truth must be Verdicts, got {type(truth).__name__}")
        mutants = tuple(mutants)
        if not all(isinstance(m, Mutant) for m in mutants):
            raise TypeError("mutants must be a sequence of Mutant")
        errors = dict(errors or {})
        if not isinstance(by_mutant, Mapping):
            raise TypeError(f"by_mutant must be a mapping of mutant name to Verdicts, got {type(by_mutant).__name__}")
        unknown = sorted((set(by_mutant) | set(errors)) - {m.name for m in mutants})
        if unknown:
            raise ValueError(f"by_mutant and errors name undeclared mutants {unknown}")
        names = tuple(claim.name for claim in truth)
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"claim names must be unique to match them across mutants, repeated: {repeated}")
        matrix = {}
        for claim in truth:
            row = {}
            for mutant in mutants:
                outcome = {c.name: c.holds for c in by_mutant.get(mutant.name, ())}
                if claim.name not in outcome:
                    row[mutant.name] = ABSENT
                else:
                    row[mutant.name] = REJECTS if claim.holds and not outcome[claim.name] else ACCEPTS
            matrix[claim.name] = row
        sanity = frozenset(claim.name for claim in truth if claim.is_sanity_check)
        return cls(names, mutants, matrix, sanity, errors)

    def rejecting(self, mutant):
        """Names of the claims that reject ``mutant`` (a name)."""
        return [claim for claim in self.claims if self.matrix[claim][mutant] == REJECTS]

    @property
    def unrejected_mutants(self):
        """Mutants that no claim rejects (each a finding)."""
        return [m.name for m in self.mutants if not self.rejecting(m.name)]

    @property
    def idle_claims(self):
        """Claims that are not sanity checks and reject no mutant (each a finding)."""
        return [c for c in self.claims if c not in self.sanity
                and not any(v == REJECTS for v in self.matrix[c].values())]

    @property
    def all_rejected(self):
        """Every declared mutant is rejected by some claim (False when none is declared)."""
        return bool(self.mutants) and not self.unrejected_mutants

    def to_dict(self):
        """JSON-safe: declared mutants, the matrix, and the counts of the targets."""
        return {
            "declared": [{"name": m.name, "description": m.description,
                          "rejected_by": self.rejecting(m.name), "error": self.errors.get(m.name)}
                         for m in self.mutants],
            "matrix": self.matrix,
            "all_rejected": self.all_rejected,
            "n_mutants": len(self.mutants),
            "n_rejected": len(self.mutants) - len(self.unrejected_mutants),
            "unrejected": self.unrejected_mutants,
            "n_sanity_checks": len(self.sanity),
            "idle_claims": self.idle_claims,
        }

    def summary(self):
        """Text: one line per mutant (rejected by how many claims), then the findings."""
        lines = []
        for m in self.mutants:
            by = self.rejecting(m.name)
            state = f"rejected by {len(by)} claim(s)" if by else "NOT REJECTED"
            error = f" (run failed: {self.errors[m.name]})" if m.name in self.errors else ""
            lines.append(f"mutant {m.name:<28} {state}{error}: {m.description}")
        lines.append(f"{len(self.mutants) - len(self.unrejected_mutants)} of {len(self.mutants)} mutants rejected; "
                     f"{len(self.sanity)} sanity check(s); claims rejecting no mutant: "
                     f"{', '.join(self.idle_claims) if self.idle_claims else 'none'}.")
        return "\n".join(lines)
