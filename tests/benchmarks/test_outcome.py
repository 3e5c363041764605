"""The outcome benchmark on a tab-separated file with a header, skewed classes and long texts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.review_sample import sample_reviews
from tests.conftest import SHARED_DATA

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "outcome.py"

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "crowd" / "d_sentiment").exists(),
                                reason="the real crowd in ../shared is absent")


def _skewed_tsv(tmp_path: Path) -> Path:
    sample = sample_reviews(1000, seed=5)
    positives = sample[sample["reviews.doRecommend"]].head(450)
    negatives = sample[~sample["reviews.doRecommend"]].head(50)  # 10% negatives, as real product reviews
    reviews = pd.concat([positives, negatives]).sample(frac=1, random_state=0)
    long_text = reviews.index[:20]
    reviews.loc[long_text, "reviews.text"] = reviews.loc[long_text, "reviews.text"] + " It came in a box." * 80
    path = tmp_path / "reviews.tsv"
    reviews.rename(columns={"reviews.text": "body", "reviews.doRecommend": "stars"}).replace(
        {"stars": {True: 5, False: 1}}).to_csv(path, sep="\t", index=False)
    return path


def test_outcome_on_a_skewed_tsv_accounts_for_every_answer(tmp_path: Path) -> None:
    path = _skewed_tsv(tmp_path)
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--reviews", str(path), "--text-column", "body", "--label-column", "stars",
         "--label-map", "5=pos,1=neg", "--target", "0.9", "--workers", "10", "--model-votes", "--adaptive", "--model-prior"],
        capture_output=True, text=True, timeout=600, check=True)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])

    assert figures["tasks"] + figures["golden"] == 500 and figures["golden"] == 100  # max(100, 10% of rows)
    assert figures["negative_share"] == pytest.approx(0.1, abs=0.02)  # the split kept the data's own shares
    manual = figures["tasks"] - round(figures["coverage"] * figures["tasks"])
    assert figures["human_answers"] == manual * 3  # overlap 3 on every item sent to people, nothing more
    assert figures["all_crowd_human_answers"] == figures["tasks"] * 3
    assert figures["human_share"] == pytest.approx(figures["human_answers"] / figures["all_crowd_human_answers"],
                                                   abs=1e-4)
    assert figures["meets_target"] == (figures["final_accuracy"] >= 0.9)
    assert figures["model"]["mode"] in {"zero-shot", "few-shot"}
    votes = figures["model_votes"]  # the same answers with the model as one more voter: no extra human answer
    assert votes["human_answers"] == figures["human_answers"] and votes["human_share"] == figures["human_share"]
    assert 0 <= votes["influenced"] <= manual and 0 <= votes["final_accuracy"] <= 1
    fixed, adaptive = figures["fixed"], figures["adaptive"]
    assert (fixed["human_answers"], fixed["final_accuracy"]) == (figures["human_answers"], figures["final_accuracy"])
    # Adaptive overlap from the model's label, same split and crowd: 2 to 5 answers on each item sent to people.
    assert adaptive["model_prior"] and 2 * manual <= adaptive["human_answers"] <= 5 * manual
    assert adaptive["model_votes"]["human_answers"] == adaptive["human_answers"]  # its vote is no human answer
    assert adaptive["human_share"] == pytest.approx(adaptive["human_answers"] / figures["all_crowd_human_answers"],
                                                    abs=1e-4)
    assert 0 <= adaptive["final_accuracy"] <= 1


def test_round_two_runs_under_its_own_stop_confidence_on_the_half_nobody_labelled(tmp_path: Path) -> None:
    path = _skewed_tsv(tmp_path)
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--reviews", str(path), "--text-column", "body", "--label-column", "stars",
         "--label-map", "5=pos,1=neg", "--target", "0.9", "--workers", "10", "--model-votes", "--adaptive",
         "--model-prior", "--min-answers", "1", "--stop-confidence", "0.88", "--round2-stop-confidence", "0.93",
         "--rounds", "2"],
        capture_output=True, text=True, timeout=600, check=True)
    figures = json.loads(completed.stdout.strip().splitlines()[-1])

    first, second, unchanged = figures["round1"], figures["round2"], figures["round2_without_retraining"]
    assert first["stop_confidence"] == 0.88
    assert second["stop_confidence"] == unchanged["stop_confidence"] == 0.93
    assert first["tasks"] + second["tasks"] == 400 and second["tasks"] == unchanged["tasks"]
    for figures_of_round in (first, second, unchanged):
        manual = figures_of_round["tasks"] - round(figures_of_round["coverage"] * figures_of_round["tasks"])
        assert manual <= figures_of_round["human_answers"] <= 5 * manual  # 1 to 5 answers per item sent to people
