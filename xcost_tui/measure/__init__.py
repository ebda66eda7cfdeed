"""Measurement: cost arithmetic (pure functions) and probes (context managers).

Its modules (import the one you need; this package re-exports nothing, so that importing one
probe never loads the others, and no module here depends on another through it):

- ``timer``: ``PhaseMeter``, one measured window (wall and CPU time, memory, energy, contention).
- ``flops``: FLOPs counted analytically from batch shapes, and measured with FlopCounterMode.
- ``mfu``: model FLOP utilisation against the device's dense peak.
- ``memory``: peak memory probes (torch.cuda, procfs).
- ``energy``: energy from NVML's counters or RAPL.
- ``contention``: other work beside the job (CPU and GPU), and the job's CPU share.
- ``nvml``: the NVML boundary (tests replace pynvml with a fake).
- ``env``: versions, host, device and git commit of a run.
- ``stats``: latency statistics of the inference bench (percentiles, summary).

torch is imported only inside the functions that need it: the supervisor imports
``measure.nvml`` for its sampler and must stay light (tests/measure/test_measure_memory.py checks).
Methodology: docs/measurement.md.
"""
