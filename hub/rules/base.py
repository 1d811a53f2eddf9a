"""What a warning rule is: a code, a name, the regulation it rests on, a subject, a period, thresholds
and one set-based SELECT over the canonical tables.

A rule writes no rows and loops over nothing: :meth:`Rule.select` returns one SQLAlchemy Core
statement (it runs on SQLite and PostgreSQL alike) whose rows are the warnings that hold today, with
these columns:

=================  =====================================================================
``subject_id``     the id of the object the warning is about (a project, an account …)
``period``         the period it is raised for (``YYYY-MM``, ``YYYY`` …; see :attr:`Rule.period`)
``level``          ``blue`` / ``yellow`` / ``red`` (``hub.vocab.Colour``), decided in SQL
``project_id``     the project concerned, if any (the engine limits an incremental run by it)
``enterprise_id``  the enterprise concerned, if any
``region_code``    where the warning belongs (its readers' jurisdiction)
…                  any further columns: the facts the rule measured (:meth:`Rule.facts`)
=================  =====================================================================

The engine (``hub.rules.engine``) owns the rest: the upsert per (rule, subject, period), level
changes, resolution when a row stops coming back, events, escalation. A new rule is one module with
one subclass, listed in ``hub.rules.catalogue``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from sqlalchemy import Select, String, case, literal, select, true, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from hub.vocab import Colour

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.sql.compiler import SQLCompiler

__all__ = [
    "BLUE",
    "Query",
    "RED",
    "STANDARD_COLUMNS",
    "YELLOW",
    "as_date",
    "Context",
    "Rule",
    "Subject",
    "json_value",
    "level_case",
    "literal_level",
    "month_table",
    "first_day",
    "month_of",
    "months_before",
    "year_month",
]

#: A rule's statement: any number of columns.
Query: TypeAlias = Select[*tuple[Any, ...]]

#: The columns every rule's SELECT returns, in this order, before its facts.
STANDARD_COLUMNS = ("subject_id", "period", "level", "project_id", "enterprise_id", "region_code")

BLUE, YELLOW, RED = Colour.BLUE.value, Colour.YELLOW.value, Colour.RED.value


class Subject(StrEnum):
    """What a warning is about (``Warning.subject_type``)."""

    PROJECT = "project"
    WAGE_ACCOUNT = "wage_account"
    WORKER = "worker"
    ENTERPRISE = "enterprise"
    DEPOSIT = "deposit"


@dataclass(frozen=True)
class Context:
    """What a rule's SELECT may depend on: the day it judges and its thresholds (defaults overlaid
    with ``HUB_WARNING_THRESHOLDS``)."""

    today: dt.date
    thresholds: Mapping[str, Any]
    #: An incremental run's scope, for :meth:`narrow_projects` / :meth:`narrow_enterprises`: the projects
    #: concerned (those named, and those whose general contractor is named) and the enterprises named;
    #: ``None`` for the full sweep.
    scope_projects: frozenset[int] | None = None
    scope_enterprises: frozenset[int] | None = None
    #: The people (``Worker.id_number_hash``) paid on those projects or by those enterprises, for the
    #: rules about workers, whose sums run over all of a person's pay; ``None``: not narrowed.
    scope_people: frozenset[str] | None = None

    def narrow_projects(self, project_id: Any, enterprise_id: Any = None) -> ColumnElement[bool]:
        """Limit a rule's input rows (payroll, bills …) to an incremental run's projects — and, with
        ``enterprise_id``, its enterprises — *before* the rule aggregates them; true in the sweep.

        An optimisation only: the engine still keeps just the rows of the scope, so the narrowing must
        keep every input row of a warning the scope could concern (a superset). Without it an
        incremental run reads the whole payroll to keep one project's months."""
        if self.scope_projects is None:
            return true()
        cond = project_id.in_(sorted(self.scope_projects))
        if enterprise_id is not None and self.scope_enterprises:
            cond = cond | enterprise_id.in_(sorted(self.scope_enterprises))
        return cond

    def narrow_enterprises(self, enterprise_id: Any) -> ColumnElement[bool]:
        """Limit a rule's input rows to an incremental run's enterprises (see :meth:`narrow_projects`)."""
        if self.scope_enterprises is None:
            return true()
        return enterprise_id.in_(sorted(self.scope_enterprises))

    def __getitem__(self, name: str) -> Any:
        return self.thresholds[name]

    def month(self, shift: int = 0) -> str:
        """``YYYY-MM`` of today's month moved by ``shift`` months (``-1``: last month)."""
        return month_of(self.today, shift)


