from gateway.schemas.blo.v1 import common_pb2 as _common_pb2
from gateway.schemas.blo.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExploitationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPLOITATION_TYPE_UNSPECIFIED: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_FORCED_MARRIAGE: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_SEXUAL_EXPLOITATION: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_FORCED_LABOUR: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_ORGAN_REMOVAL: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_ONLINE_SCAM_CENTRE: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_CHILD_SALE: _ClassVar[ExploitationType]
    EXPLOITATION_TYPE_OTHER: _ClassVar[ExploitationType]

class IdentificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTIFICATION_KIND_UNSPECIFIED: _ClassVar[IdentificationKind]
    IDENTIFICATION_KIND_VERIFY_IDENTITY: _ClassVar[IdentificationKind]
    IDENTIFICATION_KIND_VERIFY_ADDRESS: _ClassVar[IdentificationKind]
    IDENTIFICATION_KIND_VERIFY_NATIONALITY: _ClassVar[IdentificationKind]
    IDENTIFICATION_KIND_IDENTIFY_VICTIM: _ClassVar[IdentificationKind]

class CustodyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTODY_TYPE_UNSPECIFIED: _ClassVar[CustodyType]
    CUSTODY_TYPE_SHELTER: _ClassVar[CustodyType]
    CUSTODY_TYPE_POLICE: _ClassVar[CustodyType]
    CUSTODY_TYPE_HOSPITAL: _ClassVar[CustodyType]
    CUSTODY_TYPE_BORDER_GUARD: _ClassVar[CustodyType]
    CUSTODY_TYPE_OTHER: _ClassVar[CustodyType]

class ConsentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_STATUS_UNSPECIFIED: _ClassVar[ConsentStatus]
    CONSENT_STATUS_GIVEN: _ClassVar[ConsentStatus]
    CONSENT_STATUS_REFUSED: _ClassVar[ConsentStatus]
    CONSENT_STATUS_NOT_ASKED: _ClassVar[ConsentStatus]
    CONSENT_STATUS_UNABLE: _ClassVar[ConsentStatus]

class VerificationResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_RESULT_UNSPECIFIED: _ClassVar[VerificationResult]
    VERIFICATION_RESULT_CONFIRMED: _ClassVar[VerificationResult]
    VERIFICATION_RESULT_NOT_CONFIRMED: _ClassVar[VerificationResult]
    VERIFICATION_RESULT_PARTIAL: _ClassVar[VerificationResult]
    VERIFICATION_RESULT_UNABLE: _ClassVar[VerificationResult]

class VictimStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VICTIM_STATUS_UNSPECIFIED: _ClassVar[VictimStatus]
    VICTIM_STATUS_CONFIRMED_VICTIM: _ClassVar[VictimStatus]
    VICTIM_STATUS_UNDER_IDENTIFICATION: _ClassVar[VictimStatus]
    VICTIM_STATUS_NOT_A_VICTIM: _ClassVar[VictimStatus]

class RepatriationStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPATRIATION_STEP_UNSPECIFIED: _ClassVar[RepatriationStep]
    REPATRIATION_STEP_PROPOSAL: _ClassVar[RepatriationStep]
    REPATRIATION_STEP_COUNTER_PROPOSAL: _ClassVar[RepatriationStep]
    REPATRIATION_STEP_AGREEMENT: _ClassVar[RepatriationStep]
    REPATRIATION_STEP_POSTPONEMENT: _ClassVar[RepatriationStep]
    REPATRIATION_STEP_CANCELLATION: _ClassVar[RepatriationStep]

class HealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_UNSPECIFIED: _ClassVar[HealthStatus]
    HEALTH_STATUS_GOOD: _ClassVar[HealthStatus]
    HEALTH_STATUS_NEEDS_CARE: _ClassVar[HealthStatus]
    HEALTH_STATUS_SERIOUS: _ClassVar[HealthStatus]

class SuspectRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUSPECT_ROLE_UNSPECIFIED: _ClassVar[SuspectRole]
    SUSPECT_ROLE_RECRUITER: _ClassVar[SuspectRole]
    SUSPECT_ROLE_TRANSPORTER: _ClassVar[SuspectRole]
    SUSPECT_ROLE_BROKER: _ClassVar[SuspectRole]
    SUSPECT_ROLE_BUYER: _ClassVar[SuspectRole]
    SUSPECT_ROLE_ORGANISER: _ClassVar[SuspectRole]
    SUSPECT_ROLE_OTHER: _ClassVar[SuspectRole]

class ModusOperandi(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODUS_OPERANDI_UNSPECIFIED: _ClassVar[ModusOperandi]
    MODUS_OPERANDI_JOB_LURE: _ClassVar[ModusOperandi]
    MODUS_OPERANDI_MARRIAGE_LURE: _ClassVar[ModusOperandi]
    MODUS_OPERANDI_ONLINE_ACQUAINTANCE: _ClassVar[ModusOperandi]
    MODUS_OPERANDI_ABDUCTION: _ClassVar[ModusOperandi]
    MODUS_OPERANDI_DEBT_BONDAGE: _ClassVar[ModusOperandi]
    MODUS_OPERANDI_OTHER: _ClassVar[ModusOperandi]

class RequestedAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUESTED_ACTION_UNSPECIFIED: _ClassVar[RequestedAction]
    REQUESTED_ACTION_VERIFY: _ClassVar[RequestedAction]
    REQUESTED_ACTION_LOCATE: _ClassVar[RequestedAction]
    REQUESTED_ACTION_RESCUE: _ClassVar[RequestedAction]
    REQUESTED_ACTION_INVESTIGATE: _ClassVar[RequestedAction]
    REQUESTED_ACTION_ARREST: _ClassVar[RequestedAction]
    REQUESTED_ACTION_SHARE_INFORMATION: _ClassVar[RequestedAction]

class ReportChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_CHANNEL_UNSPECIFIED: _ClassVar[ReportChannel]
    REPORT_CHANNEL_PROVINCIAL_HOTLINE: _ClassVar[ReportChannel]
    REPORT_CHANNEL_NATIONAL_111: _ClassVar[ReportChannel]
    REPORT_CHANNEL_IN_PERSON: _ClassVar[ReportChannel]
    REPORT_CHANNEL_SOCIAL_MEDIA: _ClassVar[ReportChannel]
    REPORT_CHANNEL_OTHER: _ClassVar[ReportChannel]

class ReportClassification(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_CLASSIFICATION_UNSPECIFIED: _ClassVar[ReportClassification]
    REPORT_CLASSIFICATION_SUSPECTED_TRAFFICKING: _ClassVar[ReportClassification]
    REPORT_CLASSIFICATION_MISSING_PERSON: _ClassVar[ReportClassification]
    REPORT_CLASSIFICATION_ILLEGAL_MIGRATION: _ClassVar[ReportClassification]
    REPORT_CLASSIFICATION_NOT_RELEVANT: _ClassVar[ReportClassification]

class CaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATUS_UNSPECIFIED: _ClassVar[CaseStatus]
    CASE_STATUS_ACCEPTED: _ClassVar[CaseStatus]
    CASE_STATUS_IN_PROGRESS: _ClassVar[CaseStatus]
    CASE_STATUS_ANSWERED: _ClassVar[CaseStatus]
    CASE_STATUS_CLOSED: _ClassVar[CaseStatus]
    CASE_STATUS_ESCALATED: _ClassVar[CaseStatus]
    CASE_STATUS_SCHEDULED: _ClassVar[CaseStatus]

class RejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_REASON_UNSPECIFIED: _ClassVar[RejectionReason]
    REJECTION_REASON_INSUFFICIENT_INFORMATION: _ClassVar[RejectionReason]
    REJECTION_REASON_OUTSIDE_JURISDICTION: _ClassVar[RejectionReason]
    REJECTION_REASON_DUPLICATE: _ClassVar[RejectionReason]
    REJECTION_REASON_NO_CONSENT: _ClassVar[RejectionReason]
    REJECTION_REASON_NO_LEGAL_BASIS: _ClassVar[RejectionReason]
    REJECTION_REASON_OTHER: _ClassVar[RejectionReason]
EXPLOITATION_TYPE_UNSPECIFIED: ExploitationType
EXPLOITATION_TYPE_FORCED_MARRIAGE: ExploitationType
EXPLOITATION_TYPE_SEXUAL_EXPLOITATION: ExploitationType
EXPLOITATION_TYPE_FORCED_LABOUR: ExploitationType
EXPLOITATION_TYPE_ORGAN_REMOVAL: ExploitationType
EXPLOITATION_TYPE_ONLINE_SCAM_CENTRE: ExploitationType
EXPLOITATION_TYPE_CHILD_SALE: ExploitationType
EXPLOITATION_TYPE_OTHER: ExploitationType
IDENTIFICATION_KIND_UNSPECIFIED: IdentificationKind
IDENTIFICATION_KIND_VERIFY_IDENTITY: IdentificationKind
IDENTIFICATION_KIND_VERIFY_ADDRESS: IdentificationKind
IDENTIFICATION_KIND_VERIFY_NATIONALITY: IdentificationKind
IDENTIFICATION_KIND_IDENTIFY_VICTIM: IdentificationKind
CUSTODY_TYPE_UNSPECIFIED: CustodyType
CUSTODY_TYPE_SHELTER: CustodyType
CUSTODY_TYPE_POLICE: CustodyType
CUSTODY_TYPE_HOSPITAL: CustodyType
CUSTODY_TYPE_BORDER_GUARD: CustodyType
CUSTODY_TYPE_OTHER: CustodyType
CONSENT_STATUS_UNSPECIFIED: ConsentStatus
CONSENT_STATUS_GIVEN: ConsentStatus
CONSENT_STATUS_REFUSED: ConsentStatus
CONSENT_STATUS_NOT_ASKED: ConsentStatus
CONSENT_STATUS_UNABLE: ConsentStatus
VERIFICATION_RESULT_UNSPECIFIED: VerificationResult
VERIFICATION_RESULT_CONFIRMED: VerificationResult
VERIFICATION_RESULT_NOT_CONFIRMED: VerificationResult
VERIFICATION_RESULT_PARTIAL: VerificationResult
VERIFICATION_RESULT_UNABLE: VerificationResult
VICTIM_STATUS_UNSPECIFIED: VictimStatus
VICTIM_STATUS_CONFIRMED_VICTIM: VictimStatus
VICTIM_STATUS_UNDER_IDENTIFICATION: VictimStatus
VICTIM_STATUS_NOT_A_VICTIM: VictimStatus
REPATRIATION_STEP_UNSPECIFIED: RepatriationStep
REPATRIATION_STEP_PROPOSAL: RepatriationStep
REPATRIATION_STEP_COUNTER_PROPOSAL: RepatriationStep
REPATRIATION_STEP_AGREEMENT: RepatriationStep
REPATRIATION_STEP_POSTPONEMENT: RepatriationStep
REPATRIATION_STEP_CANCELLATION: RepatriationStep
HEALTH_STATUS_UNSPECIFIED: HealthStatus
HEALTH_STATUS_GOOD: HealthStatus
HEALTH_STATUS_NEEDS_CARE: HealthStatus
HEALTH_STATUS_SERIOUS: HealthStatus
SUSPECT_ROLE_UNSPECIFIED: SuspectRole
SUSPECT_ROLE_RECRUITER: SuspectRole
SUSPECT_ROLE_TRANSPORTER: SuspectRole
SUSPECT_ROLE_BROKER: SuspectRole
SUSPECT_ROLE_BUYER: SuspectRole
SUSPECT_ROLE_ORGANISER: SuspectRole
SUSPECT_ROLE_OTHER: SuspectRole
MODUS_OPERANDI_UNSPECIFIED: ModusOperandi
MODUS_OPERANDI_JOB_LURE: ModusOperandi
MODUS_OPERANDI_MARRIAGE_LURE: ModusOperandi
MODUS_OPERANDI_ONLINE_ACQUAINTANCE: ModusOperandi
MODUS_OPERANDI_ABDUCTION: ModusOperandi
MODUS_OPERANDI_DEBT_BONDAGE: ModusOperandi
MODUS_OPERANDI_OTHER: ModusOperandi
REQUESTED_ACTION_UNSPECIFIED: RequestedAction
REQUESTED_ACTION_VERIFY: RequestedAction
REQUESTED_ACTION_LOCATE: RequestedAction
REQUESTED_ACTION_RESCUE: RequestedAction
REQUESTED_ACTION_INVESTIGATE: RequestedAction
REQUESTED_ACTION_ARREST: RequestedAction
REQUESTED_ACTION_SHARE_INFORMATION: RequestedAction
REPORT_CHANNEL_UNSPECIFIED: ReportChannel
REPORT_CHANNEL_PROVINCIAL_HOTLINE: ReportChannel
REPORT_CHANNEL_NATIONAL_111: ReportChannel
REPORT_CHANNEL_IN_PERSON: ReportChannel
REPORT_CHANNEL_SOCIAL_MEDIA: ReportChannel
REPORT_CHANNEL_OTHER: ReportChannel
REPORT_CLASSIFICATION_UNSPECIFIED: ReportClassification
REPORT_CLASSIFICATION_SUSPECTED_TRAFFICKING: ReportClassification
REPORT_CLASSIFICATION_MISSING_PERSON: ReportClassification
REPORT_CLASSIFICATION_ILLEGAL_MIGRATION: ReportClassification
REPORT_CLASSIFICATION_NOT_RELEVANT: ReportClassification
CASE_STATUS_UNSPECIFIED: CaseStatus
CASE_STATUS_ACCEPTED: CaseStatus
CASE_STATUS_IN_PROGRESS: CaseStatus
CASE_STATUS_ANSWERED: CaseStatus
CASE_STATUS_CLOSED: CaseStatus
CASE_STATUS_ESCALATED: CaseStatus
CASE_STATUS_SCHEDULED: CaseStatus
REJECTION_REASON_UNSPECIFIED: RejectionReason
REJECTION_REASON_INSUFFICIENT_INFORMATION: RejectionReason
REJECTION_REASON_OUTSIDE_JURISDICTION: RejectionReason
REJECTION_REASON_DUPLICATE: RejectionReason
REJECTION_REASON_NO_CONSENT: RejectionReason
REJECTION_REASON_NO_LEGAL_BASIS: RejectionReason
REJECTION_REASON_OTHER: RejectionReason

class ConsentRecord(_message.Message):
    __slots__ = ("status", "recorded_at", "recorded_by", "released_fields")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    status: ConsentStatus
    recorded_at: _common_pb2.ZonedTime
    recorded_by: str
    released_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, status: _Optional[_Union[ConsentStatus, str]] = ..., recorded_at: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., recorded_by: _Optional[str] = ..., released_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class AccompanyingMinor(_message.Message):
    __slots__ = ("person", "relationship_to_victim")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_TO_VICTIM_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.Person
    relationship_to_victim: _common_pb2.Relationship
    def __init__(self, person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., relationship_to_victim: _Optional[_Union[_common_pb2.Relationship, str]] = ...) -> None: ...

class VictimIdentificationRequest(_message.Message):
    __slots__ = ("context", "kind", "person", "account", "exploitation_types", "found_at", "found_time", "custody", "custody_place", "accompanying_minors", "consent")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPLOITATION_TYPES_FIELD_NUMBER: _ClassVar[int]
    FOUND_AT_FIELD_NUMBER: _ClassVar[int]
    FOUND_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTODY_FIELD_NUMBER: _ClassVar[int]
    CUSTODY_PLACE_FIELD_NUMBER: _ClassVar[int]
    ACCOMPANYING_MINORS_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    kind: IdentificationKind
    person: _common_pb2.Person
    account: _common_pb2.LocalizedText
    exploitation_types: _containers.RepeatedScalarFieldContainer[ExploitationType]
    found_at: _common_pb2.Place
    found_time: _common_pb2.ZonedTime
    custody: CustodyType
    custody_place: _common_pb2.LocalizedText
    accompanying_minors: _containers.RepeatedCompositeFieldContainer[AccompanyingMinor]
    consent: ConsentRecord
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., kind: _Optional[_Union[IdentificationKind, str]] = ..., person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., account: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., exploitation_types: _Optional[_Iterable[_Union[ExploitationType, str]]] = ..., found_at: _Optional[_Union[_common_pb2.Place, _Mapping]] = ..., found_time: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., custody: _Optional[_Union[CustodyType, str]] = ..., custody_place: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., accompanying_minors: _Optional[_Iterable[_Union[AccompanyingMinor, _Mapping]]] = ..., consent: _Optional[_Union[ConsentRecord, _Mapping]] = ...) -> None: ...

class VerifiedField(_message.Message):
    __slots__ = ("field_path", "result")
    FIELD_PATH_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    field_path: str
    result: VerificationResult
    def __init__(self, field_path: _Optional[str] = ..., result: _Optional[_Union[VerificationResult, str]] = ...) -> None: ...

class VerificationResponse(_message.Message):
    __slots__ = ("context", "result", "verified_fields", "victim_status", "relatives_contacted", "confirmed_person", "documents", "remarks")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    VICTIM_STATUS_FIELD_NUMBER: _ClassVar[int]
    RELATIVES_CONTACTED_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_PERSON_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    REMARKS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    result: VerificationResult
    verified_fields: _containers.RepeatedCompositeFieldContainer[VerifiedField]
    victim_status: VictimStatus
    relatives_contacted: bool
    confirmed_person: _common_pb2.Person
    documents: _containers.RepeatedCompositeFieldContainer[_common_pb2.IdDocument]
    remarks: _common_pb2.LocalizedText
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., result: _Optional[_Union[VerificationResult, str]] = ..., verified_fields: _Optional[_Iterable[_Union[VerifiedField, _Mapping]]] = ..., victim_status: _Optional[_Union[VictimStatus, str]] = ..., relatives_contacted: _Optional[bool] = ..., confirmed_person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., documents: _Optional[_Iterable[_Union[_common_pb2.IdDocument, _Mapping]]] = ..., remarks: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ...) -> None: ...

