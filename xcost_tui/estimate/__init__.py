"""Know before you run: what a plan will cost, whether each run fits, and how close the forecast came.

``xcost-tui plan estimate PLAN`` (the verb is ``xcost_tui/commands/estimate.py``) forecasts every
run and phase of a plan: examples, tokens, analytic FLOPs, time, device-hours, energy and peak
memory, from the real token lengths of the data with each run's tokenizer and a short probe on
this machine (or projected onto another GPU with ``--device-profile``). The store keeps every
forecast (``<store>/forecasts/``, the ``forecasts`` table) and compares it with what the runs then
measure (the ``forecast_error`` view).

Supervisor side (torch-free): ``configs``, ``assumptions``, ``profiles``, ``memory``, ``run``,
``fit``, ``startup`` (start-ups, loads, restores, checkpoints) and ``execution`` (shared target
phases and warm workers applied to the forecast, and the old way it is compared with). Job side, run as a subprocess: ``worker`` (``counting`` and ``probing``, which import
torch and the job's own loops; ``protocol``, the pipe's mark). The forecast file's record is
``rundir/forecast.py``; the store's forecasts table and its questions are ``store/forecasts.py``;
the verb is ``commands/estimate.py``.

For an executor: ``suggested_time_limit(spec)`` (``xcost_tui.store.forecasts``) is the SLURM
``--time`` in seconds suggested by the newest forecast of that run, or None.
"""
