"""The method table: one entry per method of the study, the one place that says what a method is.

Adding a method touches this table (and the job room's runner for it), not string branches
across the code: the spec reads which keys a method takes and which phases it records, the job
picks its phase runner, the store reads whether it trains, which method is the default baseline and
which loads a generator in a chosen dtype, and configuration labels read its family and head. (How
two configurations' runs pair is the verdict's rule, ``store/verdict_tables.py: paired``: through
the training seed when both train, read from ``trains`` here and the runs' seeds.) lm-evaluation-harness's task registry (one
entry per task, looked up by name) is the model.

Plain data, no imports of our own code: every floor of the house may read it (docs/architecture.md).
"""

from __future__ import annotations


# A plain class with __slots__, not a dataclass nor a NamedTuple: `xcost-tui --help` lists the
# methods, and importing dataclasses (with inspect) or typing would cost it 3-8 ms of its ~38
# (benchmarks/bench_cli_help.py).
class Method:
    """What one method does; ``name`` is the value of ``RunSpec.method``."""

    name: str
    # The job's phase runner for this method, as "module:attribute" under xcost_tui.job: a class
    # whose start(job, spec, device, data) loads the run's model and runs its phases. The job
    # resolves it (job/main.py ``method_runner``), so this table stays free of torch.
    runner: str
    # It trains (an encoder's intermediate/target/few-shot phases): False for in-context learning,
    # whose training costs are zero rather than unknown (store/schema.py).
    trains: bool
    # It fine-tunes a multilingual encoder (model defaults, encoder recipes, heads).
    encoder: bool
    # It runs the spec's intermediate task(s) before the target task when it has some.
    uses_intermediate: bool
    # Its intermediate phase(s) may be shared with other runs of the same intermediate key
    # (runner/shared.py). translate-test trains its English classifier itself (docs/methods.md).
    shares_intermediate: bool
    # Its target phase (with English validation and collapse retries) may be shared with other runs
    # of the same target key (RunSpec.target_key, runner/shared.py): a few-shot run and
    # translate-test's English classifier start from the model a direct or intermediate run of the
    # same model, chain, recipe and seed trained (issue 18).
    shares_target: bool
    # It draws k labelled target-language examples (few_shot_k and shot_seed apply).
    draws_shots: bool
    # k = 0 is allowed (zero-shot prompting); a fine-tune needs at least one example.
    zero_shots: bool
    # The phase kind recorded before each eval:<lang> (few-shot:<lang>, translate:<lang>), if any.
    per_language_phase: str | None
    # Its runs are the default baseline of the configurations of the same model and recipe
    # (store/verdict_tables.py): direct fine-tuning.
    default_baseline: bool
    # It loads a causal LM (icl) or an MT model (translate-test) whose weights' dtype the spec's
    # model_dtype chooses (runs.model_dtype).
    loads_generator: bool
    # The configuration's family (one marker and colour each in the app and report).
    family: str
    # The head of a configuration's label; {chain} is "siqa+mnli→" (empty without intermediate
    # tasks), {target} the target task, {k} the number of shots.
    label_head: str

    __slots__ = (
        "name",
        "runner",
        "trains",
        "encoder",
        "uses_intermediate",
        "shares_intermediate",
        "shares_target",
        "draws_shots",
        "zero_shots",
        "per_language_phase",
        "default_baseline",
        "loads_generator",
        "family",
        "label_head",
    )

    def __init__(
        self,
        *,
        name: str,
        runner: str,
        trains: bool,
        encoder: bool,
        uses_intermediate: bool,
        shares_intermediate: bool,
        shares_target: bool,
        draws_shots: bool,
        zero_shots: bool,
        per_language_phase: str | None,
        default_baseline: bool,
        loads_generator: bool,
        family: str,
        label_head: str,
    ) -> None:
        self.name = name
        self.runner = runner
        self.trains = trains
        self.encoder = encoder
        self.uses_intermediate = uses_intermediate
        self.shares_intermediate = shares_intermediate
        self.shares_target = shares_target
        self.draws_shots = draws_shots
        self.zero_shots = zero_shots
        self.per_language_phase = per_language_phase
        self.default_baseline = default_baseline
        self.loads_generator = loads_generator
        self.family = family
        self.label_head = label_head

    def __repr__(self) -> str:
        return f"Method({self.name!r})"


RUNNER_ENCODER = "xcost_tui.job.phases:PhaseRunner"

METHOD_TABLE: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            name="direct",
            runner=RUNNER_ENCODER,
            trains=True,
            encoder=True,
            uses_intermediate=False,
            shares_intermediate=False,
            shares_target=True,
            draws_shots=False,
            zero_shots=False,
            per_language_phase=None,
            default_baseline=True,
            loads_generator=False,
            family="direct",
            label_head="direct",
        ),
        Method(
            name="intermediate",
            runner=RUNNER_ENCODER,
            trains=True,
            encoder=True,
            uses_intermediate=True,
            shares_intermediate=True,
            shares_target=True,
            draws_shots=False,
            zero_shots=False,
            per_language_phase=None,
            default_baseline=False,
            loads_generator=False,
            family="intermediate",
            label_head="{chain}{target}",
        ),
        Method(
            name="few-shot",
            runner=RUNNER_ENCODER,
            trains=True,
            encoder=True,
            uses_intermediate=True,
            shares_intermediate=True,
            shares_target=True,
            draws_shots=True,
            zero_shots=False,
            per_language_phase="few-shot",
            default_baseline=False,
            loads_generator=False,
            family="few-shot",
            label_head="{chain}few-shot k={k}",
        ),
        Method(
            name="icl",
            runner="xcost_tui.job.icl:IclRunner",
            trains=False,
            encoder=False,
            uses_intermediate=False,
            shares_intermediate=False,
            shares_target=False,
            draws_shots=True,
            zero_shots=True,
            per_language_phase=None,
            default_baseline=False,
            loads_generator=True,
            family="icl",
            label_head="icl k={k}",
        ),
        Method(
            name="translate-test",
            runner="xcost_tui.job.translate:TranslateRunner",
            trains=True,
            encoder=True,
            uses_intermediate=True,
            shares_intermediate=False,
            shares_target=True,
            draws_shots=False,
            zero_shots=False,
            per_language_phase="translate",
            default_baseline=False,
            loads_generator=True,
            family="translate-test",
            label_head="translate-test",
        ),
    )
}

METHODS: tuple[str, ...] = tuple(METHOD_TABLE)
# Methods that fine-tune an encoder (everything but in-context learning with a causal LM).
ENCODER_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if m.encoder)
# Methods with no training phase: their training costs are zero, not unknown.
UNTRAINED_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if not m.trains)
# Methods that load a causal LM or an MT model in the spec's model_dtype.
GENERATOR_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if m.loads_generator)
# Methods that draw k target-language examples (few_shot_k and shot_seed apply).
SHOT_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if m.draws_shots)


def method(name: str) -> Method | None:
    """The table's entry for ``name``; None for an unknown method (the spec names the closest)."""
    return METHOD_TABLE.get(name)
