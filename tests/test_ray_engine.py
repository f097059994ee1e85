"""`engine="ray"`: a real local Ray cluster gives the same results as the local engine."""

from __future__ import annotations

import numpy as np
import pytest

from s2s_arena.audio import SAMPLE_RATE
from s2s_arena.engine import map_batches
from s2s_arena.responses import ResponseWriter, load_responses
from s2s_arena.schema import SystemInfo
from s2s_arena.systems.generation import GenerateWorkerFactory, generate_responses
from systems_testkit import OpenAIAudioServer, make_samples

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _folder_with_responses(root, n):
    w = ResponseWriter(root, SystemInfo(name="lab"))
    rng = np.random.default_rng(1)
    for i in range(n):
        if i == 3:
            w.write(f"s{i:03d}", None, error="crashed upstream")
        else:
            w.write(f"s{i:03d}", (0.1 * rng.standard_normal(2400 + 100 * i)).astype(np.float32), SAMPLE_RATE, text=f"t{i}")
    return root / "lab"


def test_map_batches_ray_equals_local(ray_cluster, tmp_path):
    src = _folder_with_responses(tmp_path / "src", 7)
    items = [{"sample": s.to_dict()} for s in make_samples(7)]
    local = {r["sample_id"]: r for r in map_batches(items, GenerateWorkerFactory(f"folder:{src}", {}), engine="local", batch_size=3)}
    remote = {r["sample_id"]: r for r in map_batches(items, GenerateWorkerFactory(f"folder:{src}", {}), engine="ray", batch_size=3, concurrency=2)}
    assert sorted(remote) == sorted(local) == [f"s{i:03d}" for i in range(7)]
    for sid, row in local.items():
        assert remote[sid]["error"] == row["error"] and remote[sid]["text"] == row["text"]
        if row["audio"] is None:
            assert remote[sid]["audio"] is None and sid == "s003"
        else:
            np.testing.assert_array_equal(remote[sid]["audio"], row["audio"])


def test_generate_on_ray_against_an_api_matches_local(ray_cluster, tmp_path):
    samples = make_samples(6)
    with OpenAIAudioServer() as srv:
        opts = {"base_url": srv.url, "parallel": 1}
        local = generate_responses("openai:m", samples, tmp_path / "local", opts=opts, batch_size=2)
        remote = generate_responses("openai:m", samples, tmp_path / "ray", opts=opts, batch_size=2, engine="ray", concurrency=2)
        assert len(srv.requests) == 12
    assert local.written == remote.written == 6 and not remote.failed
    a = load_responses(tmp_path / "local")["m"]
    b = load_responses(tmp_path / "ray")["m"]
    assert sorted(a.responses) == sorted(b.responses)
    for sid in a.responses:
        np.testing.assert_array_equal(a.audio(sid), b.audio(sid))
        assert a.responses[sid].text == b.responses[sid].text
    # Resuming works the same on Ray: nothing left to do.
    again = generate_responses("openai:m", samples, tmp_path / "ray", opts=opts, engine="ray", concurrency=2)
    assert again.skipped == 6 and again.written == 0
