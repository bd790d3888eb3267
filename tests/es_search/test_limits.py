"""Overload protection's two bounds, with a hand-turned clock and real threads: a client's rate of expensive
requests, and the model's turns with their bounded queue."""

from __future__ import annotations

import threading
import time

import pytest

from es_search.limits import ModelGate, Overloaded, TokenBuckets, retry_after_header


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_its_rate():
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [None, None, None]
    assert buckets.take("a") == pytest.approx(0.5), "the next token is half a second away"
    assert buckets.take("b") is None, "another client has its own bucket"
    clock.now += 0.5
    assert buckets.take("a") is None and buckets.take("a") == pytest.approx(0.5)
    clock.now += 60
    assert [buckets.take("a") for _ in range(4)][-1] is not None, "a full bucket holds the burst, no more"
    assert TokenBuckets(rate=0, burst=1, clock=clock).take("a") is None, "rate 0: no limit"


def test_retry_after_is_whole_seconds_at_least_one():
    assert (retry_after_header(0.01), retry_after_header(1.0), retry_after_header(2.2)) == ("1", "1", "3")


def test_the_gate_lets_concurrency_through_queues_a_few_and_refuses_the_rest():
    gate = ModelGate(concurrency=2, queue=1, wait_s=5.0)
    release = threading.Event()
    inside: list[int] = []
    errors: list[Exception] = []

    def call(n: int) -> None:
        try:
            with gate.slot():
                inside.append(n)
                release.wait(10)
        except Overloaded as exc:
            errors.append(exc)

    workers = [threading.Thread(target=call, args=(n,)) for n in range(3)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 5
    while (len(inside) < 2 or gate.waiting < 1) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(inside) == 2 and gate.waiting == 1, "two at work, one waiting"
    with pytest.raises(Overloaded, match="busy") as refused:
        with gate.slot():
            pass
    assert refused.value.retry_after == 5.0 and gate.refused == 1
    release.set()
    for worker in workers:
        worker.join(5)
    assert sorted(inside) == [0, 1, 2] and errors == [], "the one that waited got its turn"


def test_a_wait_too_long_gives_up():
    gate = ModelGate(concurrency=1, queue=5, wait_s=0.1)
    with gate.slot():
        started = time.monotonic()
        with pytest.raises(Overloaded, match="stayed busy"):
            with gate.slot():
                pass
        assert time.monotonic() - started >= 0.1
    with gate.slot():
        pass  # the turn came back
