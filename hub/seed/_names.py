"""Chinese name and text material for the demo data: people, companies, projects, complaints.

Person names use Faker's zh_CN word lists directly (weighted surnames, given-name characters) rather
than calling Faker per row, which would be far too slow for half a million workers. Company and
project names are composed from small hand-written lists so that they read like the registrations a
city platform actually holds ("济宁市任城区恒达劳务有限公司", "太白湖路改造工程"). All names are fictional.
"""

from __future__ import annotations

import random
from itertools import accumulate

from faker.providers.person.zh_CN import Provider as _PersonProvider

_SURNAMES = list(_PersonProvider.last_names.keys())
_SURNAME_CUM = list(accumulate(_PersonProvider.last_names.values()))
_GIVEN = [c for c in _PersonProvider.first_names if len(c) == 1]


def person_name(rng: random.Random) -> str:
    """A Chinese personal name: weighted surname + one or two given-name characters."""
    surname = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0]
    given = rng.choice(_GIVEN) + (rng.choice(_GIVEN) if rng.random() < 0.7 else "")
    return surname + given


# 字号 (trade names): two characters, one from each list.
_TRADE_A = "恒宏鸿华鑫金盛德永福泰瑞汇博天兴昌通顺嘉广鼎正信万联东圣祥锦宇润安中诚远隆荣富海"
_TRADE_B = "达远泰顺源盛丰和安祥通业兴昌发诚厦图鼎信隆辉泽基成建宇力邦华瑞嘉鑫"


def trade_name(rng: random.Random) -> str:
    """A two-character 字号 such as 恒达, 宏远, 鑫源."""
    a = rng.choice(_TRADE_A)
    b = rng.choice(_TRADE_B)
    return a + b if a != b else a + "达"


def province_short(province_name: str) -> str:
    """'山东省' → '山东', '北京市' → '北京', '广西壮族自治区' → '广西'."""
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市"):
        if province_name.endswith(suffix):
            return province_name[: -len(suffix)]
    return province_name


def contractor_name(rng: random.Random, trade: str, *, province: str, city: str, county: str) -> str:
    """A general contractor (施工总承包) name."""
    pattern = rng.random()
    if pattern < 0.45:
        return f"{province_short(province)}{trade}建设集团有限公司"
    if pattern < 0.6:
        return f"{province_short(province)}{trade}建工集团有限公司"
    if pattern < 0.85:
        return f"{city}{trade}建设工程有限公司"
    return f"{city}{county}{trade}建筑安装工程有限公司"


_SPECIALTIES = [
    ("钢结构工程", "钢结构工程专业承包二级"),
    ("装饰工程", "建筑装修装饰工程专业承包二级"),
    ("市政工程", "市政公用工程施工总承包二级"),
    ("防水工程", "防水防腐保温工程专业承包二级"),
    ("机电安装工程", "建筑机电安装工程专业承包二级"),
    ("幕墙工程", "建筑幕墙工程专业承包二级"),
    ("地基基础工程", "地基基础工程专业承包二级"),
    ("园林绿化工程", None),
]


def subcontractor_name(rng: random.Random, trade: str, *, province: str, city: str) -> tuple[str, str | None]:
    """A specialist subcontractor (专业分包) name and its qualification."""
    spec, qual = rng.choice(_SPECIALTIES)
    where = city if rng.random() < 0.75 else province_short(province)
    return f"{where}{trade}{spec}有限公司", qual


def labour_name(rng: random.Random, trade: str, *, province: str, city: str, county: str) -> str:
    """A labour-service (劳务分包) company name."""
    pattern = rng.random()
    if pattern < 0.55:
        return f"{city}{county}{trade}劳务有限公司"
    if pattern < 0.85:
        return f"{city}{trade}建筑劳务有限公司"
    return f"{province_short(province)}{trade}劳务分包有限公司"


_NUMERALS = "一二三四五六七八九十"


