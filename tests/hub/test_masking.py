"""Personal data is masked wherever it can hide: free text, upstream payloads, the API's free-text
fields, error messages and log records."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select, text

from hub.identifiers import mask_personal_data, mask_text
from hub.logs import MaskingFilter, install_masking


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        # mobiles in any writing
        ("电话13800138000。", "电话138****8000。"),
        ("+8613800138000", "+86138****8000"),
        ("008613800138000", "0086138****8000"),
        ("8613800138000", "86138****8000"),
        ("+86 138 0013 8000", "+86 138****8000"),
        ("(+86)138-0013-8000", "(+86)138****8000"),
        ("１３８００１３８０００", "138****8000"),
        # landlines with an area code (the extension is not personal)
        ("座机0531-88881234转123", "座机0531-****1234转123"),
        ("(0531) 8888-1234", "(0531) ****1234"),
        ("010-62345678", "010-****5678"),
        # ID numbers: 18 digits with any check character, 15-digit first-generation ones
        ("身份证370102199001011235", "身份证370102********1235"),
        ("身份证370102199001011234（校验位错）", "身份证370102********1234（校验位错）"),
        ("sfz37010219900101123x", "sfz370102********123x"),
        ("老身份证370102900101123", "老身份证370102*****1123"),
        # bank cards, Luhn or not, contiguous or in groups of four
        ("工资卡6228480012345678903", "工资卡622848*********8903"),
        ("卡号 6228 4800 1234 5678 903", "卡号 622848*********8903"),
        ("卡6228480012345670", "卡622848******5670"),
        # business numbers stay
        ("工单2026111400000127000", "工单2026111400000127000"),
        ("订单号：6228480012345678903", "订单号：6228480012345678903"),
        ("许可证号370102202503010101", "许可证号370102202503010101"),
        ("欠2026年8月至10月工资共计42000元", "欠2026年8月至10月工资共计42000元"),
        ("USCC 91370811MA3C00000A", "USCC 91370811MA3C00000A"),
    ],
)
def test_mask_text(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked
    assert mask_text(masked) == masked  # idempotent


def test_mask_personal_data_by_key() -> None:
    payload = {
        "acctNo": "6222021234567890",
        "账号": "95588 0012 3456 7890",
        "cardNo": 6228480012345678903,
        "bankCard": "6228480012345678904",
        "payRollBankCardNumber": "622848001234567890",
        "salaryAccount": "3700000000181447990",
        "permitNo": "370102202503010101",
        "amount": 42000,
        "accountBalance": "12345.67",
        "tel": "+8613800138000",
        "sfz": "370102900101123",
        "orderNum": "6228480012345678903",
        "remark": "工资卡6228480012345678903，电话 138-0013-8000",
    }
    assert mask_personal_data(payload) == {
        "acctNo": "622202******7890",
        "账号": "955880*******7890",
        "cardNo": "622848*********8903",
        "bankCard": "622848*********8904",
        "payRollBankCardNumber": "622848********7890",
        # 农民工工资专用账户 is the contractor's account (保障农民工工资支付条例 第二十六条): kept
        "salaryAccount": "3700000000181447990",
        "permitNo": "370102202503010101",
        "amount": 42000,
        "accountBalance": "12345.67",
        "tel": "+86138****8000",
        "sfz": "370102*****1123",
        "orderNum": "6228480012345678903",
        "remark": "工资卡622848*********8903，电话 138****8000",
    }


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    return logging.LogRecord(
        "hub.test", logging.ERROR, __file__, 1, msg, args, (type(exc), exc, exc.__traceback__) if exc else None
    )


def test_masking_filter_masks_message_arguments_and_exception_text() -> None:
    try:
        raise ValueError("no worker with ID 370102199001011234 or card 6228480012345678903")
    except ValueError as exc:
        record = _record("lookup of %s failed for %r", "13800138000", {"tel": "+86 138 0013 8000"}, exc=exc)
    assert MaskingFilter().filter(record) is True
    line = logging.Formatter().format(record)
    assert line.startswith(
        "lookup of 138****8000 failed for {'tel': '+86 138****8000'}\nTraceback (most recent call last):"
    )
    assert "ValueError: no worker with ID 370102********1234 or card 622848*********8903" in line
    for secret in ("13800138000", "0013 8000", "370102199001011234", "6228480012345678903"):
        assert secret not in line


def test_install_masking_covers_every_root_handler_once() -> None:
    root = logging.getLogger()
    handler = logging.Handler()
    root.addHandler(handler)
    try:
        first, second = install_masking(), install_masking()
        assert first is second
        assert [f for f in handler.filters if isinstance(f, MaskingFilter)] == [first]
    finally:
        root.removeHandler(handler)


def test_every_engine_hides_sql_parameters(tmp_path) -> None:
    from hub.db import make_async_engine, make_engine

    assert make_engine(f"sqlite:///{tmp_path / 'a.db'}").hide_parameters is True
    assert make_async_engine(f"sqlite:///{tmp_path / 'b.db'}").sync_engine.hide_parameters is True
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.connect() as conn, pytest.raises(Exception) as info:
        conn.execute(text("SELECT * FROM no_such_table WHERE phone = :p"), {"p": "13800138000"})
    assert "13800138000" not in str(info.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(info.value)


# --- free text through the API --------------------------------------------------------------------

PHONE, ID_NUMBER, CARD = "13912345678", "370811198805051234", "6228480012345678903"
TITLE = f"张三（电话{PHONE}）反映欠薪"
CONTENT = f"身份证{ID_NUMBER}，工资卡{CARD}，座机0537-2345678。"
QUERY = """query($no: String!, $reveal: Boolean!) { clue(clueNo: $no) { id title(reveal: $reveal) content(reveal: $reveal)
  conclusion(reveal: $reveal) channelRecords { summary(reveal: $reveal) } } }"""


@pytest.fixture
async def pii_clue(writable_demo, settings_for):  # type: ignore[no-untyped-def]
    """A clue (and its channel records) whose free text carries a phone, an ID number and a card."""
    from hub.app import create_app
    from hub.db import make_engine

    clue_no = writable_demo.highlights["two_channel_clue_no"]
    engine = make_engine(writable_demo.url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE clues SET title = :t, content = :c, conclusion = :c WHERE clue_no = :n"),
            {"t": TITLE, "c": CONTENT, "n": clue_no},
        )
        conn.execute(
            text("UPDATE channel_records SET summary = :c WHERE clue_id = (SELECT id FROM clues WHERE clue_no = :n)"),
            {"c": CONTENT, "n": clue_no},
        )
    engine.dispose()
    app = create_app(settings_for(writable_demo.url))

    async def ask(key: str, reveal: bool) -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            resp = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"no": clue_no, "reveal": reveal}},
                headers={"X-API-Key": writable_demo.keys[key]},
            )
        assert resp.status_code == 200, resp.text
        return resp.json()

    yield ask
    await app.state.engine.dispose()
    app.state.sync_engine.dispose()


@pytest.mark.parametrize("key", ["city", "admin", "unmasker"])
async def test_free_text_is_masked_without_reveal(pii_clue, key) -> None:
    clue = (await pii_clue(key, False))["data"]["clue"]
    assert clue["title"] == "张三（电话139****5678）反映欠薪"
    masked = "身份证370811********1234，工资卡622848*********8903，座机0537-***5678。"
    assert clue["content"] == clue["conclusion"] == masked
    assert clue["channelRecords"] and all(r["summary"] == masked for r in clue["channelRecords"])


async def test_free_text_reveal_needs_the_permission(pii_clue) -> None:
    body = await pii_clue("city", True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["message"] == "you may not read Clue.title unmasked"


async def test_free_text_reveal_is_audited(pii_clue, writable_demo) -> None:
    from hub.db import make_engine
    from hub.models import AuditLog

    clue = (await pii_clue("unmasker", True))["data"]["clue"]
    assert (clue["title"], clue["content"]) == (TITLE, CONTENT)
    engine = make_engine(writable_demo.url)
    with engine.connect() as conn:
        fields = {
            r.detail["field"]
            for r in conn.execute(
                select(AuditLog.detail).where(AuditLog.principal == "apikey:unmasker", AuditLog.action == "unmask")
            )
        }
    engine.dispose()
    assert {"Clue.title", "Clue.content", "Clue.conclusion", "ChannelRecord.summary"} <= fields
