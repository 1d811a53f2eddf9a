"""The records every service passes around: a canonical record on its way in, a problem, a tally.

This module imports nothing of the hub's services (cf. Airbyte's ``airbyte_cdk/models``), so the
sync engine, the ingestor and the clue pool can all speak of one page's records without importing
each other (docs/architecture.md, "The rooms and the arrows").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["IngestResult", "Item", "Problem", "Touched", "counts_of"]


@dataclass(frozen=True, slots=True)
class Item:
    """A canonical record (one of ``connectors.base``'s ``…In`` types) and the raw record it came from."""

    entity: Any
    raw_record_id: int | None


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a record could not be stored (the sync quarantines it with this reason)."""

    raw_record_id: int | None
    reason: str
    field: str | None = None


@dataclass
class IngestResult:
    """What storing a batch of records did: rows created, updated and unchanged, and the problems.

    Not to be confused with ``connectors.base.Outcome``, a clue's result written back to a channel.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        """Count ``other`` into this result."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.problems = self.problems + other.problems


@dataclass(frozen=True, slots=True)
class Touched:
    """The projects and enterprises whose rows a page created or changed, and the tables it wrote
    (what the warning rules read: only the rules reading one of ``tables`` need evaluating again)."""

    project_ids: frozenset[int] = frozenset()
    enterprise_ids: frozenset[int] = frozenset()
    tables: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.project_ids or self.enterprise_ids)

    def __or__(self, other: Touched) -> Touched:
        """What two pages touched together (an evaluation coalesced over several pages)."""
        return Touched(
            self.project_ids | other.project_ids,
            self.enterprise_ids | other.enterprise_ids,
            self.tables | other.tables,
        )


def counts_of(result: IngestResult) -> Counter[str]:
    """The result as counts (``quarantined``: records with a problem)."""
    return Counter(
        created=result.created, updated=result.updated, unchanged=result.unchanged, quarantined=len(result.problems)
    )
