"""End to end at scale: n reviews through the autohelper and crowd-loop deployments, against the core alone.

The flow part drives a fresh embedded backend through `dashboard.gateway` the way the pages do: start the
autohelper on a review file, watch it as often as its page does (the run and its artifacts), confirm
the threshold the form proposes as soon as it asks, then start the crowd loop with a simulated crowd (10
workers, 20% spammers, overlap 3, Dawid-Skene) and watch it to completion. The direct part does the same work
with the core in a fresh process of its own: read and split, fit the offline model on the golden items, predict the
tasks, the seed-rule threshold, simulated answers, aggregation, the final table. `overhead_share` is
(flow - direct) / flow: what orchestration, storage and publishing cost on top of the work.

The benchmark looks at the runs only as often as a watching page does (each second, every three seconds once a run
has gone on for half a minute, every five after two minutes), so its own polling adds no load a page would not.
Stage boundaries come from the runs' state history on the server, not from when the benchmark noticed them; the flow
wall leaves out the time a run waited for the benchmark to notice its pause and answer, and to start the crowd loop
after the autohelper completed (`person_s`: a person's time, at most a refresh each here, reported apart).

Inference dominates both sides and its wall moves with whatever else the machine runs, so `--repeats K` measures
K pairs, alternating which side goes first (each flow part on a fresh backend and data folder, each direct part in a
fresh process), and reports the medians with every pair; `overhead_share` is the median of the pairs' shares, each
pair's two sides having run minutes apart under the same conditions. An untimed direct part on a few reviews comes
first, so that reading torch and the model from a cold disk cache falls on neither side of the first pair.
`cpu_s` counts the CPU seconds each side's processes used (for the flow part: the server, the runner, its fork
server and the flow runs' processes, and this process watching), which says where the flow's extra time goes.

Reviews are generated (`sample_reviews(n)`), or with `--shared` drawn from the shared sentences (repeated with
a numbered suffix when n is larger). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from pipelines.core.review_sample import sample_reviews  # noqa: E402
from pipelines.core.reviews import DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN  # noqa: E402

CROWD = {"crowd": "simulated", "method": "DawidSkene", "overlap": 3}
WARM_UP_REVIEWS = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reviews(n: int, shared: bool) -> pd.DataFrame:
    """n distinct labelled reviews in the seed dataset's columns."""
    if not shared:
        return sample_reviews(n)
    from _shared_reviews import shared_reviews

    data = shared_reviews()
    if data is None:
        raise SystemExit("--shared needs ../shared/data/reviews, which is absent.")
    texts, labels = data.iloc[:, 0].astype(str).str.strip(), data.iloc[:, 1].astype(int) == 1
    data = pd.DataFrame({DEFAULT_TEXT_COLUMN: texts, DEFAULT_LABEL_COLUMN: labels}).drop_duplicates(DEFAULT_TEXT_COLUMN)
    copies = -(-n // len(data))
    repeated = pd.concat([data.assign(**{DEFAULT_TEXT_COLUMN: data[DEFAULT_TEXT_COLUMN] + (f" ({copy})" if copy else "")})
                          for copy in range(copies)], ignore_index=True)
    return repeated.sample(n=n, random_state=0, ignore_index=True)


# Which part of the backend a process is, by its command line; this process is the watching page.
ROLES = {"prefect server start": "server", "pipelines.serve": "runner", "multiprocessing.forkserver": "flow_runs",
         "prefect.engine": "flow_runs"}


class TreeUsage:
    """Sampled each half second: the peak resident memory of any one process below this one (flow runs included),
    and the CPU seconds this process and every process below it have used, by role (`ROLES`; each process as last
    seen, so one that exits between two samples loses at most its last half second).

    The sampling itself is no role: its thread's CPU (`sampler_cpu_s`) is left out of this process's, and each
    direct part runs under a sampler too, so that it falls on both sides alike."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self.sampler_cpu_s = 0.0
        self._cpu_s: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_each_half_second, daemon=True)

    def __enter__(self) -> TreeUsage:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by the tree, by role, every process seen included."""
        self.sample()
        by_role: dict[str, float] = {}
        with self._lock:
            for role, seconds in self._cpu_s.values():
                by_role[role] = by_role.get(role, 0.0) + seconds
        return by_role

    def sample(self) -> None:
        with self._lock:
            for pid, cpu_s in _descendants(os.getpid()).items():
                self.peak_kb = max(self.peak_kb, _status_kb(pid, "VmHWM"))
                role, seconds = self._cpu_s.get(pid) or (_role(pid), 0.0)
                self._cpu_s[pid] = (role, max(seconds, cpu_s))
            self._cpu_s[os.getpid()] = ("page", time.process_time() - self.sampler_cpu_s)

    def _sample_each_half_second(self) -> None:
        while not self._stop.wait(0.5):
            started = time.thread_time()
            self.sample()
            self.sampler_cpu_s += time.thread_time() - started


def _role(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    return next((role for marker, role in ROLES.items() if marker in command), "other")


def _descendants(root: int) -> dict[int, float]:
    """Every process below `root`, with the user and system CPU seconds it has used, found through each thread's
    `children` file (a few reads, where scanning all of /proc took 6 ms a sample)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        try:
            threads = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:  # exited since its parent listed it
            continue
        for thread in threads:
            try:
                children = [int(pid) for pid in (thread / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                try:
                    fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                found[child] = (int(fields[11]) + int(fields[12])) / tick
                frontier.append(child)
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Stages:
    """Named wall-clock stages, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 2)


def _watch_until(gateway: Any, run_id: Any, done: Callable[[Any], bool], counter: dict[str, float]) -> Any:
    """Redraw a watching page as often as `components.live_until_settled` does (the run and its artifacts, as it
    reads them) until `done(summary)`; count its gateway calls."""
    from dashboard.ui.components import refresh_seconds

    while True:
        started = time.perf_counter()
        summary = gateway.run(run_id)
        counter["calls"] += 1
        if done(summary):
            return summary
        if summary.status in {"failed", "crashed", "cancelled"}:
            raise SystemExit(f"Run {run_id} {summary.status}: {summary.message}")
        gateway.artifacts(run_id)
        counter["calls"] += 1
        counter["watch_s"] += time.perf_counter() - started
        time.sleep(refresh_seconds(summary.created, datetime.now(timezone.utc)))


def _state_times(api_url: str, run_id: Any) -> list[tuple[str, datetime]]:
    """The run's states (type, when it was set), oldest first."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api_url) as client:
        states = client.read_flow_run_states(run_id)
    return sorted(((state.type.value, state.timestamp) for state in states), key=lambda state: state[1])


def _first(states: list[tuple[str, datetime]], kind: str, after: datetime) -> datetime:
    found = [when for state, when in states if state == kind and when >= after]
    if not found:
        raise SystemExit(f"No {kind} state after {after} among {states}")
    return found[0]


def _wait_for_deployments(api_url: str, names: list[str], timeout_s: float = 120) -> None:
    """Until the runner polls for the deployments' runs: a backend just started is still starting its runner, which
    a person opening the dashboard later never waits for. The server marks a deployment polled when it is asked for
    its scheduled runs."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout_s
    with SyncPrefectClient(api_url) as client:
        for name in names:
            while True:
                try:
                    if client.read_deployment_by_name(name).last_polled is not None:
                        break
                except ObjectNotFound:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"The runner did not poll for {name} within {timeout_s:.0f} s.")
                time.sleep(0.5)


