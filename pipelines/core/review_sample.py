"""The project's own sample of product reviews, generated from templates written for this project, so a fresh
offline clone has something to run; the UI says it is generated (`SAMPLE_NOTE`)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pandas as pd

from pipelines.core.reviews import DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN, DatasetProblem

SAMPLE_NOTE = "Generated sample: product reviews made from templates written for this project, not real reviews."

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
# How long the reviewer has had it: beyond the 3,840 reviews opener, product, phrase and ending make, the sample
# goes on with this clause, up to `SAMPLE_MAX_REVIEWS`.
_USAGE = [f" Had it for {count} {unit}." for unit in ("days", "weeks", "months") for count in range(2, 13)]
_PLAIN_SIZES = (len(_OPENERS), len(_PRODUCTS), len(_GOOD), len(_GOOD_ENDINGS))
_PLAIN_PER_CLASS = int(np.prod(_PLAIN_SIZES))
SAMPLE_MAX_REVIEWS = 2 * _PLAIN_PER_CLASS * (1 + len(_USAGE))  # as many good as bad


def sample_reviews(n: int = 320, seed: int = 7) -> pd.DataFrame:
    """A balanced, generated set of `n` distinct product reviews in the seed dataset's columns.

    Up to 3,840 reviews are drawn from opener, product, phrase and ending; beyond that, the rest get a clause
    saying how long the reviewer has had the product, drawn without replacement so every one is new.

    Raises:
        DatasetProblem: `n` is more than the templates can make distinct (`SAMPLE_MAX_REVIEWS`).
    """
    if n > SAMPLE_MAX_REVIEWS:
        raise DatasetProblem(f"The generated sample holds at most {SAMPLE_MAX_REVIEWS} distinct reviews, "
                             f"not {n}: ask for fewer, or load a file of reviews.")
    rng = random.Random(seed)
    rows: dict[str, bool] = {}
    while len(rows) < min(n, 2 * _PLAIN_PER_CLASS):
        good = len(rows) % 2 == 0
        phrases, endings = (_GOOD, _GOOD_ENDINGS) if good else (_BAD, _BAD_ENDINGS)
        opener = rng.choice(_OPENERS).format(p=rng.choice(_PRODUCTS))
        rows.setdefault(f"{opener} {rng.choice(phrases)}.{rng.choice(endings)}", good)
    more = n - len(rows)
    if more > 0:
        generator = np.random.default_rng(seed)
        good = _with_usage(generator, -(-more // 2), _GOOD, _GOOD_ENDINGS)
        bad = _with_usage(generator, more // 2, _BAD, _BAD_ENDINGS)
        for pair in itertools.zip_longest(good, bad):
            rows.update((text, label) for text, label in zip(pair, (True, False)) if text is not None)
    return pd.DataFrame({DEFAULT_TEXT_COLUMN: list(rows), DEFAULT_LABEL_COLUMN: list(rows.values())})


def _with_usage(rng: np.random.Generator, n: int, phrases: list[str], endings: list[str]) -> list[str]:
    """`n` distinct reviews with a usage clause: combinations drawn without replacement, so each is new."""
    sizes = (*_PLAIN_SIZES, len(_USAGE))
    drawn = rng.choice(int(np.prod(sizes)), size=n, replace=False)
    return [f"{_OPENERS[o].format(p=_PRODUCTS[p])} {phrases[s]}.{endings[e]}{_USAGE[u]}"
            for o, p, s, e, u in zip(*np.unravel_index(drawn, sizes))]
