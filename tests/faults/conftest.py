"""The stress test's trials (issue 20): every bad input and failure ends in one clear message.

Read-only and full file systems are real tmpfs mounts (``disks``; root only, skipped with the
reason otherwise: CI runs as root)."""

from support.disks import disks  # noqa: F401  (a fixture, used by name)
