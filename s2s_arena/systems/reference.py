"""Reference systems: controlled responses whose true ordering is known, for judge calibration.

Rendered from each sample's ``reference_response`` and ``requirements`` with ``s2s_arena.synth``,
all four with the same voice seed per sample, so each pair differs only in what it is meant to:

* ``reference``: the right content, delivered as required;
* ``flat``: the right content, neutral delivery (only content-shaping requirements kept: the
  response language and the number of repetitions);
* ``off_topic``: a fluent answer to a different sample (same response language, other task where
  possible, picked deterministically from the seed), delivered as required;
* ``echo``: the instruction's own words, delivered as required (a parrot, not an answer).

So ``reference`` vs ``flat`` is a paralinguistic-only difference, ``reference`` vs ``off_topic`` and
``reference`` vs ``echo`` are content-only differences.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Iterable

from s2s_arena import __version__
from s2s_arena.audio import atomic_write_bytes
from s2s_arena.responses import ResponseWriter
# a flat delivery keeps the requirements on WHAT is said (CONTENT_ATTRIBUTES)
from s2s_arena.schema import CONTENT_ATTRIBUTES, Sample, SchemaError, SystemInfo
from s2s_arena.systems import REFERENCE_SYSTEMS
DESCRIPTIONS: dict[str, str] = {
    "reference": "reference_response spoken with the required paralinguistics",
    "flat": "reference_response spoken neutrally (required paralinguistics dropped)",
    "off_topic": "another sample's reference_response spoken with this sample's required paralinguistics",
    "echo": "the instruction text spoken back with the required paralinguistics",
}


def _response_language(sample: Sample) -> str:
    lang = sample.requirements.get("language", sample.language)
    return str(lang[0] if isinstance(lang, list) else lang).split("-")[0].lower()


def _voice_seed(sample: Sample, seed: int) -> int:
    """One seed per sample (same for all four systems: they share the voice)."""
    digest = hashlib.sha256(f"{seed}:{sample.id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def off_topic_source(samples: list[Sample], index: int, seed: int = 0) -> Sample:
    """The sample whose reference answer the off-topic system speaks for ``samples[index]``.

    Candidates share the response language (an off-topic answer in another language would also be a
    language failure) and differ in task, else in seed; the pick is a seeded hash, so it is stable
    under reordering and resuming.
    """
    me = samples[index]
    lang = _response_language(me)
    pools = [
        [s for s in samples if s.task != me.task and s.reference_response.strip() and _response_language(s) == lang],
        [s for s in samples if s.seed_id != me.seed_id and s.id != me.id and s.reference_response.strip()
         and _response_language(s) == lang],
        [s for s in samples if s.id != me.id and s.reference_response.strip() and s.reference_response != me.reference_response],
    ]
    pool = next((p for p in pools if p), None)
    if not pool:
        raise SchemaError(f"sample {me.id!r}", "reference_response",
                          "no other sample with a reference_response to take an off-topic answer from")
    pool = sorted(pool, key=lambda s: hashlib.sha256(f"{seed}:{me.id}:{s.id}".encode()).hexdigest())
    return pool[0]


def plan_response(system: str, samples: list[Sample], index: int, seed: int = 0) -> dict[str, Any]:
    """What a reference system says for one sample: text, language, attributes (and the source)."""
    s = samples[index]
    required = dict(s.requirements)
    if system == "reference":
        return {"text": s.reference_response, "language": s.language, "attributes": required}
    if system == "flat":
        kept = {k: v for k, v in required.items() if k in CONTENT_ATTRIBUTES}
        return {"text": s.reference_response, "language": s.language, "attributes": kept}
    if system == "off_topic":
        src = off_topic_source(samples, index, seed)
        return {"text": src.reference_response, "language": s.language, "attributes": required, "source_sample": src.id}
    if system == "echo":
        # The instruction is in the instruction's language; requiring another language would make the
        # echo a language failure on top of a content failure, so the echo keeps the instruction's.
        attrs = {k: v for k, v in required.items() if k != "language"}
        return {"text": s.instruction_text, "language": s.language, "attributes": attrs}
    raise SchemaError("systems", "system", f"unknown reference system {system!r}; expected one of {', '.join(REFERENCE_SYSTEMS)}")


def render_reference_systems(
    samples: Iterable[Sample],
    resp_dir: str | Path,
    systems: Iterable[str] = REFERENCE_SYSTEMS,
    seed: int = 0,
    synth_spec: str = "espeak",
    progress: bool = True,
) -> dict[str, Path]:
    """Render the reference systems into ``resp_dir/<system>/`` (resumable); return system -> folder.

    A sample without a ``reference_response`` gets a manifest error row (counted, never silently
    skipped); so does one the synthesizer cannot speak.
    """
    from tqdm.auto import tqdm

    from s2s_arena.synth import SynthError, get_synthesizer

    samples = list(samples)
    systems = list(systems)
    for name in systems:
        if name not in REFERENCE_SYSTEMS:
            raise SchemaError("systems", "system", f"unknown reference system {name!r}; expected one of {', '.join(REFERENCE_SYSTEMS)}")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SchemaError("samples", "id", f"duplicate sample ids: {', '.join(dup[:5])}")
    resp_dir = Path(resp_dir)
    synth = None
    writers = {
        name: ResponseWriter(resp_dir, SystemInfo(
            name=name, version=__version__, organisation="S2S-Arena", kind="academic", architecture="reference",
            backbone=f"tts:{synth_spec}", description=DESCRIPTIONS[name], spec=name))
        for name in systems
    }
    todo = [(name, i) for name in systems for i, s in enumerate(samples)
            if s.id not in writers[name].done]
    counts = {name: {"rendered": 0, "failed": 0, "skipped": len(samples) - sum(1 for n, _ in todo if n == name)}
              for name in systems}
    for name, i in tqdm(todo, desc="rendering reference systems", unit="response", disable=not progress):
        s = samples[i]
        w = writers[name]
        if not s.reference_response.strip() and name in ("reference", "flat"):
            w.write(s.id, None, error="sample has no reference_response to speak")
            counts[name]["failed"] += 1
            continue
        try:
            plan = plan_response(name, samples, i, seed)
        except SchemaError as e:
            w.write(s.id, None, error=str(e))
            counts[name]["failed"] += 1
            continue
        if synth is None:
            synth = get_synthesizer(synth_spec)
        start = time.perf_counter()
        try:
            out = synth.synthesize(plan["text"], language=plan["language"], attributes=plan["attributes"],
                                   seed=_voice_seed(s, seed))
        except (SynthError, ValueError) as e:
            w.write(s.id, None, error=f"synthesis failed: {e}")
            counts[name]["failed"] += 1
            continue
        meta = {k: v for k, v in plan.items() if k != "text"}
        meta.update({"voice": out.voice, "synth": synth_spec,
                     "unsupported": list(out.meta.get("unsupported", []) or [])})
        w.write(s.id, out.audio, out.sr, text=plan["text"], latency_total_s=time.perf_counter() - start, meta=meta)
        counts[name]["rendered"] += 1
    manifest = {
        "what": "reference systems for judge calibration",
        "systems": systems, "seed": seed, "synth": synth_spec,
        "synth_version": getattr(synth, "version", None) if synth is not None else None,
        "s2s_arena_version": __version__, "n_samples": len(samples), "counts": counts,
    }
    atomic_write_bytes(resp_dir / "reference_systems.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return {name: writers[name].dir for name in systems}
