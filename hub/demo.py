"""The embedded demo: which world was seeded, the sandboxes mounted in process, a connector
configured for each, so that ``hub serve`` shows data arriving from every upstream within a minute,
and the demo's admin key, kept in the data directory so that each start can print it; and one
user per role (``demo_users``), whose generated passwords are printed once, on the first start.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from connectors import registry
from connectors.sandbox.runner import Sandbox, load_sandboxes
from connectors.sandbox.world import build_world
from hub.access import NATIONAL, SYSTEM, Role
from hub.api_keys import create_api_key, find_api_key
from hub.connector_admin import create_instance
from hub.db import session_scope
from hub.models import ConnectorInstance, Project, Region, User, utcnow
from hub.users import create_user, generate_password
from hub.workdays import local_date

if TYPE_CHECKING:
    from hub.crypto import Cipher
    from hub.settings import Settings

log = logging.getLogger(__name__)
DEMO_FILE = "demo.json"
#: Where, in the data directory, the demo's admin key is kept (read by each start, and by the e2e tests).
DEMO_KEY_FILE = "demo-api-key.txt"
#: How often the demo connectors sync (the sandboxes add a record every ~20 s).
DEMO_SCHEDULE_SECONDS = 15


@dataclass(frozen=True)
class DemoWorld:
    """What the demo database was seeded with: the sandboxes must hold the same world."""

    scale: str
    seed: int
    region: str
    today: dt.date
    #: When it was seeded: nothing seeded is later (``hub.seed.seed_database(now=...)``).
    seeded_at: dt.datetime | None = None

    def save(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        data = {
            **asdict(self),
            "today": self.today.isoformat(),
            "seeded_at": self.seeded_at.isoformat() if self.seeded_at else None,
        }
        (settings.data_dir / DEMO_FILE).write_text(json.dumps(data, indent=2))

    @staticmethod
    def exists(settings: Settings) -> bool:
        """Whether this data directory's database was seeded as a demo."""
        return (settings.data_dir / DEMO_FILE).exists()

    @classmethod
    def load(cls, settings: Settings) -> DemoWorld:
        """The seeded world, or — for a database seeded elsewhere — the settings' world as of today."""
        path = settings.data_dir / DEMO_FILE
        if path.exists():
            data = json.loads(path.read_text())
            seeded_at = data.get("seeded_at")
            return cls(
                scale=data["scale"],
                seed=data["seed"],
                region=data["region"],
                today=dt.date.fromisoformat(data["today"]),
                seeded_at=dt.datetime.fromisoformat(seeded_at) if seeded_at else None,
            )
        now = utcnow()
        return cls(
            scale=settings.seed_scale,
            seed=settings.seed,
            region=settings.demo_region,
            today=local_date(now),
            seeded_at=now,
        )


def sandboxes(world: DemoWorld) -> list[Sandbox]:
    """The installed connectors' sandboxes over the demo world."""
    built = build_world(seed=world.seed, scale=world.scale, region=world.region, today=world.today, now=world.seeded_at)
    return load_sandboxes(world=built)


def configure_demo_connectors(
    engine: Engine, *, cipher: Cipher, base_url: str, boxes: list[Sandbox], world: DemoWorld
) -> list[str]:
    """A connector instance ``demo-<kind>`` per sandbox, pointed at ``base_url/sandbox/<kind>/``.

    They start from the demo's day (``start_date``): the seeded database already holds the history,
    so the first syncs bring what arrives from now on. Existing instances are left as they are.
    """
    created: list[str] = []
    with session_scope(engine) as session:
        existing = set(session.execute(select(ConnectorInstance.name)).scalars())
        for box in boxes:
            name = f"demo-{box.kind}"
            if name in existing:
                continue
            model = registry.get(box.kind).config_model
            secret_names = set(model.secret_fields())
            config = {k: v for k, v in box.credentials.items() if k not in secret_names}
            secrets = {k: v for k, v in box.credentials.items() if k in secret_names}
            config.update(base_url=f"{base_url.rstrip('/')}/sandbox/{box.kind}/", start_date=world.today.isoformat())
            create_instance(
                session,
                principal=SYSTEM,
                cipher=cipher,
                name=name,
                kind=box.kind,
                config=config,
                secrets=secrets,
                schedule_seconds=DEMO_SCHEDULE_SECONDS,
            )
            created.append(name)
    return created


def database_empty(engine: Engine) -> bool:
    """Whether the database holds no project yet (``hub serve`` seeds such a database on its first start)."""
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(Project)).scalar_one() == 0


def demo_admin_key(engine: Engine, *, path: Path, create: bool) -> str | None:
    """The demo's admin key kept at ``path``; with ``create``, a new one when none is kept (or the hub
    does not know the kept one). ``None`` when there is none and ``create`` is false.
    """
    with session_scope(engine) as session:
        if path.exists():
            key = path.read_text().strip()
            if find_api_key(session, key=key) is not None:
                return key
        if not create:
            return None
        _, key = create_api_key(
            session, principal=SYSTEM, name="demo-admin", role="admin", region_code=NATIONAL, can_unmask=True
        )
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class DemoUser:
    """A demo user as printed on the first start (the password is then stored only as a hash)."""

    username: str
    role: str
    region_code: str
    password: str | None


def _first_county(session: object, region: str) -> str:
    """The demo city's first county (任城区 370811 under 济宁市), by code; the city itself if none is known."""
    code = session.execute(  # type: ignore[attr-defined]
        select(Region.code).where(Region.parent_code == region, Region.level == "county").order_by(Region.code).limit(1)
    ).scalar_one_or_none()
    return code or region


def demo_users(engine: Engine, *, region: str, create: bool) -> list[DemoUser]:
    """The demo's users, one per role, at sensible places under the demo city ``region``.

    With ``create`` (the first start) each is made with a generated password, returned to be printed
    once; otherwise the existing demo users are returned without one. Admin, leader and the 住建
    sector user work at the city; the inspector at its first county; the town handler at that
    county's first town in the region list (370811002 许庄街道 of 任城区 for 济宁), or ``<county>001``
    when no towns are loaded (the prefix rule works without the row).
    """
    with session_scope(engine) as session:
        county = _first_county(session, region)
        town = None
        if len(county) == 6 and county != region:
            town = session.execute(
                select(Region.code)
                .where(Region.parent_code == county, Region.level == "town")
                .order_by(Region.code)
                .limit(1)
            ).scalar_one_or_none() or (county + "001")
        wanted: list[tuple[str, str, str, str, str | None]] = [
            ("demo-admin", "演示管理员", Role.ADMIN, region, None),
            ("demo-inspector", "演示督查员", Role.INSPECTOR, county, None),
            ("demo-leader", "演示领导", Role.LEADER, region, None),
            ("demo-zhujian", "演示住建部门", Role.SECTOR, region, "住建"),
            ("demo-viewer", "演示查询员", Role.VIEWER, region, None),
        ]
        if town is not None:
            wanted.insert(2, ("demo-town", "演示街道处置员", Role.TOWN, town, None))
        existing = {u.username: u for u in session.execute(select(User).where(User.username.like("demo-%"))).scalars()}
        made: list[DemoUser] = []
        for username, name, role, code, sector in wanted:
            if username in existing:
                made.append(DemoUser(username, existing[username].role, existing[username].region_code, None))
                continue
            if not create:
                continue
            password = generate_password()
            create_user(
                session,
                principal=SYSTEM,
                username=username,
                display_name=name,
                role=role,
                region_code=code,
                sector=sector,
                can_unmask=role == Role.ADMIN,
                password=password,
            )
            made.append(DemoUser(username, role, code, password))
    return made
