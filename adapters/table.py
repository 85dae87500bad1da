"""Reading an import file as a table of text cells: CSV, JSON or XLSX, by its extension.

Invariants: the file is read in place and never copied (no temporary file, nothing written);
its size is checked before anything is read (``MAX_FILE_BYTES``; an XLSX's unpacked size
too, before openpyxl opens it), and at most ``MAX_ROWS`` rows are taken. A file that cannot
be read as a table raises ``BadImportFile`` naming the file and where (the byte offset and
line of a byte that is not UTF-8, the line of a broken CSV quote), in the user's language,
never a traceback. Rows are numbered as the user sees them: the spreadsheet row (the
header is row 1) for CSV and XLSX, the position in the list (from 1) for JSON.

CSV: UTF-8 with or without a byte-order mark; the delimiter (``,``, ``;`` or tab) is the one
the header line uses most. JSON: a list of objects (or ``{"rows": [...]}``) whose keys are
column names and values strings, numbers, booleans or null. XLSX: the first sheet, values
(not formulas); a date cell is a time without a zone.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from adapters.cells import Column, Problem, fold, header_index, plain
from adapters.text import say
from gateway.protocol.errors import BadImportFile
from gateway.protocol.strict import json_depth

__all__ = ["MAX_FILE_BYTES", "MAX_ROWS", "Table", "read_table"]

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_ROWS = 200_000
FORMATS = {".csv": "csv", ".txt": "csv", ".json": "json", ".xlsx": "xlsx", ".xlsm": "xlsx"}


@dataclass
class Table:
    """The rows of a file as ``(row number, {column key: cell text})``, the headers that
    named no column (ignored), and rows that could not be split into cells."""

    path: Path
    fmt: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class _Reader:
    def __init__(self, path: Path, columns: tuple[Column, ...], lang: str) -> None:
        self.path, self.columns, self.lang = path, columns, lang
        self.index = header_index(columns)
        self.ignored: list[str] = []

    def fail(self, key: str, **params: object) -> BadImportFile:
        return BadImportFile(say(key, self.lang, file=self.path.name, **params))

    def header(self, names: list[str]) -> list[str]:
        """Column key per position ('' to ignore); missing required columns are an error."""
        keys, seen = [], set()
        ignored = []
        for name in names:
            key = self.index.get(fold(name)) or self.index.get(plain(name)) or ""
            if key and key in seen:
                raise self.fail("import.file.duplicate_column", column=self.label(key))
            if key:
                seen.add(key)
            elif name.strip():
                ignored.append(name.strip()[:64])
            keys.append(key)
        missing = [self.label(c.key) for c in self.columns if c.required and c.key not in seen]
        if missing:
            raise self.fail("import.file.missing_column", column=", ".join(missing))
        self.ignored = ignored
        return keys

    def label(self, key: str) -> str:
        col = next(c for c in self.columns if c.key == key)
        return f"{say(col.term, self.lang)} ({key})"

    def decode(self, data: bytes) -> str:
        start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        try:
            return data[start:].decode("utf-8")
        except UnicodeDecodeError as e:
            offset = start + e.start
            raise self.fail("import.file.not_utf8", offset=offset,
                            line=data.count(b"\n", 0, offset) + 1) from None


def _read_bytes(path: Path, r: _Reader) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise r.fail("import.file.too_large", size=size, limit=MAX_FILE_BYTES)
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise r.fail("import.file.unreadable", detail=type(e).__name__) from None
    if len(data) > MAX_FILE_BYTES:
        raise r.fail("import.file.too_large", size=len(data), limit=MAX_FILE_BYTES)
    return data


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _add(table: Table, r: _Reader, number: int, keys: list[str], cells: list[str]) -> None:
    if not any(c.strip() for c in cells):
        return
    if len(table.rows) + len(table.problems) >= MAX_ROWS:
        raise r.fail("import.file.too_many_rows", limit=MAX_ROWS)
    if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys):]):
        table.problems.append(Problem(number, "", "extra_cells"))
        return
    table.rows.append((number, {k: c for k, c in zip(keys, cells, strict=False) if k}))


def _csv(path: Path, r: _Reader, table: Table) -> None:
    text = r.decode(_read_bytes(path, r))
    reader = csv.reader(io.StringIO(text, newline=""),
                        delimiter=_delimiter(text.split("\n", 1)[0]), strict=True)
    keys: list[str] | None = None
    number = 0
    try:
        for cells in reader:
            number += 1
            if keys is None:
                if any(c.strip() for c in cells):
                    keys = r.header(cells)
                continue
            _add(table, r, number, keys, cells)
    except csv.Error:
        raise r.fail("import.file.bad_csv", line=reader.line_num) from None
    if keys is None:
        raise r.fail("import.file.empty")


def _scalar(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def _json(path: Path, r: _Reader, table: Table) -> None:
    data = _read_bytes(path, r)
    text = r.decode(data)
    if json_depth(data) > 4:
        raise r.fail("import.file.json_shape")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise r.fail("import.file.bad_json", line=e.lineno, col=e.colno) from None
    if isinstance(doc, dict) and set(doc) == {"rows"}:
        doc = doc["rows"]
    if not isinstance(doc, list) or not all(isinstance(o, dict) for o in doc):
        raise r.fail("import.file.json_shape")
    names: dict[str, None] = {}
    for obj in doc:
        names.update(dict.fromkeys(obj))
    keys = r.header(list(names))
    by_name = dict(zip(names, keys, strict=True))
    for number, obj in enumerate(doc, start=1):
        cells: dict[str, str] = {}
        bad = False
        for name, value in obj.items():
            cell = _scalar(value)
            if cell is None:
                bad = True
            elif by_name[name]:
                cells[by_name[name]] = cell
        if bad:
            table.problems.append(Problem(number, "", "bad_value"))
        elif any(c.strip() for c in cells.values()):
            if len(table.rows) >= MAX_ROWS:
                raise r.fail("import.file.too_many_rows", limit=MAX_ROWS)
            table.rows.append((number, cells))


def _xlsx_cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")  # naive unless the workbook says otherwise
    if isinstance(value, date | time):
        return value.isoformat()
    cell = _scalar(value)
    return "" if cell is None else cell


def _xlsx(path: Path, r: _Reader, table: Table) -> None:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _read_bytes(path, r)  # the size check (the bytes are not kept)
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise r.fail("import.file.too_large", size=unpacked, limit=MAX_UNPACKED_BYTES)
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        raise r.fail("import.file.bad_xlsx") from None
    try:
        sheet = book.worksheets[0]
        keys: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(values_only=True),
                                        start=sheet.min_row or 1):
            cells = [_xlsx_cell(v) for v in values]
            if keys is None:
                if any(c.strip() for c in cells):
                    keys = r.header(cells)
                continue
            _add(table, r, number, keys, cells)
    except (KeyError, ValueError, zipfile.BadZipFile) as e:
        raise r.fail("import.file.bad_xlsx") from e
    finally:
        book.close()
    if keys is None:
        raise r.fail("import.file.empty")


def read_table(path: Path, columns: tuple[Column, ...], lang: str) -> Table:
    """The rows of ``path`` under ``columns``; ``BadImportFile`` if it is no such table."""
    r = _Reader(path, columns, lang)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise r.fail("import.file.unknown_format")
    table = Table(path, fmt)
    {"csv": _csv, "json": _json, "xlsx": _xlsx}[fmt](path, r, table)
    table.ignored = r.ignored
    return table
