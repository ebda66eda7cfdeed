"""``xcost-tui export mlflow|wandb``: the store's runs as MLflow runs or offline W&B runs.

``records.py`` (pure: a run of the store as a typed ``TrackerRun``), ``select.py`` (which runs,
through the store's query API), ``to_mlflow.py`` and ``to_wandb.py`` (the trackers, each imported
only when its export runs), ``command.py`` (the verb: it renders the report with the report room
and attaches it). docs/export.md.
"""