class RepatriatedPerson(_message.Message):
    __slots__ = ("request_ref", "person", "is_minor", "health")
    REQUEST_REF_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    IS_MINOR_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    request_ref: str
    person: _common_pb2.Person
    is_minor: bool
    health: HealthStatus
    def __init__(self, request_ref: _Optional[str] = ..., person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., is_minor: _Optional[bool] = ..., health: _Optional[_Union[HealthStatus, str]] = ...) -> None: ...

class RepatriationNotice(_message.Message):
    __slots__ = ("context", "step", "persons", "proposed_time", "border_gate", "handover_point", "handing_over_unit", "receiving_unit", "officers", "remarks")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_TIME_FIELD_NUMBER: _ClassVar[int]
    BORDER_GATE_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_POINT_FIELD_NUMBER: _ClassVar[int]
    HANDING_OVER_UNIT_FIELD_NUMBER: _ClassVar[int]
    RECEIVING_UNIT_FIELD_NUMBER: _ClassVar[int]
    OFFICERS_FIELD_NUMBER: _ClassVar[int]
    REMARKS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    step: RepatriationStep
    persons: _containers.RepeatedCompositeFieldContainer[RepatriatedPerson]
    proposed_time: _common_pb2.ZonedTime
    border_gate: _common_pb2.LocalizedText
    handover_point: _common_pb2.LocalizedText
    handing_over_unit: _common_pb2.Unit
    receiving_unit: _common_pb2.Unit
    officers: _containers.RepeatedCompositeFieldContainer[_common_pb2.Officer]
    remarks: _common_pb2.LocalizedText
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., step: _Optional[_Union[RepatriationStep, str]] = ..., persons: _Optional[_Iterable[_Union[RepatriatedPerson, _Mapping]]] = ..., proposed_time: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., border_gate: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., handover_point: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., handing_over_unit: _Optional[_Union[_common_pb2.Unit, _Mapping]] = ..., receiving_unit: _Optional[_Union[_common_pb2.Unit, _Mapping]] = ..., officers: _Optional[_Iterable[_Union[_common_pb2.Officer, _Mapping]]] = ..., remarks: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ...) -> None: ...

