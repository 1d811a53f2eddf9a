"""Generation of the clue pool: clues, their channel records and raw payloads, case actions, events.

Clues are generated day by day over the last year (one sub-RNG per day), so ids follow the time of
receipt and memory stays flat. The special situations of the demo (a clue that came through 12345
and the national platform, an enterprise with many recent clues, a group case, a large case) are
planned up front and injected on their day, among them the stopped project's workers' complaint.
Warnings escalated into the pool are not generated: the rules engine escalates them after seeding,
through the clue pool's matcher (``hub.seed.seed_database``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import hub.seed._names as N
from hub import deadlines
from hub.matching import Features, blocking_keys, normalise_company_name
from hub.models.clues import CHANNELS, Clue
from hub.seed._base import (
    CST,
    SENSITIVE_PAYLOAD_FIELDS,
    Ent,
    Person,
    Proj,
    Row,
    World,
    fmt_local,
    local_at,
    payload_hash,
    spread,
)
from hub.workdays import add_working_days, is_workday, working_days_between

# Share of clues by first channel (pilot reports: 12345 and the national platform dominate).
CHANNEL_WEIGHTS = {
    "hotline12345": 40,
    "national_platform": 25,
    "hotline12333": 8,
    "walk_in": 8,
    "online": 6,
    "petition": 5,
    "grid": 4,
    "superior": 2,
    "leader": 1,
    "public_opinion": 1,
}
SOURCE_PREFIX = {
    "hotline12345": "",
    "national_platform": "GZQX",
    "hotline12333": "LD",
    "walk_in": "LF",
    "online": "WS",
    "petition": "XF",
    "grid": "WG",
    "superior": "ZB",
    "leader": "PS",
    "public_opinion": "YQ",
    "warning": "YJ",
}
WITH_ID = {"national_platform", "walk_in", "petition", "online"}  # channels that collect the complainant's ID
MONTH_FACTOR = {1: 1.6, 2: 1.3, 11: 1.15, 12: 1.45, 6: 0.9, 7: 0.8, 8: 0.8}  # arrears peak before 春节
#: Share of the first county's generated clues that the county hands down to one of its towns (分办至镇街),
#: so that the town ranking (hub.ranking, 县对镇街考核) has towns to compare.
TOWN_SHARE = 0.6
#: Share of those the town sends back to the county (退回), besides the county's own returns.
TOWN_RETURN_SHARE = 0.1
#: What a generated 12345 caller asks (``reflectName``): its answer deadline follows (hub.deadlines).
HOTLINE_REQUESTS = ("投诉", "求助")
#: States in which the clue was accepted (签收 / 受理, hub.workflow's ``accept`` → in_progress).
ACCEPTED = ("in_progress", "closed", "called_back")


def clue_deadlines(
    *,
    channel: str,
    reflect: str | None,
    status: str,
    received: dt.datetime,
    accepted: dt.datetime | None,
) -> tuple[dt.date | None, bool, dt.date | None]:
    """A generated clue's current deadline, whether it is provisional, and the order's own ``deadlineDate``
    (12345 only) — all from the statute table in ``hub.deadlines``, as the intake and the workflow count them:
    12345 签收 within 1 working day then the answer by request type; every other channel 受理 within 5, then
    调查 within 60 of 受理. The 12345 order's deadline is the table's answer date (the hotline counts as we do)."""
    clue = Clue(
        channel=channel,
        request_type=deadlines.request_type_of(reflect),
        status=status,
        received_at=received,
        accepted_at=accepted,
        extended_days=0,
    )
    order_deadline = None
    if channel == "hotline12345":
        order_deadline = deadlines.stages(clue, today=received.astimezone(CST).date())[-1].due
        clue.upstream_deadline = order_deadline
    due, provisional = deadlines.current(clue)
    return due, provisional, order_deadline


def _phone_as_typed(r: random.Random, phone: str) -> str:
    x = r.random()
    return phone if x < 0.7 else f"{phone[:3]}-{phone[3:7]}-{phone[7:]}" if x < 0.85 else f"+86 {phone}"


def _spec(w: World, r: random.Random, day: dt.date, **kw: Any) -> dict[str, Any]:
    """A clue to generate on ``day``: random unless fields are given."""
    s: dict[str, Any] = {"day": day, **kw}
    if "channels" not in s:
        ch = r.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
        s["channels"] = [(ch, 0, None, "new", None)]
    if "project" not in s and "respondent_name" not in s:
        if r.random() < 0.85:
            for _ in range(6):
                picked = r.choice(w.projects)
                if picked.start <= day:
                    break
            cands = [picked.contractor, *picked.employers]
            # 分类监管: B and C enterprises draw more complaints than A
            s["project"] = picked
            s["respondent"] = r.choices(cands, [{"A": 1, "B": 4, "C": 8}[e.credit] for e in cands])[0]
        else:
            county = r.choice(w.counties)
            _, city, cname = w.names(county)
            s["project"], s["county"] = None, county
            s["respondent_name"] = f"{city}{cname}{N.trade_name(r)}{r.choice(N.NON_CONSTRUCTION_KINDS)}"
    p: Proj | None = s.get("project")
    if "complainant" not in s:
        s["complainant"] = (
            r.choice(p.contacts)
            if p and p.contacts and r.random() < 0.5
            else w.person(10**9 + w.next_id("_complainants"), local=w.counties)
        )
    if "headcount" not in s:
        x = r.random()
        s["headcount"] = 1 if x < 0.55 else r.randint(2, 9) if x < 0.93 else r.randint(10, 60)
        months = r.randint(1, 6)
        s["months"] = months
        s["amount"] = round(s["headcount"] * months * r.randint(4500, 9000) * r.uniform(0.5, 1.0), -2)
    s.setdefault("months", max(1, min(6, int(s["amount"] // max(1, s["headcount"]) // 6000) or 1)))
    first = s["channels"][0][0]
    if len(s["channels"]) == 1 and first != "warning" and r.random() < 0.07:
        if first == "hotline12345" and r.random() < 0.4:
            s["channels"].append(("hotline12345", r.randint(2, 12), None, "phone", 0.97))  # repeat caller
        elif first == "hotline12345":
            s["channels"].append(
                ("national_platform", r.randint(1, 10), "short", "phone", round(r.uniform(0.9, 0.99), 2))
            )
        else:
            s["channels"].append(("hotline12345", r.randint(1, 10), "short", "phone", round(r.uniform(0.88, 0.99), 2)))
    s.setdefault("public_opinion", first == "public_opinion" or r.random() < 0.004)
    return s


def _specials(w: World) -> dict[dt.date, list[dict[str, Any]]]:
    """The demo's special clues, by day of receipt."""
    T, days = w.today, dt.timedelta
    r = w.rng("special-clues")
    out: dict[dt.date, list[dict[str, Any]]] = {}
    by_role = {role: p for p in w.projects for role in p.roles}

    def add(day: dt.date, key: str | None, **kw: Any) -> None:
        s = _spec(w, r, day, **kw)
        s["highlight"], s["at"] = key, w.clamp(local_at(day, r, 9, 17))
        out.setdefault(day, []).append(s)

    p = by_role["multi_channel"]
    emp = p.employers[0]
    add(
        T - days(10),
        "multi_channel_clue",
        project=p,
        respondent=emp,
        complainant=p.contacts[0],
        headcount=12,
        amount=42000.0,
        months=4,
        status="in_progress",
        channels=[("hotline12345", 0, "full", "new", None), ("national_platform", 2, "short", "phone", 0.95)],
    )
    repeat = w.repeat_ent
    mine = [q for q in w.projects if repeat in q.employers]
    for k in range(12):  # Highlight (3): ≥ 10 clues in the last 90 days against one enterprise
        q = mine[k % len(mine)]
        add(T - days(85 - 7 * k), None, project=q, respondent=repeat)
    g = by_role["group_case"]
    add(
        T - days(6),
        "group_case_clue",
        project=g,
        respondent=g.employers[0],
        headcount=23,
        amount=186000.0,
        months=3,
        status="in_progress",
        channels=[("walk_in", 0, "full", "new", None)],
    )
    b = by_role["large_amount"]
    add(
        T - days(9),
        "large_amount_clue",
        project=b,
        respondent=b.contractor,
        headcount=8,
        amount=760000.0,
        months=6,
        status="in_progress",
        channels=[("national_platform", 0, "full", "new", None)],
    )
    if w.stopped is None:  # project_rows makes it at every scale (the first county's first project)
        raise RuntimeError("the stopped-allocation project was not generated")
    proj = w.stopped
    # Its workers come to the window early this month; the engine's warnings about the project, escalated
    # after seeding, meet this complaint in the pool.
    add(
        min(T, add_working_days(dt.date(T.year, T.month, 1), 1)),
        "stopped_project_complaint",
        project=proj,
        respondent=proj.contractor,
        complainant=proj.contacts[0],
        headcount=proj.workers,
        amount=float(proj.workers * 6000 * 3),
        months=3,
        status="in_progress",
        channels=[("walk_in", 0, "full", "new", None)],
    )
    return out


