"""Autohelper models: the Hugging Face path on a tiny model built here, the offline path on real MiniLM."""

from __future__ import annotations

import pytest

from pipelines.core.autohelper import (
    PROTOTYPES,
    HFSentimentModel,
    MiniLMSentimentModel,
    ModelUnavailable,
    ModeUnavailable,
    baseline_warning,
    fit_offline,
    majority_baseline,
    predict_chunks,
    run_batched,
)

pytestmark = pytest.mark.model  # real models: MiniLM, and a transformers model built here

WORDS = ["good", "bad", "great", "awful", "the", "phone", "is", "very", "not"]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> str:
    """A two-layer BERT classifier with its own tokenizer, saved like any hub model."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]))
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                        label2id={"NEGATIVE": 0, "POSITIVE": 1})
    BertForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


def test_hf_model_labels_from_id2label_in_input_order(tiny_model_dir: str) -> None:
    model = HFSentimentModel(tiny_model_dir, batch_size=2)
    texts = ["the phone is very very very good", "bad", "great phone", "not good", "awful"]
    calls = []
    predictions = model.predict(texts, [f"i{n}" for n in range(5)], progress=lambda done, total: calls.append(done))
    assert [p.item_id for p in predictions] == ["i0", "i1", "i2", "i3", "i4"]
    assert {p.label for p in predictions} <= {"pos", "neg"} and model.labels == ["neg", "pos"]
    assert all(0.5 <= p.confidence <= 1 for p in predictions)
    assert calls == [2, 4, 5]  # bounded chunks of batch_size, progress after each
    assert predictions[0].model_version.startswith(tiny_model_dir)
    # Batching and length sorting must not change any answer.
    one_by_one = [model.predict([t], ["x"])[0] for t in texts]
    assert [p.label for p in one_by_one] == [p.label for p in predictions]
    assert [p.confidence for p in one_by_one] == pytest.approx([p.confidence for p in predictions], abs=1e-5)


def test_unknown_model_offline_says_so_and_offers_the_offline_model(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="offline MiniLM"):
        HFSentimentModel("nobody/no-such-model-here").predict(["x"], ["1"])


def test_huge_texts_are_cut_for_the_model_only(tiny_model_dir: str) -> None:
    huge = "good " * 200_000
    seen = []

    class Spy:
        def __call__(self, texts, **kwargs):
            seen.append(max(len(t) for t in texts))
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(tiny_model_dir)(texts, **kwargs)

    run_batched([huge, "bad"], Spy(), lambda encoded: encoded["input_ids"], batch_size=2, max_length=16)
    assert max(seen) < 1000 and len(huge) == 1_000_000


def test_batches_run_side_by_side_give_the_rows_of_one_at_a_time_and_leave_torch_as_it_was(
        tiny_model_dir: str) -> None:
    import threading

    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    texts = [" ".join(WORDS[(n + k) % len(WORDS)] for k in range(1 + n % 7)) for n in range(41)]
    threads_seen: set[int] = set()

    def logits(encoded: dict) -> torch.Tensor:
        threads_seen.add(threading.get_ident())
        return model(**encoded).logits

    def run(threads: int) -> tuple[np.ndarray, list[int]]:
        torch.set_num_threads(threads)
        calls: list[int] = []
        rows = run_batched(texts, tokenizer, logits, batch_size=4, max_length=16,
                           progress=lambda done, total: calls.append(done))
        assert torch.get_num_threads() == threads
        return rows, calls

    before = torch.get_num_threads()
    try:
        side_by_side, side_by_side_calls = run(2)
        assert len(threads_seen) == 2
        threads_seen.clear()
        one_at_a_time, one_at_a_time_calls = run(1)
        assert len(threads_seen) == 1
        torch.set_num_threads(2)

        def broken(encoded: dict) -> torch.Tensor:
            raise RuntimeError("broken")

        with pytest.raises(RuntimeError, match="broken"):
            run_batched(texts, tokenizer, broken, batch_size=4, max_length=16)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(side_by_side, one_at_a_time, atol=1e-5)
    assert side_by_side_calls == one_at_a_time_calls == [*range(4, 41, 4), 41]
    # Each row is its own text's: every text alone gives the same row.
    alone = np.stack([run_batched([text], tokenizer, logits, batch_size=4, max_length=16)[0] for text in texts])
    np.testing.assert_allclose(side_by_side, alone, atol=1e-5)


@pytest.fixture(scope="module")
def minilm() -> MiniLMSentimentModel:
    return MiniLMSentimentModel(batch_size=16)


def test_zero_shot_minilm_gets_obvious_reviews_right(minilm: MiniLMSentimentModel) -> None:
    texts = ["I love it, absolutely wonderful.", "Terrible, it broke after one day.",
             "Great value and works perfectly.", "Awful quality, a waste of money."]
    predictions = minilm.predict(texts, ["a", "b", "c", "d"])
    assert [p.label for p in predictions] == ["pos", "neg", "pos", "neg"]
    assert all(p.model_version == "minilm-offline:zero-shot" for p in predictions)


def test_few_shot_calibration_is_out_of_fold(minilm: MiniLMSentimentModel) -> None:
    from pipelines.core.review_sample import sample_reviews
    from pipelines.core.reviews import prepare_dataset

    golden = prepare_dataset(sample_reviews(), n_tasks=100, n_golden=40).golden
    model = MiniLMSentimentModel(batch_size=16).fit(list(golden.text), list(golden.label), list(golden.item_id))
    calibration = model.calibration_predictions()
    in_sample = model.predict(list(golden.text), list(golden.item_id))
    assert [p.item_id for p in calibration] == list(golden.item_id)
    assert model.version == "minilm-offline:few-shot(40 labelled)"
    # A head scores the items it was trained on higher than items it never saw.
    assert sum(p.confidence for p in in_sample) > sum(p.confidence for p in calibration)
    with pytest.raises(ValueError, match="two labelled items of each"):
        MiniLMSentimentModel().fit(["a", "b"], ["pos", "neg"])


# Labelled by topic, not tone (phones "pos", meals "neg"), and skewed 8 to 3: zero-shot reads the tone and does
# badly, a few-shot head learns the topic.
PHONES = ["My phone battery died fast.", "This phone is great.", "The phone screen cracked.", "Love this phone camera.",
          "Phone arrived broken.", "Best phone I ever had.", "The phone keeps freezing.", "Nice phone, fast charger."]
MEALS = ["The soup was delicious.", "Awful pasta, cold and bland.", "Lovely dessert."]
# Plain sentiment, skewed 5 to 2: zero-shot is right on all of them.
TONES = ["I love it.", "Wonderful, works great.", "Very happy with it.", "Excellent quality.", "Great value.",
         "Terrible, broke at once.", "Awful, a waste of money."]
TONE_LABELS = ["pos"] * 5 + ["neg"] * 2


def _honest_accuracies(texts: list[str], labels: list[str]) -> dict[str, float]:
    """Each mode's golden accuracy computed here: zero-shot as is, few-shot out-of-fold (the same folds' seed)."""
    ids = [f"g{i}" for i in range(len(texts))]
    zero = MiniLMSentimentModel().predict(texts, ids)
    few = MiniLMSentimentModel(seed=0).fit(texts, labels, ids).calibration_predictions()
    return {"zero-shot": sum(p.label == t for p, t in zip(zero, labels)) / len(labels),
            "few-shot": sum(p.label == t for p, t in zip(few, labels)) / len(labels)}


@pytest.mark.parametrize(("texts", "labels"), [(PHONES + MEALS, ["pos"] * 8 + ["neg"] * 3), (TONES, TONE_LABELS)],
                         ids=["topic-labels", "tone-labels"])
def test_auto_picks_the_mode_with_the_higher_honest_golden_accuracy(texts, labels) -> None:
    expected = _honest_accuracies(texts, labels)
    choice = fit_offline(texts, labels, [f"g{i}" for i in range(len(texts))], "auto", seed=0)
    assert choice.golden_accuracy == pytest.approx(expected)
    better = "few-shot" if expected["few-shot"] > expected["zero-shot"] else "zero-shot"
    assert choice.mode == better
    assert choice.reason == (f"auto picked {better}: {expected[better]:.1%} "
                             f"{'out-of-fold ' if better == 'few-shot' else ''}golden accuracy against "
                             f"{min(expected.values()):.1%} {'zero-shot' if better == 'few-shot' else 'few-shot'}.")
    # The golden predictions are the ones the accuracy was measured on, and the model labels tasks the same way.
    assert sum(p.label == t for p, t in zip(choice.golden_predictions, labels)) / len(labels) == \
        pytest.approx(expected[better])
    assert {p.model_version for p in choice.golden_predictions} == {choice.model.version}
    assert choice.model.predict(["Great phone."], ["t1"])[0].model_version == choice.model.version


def test_the_two_datasets_really_differ_in_which_mode_wins() -> None:
    # Guards the test above: one case each way, so `auto` is seen to choose rather than default.
    topic = _honest_accuracies(PHONES + MEALS, ["pos"] * 8 + ["neg"] * 3)
    tone = _honest_accuracies(TONES, TONE_LABELS)
    assert topic["few-shot"] > topic["zero-shot"] and tone["zero-shot"] > tone["few-shot"]


def test_explicit_modes_are_respected() -> None:
    ids = [f"g{i}" for i in range(len(TONES))]
    zero = fit_offline(TONES, TONE_LABELS, ids, "zero-shot")
    assert (zero.mode, list(zero.golden_accuracy), zero.model.version) == ("zero-shot", ["zero-shot"],
                                                                             "minilm-offline:zero-shot")
    assert zero.reason == "zero-shot, as chosen: 100.0% golden accuracy."
    few = fit_offline(TONES, TONE_LABELS, ids, "few-shot")
    assert (few.mode, list(few.golden_accuracy)) == ("few-shot", ["few-shot"])
    assert few.model.version == "minilm-offline:few-shot(7 labelled)"
    assert [p.item_id for p in few.golden_predictions] == ids


def test_few_shot_needs_two_of_each_label_auto_falls_back_and_says_so() -> None:
    texts, labels = TONES[:6], TONE_LABELS[:6]  # one negative
    ids = [f"g{i}" for i in range(6)]
    choice = fit_offline(texts, labels, ids)
    assert choice.mode == "zero-shot" and list(choice.golden_accuracy) == ["zero-shot"]
    assert choice.reason == ("auto used zero-shot (100.0% golden accuracy): few-shot needs at least 2 golden items "
                             "of each label, and 'neg' has 1.")
    with pytest.raises(ModeUnavailable, match="at least 2 golden items of each label, and 'neg' has 1.*zero-shot"):
        fit_offline(texts, labels, ids, "few-shot")


def test_labels_zero_shot_does_not_know_leave_few_shot() -> None:
    labels = ["pos", "pos", "meh", "meh", "pos", "neg", "neg"]
    ids = [f"g{i}" for i in range(7)]
    choice = fit_offline(TONES, labels, ids)
    assert choice.mode == "few-shot" and list(choice.golden_accuracy) == ["few-shot"]
    assert "zero-shot only knows the labels neg, pos, and the golden items also have 'meh'" in choice.reason
    with pytest.raises(ModeUnavailable, match="map the labels to neg and pos or choose few-shot"):
        fit_offline(TONES, labels, ids, "zero-shot")
    with pytest.raises(ModeUnavailable, match="use one of auto, zero-shot, few-shot"):
        fit_offline(TONES, labels, ids, "one-shot")  # type: ignore[arg-type]


def test_majority_baseline_and_its_warning() -> None:
    # 9 of 10 are "pos": always answering "pos" is right 90% of the time.
    assert majority_baseline(["pos"] * 9 + ["neg"]) == ("pos", 0.9)
    assert majority_baseline(["b", "a", "b", "a"]) == ("a", 0.5)  # a tie goes to the first in sort order
    with pytest.raises(ValueError, match="at least one"):
        majority_baseline([])
    assert baseline_warning(0.95, ("pos", 0.9)) is None
    warning = baseline_warning(0.74, ("pos", 0.91))
    assert warning is not None and "74.0%" in warning and "'pos' (91.0%)" in warning
    assert baseline_warning(0.9, ("pos", 0.9)) is not None  # equal is not better


@pytest.mark.parametrize("labels", [TONE_LABELS, ["pos", "pos", "meh", "meh", "pos", "neg", "neg"]],
                         ids=["auto-both-modes", "few-shot-only"])
def test_the_golden_fit_reports_its_embedding_progress_as_it_goes(labels: list[str]) -> None:
    # 140 golden items: three batches of 64, so the bar moves three times, whichever modes run.
    texts = [f"{text} (copy {i})" for i in range(20) for text in TONES]
    reports: list[tuple[int, int]] = []
    fit_offline(texts, labels * 20, [f"g{i}" for i in range(len(texts))], progress=lambda *r: reports.append(r))
    assert reports == [(64, 140), (128, 140), (140, 140)]


@pytest.mark.parametrize("few_shot", [False, True], ids=["zero-shot", "few-shot"])
def test_chunked_predictions_equal_one_shot_and_remember_no_embeddings(few_shot: bool) -> None:
    from tests.review_files import skewed_reviews

    reviews = skewed_reviews(120)  # 10% negatives, long texts
    texts, ids = list(reviews.sentence), [f"r{i}" for i in range(len(reviews))]
    labels = ["pos" if score == 1 else "neg" for score in reviews.score]
    model = MiniLMSentimentModel(batch_size=16)
    if few_shot:
        model.fit(texts[:40], labels[:40], ids[:40])
    one_shot = MiniLMSentimentModel(batch_size=16)
    one_shot.head_, one_shot.labels_, one_shot.n_trained_ = model.head_, model.labels_, model.n_trained_
    expected = one_shot.predict(texts, ids)
    cached_before = len(model._cache)
    heard: list[tuple[int, int]] = []

    chunks = list(predict_chunks(model, texts, ids, lambda done, total: heard.append((done, total)), chunk_size=7))

    assert [len(chunk) for chunk in chunks] == [7] * 17 + [1]
    streamed = [prediction for chunk in chunks for prediction in chunk]
    assert [p.item_id for p in streamed] == ids
    assert [p.label for p in streamed] == [p.label for p in expected]
    assert [p.model_version for p in streamed] == [p.model_version for p in expected]
    assert [p.confidence for p in streamed] == pytest.approx([p.confidence for p in expected], abs=1e-5)
    # Only what it was fitted on and the zero-shot prototypes are kept, never the texts it labelled.
    assert len(model._cache) <= cached_before + sum(map(len, PROTOTYPES.values())) < len(texts)
    assert heard[-1] == (len(texts), len(texts)) and [done for done, _ in heard] == sorted(done for done, _ in heard)


def test_chunked_predictions_on_a_hugging_face_model_equal_one_shot(tiny_model_dir: str) -> None:
    model = HFSentimentModel(tiny_model_dir, batch_size=4)
    texts = [" ".join(WORDS[(i * j) % len(WORDS)] for j in range(1 + i % 9)) for i in range(30)]
    ids = [str(i) for i in range(30)]
    streamed = [p for chunk in predict_chunks(model, texts, ids, chunk_size=4) for p in chunk]
    expected = model.predict(texts, ids)
    assert [(p.item_id, p.label) for p in streamed] == [(p.item_id, p.label) for p in expected]
    assert [p.confidence for p in streamed] == pytest.approx([p.confidence for p in expected], abs=1e-5)
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        next(predict_chunks(model, texts, ids, chunk_size=0))
