"""Run a batch function over many items, locally or on a Ray cluster, with the same results.

Generation and judging both have the shape "items -> worker(batch) -> result rows". A worker is
built by ``worker_factory()`` once per process (so a model is loaded once per actor/GPU), then
called on batches. ``map_batches`` yields result rows as they are produced so callers can append
them to disk at once (that is what makes runs resumable).
"""

from __future__ import annotations

import contextlib
import contextvars

from s2s_arena.errors import ConfigError
from typing import Any, Callable, Iterable, Iterator

Worker = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
ENGINES = ("local", "ray")

# Callers embedded in other tools (the evaluate metric obeys evaluate.disable_progress_bar()) turn the
# progress bar off for what they run, without a flag threaded through every layer in between.
_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("s2s_arena_progress", default=True)


@contextlib.contextmanager
def progress(enabled: bool = True) -> Iterator[None]:
    """Show (or hide) the progress bars of the work run inside this block."""
    token = _PROGRESS.set(bool(enabled))
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def map_batches(
    items: Iterable[dict[str, Any]],
    worker_factory: Callable[[], Worker],
    *,
    engine: str = "local",
    batch_size: int = 8,
    concurrency: int = 1,
    num_gpus: float = 0.0,
    desc: str = "",
) -> Iterator[dict[str, Any]]:
    """Yield ``worker(batch)`` rows for every batch of ``items`` (order not guaranteed with ray)."""
    items = list(items)
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if not items:
        return
    if engine == "ray":
        from .ray_engine import ray_map_batches

        yield from ray_map_batches(
            items, worker_factory, batch_size=batch_size, concurrency=concurrency, num_gpus=num_gpus, desc=desc
        )
        return
    from tqdm.auto import tqdm

    worker = worker_factory()
    with tqdm(total=len(items), desc=desc or "working", unit="item", dynamic_ncols=True,
              disable=not _PROGRESS.get()) as bar:
        for batch in _chunks(items, batch_size):
            rows = worker(batch)
            yield from rows
            bar.update(len(batch))