class Belonging(_message.Message):
    __slots__ = ("description", "quantity")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    description: _common_pb2.LocalizedText
    quantity: int
    def __init__(self, description: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., quantity: _Optional[int] = ...) -> None: ...

class HandedOverPerson(_message.Message):
    __slots__ = ("request_ref", "person", "is_minor", "health", "health_notes", "belongings", "documents")
    REQUEST_REF_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    IS_MINOR_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    HEALTH_NOTES_FIELD_NUMBER: _ClassVar[int]
    BELONGINGS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    request_ref: str
    person: _common_pb2.Person
    is_minor: bool
    health: HealthStatus
    health_notes: _common_pb2.LocalizedText
    belongings: _containers.RepeatedCompositeFieldContainer[Belonging]
    documents: _containers.RepeatedCompositeFieldContainer[_common_pb2.IdDocument]
    def __init__(self, request_ref: _Optional[str] = ..., person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., is_minor: _Optional[bool] = ..., health: _Optional[_Union[HealthStatus, str]] = ..., health_notes: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., belongings: _Optional[_Iterable[_Union[Belonging, _Mapping]]] = ..., documents: _Optional[_Iterable[_Union[_common_pb2.IdDocument, _Mapping]]] = ...) -> None: ...

class HandoverRecord(_message.Message):
    __slots__ = ("context", "notice_ref", "executed_at", "border_gate", "handover_point", "handing_over_unit", "receiving_unit", "officers", "persons", "remarks")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    NOTICE_REF_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_AT_FIELD_NUMBER: _ClassVar[int]
    BORDER_GATE_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_POINT_FIELD_NUMBER: _ClassVar[int]
    HANDING_OVER_UNIT_FIELD_NUMBER: _ClassVar[int]
    RECEIVING_UNIT_FIELD_NUMBER: _ClassVar[int]
    OFFICERS_FIELD_NUMBER: _ClassVar[int]
    PERSONS_FIELD_NUMBER: _ClassVar[int]
    REMARKS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    notice_ref: str
    executed_at: _common_pb2.ZonedTime
    border_gate: _common_pb2.LocalizedText
    handover_point: _common_pb2.LocalizedText
    handing_over_unit: _common_pb2.Unit
    receiving_unit: _common_pb2.Unit
    officers: _containers.RepeatedCompositeFieldContainer[_common_pb2.Officer]
    persons: _containers.RepeatedCompositeFieldContainer[HandedOverPerson]
    remarks: _common_pb2.LocalizedText
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., notice_ref: _Optional[str] = ..., executed_at: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., border_gate: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., handover_point: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., handing_over_unit: _Optional[_Union[_common_pb2.Unit, _Mapping]] = ..., receiving_unit: _Optional[_Union[_common_pb2.Unit, _Mapping]] = ..., officers: _Optional[_Iterable[_Union[_common_pb2.Officer, _Mapping]]] = ..., persons: _Optional[_Iterable[_Union[HandedOverPerson, _Mapping]]] = ..., remarks: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ...) -> None: ...