def through_flows(gateway: Any, dataset: Path, stages: Stages) -> dict[str, Any]:
    """The pages' path: autohelper, threshold confirmed once seen, simulated crowd loop; stage seconds from the
    runs' state history."""
    from dashboard.ui.components import QUICK_REFRESH_S
    from pipelines.catalog import AUTOHELPER, CROWD_LOOP

    counter = {"calls": 0, "watch_s": 0.0}
    started = datetime.now(timezone.utc)
    run_id = gateway.start_run(AUTOHELPER, {"dataset": str(dataset)})
    _watch_until(gateway, run_id, lambda s: s.status == "paused", counter)
    while (pending := gateway.pending_input(run_id)) is None:
        time.sleep(QUICK_REFRESH_S)
    threshold = pending.schema["properties"]["threshold"]["default"]
    answered = datetime.now(timezone.utc)
    gateway.resume(run_id, {"threshold": threshold})
    autohelper = _watch_until(gateway, run_id, lambda s: s.status == "completed", counter)
    crowd_started = datetime.now(timezone.utc)
    crowd_id = gateway.start_run(CROWD_LOOP, {"autohelper_run_id": str(autohelper.id), **CROWD})
    _watch_until(gateway, crowd_id, lambda s: s.status == "completed", counter)
    outcome = gateway.result(crowd_id)

    states = _state_times(gateway.api_url(), run_id)
    running, paused = _first(states, "RUNNING", started), _first(states, "PAUSED", started)
    completed = _first(states, "COMPLETED", answered)
    crowd_states = _state_times(gateway.api_url(), crowd_id)
    crowd_running, crowd_completed = (_first(crowd_states, "RUNNING", crowd_started),
                                      _first(crowd_states, "COMPLETED", crowd_started))
    seconds = {"flow_autohelper_until_running": running - started,
               "flow_autohelper_until_threshold_asked": paused - running,
               "flow_autohelper_threshold_to_completed": completed - answered,
               "flow_crowd_until_running": crowd_running - crowd_started,
               "flow_crowd_to_completed": crowd_completed - crowd_running}
    stages.seconds.update({name: round(span.total_seconds(), 2) for name, span in seconds.items()})
    # Of each wait for Running, the part before the runner took the run up (its polling), the rest its process start.
    until_pending = {"autohelper": _first(states, "PENDING", started) - started,
                     "crowd": _first(crowd_states, "PENDING", crowd_started) - crowd_started}
    person = (answered - paused) + (crowd_started - completed)
    return {"wall_s": sum(span.total_seconds() for span in seconds.values()),
            "person_s": round(person.total_seconds(), 2), "threshold": threshold, "answers": outcome["answers"],
            "items": outcome["items"], "gateway_calls": int(counter["calls"]),
            "until_pending_s": {name: round(span.total_seconds(), 2) for name, span in until_pending.items()},
            "page_watch_s": round(counter["watch_s"], 2)}


