"""Stream a landing file into chunks of lines, as Arrow arrays, with bounded memory.

Lines are cut out of large byte blocks without copying (Arrow offsets over the block), so the
validator sees a column of lines. Batch envelopes and undecodable bytes take a slower per-line
path, which only the lines that need it pay for.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import orjson
import pyarrow as pa

from ingestion.contract import FIELD_SPELLINGS, RAW_LINE_LIMIT, Reason

BLOCK_BYTES = 64 * 1024 * 1024
WHOLE_DOCUMENT_LIMIT = 256 * 1024 * 1024  # a multi-line JSON document is parsed whole up to this


@dataclass
class Rejected:
    """A line rejected before validation (bytes that are not UTF-8, or a bad envelope)."""

    line_number: int
    batch_index: int | None
    reason: Reason
    error: str
    raw_line: str
    raw_bytes: int


@dataclass
class LineChunk:
    """Lines of one landing file: `lines` has columns line_number, batch_index, line."""

    lines: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    blank_lines: int = 0


class HashingReader:
    """Counts and hashes the raw (possibly compressed) bytes as they stream past."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True


def _blocks(stream: BinaryIO, block_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines; every block ends with a newline."""
    tail = b""
    while True:
        data = stream.read(block_bytes)
        if not data:
            break
        data = tail + data
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1 :]
        yield data[: cut + 1]
    if tail:
        yield tail + b"\n"


def _lines_table(line_numbers: np.ndarray, batch_index: list | None, lines: pa.Array) -> pa.Table:
    return pa.table(
        {
            "line_number": pa.array(line_numbers, pa.int64()),
            "batch_index": pa.array(batch_index, pa.int32())
            if batch_index is not None
            else pa.nulls(len(lines), pa.int32()),
            "line": lines,
        }
    )


def truncate_raw(text: str) -> str:
    if len(text) <= RAW_LINE_LIMIT:
        return text
    return text[:RAW_LINE_LIMIT] + f"…[truncated, {len(text)} characters in all]"


def _split_block(block: bytes, first_line: int) -> LineChunk:
    """One block (ending in a newline) into lines; each line keeps its trailing newline."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10) + 1
    offsets = np.empty(len(ends) + 1, dtype=np.int32 if len(block) < 2**31 else np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    n = len(ends)
    line_numbers = np.arange(first_line, first_line + n, dtype=np.int64)
    buf = pa.py_buffer(block)
    array_type = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    lines = pa.Array.from_buffers(array_type, n, [None, pa.py_buffer(offsets), buf])
    # Blank lines are not events: drop them here, count them for the reconciliation.
    lengths = np.diff(offsets)
    blank = lengths <= 64  # candidates only: checked below for whitespace
    if blank.any():
        short = np.flatnonzero(blank)
        really_blank = [i for i in short if not block[offsets[i] : offsets[i + 1]].strip()]
        if really_blank:
            keep = np.ones(n, dtype=bool)
            keep[really_blank] = False
            lines = lines.filter(pa.array(keep))
            line_numbers = line_numbers[keep]
    blank_count = n - len(lines)
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        return _split_with_bad_utf8(lines, line_numbers, blank_count)
    return LineChunk(_lines_table(line_numbers, None, lines), blank_lines=blank_count)


def _split_with_bad_utf8(lines: pa.Array, line_numbers: np.ndarray, blank: int) -> LineChunk:
    raw = lines.cast(pa.binary()) if lines.type == pa.string() else lines.cast(pa.large_binary())
    good_text: list[str] = []
    good_numbers: list[int] = []
    rejected: list[Rejected] = []
    for number, value in zip(line_numbers.tolist(), raw.to_pylist(), strict=True):
        try:
            good_text.append(value.decode("utf-8"))
            good_numbers.append(number)
        except UnicodeDecodeError as exc:
            text = value.decode("utf-8", errors="replace").rstrip("\r\n")
            rejected.append(
                Rejected(
                    number,
                    None,
                    Reason.INVALID_JSON,
                    f"line is not valid UTF-8 "
                    f"(byte {exc.start}: {value[exc.start : exc.start + 1]!r})",
                    truncate_raw(text),
                    len(value.rstrip(b"\r\n")),
                )
            )
    table = _lines_table(np.array(good_numbers, dtype=np.int64), None, pa.array(good_text))
    return LineChunk(table, rejected=rejected, blank_lines=blank)


def _field(obj: dict, name: str):
    for spelling in FIELD_SPELLINGS[name]:
        if obj.get(spelling) is not None:
            return obj[spelling]
    return None


def expand_envelope(line_number: int, envelope: dict) -> LineChunk:
    """A Segment batch envelope into one line per event; the envelope's sentAt and context
    apply to the events that do not carry their own."""
    batch = envelope.get("batch")
    if not isinstance(batch, list):
        text = orjson.dumps(envelope).decode()
        return LineChunk(
            _lines_table(np.array([], dtype=np.int64), [], pa.array([], pa.string())),
            rejected=[
                Rejected(
                    line_number,
                    None,
                    Reason.INVALID_FIELD_TYPE,
                    f"batch must be an array, got {type(batch).__name__}",
                    truncate_raw(text),
                    len(text.encode()),
                )
            ],
        )
    sent_at = _field(envelope, "sent_at")
    context = _field(envelope, "context")
    texts: list[str] = []
    positions: list[int] = []
    for position, member in enumerate(batch):
        if isinstance(member, dict):
            if sent_at is not None and _field(member, "sent_at") is None:
                member = {**member, "sentAt": sent_at}
            if isinstance(context, dict) and member.get("context") is None:
                member = {**member, "context": context}
        texts.append(orjson.dumps(member).decode() + "\n")
        positions.append(position)
    numbers = np.full(len(texts), line_number, dtype=np.int64)
    return LineChunk(_lines_table(numbers, positions, pa.array(texts, pa.string())))


def _try_whole_document(data: bytes) -> LineChunk | None:
    """A file holding one pretty-printed JSON document: an envelope or an array of events."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, dict) and "batch" in doc:
        return expand_envelope(1, doc)
    if isinstance(doc, list):
        return expand_envelope(1, {"batch": doc})
    return None


def open_landing_stream(raw: BinaryIO, key: str) -> BinaryIO:
    if key.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


class _Prepended:
    """A stream with some already-read bytes put back in front of it."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.stream.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            return data
        return self.stream.read(n)


class CorruptFileError(RuntimeError):
    """A landing file whose bytes cannot be read at all (a truncated gzip stream)."""


def read_chunks(
    raw: BinaryIO, key: str, size_hint: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[LineChunk]:
    """Yield chunks of lines from one landing file.

    A file whose first line is not JSON on its own but which parses whole (a pretty-printed
    batch envelope) is read as one document, if it is small enough to hold in memory.
    """
    line_number = 1
    try:
        stream: BinaryIO = open_landing_stream(raw, key)
        head = stream.read(min(block_bytes, 1024 * 1024))
        if _looks_like_document(head) and size_hint <= WHOLE_DOCUMENT_LIMIT:
            data = head + stream.read(WHOLE_DOCUMENT_LIMIT + 1 - len(head))
            doc = _try_whole_document(data) if len(data) <= WHOLE_DOCUMENT_LIMIT else None
            if doc is not None:
                yield doc
                return
            head = data
        stream = _Prepended(head, stream)  # type: ignore[assignment]
        for block in _blocks(stream, block_bytes):
            chunk = _split_block(block, line_number)
            line_number += block.count(b"\n")
            yield chunk
    except (EOFError, OSError, zlib.error) as exc:
        raise CorruptFileError(
            f"{key}: cannot decompress after line {line_number - 1}: {exc}"
        ) from exc


def _looks_like_document(head: bytes) -> bool:
    """True when the file starts like JSON but its first line is not a JSON value on its own."""
    stripped = head.lstrip()
    if stripped[:1] not in (b"{", b"["):
        return False
    first_line = stripped.split(b"\n", 1)[0]
    try:
        orjson.loads(first_line)
        return False
    except orjson.JSONDecodeError:
        return True
