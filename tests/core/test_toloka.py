"""The Toloka backend against a fake Toloka API at the HTTP boundary, with a real answer store."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.core.answer_store import AnswerStore
from pipelines.core.crowd import CrowdBatch
from pipelines.core.toloka import TolokaConfig, TolokaCrowd, TolokaError

TASKS = pd.DataFrame({"task": [f"t{i}" for i in range(4)], "text": [f"review {i}" for i in range(4)]})
GOLDEN = pd.DataFrame({"task": ["g0"], "text": ["golden review"], "label": ["pos"]})
BATCH = CrowdBatch(TASKS, GOLDEN, ["neg", "pos"], overlap=2, reward_per_answer=0.02, owner="run-1")


@pytest.fixture
def crowd(fake_toloka, tmp_path) -> TolokaCrowd:
    store = AnswerStore(f"sqlite:///{tmp_path / 'answers.db'}")
    return TolokaCrowd(store, TolokaConfig(fake_toloka.api_key, "77", fake_toloka.base_url))


def test_submit_posts_a_pool_with_reward_overlap_golden_mixing_and_the_tasks(crowd, fake_toloka) -> None:
    batch_id = crowd.submit(BATCH)
    [pool] = fake_toloka.pools.values()
    assert pool["project_id"] == "77" and pool["status"] == "OPEN"
    assert pool["reward_per_assignment"] == 0.2  # ten items a page at 0.02
    assert pool["defaults"]["default_overlap_for_new_tasks"] == 2
    assert pool["mixer_config"] == {"real_tasks_count": 9, "golden_tasks_count": 1, "training_tasks_count": 0}
    tasks = fake_toloka.tasks[pool["id"]]
    assert [t["input_values"]["item"] for t in tasks] == ["t0", "t1", "t2", "t3", "g0"]
    assert tasks[-1]["known_solutions"] == [{"output_values": {"label": "pos"}, "correctness_weight": 1}]
    assert crowd.store.batch_source(batch_id) == f"toloka:{pool['id']}"
    assert crowd.store.open_batches(source="local") == []  # not served on the labelling page


def test_answers_are_copied_once_across_pages_and_odd_ones_are_refused_not_fatal(crowd, fake_toloka) -> None:
    batch_id = crowd.submit(BATCH)
    pool_id = next(iter(fake_toloka.pools))
    fake_toloka.work(pool_id, "u1", {"t0": "pos", "t1": "neg", "g0": "pos"})
    fake_toloka.work(pool_id, "u2", {"t0": "pos", "t1": "maybe"})
    fake_toloka.work(pool_id, "u3", {"t2": "neg"})
    first = crowd.sync(batch_id)
    assert first.new_answers == 5 and len(first.refused) == 1 and "'maybe'" in first.refused[0]
    assert crowd.sync(batch_id).new_answers == 0  # idempotent: copied answers are not copied again
    answers = crowd.answers(batch_id)
    assert set(answers.worker) == {"toloka-u1", "toloka-u2", "toloka-u3"} and len(answers) == 5
    assert crowd.progress(batch_id).answers == 4 and crowd.progress(batch_id).needed == 8  # golden not counted
    for user in ("u4", "u5"):
        fake_toloka.work(pool_id, user, {"t1": "neg", "t2": "neg", "t3": "pos"} if user == "u4" else {"t3": "pos"})
    assert crowd.progress(batch_id).complete
    crowd.close(batch_id)
    assert fake_toloka.pools[pool_id]["status"] == "CLOSED" and crowd.store.open_batches() == []


def test_closing_fetches_the_answers_given_since_the_last_look_and_says_what_it_refused(crowd, fake_toloka) -> None:
    batch_id = crowd.submit(BATCH)
    pool_id = next(iter(fake_toloka.pools))
    fake_toloka.work(pool_id, "u1", {"t0": "neg", "t3": "surprised"})
    closed = crowd.close(batch_id)
    assert fake_toloka.pools[pool_id]["status"] == "CLOSED" and crowd.store.open_batches() == []
    assert closed.fetched == 1 and len(closed.refused) == 1 and "'surprised'" in closed.refused[0]
    assert list(crowd.answers(batch_id).itertuples(index=False, name=None)) == [("t0", "toloka-u1", "neg")]


@pytest.mark.bad_input
def test_refusals_are_plain_messages_and_leave_no_open_batch(crowd, fake_toloka, tmp_path) -> None:
    store = crowd.store
    wrong_key = TolokaCrowd(store, TolokaConfig("not-the-key", "77", fake_toloka.base_url))
    with pytest.raises(TolokaError, match="refused the API key") as refused:
        wrong_key.submit(BATCH)
    assert "not-the-key" not in str(refused.value) and "not-the-key" not in repr(wrong_key.config)
    fake_toloka.input_spec = frozenset({"text", "url"})  # a project made for something else
    with pytest.raises(TolokaError, match="refused 5 of 5 tasks .* give `label`"):
        crowd.submit(BATCH)
    assert all(pool["status"] == "CLOSED" for pool in fake_toloka.pools.values())
    unreachable = TolokaCrowd(store, TolokaConfig("k", "77", "http://127.0.0.1:9/api/v1", timeout_seconds=2))
    with pytest.raises(TolokaError, match="Could not reach Toloka at http://127.0.0.1:9/api/v1"):
        unreachable.submit(BATCH)
    assert store.open_batches() == []


@pytest.mark.bad_input
@pytest.mark.parametrize("status", [400, 429, 500])
def test_an_error_that_quotes_the_key_never_passes_it_on(crowd, fake_toloka, status: int) -> None:
    fake_toloka.failure = status
    with pytest.raises(TolokaError, match=f"Toloka answered {status}") as failed:
        crowd.submit(BATCH)
    assert fake_toloka.api_key not in str(failed.value) and "<API key>" in str(failed.value)
    assert crowd.store.open_batches() == []