def direct(dataset: Path, stages: Stages) -> dict[str, Any]:
    """The same work with the core in this process, answers kept in memory."""
    from pipelines.core.aggregation import AggregationMethod
    from pipelines.core.autohelper import fit_offline, predict_chunks
    from pipelines.core.autohelper_store import predictions_frame
    from pipelines.core.crowd import final_table_from_answers
    from pipelines.core.review_files import load_reviews
    from pipelines.core.reviews import prepare_dataset
    from pipelines.core.simulated_crowd import SimulatedCrowd
    from pipelines.core.threshold import seed_threshold, split_at_threshold

    with stages("direct_prepare"):
        prepared = prepare_dataset(load_reviews(dataset))
    golden, tasks = prepared.golden, prepared.tasks
    with stages("direct_golden_fit"):
        choice = fit_offline(list(golden.text), list(golden.label), list(golden.item_id), "auto")
    with stages("direct_predict_tasks"):
        # In chunks, as the flow labels them, so neither side holds every embedding at once.
        task_predictions = [prediction for chunk in predict_chunks(choice.model, list(tasks.text),
                                                                    list(tasks.item_id)) for prediction in chunk]
    with stages("direct_threshold_and_split"):
        golden_frame = predictions_frame(choice.golden_predictions, golden, "golden")
        task_frame = predictions_frame(task_predictions, tasks, "task")
        threshold = round(seed_threshold(golden_frame.confidence.to_numpy(), golden_frame.correct.to_numpy()), 3)
        accepted, manual = split_at_threshold(task_frame, threshold)
    with stages("direct_crowd_and_aggregate"):
        items = manual.rename(columns={"item_id": "task", "label": "model_label"})
        truth = pd.concat([items.set_index("task").true_label, golden.set_index("item_id").label])
        answers = SimulatedCrowd(n_workers=10, spammer_share=0.2, seed=0).answer(
            truth, sorted(golden.label.unique()), CROWD["overlap"])
        method: AggregationMethod = CROWD["method"]  # type: ignore[assignment]
        table, _ = final_table_from_answers(accepted, items, answers, method, simulated=True)
    return {"threshold": threshold, "answers": len(answers), "items": len(table)}


