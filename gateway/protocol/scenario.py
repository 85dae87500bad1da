"""The invented case of shared/design/scenario.md as payloads, for the demo, tests and benches.

Every person, phone number and account here is invented. Times are in the
offices' own zones: Lào Cai UTC+7, Hekou UTC+8. ``case_payloads`` returns one
payload of every type, each addressed as in the scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.protocol.messages import MessageType, Payload, PbMessage, pb

__all__ = ["HEKOU", "LAOCAI", "LAOCAI_BORDER_GUARD", "ScenarioMessage", "case_payloads",
           "send_in_order"]

LAOCAI = "vn.laocai.blo"
HEKOU = "cn.yunnan.hekou.blo"
LAOCAI_BORDER_GUARD = "vn.laocai.bdbp.cuakhau"
CASE = "LC-2026-0042"
VN, CN = 7 * 60, 8 * 60
# 2026-03-02T09:40:00+07:00, the hotline call.
T0 = 1772419200000


def _t(hours: float, offset: int) -> PbMessage:
    t: PbMessage = pb.ZonedTime(unix_millis=T0 + int(hours * 3600_000),
                                utc_offset_minutes=offset)
    return t


def _ctx(*, priority: int = 2, handling: int = 3, deadline_h: float | None = None,
         reply_to: str = "", in_reply_to: str = "", offset: int = VN) -> PbMessage:
    ctx: PbMessage = pb.MessageContext(case_reference=CASE, priority=priority,
                                       handling_code=handling, reply_to=reply_to,
                                       in_reply_to=in_reply_to)
    if deadline_h is not None:
        deadline = ctx.deadline  # type: ignore[attr-defined]
        deadline.CopyFrom(_t(deadline_h, offset))
    return ctx


def _text(vi: str, zh: str, original: int) -> PbMessage:
    text: PbMessage = pb.LocalizedText(vi=vi, zh=zh, original=original)
    return text


_MAI = pb.PersonName(full_name="Giàng Thị Mai", script="Latn", hanzi="王氏梅",
                     latin="Giang Thi Mai")
_HOME = pb.Address(country="VN", province_code="15", province="Lào Cai", commune_code="15-0000",
                   commune="xã Bản Mờ (invented)", detail="thôn Sín Chải (invented)",
                   codes_valid_from="2025-07-01",
                   legacy_text="thôn Sín Chải, xã Bản Mờ, huyện (invented), tỉnh Lào Cai")


@dataclass(frozen=True)
class ScenarioMessage:
    """One step of the case: who sends it to whom, the payload, and which earlier step
    (index) it answers — its ``in_reply_to`` is that step's message id once sent."""

    sender: str
    recipients: tuple[str, ...]
    payload: Payload
    answers: int | None = None

    def replying_to(self, message_id: str) -> Payload:
        """The payload with ``context.in_reply_to`` set to ``message_id``."""
        body = type(self.payload.body)()
        body.CopyFrom(self.payload.body)
        body.context.in_reply_to = message_id  # type: ignore[attr-defined]
        return Payload(body)


def send_in_order(steps: list[ScenarioMessage],
                  send: Callable[[ScenarioMessage, Payload], str]) -> list[str]:
    """Send every step with ``send(step, payload) -> message id``, chaining the answers."""
    ids: list[str] = []
    for step in steps:
        payload = (step.replying_to(ids[step.answers]) if step.answers is not None
                   else step.payload)
        ids.append(send(step, payload))
    return ids


