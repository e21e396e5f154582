"""Stream a landing file into chunks of lines, as Arrow arrays, with bounded memory.

Lines are cut out of large byte blocks without copying (Arrow offsets over the block), so the
validator sees a column of lines. Only undecodable bytes take a slower per-line path.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import orjson
import pyarrow as pa

from ingestion.contract import RAW_LINE_LIMIT, Reason

BLOCK_BYTES = 32 * 1024 * 1024
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
    """Lines of one landing file: `lines` has columns line_number, batch_index, line and
    openings (see `_split_block`)."""

    lines: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    blank_lines: int = 0
    unterminated_last_line: bool = False  # set on a file's last chunk


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


def _lines_table(
    line_numbers: np.ndarray, lines: pa.Array, openings: np.ndarray | None = None
) -> pa.Table:
    return pa.table(
        {
            "line_number": pa.array(line_numbers, pa.int64()),
            "batch_index": pa.nulls(len(lines), pa.int32()),
            "line": lines,
            "openings": pa.array(openings, pa.int32())
            if openings is not None
            else pa.nulls(len(lines), pa.int32()),
        }
    )


def truncate_raw(text: str) -> str:
    if len(text) <= RAW_LINE_LIMIT:
        return text
    return text[:RAW_LINE_LIMIT] + f"…[truncated, {len(text)} characters in all]"


def _openings(arr: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each line's count of `{` and `[` bytes, strings included. A line needs more than
    MAX_JSON_DEPTH of them to nest too deep, so the validator's costly depth search runs only
    on those lines: counted here in two passes over the bytes, where the search took a fifth
    of the validation's time over every line. (`{` and `[` are the only bytes equal to `{`
    once bit 0x20 is set.)"""
    positions = np.flatnonzero((arr | 0x20) == ord("{"))
    line_of = np.searchsorted(ends, positions, side="right")
    return np.bincount(line_of, minlength=len(ends)).astype(np.int32)


