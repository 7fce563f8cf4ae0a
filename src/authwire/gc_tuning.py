"""The garbage collector of a serving process.

CPython collects its youngest generation every 700 net allocations, and each
collection walks every young object still alive. A serving process at its
busiest holds thousands of short-lived objects at once: a refresh storm is
one task, one future and a few frames per waiting call. With the default
threshold, collections then follow one another while the callers pile up,
each walking all of them: `bench/refresh_storm.py` measured 143 ms of 293 in
the collector at 10,000 callers, 27 ms of 179 with a threshold of 10,000.

So, once a process has started: everything that start-up built (modules,
compiled SQL, templates, settings) is frozen out of the collector's sight,
and the youngest generation is collected every `gc_threshold` allocations.
Reference cycles are still collected, only less often: memory held by
garbage cycles grows by at most what that many allocations hold.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def tune_garbage_collector(threshold: int) -> None:
    """Freeze start-up's objects and set the youngest generation's threshold;
    `threshold` 0 leaves the collector as Python set it up."""
    if threshold == 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
    log.debug(
        "garbage collector: %d start-up objects frozen, threshold %d",
        gc.get_freeze_count(),
        threshold,
    )
