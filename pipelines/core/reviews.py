"""Review datasets for the autohelper: load a CSV, clean it, and split it into tasks and golden items.

The project's own sample (`sample_reviews`) is generated from templates written for this project, so a fresh
offline clone has something to run; the UI says it is generated.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

DEFAULT_TEXT_COLUMN = "reviews.text"
DEFAULT_LABEL_COLUMN = "reviews.doRecommend"
DEFAULT_LABEL_MAP: dict[Any, str] = {True: "pos", False: "neg", "True": "pos", "False": "neg", "true": "pos",
                                     "false": "neg", 1: "pos", 0: "neg", "1": "pos", "0": "neg"}
SAMPLE_NOTE = "Generated sample: product reviews made from templates written for this project, not real reviews."


class DatasetProblem(ValueError):
    """A dataset the autohelper cannot use; the message says what to change."""


class DatasetUnavailable(DatasetProblem):
    """The dataset could not be read from where it was asked for."""


@dataclass(frozen=True)
class PreparedDataset:
    """Tasks for the model (and later people) and golden items with known labels."""

    tasks: pd.DataFrame  # item_id, text, label (the true label when the CSV has one, else missing)
    golden: pd.DataFrame  # item_id, text, label
    report: dict[str, int]


_PRODUCTS = ["blender", "headphones", "paperback", "winter jacket", "board game", "coffee maker", "phone case",
             "desk lamp", "running shoes", "backpack", "kettle", "tablet"]
_GOOD = ["works exactly as described", "is sturdy and well made", "was worth every penny",
         "arrived early and in perfect shape", "exceeded my expectations", "is a joy to use every day",
         "still looks new after months", "was a great gift for my sister"]
_BAD = ["stopped working after a week", "feels cheap and flimsy", "was a waste of money",
        "arrived broken and support never replied", "is much smaller than the photos suggest",
        "makes an awful noise", "fell apart after two uses", "smells of plastic and never stops"]
_OPENERS = ["Honestly, this {p}", "The {p}", "Our new {p}", "This {p} I ordered", "My {p}"]
_GOOD_ENDINGS = ["", " I would buy it again.", " Recommended.", " Five stars from me."]
_BAD_ENDINGS = ["", " I am returning it.", " Avoid.", " Not recommended."]


def sample_reviews(n: int = 320, seed: int = 7) -> pd.DataFrame:
    """A balanced, generated set of distinct product reviews in the seed dataset's columns."""
    rng = random.Random(seed)
    rows: dict[str, bool] = {}
    while len(rows) < n:
        good = len(rows) % 2 == 0
        phrases, endings = (_GOOD, _GOOD_ENDINGS) if good else (_BAD, _BAD_ENDINGS)
        opener = rng.choice(_OPENERS).format(p=rng.choice(_PRODUCTS))
        rows.setdefault(f"{opener} {rng.choice(phrases)}.{rng.choice(endings)}", good)
    return pd.DataFrame({DEFAULT_TEXT_COLUMN: list(rows), DEFAULT_LABEL_COLUMN: list(rows.values())})


def load_reviews(source: str | Path | bytes) -> pd.DataFrame:
    """Read a CSV from a path, an http(s) URL or uploaded bytes."""
    try:
        if isinstance(source, bytes):
            return pd.read_csv(io.BytesIO(source))
        if str(source).startswith(("http://", "https://")):
            response = httpx.get(str(source), timeout=30, follow_redirects=True)
            response.raise_for_status()
            return pd.read_csv(io.BytesIO(response.content))
        return pd.read_csv(source)
    except httpx.HTTPError as exc:
        raise DatasetUnavailable(f"Could not download {source}: {exc}.") from exc
    except FileNotFoundError as exc:
        raise DatasetUnavailable(f"No file at {source}.") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetUnavailable(f"{source if not isinstance(source, bytes) else 'The upload'} is not a "
                                 f"readable CSV: {exc}.") from exc