def clue_rows(w: World) -> Iterator[tuple[str, Row]]:
    """The clue pool over the last 365 days, in order of receipt."""
    T = w.today
    specials = _specials(w)
    n_special = sum(len(v) for v in specials.values())
    day_list = [T - dt.timedelta(days=364 - i) for i in range(365)]
    weights = [(1.0 if is_workday(d) else 0.35) * MONTH_FACTOR.get(d.month, 1.0) for d in day_list]
    for day, count in zip(day_list, spread(max(0, w.plan.clues - n_special), weights), strict=True):
        r = w.rng("clues", day)
        specs = [_spec(w, r, day) for _ in range(count)]
        for s in specs:
            s["at"] = w.clamp(local_at(day, r, 7, 22))  # received today: not later than now
        specs += specials.get(day, [])
        specs.sort(key=lambda s: s["at"])
        for s in specs:
            yield from _clue(w, r, s)


def _clue(w: World, r: random.Random, s: dict[str, Any]) -> Iterator[tuple[str, Row]]:
    T, days = w.today, dt.timedelta
    proj: Proj | None = s.get("project")
    resp: Ent | None = s.get("respondent")
    person: Person | None = s["complainant"]  # None for an escalated warning
    county = proj.region_code if proj else s["county"]
    city = w.city_of(county)
    _, city_name, county_name = w.names(county)
    city_office, county_office = f"{city_name}人社局劳动保障监察支队", f"{county_name}人社局劳动监察大队"
    received: dt.datetime = s["at"]
    rd = received.astimezone(CST).date()
    first_channel = s["channels"][0][0]
    reflect = r.choice(HOTLINE_REQUESTS) if first_channel == "hotline12345" else None
    age = working_days_between(rd, T)
    k_dispatch = 1 if received.astimezone(CST).hour >= 16 else 0
    k_start = k_dispatch + r.randint(0, 1)
    k_close = r.randint(max(3, k_start + 1), 18)
    k_back = k_close + r.randint(1, 3)
    forced = s.get("status")
    if forced:
        status = forced
    elif age >= 1 and r.random() < (0.12 if proj is None else 0.03):
        status = "returned"
    elif k_start <= age <= 60 and r.random() < 0.015:
        status = "in_progress"  # stuck: overdue, 催办 did not help
    elif age >= k_back and r.random() < 0.75:
        status = "called_back"
    elif age >= k_close:
        status = "closed"
    elif age >= k_start:
        status = "in_progress"
    elif age >= k_dispatch:
        status = "dispatched"
    else:
        status = "received"
    town = _town_for(w, county, s, status)
    if town is not None and town[2]:
        status = "returned"  # the town sends it back to the county (退回): not its matter, or details missing
    headcount, amount = s["headcount"], Decimal(str(s["amount"])).quantize(Decimal("0.01"))
    open_ = status in ("received", "dispatched", "in_progress", "returned")  # hub.workflow.OPEN_STATES
    # Supervision colour (docs/domain.md, proposal): red = group case (≥10), ≥ ¥500,000, 舆情, or still overdue
    # after 催办; yellow = overdue; blue = due within 1 working day.
    severe = headcount >= 10 or amount >= 500000 or s["public_opinion"]
    cid = w.next_id("clues")
    clue_no = f"XS{rd:%Y%m%d}{cid:08d}"
    resp_full = resp.name if resp else s["respondent_name"]
    resp_short = resp.short if resp else resp_full
    end = rd.replace(day=1) - days(1)
    start = dt.date(*_ym_back(end, s["months"] - 1), 1)
    if s["months"] == 1:
        period = f"{end.year}年{end.month}月"
    else:
        period = f"{start.year}年{start.month}月至{'' if start.year == end.year else f'{end.year}年'}{end.month}月"
    work_type = r.choice(N.WORK_TYPES)[0] if proj else r.choice(N.NON_CONSTRUCTION_JOBS)
    where = proj.name if proj else resp_full
    place = "" if county_name in where or (city_name and city_name in where) else f"{city_name}{county_name}"
    text = N.complaint_text(
        r,
        channel=s["channels"][0][0],
        place=place,
        project=proj.name if proj else None,
        respondent=resp_full,
        period=period,
        amount=float(amount),
        headcount=headcount,
        work_type=work_type,
    )

    def at(k: int, after: dt.datetime) -> dt.datetime:
        t = local_at(add_working_days(rd, min(k, age)), r, 9, 17)  # never after today
        t = t if t > after else after + days(minutes=r.randint(10, 90))
        return min(t, max(w.now, after))  # never after now (nor before the step it follows)

    times: dict[str, dt.datetime] = {"received": received}
    times["dispatched"] = at(k_dispatch, received)
    times["in_progress"] = at(k_start, times["dispatched"])
    if status in ("closed", "called_back"):
        times["closed"] = at(min(k_close, age), times["in_progress"])
    if status == "called_back":
        times["called_back"] = at(min(k_back, age), times["closed"])
    if status == "returned":
        times["returned"] = at(min(k_dispatch + 1, age), times["dispatched"])
    accepted = times["in_progress"] if status in ACCEPTED else None
    deadline, provisional, order_deadline = clue_deadlines(
        channel=first_channel, reflect=reflect, status=status, received=received, accepted=accepted
    )
    assert deadline is not None  # the current stage of a clue has started: 签收 / 受理 from receipt, then from 受理
    overdue = working_days_between(deadline, T)
    # Overdue by more than 3 working days: the city office has urged (催办) the county, so red.
    urged = open_ and not severe and overdue > 3
    colour = None
    if open_:
        colour = "red" if severe or urged else "yellow" if deadline < T else "blue" if -overdue <= 1 else None
    conclusion = recovered = paid_n = satisfaction = None
    if "closed" in times:
        conclusion, rec, paid_n = N.conclusion_text(
            r,
            respondent=resp_full,
            headcount=headcount,
            amount=float(amount),
            paid_on=times["closed"].astimezone(CST).strftime("%Y年%m月%d日"),
        )
        recovered = Decimal(str(rec)).quantize(Decimal("0.01"))
    if status == "called_back":
        satisfaction = r.choices(("满意", "基本满意", "不满意"), (80, 15, 5))[0]
    id_fields: tuple[str | None, str | None, str | None] = (None, None, None)
    if person and any(ch in WITH_ID for ch, *_ in s["channels"]):
        id_fields = w.encrypt_id(person.id_number)
    yield (
        "clues",
        {
            "id": cid,
            "clue_no": clue_no,
            "title": f"{person.name}{'等' + str(headcount) + '人' if headcount > 1 else ''}反映{resp_short}拖欠工资"
            if person
            else f"预警转线索：{proj.name if proj else resp_short}人工费用未按月拨付",
            "content": text,
            "status": status,
            "colour": colour,
            "handling_region_code": _handler(status, city, county, town),
            "sector": "工程建设" if proj else "非工程",
            "complainant_name": person.name if person else None,
            "complainant_phone": person.phone_e164 if person else None,
            "complainant_id_enc": id_fields[0],
            "complainant_id_hash": id_fields[1],
            "complainant_id_masked": id_fields[2],
            "respondent_name": resp_full,
            "respondent_name_norm": normalise_company_name(resp_full),
            "respondent_uscc": resp.uscc if resp else None,
            "respondent_address": proj.address if proj else None,
            "enterprise_id": resp.id if resp else None,
            "project_id": proj.id if proj else None,
            "project_name": proj.name if proj else None,
            "amount": amount,
            "headcount": headcount,
            "arrears_from": start,
            "arrears_to": end,
            "public_opinion": s["public_opinion"],
            "received_at": received,
            "channel": first_channel,
            "request_type": deadlines.request_type_of(reflect),
            "upstream_deadline": order_deadline,
            "accepted_at": accepted,
            "deadline": deadline,
            "deadline_provisional": provisional,
            "closed_at": times.get("closed"),
            "conclusion": conclusion,
            "recovered_amount": recovered,
            "workers_paid": paid_n,
            "satisfaction": satisfaction,
            "created_at": received,
            "supervision": ("listed" if amount >= 500000 else "supervised")
            if severe and open_ and status == "in_progress"
            else None,
            "urged_count": 1 if urged else 0,
            "extended_days": 0,
            "region_code": county,
        },
    )
    # One channel record (with its raw payload) per source record; the first is "new", later ones say
    # which rule joined them to the clue and with what score.
    source_ids: list[str] = []
    for ch, offset, naming, rule, score in s["channels"]:
        t = received if offset == 0 else local_at(rd + days(offset), r, 8, 21)
        if t > w.now:
            continue  # this channel's report has not arrived yet
        crid = w.next_id("channel_records")
        sid = f"{SOURCE_PREFIX[ch]}{t.astimezone(CST):%Y%m%d}{crid:08d}"
        reported = resp_short if naming == "short" else resp_full
        phone = _phone_as_typed(r, person.phone) if person else ""
        payload = _payload(
            w,
            r,
            ch,
            sid=sid,
            t=t,
            s=s,
            person=person,
            phone=phone,
            reported=reported,
            text=text,
            deadline=order_deadline or deadline,
            reflect=reflect,
            times=times,
            status=status,
            satisfaction=satisfaction,
            county=county,
            old=source_ids[0] if source_ids and ch == "hotline12345" == s["channels"][0][0] else "",
            start=start,
            end=end,
            amount=amount,
            proj=proj,
        )
        digest = payload_hash(payload)
        for key in SENSITIVE_PAYLOAD_FIELDS:  # personal data is encrypted at rest, in the archive too
            if payload.get(key):
                payload[key] = {"$enc": w.cipher.encrypt(payload[key])}
        raw_id = w.next_id("raw_records")
        real = ch in ("hotline12345", "national_platform")
        yield (
            "raw_records",
            {
                "id": raw_id,
                "connector_instance_id": None,
                "source": ch if real else "seed",
                "stream": {"hotline12345": "work_orders", "national_platform": "clues"}.get(ch, ch),
                "source_key": sid,
                "payload": payload,
                "payload_hash": digest,
                "region_code": county,
                "received_at": t,
            },
        )
        features = Features.build(
            region_code=county,
            respondent_name=reported,
            phone=person.phone_e164 if person else None,
            id_hash=id_fields[1] if ch in WITH_ID else None,
            uscc=resp.uscc if resp and ch == "warning" else None,
            project_code=proj.code if proj and ch == "warning" else None,
            project_name=proj.name if proj else None,
            address=proj.address if proj and ch == "national_platform" else None,
            complainant_name=person.name if person else None,
        )
        yield (
            "channel_records",
            {
                "id": crid,
                "clue_id": cid,
                "channel": ch,
                "source_id": sid,
                "raw_record_id": raw_id,
                "received_at": t,
                "match_features": features.as_json(),
                "complainant_name": person.name if person else None,
                "complainant_phone": person.phone_e164 if person else None,
                "respondent_name": reported,
                "summary": text
                if len(source_ids) == 0
                else payload.get("majorContent") or payload.get("content") or text,
                "match_rule": rule,
                "match_score": score,
                "writeback_status": ("acknowledged" if "closed" in times and times["closed"].date() < T else "pending")
                if real and "closed" in times
                else None,
                "region_code": county,
                "created_at": t,
            },
        )
        for key in blocking_keys(features):
            yield (
                "clue_match_keys",
                {
                    "id": w.next_id("clue_match_keys"),
                    "key": key,
                    "clue_id": cid,
                    "channel_record_id": crid,
                    "received_at": t,
                },
            )
        source_ids.append(sid)
    yield from _actions(
        w,
        r,
        cid,
        status,
        times,
        s,
        city,
        county,
        city_office,
        county_office,
        conclusion,
        satisfaction,
        severe and open_,
        add_working_days(deadline, 4) if urged else None,
        town,
    )
    ev_id = w.next_id("events")
    yield (
        "events",
        {
            "id": ev_id,
            "type": "clue.created",
            "region_code": county,
            "entity_type": "clue",
            "entity_id": cid,
            "payload": {
                "clue_no": clue_no,
                "channel": s["channels"][0][0],
                "status": status,
                "colour": colour,
                "amount": str(amount),
                "headcount": headcount,
                "project_id": proj.id if proj else None,
                "enterprise_id": resp.id if resp else None,
            },
            "created_at": received,
        },
    )
    if resp and rd > T - days(90):
        w.recent_clues.setdefault(resp.id, []).append(clue_no)
    if town is not None and "town_clue" not in w.highlights and status == "called_back":
        w.highlights["town_clue"] = {"clue_id": cid, "clue_no": clue_no, "town": town[0], "county": county}
    highlight = s.get("highlight")
    if highlight:
        w.highlights[highlight] = {
            "clue_id": cid,
            "clue_no": clue_no,
            "project_id": proj.id if proj else None,
            "enterprise_id": resp.id if resp else None,
            "source_ids": source_ids,
            "colour": colour,
            "headcount": headcount,
            "amount": str(amount),
            "complainant_phone": person.phone_e164 if person else None,
        }


