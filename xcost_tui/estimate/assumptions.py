"""What a forecast assumes where it cannot measure: split sizes when a data set cannot be loaded,
and a sequence length per task when the data set or the run's tokenizer cannot be reached.

Every row built on these is marked ``assumed`` in the forecast, with what to run where the hub
can be reached to replace it with measured lengths (``ONLINE_HINT``). Torch-free plain data.

Split sizes are the published row counts of each data set (the hub's dataset cards and the
papers; the URL per task is in ``SPLIT_SOURCES``). Rows of a split that has no labels (a
benchmark's hidden test set) are counted as the loader would read them.

Lengths are tokens of one sequence as the job encodes it (``job/batching.py``: context and one
choice, or both sides of a pair, with XLM-R's special tokens), for XLM-R's SentencePiece
vocabulary: a typical value from the texts' usual size (about 1.3 tokens per English word), not
measured here. Each is capped by the run's ``max_seq_len``.
"""

from __future__ import annotations

# task -> canonical split -> rows (ANLI: rounds 1-3 together, as the registry reads them)
SPLIT_ROWS: dict[str, dict[str, int]] = {
    "copa": {"train": 400, "validation": 100, "test": 500},
    "xcopa": {"validation": 100, "test": 500},  # per language
    "siqa": {"train": 33_410, "validation": 1_954},
    "hellaswag": {"train": 39_905, "validation": 10_042, "test": 10_003},
    "commonsenseqa": {"train": 9_741, "validation": 1_221, "test": 1_140},
    "cosmosqa": {"train": 25_262, "validation": 2_985, "test": 6_963},
    "arc_challenge": {"train": 1_119, "validation": 299, "test": 1_172},
    "mnli": {"train": 392_702, "validation": 9_815, "test": 9_796},
    "anli": {"train": 162_865, "validation": 3_200, "test": 3_200},
    "qqp": {"train": 363_846, "validation": 40_430, "test": 390_965},
    "sst2": {"train": 67_349, "validation": 872, "test": 1_821},
    "rte": {"train": 2_490, "validation": 277, "test": 3_000},
    "snli": {"train": 549_367, "validation": 9_842, "test": 9_824},  # label -1 rows dropped
    "anli_plus": {"train": 162_865 + 392_702 + 549_367, "validation": 3_200},
    "squad": {"train": 87_599, "validation": 10_570},
    "squad_v2": {"train": 130_319, "validation": 11_873},
}

SPLIT_SOURCES: dict[str, str] = {
    "copa": "https://huggingface.co/datasets/aps/super_glue (copa: 400 / 100 / 500)",
    "xcopa": "https://huggingface.co/datasets/cambridgeltl/xcopa (100 validation, 500 test per language)",
    "siqa": "Sap et al. (2019), Social IQa, Table 1 (33,410 / 1,954); https://huggingface.co/datasets/lighteval/siqa",
    "hellaswag": "https://huggingface.co/datasets/Rowan/hellaswag (39,905 / 10,042 / 10,003)",
    "commonsenseqa": "https://huggingface.co/datasets/tau/commonsense_qa (9,741 / 1,221 / 1,140)",
    "cosmosqa": "https://huggingface.co/datasets/allenai/cosmos_qa (25,262 / 2,985 / 6,963)",
    "arc_challenge": "https://huggingface.co/datasets/allenai/ai2_arc (ARC-Challenge: 1,119 / 299 / 1,172)",
    "mnli": "https://huggingface.co/datasets/nyu-mll/glue (mnli: 392,702 / 9,815 matched / 9,796 matched)",
    "anli": "https://huggingface.co/datasets/facebook/anli (r1 16,946 + r2 45,460 + r3 100,459; dev and test "
    "1,000 + 1,000 + 1,200)",
    "qqp": "https://huggingface.co/datasets/nyu-mll/glue (qqp: 363,846 / 40,430 / 390,965)",
    "sst2": "https://huggingface.co/datasets/nyu-mll/glue (sst2: 67,349 / 872 / 1,821)",
    "rte": "https://huggingface.co/datasets/aps/super_glue (rte: 2,490 / 277 / 3,000)",
    "snli": "https://huggingface.co/datasets/stanfordnlp/snli (550,152 / 10,000 / 10,000 rows; less the rows of label "
    "-1, dropped: 549,367 / 9,842 / 9,824, the counts usually reported, not recounted here)",
    "anli_plus": "the sum of its parts: anli + mnli + snli training rows; validation: anli's r1-r3 dev sets",
    "squad": "https://huggingface.co/datasets/rajpurkar/squad (87,599 / 10,570)",
    "squad_v2": "https://huggingface.co/datasets/rajpurkar/squad_v2 (130,319 / 11,873)",
}

# task -> typical tokens of one sequence (context + one choice, or a pair), XLM-R's tokenizer.
ASSUMED_TOKENS: dict[str, int] = {
    "copa": 20,  # a one-clause premise, the cause/effect connector and a one-clause choice
    "xcopa": 24,  # the same items translated; other scripts take a few more pieces
    "siqa": 45,  # a context sentence, a question and a short answer
    "hellaswag": 90,  # a caption-length context and a one-sentence ending
    "commonsenseqa": 25,  # a question and a one- or two-word choice
    "cosmosqa": 130,  # a short paragraph, a question and a sentence answer
    "arc_challenge": 40,  # a science question and a phrase answer
    "mnli": 45,  # premise and hypothesis sentences
    "anli": 100,  # a paragraph premise and a hypothesis sentence
    "qqp": 35,  # two questions
    "sst2": 15,  # a movie-review phrase (train) or sentence
    "rte": 75,  # a news paragraph premise and a hypothesis
    "snli": 30,  # two caption sentences
    "anli_plus": 45,  # mostly MNLI and SNLI pairs (ANLI's paragraphs are 15% of the rows)
    # a question and a Wikipedia paragraph of about 120 words; one window per question is assumed
    # (a paragraph longer than max_seq_len makes more: measured where the data can be read)
    "squad": 180,
    "squad_v2": 180,
}
ASSUMED_CHOICES: dict[str, int] = {  # choices per example of multiple-choice tasks (classification: 1 sequence)
    "copa": 2,
    "xcopa": 2,
    "siqa": 3,
    "hellaswag": 4,
    "commonsenseqa": 5,
    "cosmosqa": 4,
    "arc_challenge": 4,
}


def split_rows(task: str, split: str) -> int | None:
    return SPLIT_ROWS.get(task, {}).get(split)


def assumed_length(task: str, max_seq_len: int) -> int:
    return max(1, min(int(ASSUMED_TOKENS.get(task, 64)), int(max_seq_len)))


def assumed_choices(task: str) -> int:
    return ASSUMED_CHOICES.get(task, 1)


def online_hint(plan_label: str) -> str:
    """What to run where the hub can be reached so the assumed rows become measured ones."""
    return (
        f"run `xcost-tui plan estimate {plan_label}` on a machine that can reach the Hugging Face hub (or "
        f"with --data-dir for the data sets that have local copies, and the model's tokenizer in the local "
        f"Hugging Face cache): the rows marked assumed are then counted from the real token lengths"
    )
