"""``engine="ray"``: the same ``map_batches`` contract as the local engine, as a Ray Data pipeline.

Items go in as one pickled blob per row (benchmark samples carry numpy waveforms and nested
dicts that Arrow cannot type uniformly); a pool of ``concurrency`` actors each builds its worker
once (loading a model, on its own GPU when ``num_gpus`` > 0, or opening an API client) and maps
batches. Rows stream back to the driver as actors finish them, so callers append to disk at once
and an interrupted run keeps everything already received.

Connects to ``RAY_ADDRESS`` when set (a cluster), else starts a local Ray on this machine, unless
the caller already ran ``ray.init``.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Callable, Iterator

import numpy as np


class _BatchActor:
    """Holds one worker for its lifetime; Ray Data calls it on batches of pickled items."""

    def __init__(self, worker_factory: Callable[[], Any]):
        self.worker = worker_factory()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [pickle.loads(blob) for blob in batch["item"]]
        rows = self.worker(items)
        out = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            out[i] = pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)
        return {"row": out}


def _ensure_ray() -> Any:
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    return ray


def ray_map_batches(
    items: list[dict[str, Any]],
    worker_factory: Callable[[], Callable[[list[dict[str, Any]]], list[dict[str, Any]]]],
    *,
    batch_size: int = 8,
    concurrency: int = 1,
    num_gpus: float = 0.0,
    desc: str = "",
) -> Iterator[dict[str, Any]]:
    """Yield ``worker(batch)`` rows for every batch of ``items``, computed by ``concurrency`` Ray actors."""
    from tqdm.auto import tqdm

    if not items:
        return
    ray = _ensure_ray()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # one tqdm bar of our own, counted in items like the local engine
    blobs = [{"item": pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)} for item in items]
    # One block per batch so every actor gets work from the start, not one block per CPU.
    n_blocks = max(1, min(len(items), -(-len(items) // max(1, batch_size))))
    ds = ray.data.from_items(blobs, override_num_blocks=n_blocks)
    actor_opts: dict[str, Any] = {"num_gpus": num_gpus} if num_gpus else {"num_cpus": 1}
    ds = ds.map_batches(
        _BatchActor,
        fn_constructor_args=(worker_factory,),
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, int(concurrency))),
        **actor_opts,
    )
    from .engine import _PROGRESS

    with tqdm(total=len(items), desc=desc or "working (ray)", unit="item", dynamic_ncols=True,
              disable=not _PROGRESS.get()) as bar:
        for row in ds.iter_rows():
            result = pickle.loads(row["row"])
            yield result
            bar.update(1)
