"""The sandboxes' shared world: the hub's demo data, seen as each upstream system would hold it.

``build_world`` runs the demo generator (``hub.seed``) with the same seed, scale, region and day as
the hub's demo, and keeps what each upstream knows, in plain text (upstreams hold real ID numbers
and cards; the hub encrypts them when they arrive). So a connector syncing a sandbox finds the
enterprises, projects, workers and complainants the hub already knows, and a record the hub was
seeded with comes back as *unchanged*.

Each sandbox also invents new records over time (``live_*``) from the same world, from the moment it
was seeded on (``World.live_start``), so that a running hub shows data arriving.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hub.crypto import Cipher
from hub.models import utcnow
from hub.seed.world import SCALES, SENSITIVE_PAYLOAD_FIELDS, Generation
from hub.workdays import CST, local_date

_SANDBOX_KEY = "sandbox-world"  # ciphertexts made by the generator are decrypted right away
SENSITIVE_WORKER_FIELDS = ("id_number_enc", "bank_card_enc")


@dataclass
class World:
    """Everything the upstream systems hold, keyed by natural keys; rows as the generator made them."""

    seed: int
    scale: str
    region: str
    today: dt.date
    #: The moment the world was seeded (``build_world``'s ``now``: a demo's start), nothing seeded later;
    #: None for a world of a past day. Every sandbox's live records start here (``live_start``).
    seeded_at: dt.datetime | None = None
    enterprises: dict[str, dict[str, Any]] = field(default_factory=dict)  # by USCC
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # by project code
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by salary account
    allocations: list[dict[str, Any]] = field(default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)  # with plain id_number and bank_card
    payroll: list[dict[str, Any]] = field(default_factory=list)  # with plain id_number and bank_card
    deposits: list[dict[str, Any]] = field(default_factory=list)
    expenses: list[dict[str, Any]] = field(default_factory=list)  # with salary_account and plain counterparty
    contracts: list[dict[str, Any]] = field(default_factory=list)
    progress_payments: list[dict[str, Any]] = field(default_factory=list)
    output_values: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)  # 班组, with their project's code
    movements: list[dict[str, Any]] = field(default_factory=list)  # 进场 / 退场, with the worker's plain ID number
    attendance: list[dict[str, Any]] = field(default_factory=list)  # 考勤, with the worker's plain ID number
    clue_payloads: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # by channel

    def project_by_id(self, project_id: int) -> dict[str, Any]:
        return self._projects_by_id[project_id]

    def enterprise_by_id(self, enterprise_id: int) -> dict[str, Any]:
        return self._enterprises_by_id[enterprise_id]

    def rng(self, *parts: object) -> random.Random:
        return random.Random(f"{self.seed}:{':'.join(map(str, parts))}")

    def live_start(self) -> dt.datetime:
        """When the sandboxes' live records start (China Standard Time, to the second): the moment the
        world was seeded (``seeded_at``), so that a sandbox serves the seeded history and what arrived
        since, whatever the hour the demo started at — not a backlog of a record every interval since the
        day's 00:00 (thousands on a first sync at 23:00). A world of a past day (no ``seeded_at``, as the
        connector tests build them) starts at its today, 00:00."""
        if self.seeded_at is not None:
            return self.seeded_at.astimezone(CST).replace(microsecond=0)
        return dt.datetime.combine(self.today, dt.time(), tzinfo=CST)

    _projects_by_id: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    _enterprises_by_id: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)


@lru_cache(maxsize=4)
def build_world(
    *,
    seed: int = 20261121,
    scale: str = "tiny",
    region: str = "370800",
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> World:
    """The world of the demo generator at ``seed`` / ``scale`` / ``region`` / ``today`` (cached).

    ``now`` is the moment the demo database was seeded (``hub.seed.seed_database``): pass the same one,
    so that the sandboxes' history is the seeded history.
    """
    if today is None:
        now = now or utcnow()
        today = local_date(now)
    cipher = Cipher(_SANDBOX_KEY)
    gen = Generation(plan=SCALES[scale], seed=seed, today=today, cipher=cipher, region=region, now=now)
    seeded_at = gen.world.now if now is not None else None  # clamped to the end of ``today`` like the rows
    w = World(seed=seed, scale=scale, region=region, today=today, seeded_at=seeded_at)
    workers_by_id: dict[int, dict[str, Any]] = {}
    accounts_by_id: dict[int, dict[str, Any]] = {}
    for table, row in gen.rows():
        if table == "enterprises":
            w.enterprises[row["uscc"]] = row
            w._enterprises_by_id[row["id"]] = row
        elif table == "projects":
            w.projects[row["project_code"]] = row
            w._projects_by_id[row["id"]] = row
        elif table == "wage_accounts":
            w.accounts[row["salary_account"]] = row
            accounts_by_id[row["id"]] = row
        elif table == "labor_cost_allocations":
            w.allocations.append({**row, "salary_account": accounts_by_id[row["account_id"]]["salary_account"]})
        elif table == "workers":
            plain = {
                **row,
                "id_number": cipher.decrypt(row["id_number_enc"]),
                "bank_card": cipher.decrypt(row["bank_card_enc"]) if row.get("bank_card_enc") else None,
                # the hub stores E.164; upstream systems write a mobile's 11 digits
                "phone": row["phone"].removeprefix("+86") if row.get("phone") else row.get("phone"),
            }
            for k in SENSITIVE_WORKER_FIELDS:
                plain.pop(k, None)
            workers_by_id[row["id"]] = plain
            w.workers.append(plain)
        elif table == "payroll_records":
            worker = workers_by_id[row["worker_id"]]
            account = accounts_by_id.get(row["account_id"]) if row.get("account_id") else None
            w.payroll.append(
                {
                    **row,
                    "id_number": worker["id_number"],
                    "bank_card": worker["bank_card"],
                    "worker_name": worker["name"],
                    "salary_account": account["salary_account"] if account else None,
                }
            )
        elif table == "guarantee_deposits":
            w.deposits.append(row)
        elif table == "account_expenses":
            enc = row.get("counterparty_account_enc")
            plain = {
                **row,
                "salary_account": accounts_by_id[row["account_id"]]["salary_account"],
                "counterparty_account": cipher.decrypt(enc) if enc else None,
            }
            plain.pop("counterparty_account_enc", None)
            w.expenses.append(plain)
        elif table == "project_contracts":
            w.contracts.append(row)
        elif table == "progress_payments":
            w.progress_payments.append(row)
        elif table == "output_values":
            w.output_values.append(row)
        elif table == "teams":
            w.teams.append(row)
        elif table in ("site_movements", "attendance"):
            worker = workers_by_id[row["worker_id"]]
            (w.movements if table == "site_movements" else w.attendance).append(
                {**row, "id_number": worker["id_number"], "worker_name": worker["name"]}
            )
        elif table == "raw_records":
            payload = dict(row["payload"])
            for key in SENSITIVE_PAYLOAD_FIELDS:
                value = payload.get(key)
                if isinstance(value, dict) and "$enc" in value:
                    payload[key] = cipher.decrypt(value["$enc"])
            w.clue_payloads[row["source"]].append(payload)
    return w
