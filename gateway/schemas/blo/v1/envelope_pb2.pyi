from gateway.schemas.blo.v1 import common_pb2 as _common_pb2
from gateway.schemas.blo.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_TYPE_UNSPECIFIED: _ClassVar[MessageType]
    MESSAGE_TYPE_IDENTIFICATION_REQUEST: _ClassVar[MessageType]
    MESSAGE_TYPE_VERIFICATION_RESPONSE: _ClassVar[MessageType]
    MESSAGE_TYPE_REPATRIATION_NOTICE: _ClassVar[MessageType]
    MESSAGE_TYPE_HANDOVER_RECORD: _ClassVar[MessageType]
    MESSAGE_TYPE_CASE_NOTICE: _ClassVar[MessageType]
    MESSAGE_TYPE_HOTLINE_REPORT: _ClassVar[MessageType]
    MESSAGE_TYPE_ACKNOWLEDGEMENT: _ClassVar[MessageType]
    MESSAGE_TYPE_STATUS_UPDATE: _ClassVar[MessageType]
    MESSAGE_TYPE_REJECTION: _ClassVar[MessageType]
MESSAGE_TYPE_UNSPECIFIED: MessageType
MESSAGE_TYPE_IDENTIFICATION_REQUEST: MessageType
MESSAGE_TYPE_VERIFICATION_RESPONSE: MessageType
MESSAGE_TYPE_REPATRIATION_NOTICE: MessageType
MESSAGE_TYPE_HANDOVER_RECORD: MessageType
MESSAGE_TYPE_CASE_NOTICE: MessageType
MESSAGE_TYPE_HOTLINE_REPORT: MessageType
MESSAGE_TYPE_ACKNOWLEDGEMENT: MessageType
MESSAGE_TYPE_STATUS_UPDATE: MessageType
MESSAGE_TYPE_REJECTION: MessageType

class RecipientKey(_message.Message):
    __slots__ = ("office_id", "key_id", "ephemeral_public_key", "wrapped_key", "hpke_encapsulated")
    OFFICE_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    HPKE_ENCAPSULATED_FIELD_NUMBER: _ClassVar[int]
    office_id: str
    key_id: str
    ephemeral_public_key: bytes
    wrapped_key: bytes
    hpke_encapsulated: bytes
    def __init__(self, office_id: _Optional[str] = ..., key_id: _Optional[str] = ..., ephemeral_public_key: _Optional[bytes] = ..., wrapped_key: _Optional[bytes] = ..., hpke_encapsulated: _Optional[bytes] = ...) -> None: ...

class EnvelopeHeader(_message.Message):
    __slots__ = ("message_id", "message_type", "sender", "recipients", "created_at_ms", "expires_at_ms", "in_reply_to", "case_reference", "priority", "handling_code", "deadline_ms", "payload_nonce", "workflow_step")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    CASE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    HANDLING_CODE_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_NONCE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_STEP_FIELD_NUMBER: _ClassVar[int]
    message_id: bytes
    message_type: MessageType
    sender: str
    recipients: _containers.RepeatedCompositeFieldContainer[RecipientKey]
    created_at_ms: int
    expires_at_ms: int
    in_reply_to: str
    case_reference: str
    priority: _common_pb2.Priority
    handling_code: _common_pb2.HandlingCode
    deadline_ms: int
    payload_nonce: bytes
    workflow_step: int
    def __init__(self, message_id: _Optional[bytes] = ..., message_type: _Optional[_Union[MessageType, str]] = ..., sender: _Optional[str] = ..., recipients: _Optional[_Iterable[_Union[RecipientKey, _Mapping]]] = ..., created_at_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., in_reply_to: _Optional[str] = ..., case_reference: _Optional[str] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ..., handling_code: _Optional[_Union[_common_pb2.HandlingCode, str]] = ..., deadline_ms: _Optional[int] = ..., payload_nonce: _Optional[bytes] = ..., workflow_step: _Optional[int] = ...) -> None: ...

class ReceiptBody(_message.Message):
    __slots__ = ("message_id", "sender", "receiver", "envelope_sha256", "received_at_ms")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECEIVER_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_SHA256_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    message_id: bytes
    sender: str
    receiver: str
    envelope_sha256: bytes
    received_at_ms: int
    def __init__(self, message_id: _Optional[bytes] = ..., sender: _Optional[str] = ..., receiver: _Optional[str] = ..., envelope_sha256: _Optional[bytes] = ..., received_at_ms: _Optional[int] = ...) -> None: ...
