"""The simulated stream as a landing zone receives it: NDJSON files by day of receipt (some
gzip), events out of time order inside a file, and one Segment batch envelope."""

from __future__ import annotations

import gzip
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from ingestion.storage import Storage


def write_landing_files(
    storage: Storage,
    rows: list[tuple[float, bytes]],
    *,
    seed: int,
    files_per_day: int,
    file_prefix: str,
    gzip_share: float,
) -> int:
    """Write `rows` ((received epoch seconds, line)) to `storage`; the number of files written.
    The same rows and seed give the same files."""
    rng = random.Random(seed)
    by_file: dict[str, list[bytes]] = {}
    for received, line in rows:
        day = datetime.fromtimestamp(received, UTC).date()
        part = rng.randrange(files_per_day)
        key = f"{file_prefix}{day:%Y/%m/%d}/events-{day:%Y%m%d}-{part:02d}"
        by_file.setdefault(key, []).append(line)
    # The first events of the last file travel instead in a batch envelope, as a server-side
    # library sends them: the envelope's sentAt and context apply to every member.
    last = sorted(by_file)[-files_per_day]
    batch_lines, by_file[last] = by_file[last][:20], by_file[last][20:]
    batch = []
    for line in batch_lines:
        try:
            member = orjson.loads(line)
        except orjson.JSONDecodeError:
            by_file[last].append(line)
            continue
        if isinstance(member, dict):
            member.pop("sentAt", None)
            member.pop("context", None)
            batch.append(member)
        else:
            by_file[last].append(line)
    files = 0
    with tempfile.TemporaryDirectory(prefix="paw-generate-") as tmp:
        path = Path(tmp) / "file"
        for stem in sorted(by_file):
            lines = by_file[stem]
            if not lines:
                continue
            rng.shuffle(lines)  # events inside a file are out of time order
            data = b"\n".join(lines) + b"\n"
            if rng.random() < gzip_share:
                key, data = f"{stem}.ndjson.gz", gzip.compress(data, compresslevel=1)
            else:
                key = f"{stem}.ndjson"
            path.write_bytes(data)
            storage.write_atomic(key, path)
            files += 1
        if batch:
            # The server receives the batch at once, just after the client sent it.
            arrived = max(datetime.fromisoformat(m["receivedAt"]) for m in batch)
            sent = arrived - timedelta(milliseconds=400)
            for member in batch:
                member["receivedAt"] = arrived.isoformat(timespec="milliseconds")
            envelope = {
                "batch": batch,
                "sentAt": sent.isoformat(timespec="milliseconds"),
                "context": {"library": {"name": "analytics-node", "version": "1.0.0"}},
            }
            path.write_bytes(orjson.dumps(envelope, option=orjson.OPT_INDENT_2))
            storage.write_atomic(f"{last.rsplit('/', 1)[0]}/segment-batch.json", path)
            files += 1
    return files