def prepare_dataset(
    frame: pd.DataFrame,
    text_column: str = DEFAULT_TEXT_COLUMN,
    label_column: str = DEFAULT_LABEL_COLUMN,
    label_map: Mapping[Any, str] | None = None,
    n_tasks: int = 200,
    n_golden: int = 20,
    seed: int = 0,
) -> PreparedDataset:
    """Drop empty texts, de-duplicate, and split with a seeded, class-balanced draw."""
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DatasetProblem(f"Column(s) {', '.join(map(repr, missing))} not found. The file has: "
                             f"{', '.join(map(str, frame.columns))}.")
    texts = frame[text_column]
    non_text = [value for value in texts.dropna() if not isinstance(value, str)]
    if non_text:
        raise DatasetProblem(f"Column {text_column!r} holds non-text values (e.g. {non_text[0]!r}); pick the "
                             "column with the review text.")
    # Keys are matched as written in the file, so "True", True and 1 all work as the mapping's keys.
    mapping = {str(key): value for key, value in (label_map or DEFAULT_LABEL_MAP).items()}
    labels = frame[label_column].map(lambda value: mapping.get(str(value)) if pd.notna(value) else None)
    data = pd.DataFrame({"text": texts.fillna("").str.strip(), "label": labels})
    report = {"rows": len(data), "empty_texts": int((data.text == "").sum())}
    data = data[data.text != ""]
    before = len(data)
    data = data.drop_duplicates("text")
    report["duplicates"] = before - len(data)
    report["unlabelled"] = int(data.label.isna().sum())
    if data.empty:
        raise DatasetProblem("Nothing is left after dropping empty texts and duplicates.")
    if len(data) < n_tasks + n_golden:
        raise DatasetProblem(f"Only {len(data)} usable reviews, fewer than the {n_tasks} tasks + {n_golden} golden "
                             "items asked for. Ask for fewer.")
    labelled = data.dropna(subset=["label"])
    if labelled.label.nunique() < 2:
        raise DatasetProblem("The golden set would hold a single class: the label column needs both labels "
                             f"(values seen: {', '.join(map(str, frame[label_column].dropna().unique()[:5]))}).")
    golden = _balanced_draw(labelled, n_golden, seed)
    rest = data.drop(golden.index)
    tasks = _balanced_draw(rest.dropna(subset=["label"]), n_tasks, seed) if rest.label.notna().all() else \
        rest.sample(n=n_tasks, random_state=seed)
    ids = {index: f"r{index}" for index in data.index}
    return PreparedDataset(
        tasks=tasks.assign(item_id=tasks.index.map(ids))[["item_id", "text", "label"]].reset_index(drop=True),
        golden=golden.assign(item_id=golden.index.map(ids))[["item_id", "text", "label"]].reset_index(drop=True),
        report=report,
    )


def _balanced_draw(data: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """`n` rows with the classes as equal as the data allows, seeded."""
    groups = {label: rows.sample(frac=1, random_state=seed) for label, rows in data.groupby("label")}
    per_class = {label: 0 for label in groups}
    order = itertools.cycle(sorted(groups))
    while sum(per_class.values()) < n:
        label = next(order)
        if per_class[label] < len(groups[label]):
            per_class[label] += 1
        elif all(per_class[k] >= len(groups[k]) for k in groups):
            break
    picked = pd.concat([groups[label].head(count) for label, count in per_class.items()])
    return picked.sample(frac=1, random_state=seed)


def parse_label_map(text: str) -> dict[str, str]:
    """Read a mapping written as `True=pos, False=neg`."""
    mapping = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DatasetProblem(f"Label mapping {pair!r} should look like `value=label`, e.g. `True=pos, False=neg`.")
        mapping[key.strip()] = value.strip()
    if len(set(mapping.values())) < 2:
        raise DatasetProblem("The label mapping needs at least two labels, e.g. `True=pos, False=neg`.")
    return mapping
