"""Review files shaped like the shared UCI ones (`sentence<TAB>score`, 1 = positive), skewed as real data often is."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.core.review_sample import sample_reviews


def skewed_reviews(n: int = 1000, negative_share: float = 0.1) -> pd.DataFrame:
    """`n` distinct reviews, `negative_share` of them negative, in the UCI files' columns (`sentence`, `score`).

    Texts hold commas, quoted words and, now and then, a stray opening quote, as the UCI files do.
    """
    negatives = round(n * negative_share)
    sample = sample_reviews(2 * n, seed=3)
    good = sample[sample["reviews.doRecommend"]]["reviews.text"].head(n - negatives)
    bad = sample[~sample["reviews.doRecommend"]]["reviews.text"].head(negatives)
    frame = pd.DataFrame({"sentence": pd.concat([good, bad]), "score": [1] * len(good) + [0] * len(bad)})
    frame = frame.sample(frac=1, random_state=5).reset_index(drop=True)
    frame["sentence"] = [_roughen(text, row) for row, text in enumerate(frame.sentence)]
    return frame


def _roughen(text: str, row: int) -> str:
    if row % 17 == 0:
        return f'" {text}  '  # a stray quote and trailing spaces, like imdb_labelled.txt
    if row % 5 == 0:
        return text.replace(" ", ', "honestly", ', 1)
    return text


def write_reviews(path: Path, frame: pd.DataFrame, separator: str = "\t", header: bool = True) -> Path:
    """Write reviews the way the UCI files are written: one per line, fields split by `separator`, no quoting."""
    lines = [separator.join(frame.columns)] if header else []
    lines += [separator.join(map(str, row)) for row in frame.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