class SocialAccount(_message.Message):
    __slots__ = ("platform", "handle")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    platform: str
    handle: str
    def __init__(self, platform: _Optional[str] = ..., handle: _Optional[str] = ...) -> None: ...

class Suspect(_message.Message):
    __slots__ = ("name", "aliases", "date_of_birth", "nationality", "documents", "phones", "social_accounts", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    SOCIAL_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: _common_pb2.PersonName
    aliases: _containers.RepeatedCompositeFieldContainer[_common_pb2.PersonName]
    date_of_birth: _common_pb2.PartialDate
    nationality: str
    documents: _containers.RepeatedCompositeFieldContainer[_common_pb2.IdDocument]
    phones: _containers.RepeatedScalarFieldContainer[str]
    social_accounts: _containers.RepeatedCompositeFieldContainer[SocialAccount]
    role: SuspectRole
    def __init__(self, name: _Optional[_Union[_common_pb2.PersonName, _Mapping]] = ..., aliases: _Optional[_Iterable[_Union[_common_pb2.PersonName, _Mapping]]] = ..., date_of_birth: _Optional[_Union[_common_pb2.PartialDate, _Mapping]] = ..., nationality: _Optional[str] = ..., documents: _Optional[_Iterable[_Union[_common_pb2.IdDocument, _Mapping]]] = ..., phones: _Optional[_Iterable[str]] = ..., social_accounts: _Optional[_Iterable[_Union[SocialAccount, _Mapping]]] = ..., role: _Optional[_Union[SuspectRole, str]] = ...) -> None: ...

class CaseNotice(_message.Message):
    __slots__ = ("context", "offence", "occurred_from", "occurred_to", "place", "suspects", "victim_refs", "victim_count", "minor_victim_count", "modus_operandi", "modus_operandi_details", "routes", "requested_actions")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OFFENCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_FROM_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_TO_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    SUSPECTS_FIELD_NUMBER: _ClassVar[int]
    VICTIM_REFS_FIELD_NUMBER: _ClassVar[int]
    VICTIM_COUNT_FIELD_NUMBER: _ClassVar[int]
    MINOR_VICTIM_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODUS_OPERANDI_FIELD_NUMBER: _ClassVar[int]
    MODUS_OPERANDI_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    offence: _common_pb2.LocalizedText
    occurred_from: _common_pb2.ZonedTime
    occurred_to: _common_pb2.ZonedTime
    place: _common_pb2.Place
    suspects: _containers.RepeatedCompositeFieldContainer[Suspect]
    victim_refs: _containers.RepeatedScalarFieldContainer[str]
    victim_count: int
    minor_victim_count: int
    modus_operandi: _containers.RepeatedScalarFieldContainer[ModusOperandi]
    modus_operandi_details: _common_pb2.LocalizedText
    routes: _containers.RepeatedCompositeFieldContainer[_common_pb2.LocalizedText]
    requested_actions: _containers.RepeatedScalarFieldContainer[RequestedAction]
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., offence: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., occurred_from: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., occurred_to: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., place: _Optional[_Union[_common_pb2.Place, _Mapping]] = ..., suspects: _Optional[_Iterable[_Union[Suspect, _Mapping]]] = ..., victim_refs: _Optional[_Iterable[str]] = ..., victim_count: _Optional[int] = ..., minor_victim_count: _Optional[int] = ..., modus_operandi: _Optional[_Iterable[_Union[ModusOperandi, str]]] = ..., modus_operandi_details: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., routes: _Optional[_Iterable[_Union[_common_pb2.LocalizedText, _Mapping]]] = ..., requested_actions: _Optional[_Iterable[_Union[RequestedAction, str]]] = ...) -> None: ...