def builder_name(
    rng: random.Random, trade: str, *, sector: str, city: str, county: str
) -> tuple[str, str, str, str | None]:
    """A 建设单位 for a sector: (name, USCC registration authority, USCC org type, singleton level).

    Companies register with market regulation (``91``); schools and hospitals are public
    institutions (事业单位, ``12``); bureaus are government organs (机关, ``11``) — GB 32100-2015.
    The level (``city`` / ``county``) marks a body that exists once there (a bureau, the 城投), to be
    reused rather than registered twice; ``None`` is an ordinary company.
    """
    r = rng.random()
    if sector == "交通":
        if r < 0.4:
            return f"{county}交通运输局", "1", "1", "county"
        if r < 0.7:
            return f"{city}公路事业发展中心", "1", "2", "city"
        return f"{city}{county}城市建设投资有限公司", "9", "1", "county"
    if sector == "水利":
        if r < 0.5:
            return f"{county}水务局", "1", "1", "county"
        return f"{city}水利工程建设管理中心", "1", "2", "city"
    if r < 0.5:
        return f"{city}{trade}房地产开发有限公司", "9", "1", None
    if r < 0.65:
        return f"{city}{trade}置业有限公司", "9", "1", None
    if r < 0.8:
        return f"{city}{county}城市建设投资发展有限公司", "9", "1", "county"
    if r < 0.9:
        return f"{county}第{rng.choice(_NUMERALS)}中学", "1", "2", None
    return f"{county}{rng.choice(['人民医院', '中医院', '妇幼保健院'])}", "1", "2", "county"


def _strip_regions(s: str, region_names: tuple[str, ...], *, keep: int) -> str:
    """Drop leading region words (longest first), keeping at least ``keep`` characters."""
    while True:
        for r in region_names:
            if r and s.startswith(r) and len(s) >= len(r) + keep:
                s = s[len(r) :]
                break
        else:
            return s


def short_name(name: str, region_names: tuple[str, ...]) -> str:
    """The 简称 people use on the phone: '济宁市任城区恒达劳务有限公司' → '恒达劳务'.

    Region words and the organisation form are dropped; bureaus, schools and hospitals keep their name.
    """
    if not name.endswith("公司"):
        return name
    s = _strip_regions(name, region_names, keep=4)
    for suffix in ("股份有限公司", "有限责任公司", "有限公司"):
        s = s.removesuffix(suffix)
    return s.removesuffix("集团") if s.endswith("建设集团") or s.endswith("建工集团") else s


_ROADS = [
    "太白湖路",
    "建设路",
    "红星路",
    "共青团路",
    "琵琶山路",
    "古槐路",
    "洸河路",
    "崇文大道",
    "荷花路",
    "金宇路",
    "火炬路",
    "光明路",
    "人民路",
    "中山路",
    "府河路",
    "运河路",
    "解放路",
    "和平路",
    "胜利路",
    "文化路",
    "青年路",
    "东风路",
    "新华路",
    "迎宾大道",
    "滨河路",
    "黄河路",
    "长江路",
    "泰山路",
    "育才路",
    "振兴路",
    "开发区大道",
]
_RIVERS = [
    "泗河",
    "洸府河",
    "白马河",
    "梁济运河",
    "老运河",
    "小清河",
    "大汶河",
    "沂河",
    "沭河",
    "徒骇河",
    "马颊河",
    "弥河",
]
_ESTATE_A = [
    "锦绣",
    "翡翠",
    "御景",
    "阳光",
    "书香",
    "金色",
    "凤凰",
    "盛世",
    "东方",
    "望湖",
    "滨河",
    "春晖",
    "学府",
    "和园",
    "泰和",
]
_ESTATE_B = ["华府", "花园", "家园", "名苑", "雅居", "公馆", "新城", "御府", "嘉园", "壹号院", "悦府", "湾"]
_PHASES = ["一期", "二期", "三期", "四期"]


