"""Reads an offline W&B run back: the records of its ``run-<id>.wandb`` file, decoded with wandb's
own protocol buffers (``wandb.proto.wandb_internal_pb2.Record``).

wandb 0.31 keeps no Python reader of that file (its writer and ``wandb sync`` are the Go
``wandb-core``), so the framing is read here: a 7-byte header (``:W&B``, magic 0xBEE1, version
0), then LevelDB's log format (github.com/google/leveldb doc/log_format.md): 32 KiB blocks of
chunks, each a 7-byte header (checksum, little-endian length, type 1 full / 2 first / 3 middle
/ 4 last) and its bytes; a block's tail shorter than a header is zeros.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7
FILE_HEADER = b":W&B" + struct.pack("<H", 0xBEE1) + b"\x00"


def records(path: Path) -> list[Any]:
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:HEADER] == FILE_HEADER, f"{path} is not a W&B transaction log"
    out, pos, pending = [], HEADER, b""
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # the block's zero-filled tail
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            break
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (1, 2):
            pending = chunk
        else:
            pending += chunk
        if kind in (1, 4):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(pending)
            out.append(rec)
    return out


@dataclass
class OfflineRun:
    run_id: str
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    exit_code: int | None = None


def read_offline_run(folder: Path) -> OfflineRun:
    """The run's id, config, summary, saved files and exit code, as its records say."""
    (log,) = folder.glob("run-*.wandb")
    run = OfflineRun("")
    for rec in records(log):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run.run_id = rec.run.run_id
            for item in rec.run.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                run.config[item.key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in rec.summary.update:
                key = "/".join(item.nested_key) if item.nested_key else item.key
                run.summary[key] = json.loads(item.value_json)
        elif kind == "files":
            run.files += [f.path for f in rec.files.files]
        elif kind == "exit":
            run.exit_code = rec.exit.exit_code
    return run