def case_payloads() -> list[ScenarioMessage]:
    """One message of every type, in the order of the scenario."""
    person = pb.Person(
        name=_MAI, sex=1, approximate_age=19, ethnicity=2,
        claimed_nationality="VN",
        physical_description=_text("Cao khoảng 1m52, tóc dài, nốt ruồi bên má trái",
                                   "身高约1.52米，长发，左脸颊有痣", 2),
    )
    hotline = pb.HotlineReport(
        context=_ctx(priority=3, handling=3, reply_to=LAOCAI),
        channel=1, received_at=_t(0, VN),
        reporter=pb.Reporter(anonymous=False, relationship=1,
                             name=pb.PersonName(full_name="Thào Thị Dợ", script="Latn",
                                                latin="Thao Thi Do"),
                             phone="+84 900 000 001"),
        subject=pb.Person(name=_MAI, sex=1, approximate_age=19, ethnicity=2,
                          home_address=_HOME),
        location=pb.Place(address=_HOME),
        facts=_text("Con gái đi cùng một người đàn ông quen qua mạng xã hội, hứa làm công nhân "
                    "ở Trung Quốc; đã ba tuần không liên lạc được.",
                    "其女儿随一名在社交媒体上认识的男子离开，对方承诺在中国工厂做工；"
                    "已三周联系不上。", 1),
        classification=1, routed_to=[HEKOU],
    )
    request = pb.VictimIdentificationRequest(
        context=_ctx(priority=2, handling=3, deadline_h=51, reply_to=HEKOU, offset=CN),
        kind=4, person=person,
        account=_text("Cô ấy nói bị bán để kết hôn, không có giấy tờ.",
                      "她说自己被卖去结婚，没有证件。", 2),
        exploitation_types=[1],
        found_at=pb.Place(address=pb.Address(country="CN", province_code="530000",
                                             province="云南省", commune_code="532532",
                                             commune="河口瑶族自治县", detail="某村（虚构）")),
        found_time=_t(48, CN), custody=1,
        custody_place=_text("Cơ sở hỗ trợ tại Hà Khẩu", "河口救助站", 2),
        consent=pb.ConsentRecord(status=1, recorded_at=_t(49, CN), recorded_by="河口边境联络官",
                                 released_fields=["person.name", "person.home_address"]),
    )
    response = pb.VerificationResponse(
        context=_ctx(priority=2, handling=3, reply_to=LAOCAI),
        result=1, victim_status=1, relatives_contacted=True,
        verified_fields=[pb.VerifiedField(field_path="person.name", result=1),
                         pb.VerifiedField(field_path="person.home_address", result=1)],
        confirmed_person=pb.Person(name=_MAI, sex=1,
                                   date_of_birth=pb.PartialDate(year=2006, month=5),
                                   ethnicity=2, claimed_nationality="VN", home_address=_HOME),
        remarks=_text("Đã liên hệ với mẹ của nạn nhân.", "已联系受害人母亲。", 1),
    )
    gate = _text("Cửa khẩu quốc tế Lào Cai – Hà Khẩu", "老街国际口岸 / 河口口岸", 1)
    bdbp = pb.Unit(office_id=LAOCAI_BORDER_GUARD,
                   name=_text("Đồn Biên phòng cửa khẩu quốc tế Lào Cai", "老街国际口岸边防站", 1))
    hekou_station = pb.Unit(name=_text("Trạm kiểm soát biên phòng xuất nhập cảnh Hà Khẩu",
                                       "河口出入境边防检查站", 2))
    notice = pb.RepatriationNotice(
        context=_ctx(priority=2, handling=3, deadline_h=96, reply_to=LAOCAI_BORDER_GUARD),
        step=1, proposed_time=_t(144.33, VN), border_gate=gate,
        handover_point=_text("Cột mốc trên cầu Hồ Kiều", "中越界河大桥界碑处", 1),
        handing_over_unit=hekou_station, receiving_unit=bdbp,
        persons=[pb.RepatriatedPerson(person=pb.Person(name=_MAI), health=1)],
    )
    record = pb.HandoverRecord(
        context=_ctx(priority=2, handling=3),
        executed_at=_t(148.33, VN), border_gate=gate,
        handover_point=_text("Cột mốc trên cầu Hồ Kiều", "中越界河大桥界碑处", 1),
        handing_over_unit=hekou_station, receiving_unit=bdbp,
        officers=[pb.Officer(name=pb.PersonName(full_name="Nguyễn Văn An", script="Latn",
                                                latin="Nguyen Van An"),
                             rank=_text("Thiếu tá", "少校", 1), unit=bdbp, role=2),
                  pb.Officer(name=pb.PersonName(full_name="李明", script="Hans", latin="Li Ming"),
                             rank=_text("Cảnh ty cấp 1", "一级警司", 2), unit=hekou_station,
                             role=1)],
        persons=[pb.HandedOverPerson(person=pb.Person(name=_MAI), health=1,
                                     belongings=[pb.Belonging(
                                         description=_text("Ba lô, điện thoại", "背包、手机", 2),
                                         quantity=2)])],
    )
    case_notice = pb.CaseNotice(
        context=_ctx(priority=2, handling=4),
        offence=_text("Mua bán người (Điều 150 BLHS)", "拐卖人口", 1),
        occurred_from=_t(-504, VN),
        suspects=[pb.Suspect(name=pb.PersonName(full_name="(chưa rõ)", script="Latn"),
                             phones=["+84 900 000 002"], role=1,
                             social_accounts=[pb.SocialAccount(platform="Zalo",
                                                               handle="invented.recruiter")])],
        victim_refs=["V-2026-0007"], victim_count=1, modus_operandi=[1, 3],
        modus_operandi_details=_text("Hứa việc làm ở nhà máy bên Trung Quốc",
                                     "以介绍中国工厂工作为名诱骗", 1),
        requested_actions=[4, 6],
    )
    ack = pb.Acknowledgement(context=_ctx(priority=1, handling=1), acknowledged_at=_t(1, CN),
                             remarks=_text("Đã nhận tin báo.", "已收悉。", 2))
    status = pb.StatusUpdate(context=_ctx(priority=1, handling=1), status=2,
                             expected_by=_t(50, CN),
                             remarks=_text("Đang xác minh.", "正在核查。", 2))
    rejection = pb.Rejection(context=_ctx(priority=1, handling=1), reason_code=3,
                             reason=_text("Trùng với yêu cầu đã gửi trước.", "与此前请求重复。", 2))
    agreement = pb.RepatriationNotice()
    agreement.CopyFrom(notice)
    agreement.step = 3
    agreement.proposed_time.CopyFrom(_t(148.33, VN))
    agreement.remarks.CopyFrom(_text("Đồng ý bàn giao lúc 14:00 (giờ Bắc Kinh).",
                                     "同意于北京时间14:00交接。", 2))
    agreement.context.reply_to = LAOCAI
    steps = [
        (LAOCAI, (HEKOU,), hotline, None),      # 0 the hotline report is forwarded
        (HEKOU, (LAOCAI,), ack, 0),             # 1 acknowledged
        (HEKOU, (LAOCAI,), request, None),      # 2 identification request
        (LAOCAI, (HEKOU,), status, 2),          # 3 in progress
        (LAOCAI, (HEKOU,), response, 2),        # 4 answered: identity confirmed
        (LAOCAI, (HEKOU,), notice, None),       # 5 repatriation proposed
        (HEKOU, (LAOCAI,), rejection, None),    # 6 a duplicate request from another channel
        (HEKOU, (LAOCAI,), agreement, 5),       # 7 agreed, at 14:00 Beijing time
        (LAOCAI, (HEKOU,), record, 5),          # 8 handover executed
        (LAOCAI, (HEKOU,), case_notice, None),  # 9 case notice about the recruiter
    ]
    out = [ScenarioMessage(s, r, Payload(m), a) for s, r, m, a in steps]
    assert {m.payload.message_type for m in out} == set(MessageType)
    return out
