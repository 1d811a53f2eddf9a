"""Connector for the province's real-name platform (建筑工人实名制管理平台, 实名制考勤).

JSON REST. The app id and app secret (``X-App-Id`` / ``X-App-Secret`` headers) buy a short-lived
access token (``POST api/v1/auth/token``) that data requests carry in ``X-Access-Token``; an expired
token answers 401 ``TOKEN_EXPIRED``, which becomes ``TokenExpired`` (the hub retries, the client
fetches a new token): the permit system's convention, read through ``connectors.cursor_api.client``.
ID numbers and bank cards arrive encrypted with the shared ``data_key``
(``connectors.realname._fieldcrypt``); the streams decrypt them before the hub archives the page
(``prepare``), so the archive seals them with the hub's own key and a replay needs no upstream key. A
value the key does not open is kept as sent and marked, and ``normalise`` quarantines its record
naming the field.

Four streams, read incrementally by update time (cursor ``"<updateTime>|<key>"``, never backwards):

- ``teams`` (``api/v1/teams``): 班组 → ``TeamIn``; key ``teamSysNo``.
- ``workers`` (``api/v1/workers``): the roster (花名册) → ``WorkerIn``; key ``workerSysNo``.
- ``movements`` (``api/v1/movements``): 进场 / 退场, an exit with its settlement (退场结算) →
  ``MovementIn``; key ``moveSysNo``.
- ``attendance`` (``api/v1/attendance``): a worker's day on site (clock-in, clock-out, device) →
  ``AttendanceIn``; key ``attendSysNo``.

保障农民工工资支付条例 第二十八条 (实名制管理) and 第三十一条 (the wage sheet follows the attendance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, SecretStr, field_validator

from connectors.base import (
    AttendanceIn,
    CheckResult,
    Connector,
    ConnectorConfig,
    Entity,
    MovementIn,
    Rejection,
    Stream,
    TeamIn,
    WorkerIn,
    check_connection,
    fields,
    secret,
)
from connectors.cursor_api.client import WORDING, CursorStream, TokenClient, optional, optional_date, required
from connectors.realname._fieldcrypt import ENCRYPTED_FIELDS, UndecryptableField, decrypt_field, parse_key

KIND = "realname"
#: moveType: 1 进场, 2 退场 (hub.vocab.MovementKind).
MOVE_TYPES = {"1": "entry", "2": "exit"}
#: idCardType: only the 居民身份证 (01) carries an ID number the hub can validate.
ID_CARD_TYPES = {"01": "01"}
#: Where a record whose encrypted field the key does not open says which field it was (set by ``read``).
UNDECRYPTABLE = "$undecryptable"


class RealnameConfig(ConnectorConfig):
    """Where the real-name platform is, the credentials it issued and the key of its encrypted fields."""

    app_id: str = Field(description="应用编号 issued by the real-name platform (sent as X-App-Id).")
    app_secret: SecretStr = secret("App secret issued with the app id (sent as X-App-Secret).")
    data_key: SecretStr = secret(
        "Key of the encrypted fields (ID numbers, bank cards): 32 hexadecimal characters (AES-128)."
    )

    @field_validator("data_key")
    @classmethod
    def _key_shape(cls, value: SecretStr) -> SecretStr:
        parse_key(value.get_secret_value())  # a ValueError that never echoes the key
        return value


class _Api(TokenClient[RealnameConfig]):
    """The platform's token client (the app id and secret buy the token), and the key of its encrypted fields."""

    connector = KIND
    system = "real-name platform"
    envelope = "real-name platform"

    def __init__(self, config: RealnameConfig) -> None:
        super().__init__(config)
        self.key = parse_key(config.data_key.get_secret_value())

    def credentials(self) -> dict[str, str]:
        return {"X-App-Id": self.config.app_id, "X-App-Secret": self.config.app_secret.get_secret_value()}

    def decrypt(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its encrypted fields in plain text; those the key does not open stay as
        sent and are named under ``UNDECRYPTABLE`` (``normalise`` quarantines the record)."""
        out = dict(record)
        failed: list[str] = []
        for name in ENCRYPTED_FIELDS:
            value = out.get(name)
            if isinstance(value, str) and value.strip():
                try:
                    out[name] = decrypt_field(self.key, value.strip())
                except UndecryptableField:
                    failed.append(name)
        if failed:
            out[UNDECRYPTABLE] = failed
        return out


class _RealnameStream(CursorStream[RealnameConfig]):
    """A list of the platform, read by update time, its records decrypted before the hub archives them."""

    api: _Api

    def prepare(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.api.decrypt(record)


class Teams(_RealnameStream):
    name = "teams"
    primary_key = ("teamSysNo",)
    sensitive = ()
    path = "api/v1/teams"


class Workers(_RealnameStream):
    name = "workers"
    primary_key = ("workerSysNo",)
    sensitive = ("idCardNumber", "payRollBankCardNumber")
    path = "api/v1/workers"


class Movements(_RealnameStream):
    name = "movements"
    primary_key = ("moveSysNo",)
    sensitive = ("idCardNumber",)
    path = "api/v1/movements"


class Attendance(_RealnameStream):
    name = "attendance"
    primary_key = ("attendSysNo",)
    sensitive = ("idCardNumber",)
    path = "api/v1/attendance"


class RealnameConnector(Connector[RealnameConfig]):
    """实名制: teams, the roster, entries and exits with their settlement, and daily attendance."""

    kind = KIND
    title = "建筑工人实名制管理平台"
    config_model = RealnameConfig
    sandbox = "connectors.realname.sandbox:create_app"

    def check(self, config: RealnameConfig) -> CheckResult:
        """Get a token with the app id and secret, and open one roster record's ID with the data key."""

        def probe() -> str:
            api = _Api(config)
            records = api.probe(Workers.path, stream=Workers.name)
            if records and UNDECRYPTABLE in api.decrypt(records[0]):
                return ""  # the credentials work, the data key does not
            return f"connected to the real-name platform at {config.base_url}: credentials and data key accepted"

        result = check_connection(
            probe,
            system="the real-name platform",
            where=config.base_url,
            refused="{system} refused the app id / app secret (HTTP 401): check app_id and app_secret",
        )
        if result.ok and not result.message:
            return CheckResult(
                False,
                "the real-name platform accepted the app id and secret, but data_key does not open its "
                "encrypted ID numbers: check data_key",
            )
        return result

    def streams(self, config: RealnameConfig) -> list[Stream[RealnameConfig]]:
        api = _Api(config)  # shared: one token for every stream
        return [
            Teams(self, config, api),
            Workers(self, config, api),
            Movements(self, config, api),
            Attendance(self, config, api),
        ]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        makers: dict[str, Callable[[dict[str, Any]], Entity]] = {
            "teams": _team,
            "workers": _worker,
            "movements": _movement,
            "attendance": _attendance,
        }
        make = makers.get(stream)
        if make is None:
            raise Rejection(f"the realname connector has no stream {stream!r}", field="stream", value=stream)
        failed = record.get(UNDECRYPTABLE)
        if failed:
            raise Rejection(
                f"{failed[0]} cannot be decrypted with the connector's data_key (a wrong key, or a value damaged "
                "on the way): check data_key, then replay",
                field=str(failed[0]),
            )
        return [make(record)]


# -- normalisation (pure) ---------------------------------------------------------------------


def _team(record: dict[str, Any]) -> TeamIn:
    return TeamIn(
        project_code=required(record, "projectCode"),
        corp_uscc=required(record, "corpCode"),
        team_sys_no=required(record, "teamSysNo"),
        name=required(record, "teamName"),
        leader_name=optional(record, "teamLeaderName"),
        entry_date=optional_date(record, "entryTime"),
        exit_date=optional_date(record, "exitTime"),
    )


def _worker(record: dict[str, Any]) -> WorkerIn:
    # The ID number, card and phone are validated (and masked in reasons) by the hub.
    fields.choice(record, "idCardType", ID_CARD_TYPES, default="01", wording=WORDING)
    return WorkerIn(
        project_code=required(record, "projectCode"),
        corp_uscc=required(record, "corpCode"),
        id_number=required(record, "idCardNumber"),
        name=required(record, "workerName"),
        team_sys_no=optional(record, "teamSysNo"),
        work_type=optional(record, "workType"),
        work_role=optional(record, "workRole"),
        is_team_leader=fields.flag(record, "isTeamLeader", wording=WORDING),
        bank_card=optional(record, "payRollBankCardNumber"),
        bank_code=optional(record, "bankLinkNumber"),
        phone=optional(record, "cellPhone"),
        entry_date=optional_date(record, "entryTime"),
        exit_date=optional_date(record, "exitTime"),
    )


def _movement(record: dict[str, Any]) -> MovementIn:
    kind = fields.choice(record, "moveType", MOVE_TYPES, wording=WORDING)
    exit_ = kind == "exit"
    settled = fields.flag(record, "isSettled", wording=WORDING) if exit_ and "isSettled" in record else None
    return MovementIn(
        project_code=required(record, "projectCode"),
        id_number=required(record, "idCardNumber"),
        kind=kind,
        moved_on=fields.date(record, "moveDate", wording=WORDING),
        corp_uscc=optional(record, "corpCode"),
        settled=settled,
        # a settlement is money paid: never negative (connectors/base/fields.py)
        settlement_amount=fields.amount(record, "settleAmount", allow_negative=False, required=False, wording=WORDING)
        if exit_
        else None,
        settlement_date=optional_date(record, "settleDate") if exit_ else None,
    )


def _attendance(record: dict[str, Any]) -> AttendanceIn:
    day = fields.date(record, "attendDate", wording=WORDING)
    time_in = fields.local_time(record, "inTime", required=False, wording=WORDING)
    time_out = fields.local_time(record, "outTime", required=False, wording=WORDING)
    # A night shift may clock out the next morning; it clocks in on its day.
    if time_in is not None and time_in.date() != day:
        raise Rejection(
            f"inTime {record['inTime']!r} is not on attendDate {day.isoformat()}",
            field="inTime",
            value=record["inTime"],
        )
    return AttendanceIn(
        project_code=required(record, "projectCode"),
        id_number=required(record, "idCardNumber"),
        day=day,
        time_in=time_in,
        time_out=time_out,
        device_id=optional(record, "deviceNo"),
    )


__all__ = ["Attendance", "Movements", "RealnameConfig", "RealnameConnector", "Teams", "Workers"]