class Reporter(_message.Message):
    __slots__ = ("anonymous", "name", "phone", "relationship")
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    anonymous: bool
    name: _common_pb2.PersonName
    phone: str
    relationship: _common_pb2.Relationship
    def __init__(self, anonymous: _Optional[bool] = ..., name: _Optional[_Union[_common_pb2.PersonName, _Mapping]] = ..., phone: _Optional[str] = ..., relationship: _Optional[_Union[_common_pb2.Relationship, str]] = ...) -> None: ...

class HotlineReport(_message.Message):
    __slots__ = ("context", "channel", "received_at", "reporter", "subject", "location", "facts", "classification", "routed_to")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    ROUTED_TO_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    channel: ReportChannel
    received_at: _common_pb2.ZonedTime
    reporter: Reporter
    subject: _common_pb2.Person
    location: _common_pb2.Place
    facts: _common_pb2.LocalizedText
    classification: ReportClassification
    routed_to: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., channel: _Optional[_Union[ReportChannel, str]] = ..., received_at: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., reporter: _Optional[_Union[Reporter, _Mapping]] = ..., subject: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., location: _Optional[_Union[_common_pb2.Place, _Mapping]] = ..., facts: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., classification: _Optional[_Union[ReportClassification, str]] = ..., routed_to: _Optional[_Iterable[str]] = ...) -> None: ...