def road(rng: random.Random) -> str:
    return rng.choice(_ROADS)


def address(rng: random.Random, *, city: str, county: str) -> str:
    """A street address in a county."""
    return f"{city}{county}{rng.choice(_ROADS)}{rng.randint(1, 399)}号"


def project_name(rng: random.Random, *, sector: str, city: str, county: str, year: int) -> str:
    """A project name in the style of the 工改 system for a sector (住建 / 交通 / 水利)."""
    r = rng.random()
    if sector == "交通":
        if r < 0.35:
            return f"{rng.choice(_ROADS)}改造工程"
        if r < 0.6:
            a, b = rng.sample(_ROADS, 2)
            return f"{rng.choice(_ROADS)}道路新建工程（{a.removesuffix('路')}至{b.removesuffix('路')}段）"
        if r < 0.8:
            return f"G{rng.randint(104, 342)}{county}段改扩建工程"
        if r < 0.9:
            return f"{county}{year}年农村公路提升工程"
        return f"{rng.choice(_RIVERS)}大桥工程"
    if sector == "水利":
        if r < 0.4:
            return f"{rng.choice(_RIVERS)}{county}段综合治理工程"
        if r < 0.6:
            return f"{county}{rng.choice(['西苇', '尼山', '贺庄', '华村', '龙湾套'])}水库除险加固工程"
        if r < 0.8:
            return f"{county}农村供水保障工程"
        return f"{county}灌区续建配套与节水改造工程"
    if r < 0.45:
        return f"{city}{county}{rng.choice(_ESTATE_A)}{rng.choice(_ESTATE_B)}{rng.choice(_PHASES)}住宅项目"
    if r < 0.58:
        return f"{county}第{rng.choice(_NUMERALS)}中学教学楼建设项目"
    if r < 0.68:
        return f"{county}{rng.choice(['人民医院', '中医院'])}{rng.choice(['门诊综合楼', '病房楼', '医技楼'])}工程"
    if r < 0.8:
        return f"{county}{rng.choice(['城北', '城南', '城东', '老城区', '火车站片区'])}棚户区改造安置房项目"
    if r < 0.9:
        return f"{county}老旧小区改造工程（{year}年）"
    return f"{city}{rng.choice(_ESTATE_A)}商业综合体项目"


WORK_TYPES: list[tuple[str, float, int, int]] = [
    # work type, share, daily wage range (yuan) — 2025 Shandong site rates, rounded
    ("普工", 0.24, 180, 260),
    ("钢筋工", 0.14, 300, 420),
    ("木工", 0.14, 320, 450),
    ("混凝土工", 0.1, 260, 360),
    ("瓦工", 0.1, 300, 420),
    ("架子工", 0.08, 300, 400),
    ("电工", 0.06, 300, 400),
    ("焊工", 0.05, 350, 450),
    ("油漆工", 0.04, 260, 360),
    ("机械操作工", 0.05, 300, 420),
]
WORK_TYPE_CUM = list(accumulate(w[1] for w in WORK_TYPES))

BANKS = [
    # bank, card BIN, card length, CNAPS bank code prefix (联行号 first 3 digits)
    ("中国农业银行", "622848", 19, "103"),
    ("中国建设银行", "621700", 19, "105"),
    ("中国工商银行", "621226", 19, "102"),
    ("中国银行", "621661", 19, "104"),
    ("中国邮政储蓄银行", "621799", 19, "403"),
    ("农村商业银行", "623059", 19, "402"),
]


def bank_code(rng: random.Random, bank_prefix: str, region_code: str) -> str:
    """A plausible 12-digit 联行号: bank(3) + city(4) + branch(4) + check(1). Not an official code."""
    city4 = region_code[:2] + region_code[2:4]
    return f"{bank_prefix}{city4}{rng.randint(1, 9999):04d}{rng.randint(0, 9)}"