def flow_part(dataset: Path) -> dict[str, Any]:
    """One flow measurement on a fresh embedded backend, in a data folder and on a port of its own; its clock starts
    once the runner polls for the deployments."""
    from dashboard import gateway
    from pipelines.backend import stop_backend
    from pipelines.catalog import AUTOHELPER, CROWD_LOOP
    from pipelines.core.settings import get_settings

    data_dir = Path(tempfile.mkdtemp(prefix="hitl-e2e-"))
    uploaded = data_dir / "uploads" / dataset.name
    uploaded.parent.mkdir(parents=True)
    shutil.copyfile(dataset, uploaded)
    os.environ.update(HITL_DATA_DIR=str(data_dir), HITL_SERVER_PORT=str(_free_port()))
    get_settings.cache_clear()
    stages = Stages()
    started = time.perf_counter()
    gateway.connect()
    startup_s = time.perf_counter() - started
    try:
        _wait_for_deployments(gateway.api_url(), [AUTOHELPER, CROWD_LOOP])
        with TreeUsage() as usage:
            cpu_before = usage.cpu_s()
            flows = through_flows(gateway, uploaded, stages)
            cpu_by_role = {role: seconds - cpu_before.get(role, 0.0) for role, seconds in usage.cpu_s().items()}
    finally:
        stop_backend()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"wall_s": flows.pop("wall_s"), "cpu_s": sum(cpu_by_role.values()), "cpu_by_role_s": cpu_by_role,
            "stages": stages.seconds, "flows": flows,
            "backend_startup_s": startup_s, "peak_rss_kb": usage.peak_kb}


def direct_part(dataset: Path) -> dict[str, Any]:
    """One direct measurement, in a fresh process: each imports torch and transformers inside its clock, as each flow
    run does (its fork server preloads neither), not only the first."""
    with TreeUsage():  # sampled as each flow part is, so that the sampling costs both sides alike
        completed = subprocess.run([sys.executable, __file__, "--direct-part", str(dataset)], capture_output=True,
                                   text=True, check=False)
    if completed.returncode:
        raise SystemExit(f"The direct part failed:\n{completed.stderr}")
    return json.loads(completed.stdout)