class Acknowledgement(_message.Message):
    __slots__ = ("context", "subject_message_id", "acknowledged_at", "remarks", "record_signature", "record_signer_key_id")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    REMARKS_FIELD_NUMBER: _ClassVar[int]
    RECORD_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    RECORD_SIGNER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    subject_message_id: str
    acknowledged_at: _common_pb2.ZonedTime
    remarks: _common_pb2.LocalizedText
    record_signature: bytes
    record_signer_key_id: str
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., subject_message_id: _Optional[str] = ..., acknowledged_at: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., remarks: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., record_signature: _Optional[bytes] = ..., record_signer_key_id: _Optional[str] = ...) -> None: ...

class StatusUpdate(_message.Message):
    __slots__ = ("context", "subject_message_id", "status", "expected_by", "remarks")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_BY_FIELD_NUMBER: _ClassVar[int]
    REMARKS_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    subject_message_id: str
    status: CaseStatus
    expected_by: _common_pb2.ZonedTime
    remarks: _common_pb2.LocalizedText
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., subject_message_id: _Optional[str] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., expected_by: _Optional[_Union[_common_pb2.ZonedTime, _Mapping]] = ..., remarks: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("context", "subject_message_id", "reason_code", "reason")
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    context: _common_pb2.MessageContext
    subject_message_id: str
    reason_code: RejectionReason
    reason: _common_pb2.LocalizedText
    def __init__(self, context: _Optional[_Union[_common_pb2.MessageContext, _Mapping]] = ..., subject_message_id: _Optional[str] = ..., reason_code: _Optional[_Union[RejectionReason, str]] = ..., reason: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ...) -> None: ...

