"""A runner whose flow-run processes start warm.

Prefect's runner starts each run of a served deployment in a fresh interpreter (`python -m prefect.engine`), which
spends about 3 s importing Prefect's engine, pandas and the flow's module, and loading the flow from its file, before
the run reaches Running: on a 2-core laptop the largest part of a 10k-review batch's orchestration overhead, paid
twice (autohelper, then crowd loop). This runner forks each run's process from a fork server that imported those
modules once, when serving began, so a run reaches Running in well under a second. What the process runs is
Prefect's own: `run_flow` with the run, its serialized context and environment, the control channel's bootstrap;
the runner cancels and watches it by pid as any other.

It leans on Prefect internals (the runner's starter resolver, `run_flow_in_subprocess`'s payload, the poller's
poll-and-submit step that a wake calls; prefect 3.8.8, pinned in requirements.txt); every flow test runs through it,
so an upgrade that changes them fails there. Where the platform has no fork server, serving is Prefect's own.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import multiprocessing.context
import os
import socket
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from prefect import serve
from prefect._internal.concurrency.services import QueueService
from prefect.context import SettingsContext, get_settings_context, serialize_context
from prefect.engine import handle_engine_signals
from prefect.exceptions import TerminationSignal
from prefect.flow_engine import (
    _CONTROL_CHANNEL_ENV_KEYS,
    _run_serialized_call_with_control_bootstrap,
    _runtime_subprocess_env,
    run_flow,
)
from prefect.logging import get_logger
from prefect.runner import Runner
from prefect.runner._process_manager import ProcessHandle
from prefect.settings.context import get_current_settings
from prefect.settings.models.root import Settings
from prefect.utilities.callables import cloudpickle_wrapped_call
from prefect.utilities.processutils import sanitize_subprocess_env

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments.runner import RunnerDeployment
    from prefect.flows import Flow
    from prefect.runner._control_channel import ControlChannel

# What runs need before their flow's first line: this module with Prefect's engine, every flow module with pandas
# (through the deployments), and crowd-kit, which every crowd loop aggregates with (1 s to import). Torch and
# transformers stay out: 4 s and some 400 MB held by an idle server for one flow, which loads them lazily.
PRELOADED_MODULES = ("pipelines.warm_runner", "pipelines.deployments", "crowdkit.aggregation")

# How long a run's process waits for its logs and events to reach the server before it exits.
DRAIN_TIMEOUT_S = 10.0

_logger = get_logger("hitl.runner")


def fork_server_available() -> bool:
    return "forkserver" in multiprocessing.get_all_start_methods()


def start_fork_server() -> None:
    """Start the fork server and wait until it has imported `PRELOADED_MODULES`: the runner registers its
    deployments after, so a run started as soon as they are visible starts warm, not behind the imports."""
    multiprocessing.set_forkserver_preload(list(PRELOADED_MODULES))
    # The server forks its first process only once its imports are done; that process exits at once.
    first = multiprocessing.get_context("forkserver").Process(target=os.getpid)
    first.start()
    first.join()


def _flow_reference(flow: Flow[..., Any]) -> tuple[str, str]:
    """Where the flow's module holds it. The run's process imports it from there: pickled whole, a flow's function
    travels without the names only its annotations use (`from __future__ import annotations`), and Prefect's
    parameter validation then fails on them."""
    module, name = flow.fn.__module__, flow.fn.__qualname__
    if getattr(importlib.import_module(module), name, None) is not flow:
        raise ValueError(f"Flow {flow.name!r} is not importable as {module}.{name}; a warm run cannot start it.")
    return module, name


def _run_flow_with_env(
    flow_reference: tuple[str, str], env: dict[str, str | None], remove_env: set[str], **kwargs: Any
) -> None:
    # The fork server's environment is the runner's when serving began; the run's own environment arrives with
    # the payload and replaces it, as `run_flow_in_subprocess` does in a spawned interpreter.
    for key in remove_env:
        os.environ.pop(key, None)
    os.environ.update(_runtime_subprocess_env(env))
    module, name = flow_reference
    flow = getattr(importlib.import_module(module), name)
    exit_code = 1
    try:
        settings_context = get_settings_context()
        with SettingsContext(profile=settings_context.profile, settings=Settings()):
            flow_run = kwargs.get("flow_run")
            with handle_engine_signals(getattr(flow_run, "id", None)):
                maybe_coro = run_flow(flow, **kwargs)
                if asyncio.iscoroutine(maybe_coro):
                    asyncio.run(maybe_coro)
        exit_code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        _exit_after_draining(exit_code)


def _exit_after_draining(exit_code: int) -> None:
    """End the run's process once Prefect's log and event services have sent what they hold, within
    `DRAIN_TIMEOUT_S`. Left to interpreter exit, their drain waited without end in some forked processes (seen after
    a run ended while its server was stopping), and a process that never exits holds one of the runner's slots."""
    QueueService.drain_all(timeout=DRAIN_TIMEOUT_S)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