def _town_for(w: World, county: str, s: dict[str, Any], status: str) -> tuple[str, str, bool] | None:
    """The town (code, 镇街 office name, whether it returns the clue) the county hands this clue to, or
    None: a share of the first county's generated clues that got past 受理 (never a special one: their
    story stays the county's).

    Drawn from a sub-RNG of its own (by clue number), so that the rest of the world is what it was.
    """
    towns = w.towns.get(county)
    if not towns or county != w.counties[0] or s.get("highlight") or s.get("status") or status == "received":
        return None
    r = w.rng("town", w.ids.get("clues", 0) + 1)
    if r.random() >= TOWN_SHARE:
        return None
    town = r.choice(towns)
    return town.code, f"{town.name}劳动保障所", r.random() < TOWN_RETURN_SHARE


def _handler(status: str, city: str, county: str, town: tuple[str, str, bool] | None) -> str:
    """Who works the clue now: the city before 分办 (and after the county's 退回), the county after;
    a town's clue is the town's, or the county's again when the town returned it."""
    if town is not None:
        return county if status == "returned" else town[0]
    return city if status in ("received", "returned") else county


def _ym_back(d: dt.date, k: int) -> tuple[int, int]:
    n = d.year * 12 + d.month - 1 - k
    return n // 12, n % 12 + 1


