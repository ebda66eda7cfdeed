"""The verdict as every front end reads it: what each method costs at similar accuracy, with its
uncertainty.

- ``api``: the one reader (``verdict(store, ...)``) the headless mode, the app's Compare screen
  and the report use, over the store's views and its verdict tables.

The numbers are the store's (``store/verdict_tables.py`` writes them at ingest) and the
mathematics is ``xcost_tui.stats``. numpy is imported by ``api`` (the report process and the
app's Compare screen), never at the supervisor's start-up: import it only where it is used.
"""
