from gateway.schemas.blo.v1 import common_pb2 as _common_pb2
from gateway.schemas.blo.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OfficeRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFICE_ROLE_UNSPECIFIED: _ClassVar[OfficeRole]
    OFFICE_ROLE_LIAISON_OFFICE: _ClassVar[OfficeRole]
    OFFICE_ROLE_BORDER_GUARD: _ClassVar[OfficeRole]
    OFFICE_ROLE_POLICE: _ClassVar[OfficeRole]
    OFFICE_ROLE_HOTLINE: _ClassVar[OfficeRole]
    OFFICE_ROLE_AUDITOR: _ClassVar[OfficeRole]

class KeyAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_ALGORITHM_UNSPECIFIED: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_ED25519: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_X25519: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_ML_DSA_65: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_ML_KEM_768_X25519: _ClassVar[KeyAlgorithm]
OFFICE_ROLE_UNSPECIFIED: OfficeRole
OFFICE_ROLE_LIAISON_OFFICE: OfficeRole
OFFICE_ROLE_BORDER_GUARD: OfficeRole
OFFICE_ROLE_POLICE: OfficeRole
OFFICE_ROLE_HOTLINE: OfficeRole
OFFICE_ROLE_AUDITOR: OfficeRole
KEY_ALGORITHM_UNSPECIFIED: KeyAlgorithm
KEY_ALGORITHM_ED25519: KeyAlgorithm
KEY_ALGORITHM_X25519: KeyAlgorithm
KEY_ALGORITHM_ML_DSA_65: KeyAlgorithm
KEY_ALGORITHM_ML_KEM_768_X25519: KeyAlgorithm

class PublicKey(_message.Message):
    __slots__ = ("key_id", "algorithm", "public_key", "not_before_ms", "not_after_ms")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_MS_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: KeyAlgorithm
    public_key: bytes
    not_before_ms: int
    not_after_ms: int
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[_Union[KeyAlgorithm, str]] = ..., public_key: _Optional[bytes] = ..., not_before_ms: _Optional[int] = ..., not_after_ms: _Optional[int] = ...) -> None: ...

class Office(_message.Message):
    __slots__ = ("office_id", "country", "name", "role", "endpoint", "keys", "time_zone", "suites")
    OFFICE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    SUITES_FIELD_NUMBER: _ClassVar[int]
    office_id: str
    country: str
    name: _common_pb2.LocalizedText
    role: OfficeRole
    endpoint: str
    keys: _containers.RepeatedCompositeFieldContainer[PublicKey]
    time_zone: str
    suites: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, office_id: _Optional[str] = ..., country: _Optional[str] = ..., name: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., role: _Optional[_Union[OfficeRole, str]] = ..., endpoint: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[PublicKey, _Mapping]]] = ..., time_zone: _Optional[str] = ..., suites: _Optional[_Iterable[int]] = ...) -> None: ...

class Revocation(_message.Message):
    __slots__ = ("key_id", "revoked_at_ms", "reason")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    revoked_at_ms: int
    reason: str
    def __init__(self, key_id: _Optional[str] = ..., revoked_at_ms: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Directory(_message.Message):
    __slots__ = ("serial", "issued_at_ms", "expires_at_ms", "offices", "revocations")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    OFFICES_FIELD_NUMBER: _ClassVar[int]
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    serial: int
    issued_at_ms: int
    expires_at_ms: int
    offices: _containers.RepeatedCompositeFieldContainer[Office]
    revocations: _containers.RepeatedCompositeFieldContainer[Revocation]
    def __init__(self, serial: _Optional[int] = ..., issued_at_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., offices: _Optional[_Iterable[_Union[Office, _Mapping]]] = ..., revocations: _Optional[_Iterable[_Union[Revocation, _Mapping]]] = ...) -> None: ...

class DirectorySignature(_message.Message):
    __slots__ = ("key_id", "signature")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    signature: bytes
    def __init__(self, key_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SignedDirectory(_message.Message):
    __slots__ = ("directory", "signatures")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    directory: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[DirectorySignature]
    def __init__(self, directory: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[DirectorySignature, _Mapping]]] = ...) -> None: ...

class RootKey(_message.Message):
    __slots__ = ("key_id", "country", "public_key", "name", "pq_key_id", "pq_public_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PQ_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PQ_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    country: str
    public_key: bytes
    name: _common_pb2.LocalizedText
    pq_key_id: str
    pq_public_key: bytes
    def __init__(self, key_id: _Optional[str] = ..., country: _Optional[str] = ..., public_key: _Optional[bytes] = ..., name: _Optional[_Union[_common_pb2.LocalizedText, _Mapping]] = ..., pq_key_id: _Optional[str] = ..., pq_public_key: _Optional[bytes] = ...) -> None: ...

class TrustRoots(_message.Message):
    __slots__ = ("roots", "version")
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    roots: _containers.RepeatedCompositeFieldContainer[RootKey]
    version: int
    def __init__(self, roots: _Optional[_Iterable[_Union[RootKey, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class SignedTrustRoots(_message.Message):
    __slots__ = ("trust_roots", "signatures")
    TRUST_ROOTS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    trust_roots: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[DirectorySignature]
    def __init__(self, trust_roots: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[DirectorySignature, _Mapping]]] = ...) -> None: ...
