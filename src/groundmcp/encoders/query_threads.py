"""Single queries, and document batches of a few texts, on dedicated threads that each run torch
with one intra-op thread.

A short query is a few small matrix products. Split over torch's default team (a thread per core),
every op waits for its slowest member, and on a busy machine a member without a core stalls the
encode for hundreds of milliseconds while the rest of the team spins. One thread per query has no
team to wait for and uses about half the CPU; on an idle machine it costs a millisecond or two.

torch's thread count is kept per OS thread (it is OpenMP's per-thread setting), but
`torch.set_num_threads` also records the count as the default for threads that first use torch
later. So the workers set it once, as they start, and the default is put back at once (from a
helper thread, which leaves the workers' own setting alone). Document batches of a few texts run
here too (encoders/sentence_transformers.py SMALL_BATCH: one note an ingest); larger ones run on
other threads and keep torch's default; nothing is changed per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class OneThreadWorkers:
    """`workers` threads, each with one torch thread; `run(fn, ...)` calls fn on one of them."""

    def __init__(self, workers: int) -> None:
        import torch

        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="query-encode")
        default = _in_new_thread(torch.get_num_threads)  # what a thread gets when it first uses torch
        started = threading.Barrier(self.workers + 1)

        def pin() -> None:
            torch.get_num_threads()  # torch's first use in a thread sets it to the default: do it now
            torch.set_num_threads(1)
            started.wait()  # hold this worker until all are started, so each task gets its own thread

        pinned = [self._pool.submit(pin) for _ in range(self.workers)]
        started.wait()
        for future in pinned:
            future.result()
        _in_new_thread(torch.set_num_threads, default)

    def run(self, fn: Callable[..., T], *args) -> T:
        return self._pool.submit(fn, *args).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _in_new_thread(fn: Callable[..., T], *args) -> T:
    """fn(*args) on a fresh thread: torch's per-thread setting of the caller is left alone."""
    box: dict = {}

    def call() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=call, name="torch-threads")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
