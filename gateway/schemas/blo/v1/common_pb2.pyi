from gateway.schemas.blo.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Language(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LANGUAGE_UNSPECIFIED: _ClassVar[Language]
    LANGUAGE_VI: _ClassVar[Language]
    LANGUAGE_ZH_HANS: _ClassVar[Language]
    LANGUAGE_EN: _ClassVar[Language]

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_ROUTINE: _ClassVar[Priority]
    PRIORITY_HIGH: _ClassVar[Priority]
    PRIORITY_URGENT: _ClassVar[Priority]

class HandlingCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HANDLING_CODE_UNSPECIFIED: _ClassVar[HandlingCode]
    HANDLING_CODE_LAW_ENFORCEMENT_ONLY: _ClassVar[HandlingCode]
    HANDLING_CODE_NO_JUDICIAL_USE: _ClassVar[HandlingCode]
    HANDLING_CODE_NO_ONWARD_TRANSFER: _ClassVar[HandlingCode]
    HANDLING_CODE_ORIGINATOR_CONTROLLED: _ClassVar[HandlingCode]

class Sex(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEX_UNSPECIFIED: _ClassVar[Sex]
    SEX_FEMALE: _ClassVar[Sex]
    SEX_MALE: _ClassVar[Sex]
    SEX_OTHER: _ClassVar[Sex]

class Ethnicity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ETHNICITY_UNSPECIFIED: _ClassVar[Ethnicity]
    ETHNICITY_KINH: _ClassVar[Ethnicity]
    ETHNICITY_HMONG: _ClassVar[Ethnicity]
    ETHNICITY_DAO: _ClassVar[Ethnicity]
    ETHNICITY_TAY: _ClassVar[Ethnicity]
    ETHNICITY_NUNG: _ClassVar[Ethnicity]
    ETHNICITY_GIAY: _ClassVar[Ethnicity]
    ETHNICITY_HA_NHI: _ClassVar[Ethnicity]
    ETHNICITY_THAI: _ClassVar[Ethnicity]
    ETHNICITY_HAN: _ClassVar[Ethnicity]
    ETHNICITY_OTHER: _ClassVar[Ethnicity]

class IdDocumentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ID_DOCUMENT_TYPE_UNSPECIFIED: _ClassVar[IdDocumentType]
    ID_DOCUMENT_TYPE_VN_CITIZEN_ID: _ClassVar[IdDocumentType]
    ID_DOCUMENT_TYPE_CN_RESIDENT_ID: _ClassVar[IdDocumentType]
    ID_DOCUMENT_TYPE_PASSPORT: _ClassVar[IdDocumentType]
    ID_DOCUMENT_TYPE_BORDER_PASS: _ClassVar[IdDocumentType]
    ID_DOCUMENT_TYPE_BIRTH_CERTIFICATE: _ClassVar[IdDocumentType]
    ID_DOCUMENT_TYPE_OTHER: _ClassVar[IdDocumentType]

class Relationship(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELATIONSHIP_UNSPECIFIED: _ClassVar[Relationship]
    RELATIONSHIP_MOTHER: _ClassVar[Relationship]
    RELATIONSHIP_FATHER: _ClassVar[Relationship]
    RELATIONSHIP_SPOUSE: _ClassVar[Relationship]
    RELATIONSHIP_SIBLING: _ClassVar[Relationship]
    RELATIONSHIP_CHILD: _ClassVar[Relationship]
    RELATIONSHIP_GUARDIAN: _ClassVar[Relationship]
    RELATIONSHIP_OTHER: _ClassVar[Relationship]

class AttachmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTACHMENT_KIND_UNSPECIFIED: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_PHOTO: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_DOCUMENT_SCAN: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_FINGERPRINT_REFERENCE: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_DNA_REFERENCE: _ClassVar[AttachmentKind]
    ATTACHMENT_KIND_OTHER: _ClassVar[AttachmentKind]

class OfficerRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFICER_ROLE_UNSPECIFIED: _ClassVar[OfficerRole]
    OFFICER_ROLE_HANDING_OVER: _ClassVar[OfficerRole]
    OFFICER_ROLE_RECEIVING: _ClassVar[OfficerRole]
    OFFICER_ROLE_ESCORT: _ClassVar[OfficerRole]
    OFFICER_ROLE_INTERPRETER: _ClassVar[OfficerRole]
    OFFICER_ROLE_WITNESS: _ClassVar[OfficerRole]
LANGUAGE_UNSPECIFIED: Language
LANGUAGE_VI: Language
LANGUAGE_ZH_HANS: Language
LANGUAGE_EN: Language
PRIORITY_UNSPECIFIED: Priority
PRIORITY_ROUTINE: Priority
PRIORITY_HIGH: Priority
PRIORITY_URGENT: Priority
HANDLING_CODE_UNSPECIFIED: HandlingCode
HANDLING_CODE_LAW_ENFORCEMENT_ONLY: HandlingCode
HANDLING_CODE_NO_JUDICIAL_USE: HandlingCode
HANDLING_CODE_NO_ONWARD_TRANSFER: HandlingCode
HANDLING_CODE_ORIGINATOR_CONTROLLED: HandlingCode
SEX_UNSPECIFIED: Sex
SEX_FEMALE: Sex
SEX_MALE: Sex
SEX_OTHER: Sex
ETHNICITY_UNSPECIFIED: Ethnicity
ETHNICITY_KINH: Ethnicity
ETHNICITY_HMONG: Ethnicity
ETHNICITY_DAO: Ethnicity
ETHNICITY_TAY: Ethnicity
ETHNICITY_NUNG: Ethnicity
ETHNICITY_GIAY: Ethnicity
ETHNICITY_HA_NHI: Ethnicity
ETHNICITY_THAI: Ethnicity
ETHNICITY_HAN: Ethnicity
ETHNICITY_OTHER: Ethnicity
ID_DOCUMENT_TYPE_UNSPECIFIED: IdDocumentType
ID_DOCUMENT_TYPE_VN_CITIZEN_ID: IdDocumentType
ID_DOCUMENT_TYPE_CN_RESIDENT_ID: IdDocumentType
ID_DOCUMENT_TYPE_PASSPORT: IdDocumentType
ID_DOCUMENT_TYPE_BORDER_PASS: IdDocumentType
ID_DOCUMENT_TYPE_BIRTH_CERTIFICATE: IdDocumentType
ID_DOCUMENT_TYPE_OTHER: IdDocumentType
RELATIONSHIP_UNSPECIFIED: Relationship
RELATIONSHIP_MOTHER: Relationship
RELATIONSHIP_FATHER: Relationship
RELATIONSHIP_SPOUSE: Relationship
RELATIONSHIP_SIBLING: Relationship
RELATIONSHIP_CHILD: Relationship
RELATIONSHIP_GUARDIAN: Relationship
RELATIONSHIP_OTHER: Relationship
ATTACHMENT_KIND_UNSPECIFIED: AttachmentKind
ATTACHMENT_KIND_PHOTO: AttachmentKind
ATTACHMENT_KIND_DOCUMENT_SCAN: AttachmentKind
ATTACHMENT_KIND_FINGERPRINT_REFERENCE: AttachmentKind
ATTACHMENT_KIND_DNA_REFERENCE: AttachmentKind
ATTACHMENT_KIND_OTHER: AttachmentKind
OFFICER_ROLE_UNSPECIFIED: OfficerRole
OFFICER_ROLE_HANDING_OVER: OfficerRole
OFFICER_ROLE_RECEIVING: OfficerRole
OFFICER_ROLE_ESCORT: OfficerRole
OFFICER_ROLE_INTERPRETER: OfficerRole
OFFICER_ROLE_WITNESS: OfficerRole

class LocalizedText(_message.Message):
    __slots__ = ("vi", "zh", "original")
    VI_FIELD_NUMBER: _ClassVar[int]
    ZH_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    vi: str
    zh: str
    original: Language
    def __init__(self, vi: _Optional[str] = ..., zh: _Optional[str] = ..., original: _Optional[_Union[Language, str]] = ...) -> None: ...

class ZonedTime(_message.Message):
    __slots__ = ("unix_millis", "utc_offset_minutes")
    UNIX_MILLIS_FIELD_NUMBER: _ClassVar[int]
    UTC_OFFSET_MINUTES_FIELD_NUMBER: _ClassVar[int]
    unix_millis: int
    utc_offset_minutes: int
    def __init__(self, unix_millis: _Optional[int] = ..., utc_offset_minutes: _Optional[int] = ...) -> None: ...

class PartialDate(_message.Message):
    __slots__ = ("year", "month", "day")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    year: int
    month: int
    day: int
    def __init__(self, year: _Optional[int] = ..., month: _Optional[int] = ..., day: _Optional[int] = ...) -> None: ...

class MessageContext(_message.Message):
    __slots__ = ("case_reference", "in_reply_to", "reply_to", "deadline", "priority", "handling_code")
    CASE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    HANDLING_CODE_FIELD_NUMBER: _ClassVar[int]
    case_reference: str
    in_reply_to: str
    reply_to: str
    deadline: ZonedTime
    priority: Priority
    handling_code: HandlingCode
    def __init__(self, case_reference: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., reply_to: _Optional[str] = ..., deadline: _Optional[_Union[ZonedTime, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., handling_code: _Optional[_Union[HandlingCode, str]] = ...) -> None: ...

class PersonName(_message.Message):
    __slots__ = ("full_name", "script", "hanzi", "latin")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    HANZI_FIELD_NUMBER: _ClassVar[int]
    LATIN_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    script: str
    hanzi: str
    latin: str
    def __init__(self, full_name: _Optional[str] = ..., script: _Optional[str] = ..., hanzi: _Optional[str] = ..., latin: _Optional[str] = ...) -> None: ...

class IdDocument(_message.Message):
    __slots__ = ("type", "number", "issuing_country", "issued_on", "expires_on")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ISSUING_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ISSUED_ON_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_ON_FIELD_NUMBER: _ClassVar[int]
    type: IdDocumentType
    number: str
    issuing_country: str
    issued_on: PartialDate
    expires_on: PartialDate
    def __init__(self, type: _Optional[_Union[IdDocumentType, str]] = ..., number: _Optional[str] = ..., issuing_country: _Optional[str] = ..., issued_on: _Optional[_Union[PartialDate, _Mapping]] = ..., expires_on: _Optional[_Union[PartialDate, _Mapping]] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("country", "province_code", "province", "commune_code", "commune", "detail", "codes_valid_from", "legacy_text")
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_FIELD_NUMBER: _ClassVar[int]
    COMMUNE_CODE_FIELD_NUMBER: _ClassVar[int]
    COMMUNE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CODES_VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    LEGACY_TEXT_FIELD_NUMBER: _ClassVar[int]
    country: str
    province_code: str
    province: str
    commune_code: str
    commune: str
    detail: str
    codes_valid_from: str
    legacy_text: str
    def __init__(self, country: _Optional[str] = ..., province_code: _Optional[str] = ..., province: _Optional[str] = ..., commune_code: _Optional[str] = ..., commune: _Optional[str] = ..., detail: _Optional[str] = ..., codes_valid_from: _Optional[str] = ..., legacy_text: _Optional[str] = ...) -> None: ...

class Relative(_message.Message):
    __slots__ = ("name", "relationship", "phone", "address", "contacted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONTACTED_FIELD_NUMBER: _ClassVar[int]
    name: PersonName
    relationship: Relationship
    phone: str
    address: Address
    contacted: bool
    def __init__(self, name: _Optional[_Union[PersonName, _Mapping]] = ..., relationship: _Optional[_Union[Relationship, str]] = ..., phone: _Optional[str] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., contacted: _Optional[bool] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("kind", "media_type", "content", "sha256", "restricted", "description")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    kind: AttachmentKind
    media_type: str
    content: bytes
    sha256: bytes
    restricted: bool
    description: LocalizedText
    def __init__(self, kind: _Optional[_Union[AttachmentKind, str]] = ..., media_type: _Optional[str] = ..., content: _Optional[bytes] = ..., sha256: _Optional[bytes] = ..., restricted: _Optional[bool] = ..., description: _Optional[_Union[LocalizedText, _Mapping]] = ...) -> None: ...

class Place(_message.Message):
    __slots__ = ("address", "description")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    address: Address
    description: LocalizedText
    def __init__(self, address: _Optional[_Union[Address, _Mapping]] = ..., description: _Optional[_Union[LocalizedText, _Mapping]] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("name", "aliases", "sex", "date_of_birth", "approximate_age", "place_of_birth", "ethnicity", "claimed_nationality", "documents", "home_address", "relatives", "physical_description", "photos", "restricted_attachments")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    APPROXIMATE_AGE_FIELD_NUMBER: _ClassVar[int]
    PLACE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    ETHNICITY_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_NATIONALITY_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    HOME_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RELATIVES_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    name: PersonName
    aliases: _containers.RepeatedCompositeFieldContainer[PersonName]
    sex: Sex
    date_of_birth: PartialDate
    approximate_age: int
    place_of_birth: str
    ethnicity: Ethnicity
    claimed_nationality: str
    documents: _containers.RepeatedCompositeFieldContainer[IdDocument]
    home_address: Address
    relatives: _containers.RepeatedCompositeFieldContainer[Relative]
    physical_description: LocalizedText
    photos: _containers.RepeatedCompositeFieldContainer[Attachment]
    restricted_attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    def __init__(self, name: _Optional[_Union[PersonName, _Mapping]] = ..., aliases: _Optional[_Iterable[_Union[PersonName, _Mapping]]] = ..., sex: _Optional[_Union[Sex, str]] = ..., date_of_birth: _Optional[_Union[PartialDate, _Mapping]] = ..., approximate_age: _Optional[int] = ..., place_of_birth: _Optional[str] = ..., ethnicity: _Optional[_Union[Ethnicity, str]] = ..., claimed_nationality: _Optional[str] = ..., documents: _Optional[_Iterable[_Union[IdDocument, _Mapping]]] = ..., home_address: _Optional[_Union[Address, _Mapping]] = ..., relatives: _Optional[_Iterable[_Union[Relative, _Mapping]]] = ..., physical_description: _Optional[_Union[LocalizedText, _Mapping]] = ..., photos: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., restricted_attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ...) -> None: ...

class Unit(_message.Message):
    __slots__ = ("office_id", "name")
    OFFICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    office_id: str
    name: LocalizedText
    def __init__(self, office_id: _Optional[str] = ..., name: _Optional[_Union[LocalizedText, _Mapping]] = ...) -> None: ...

class Officer(_message.Message):
    __slots__ = ("name", "rank", "unit", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: PersonName
    rank: LocalizedText
    unit: Unit
    role: OfficerRole
    def __init__(self, name: _Optional[_Union[PersonName, _Mapping]] = ..., rank: _Optional[_Union[LocalizedText, _Mapping]] = ..., unit: _Optional[_Union[Unit, _Mapping]] = ..., role: _Optional[_Union[OfficerRole, str]] = ...) -> None: ...