def start_flow_process(
    flow: Flow[..., Any], flow_run: FlowRun, env: dict[str, str | None]
) -> multiprocessing.context.ForkServerProcess:
    """`prefect.flow_engine.run_flow_in_subprocess`, forked from the warm server instead of spawned, the flow
    imported there rather than pickled."""
    merged_env: dict[str, str | None] = (
        get_current_settings().to_environment_variables(exclude_unset=True)
        | os.environ
        | {"PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS": "false"}
        | env
    )
    sanitized_env = sanitize_subprocess_env(merged_env)
    startup_env = {key: value for key, value in sanitized_env.items() if key in _CONTROL_CHANNEL_ENV_KEYS}
    wrapped_call = cloudpickle_wrapped_call(
        _run_flow_with_env,
        _flow_reference(flow),
        env=_runtime_subprocess_env(sanitized_env),
        remove_env={key for key, value in merged_env.items() if value is None},
        flow_run=flow_run,
        parameters=None,
        wait_for=None,
        context=serialize_context(),
    )
    process = multiprocessing.get_context("forkserver").Process(
        target=_run_serialized_call_with_control_bootstrap, args=(wrapped_call.args[0], startup_env)
    )
    process.start()
    return process


class WarmStarter:
    """Starts a served flow's run as Prefect's `DirectSubprocessStarter` does, from the warm fork server."""

    def __init__(self, flow: Flow[..., Any], deployment_name: str, heartbeat_seconds: int | None,
                 control_channel: ControlChannel) -> None:
        self.flow = flow
        self.deployment_name = deployment_name
        self.heartbeat_seconds = heartbeat_seconds
        self.control_channel = control_channel

    async def start(self, flow_run: FlowRun,
                    task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED) -> None:
        run_env: dict[str, str | None] = {"PREFECT__DEPLOYMENT_NAME": self.deployment_name}
        if self.heartbeat_seconds is not None:
            run_env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] = str(int(self.heartbeat_seconds))
        control_registered = False
        try:
            port, token = self.control_channel.register(flow_run.id)
            run_env["PREFECT__CONTROL_PORT"] = str(port)
            run_env["PREFECT__CONTROL_TOKEN"] = token
            control_registered = True
        except RuntimeError:
            pass  # no loopback channel: cancellation falls back to killing the process, as in Prefect's starter
        handed_off = False
        try:
            process = start_flow_process(self.flow, flow_run, run_env)
            task_status.started(ProcessHandle(process))
            handed_off = True
            await anyio.to_thread.run_sync(process.join)
        except BaseException:
            if control_registered and not handed_off:
                self.control_channel.unregister(flow_run.id)
            raise


class WarmRunner(Runner):
    """Prefect's runner, except that a run of one of `flows` (by deployment name) starts with a `WarmStarter`, and
    that it looks for scheduled runs as soon as a datagram reaches `wake_address` (`pipelines.backend.wake_runner`),
    besides polling: a run the dashboard starts then waits for no poll, some 0.7 s on average at a 1 s poll."""

    def __init__(self, flows: Mapping[str, Flow[..., Any]], wake_address: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flows = dict(flows)
        self.wake_address = wake_address
        self._wake_socket: socket.socket | None = None
        self._wake_polls: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> WarmRunner:
        await super().__aenter__()
        # Prefect picks each scheduled run's starter with a resolver built inside `Runner.__aenter__`; ours answers
        # for the project's flows and leaves any other run to it.
        poller = self._scheduled_run_poller
        prefect_resolver = poller._resolve_starter

        def resolve_starter(flow_run: FlowRun) -> Any:
            name = (self._deployment_registry.get_deployment_name(flow_run.deployment_id)
                    if flow_run.deployment_id else None)
            if name not in self.flows:
                return prefect_resolver(flow_run)
            return WarmStarter(self.flows[name], name, self._heartbeat_seconds, self._control_channel)

        poller._resolve_starter = resolve_starter
        if self.wake_address is not None:
            self._listen_for_wakes(self.wake_address)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._wake_socket is not None:
            asyncio.get_running_loop().remove_reader(self._wake_socket.fileno())
            self._wake_socket.close()
            self._wake_socket = None
        await super().__aexit__(*exc_info)

    def _listen_for_wakes(self, address: Path) -> None:
        wake_socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            # A runner before this one (killed, or stopped) leaves its address behind.
            address.unlink(missing_ok=True)
            wake_socket.bind(str(address))
        except OSError as exc:  # e.g. a data folder whose path is longer than a socket address may be
            wake_socket.close()
            _logger.warning("Runs are found by polling only: cannot listen at %s (%s)", address, exc)
            return
        wake_socket.setblocking(False)
        asyncio.get_running_loop().add_reader(wake_socket.fileno(), self._woken)
        self._wake_socket = wake_socket

    def _woken(self) -> None:
        """Read every datagram waiting, then look for scheduled runs once; the poller's own bookkeeping keeps a run
        found by this and by a poll at the same time from being started twice."""
        assert self._wake_socket is not None
        try:
            while True:
                self._wake_socket.recv(64)
        except BlockingIOError:
            pass
        search = asyncio.get_running_loop().create_task(self._find_scheduled_runs())
        self._wake_polls.add(search)
        search.add_done_callback(self._wake_polls.discard)

    async def _find_scheduled_runs(self) -> None:
        try:
            await self._scheduled_run_poller._get_and_submit_flow_runs()
        except Exception:
            _logger.exception("Looking for a waiting run when woken failed; the next poll looks again")


def serve_warm(deployments: list[RunnerDeployment], flows: Mapping[str, Flow[..., Any]],
               wake_address: Path | None = None) -> None:
    """`prefect.serve(*deployments)`, the runs of `flows` (by deployment name) forked warm where the platform
    allows, and woken through `wake_address` (see `WarmRunner`)."""
    if not fork_server_available():
        serve(*deployments)
        return
    start_fork_server()
    runner = WarmRunner(flows, wake_address=wake_address, pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)
    _logger.info("Serving %d deployments, runs forked from a warm server", len(deployments))
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as exc:
        _logger.info("Received %s, shutting down...", type(exc).__name__)
