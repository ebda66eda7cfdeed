"""The verdict's settings and thresholds, in one numpy-free place (the store's SQL uses them too).

docs/statistics.md explains each choice.
"""

DEFAULT_RESAMPLES = 1000
DEFAULT_ALPHA = 0.05
DEFAULT_DELTA = 0.02  # "similar accuracy": a paired difference whose 90% interval is inside ±2 points
CHANCE = 0.5  # XCOPA and COPA are two-choice tasks

# Per-query costs closer than this (relative to the larger) are "the same": analytic FLOP counts are
# exact, but measured time and energy per query carry timing noise of a few percent, and a crossing
# computed from noise (two encoders of one size) would be a made-up number.
SAME_QUERY_COST = {"flops": 1e-6, "device_hours": 0.05, "energy_j": 0.05, "latency_s": 0.05}
