"""Small thread plumbing for the ingest pipeline: workers whose errors reach the caller, and
queue hand-offs that give up when the other side has died or the run was stopped."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

DONE = object()  # end-of-stream marker put on a queue


class Worker(threading.Thread):
    """A daemon thread whose exception is re-raised in the thread that joins or checks it."""

    def __init__(self, target, args) -> None:
        super().__init__(daemon=True)
        self._fn, self._args, self.error = target, args, None

    def run(self) -> None:
        try:
            self._fn(*self._args)
        except BaseException as exc:  # re-raised in the caller
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def join_and_raise(self) -> None:
        self.join()
        self.check()


def start(fn, *args) -> Worker:
    worker = Worker(fn, args)
    worker.start()
    return worker


def put(box: queue.Queue, item, consumer: Worker | None, stop: threading.Event, force=False) -> bool:
    """Put unless the consumer died or (without `force`) the run stopped; False if it gave up."""
    while True:
        try:
            box.put(item, timeout=0.1)
            return True
        except queue.Full:
            if consumer is not None and not consumer.is_alive():
                consumer.check()
                return False
            if stop.is_set() and not force:
                return False


def drain(inbox: queue.Queue, producer: Worker) -> Iterator:
    """Items from `inbox` until the producer puts DONE (the end, at once) or finishes without it
    (noticed when a wait for more times out); its error surfaces here."""
    while True:
        try:
            item = inbox.get(timeout=0.1)
        except queue.Empty:
            if not producer.is_alive():
                producer.check()
                while not inbox.empty():
                    if (item := inbox.get()) is DONE:
                        return
                    yield item
                return
            continue
        if item is DONE:
            return
        yield item
