"""Class labels as the prepare stage reads them: counts per split, warnings a person can act on, and
the opt-in normalisation (`tasks.<task>.normalize_labels`).

A CSV whose label column holds ` billing`, `Billing` and `billing` has three classes to the model,
one to its author; and a class with fewer than 2 training examples is learnt from one example, or
never. Both are warned about rather than refused: either can be intended.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from prefixes.data.example import Example

MIN_TRAINING_EXAMPLES = 2
SHOWN_CLASSES = 12
"""Classes named in a split's count line; more are summed up, so the line stays one line."""


def normal_label(label: str) -> str:
    """The label stripped of surrounding whitespace and case-folded."""
    return label.strip().casefold()


def normalize_labels(examples: list[Example]) -> list[Example]:
    """Every example with its label in normal form (`normal_label`): ` Billing` and `billing` become one class."""
    return [example if example.label is None else replace(example, label=normal_label(str(example.label)))
            for example in examples]


def class_counts(examples: list[Example]) -> Counter[str]:
    return Counter(str(example.label) for example in examples if example.label is not None)


def class_count_lines(task_name: str, splits: dict[str, list[Example]]) -> list[str]:
    """One line per split, e.g. `bbc_news train: 480 examples; business 110, sport 120, tech 90`."""
    lines = []
    for split, examples in splits.items():
        counts = sorted(class_counts(examples).items())
        shown = ", ".join(f"{label!r} {count}" for label, count in counts[:SHOWN_CLASSES])
        rest = counts[SHOWN_CLASSES:]
        if rest:
            shown += f" and {len(rest)} more classes ({sum(count for _, count in rest)} examples)"
        lines.append(f"{task_name} {split}: {len(examples)} examples; {shown}")
    return lines


def label_warnings(task_name: str, splits: dict[str, list[Example]]) -> list[str]:
    """Labels that differ only by case or surrounding whitespace, and classes with fewer than
    MIN_TRAINING_EXAMPLES training examples; each warning names the task's setting or the fix."""
    labels = sorted(set().union(*(class_counts(examples) for examples in splits.values())))
    variants: dict[str, list[str]] = {}
    for label in labels:
        variants.setdefault(normal_label(label), []).append(label)
    warnings = [f"tasks.{task_name}: labels {', '.join(map(repr, spelled))} differ only by case or surrounding "
                f"whitespace and are {len(spelled)} classes: clean the data, or set "
                f"tasks.{task_name}.normalize_labels: true to merge them"
                for spelled in variants.values() if len(spelled) > 1]
    training = class_counts(splits["train"])
    rare = [f"{label!r} ({training[label]})" for label in labels if training[label] < MIN_TRAINING_EXAMPLES]
    if rare:
        classes = f"classes {', '.join(rare)} have" if len(rare) > 1 else f"class {rare[0]} has"
        warnings.append(f"tasks.{task_name}: {classes} fewer than {MIN_TRAINING_EXAMPLES} training examples, too few "
                        "to learn: add examples, or merge it into another class")
    return warnings