class Payload(_message.Message):
    __slots__ = ("identification_request", "verification_response", "repatriation_notice", "handover_record", "case_notice", "hotline_report", "acknowledgement", "status_update", "rejection")
    IDENTIFICATION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    REPATRIATION_NOTICE_FIELD_NUMBER: _ClassVar[int]
    HANDOVER_RECORD_FIELD_NUMBER: _ClassVar[int]
    CASE_NOTICE_FIELD_NUMBER: _ClassVar[int]
    HOTLINE_REPORT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGEMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_UPDATE_FIELD_NUMBER: _ClassVar[int]
    REJECTION_FIELD_NUMBER: _ClassVar[int]
    identification_request: VictimIdentificationRequest
    verification_response: VerificationResponse
    repatriation_notice: RepatriationNotice
    handover_record: HandoverRecord
    case_notice: CaseNotice
    hotline_report: HotlineReport
    acknowledgement: Acknowledgement
    status_update: StatusUpdate
    rejection: Rejection
    def __init__(self, identification_request: _Optional[_Union[VictimIdentificationRequest, _Mapping]] = ..., verification_response: _Optional[_Union[VerificationResponse, _Mapping]] = ..., repatriation_notice: _Optional[_Union[RepatriationNotice, _Mapping]] = ..., handover_record: _Optional[_Union[HandoverRecord, _Mapping]] = ..., case_notice: _Optional[_Union[CaseNotice, _Mapping]] = ..., hotline_report: _Optional[_Union[HotlineReport, _Mapping]] = ..., acknowledgement: _Optional[_Union[Acknowledgement, _Mapping]] = ..., status_update: _Optional[_Union[StatusUpdate, _Mapping]] = ..., rejection: _Optional[_Union[Rejection, _Mapping]] = ...) -> None: ...
