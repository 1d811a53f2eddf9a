"""Connector for the construction-permit / project-approval system (施工许可, 工改).

JSON REST. The app id and API key (``X-App-Id`` / ``X-Api-Key`` headers) buy a short-lived access
token (``POST api/v1/auth/token``) that data requests carry in ``X-Access-Token``; an expired token
answers 401 ``TOKEN_EXPIRED``, which becomes ``TokenExpired`` (the hub retries, the client fetches a
new token). Five streams, read incrementally by update time:

- ``enterprises`` (``api/v1/enterprises``): builders (建设单位) and general contractors (施工总承包)
  → ``EnterpriseIn``; key ``corpCode`` (USCC).
- ``projects`` (``api/v1/projects``): a project with its permit (施工许可证编号) and contract (value,
  labour-cost cycle and ratio) → ``ProjectIn``, preceded by the ``EnterpriseIn`` of its builder and
  contractor when the record carries their registry details (so a project never arrives before its
  enterprises; the hub applies enterprises first within a page); key ``projectCode``.
- ``contracts`` (``api/v1/contracts``): the contract chain (保障农民工工资支付条例 第三十条) — who holds a
  施工总承包 / 专业分包 / 劳务分包 contract from whom → ``ContractIn``, preceded by the ``EnterpriseIn`` of a
  分包 holder when the record carries its registry details (the enterprises list has only 建设单位 and
  总包); key ``contractNo``.
- ``progress_payments`` (``api/v1/progress-payments``): 工程款拨付 from the builder to the 总包 →
  ``ProgressPaymentIn``; key ``paymentNo``.
- ``output_values`` (``api/v1/output-values``): a project's monthly 工程量产值 → ``OutputValueIn``; key
  ``reportNo``.

Both lists are ordered by ``updateTime`` then key; the cursor is ``"<updateTime>|<key>"`` of the
last record received, and it never moves backwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from connectors.base import (
    Batch,
    CheckResult,
    Connector,
    ConnectorConfig,
    ContractIn,
    EnterpriseIn,
    Entity,
    FatalUpstreamError,
    MalformedResponse,
    OutputValueIn,
    Page,
    ProgressPaymentIn,
    ProjectIn,
    Rejection,
    Stream,
    TokenExpired,
    check_connection,
    fields,
    map_exceptions,
    read_pages,
    secret,
)

KIND = "permits"
log = logging.getLogger(__name__)

#: Permit-system wording → the hub's enterprise kinds and project states.
CORP_KINDS = {"建设单位": "builder", "施工总承包": "general_contractor"}
#: A contract's place in the chain (contractType) → the hub's ContractRole.
CONTRACT_ROLES = {"施工总承包": "general", "专业分包": "specialist", "劳务分包": "labour"}
#: A 分包 holder's qualification category (资质类别, corpType of a contract) → the hub's enterprise kinds.
HOLDER_KINDS = {"施工总承包": "general_contractor", "专业承包": "subcontractor", "施工劳务": "labour_service"}
STATUSES = {"在建": "in_progress", "停工": "stopped", "竣工": "completed"}
SECTORS = {"交通": "交通", "住建": "住建", "水利": "水利"}  # 行业主管部门 (docs/domain.md)
#: 401 codes after which a new token may help.
TOKEN_CODES = frozenset({"TOKEN_EXPIRED", "INVALID_TOKEN"})


class PermitsConfig(ConnectorConfig):
    """Where the permit system is and the credentials it issued to the hub."""

    app_id: str = Field(description="应用编号 issued by the permit system (sent as X-App-Id).")
    api_key: SecretStr = secret("API key issued with the app id (sent as X-Api-Key).")


class _Api:
    """The HTTP side: token handling and the response envelope. One per ``streams()`` call."""

    def __init__(self, config: PermitsConfig) -> None:
        self.config = config
        self._token: str | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.config.base_url, timeout=self.config.timeout_seconds)

    def authenticate(self, http: httpx.Client, *, stream: str = "") -> str:
        """A fresh access token (``FatalUpstreamError`` when the app id / API key are refused)."""
        with map_exceptions(connector=KIND, stream=stream):
            resp = http.post(
                "api/v1/auth/token",
                headers={"X-App-Id": self.config.app_id, "X-Api-Key": self.config.api_key.get_secret_value()},
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


def _code(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _data(body: Any, *, stream: str) -> Any:
    """The ``data`` of a ``{"code": "0", "msg", "data"}`` envelope; another code is the upstream refusing."""
    if not isinstance(body, dict) or "code" not in body:
        raise MalformedResponse("not a permit-system envelope", connector=KIND, stream=stream, detail=str(body)[:300])
    if str(body["code"]) != "0":
        raise FatalUpstreamError(
            f"permit system answered {body['code']}: {body.get('msg')}", connector=KIND, stream=stream
        )
    return body.get("data")


class _PermitStream(Stream[PermitsConfig]):
    """A list read by update time; state ``{"cursor": "<updateTime>|<key>"}``."""

    path: ClassVar[str]
    cursor_field = "updateTime"

    def __init__(self, connector: PermitsConnector, config: PermitsConfig, api: _Api) -> None:
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
                    data["records"],
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


class Enterprises(_PermitStream):
    name = "enterprises"
    primary_key = ("corpCode",)
    sensitive = ()
    path = "api/v1/enterprises"


class Projects(_PermitStream):
    name = "projects"
    primary_key = ("projectCode",)
    sensitive = ()
    path = "api/v1/projects"


class Contracts(_PermitStream):
    name = "contracts"
    primary_key = ("contractNo",)
    sensitive = ()
    path = "api/v1/contracts"


class ProgressPayments(_PermitStream):
    name = "progress_payments"
    primary_key = ("paymentNo",)
    sensitive = ()
    path = "api/v1/progress-payments"


class OutputValues(_PermitStream):
    name = "output_values"
    primary_key = ("reportNo",)
    sensitive = ()
    path = "api/v1/output-values"


class PermitsConnector(Connector[PermitsConfig]):
    """施工许可 / 工改: enterprises, projects (permit, contract, labour-cost cycle), the contract chain,
    progress payments and monthly output value, by update time."""

    kind = KIND
    title = "施工许可 / 工改系统"
    config_model = PermitsConfig
    sandbox = "connectors.permits.sandbox:create_app"

    def check(self, config: PermitsConfig) -> CheckResult:
        """Get a token with the app id and API key, and ask for one project."""

        def probe() -> str:
            api = _Api(config)
            with api.client() as http:
                api.authenticate(http)
                api.fetch(http, Projects.path, {"pageSize": 1}, stream="projects")
            return f"connected to the permit system at {config.base_url}: credentials accepted"

        return check_connection(
            probe,
            system="the permit system",
            where=config.base_url,
            refused="{system} refused the app id / API key (HTTP 401): check app_id and api_key",
        )

    def streams(self, config: PermitsConfig) -> list[Stream[PermitsConfig]]:
        api = _Api(config)  # shared: one token for every stream
        kinds = (Enterprises, Projects, Contracts, ProgressPayments, OutputValues)
        return [kind(self, config, api) for kind in kinds]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        if stream == "enterprises":
            return [_enterprise(record)]
        if stream == "projects":
            return _project(record)
        if stream == "contracts":
            return _contract(record)
        if stream == "progress_payments":
            return [_progress_payment(record)]
        if stream == "output_values":
            return [_output_value(record)]
        raise Rejection(f"the permits connector has no stream {stream!r}", field="stream", value=stream)


# -- normalisation (pure) ---------------------------------------------------------------------

#: The permit system's documentation writes its formats as yyyy-MM-dd; its rejections say so.
WORDING = fields.Wording(
    not_date="{field} {value} is not a date (yyyy-MM-dd)",
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


def _amount(record: dict[str, Any], field: str) -> Decimal | None:
    """A contract value or a labour-cost share: never negative."""
    return fields.amount(record, field, allow_negative=False, required=False, wording=WORDING)


def _enterprise(record: dict[str, Any]) -> EnterpriseIn:
    # The USCC itself is validated by the hub (GB 32100-2015).
    return EnterpriseIn(
        uscc=_required(record, "corpCode"),
        name=_required(record, "corpName"),
        kind=fields.choice(record, "corpType", CORP_KINDS, wording=WORDING),
        legal_representative=_optional(record, "legalMan"),
        address=_optional(record, "address"),
        short_name=_optional(record, "corpShortName"),
    )


def _party(record: dict[str, Any], prefix: str, kind: str) -> EnterpriseIn | None:
    """The builder / contractor of a project as an enterprise — only with its full registry details.

    A record carrying just code and name would blank the legal representative and address the
    enterprises stream stored, so then the project relies on that stream instead.
    """
    code = _optional(record, f"{prefix}CorpCode")
    if code is None or f"{prefix}LegalMan" not in record:
        return None
    return EnterpriseIn(
        uscc=code,
        name=_required(record, f"{prefix}CorpName"),
        kind=kind,
        legal_representative=_optional(record, f"{prefix}LegalMan"),
        address=_optional(record, f"{prefix}CorpAddress"),
        short_name=_optional(record, f"{prefix}CorpShortName"),
    )


def _project(record: dict[str, Any]) -> list[Entity]:
    status = fields.choice(record, "projectStatus", STATUSES, wording=WORDING)
    sector = fields.choice(record, "industry", SECTORS, wording=WORDING)
    # 条例 Art. 24: labour cost allocated at least monthly, every 30 days by default
    cycle = fields.integer(record, "labourCostCycle", allow_negative=True, required=False, wording=WORDING)
    cycle = 30 if cycle is None else cycle
    if cycle <= 0:
        raise Rejection(
            f"labourCostCycle must be a positive number of days, got {cycle}", field="labourCostCycle", value=cycle
        )
    # permitNo (施工许可证编号: region + date + sequence + specialty) and regionCode are validated by the hub.
    project = ProjectIn(
        project_code=_required(record, "projectCode"),
        name=_required(record, "projectName"),
        region_code=_required(record, "regionCode"),
        sector=sector,
        status=status,
        contractor_uscc=_required(record, "contractorCorpCode"),
        builder_uscc=_optional(record, "builderCorpCode"),
        address=_optional(record, "address"),
        permit_no=_optional(record, "permitNo"),
        permit_date=_date(record, "permitDate"),
        contract_value=_amount(record, "contractAmount"),
        contract_signed_on=_date(record, "contractSignDate"),
        labour_cost_cycle_days=cycle,
        labour_cost_ratio=_amount(record, "labourCostRatio"),
        start_date=_date(record, "startDate"),
        planned_end_date=_date(record, "plannedEndDate"),
    )
    ratio = project.labour_cost_ratio
    if ratio is not None and ratio > 1:
        raise Rejection(
            f"labourCostRatio {ratio} must be a share between 0 and 1", field="labourCostRatio", value=str(ratio)
        )
    parties = [_party(record, "builder", "builder"), _party(record, "contractor", "general_contractor")]
    return [*(p for p in parties if p is not None), project]


def _contract(record: dict[str, Any]) -> list[Entity]:
    """A link of the contract chain; a 分包 holder with its registry details comes first as an enterprise."""
    role = fields.choice(record, "contractType", CONTRACT_ROLES, wording=WORDING)
    contract = ContractIn(
        project_code=_required(record, "projectCode"),
        enterprise_uscc=_required(record, "corpCode"),
        role=role,
        parent_uscc=_optional(record, "parentCorpCode"),
        contract_no=_required(record, "contractNo"),
        contract_value=_amount(record, "contractAmount"),
        signed_on=_date(record, "signDate"),
    )
    if role != "general" and contract.parent_uscc is None:
        raise Rejection(
            f"a {record['contractType']} contract names the contractor it holds it from: parentCorpCode is missing",
            field="parentCorpCode",
            value=None,
        )
    if "corpLegalMan" not in record:
        return [contract]
    holder = EnterpriseIn(
        uscc=contract.enterprise_uscc,
        name=_required(record, "corpName"),
        kind=fields.choice(record, "corpType", HOLDER_KINDS, wording=WORDING),
        legal_representative=_optional(record, "corpLegalMan"),
        address=_optional(record, "corpAddress"),
        short_name=_optional(record, "corpShortName"),
    )
    return [holder, contract]


def _progress_payment(record: dict[str, Any]) -> ProgressPaymentIn:
    # 条例 第二十四条: the labour cost is allocated with each progress payment, at the agreed share
    return ProgressPaymentIn(
        project_code=_required(record, "projectCode"),
        payment_no=_required(record, "paymentNo"),
        paid_on=fields.date(record, "payDate", wording=WORDING),
        amount=fields.amount(record, "paymentAmount", allow_negative=False, wording=WORDING),
        payer_uscc=_optional(record, "payerCorpCode"),
    )


def _output_value(record: dict[str, Any]) -> OutputValueIn:
    return OutputValueIn(
        project_code=_required(record, "projectCode"),
        month=fields.month(record, "statMonth", wording=WORDING),
        amount=fields.amount(record, "outputValue", allow_negative=False, wording=WORDING),
        reported_on=_date(record, "reportDate"),
    )


__all__ = [
    "Contracts",
    "Enterprises",
    "OutputValues",
    "PermitsConfig",
    "PermitsConnector",
    "ProgressPayments",
    "Projects",
]