class Rule:
    """A warning rule (docs/domain.md, "Warnings"). Subclasses set the class attributes and write
    :meth:`select` (and, usually, :meth:`describe`)."""

    #: ``W01`` … ``W16``: the rule's code, stored on its warnings.
    code: ClassVar[str]
    #: What it watches, in the inspectors' words.
    name: ClassVar[str]
    #: The regulation and article it rests on (``Warning.rule_cite``; at most 100 characters).
    cite: ClassVar[str]
    #: The models (tables) its SELECT reads. An incremental run after a sync page evaluates only the
    #: rules reading a table the page wrote (a page of pay details cannot change a deposit rule);
    #: tests/hub/test_warnings_incremental.py checks the list against the tables the SELECT names.
    inputs: ClassVar[tuple[type[Any], ...]]
    #: Whether the rule sums a person's pay across projects (W08): an incremental run then looks up
    #: the people paid in its scope (``Context.scope_people``).
    by_person: ClassVar[bool] = False
    #: What its warnings are about.
    subject: ClassVar[Subject]
    #: What one warning's period is, in words (the SELECT computes it).
    period: ClassVar[str]
    #: Tunable thresholds and their defaults (an admin overrides them with ``HUB_WARNING_THRESHOLDS``).
    thresholds: ClassVar[Mapping[str, float]] = {}
    #: What clears a warning of this rule, recorded on it when the engine resolves it.
    cleared: ClassVar[str]
    #: Whether a red warning left unhandled escalates into the clue pool (a matter to investigate);
    #: administrative rules (an account not filed, a guarantee letter expiring) stay with the department.
    escalates: ClassVar[bool] = True
    #: Whether the rule can judge a past day from the data (its inputs carry their dates); a rule that
    #: reads a current state (an account's balance) judges only today.
    dated: ClassVar[bool] = True

    @classmethod
    def input_tables(cls) -> frozenset[str]:
        """The names of the tables the rule reads (:attr:`inputs`)."""
        return frozenset(model.__tablename__ for model in cls.inputs)

    def select(self, ctx: Context) -> Query:
        """The warnings that hold on ``ctx.today``: :data:`STANDARD_COLUMNS`, then the facts."""
        raise NotImplementedError

    def describe(self, facts: Mapping[str, Any]) -> str:
        """The warning's message from its facts (``Warning.message``)."""
        return f"{self.name}（{'，'.join(f'{k}={v}' for k, v in facts.items())}）"

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        """The facts of a fired row: its columns beyond the standard ones, as JSON values (a rule may
        add what it derives from them, e.g. days elapsed)."""
        return {k: json_value(v) for k, v in row.items() if k not in STANDARD_COLUMNS}

    def judges(self, period: str, ctx: Context) -> bool:
        """Whether the rule still judges ``period`` on ``ctx.today``. A rule that looks back a limited
        number of months leaves older warnings as they are instead of resolving them."""
        return True


def json_value(v: Any) -> Any:
    """A fact as JSON stores it: money as a number of yuan, dates as ISO text."""
    if isinstance(v, Decimal | float):
        return round(float(v), 4)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def as_date(v: Any) -> dt.date:
    """A date a SELECT returned (SQLite may hand an expression's date back as ISO text)."""
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


def month_of(d: dt.date, shift: int = 0) -> str:
    """``YYYY-MM`` of ``d``'s month moved by ``shift`` months."""
    n = d.year * 12 + d.month - 1 + shift
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def first_day(ym: str) -> dt.date:
    """The first day of the month ``ym`` (``YYYY-MM``)."""
    return dt.date(int(ym[:4]), int(ym[5:7]), 1)


def months_before(ym: str, k: int) -> str:
    """The month ``k`` months before ``ym`` (``YYYY-MM``)."""
    return month_of(dt.date(int(ym[:4]), int(ym[5:7]), 1), -k)


def month_table(months: list[str], *, name: str = "months") -> Any:
    """A small table of months (``month``, ``prev``: the month before) to join a rule against, built
    as a UNION ALL of literal rows (SQLite has no ``VALUES … AS t(col)``)."""
    rows = [select(literal(ym).label("month"), literal(months_before(ym, 1)).label("prev")) for ym in months]
    return union_all(*rows).subquery(name)


class year_month(FunctionElement[str]):
    """``YYYY-MM`` of a date column, in SQL (SQLite keeps dates as ISO text; PostgreSQL formats them)."""

    type = String()
    inherit_cache = True


@compiles(year_month)
def _year_month_default(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


@compiles(year_month, "postgresql")
def _year_month_pg(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


def literal_level(level: str) -> ColumnElement[str]:
    """The level column of a rule with one level."""
    return literal(level)


def level_case(*whens: tuple[ColumnElement[bool], str], else_: str) -> ColumnElement[str]:
    """The level column: the first condition that holds decides (``case`` with literal colours)."""
    return case(*((cond, literal(level)) for cond, level in whens), else_=literal(else_))
