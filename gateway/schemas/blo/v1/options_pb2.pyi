from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
MESSAGE_LABEL_FIELD_NUMBER: _ClassVar[int]
message_label: _descriptor.FieldDescriptor
FIELD_LABEL_FIELD_NUMBER: _ClassVar[int]
field_label: _descriptor.FieldDescriptor
ENUM_LABEL_FIELD_NUMBER: _ClassVar[int]
enum_label: _descriptor.FieldDescriptor
VALUE_LABEL_FIELD_NUMBER: _ClassVar[int]
value_label: _descriptor.FieldDescriptor
ONEOF_LABEL_FIELD_NUMBER: _ClassVar[int]
oneof_label: _descriptor.FieldDescriptor

class Label(_message.Message):
    __slots__ = ("term", "vi", "zh")
    TERM_FIELD_NUMBER: _ClassVar[int]
    VI_FIELD_NUMBER: _ClassVar[int]
    ZH_FIELD_NUMBER: _ClassVar[int]
    term: str
    vi: str
    zh: str
    def __init__(self, term: _Optional[str] = ..., vi: _Optional[str] = ..., zh: _Optional[str] = ...) -> None: ...
