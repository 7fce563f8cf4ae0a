"""A serving process tunes its garbage collector once it has started."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from authwire.gc_tuning import tune_garbage_collector


@pytest.fixture
def collector() -> Iterator[None]:
    """Put the collector back as it was: the test process goes on."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_start_up_objects_are_frozen_and_the_threshold_raised() -> None:
    _, older, oldest = gc.get_threshold()
    gc.unfreeze()

    tune_garbage_collector(12_345)

    assert gc.get_threshold() == (12_345, older, oldest)
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collector")
def test_a_threshold_of_zero_leaves_the_collector_alone() -> None:
    gc.unfreeze()
    before = gc.get_threshold()

    tune_garbage_collector(0)

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
