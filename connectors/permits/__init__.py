"""Connector for the construction-permit / project-approval system (施工许可, 工改).

JSON REST. The app id and API key (``X-App-Id`` / ``X-Api-Key`` headers) buy a short-lived access
token (``POST api/v1/auth/token``) that data requests carry in ``X-Access-Token``; an expired token
answers 401 ``TOKEN_EXPIRED``, which becomes ``TokenExpired`` (the hub retries, the client fetches a
new token). The real-name platform speaks the same convention: both connectors read through
``connectors.cursor_api.client``. Five streams, read incrementally by update time:

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

from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    ContractIn,
    EnterpriseIn,
    Entity,
    OutputValueIn,
    ProgressPaymentIn,
    ProjectIn,
    Rejection,
    Stream,
    check_connection,
    fields,
    secret,
)
from connectors.cursor_api.client import WORDING, CursorStream, TokenClient, optional, optional_date, required

KIND = "permits"

#: Permit-system wording → the hub's enterprise kinds and project states.
CORP_KINDS = {"建设单位": "builder", "施工总承包": "general_contractor"}
#: A contract's place in the chain (contractType) → the hub's ContractRole.
CONTRACT_ROLES = {"施工总承包": "general", "专业分包": "specialist", "劳务分包": "labour"}
#: A 分包 holder's qualification category (资质类别, corpType of a contract) → the hub's enterprise kinds.
HOLDER_KINDS = {"施工总承包": "general_contractor", "专业承包": "subcontractor", "施工劳务": "labour_service"}
STATUSES = {"在建": "in_progress", "停工": "stopped", "竣工": "completed"}
SECTORS = {"交通": "交通", "住建": "住建", "水利": "水利"}  # 行业主管部门 (docs/domain.md)


class PermitsConfig(ConnectorConfig):
    """Where the permit system is and the credentials it issued to the hub."""

    app_id: str = Field(description="应用编号 issued by the permit system (sent as X-App-Id).")
    api_key: SecretStr = secret("API key issued with the app id (sent as X-Api-Key).")


class _Api(TokenClient[PermitsConfig]):
    """The permit system's token client: the app id and API key buy the token."""

    connector = KIND
    system = "permit system"
    envelope = "permit-system"

    def credentials(self) -> dict[str, str]:
        return {"X-App-Id": self.config.app_id, "X-Api-Key": self.config.api_key.get_secret_value()}


class Enterprises(CursorStream[PermitsConfig]):
    name = "enterprises"
    primary_key = ("corpCode",)
    sensitive = ()
    path = "api/v1/enterprises"


class Projects(CursorStream[PermitsConfig]):
    name = "projects"
    primary_key = ("projectCode",)
    sensitive = ()
    path = "api/v1/projects"


class Contracts(CursorStream[PermitsConfig]):
    name = "contracts"
    primary_key = ("contractNo",)
    sensitive = ()
    path = "api/v1/contracts"


class ProgressPayments(CursorStream[PermitsConfig]):
    name = "progress_payments"
    primary_key = ("paymentNo",)
    sensitive = ()
    path = "api/v1/progress-payments"


class OutputValues(CursorStream[PermitsConfig]):
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
            _Api(config).probe(Projects.path, stream=Projects.name)
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


def _amount(record: dict[str, Any], field: str) -> Decimal | None:
    """A contract value or a labour-cost share: never negative."""
    return fields.amount(record, field, allow_negative=False, required=False, wording=WORDING)


def _enterprise(record: dict[str, Any]) -> EnterpriseIn:
    # The USCC itself is validated by the hub (GB 32100-2015).
    return EnterpriseIn(
        uscc=required(record, "corpCode"),
        name=required(record, "corpName"),
        kind=fields.choice(record, "corpType", CORP_KINDS, wording=WORDING),
        legal_representative=optional(record, "legalMan"),
        address=optional(record, "address"),
        short_name=optional(record, "corpShortName"),
    )


def _party(record: dict[str, Any], prefix: str, kind: str) -> EnterpriseIn | None:
    """The builder / contractor of a project as an enterprise — only with its full registry details.

    A record carrying just code and name would blank the legal representative and address the
    enterprises stream stored, so then the project relies on that stream instead.
    """
    code = optional(record, f"{prefix}CorpCode")
    if code is None or f"{prefix}LegalMan" not in record:
        return None
    return EnterpriseIn(
        uscc=code,
        name=required(record, f"{prefix}CorpName"),
        kind=kind,
        legal_representative=optional(record, f"{prefix}LegalMan"),
        address=optional(record, f"{prefix}CorpAddress"),
        short_name=optional(record, f"{prefix}CorpShortName"),
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
        project_code=required(record, "projectCode"),
        name=required(record, "projectName"),
        region_code=required(record, "regionCode"),
        sector=sector,
        status=status,
        contractor_uscc=required(record, "contractorCorpCode"),
        builder_uscc=optional(record, "builderCorpCode"),
        address=optional(record, "address"),
        permit_no=optional(record, "permitNo"),
        permit_date=optional_date(record, "permitDate"),
        contract_value=_amount(record, "contractAmount"),
        contract_signed_on=optional_date(record, "contractSignDate"),
        labour_cost_cycle_days=cycle,
        labour_cost_ratio=_amount(record, "labourCostRatio"),
        start_date=optional_date(record, "startDate"),
        planned_end_date=optional_date(record, "plannedEndDate"),
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
        project_code=required(record, "projectCode"),
        enterprise_uscc=required(record, "corpCode"),
        role=role,
        parent_uscc=optional(record, "parentCorpCode"),
        contract_no=required(record, "contractNo"),
        contract_value=_amount(record, "contractAmount"),
        signed_on=optional_date(record, "signDate"),
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
        name=required(record, "corpName"),
        kind=fields.choice(record, "corpType", HOLDER_KINDS, wording=WORDING),
        legal_representative=optional(record, "corpLegalMan"),
        address=optional(record, "corpAddress"),
        short_name=optional(record, "corpShortName"),
    )
    return [holder, contract]


def _progress_payment(record: dict[str, Any]) -> ProgressPaymentIn:
    # 条例 第二十四条: the labour cost is allocated with each progress payment, at the agreed share
    return ProgressPaymentIn(
        project_code=required(record, "projectCode"),
        payment_no=required(record, "paymentNo"),
        paid_on=fields.date(record, "payDate", wording=WORDING),
        amount=fields.amount(record, "paymentAmount", allow_negative=False, wording=WORDING),
        payer_uscc=optional(record, "payerCorpCode"),
    )


def _output_value(record: dict[str, Any]) -> OutputValueIn:
    return OutputValueIn(
        project_code=required(record, "projectCode"),
        month=fields.month(record, "statMonth", wording=WORDING),
        amount=fields.amount(record, "outputValue", allow_negative=False, wording=WORDING),
        reported_on=optional_date(record, "reportDate"),
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
