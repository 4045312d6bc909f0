"""Running test code in real threads released at the same moment, for race tests."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

#: Threads per race: enough to make overlaps likely on two cores, few enough to stay quick.
RACERS = 8


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(index)`` in ``count`` threads released at once; return results in order.

    Each result is what ``work`` returned or the exception it raised. Each thread opens its
    own database connection (the point of the race) and closes it when done.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # reported to the test, not lost in the thread
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    return results
