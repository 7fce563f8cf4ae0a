"""The batcher behind the call path's method loads and log writes."""

from __future__ import annotations

import asyncio

import pytest

from authwire.batching import Batcher


class Recorder:
    """A batch run that records each batch it is given and doubles items;
    it holds each batch until `release` is set, so tests can pile items up."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def run(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await self.release.wait()
        return [
            ValueError(f"{item} is odd") if item % 2 else item * 2 for item in items
        ]


async def test_a_lone_item_goes_out_at_once_in_a_batch_of_its_own() -> None:
    recorder = Recorder()
    batcher: Batcher[int, int] = Batcher(recorder.run, max_batch=10, name="test")

    assert await batcher.submit(4) == 8
    assert recorder.batches == [[4]]


async def test_items_that_arrive_during_a_run_share_the_next_batch() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher: Batcher[int, int] = Batcher(recorder.run, max_batch=10, name="test")

    first = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)  # the first batch is under way, holding [2]
    waiting = [asyncio.create_task(batcher.submit(n)) for n in (4, 6, 8)]
    await asyncio.sleep(0)
    recorder.release.set()

    assert await first == 4
    assert [await task for task in waiting] == [8, 12, 16]
    assert recorder.batches == [[2], [4, 6, 8]]


async def test_batches_are_cut_at_the_maximum_size() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher: Batcher[int, int] = Batcher(recorder.run, max_batch=2, name="test")

    tasks = [asyncio.create_task(batcher.submit(n)) for n in (2, 4, 6, 8, 10)]
    await asyncio.sleep(0)
    recorder.release.set()

    assert [await task for task in tasks] == [4, 8, 12, 16, 20]
    assert recorder.batches == [[2, 4], [6, 8], [10]]


async def test_an_item_that_fails_alone_does_not_fail_its_batch() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher: Batcher[int, int] = Batcher(recorder.run, max_batch=10, name="test")

    tasks = [asyncio.create_task(batcher.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    recorder.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert outcomes[0] == 4 and outcomes[2] == 8
    assert isinstance(outcomes[1], ValueError)
    assert str(outcomes[1]) == "3 is odd"


async def test_a_run_that_raises_fails_every_item_of_its_batch_only() -> None:
    calls = 0

    async def flaky(items: list[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return list(items)

    batcher: Batcher[int, int] = Batcher(flaky, max_batch=10, name="test")

    with pytest.raises(ConnectionError, match="database went away"):
        await batcher.submit(1)
    assert await batcher.submit(2) == 2


async def test_a_run_with_the_wrong_number_of_outcomes_is_an_error() -> None:
    async def short(items: list[int]) -> list[int | Exception]:
        return list(items)[:-1]

    batcher: Batcher[int, int] = Batcher(short, max_batch=10, name="short run")

    with pytest.raises(RuntimeError, match="short run returned 0 outcomes for 1"):
        await batcher.submit(1)


async def test_a_cancelled_caller_still_has_its_item_run() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher: Batcher[int, int] = Batcher(recorder.run, max_batch=10, name="test")

    busy = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(batcher.submit(4))
    kept = asyncio.create_task(batcher.submit(6))
    await asyncio.sleep(0)
    cancelled.cancel()
    recorder.release.set()

    assert await busy == 4
    assert await kept == 12
    assert cancelled.cancelled()
    assert recorder.batches == [[2], [4, 6]]


async def test_a_submission_never_joins_a_batch_already_running() -> None:
    # A read submitted after a write began must not be answered by a batch
    # that started before it: it waits for the next one.
    recorder = Recorder()
    recorder.release.clear()
    batcher: Batcher[int, int] = Batcher(recorder.run, max_batch=10, name="test")

    early = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0)
    late = asyncio.create_task(batcher.submit(4))
    await asyncio.sleep(0)
    assert recorder.batches == [[2]]
    recorder.release.set()

    await asyncio.gather(early, late)
    assert recorder.batches == [[2], [4]]


def test_a_batch_size_below_one_is_refused() -> None:
    async def run(items: list[int]) -> list[int | Exception]:
        return list(items)

    with pytest.raises(ValueError, match="at least 1"):
        Batcher(run, max_batch=0, name="test")
