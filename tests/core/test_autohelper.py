"""Autohelper models: the Hugging Face path on a tiny model built here, the offline path on real MiniLM."""

from __future__ import annotations

import pytest

from pipelines.core.autohelper import HFSentimentModel, MiniLMSentimentModel, ModelUnavailable, run_batched

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
    from pipelines.core.reviews import prepare_dataset, sample_reviews

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
