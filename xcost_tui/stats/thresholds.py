"""The verdict's settings and thresholds, in one numpy-free place (the store's SQL uses them too).

docs/statistics.md explains each choice.
"""

DEFAULT_RESAMPLES = 1000
DEFAULT_ALPHA = 0.05
DEFAULT_DELTA = 0.02  # "similar accuracy": a difference whose 90% interval is inside ±2 points (docs/statistics.md)
# The margins of the report's δ-sensitivity line and of the Compare screen's δ picker: the
# equivalence test is also computed at each (stored per comparison), so neither needs a second
# pass over the predictions.
SENSITIVITY_DELTAS = (0.01, 0.02, 0.03, 0.05)
CHANCE = 0.5  # XCOPA and COPA are two-choice tasks

# Per-query costs closer than this (relative to the larger) are "the same": analytic FLOP counts are
# exact, but measured time and energy per query carry timing noise of a few percent, and a crossing
# computed from noise (two encoders of one size) would be a made-up number.
SAME_QUERY_COST = {"flops": 1e-6, "device_hours": 0.05, "energy_j": 0.05, "latency_s": 0.05}

# The cost measures of the break-even, each a pair of a configuration's figures (the store's
# ``configurations`` columns): (its training cost, its cost per query). N* = ΔC_train / Δc_query.
# The training cost is the full pipeline's with its intermediate phase amortised over the reader's
# ``amortise_n`` target tasks (equal to train_* at the default N = 1).
# The ``break_even`` view, the verdict API and the report all read this one list.
BREAK_EVEN_MEASURES: dict[str, tuple[str, str]] = {
    "device_hours": ("amortised_train_device_hours", "query_device_hours"),
    "flops": ("amortised_train_flops", "query_flops"),
    "energy_j": ("amortised_train_energy_j", "query_energy_j"),
}
