"""Map a per-image function over many images, in this process or on a Ray cluster: the one place Ray is used.

    for result in map_images(make_worker, items, ray_address=None | "local" | "host:port", workers=2):
        ...

``make_worker()`` builds the per-image callable once per worker (a model is loaded once), and
``worker(item)`` returns the item's result. Results come back in the order of ``items``.

* ``ray_address=None``: one worker in this process, items one after another.
* ``"local"``: a Ray instance on this machine with ``workers`` CPUs (no dashboard), shut down
  at the end; any other address: ``ray.init(address=...)`` joins that cluster (``"auto"``: the
  one ``ray start`` launched here). When Ray is already initialised in this process it is used
  as it is and left running.

With Ray, ``workers`` actors (``ray.util.ActorPool``, 1 CPU and ``gpus_per_worker`` GPUs each)
each build their worker once; at most one item per actor is in flight, and a finished result
waits only until the results before it are taken, so memory stays bounded whatever the number
of items. Items and results travel by pickle (cloudpickle): ``make_worker`` must be importable
or picklable, and the files an item names must be readable on every node (a shared folder).
``timeout_s``: the longest wait for one result before :class:`MapTimeout` (None: no limit).
Ray is imported only when asked for (``pip install 'pointprompt-studio[scale]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MapTimeout(Exception):
    """No result came back for an item within the time allowed; the message names the item."""


class RayUnavailable(Exception):
    """``ray`` is not installed, or its cluster cannot be reached; the message says how to fix it."""


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable("Ray is not installed: pip install 'ray>=2.9' (or the project's [scale] extra)") from error
    return ray


class _Worker:
    """A Ray actor's body: builds the worker once, then applies it to items."""

    def __init__(self, make_worker: Callable[[], Callable]) -> None:
        self.worker = make_worker()

    def run(self, item):
        return self.worker(item)


def _local(make_worker: Callable[[], Callable[[Item], Result]], items: Iterable[Item]) -> Iterator[Result]:
    worker = make_worker()
    for item in items:
        yield worker(item)


def _start(ray, ray_address: str, workers: int, gpus: float) -> bool:
    """Initialise Ray unless it already is; True when this call started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    try:
        if ray_address == "local":
            ray.init(num_cpus=workers, num_gpus=None if gpus == 0 else max(1, round(gpus * workers)),
                     include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise RayUnavailable(f"cannot start or reach Ray at {ray_address!r}: {error}") from error
    return True


def _ray(make_worker, items: Iterable[Item], ray_address: str, workers: int, gpus_per_worker: float,
         timeout_s: float | None) -> Iterator[Result]:
    ray = _import_ray()
    from ray.util import ActorPool

    started = _start(ray, ray_address, workers, gpus_per_worker)
    try:
        actor = ray.remote(num_cpus=1, num_gpus=gpus_per_worker)(_Worker)
        pool = ActorPool([actor.remote(make_worker) for _ in range(max(1, workers))])
        pending: list[Item] = []
        source = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * max(1, workers):  # a short queue: bounded memory
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pool.submit(lambda a, value: a.run.remote(value), item)
                pending.append(item)
            if not pending:
                return
            try:
                result = pool.get_next(timeout=timeout_s)
            except TimeoutError as error:
                raise MapTimeout(f"no result for {pending[0]!r} within {timeout_s:g} s") from error
            pending.pop(0)
            yield result
    finally:
        if started:
            ray.shutdown()


def map_images(make_worker: Callable[[], Callable[[Item], Result]], items: Iterable[Item],
               ray_address: str | None = None, workers: int = 2, gpus_per_worker: float = 0.0,
               timeout_s: float | None = None) -> Iterator[Result]:
    """``make_worker()(item)`` for every item, in order (module docstring). A generator: closing it
    early (a cancelled run) stops the work and shuts down a Ray instance it started."""
    if ray_address is None:
        return _local(make_worker, items)
    return _ray(make_worker, items, ray_address, workers, gpus_per_worker, timeout_s)