def amount_text(amount: float) -> str:
    """'42000' → '4.2万元'; below 10,000 → '8600元'."""
    if amount >= 10000:
        return f"{amount / 10000:.1f}万元".replace(".0万", "万")
    return f"{amount:.0f}元"


def complaint_text(
    rng: random.Random,
    *,
    channel: str,
    place: str,
    project: str | None,
    respondent: str,
    period: str,
    amount: float,
    headcount: int,
    work_type: str,
) -> str:
    """Complaint text as the channel's operator or the complainant writes it."""
    money = amount_text(amount)
    where = project or respondent
    if channel in ("hotline12345", "hotline12333"):
        templates = [
            f"来电人反映其在{place}{where}务工，被{respondent}拖欠{period}工资共计{money}，涉及{headcount}人，要求尽快处理。",
            f"来电人称其在{place}{where}从事{work_type}工作，{respondent}至今未支付{period}工资{money}，多次讨要无果，请求相关部门协调解决。",
            f"来电人反映{respondent}拖欠其班组{headcount}名农民工{period}工资约{money}，班组长联系不上，诉求：尽快支付工资。",
        ]
    elif channel == "national_platform":
        templates = [
            f"本人在{place}{where}干{work_type}，{period}的工资{money}一直没发，找{respondent}要了好几次都说没钱，请帮忙解决。",
            f"我们{headcount}人在{where}干活，{respondent}拖欠{period}工资共{money}，请求政府帮忙讨薪。",
        ]
    elif channel in ("walk_in", "petition"):
        templates = [
            f"{headcount}名农民工到劳动监察窗口反映，{respondent}拖欠其在{where}的{period}工资共计{money}，要求依法处理。",
            f"信访人反映其在{place}{where}务工，{respondent}拖欠{period}工资{money}，要求督促支付。",
        ]
    elif channel == "public_opinion":
        templates = [f"网民发帖称{place}{where}拖欠农民工工资{money}，涉及约{headcount}人，引发关注。"]
    else:
        templates = [
            f"反映人称在{place}{where}务工，{respondent}拖欠{period}工资{money}，涉及{headcount}人。",
            f"网格员走访发现{where}有{headcount}名工人反映{respondent}拖欠{period}工资约{money}。",
        ]
    return rng.choice(templates)


def conclusion_text(
    rng: random.Random, *, respondent: str, headcount: int, amount: float, paid_on: str
) -> tuple[str, float, int]:
    """A 核处结论 and the recovered amount and headcount it reports."""
    r = rng.random()
    if r < 0.78:
        return (
            f"经查，{respondent}拖欠{headcount}名农民工工资{amount:.0f}元属实，已下达限期整改指令书，"
            f"{paid_on}已全部支付到位。",
            amount,
            headcount,
        )
    if r < 0.9:
        part = round(amount * rng.uniform(0.5, 0.9), -2)
        paid = max(1, round(headcount * part / amount))
        return (
            f"经查，欠薪属实，经协调已支付{part:.0f}元（{paid}人），剩余部分双方约定分期支付，将持续跟踪。",
            part,
            paid,
        )
    if r < 0.96:
        return ("经核查，双方系劳动报酬争议，金额存在分歧，已告知当事人向劳动人事争议仲裁委员会申请仲裁。", 0.0, 0)
    return ("经核查，反映人所述工资已于投诉前结清，反映问题不属实，已向反映人说明。", 0.0, 0)


RETURN_REASONS = [
    "不属于本辖区管辖，请重新分办。",
    "反映人联系方式有误，无法核实，退回补充信息。",
    "非欠薪问题，属于劳动合同纠纷，建议转仲裁。",
]

NON_CONSTRUCTION_JOBS = ["操作工", "服务员", "保洁员", "仓管员", "销售员", "厨师"]
NON_CONSTRUCTION_KINDS = [
    "餐饮管理有限公司",
    "商贸有限公司",
    "物业服务有限公司",
    "纺织有限公司",
    "食品有限公司",
    "机械制造有限公司",
]
