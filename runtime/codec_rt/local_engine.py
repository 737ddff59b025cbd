"""The local engine of `codec-rt batch`: a pool of worker processes on this machine
(`concurrent.futures.ProcessPoolExecutor`), each loading the model once.

Jobs are taken from their iterator as workers free up (at most two per worker in flight), so a batch never
holds more than that. A worker that dies (killed, out of memory, a crash in a native library) breaks the
pool: a new pool is started and the jobs that were in flight are retried one at a time, so one that kills
its worker again is known for sure and reported as failed, and the others cost only a retry.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .corpus import Job
from .worker import Result, Settings, Worker, failed

_worker: Worker | None = None  # the worker of this process (a pool's process)


def _start(settings: Settings) -> None:
    global _worker
    _worker = Worker(settings)
    _worker.load()


def _code(job: Job) -> Result:
    assert _worker is not None
    return _worker.code(job)


class LocalEngine:
    """`workers` processes coding with `settings`."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings, self.workers = settings, max(1, workers)
        self.restarts = 0  # pools started again after a worker died

    def _pool(self) -> ProcessPoolExecutor:
        # spawn: a fresh interpreter, not a fork of a process whose onnxruntime threads are running
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=(self.settings,))

    def run(self, jobs: Iterable[Job]) -> Iterator[Result]:
        """Code `jobs` -> their results, in the order they complete. No process starts before a first job."""
        todo = iter(jobs)
        first = next(todo, None)
        if first is None:
            return
        suspects: deque[Job] = deque()  # in flight when a worker died: retried alone
        pending: dict[Future[Result], Job] = {}
        alone = False  # the one job in flight is a suspect
        ahead: Job | None = first
        pool = self._pool()
        try:
            while True:
                while not alone and len(pending) < 2 * self.workers:
                    if suspects:
                        if pending:
                            break  # let the pool drain, then retry the suspect alone
                        job: Job | None = suspects.popleft()
                        alone = True
                    else:
                        job, ahead = (ahead, None) if ahead is not None else (next(todo, None), None)
                    if job is None:
                        break
                    pending[pool.submit(_code, job)] = job
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    lost = pending.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if alone:
                            yield failed(lost, f"{lost.name}: the worker process died coding it (twice)")
                        else:
                            suspects.append(lost)
                alone = False
                if broken:
                    suspects.extend(pending.values())
                    pending.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool()
                    self.restarts += 1
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
