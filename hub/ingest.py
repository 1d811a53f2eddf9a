"""Canonical records → rows: validation, reference resolution and batched upserts for one page.

One place where upstream data enters the canonical store (docs/architecture.md: writes go through hub/
services). For a page, each kind of record is handled in one batch: identifiers validated, natural
keys resolved with one SELECT per kind, existing rows fetched with one SELECT, then rows split into
inserts, updates and unchanged. A record that fails validation or points at something unknown is
returned as a ``Problem`` (the caller quarantines it); the rest of the page goes on. Clue-bearing
records go to the clue pool (:class:`hub.cluepool.ClueIntake`), which matches them.

On PostgreSQL a batch of at least ``copy_min_rows`` rows skips the SELECT and the executemany: it is
COPYed into a staging table and written with one INSERT … SELECT … ON CONFLICT (:mod:`hub.bulk`),
which says itself which rows it inserted, which it updated and (by omission) which were unchanged —
the same rows and counts as the row-by-row path, which SQLite and small batches keep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, BigInteger, String, and_, func, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from connectors.base import (
    AllocationIn,
    AttendanceIn,
    ClueIn,
    ContractIn,
    DepositIn,
    EnterpriseIn,
    ExpenseIn,
    MovementIn,
    OutputValueIn,
    PayrollIn,
    ProgressPaymentIn,
    ProjectIn,
    TeamIn,
    WageAccountIn,
    WorkerIn,
)
from hub import bulk
from hub import models as m
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.identifiers import (
    IdentifierError,
    mask_bank_card,
    mask_id_number,
    normalise_phone,
    validate_bank_card,
    validate_id_number,
    validate_permit_no,
    validate_region_code,
    validate_uscc,
)
from hub.models import utcnow
from hub.outbox import event_values
from hub.records import IngestResult, Item, Problem, Touched, counts_of
from hub.vocab import ContractRole, ExpenseAction, MovementKind

CIPHERTEXTS = frozenset({"id_number_enc", "bank_card_enc", "counterparty_account_enc"})
#: Order in which kinds are applied within a page, so that references resolve.
ORDER = (
    EnterpriseIn,
    ProjectIn,
    ContractIn,
    WageAccountIn,
    TeamIn,
    WorkerIn,
    MovementIn,
    AttendanceIn,
    AllocationIn,
    ExpenseIn,
    ProgressPaymentIn,
    OutputValueIn,
    PayrollIn,
    DepositIn,
    ClueIn,
)


class _Reject(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _ident(fn: Callable[..., str], value: str, field: str) -> str:
    """``value`` validated by ``fn``, or a :class:`_Reject` naming ``field`` and what is wrong (the
    validator's message: a personal identifier's quotes no part of it, docs/domain.md "Identifiers")."""
    try:
        return fn(value, field=field)
    except IdentifierError as exc:
        raise _Reject(str(exc), exc.field) from exc


class Ingestor:
    """Applies pages of canonical records within the caller's session and transaction."""

    def __init__(
        self,
        session: Session,
        *,
        cipher: Cipher,
        source: str,
        known_workers: dict[tuple[int, str], tuple[int, int]] | None = None,
        copy_min_rows: int | None = None,
        encrypt: Callable[[str], str] | None = None,
    ) -> None:
        self.session = session
        #: Encrypts personal values; the sync engine passes its archive sealer's, so that a value the
        #: page's raw records sealed already is not encrypted a second time (hub.archive.Sealer).
        self.encrypt = encrypt or cipher.encrypt
        #: Batches of at least this many rows are written through COPY on PostgreSQL (``None``: never).
        self._pg = bulk.supported(session)
        self.copy_min_rows = copy_min_rows if copy_min_rows is not None and self._pg else None
        self.cipher = cipher
        self.source = source
        #: (project id, ID-number hash) → (worker id, employer id) of committed workers, kept by the
        #: caller across the pages of a run (pay details name far fewer workers than records).
        self.known_workers = known_workers if known_workers is not None else {}
        #: Workers this page found or created: the caller adds them to ``known_workers`` once the
        #: page has committed (a rolled-back page must not leave ids behind).
        self.seen_workers: dict[tuple[int, str], tuple[int, int]] = {}
        #: Projects (by id, or by code when just inserted) and enterprises whose rows this page created
        #: or changed: the warning rules to evaluate again (:meth:`touched`).
        self._touched_projects: set[int] = set()
        self._touched_codes: set[str] = set()
        self._touched_enterprises: set[int] = set()
        self._touched_tables: set[str] = set()

    # -- the entry point ---------------------------------------------------------------------

    def apply(self, items: Sequence[Item]) -> IngestResult:
        """Store ``items``; returns counts and the records that could not be stored."""
        total = IngestResult()
        by_kind: dict[type, list[Item]] = {}
        for item in items:
            by_kind.setdefault(type(item.entity), []).append(item)
        for kind in ORDER:
            batch = by_kind.pop(kind, [])
            if batch:
                total.add(getattr(self, f"_apply_{kind.__name__[:-2].lower()}")(batch))
        for other, batch in by_kind.items():  # pragma: no cover - a connector returned something else
            total.problems.extend(Problem(i.raw_record_id, f"unsupported record type {other.__name__}") for i in batch)
        return total

    def touched(self) -> Touched:
        """The projects and enterprises whose rows the pages applied so far created or changed."""
        projects = set(self._touched_projects)
        if self._touched_codes:
            projects.update(v for v in self._lookup(m.Project, "project_code", self._touched_codes, "id").values())
        return Touched(frozenset(projects), frozenset(self._touched_enterprises), frozenset(self._touched_tables))

    # -- shared machinery -------------------------------------------------------------------

    def _prepare(
        self, batch: Sequence[Item], make: Callable[[Any], tuple[Any, dict[str, Any]]]
    ) -> tuple[dict[Any, tuple[Item, dict]], list[Problem]]:
        """Run ``make`` (validate → (natural key, row values)) on each item; last one wins per key."""
        rows: dict[Any, tuple[Item, dict]] = {}
        problems: list[Problem] = []
        for item in batch:
            try:
                key, values = make(item.entity)
            except _Reject as exc:
                problems.append(Problem(item.raw_record_id, exc.reason, exc.field))
                continue
            rows[key] = (item, values)
        return rows, problems

    def _upsert(
        self,
        model: type[Any],
        rows: dict[Any, tuple[Item, dict]],
        key_cols: Sequence[str],
        problems: list[Problem],
        *,
        event: Callable[[int, dict], tuple[str, str, dict]] | None = None,
        volatile: frozenset[str] = frozenset(),
    ) -> IngestResult:
        """Insert new rows, update changed ones, count unchanged ones; one SELECT to decide."""
        out = IngestResult(problems=problems)
        if not rows:
            return out
        if self._copies(len(rows)):
            return self._upsert_copied(model, rows, key_cols, out, event=event, volatile=volatile)
        cols = [getattr(model, c) for c in key_cols]
        keys = list(rows)
        existing: dict[Any, Any] = {}
        for chunk in _chunks(keys, 500):
            cond = cols[0].in_(chunk) if len(cols) == 1 else tuple_(*cols).in_(chunk)
            for row in self.session.execute(select(model).where(cond)).scalars():
                k = getattr(row, key_cols[0]) if len(cols) == 1 else tuple(getattr(row, c) for c in key_cols)
                existing[k] = row
        inserts: list[dict] = []
        updates: list[dict] = []
        changed_keys: list[Any] = []
        for key, (_item, values) in rows.items():
            row = existing.get(key)
            if row is None:
                inserts.append(values)
                continue
            # Volatile columns (ciphertexts: a new IV each time) are written with a change, never compared.
            changed = {c: v for c, v in values.items() if c not in volatile and not _same(getattr(row, c), v)}
            if changed:
                updates.append({"_id": row.id, **changed, **{c: values[c] for c in volatile if c in values}})
                changed_keys.append(key)
            else:
                out.unchanged += 1
        if inserts:
            self.session.execute(insert(model), inserts)
            out.created = len(inserts)
        # One executemany per set of changed columns (ORM bulk UPDATE by primary key), not one
        # statement per row: per-row ORM updates also scan the session, quadratic in the page size.
        by_columns: dict[frozenset[str], list[dict]] = {}
        for values in updates:
            row = {"id": values.pop("_id"), **values}
            by_columns.setdefault(frozenset(row), []).append(row)
        for rows_ in by_columns.values():
            self.session.execute(update(model), rows_)
        out.updated = len(updates)
        self._touch(model, inserts + [rows[k][1] for k in changed_keys])
        if event and (inserts or updates):
            inserted_keys = [v[key_cols[0]] if len(key_cols) == 1 else tuple(v[c] for c in key_cols) for v in inserts]
            self._events(model, cols, inserted_keys + changed_keys, event)
        return out

    def _copies(self, rows: int) -> bool:
        return self.copy_min_rows is not None and rows >= self.copy_min_rows

    def _upsert_copied(
        self,
        model: type[Any],
        rows: dict[Any, tuple[Item, dict]],
        key_cols: Sequence[str],
        out: IngestResult,
        *,
        event: Callable[[int, dict], tuple[str, str, dict]] | None,
        volatile: frozenset[str],
    ) -> IngestResult:
        """``_upsert`` through COPY and one INSERT … SELECT … ON CONFLICT per set of columns (hub.bulk)."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for _item, values in rows.values():
            groups.setdefault(tuple(values), []).append(values)
        has_project = "project_id" in model.__table__.c
        written: list[bulk.Written] = []
        for group in groups.values():
            written += bulk.upsert(self.session, model, group, key_cols, volatile=volatile, project=has_project)
        out.created = sum(1 for w in written if w.inserted)
        out.updated = len(written) - out.created
        out.unchanged = len(rows) - len(written)
        if written:
            self._touched_tables.add(model.__tablename__)
            if model is m.Project:
                self._touched_projects.update(w.id for w in written)
            else:
                self._touched_projects.update(w.project_id for w in written if w.project_id is not None)
        if event and written:
            self._events_of(model, model.id.in_, [w.id for w in written], event)
        return out

    def _touch(self, model: type[Any], written: list[dict[str, Any]]) -> None:
        if written:
            self._touched_tables.add(model.__tablename__)
        for values in written:
            if values.get("project_id") is not None:
                self._touched_projects.add(values["project_id"])
            elif model is m.Project:
                self._touched_codes.add(values["project_code"])

    def _events(
        self, model: type[Any], cols: list, keys: list[Any], event: Callable[[int, dict], tuple[str, str, dict]]
    ) -> None:
        """One outbox event per row just inserted or changed (re-read by natural key: inserts had no id)."""
        self._events_of(model, cols[0].in_ if len(cols) == 1 else tuple_(*cols).in_, keys, event)

    def _events_of(
        self, model: type[Any], where: Callable[[list[Any]], Any], keys: list[Any], event: Callable[..., Any]
    ) -> None:
        now = utcnow()
        for chunk in _chunks(keys, 500):
            cond = where(chunk)
            events: list[dict[str, Any]] = []
            for row in self.session.execute(select(model).where(cond)).scalars():
                type_, region_code, payload = event(row.id, row.__dict__)
                events.append(
                    event_values(
                        type_=type_,
                        region_code=region_code,
                        payload=payload,
                        entity_type=model.__tablename__,
                        entity_id=row.id,
                        at=now,
                    )
                )
            if events:
                self.session.execute(insert(m.Event), events)

    def _lookup(self, model: type, key: str, values: Iterable[Any], *cols: str) -> dict[Any, Any]:
        wanted = {v for v in values if v is not None}
        found: dict[Any, Any] = {}
        col = getattr(model, key)
        for chunk in _chunks(list(wanted), 500):
            stmt = select(col, *(getattr(model, c) for c in cols)).where(col.in_(chunk))
            for row in self.session.execute(stmt):
                found[row[0]] = row[1] if len(cols) == 1 else tuple(row[1:])
        return found

    def _workers(self, keys: Iterable[tuple[int, str]], *cols: str) -> dict[tuple[int, str], tuple]:
        """``cols`` of the workers with these (project id, ID-number hash) keys."""
        w = m.Worker
        columns = [getattr(w, c) for c in cols]
        found: dict[tuple[int, str], tuple] = {}
        for chunk in _chunks(sorted(set(keys)), 500 if not self._pg else 5000):
            stmt = select(w.project_id, w.id_number_hash, *columns)
            if self._pg:
                # A join with two unnested arrays: a list of 500 row constructors costs PostgreSQL more to
                # plan (one index probe per OR-ed pair) and psycopg more to parse than the lookup itself.
                pairs = (
                    func.unnest(
                        literal([k[0] for k in chunk], ARRAY(BigInteger)), literal([k[1] for k in chunk], ARRAY(String))
                    )
                    .table_valued("project_id", "id_hash")
                    .render_derived()
                )
                stmt = stmt.join(pairs, and_(w.project_id == pairs.c.project_id, w.id_number_hash == pairs.c.id_hash))
            else:
                stmt = stmt.where(tuple_(w.project_id, w.id_number_hash).in_(chunk))
            found.update({(r[0], r[1]): tuple(r[2:]) for r in self.session.execute(stmt)})
        return found

    # -- one method per kind ----------------------------------------------------------------

    def _apply_enterprise(self, batch: Sequence[Item]) -> IngestResult:
        def make(e: EnterpriseIn) -> tuple[Any, dict]:
            uscc = _ident(validate_uscc, e.uscc, "uscc")
            if not e.name.strip():
                raise _Reject("enterprise name is empty", "name")
            values = {"uscc": uscc, "name": e.name.strip(), "kind": e.kind, "region_code": uscc[2:8]}
            # A source that does not know an optional detail must not erase what another source sent.
            optional = {
                "legal_representative": e.legal_representative,
                "address": e.address,
                "short_name": e.short_name,
            }
            values.update({k: v for k, v in optional.items() if v is not None})
            return uscc, values

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.Enterprise, rows, ["uscc"], problems)

    def _apply_project(self, batch: Sequence[Item]) -> IngestResult:
        ents = self._lookup(
            m.Enterprise,
            "uscc",
            [i.entity.contractor_uscc for i in batch] + [i.entity.builder_uscc for i in batch],
            "id",
        )

        def make(p: ProjectIn) -> tuple[Any, dict]:
            region = _ident(validate_region_code, p.region_code, "regionCode")
            permit = _ident(validate_permit_no, p.permit_no, "permitNo") if p.permit_no else None
            contractor = ents.get(p.contractor_uscc)
            if contractor is None:
                raise _Reject(
                    f"unknown contractor USCC {p.contractor_uscc!r}: the enterprise must arrive first", "contractorUscc"
                )
            return p.project_code, {
                "project_code": p.project_code,
                "name": p.name,
                "region_code": region,
                "sector": p.sector,
                "status": p.status,
                "contractor_id": contractor,
                "builder_id": ents.get(p.builder_uscc),
                "address": p.address,
                "permit_no": permit,
                "permit_date": p.permit_date,
                "contract_value": p.contract_value,
                "contract_signed_on": p.contract_signed_on,
                "labour_cost_cycle_days": p.labour_cost_cycle_days,
                "labour_cost_ratio": p.labour_cost_ratio,
                "start_date": p.start_date,
                "planned_end_date": p.planned_end_date,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(
            m.Project,
            rows,
            ["project_code"],
            problems,
            event=lambda _id, r: (
                "project.upserted",
                r["region_code"],
                {"projectCode": r["project_code"], "status": r["status"]},
            ),
        )

    def _projects(self, codes: Iterable[str]) -> dict[str, tuple[int, str, int]]:
        return self._lookup(m.Project, "project_code", codes, "id", "region_code", "contractor_id")

    def _apply_wageaccount(self, batch: Sequence[Item]) -> IngestResult:
        projects = self._projects(i.entity.project_code for i in batch)
        ents = self._lookup(m.Enterprise, "uscc", [i.entity.contractor_uscc for i in batch], "id")

        def make(a: WageAccountIn) -> tuple[Any, dict]:
            proj = projects.get(a.project_code)
            if proj is None:
                raise _Reject(
                    f"unknown project code {a.project_code!r}: sync the permits connector first, then replay",
                    "projectCode",
                )
            ent = ents.get(a.contractor_uscc)
            if ent is None:
                raise _Reject(f"unknown contractor USCC {a.contractor_uscc!r}", "corpCode")
            values = {
                "salary_account": a.salary_account,
                "project_id": proj[0],
                "region_code": proj[1],
                "enterprise_id": ent,
                "bank_name": a.bank_name,
                "bank_code": a.bank_code,
                "salary_account_name": a.salary_account_name,
                "open_account_date": a.open_account_date,
                "filed_date": a.filed_date,
                "status": a.status,
            }
            if a.account_balance is not None:
                values["account_balance"] = a.account_balance
            return a.salary_account, values

        rows, problems = self._prepare(batch, make)
        return self._upsert(
            m.WageAccount,
            rows,
            ["salary_account"],
            problems,
            event=lambda _id, r: ("wage_account.upserted", r["region_code"], {"salaryAccount": r["salary_account"]}),
        )

    def _apply_worker(self, batch: Sequence[Item]) -> IngestResult:
        projects = self._projects(i.entity.project_code for i in batch)
        ents = self._lookup(m.Enterprise, "uscc", [i.entity.corp_uscc for i in batch], "id")

        def make(w: WorkerIn) -> tuple[Any, dict]:
            proj = projects.get(w.project_code)
            if proj is None:
                raise _Reject(f"unknown project code {w.project_code!r}", "projectCode")
            idn = _ident(validate_id_number, w.id_number, "idCardNumber")
            card = _ident(validate_bank_card, w.bank_card, "payRollBankCardNumber") if w.bank_card else None
            phone = _ident(normalise_phone, w.phone, "phone") if w.phone else None
            return (proj[0], self.cipher.lookup_hash(idn)), self._worker_values(
                proj,
                ents.get(w.corp_uscc) or proj[2],
                idn,
                w.name,
                card,
                team_sys_no=w.team_sys_no,
                work_type=w.work_type,
                work_role=w.work_role,
                is_team_leader=w.is_team_leader,
                bank_code=w.bank_code,
                phone=phone,
                entry_date=w.entry_date,
                exit_date=w.exit_date,
                on_roster=True,
            )

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.Worker, rows, ["project_id", "id_number_hash"], problems, volatile=CIPHERTEXTS)

    def _worker_values(
        self, proj: tuple, enterprise_id: int, idn: str, name: str, card: str | None, **extra: Any
    ) -> dict:
        birth = dt.date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))
        values = {
            "project_id": proj[0],
            "region_code": proj[1],
            "enterprise_id": enterprise_id,
            "name": name,
            "id_number_hash": self.cipher.lookup_hash(idn),
            "id_number_masked": mask_id_number(idn),
            "id_number_enc": self.encrypt(idn),
            "gender": "M" if int(idn[16]) % 2 else "F",
            "birth_date": birth,
            **extra,
        }
        if card:
            values["bank_card_enc"] = self.encrypt(card)
            values["bank_card_masked"] = mask_bank_card(card)
        return values

    # -- the real-name platform: teams, entries and exits, attendance (_apply_team, _apply_movement,
    #    _apply_attendance) ----------------------------------------------------------------------

    def _apply_team(self, batch: Sequence[Item]) -> IngestResult:
        projects = self._projects(i.entity.project_code for i in batch)
        ents = self._lookup(m.Enterprise, "uscc", [i.entity.corp_uscc for i in batch], "id")

        def make(t: TeamIn) -> tuple[Any, dict]:
            proj = projects.get(t.project_code)
            if proj is None:
                raise _Reject(f"unknown project code {t.project_code!r}", "projectCode")
            uscc = _ident(validate_uscc, t.corp_uscc, "corpCode")
            ent = ents.get(uscc)
            if ent is None:
                raise _Reject(f"unknown corpCode {uscc!r}: the enterprise must arrive first", "corpCode")
            if not t.team_sys_no.strip():
                raise _Reject("teamSysNo is empty", "teamSysNo")
            return (proj[0], t.team_sys_no), {
                "project_id": proj[0],
                "region_code": proj[1],
                "enterprise_id": ent,
                "team_sys_no": t.team_sys_no,
                "name": t.name,
                "leader_name": t.leader_name,
                "entry_date": t.entry_date,
                "exit_date": t.exit_date,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.Team, rows, ["project_id", "team_sys_no"], problems)

    def _rostered(self, batch: Sequence[Item]) -> tuple[dict[str, tuple[int, str, int]], dict[tuple[int, str], tuple]]:
        """The projects a batch names, and (project id, ID hash) → (worker id, employer id, on roster,
        entry date, exit date) of the workers it names that the hub knows."""
        projects = self._projects(i.entity.project_code for i in batch)
        keys: set[tuple[int, str]] = set()
        for item in batch:
            proj = projects.get(item.entity.project_code)
            try:
                idn = validate_id_number(item.entity.id_number, field="idCardNumber")
            except IdentifierError:
                continue  # rejected with its reason by ``make``
            if proj is not None:
                keys.add((proj[0], self.cipher.lookup_hash(idn)))
        return projects, self._workers(keys, "id", "enterprise_id", "on_roster", "entry_date", "exit_date")

    def _roster_worker(
        self,
        projects: dict[str, tuple[int, str, int]],
        workers: dict[tuple[int, str], tuple],
        code: str,
        id_number: str,
    ) -> tuple[tuple[int, str, int], tuple]:
        """The project and the rostered worker a movement or attendance record names, or a rejection.

        保障农民工工资支付条例 第二十八条: nobody works on a site without real-name registration, so a
        record of someone the roster does not list is quarantined, never turned into a worker.
        """
        proj = projects.get(code)
        if proj is None:
            raise _Reject(f"unknown project code {code!r}", "projectCode")
        idn = _ident(validate_id_number, id_number, "idCardNumber")
        worker = workers.get((proj[0], self.cipher.lookup_hash(idn)))
        if worker is None or not worker[2]:
            raise _Reject(
                f"worker {mask_id_number(idn)} is not on the real-name roster of project {code!r}: "
                "sync the roster (workers) first, then replay",
                "idCardNumber",
            )
        return proj, worker

    def _apply_movement(self, batch: Sequence[Item]) -> IngestResult:
        projects, workers = self._rostered(batch)
        employers = self._lookup(m.Enterprise, "uscc", [i.entity.corp_uscc for i in batch], "id")
        kinds = {k.value for k in MovementKind}

        def make(v: MovementIn) -> tuple[Any, dict]:
            proj, worker = self._roster_worker(projects, workers, v.project_code, v.id_number)
            if v.kind not in kinds:
                raise _Reject(f"movement kind must be one of {', '.join(sorted(kinds))}, got {v.kind!r}", "moveType")
            exit_ = v.kind == MovementKind.EXIT
            if v.settlement_amount is not None and v.settlement_amount < 0:
                raise _Reject(f"settlement amount must not be negative, got {v.settlement_amount}", "settleAmount")
            return (worker[0], v.kind, v.moved_on), {
                "worker_id": worker[0],
                "project_id": proj[0],
                "region_code": proj[1],
                "enterprise_id": employers.get(v.corp_uscc) or worker[1],
                "kind": v.kind,
                "moved_on": v.moved_on,
                # 退场结算: only an exit says whether the wages were settled
                "settled": v.settled if exit_ else None,
                "settlement_amount": v.settlement_amount if exit_ else None,
                "settlement_date": v.settlement_date if exit_ else None,
            }

        rows, problems = self._prepare(batch, make)
        result = self._upsert(m.SiteMovement, rows, ["worker_id", "kind", "moved_on"], problems)
        self._move_workers(workers, rows)
        return result

    def _move_workers(self, workers: dict[tuple[int, str], tuple], rows: dict[Any, tuple[Item, dict]]) -> None:
        """The roster follows the movements: the latest entry is ``entry_date``, the latest exit
        ``exit_date`` — cleared when the worker came back after it. One UPDATE per set of columns."""
        current = {w[0]: (w[3], w[4]) for w in workers.values()}
        latest: dict[int, dict[str, dt.date]] = {}
        for worker_id, kind, day in rows:
            col = "entry_date" if kind == MovementKind.ENTRY else "exit_date"
            seen = latest.setdefault(worker_id, {})
            if col not in seen or day > seen[col]:
                seen[col] = day
        updates: dict[frozenset[str], list[dict[str, Any]]] = {}
        for worker_id, seen in latest.items():
            entry, exit_ = current[worker_id]
            new_entry = max((d for d in (entry, seen.get("entry_date")) if d is not None), default=None)
            new_exit = max((d for d in (exit_, seen.get("exit_date")) if d is not None), default=None)
            if new_exit is not None and new_entry is not None and new_entry > new_exit:
                new_exit = None  # re-entered after leaving: on site again
            changed = {
                c: v for c, v, old in (("entry_date", new_entry, entry), ("exit_date", new_exit, exit_)) if v != old
            }
            if changed:
                updates.setdefault(frozenset(changed), []).append({"id": worker_id, **changed})
        for batch in updates.values():
            self.session.execute(update(m.Worker), batch)
        if updates:
            self._touched_tables.add(m.Worker.__tablename__)

    def _apply_attendance(self, batch: Sequence[Item]) -> IngestResult:
        projects, workers = self._rostered(batch)

        def make(a: AttendanceIn) -> tuple[Any, dict]:
            proj, worker = self._roster_worker(projects, workers, a.project_code, a.id_number)
            if a.time_in is not None and a.time_out is not None and a.time_out < a.time_in:
                raise _Reject(f"clock-out {a.time_out:%H:%M:%S} precedes clock-in {a.time_in:%H:%M:%S}", "outTime")
            return (worker[0], a.day), {
                "worker_id": worker[0],
                "project_id": proj[0],
                "region_code": proj[1],
                "day": a.day,
                "time_in": a.time_in,
                "time_out": a.time_out,
                "device_id": a.device_id,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.Attendance, rows, ["worker_id", "day"], problems)

    # -- ---------------------------------------------------------------------------------------

    def _apply_allocation(self, batch: Sequence[Item]) -> IngestResult:
        accounts = self._lookup(
            m.WageAccount, "salary_account", [i.entity.salary_account for i in batch], "id", "project_id", "region_code"
        )

        def make(a: AllocationIn) -> tuple[Any, dict]:
            acc = accounts.get(a.salary_account)
            if acc is None:
                raise _Reject(
                    f"unknown wage account {a.salary_account!r}: the account must arrive first", "salaryAccount"
                )
            if a.amount <= 0:
                raise _Reject(f"labour-cost amount must be positive, got {a.amount}", "billAmount")
            return (acc[0], a.batch_number), {
                "account_id": acc[0],
                "project_id": acc[1],
                "region_code": acc[2],
                "batch_number": a.batch_number,
                "bill_date": a.bill_date,
                "period_month": a.period_month,
                "amount": a.amount,
                "account_balance": a.account_balance,
                "payer_name": a.payer_name,
                "payer_account": a.payer_account,
                "progress_payment": a.progress_payment,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.LaborCostAllocation, rows, ["account_id", "batch_number"], problems)

    def _apply_payroll(self, batch: Sequence[Item]) -> IngestResult:
        projects = self._projects(i.entity.project_code for i in batch)
        accounts = self._lookup(m.WageAccount, "salary_account", [i.entity.salary_account for i in batch], "id")
        employers = self._lookup(m.Enterprise, "uscc", [i.entity.corp_uscc for i in batch], "id")
        problems: list[Problem] = []
        # Workers first: a worker the bank pays but the real-name system has not sent yet is created
        # from the pay detail (name + ID), so that no pay record is lost.
        staged: list[tuple[Item, tuple, str, str, str | None]] = []
        for item in batch:
            p: PayrollIn = item.entity
            try:
                proj = projects.get(p.project_code)
                if proj is None:
                    raise _Reject(f"unknown project code {p.project_code!r}", "projectCode")
                idn = _ident(validate_id_number, p.id_number, "idCardNumber")
                card = _ident(validate_bank_card, p.bank_card, "bankCard") if p.bank_card else None
                if p.pay_status not in (0, 20, 30, 40):
                    raise _Reject(f"payStatus must be 0, 20, 30 or 40, got {p.pay_status}", "payStatus")
                if p.actual_amount > p.total_pay_amount:
                    raise _Reject(
                        f"actualAmount {p.actual_amount} exceeds totalPayAmount {p.total_pay_amount}", "actualAmount"
                    )
            except _Reject as exc:
                problems.append(Problem(item.raw_record_id, exc.reason, exc.field))
                continue
            staged.append((item, proj, idn, self.cipher.lookup_hash(idn), card))
        # (project, person) → (worker id, employer id)
        workers: dict[tuple[int, str], tuple[int, int]] = {}
        hashes = set()
        for _, proj, _, id_hash, _ in staged:
            key = (proj[0], id_hash)
            if key in self.known_workers:
                workers[key] = self.known_workers[key]
            else:
                hashes.add(key)

        def load_workers(keys: list[tuple[int, str]]) -> None:
            workers.update(self._workers(keys, "id", "enterprise_id"))

        load_workers(list(hashes))
        new_workers = {}
        for item, proj, idn, id_hash, card in staged:
            key = (proj[0], id_hash)
            if key not in workers and key not in new_workers:
                employer = employers.get(item.entity.corp_uscc) or proj[2]
                # Paid but not (yet) on the real-name roster: kept, so that the pay is not lost, and
                # flagged — the roster rule (条例 第二十八条) warns until the roster lists the worker.
                new_workers[key] = self._worker_values(
                    proj, employer, idn, item.entity.worker_name or "（未登记）", card, on_roster=False
                )
        if new_workers and self._copies(len(new_workers)):
            # COPYed, their ids returned; one another sync stored meanwhile is looked up
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for values in new_workers.values():
                groups.setdefault(tuple(values), []).append(values)
            for group in groups.values():
                returned = bulk.insert_new(
                    self.session,
                    m.Worker,
                    group,
                    ["project_id", "id_number_hash"],
                    ["project_id", "id_number_hash", "id", "enterprise_id"],
                )
                workers.update({(r[0], r[1]): (r[2], r[3]) for r in returned})
            self._touched_tables.add(m.Worker.__tablename__)
            load_workers([k for k in new_workers if k not in workers])
        elif new_workers:
            self.session.execute(insert(m.Worker), list(new_workers.values()))
            self._touched_tables.add(m.Worker.__tablename__)
            load_workers(list(new_workers))
        self.seen_workers.update(workers)
        rows: dict[Any, tuple[Item, dict]] = {}
        for item, proj, _idn, id_hash, card in staged:
            p = item.entity
            worker_id, worker_employer = workers[(proj[0], id_hash)]
            # The employer: as the bank names it (corpCode), else the worker's, else the 总包.
            employer = employers.get(p.corp_uscc) or worker_employer or proj[2]
            rows[(p.pay_roll_code, worker_id)] = (
                item,
                {
                    "pay_roll_code": p.pay_roll_code,
                    "project_id": proj[0],
                    "worker_id": worker_id,
                    "region_code": proj[1],
                    "account_id": accounts.get(p.salary_account),
                    "enterprise_id": employer,
                    "pay_month": p.pay_month,
                    "total_pay_amount": p.total_pay_amount,
                    "actual_amount": p.actual_amount,
                    "days": p.days,
                    "work_hours": p.work_hours,
                    "balance_date": p.balance_date,
                    "pay_status": p.pay_status,
                    "is_back_pay": p.is_back_pay,
                    "bank_card_masked": mask_bank_card(card) if card else None,
                    "batch_number": p.batch_number,
                },
            )
        return self._upsert(m.PayrollRecord, rows, ["pay_roll_code", "worker_id"], problems)

    # -- project money: expense bills, the contract chain, progress payments, output value
    #    (_apply_expense, _apply_contract, _apply_progresspayment, _apply_outputvalue) ----------

    def _apply_expense(self, batch: Sequence[Item]) -> IngestResult:
        """Expense bills (billType 2) of a 专户: the wages paid out and any transfer out.

        人社部发〔2021〕53号: a 专户 pays only the project's workers, so a transfer out is kept as evidence;
        the counterparty account is stored encrypted and shown masked (a worker's card is personal data).
        """
        accounts = self._lookup(
            m.WageAccount, "salary_account", [i.entity.salary_account for i in batch], "id", "project_id", "region_code"
        )
        actions = {a.value for a in ExpenseAction}

        def make(e: ExpenseIn) -> tuple[Any, dict]:
            acc = accounts.get(e.salary_account)
            if acc is None:
                raise _Reject(
                    f"unknown wage account {e.salary_account!r}: the account must arrive first", "salaryAccount"
                )
            if e.amount < 0:
                raise _Reject(f"expense amount must not be negative, got {e.amount}", "billAmount")
            if e.action not in actions:
                raise _Reject(
                    f"expense action must be one of {', '.join(sorted(actions))}, got {e.action!r}", "actionType"
                )
            values: dict[str, Any] = {
                "account_id": acc[0],
                "project_id": acc[1],
                "region_code": acc[2],
                "batch_number": e.batch_number,
                "bill_date": e.bill_date,
                "amount": e.amount,
                "action": e.action,
                "account_balance": e.account_balance,
                "counterparty_name": e.counterparty_name,
                "purpose": e.purpose,
                "counterparty_account_enc": None,
                "counterparty_account_masked": None,
            }
            if e.counterparty_account:
                values["counterparty_account_enc"] = self.encrypt(e.counterparty_account)
                values["counterparty_account_masked"] = mask_bank_card(e.counterparty_account)
            return (acc[0], e.batch_number), values

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.AccountExpense, rows, ["account_id", "batch_number"], problems, volatile=CIPHERTEXTS)

    def _apply_contract(self, batch: Sequence[Item]) -> IngestResult:
        """Links of the contract chain (条例 第三十条: the 总包 answers for its 分包's wages)."""
        projects = self._projects(i.entity.project_code for i in batch)
        ents = self._lookup(
            m.Enterprise,
            "uscc",
            [i.entity.enterprise_uscc for i in batch] + [i.entity.parent_uscc for i in batch],
            "id",
        )
        roles = {r.value for r in ContractRole}

        def make(c: ContractIn) -> tuple[Any, dict]:
            proj = projects.get(c.project_code)
            if proj is None:
                raise _Reject(
                    f"unknown project code {c.project_code!r}: sync the projects stream first, then replay",
                    "projectCode",
                )
            holder_uscc = _ident(validate_uscc, c.enterprise_uscc, "corpCode")
            holder = ents.get(holder_uscc)
            if holder is None:
                raise _Reject(f"unknown contractor USCC {holder_uscc!r}: the enterprise must arrive first", "corpCode")
            parent: int | None = None
            if c.parent_uscc:
                parent_uscc = _ident(validate_uscc, c.parent_uscc, "parentCorpCode")
                parent = ents.get(parent_uscc)
                if parent is None:
                    raise _Reject(
                        f"unknown parent USCC {parent_uscc!r}: the enterprise must arrive first", "parentCorpCode"
                    )
            if c.role not in roles:
                raise _Reject(
                    f"contract role must be one of {', '.join(sorted(roles))}, got {c.role!r}", "contractType"
                )
            if c.contract_value is not None and c.contract_value < 0:
                raise _Reject(f"contract value must not be negative, got {c.contract_value}", "contractAmount")
            return (proj[0], holder, c.role), {
                "project_id": proj[0],
                "region_code": proj[1],
                "enterprise_id": holder,
                "parent_enterprise_id": parent,
                "role": c.role,
                "contract_no": c.contract_no,
                "contract_value": c.contract_value,
                "signed_on": c.signed_on,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.ProjectContract, rows, ["project_id", "enterprise_id", "role"], problems)

    def _apply_progresspayment(self, batch: Sequence[Item]) -> IngestResult:
        """Progress payments (工程款拨付): 条例 第二十四条 allocates labour cost with each one."""
        projects = self._projects(i.entity.project_code for i in batch)
        ents = self._lookup(m.Enterprise, "uscc", [i.entity.payer_uscc for i in batch], "id")

        def make(p: ProgressPaymentIn) -> tuple[Any, dict]:
            proj = projects.get(p.project_code)
            if proj is None:
                raise _Reject(f"unknown project code {p.project_code!r}", "projectCode")
            if p.amount < 0:
                raise _Reject(f"progress payment amount must not be negative, got {p.amount}", "paymentAmount")
            payer: int | None = None
            if p.payer_uscc:
                payer_uscc = _ident(validate_uscc, p.payer_uscc, "payerCorpCode")
                payer = ents.get(payer_uscc)
                if payer is None:
                    raise _Reject(
                        f"unknown payer USCC {payer_uscc!r}: the enterprise must arrive first", "payerCorpCode"
                    )
            return (proj[0], p.payment_no), {
                "project_id": proj[0],
                "region_code": proj[1],
                "payment_no": p.payment_no,
                "paid_on": p.paid_on,
                "amount": p.amount,
                "payer_id": payer,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.ProgressPayment, rows, ["project_id", "payment_no"], problems)

    def _apply_outputvalue(self, batch: Sequence[Item]) -> IngestResult:
        """A project's monthly output value (工程量产值), the measure wages are compared with (W14)."""
        projects = self._projects(i.entity.project_code for i in batch)

        def make(o: OutputValueIn) -> tuple[Any, dict]:
            proj = projects.get(o.project_code)
            if proj is None:
                raise _Reject(f"unknown project code {o.project_code!r}", "projectCode")
            if not _is_month(o.month):
                raise _Reject(f"month must be YYYY-MM, got {o.month!r}", "statMonth")
            if o.amount < 0:
                raise _Reject(f"output value must not be negative, got {o.amount}", "outputValue")
            return (proj[0], o.month), {
                "project_id": proj[0],
                "region_code": proj[1],
                "month": o.month,
                "amount": o.amount,
                "reported_on": o.reported_on,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(m.OutputValue, rows, ["project_id", "month"], problems)

    # -- ---------------------------------------------------------------------------------------

    def _apply_deposit(self, batch: Sequence[Item]) -> IngestResult:
        projects = self._projects(i.entity.project_code for i in batch)
        ents = self._lookup(m.Enterprise, "uscc", [i.entity.contractor_uscc for i in batch], "id")

        def make(d: DepositIn) -> tuple[Any, dict]:
            proj = projects.get(d.project_code)
            if proj is None:
                raise _Reject(f"unknown project code {d.project_code!r}", "projectCode")
            return d.guarantee_no, {
                "guarantee_no": d.guarantee_no,
                "project_id": proj[0],
                "region_code": proj[1],
                "enterprise_id": ents.get(d.contractor_uscc) or proj[2],
                "kind": d.kind,
                "amount": d.amount,
                "rate": d.rate,
                "deposited_on": d.deposited_on,
                "issuer": d.issuer,
                "valid_from": d.valid_from,
                "valid_to": d.valid_to,
                "status": d.status,
            }

        rows, problems = self._prepare(batch, make)
        return self._upsert(
            m.GuaranteeDeposit,
            rows,
            ["guarantee_no"],
            problems,
            event=lambda _id, r: (
                "deposit.upserted",
                r["region_code"],
                {"guaranteeNo": r["guarantee_no"], "validTo": str(r["valid_to"])},
            ),
        )

    def _apply_clue(self, batch: Sequence[Item]) -> IngestResult:
        result = ClueIntake(self.session, cipher=self.cipher).ingest(batch)
        # Repeated clues against an enterprise (W15): the respondents the page named.
        usccs = [i.entity.respondent_uscc for i in batch if i.entity.respondent_uscc]
        self._touched_enterprises.update(self._lookup(m.Enterprise, "uscc", usccs, "id").values())
        if batch:  # whatever the intake did (a new clue, a merge), W15 counts clues and their channels
            self._touched_tables.update((m.Clue.__tablename__, m.ChannelRecord.__tablename__))
        return result


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        try:
            return Decimal(str(old)) == Decimal(str(new))
        except Exception:  # one side is not a number: they differ
            return False
    if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
        return (
            old.replace(tzinfo=None) == new.replace(tzinfo=None)
            if (old.tzinfo is None) != (new.tzinfo is None)
            else old == new
        )
    return old == new


def _is_month(value: str) -> bool:
    """``YYYY-MM`` with a real month."""
    return (
        len(value) == 7
        and value[4] == "-"
        and value[:4].isdigit()
        and value[5:].isdigit()
        and 1 <= int(value[5:]) <= 12
    )


def _chunks(seq: list, size: int) -> Iterable[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


#: ``Item``, ``Problem`` and ``IngestResult`` live in :mod:`hub.records`; named here too, for callers of old.
__all__ = ["IngestResult", "Ingestor", "Item", "Problem", "counts_of"]
