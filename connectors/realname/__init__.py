"""Connector for the province's real-name platform (建筑工人实名制管理平台, 实名制考勤).

JSON REST. The app id and app secret (``X-App-Id`` / ``X-App-Secret`` headers) buy a short-lived
access token (``POST api/v1/auth/token``) that data requests carry in ``X-Access-Token``; an expired
token answers 401 ``TOKEN_EXPIRED``, which becomes ``TokenExpired`` (the hub retries, the client
fetches a new token). ID numbers and bank cards arrive encrypted with the shared ``data_key``
(``connectors.realname._fieldcrypt``); the streams decrypt them before the hub archives the page, so
the archive seals them with the hub's own key and a replay needs no upstream key. A value the key
does not open is kept as sent and marked, and ``normalise`` quarantines its record naming the field.

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

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator

from connectors.base import (
    AttendanceIn,
    Batch,
    CheckResult,
    Connector,
    ConnectorConfig,
    Entity,
    FatalUpstreamError,
    MalformedResponse,
    MovementIn,
    Page,
    Rejection,
    Stream,
    TeamIn,
    TokenExpired,
    WorkerIn,
    check_connection,
    fields,
    map_exceptions,
    read_pages,
    secret,
)
from connectors.realname._fieldcrypt import ENCRYPTED_FIELDS, UndecryptableField, decrypt_field, parse_key

KIND = "realname"
log = logging.getLogger(__name__)

#: 401 codes after which a new token may help.
TOKEN_CODES = frozenset({"TOKEN_EXPIRED", "INVALID_TOKEN"})
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


class _Api:
    """The HTTP side: token handling and the response envelope. One per ``streams()`` call."""

    def __init__(self, config: RealnameConfig) -> None:
        self.config = config
        self.key = parse_key(config.data_key.get_secret_value())
        self._token: str | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.config.base_url, timeout=self.config.timeout_seconds)

    def authenticate(self, http: httpx.Client, *, stream: str = "") -> str:
        """A fresh access token (``CredentialsRefused`` when the app id / secret are refused)."""
        with map_exceptions(connector=KIND, stream=stream):
            resp = http.post(
                "api/v1/auth/token",
                headers={"X-App-Id": self.config.app_id, "X-App-Secret": self.config.app_secret.get_secret_value()},
            )
            resp.raise_for_status()
            self._token = str(_data(resp.json(), stream=stream)["accessToken"])
        return self._token

    def fetch(self, http: httpx.Client, path: str, params: dict[str, Any], *, stream: str) -> dict[str, Any]:
        """One page of a list: ``{records, hasMore, nextCursor}``."""
        token = self._token or self.authenticate(http, stream=stream)
        with map_exceptions(connector=KIND, stream=stream):
            resp = http.get(path, params=params, headers={"X-Access-Token": token})
            if resp.status_code == 401 and _code(resp) in TOKEN_CODES:
                self._token = None  # the hub retries this page; the retry fetches a new token
                raise TokenExpired("access token expired", detail=resp.text[:300])
            resp.raise_for_status()
            data = _data(resp.json(), stream=stream)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise MalformedResponse(
                "a list answer without data.records", connector=KIND, stream=stream, detail=str(data)[:300]
            )
        return data

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


def _code(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _data(body: Any, *, stream: str) -> Any:
    """The ``data`` of a ``{"code": "0", "msg", "data"}`` envelope; another code is the upstream refusing."""
    if not isinstance(body, dict) or "code" not in body:
        raise MalformedResponse(
            "not a real-name platform envelope", connector=KIND, stream=stream, detail=str(body)[:300]
        )
    if str(body["code"]) != "0":
        raise FatalUpstreamError(
            f"real-name platform answered {body['code']}: {body.get('msg')}", connector=KIND, stream=stream
        )
    return body.get("data")


class _RealnameStream(Stream[RealnameConfig]):
    """A list read by update time; state ``{"cursor": "<updateTime>|<key>"}``."""

    path: ClassVar[str]
    cursor_field = "updateTime"

    def __init__(self, connector: RealnameConnector, config: RealnameConfig, api: _Api) -> None:
        super().__init__(connector, config)
        self.api = api

    def cursor_of(self, record: dict[str, Any]) -> str:
        return f"{record.get('updateTime', '')}|{record.get(self.primary_key[0], '')}"

    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        cursor: str | None = state.get("cursor")
        if cursor is None and self.config.start_date:
            # First sync with a start date: begin at that day's first update time (cursor = "time|key").
            cursor = f"{self.config.start_date:%Y-%m-%d} 00:00:00|"
        with self.api.client() as http:

            def fetch(cursor: str | None) -> Batch[str]:
                params: dict[str, Any] = {"pageSize": self.config.page_size}
                if cursor:
                    params["cursor"] = cursor
                data = self.api.fetch(http, self.path, params, stream=self.name)
                return Batch(
                    [self.api.decrypt(r) for r in data["records"]],
                    str(data["nextCursor"]) if data.get("nextCursor") else None,
                    bool(data.get("hasMore")),
                )

            # README "cursors never go backwards": read_pages keeps the larger one.
            yield from read_pages(
                fetch,
                cursor,
                position=self.cursor_of,
                bookmark=lambda cursor: {"cursor": cursor},
                connector=KIND,
                stream=self.name,
            )


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
            with api.client() as http:
                api.authenticate(http)
                records = api.fetch(http, Workers.path, {"pageSize": 1}, stream="workers")["records"]
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

#: The platform's documentation writes its formats as yyyy-MM-dd (HH:mm:ss); its rejections say so.
WORDING = fields.Wording(
    not_date="{field} {value} is not a date (yyyy-MM-dd)",
    not_time="{field} {value} is not a time (yyyy-MM-dd HH:mm:ss)",
    not_number="{field} {value} is not a number",
    negative="{field} {value} must be a non-negative number",
    not_choice="unknown {field} {value}: expected one of {allowed}",
    choice_item="{code}",
)


def _required(record: dict[str, Any], field: str) -> str:
    return fields.text(record, field, wording=WORDING)


def _optional(record: dict[str, Any], field: str) -> str | None:
    return fields.text(record, field, required=False, wording=WORDING)


def _date(record: dict[str, Any], field: str) -> dt.date | None:
    return fields.date(record, field, required=False, wording=WORDING)


def _team(record: dict[str, Any]) -> TeamIn:
    return TeamIn(
        project_code=_required(record, "projectCode"),
        corp_uscc=_required(record, "corpCode"),
        team_sys_no=_required(record, "teamSysNo"),
        name=_required(record, "teamName"),
        leader_name=_optional(record, "teamLeaderName"),
        entry_date=_date(record, "entryTime"),
        exit_date=_date(record, "exitTime"),
    )


def _worker(record: dict[str, Any]) -> WorkerIn:
    # The ID number, card and phone are validated (and masked in reasons) by the hub.
    fields.choice(record, "idCardType", ID_CARD_TYPES, default="01", wording=WORDING)
    return WorkerIn(
        project_code=_required(record, "projectCode"),
        corp_uscc=_required(record, "corpCode"),
        id_number=_required(record, "idCardNumber"),
        name=_required(record, "workerName"),
        team_sys_no=_optional(record, "teamSysNo"),
        work_type=_optional(record, "workType"),
        work_role=_optional(record, "workRole"),
        is_team_leader=fields.flag(record, "isTeamLeader", wording=WORDING),
        bank_card=_optional(record, "payRollBankCardNumber"),
        bank_code=_optional(record, "bankLinkNumber"),
        phone=_optional(record, "cellPhone"),
        entry_date=_date(record, "entryTime"),
        exit_date=_date(record, "exitTime"),
    )


def _movement(record: dict[str, Any]) -> MovementIn:
    kind = fields.choice(record, "moveType", MOVE_TYPES, wording=WORDING)
    exit_ = kind == "exit"
    settled = fields.flag(record, "isSettled", wording=WORDING) if exit_ and "isSettled" in record else None
    return MovementIn(
        project_code=_required(record, "projectCode"),
        id_number=_required(record, "idCardNumber"),
        kind=kind,
        moved_on=fields.date(record, "moveDate", wording=WORDING),
        corp_uscc=_optional(record, "corpCode"),
        settled=settled,
        # a settlement is money paid: never negative (connectors/base/fields.py)
        settlement_amount=fields.amount(record, "settleAmount", allow_negative=False, required=False, wording=WORDING)
        if exit_
        else None,
        settlement_date=_date(record, "settleDate") if exit_ else None,
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
        project_code=_required(record, "projectCode"),
        id_number=_required(record, "idCardNumber"),
        day=day,
        time_in=time_in,
        time_out=time_out,
        device_id=_optional(record, "deviceNo"),
    )


__all__ = ["Attendance", "Movements", "RealnameConfig", "RealnameConnector", "Teams", "Workers"]
