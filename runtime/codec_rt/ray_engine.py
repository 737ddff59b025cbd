"""The Ray engine of `codec-rt batch --engine ray` (the optional extra `codec-rt[ray]`; `ray` is imported
only here, and only when the engine runs).

A pool of actors, one CPU each (and one GPU each with `--provider cuda`), each loading the model once
(`worker.Worker`), on the cluster at `address` (`ray start --head` on one machine, `ray start --address
HEAD:PORT` on the others), or on a local cluster started for the run. Every node reads the sources and
writes the outputs by their paths, so SRC and DST must be on a file system all nodes share (NFS, a mounted
bucket) unless the cluster is this one machine.

Jobs are handed out as actors free up (at most two per actor in flight), so the driver never holds more.
An actor that dies is restarted by Ray, which retries the calls it had (at most once each): a killed
worker costs only a retry, and a file that kills its worker twice is reported as failed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Iterator
from typing import Any

from .corpus import Job
from .errors import CodecError, ProviderError
from .worker import Result, Settings, Worker, failed

IN_FLIGHT_PER_ACTOR = 2
# Ray itself retries an unreachable head for minutes (10 when measured) before it gives up; a HOST:PORT
# that takes no connection in this many seconds is reported at once.
CONNECT_TIMEOUT_S = 5.0


def check_reachable(address: str) -> None:
    """CodecError unless a cluster address of the form [ray://]HOST:PORT takes a TCP connection within
    CONNECT_TIMEOUT_S (other forms, such as "auto", are left to Ray)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise CodecError(f"cannot reach the Ray cluster {address}: {e.strerror or e}") from None


class Coder:
    """The actor: a `Worker` (the class is made a Ray actor class when the engine runs)."""

    def __init__(self, settings: Settings) -> None:
        self.worker = Worker(settings)
        self.worker.load()

    def code(self, job: Job) -> Result:
        return self.worker.code(job)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CodecError("--engine ray needs Ray: pip install 'codec-rt[ray]'") from None
    return ray


class RayEngine:
    """Actors on the Ray cluster at `address` (None: a local cluster of `workers` CPUs started for the run,
    ended with it). `workers`: actors (None: one per CPU of the cluster; with the CUDA provider, per GPU)."""

    def __init__(self, settings: Settings, workers: int | None, address: str | None) -> None:
        _ray()  # no Ray: a usage error before any work
        self.settings, self.workers, self.address = settings, workers, address
        if address:  # before the batch makes its output folder
            check_reachable(address)
        self.actors = 0

    def run(self, jobs: Iterable[Job]) -> Iterator[Result]:
        """Code `jobs` -> their results, in the order they complete. Ray is not started before a first job."""
        todo = iter(jobs)
        first = next(todo, None)
        if first is None:
            return
        ray = _ray()
        started_here = not ray.is_initialized()
        if started_here:
            try:
                # A cluster for this run alone listens on the loopback interface only.
                local: dict[str, Any] = {} if self.address else {"num_cpus": self.workers,
                                                                 "_node_ip_address": "127.0.0.1"}
                ray.init(address=self.address or "local", include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING, **local)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise CodecError(f"cannot start or reach the Ray cluster {self.address or '(local)'}: "
                                 f"{' '.join(str(e).split())}") from None
        if self.settings.provider == "cuda" and not ray.cluster_resources().get("GPU"):
            if started_here:
                ray.shutdown()
            # (actors asking for a GPU the cluster does not have would wait for ever)
            raise ProviderError(f"the Ray cluster {self.address or '(local)'} has no GPU for --provider cuda")
        try:
            yield from self._run(ray, first, todo)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray: Any, first: Job, todo: Iterator[Job]) -> Iterator[Result]:
        # One CPU per actor; with the CUDA provider one GPU too, so that Ray places actors on GPU nodes.
        gpu = self.settings.provider == "cuda"
        n = self.workers or max(1, int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)))
        actor_class = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_restarts=-1, max_task_retries=1)(Coder)
        actors = [actor_class.remote(self.settings) for _ in range(n)]
        self.actors = n
        load: dict[int, int] = dict.fromkeys(range(n), 0)  # calls in flight per actor
        pending: dict[Any, tuple[Job, int]] = {}  # ObjectRef -> (job, actor)
        ahead: Job | None = first
        while True:
            while len(pending) < IN_FLIGHT_PER_ACTOR * n:
                job, ahead = (ahead, None) if ahead is not None else (next(todo, None), None)
                if job is None:
                    break
                a = min(load, key=load.__getitem__)
                pending[actors[a].code.remote(job)] = (job, a)
                load[a] += 1
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job, a = pending.pop(ref)
                load[a] -= 1
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    yield failed(job, f"{job.name}: the worker died coding it, and again on the retry "
                                 f"({type(e).__name__})")
                except ray.exceptions.RayError as e:
                    yield failed(job, f"{job.name}: Ray failed the job: {e}")