def _direct_part_here(dataset: Path) -> None:
    """The direct part's own process: the work, timed, and its figures as one JSON line."""
    stages = Stages()
    started, cpu_before = time.perf_counter(), time.process_time()
    core = direct(dataset, stages)
    print(json.dumps({"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_before,
                      "stages": stages.seconds, "direct": core,
                      "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _share(flow_s: float, direct_s: float) -> float:
    """What share of the flow's time is on top of the same work done directly."""
    return (flow_s - direct_s) / flow_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="reviews (10%% golden, at least 100)")
    parser.add_argument("--shared", action="store_true", help="draw from the shared sentences, not generated ones")
    parser.add_argument("--repeats", type=int, default=1,
                        help="flow and direct pairs, alternating which goes first; medians are reported")
    parser.add_argument("--no-direct", action="store_true",
                        help="skip the core-alone part (half the time; no overhead_share), e.g. to measure memory")
    parser.add_argument("--direct-part", type=Path, help=argparse.SUPPRESS)  # the direct part's own process
    args = parser.parse_args()
    if args.direct_part:
        _direct_part_here(args.direct_part)
        return
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    reviews_dir = Path(tempfile.mkdtemp(prefix="hitl-e2e-reviews-"))
    try:
        pairs = _measure(args, reviews_dir / f"reviews-{args.n}.tsv")
    finally:
        shutil.rmtree(reviews_dir, ignore_errors=True)
    _report(args, pairs)


def _measure(args: argparse.Namespace, dataset: Path) -> list[dict[str, Any]]:
    """The untimed warm-up, then `args.repeats` pairs of a flow part and a direct part on `dataset`."""
    reviews(args.n, args.shared).to_csv(dataset, sep="\t", index=False)
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(HITL_RANDOMUSER_URL="http://127.0.0.1:9/unreachable")
    if not args.no_direct:
        warm_up = dataset.with_name("warm-up.tsv")
        reviews(WARM_UP_REVIEWS, args.shared).to_csv(warm_up, sep="\t", index=False)
        direct_part(warm_up)
    pairs: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        flow_first = repeat % 2 == 0
        direct_first = None if args.no_direct or flow_first else direct_part(dataset)
        flow = flow_part(dataset)
        core = direct_first or (None if args.no_direct else direct_part(dataset))
        pairs.append({"flow": flow, "direct": core, "flow_first": flow_first})
    return pairs


def _report(args: argparse.Namespace, pairs: list[dict[str, Any]]) -> None:
    """Print the JSON line: medians over the pairs, and each pair."""
    flow_wall = _median([pair["flow"]["wall_s"] for pair in pairs])
    direct_wall = None if args.no_direct else _median([pair["direct"]["wall_s"] for pair in pairs])
    overhead_share = None if args.no_direct else _median([_share(pair["flow"]["wall_s"], pair["direct"]["wall_s"])
                                                          for pair in pairs])
    stages = {name: round(_median([pair[part]["stages"][name] for pair in pairs]), 2)
              for part in ("flow", "direct") if pairs[0][part] for name in pairs[0][part]["stages"]}
    flow_peak_kb = max(pair["flow"]["peak_rss_kb"] for pair in pairs)
    flow_cpu = _median([pair["flow"]["cpu_s"] for pair in pairs])
    direct_cpu = None if args.no_direct else _median([pair["direct"]["cpu_s"] for pair in pairs])
    direct_peak_kb = 0 if args.no_direct else max(pair["direct"]["peak_rss_kb"] for pair in pairs)
    print(json.dumps({
        "benchmark": "end_to_end",
        "n": args.n,
        "reviews": "shared sentences" if args.shared else "generated sample",
        "repeats": args.repeats,
        "flow_wall_s": round(flow_wall, 2),
        "direct_wall_s": None if direct_wall is None else round(direct_wall, 2),
        "overhead_share": None if overhead_share is None else round(overhead_share, 3),
        "cpu_s": {"flow": round(flow_cpu, 1), "direct": None if direct_cpu is None else round(direct_cpu, 1),
                  "flow_by_role": {role: round(_median([pair["flow"]["cpu_by_role_s"].get(role, 0.0)
                                                        for pair in pairs]), 1)
                                   for role in pairs[0]["flow"]["cpu_by_role_s"]}},
        "cpu_overhead_share": None if args.no_direct else round(
            _median([_share(pair["flow"]["cpu_s"], pair["direct"]["cpu_s"]) for pair in pairs]), 3),
        "stages": stages,
        "peak_rss_mb": round(max(flow_peak_kb, direct_peak_kb) / 1024, 1),
        "peak_rss_mb_flow_process": round(flow_peak_kb / 1024, 1),
        "peak_rss_mb_direct": round(direct_peak_kb / 1024, 1),
        "backend_startup_s": round(_median([pair["flow"]["backend_startup_s"] for pair in pairs]), 2),
        "flows": pairs[0]["flow"]["flows"],
        "direct": None if args.no_direct else pairs[0]["direct"]["direct"],
        "pairs": [{"flow_first": pair["flow_first"], "flow_wall_s": round(pair["flow"]["wall_s"], 2),
                   "direct_wall_s": pair["direct"] and round(pair["direct"]["wall_s"], 2),
                   "overhead_share": pair["direct"] and round(
                       _share(pair["flow"]["wall_s"], pair["direct"]["wall_s"]), 3),
                   "flow_cpu_s": round(pair["flow"]["cpu_s"], 1),
                   "direct_cpu_s": pair["direct"] and round(pair["direct"]["cpu_s"], 1)} for pair in pairs],
        "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