def _split_block(block: bytes, first_line: int) -> LineChunk:
    """One block (ending in a newline) into lines; each line keeps its trailing newline."""
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10) + 1
    offsets = np.empty(len(ends) + 1, dtype=np.int32 if len(block) < 2**31 else np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    n = len(ends)
    openings = _openings(arr, ends)
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
            openings = openings[keep]
    blank_count = n - len(lines)
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        return _split_with_bad_utf8(lines, line_numbers, blank_count)
    return LineChunk(_lines_table(line_numbers, lines, openings), blank_lines=blank_count)


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
    table = _lines_table(np.array(good_numbers, dtype=np.int64), pa.array(good_text))
    return LineChunk(table, rejected=rejected, blank_lines=blank)


def _as_envelope_line(data: bytes) -> LineChunk | None:
    """A file holding one pretty-printed JSON document (an envelope, or an array of events) as
    one envelope line; DuckDB expands it like any other envelope."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None  # read line by line: each line is judged on its own
    if isinstance(doc, list):
        data = b'{"batch":' + data + b"}"
    elif not (isinstance(doc, dict) and "batch" in doc):
        return None
    text = data.decode("utf-8").replace("\r", "").replace("\n", " ")
    return LineChunk(_lines_table(np.array([1], dtype=np.int64), pa.array([text])))


def open_landing_stream(raw: BinaryIO, key: str) -> BinaryIO:
    if key.lower().endswith(".gz"):
        return GunzipStream(raw)  # type: ignore[return-value]
    return raw


class CorruptStreamError(RuntimeError):
    """A compressed stream that ends early or holds bytes that do not decompress."""


class GunzipStream:
    """gzip decompression (several members too) that hands over every byte it could
    decompress before it reports a stream cut off mid-way; gzip.GzipFile raises instead and
    loses the block it was decompressing."""

    READ_BYTES = 1024 * 1024

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self.member_started = False
        self.pending = b""
        self.compressed_bytes = 0
        self.decompressed_bytes = 0
        self.error: str | None = None
        self.finished = False

    def read(self, n: int = -1) -> bytes:
        if self.error and not self.finished:
            self.finished = True
            raise CorruptStreamError(self.error)
        limit = n if n >= 0 else 1 << 62
        out = bytearray()
        while len(out) < limit and not self.finished and self.error is None:
            data = self.inflate.unconsumed_tail or self.pending
            self.pending = b""
            if not data and self.member_started:
                # output zlib still holds when the last call filled `limit` exactly
                held = self.inflate.decompress(b"", limit - len(out))
                if held:
                    out += held
                    continue
            if not data:
                data = self.raw.read(self.READ_BYTES)
                self.compressed_bytes += len(data)
                if not data:
                    if self.member_started:
                        self.error = (
                            f"the gzip stream ends without its end-of-stream marker after "
                            f"{self.compressed_bytes:,} compressed bytes"
                        )
                    else:
                        self.finished = True
                    break
            self.member_started = True
            try:
                out += self.inflate.decompress(data, limit - len(out))
            except zlib.error as exc:
                self.error = (
                    f"the gzip stream does not decompress after "
                    f"{self.compressed_bytes:,} compressed bytes ({exc})"
                )
                break
            if self.inflate.eof:  # a member ended: another may follow
                self.pending = self.inflate.unused_data
                self.inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
                self.member_started = False
        self.decompressed_bytes += len(out)
        if not out and self.error and not self.finished:
            self.finished = True
            raise CorruptStreamError(self.error)
        return bytes(out)


UTF8_BOM = b"\xef\xbb\xbf"


def read_chunks(
    raw: BinaryIO, key: str, size_hint: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[LineChunk]:
    """Yield chunks of lines from one landing file.

    A UTF-8 byte-order mark at the start is skipped. A file whose first line is not JSON on
    its own but which parses whole (a pretty-printed batch envelope) is read as one envelope,
    if it is small enough to hold in memory. The last chunk says whether the last line ended
    without a newline (a file perhaps still being written); the unreadable tail of a cut-off
    compressed stream is one rejected line.
    """
    stream: BinaryIO = open_landing_stream(raw, key)
    blocks = _Blocks(stream, block_bytes)
    head = blocks.read_head(min(block_bytes, 1024 * 1024))
    if _looks_like_document(head) and size_hint <= WHOLE_DOCUMENT_LIMIT:
        data = head + blocks.read_head(WHOLE_DOCUMENT_LIMIT + 1 - len(head))
        doc = _as_envelope_line(data) if len(data) <= WHOLE_DOCUMENT_LIMIT else None
        if doc is not None and blocks.error is None:
            yield doc
            return
        head = data
    blocks.push_back(head)
    line_number = 1
    for block in blocks:
        chunk = _split_block(block, line_number)
        line_number += block.count(b"\n")
        yield chunk
    last = LineChunk(_lines_table(np.array([], dtype=np.int64), pa.array([], pa.string())))
    last.unterminated_last_line = blocks.unterminated
    if blocks.error is not None:
        tail = blocks.tail.decode("utf-8", errors="replace")
        last.rejected.append(
            Rejected(
                line_number,
                None,
                Reason.TRUNCATED_FILE,
                f"{key}: {blocks.error}; the readable text ends at byte "
                f"{blocks.delivered:,} after line {line_number - 1:,}"
                + (f", in a line cut off after {len(blocks.tail):,} bytes" if blocks.tail else ""),
                truncate_raw(tail),
                len(blocks.tail),
            )
        )
    yield last


class _Blocks:
    """Blocks of whole lines from a stream; every block ends with a newline. A stream that
    breaks off stops the blocks: `error` says why and `tail` holds the cut-off line."""

    def __init__(self, stream: BinaryIO, block_bytes: int) -> None:
        self.stream = stream
        self.block_bytes = block_bytes
        self.head = b""
        self.tail = b""
        self.error: str | None = None
        self.unterminated = False
        self.delivered = 0
        self.started = False

    def _read(self, n: int) -> bytes:
        if self.error is not None:
            return b""
        try:
            data = self.stream.read(n)
        except CorruptStreamError as exc:
            self.error = str(exc)
            return b""
        except (EOFError, OSError) as exc:
            self.error = f"the stream cannot be read further ({exc})"
            return b""
        if not self.started:
            self.started = True
            data = data.removeprefix(UTF8_BOM)
        return data

    def read_head(self, n: int) -> bytes:
        return self._read(n)

    def push_back(self, data: bytes) -> None:
        self.head = data

    def __iter__(self) -> Iterator[bytes]:
        tail = b""
        while True:
            data, self.head = (self.head, b"") if self.head else (self._read(self.block_bytes), b"")
            if not data:
                break
            data = tail + data
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                continue
            tail = data[cut + 1 :]
            self.delivered += cut + 1
            yield data[: cut + 1]
        if self.error is not None:
            self.tail = tail
        elif tail:
            # A last line without a newline is a complete line; the caller decides whether
            # the file had settled (else it is taken again later).
            self.unterminated = True
            self.delivered += len(tail)
            yield tail + b"\n"


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
