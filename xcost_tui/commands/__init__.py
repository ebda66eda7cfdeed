"""The verbs that are not front ends: ``run``, ``plan check``, ``plan estimate``, ``stage``,
``ingest`` and ``sql``. Each module holds one verb: it parses nothing (cli.py does), calls the
domain rooms below, prints, and returns an exit code. The domain rooms return values or raise
typed errors; they do not print tables (docs/architecture.md, "The floors")."""
