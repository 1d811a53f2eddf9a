"""Prefetching a page's relations, so that relation fields resolve without a coroutine per value.

A page of 100 clues asking for each clue's enterprise and project would otherwise run one async
resolver — a coroutine, a Task and a DataLoader future — per clue and relation, and that, not the
SQL, dominated the request (bench/README.md). Instead, the query root looks at the selection, loads
each selected relation of the whole page in one batch (the same DataLoaders, so still one statement
per relation), level by level, and the relation resolvers then find their value in the loader's
cache and return it synchronously. A value that was not prefetched (an unusual selection) still
comes through the loader, asynchronously: prefetching changes speed, never results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from hub import models as m

if TYPE_CHECKING:
    from strawberry.dataloader import DataLoader

    from schema.loaders import Loaders


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation field: which loader serves it, the key a parent row gives it, and the target model."""

    loader: Callable[[Loaders], DataLoader]
    key: Callable[[Any], Any]
    target: type
    many: bool = False


def _by_id(model: type, attr: str = "id") -> Callable[[Loaders], DataLoader]:
    return lambda loaders: loaders.by_id(model, attr)


def _children(model: type, fk: Any, order: Any = None) -> Callable[[Loaders], DataLoader]:
    return lambda loaders: loaders.children(model, fk, order=order)


REGION = Relation(_by_id(m.Region, "code"), lambda r: r.region_code, m.Region)

#: (model, GraphQL field name) → relation. Keep in step with the resolvers in schema/types/.
RELATIONS: dict[tuple[type, str], Relation] = {
    (m.Clue, "enterprise"): Relation(_by_id(m.Enterprise), lambda r: r.enterprise_id, m.Enterprise),
    (m.Clue, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
    (m.Clue, "region"): REGION,
    (m.Clue, "handlingRegion"): Relation(_by_id(m.Region, "code"), lambda r: r.handling_region_code, m.Region),
    (m.Clue, "channelRecords"): Relation(_children(m.ChannelRecord, m.ChannelRecord.clue_id), lambda r: r.id, m.ChannelRecord, True),
    (m.Clue, "actions"): Relation(_children(m.CaseAction, m.CaseAction.clue_id), lambda r: r.id, m.CaseAction, True),
    (m.ChannelRecord, "rawRecord"): Relation(_by_id(m.RawRecord), lambda r: r.raw_record_id, m.RawRecord),
    (m.ChannelRecord, "clue"): Relation(_by_id(m.Clue), lambda r: r.clue_id, m.Clue),
    (m.Enterprise, "region"): REGION,
    (m.Project, "region"): REGION,
    (m.Project, "contractor"): Relation(_by_id(m.Enterprise), lambda r: r.contractor_id, m.Enterprise),
    (m.Project, "builder"): Relation(_by_id(m.Enterprise), lambda r: r.builder_id, m.Enterprise),
    (m.Project, "wageAccounts"): Relation(_children(m.WageAccount, m.WageAccount.project_id), lambda r: r.id, m.WageAccount, True),
    (m.Project, "guaranteeDeposits"): Relation(
        _children(m.GuaranteeDeposit, m.GuaranteeDeposit.project_id), lambda r: r.id, m.GuaranteeDeposit, True),
    (m.Worker, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
    (m.Worker, "enterprise"): Relation(_by_id(m.Enterprise), lambda r: r.enterprise_id, m.Enterprise),
    (m.PayrollRecord, "worker"): Relation(_by_id(m.Worker), lambda r: r.worker_id, m.Worker),
    (m.PayrollRecord, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
    (m.PayrollRecord, "account"): Relation(_by_id(m.WageAccount), lambda r: r.account_id, m.WageAccount),
    (m.WageAccount, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
    (m.WageAccount, "enterprise"): Relation(_by_id(m.Enterprise), lambda r: r.enterprise_id, m.Enterprise),
    (m.Warning, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
    (m.Warning, "enterprise"): Relation(_by_id(m.Enterprise), lambda r: r.enterprise_id, m.Enterprise),
    (m.GuaranteeDeposit, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
    (m.GuaranteeDeposit, "enterprise"): Relation(_by_id(m.Enterprise), lambda r: r.enterprise_id, m.Enterprise),
    (m.LaborCostAllocation, "account"): Relation(_by_id(m.WageAccount), lambda r: r.account_id, m.WageAccount),
    (m.LaborCostAllocation, "project"): Relation(_by_id(m.Project), lambda r: r.project_id, m.Project),
}


def resolve(loaders: Loaders, row: Any, model: type, field: str) -> Any:
    """The relation's value: from the loader's cache when prefetched (sync), else a loader future."""
    relation = RELATIONS[(model, field)]
    key = relation.key(row)
    if key is None:
        return [] if relation.many else None
    loader = relation.loader(loaders)
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return loader.load(key)


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for sel in selections:
        if isinstance(sel, SelectedField):
            yield sel
        elif isinstance(sel, (InlineFragment, FragmentSpread)):
            yield from _fields(sel.selections)


def node_selections(connection_field: SelectedField) -> list[SelectedField]:
    """The fields selected on a connection's nodes (``edges { node { … } }`` and ``nodes { … }``)."""
    out: list[SelectedField] = []
    for f in _fields(connection_field.selections):
        if f.name == "nodes":
            out.extend(_fields(f.selections))
        elif f.name == "edges":
            for e in _fields(f.selections):
                if e.name == "node":
                    out.extend(_fields(e.selections))
    return out


async def prefetch(loaders: Loaders, model: type, rows: list[Any], selections: list[SelectedField], *, depth: int = 0) -> None:
    """Load every selected relation of ``rows`` (and theirs, recursively) into the loaders' caches."""
    if not rows or depth > 6:
        return
    wanted: dict[str, list[SelectedField]] = {}
    for f in selections:
        if (model, f.name) in RELATIONS:
            wanted.setdefault(f.name, []).append(f)
    for name, fields in wanted.items():
        relation = RELATIONS[(model, name)]
        keys = list(dict.fromkeys(k for k in (relation.key(r) for r in rows) if k is not None))
        if not keys:
            continue
        values = await relation.loader(loaders).load_many(keys)
        targets = [v for vs in values for v in vs] if relation.many else [v for v in values if v is not None]
        sub = [s for f in fields for s in _fields(f.selections)]
        await prefetch(loaders, relation.target, targets, sub, depth=depth + 1)
