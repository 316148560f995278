"""Timers: ManualScheduler moves only when told to; the real Scheduler runs callbacks."""

from __future__ import annotations

import threading

from actors.scheduler import ManualScheduler, Scheduler


def test_after_fires_once_when_due_and_not_before() -> None:
    scheduler = ManualScheduler(start=100.0)
    fired: list[float] = []
    scheduler.after(1.0, lambda: fired.append(scheduler.now()))
    scheduler.advance(0.999)
    assert fired == []
    scheduler.advance(0.001)
    assert fired == [101.0]
    scheduler.advance(10.0)
    assert fired == [101.0]
    assert scheduler.now() == 111.0


def test_every_fires_at_each_interval_at_its_own_time() -> None:
    scheduler = ManualScheduler(start=0.0)
    fired: list[float] = []
    scheduler.every(0.5, lambda: fired.append(scheduler.now()))
    scheduler.advance(2.2)
    assert fired == [0.5, 1.0, 1.5, 2.0]
    assert scheduler.now() == 2.2


def test_timers_fire_in_time_order_and_ties_in_creation_order() -> None:
    scheduler = ManualScheduler(start=0.0)
    order: list[str] = []
    scheduler.after(2.0, lambda: order.append("late"))
    scheduler.after(1.0, lambda: order.append("first"))
    scheduler.after(1.0, lambda: order.append("second"))
    scheduler.advance(3.0)
    assert order == ["first", "second", "late"]


def test_cancelled_timers_do_not_fire() -> None:
    scheduler = ManualScheduler()
    fired: list[str] = []
    once = scheduler.after(1.0, lambda: fired.append("once"))
    periodic = scheduler.every(1.0, lambda: fired.append("every"))
    scheduler.advance(1.0)
    once.cancel()
    periodic.cancel()
    scheduler.advance(5.0)
    assert fired == ["once", "every"]


def test_a_timer_scheduled_by_a_callback_fires_within_the_same_advance() -> None:
    scheduler = ManualScheduler(start=0.0)
    fired: list[float] = []
    scheduler.after(1.0, lambda: scheduler.after(1.0, lambda: fired.append(scheduler.now())))
    scheduler.advance(2.5)
    assert fired == [2.0]


def test_a_failing_callback_does_not_stop_the_others() -> None:
    scheduler = ManualScheduler()
    fired: list[str] = []
    scheduler.after(1.0, lambda: 1 / 0)
    scheduler.every(1.0, lambda: fired.append("tick"))
    scheduler.advance(3.0)
    assert fired == ["tick"] * 3


def test_real_scheduler_runs_due_callbacks_in_its_thread() -> None:
    scheduler = Scheduler()
    try:
        ran = threading.Event()
        threads: list[str] = []
        scheduler.after(0.01, lambda: (threads.append(threading.current_thread().name), ran.set()))
        assert ran.wait(2.0)
        assert threads == ["scheduler"]
        ticks = threading.Semaphore(0)
        scheduler.every(0.01, ticks.release)
        assert all(ticks.acquire(timeout=2.0) for _ in range(3))
    finally:
        scheduler.stop()
