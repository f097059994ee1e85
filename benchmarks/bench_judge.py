"""Speed of the `feature` judge: pairs per second (both orders, 5-second clips) and peak memory.

Each pair holds two distinct 5-second eSpeak NG clips (no clip appears in two pairs, so nothing is
reused across pairs); each pair is judged in both orders, as the protocol does. The judge measures a
clip once and caches it by audio hash, so the second order costs no measurement. Rendering the clips
is not timed, nor is the run that measures Python allocations (tracemalloc slows every allocation).

    .venv/bin/python benchmarks/bench_judge.py [--pairs 60] [--repeat 3] [--content-samples 8] [--workers 1,2]

(``--content-samples 0`` times only the part without content.)

Two parts:
* without content (``asr="none"``), distinct pairs as above; target (issue 10): >= 40 pairs/s;
* with content (the default: bundled Whisper base + multilingual-e5-small), a 4-system round robin as
  ``s2s-arena judge`` runs it: per sample four distinct 5 s clips, all six system pairs in both orders,
  each clip transcribed once (transcripts cached by audio hash; the on-disk transcript cache is off so
  every clip is really recognised); target (issue 10): >= 3 pairs/s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np

SR = 24000
CLIP_S = 5.0
TEXTS = [
    "The weather is lovely today and I think we should go for a long walk in the park before lunch.",
    "Please remember to buy eggs, flour, butter and some fresh milk on your way home from work.",
    "Our train leaves at half past nine, so we should get to the station a little early tomorrow.",
    "The museum opens at ten, and the new exhibition about the ocean is on the second floor.",
    "If it rains this afternoon, we can stay inside, read a book and bake some bread together.",
    "My sister plays the violin in a small orchestra that performs every Sunday in the town hall.",
]
SCENARIOS = {
    "single-value requirements (rate, pitch, pauses)": {"speaking_rate": "slow", "pitch": "high", "pauses": 2},
    "a rate sequence (slow -> normal -> fast)": {"speaking_rate": ["slow", "normal", "fast"]},
}


def five_seconds(synth, text: str, attrs: dict, seed: int) -> np.ndarray:
    """A whole utterance padded with silence to exactly 5 s (words are dropped until it fits, so no
    clip is cut mid-speech, which the judge would veto as truncated)."""
    n = int(CLIP_S * SR)
    words = text.split()
    while True:
        x = synth.synthesize(" ".join(words), attributes=attrs, seed=seed).audio
        if x.shape[0] <= n or len(words) <= 3:
            return np.concatenate([x[:n], np.zeros(max(0, n - x.shape[0]), np.float32)])
        words = words[:-1]


def render_clips(count: int) -> list[np.ndarray]:
    from s2s_arena.synth import get_synthesizer

    synth = get_synthesizer("espeak")
    variants = [{}, {"speaking_rate": "slow"}, {"pitch": "high"}, {"pauses": 2}, {"speaking_rate": "fast"},
                {"volume": "loud"}]
    clips = []
    for i in range(count):
        text = TEXTS[i % len(TEXTS)]
        attrs = variants[(i // len(TEXTS)) % len(variants)]
        x = five_seconds(synth, text, attrs, seed=i)
        x = x * np.float32(1.0 - 1e-3 * (i // (len(TEXTS) * len(variants))))  # keep every clip distinct
        clips.append(x.astype(np.float32))
    return clips


def run(pairs: int, repeat: int, content_samples: int = 8, workers: tuple[int, ...] = (1, 2)) -> int:
    from s2s_arena.judging.judges import PairInput
    from s2s_arena.judging.judges.feature import FeatureJudge

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; python {platform.python_version()}")
    clips = render_clips(2 * pairs)
    print(f"clips: {len(clips)} distinct eSpeak NG clips of {CLIP_S:.0f} s at {SR} Hz; {pairs} pairs, both orders")
    warm = FeatureJudge(asr="none")  # import parselmouth/scipy once so the first timed pair is not an import
    warm.judge([PairInput(_sample({}), clips[0], clips[1])])
    ok = True
    for name, req in SCENARIOS.items():
        smp = _sample(req)
        for n_workers in workers:
            rates, cpu_ms = [], []
            for _ in range(repeat):
                start, cpu0 = time.perf_counter(), _cpu_s()
                judge_all(FeatureJudge, PairInput, smp, clips, pairs, n_workers)
                rates.append(pairs / (time.perf_counter() - start))
                cpu_ms.append(1000 * (_cpu_s() - cpu0) / pairs)
            # Allocations in a separate, untimed run: tracemalloc hooks every allocation and would
            # add a third to the measured time.
            tracemalloc.start()
            judge_all(FeatureJudge, PairInput, smp, clips, min(pairs, 16), n_workers)
            _, peak_py = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            best, med = max(rates), statistics.median(rates)
            met = med >= 40.0
            ok &= met or n_workers > 1
            cpu = statistics.median(cpu_ms)
            print(f"{name}, workers={n_workers}: {med:.1f} pairs/s wall-clock, median of {repeat} runs "
                  f"(best {best:.1f}); {cpu:.0f} ms CPU per pair (all processes; {1000 / cpu:.1f} pairs/s "
                  f"per free core) -> target 40 pairs/s {'met' if met else 'MISSED'}; load average "
                  f"{os.getloadavg()[0]:.1f}; peak Python allocations {peak_py / 2**20:.1f} MiB (separate untimed run)")
    if content_samples > 0:
        ok &= content_round_robin(clips, FeatureJudge, PairInput, content_samples, repeat)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak resident memory of the whole process: {rss:.0f} MiB")
    return 0 if ok else 1


def judge_all(FeatureJudge, PairInput, smp, clips: list[np.ndarray], pairs: int, workers: int) -> None:
    """Judge ``pairs`` pairs in both orders with a fresh judge (so every clip is measured once), in
    batches of 8 pairs x 2 orders as judge_pairs sends them."""
    judge = FeatureJudge(asr="none", workers=workers)
    try:
        for k0 in range(0, pairs, 8):
            batch = []
            for k in range(k0, min(pairs, k0 + 8)):
                a, b = clips[2 * k], clips[2 * k + 1]
                batch += [PairInput(smp, a, b), PairInput(smp, b, a)]
            out = judge.judge(batch)
            assert all(j.verdict != "invalid" and "veto" not in j.meta for j in out), out[0].reason
    finally:
        judge.close()  # reaps the workers, so their CPU time is counted by the caller


def content_round_robin(clips, FeatureJudge, PairInput, n_samples: int, repeat: int) -> bool:
    """Content on: ``n_samples`` samples x 4 systems (distinct 5 s clips), 6 pairs each, both orders."""
    import itertools

    from s2s_arena.asr import FasterWhisperASR, whisper_base_dir
    from s2s_arena.semantics import default_embedder

    if whisper_base_dir() is None or default_embedder() is None:
        print("content on: SKIPPED (the asr extra is not installed)")
        return False
    need = 4 * n_samples
    pool = clips[:need] if len(clips) >= need else (clips * (need // len(clips) + 1))[:need]
    # Warm-up (not timed): CTranslate2 and the embedder allocate their buffers on first use.
    warm = FeatureJudge(asr=FasterWhisperASR(str(whisper_base_dir()), name="bundled:whisper-base"),
                        embedder=default_embedder())
    w4 = [(c * np.float32(0.5)).astype(np.float32) for c in pool[:4]]
    warm.judge([PairInput(_sample({}, sid="warm"), w4[a], w4[b]) for a, b in itertools.combinations(range(4), 2)])
    rates, per_clip, cpu_clip = [], [], []
    for r in range(repeat):
        # A fresh recogniser without the disk cache, and clips scaled per repeat: every clip is recognised.
        asr = FasterWhisperASR(str(whisper_base_dir()), name="bundled:whisper-base")
        judge = FeatureJudge(asr=asr, embedder=default_embedder())
        rr = [(c * np.float32(1.0 - 1e-4 * (r + 1))).astype(np.float32) for c in pool]
        start, cpu0 = time.perf_counter(), _cpu_s()
        for i in range(n_samples):
            smp = _sample({"speaking_rate": "slow"}, sid=f"bench{i}")
            four = rr[4 * i: 4 * i + 4]
            batch = []
            for a, b in itertools.combinations(range(4), 2):
                batch += [PairInput(smp, four[a], four[b]), PairInput(smp, four[b], four[a])]
            out = judge.judge(batch)
            assert all(j.verdict != "invalid" and "content" not in j.meta["abstained"] for j in out), out[0].reason
        dt = time.perf_counter() - start
        rates.append(6 * n_samples / dt)
        per_clip.append(dt / need)
        cpu_clip.append((_cpu_s() - cpu0) / need)
    med = statistics.median(rates)
    met = med >= 3.0
    print(f"content on (bundled Whisper base + e5), 4-system round robin, {n_samples} samples x 6 pairs, both "
          f"orders: {med:.2f} pairs/s ({2 * med:.2f} ordered judgements/s), median of {repeat} runs; "
          f"{1000 * statistics.median(per_clip):.0f} ms wall, {1000 * statistics.median(cpu_clip):.0f} ms CPU per clip "
          f"(recognition + embeddings + measurement; 2 cores idle would give about "
          f"{6 / (4 * statistics.median(cpu_clip) / 2):.1f} pairs/s) -> target 3 pairs/s "
          f"{'met' if met else 'MISSED'}; load average {os.getloadavg()[0]:.1f}")
    return met


def _cpu_s() -> float:
    """CPU seconds of this process and of its reaped worker processes (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _sample(req: dict, sid: str = "bench"):
    from s2s_arena.schema import Sample

    return Sample(id=sid, level="L2", domain="bench", task="bench", language="en",
                  instruction_text="Read this slowly, in a high voice, with two pauses.",
                  evaluation_target="Does the response follow the requested delivery?", requirements=req,
                  reference_response=TEXTS[0])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--content-samples", type=int, default=8,
                    help="samples in the content-on round robin (0: skip that part)")
    ap.add_argument("--workers", default="1,2", help="worker counts to time without content (default 1,2)")
    args = ap.parse_args()
    sys.exit(run(args.pairs, args.repeat, args.content_samples, tuple(int(w) for w in args.workers.split(","))))