def _payload(
    w: World,
    r: random.Random,
    ch: str,
    *,
    sid: str,
    t: dt.datetime,
    s: dict[str, Any],
    person: Any,
    phone: str,
    reported: str,
    text: str,
    deadline: dt.date,
    reflect: str | None,
    times: dict[str, dt.datetime],
    status: str,
    satisfaction: str | None,
    county: str,
    old: str,
    start: dt.date,
    end: dt.date,
    amount: Decimal,
    proj: Proj | None,
) -> dict[str, Any]:
    """The record as the channel's upstream system sends it (docs/domain.md, "Field names of the upstream interfaces")."""
    closed, back = times.get("closed"), times.get("called_back")
    if ch == "hotline12345":
        return {
            "orderNum": sid,
            "callTime": fmt_local(t),
            "callerName": person.name,
            "callerPhone": phone,
            "sourceType": r.choices(("电话", "网站", "微信", "APP"), (75, 8, 12, 5))[0],
            "reflectName": reflect or HOTLINE_REQUESTS[0],
            "questionCode": "080101",  # 劳动保障-拖欠工资
            "majorContent": text,
            "organizationName": f"{w.names(county)[2]}人力资源和社会保障局",
            "handleDays": working_days_between(s["at"].astimezone(CST).date(), deadline),
            "deadlineDate": deadline.isoformat(),
            "dispatchTime": fmt_local(times["dispatched"]) if status != "received" else "",
            "completeTime": fmt_local(closed) if closed else "",
            "isSupervise": "1" if s["headcount"] >= 10 else "0",
            "isTimeout": "1" if (closed.astimezone(CST).date() if closed else w.today) > deadline else "0",
            "oldOrderNum": old,
            "isOldCaller": "1" if old else "0",
            "visitTime": fmt_local(back) if back else "",
            "visitIsSolved": ("1" if satisfaction != "不满意" else "0") if back else "",
            "satisfaction": satisfaction or "",
        }
    if ch == "national_platform":
        return {
            "clueId": sid,
            "reportTime": fmt_local(t),
            "complainantName": person.name,
            "complainantIdNumber": person.id_number,
            "complainantPhone": phone,
            "complainantBankCard": person.card,
            "employerName": reported,
            "employerAddress": proj.address if proj else "",
            "projectName": proj.name if proj else "",
            "arrearsStartDate": start.isoformat(),
            "arrearsEndDate": end.isoformat(),
            "arrearsAmount": f"{amount:.2f}",
            "involvedNumber": s["headcount"],
            "industry": "工程建设" if proj else "非工程",
            "regionCode": county,
            "regionName": w.regions[county].full_name,
            "content": text,
        }
    return {
        "recordNo": sid,
        "channel": CHANNELS[ch],
        "receivedAt": fmt_local(t),
        "name": person.name,
        "phone": phone,
        "idNumber": person.id_number if ch in WITH_ID else "",
        "respondent": reported,
        "projectName": proj.name if proj else "",
        "amount": f"{amount:.2f}",
        "headcount": s["headcount"],
        "content": text,
    }


