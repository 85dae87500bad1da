"""What may leave this office: handling codes and the victim's consent.

* Handling codes (after SIENA H0-H3): H2 "no onward transfer" and H3 "originator-controlled"
  material is never forwarded to a third office by this gateway (the VN-CN agreement requires
  the provider's written consent); H0 and H1 may be forwarded.
* Consent (Law 53/2024 Art. 3(10)): when an identification request is forwarded, the person's
  details go only as far as the consent record allows — ``released_fields`` lists field paths
  such as ``person.name``; without consent given, no personal details go at all.
"""

from __future__ import annotations

from gateway.protocol.errors import GatewayError
from gateway.protocol.messages import HandlingCode, MessageType, Payload, pb

__all__ = ["HandlingRestricted", "check_forward", "released_copy"]

RESTRICTED = (HandlingCode.NO_ONWARD_TRANSFER, HandlingCode.ORIGINATOR_CONTROLLED)
CONSENT_GIVEN = 1


class HandlingRestricted(GatewayError):
    code = "HANDLING_RESTRICTED"
    http_status = 403


def check_forward(payload: Payload, *, originator: str, to: list[str]) -> None:
    """Refuse onward transfer of H2/H3 material to anyone but its originator."""
    code = payload.context.handling_code
    third = [o for o in to if o != originator]
    if code in RESTRICTED and third:
        raise HandlingRestricted(
            f"handling code {code.name}: this information may not go to "
            f"{', '.join(third)} without the written consent of {originator}")


def released_copy(payload: Payload) -> Payload:
    """The payload as it may be released to a third office under the consent record."""
    if payload.message_type != MessageType.IDENTIFICATION_REQUEST:
        return payload
    body = pb.VictimIdentificationRequest()
    body.CopyFrom(payload.body)
    allowed = ({f.removeprefix("person.") for f in body.consent.released_fields
                if f.startswith("person.")} if body.consent.status == CONSENT_GIVEN else set())
    for field, _ in list(body.person.ListFields()):
        if field.name not in allowed:
            body.person.ClearField(field.name)
    if not body.person.ListFields():
        body.ClearField("person")
    if body.consent.status != CONSENT_GIVEN:
        for name in ("account", "accompanying_minors", "custody_place"):
            body.ClearField(name)
    return Payload(body)