def _actions(
    w: World,
    r: random.Random,
    cid: int,
    status: str,
    times: dict[str, dt.datetime],
    s: dict[str, Any],
    city: str,
    county: str,
    city_office: str,
    county_office: str,
    conclusion: str | None,
    satisfaction: str | None,
    supervise: bool,
    urged_on: dt.date | None,
    town: tuple[str, str, bool] | None = None,
) -> Iterator[tuple[str, Row]]:
    """A CaseAction per workflow step (hub.workflow's names): 受理 → 分办 → 办理中 → 办结 → 回访, or 退回; 督办, 催办.

    A town's clue is handed on once more, county → town, and the town accepts, closes or returns it.
    """
    intake = f"{w.names(county)[1]}12345政务服务便民热线" if s["channels"][0][0] == "hotline12345" else city_office
    steps: list[tuple[str, str, str | None, str, str | None, str | None, str | None]] = [
        ("receive", intake, None, "received", None, city, "受理"),
    ]
    if status != "received":
        steps.append(("dispatch", city_office, "received", "dispatched", city, county, f"分办至{county_office}"))
    # The unit that works the clue: a town's office, after the county hands it down, or the county's.
    worker, here = county_office, county
    if town is not None:
        steps.append(("dispatch", county_office, "dispatched", "dispatched", county, town[0], f"分办至{town[1]}"))
        worker, here = town[1], town[0]
    if status == "returned":
        back = county if town is not None else city
        steps.append(("return", worker, "dispatched", "returned", here, back, r.choice(N.RETURN_REASONS)))
    elif status not in ("received", "dispatched"):
        steps.append(("accept", worker, "dispatched", "in_progress", here, here, "已联系双方，开始调查"))
        if supervise:
            order = (
                "挂牌督办：涉及人数多或金额大，请县级政府主要负责同志牵头处理"
                if s["amount"] >= 500000
                else "督办：群体性欠薪，限期化解"
            )
            steps.append(("supervise", city_office, "in_progress", "in_progress", city, here, order))
    if urged_on:
        steps.append(("urge", city_office, status, status, here, here, "催办：已超期，请加快办理并反馈进展"))
    if "closed" in times:
        steps.append(("close", worker, "in_progress", "closed", here, here, conclusion))
    if "called_back" in times:
        steps.append(("record_callback", intake, "closed", "called_back", here, here, f"回访：{satisfaction}"))
    prev = None
    for action, actor, frm, to, fr, tr, note in steps:
        if action == "supervise":
            at = min(times["in_progress"] + dt.timedelta(hours=r.randint(2, 30)), w.now)
        elif action == "urge" and urged_on:
            at = min(
                dt.datetime(urged_on.year, urged_on.month, urged_on.day, 9, 30, tzinfo=CST).astimezone(dt.UTC), w.now
            )
        else:
            at = times.get(to) or times["received"]
        if prev and at <= prev:
            at = min(prev + dt.timedelta(minutes=5), max(w.now, prev))
        prev = at
        yield (
            "case_actions",
            {
                "id": w.next_id("case_actions"),
                "clue_id": cid,
                "action": action,
                "actor": actor,
                "from_status": frm,
                "to_status": to,
                "from_region_code": fr,
                "to_region_code": tr,
                "note": note,
                "at": at,
                "region_code": county,
            },
        )
