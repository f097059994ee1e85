"""Render one build job (a seed rendering, an augmented variant or a human recording) into a row.

A ``Renderer`` lives once per worker process: it holds the synthesiser, the babble bank, the ASR of the
intelligibility gate, the optional paraphraser, and a small cache of neutral renderings. ``render(job)``
returns the row that goes into the work JSONL: the sample's fields, where its audio was written, and its
``qa`` record. Rejected samples are returned too (``qa.pass`` false, no audio kept) so a rerun does not
retry them.

The intelligibility gate: the bundled Whisper transcribes every synthetic rendering; one whose word
error rate is above the bar for its subset is rendered again, first by another voice (the neural one
where it can speak the cues), then in a milder condition, and dropped if that fails too. Every try is
recorded in ``qa.gate``.
"""

from __future__ import annotations

import importlib.util
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from s2s_arena import audio as A
from s2s_arena import prosody

from . import qa
from .conditions import CONDITIONS, apply_condition, measured_snr_db
from .paraphrase import get_paraphraser, paraphrase

TARGET_LUFS = -23.0
PEAK_CEILING = 0.95
NEUTRAL_CACHE = 64
AUDIO_FORMAT = "flac"  # lossless and about half the size of WAV; datasets/torchcodec decode it
# Cues whose check compares with the same voice's neutral rendering of the same text.
RELATIVE_CUES = ("speaking_rate", "pitch", "volume", "pauses")
# Cues that describe the speaker, kept in the neutral rendering so "neutral" means "this voice".
SPEAKER_CUES = ("speaker_gender", "speaker_age", "accent", "language")


def _level_keeping(cues: dict[str, Any]) -> bool:
    """Cues whose loudness must survive level normalisation (normalise by the neutral twin instead)."""
    from s2s_arena.synth.plan import EMOTION

    emo = cues.get("emotion")
    return cues.get("volume") in ("loud", "quiet") or (
        isinstance(emo, str) and EMOTION.get(emo, {}).get("volume_db", 0.0) != 0.0)


def subset_of(condition: str, cues: dict[str, Any]) -> str:
    """main | robustness. A noise that is the seed's own cue keeps the sample in the main set."""
    if cues.get("noise") is not None:
        return "main"
    return CONDITIONS[condition].subset if condition in CONDITIONS else "main"


def _needs_neutral(cues: dict[str, Any]) -> bool:
    return any(k in cues and cues[k] not in ("normal", "neutral") for k in RELATIVE_CUES)


def _babble_sentences() -> list[str]:
    import yaml

    return yaml.safe_load((Path(__file__).with_name("babble.yaml")).read_text(encoding="utf-8"))["sentences"]


class Renderer:
    def __init__(self, config: dict[str, Any]):
        from s2s_arena.synth import get_synthesizer

        self.config = config
        self.work = Path(config["work_dir"])
        spec = config.get("synth", "espeak")
        threads = int(config.get("asr_threads", 0))  # > 0: one of several parallel workers
        self.synth = get_synthesizer(spec, threads=threads) if spec in ("auto", "mix", "piper") and threads else \
            get_synthesizer(spec)
        self.source = f"tts:{getattr(self.synth, 'name', 'espeak-ng')}"
        self.asr = load_gate_asr(config.get("asr"), threads=int(config.get("asr_threads", 0)))
        self.paraphraser = get_paraphraser(config.get("paraphraser"), seed=int(config.get("seed", 0)))
        self.max_wer = float(config.get("max_wer") or qa.DEFAULT_MAX_WER)
        self.max_wer_robust = max(self.max_wer, qa.ROBUSTNESS_MAX_WER)
        self._voices: dict[str, list] = {}
        self._neutral: dict[tuple, tuple[np.ndarray, prosody.Prosody]] = {}
        self._bank: list[np.ndarray] | None = None

    # -- helpers ----------------------------------------------------------------------------------
    def bank(self) -> list[np.ndarray]:
        """Babble material: fixed everyday sentences in alternating voices (rendered once per worker)."""
        if self._bank is None:
            from .augment import as_voices

            voices = [v.name for v in as_voices(self.synth.voices("en"))] or [None]
            self._bank = []
            for i, text in enumerate(_babble_sentences()):
                res = self.synth.synthesize(text, language="en", voice=voices[(i * 7) % len(voices)], seed=i)
                self._bank.append(A.normalize_loudness(np.asarray(res.audio, np.float32), res.sr, TARGET_LUFS))
        return self._bank

    def _synth(self, text: str, language: str, attrs: dict, voice: str | None, rate: float, pitch: float, seed: int):
        res = self.synth.synthesize(text, language=language, attributes=attrs or None, voice=voice, rate=rate,
                                    pitch=pitch, seed=seed)
        x = A.to_mono(np.asarray(res.audio, dtype=np.float32))
        x = A.resample(x, int(res.sr), A.SAMPLE_RATE)
        return x, res

    def _neutral_of(self, text, language, cues, voice, rate, pitch, seed):
        attrs = {k: cues[k] for k in SPEAKER_CUES if k in cues}
        key = (text, language, tuple(sorted((k, str(v)) for k, v in attrs.items())), voice, rate, pitch)
        if key not in self._neutral:
            if len(self._neutral) >= NEUTRAL_CACHE:  # variants of one seed come together: old keys are done
                self._neutral.clear()
            x, _ = self._synth(text, language, attrs, voice, rate, pitch, seed)
            self._neutral[key] = (x, prosody.measure(x, A.SAMPLE_RATE, text=text))
        return self._neutral[key]

    def _transcribe(self, x: np.ndarray, language: str | None) -> str:
        out = self.asr.transcribe(x, A.SAMPLE_RATE, language=language)  # type: ignore[union-attr]
        return out if isinstance(out, str) else getattr(out, "text", str(out))

    def voices(self, language: str) -> list:
        from .augment import as_voices

        if language not in self._voices:
            self._voices[language] = as_voices(self.synth.voices(language))
        return self._voices[language]

    def _retry_variant(self, job: dict[str, Any], var: dict[str, Any], attempt: int) -> dict[str, Any] | None:
        """The next try after a rendering failed the gate: another voice, then a milder condition."""
        from .augment import alternative_voice, milder

        cues, language = job["seed"]["input_cues"], job["seed"]["language"]
        rng = np.random.default_rng([int(self.config.get("seed", 0)), zlib.crc32(job["sample_id"].encode()), attempt])
        voice = alternative_voice(var.get("voice"), self.voices(language), cues, language, rng)
        if attempt == 1:
            if voice is None:
                attempt = 2  # no other voice: go straight to the milder condition
            else:
                return {**var, "voice": voice}
        if attempt == 2:
            cond, snr = milder(var, cues)
            if (cond, snr) == (var.get("condition"), var.get("snr_db")) and voice is None:
                return None
            return {**var, "voice": voice or var.get("voice"), "condition": cond, "snr_db": snr}
        return None

    # -- the job ------------------------------------------------------------------------------------
    def _tts(self, job: dict[str, Any], var: dict[str, Any], cues: dict[str, Any], rng: np.random.Generator,
             augmentation: dict[str, Any]):
        """Synthesise the instruction (and its neutral twin when a cue is relative); returns
        (speech, spoken text, neutral speech or None, neutral prosody or None, source)."""
        seed = job["seed"]
        language, text = seed["language"], seed["instruction"]
        if var.get("paraphrase"):
            keep = [w for a in ("emphasis", "pauses") for w in (cues.get(a) if isinstance(cues.get(a), list)
                    else [cues[a]] if isinstance(cues.get(a), str) else [])]
            text, augmentation["paraphrased"] = paraphrase(self.paraphraser, text, language, keep)
        synth_attrs = {k: v for k, v in cues.items() if k not in ("noise", "snr_db")}
        synth_seed = int(rng.integers(2**31))
        speech, res = self._synth(text, language, synth_attrs, var["voice"], var["rate"], var["pitch"], synth_seed)
        augmentation.update(voice=getattr(res, "voice", var["voice"]), rate=var["rate"], pitch=var["pitch"])
        source = f"tts:{res.meta.get('backend') or getattr(self.synth, 'name', 'espeak-ng')}"
        # the words actually spoken (repetitions and sequence parts included) are what ASR must hear
        augmentation["spoken_text"] = res.text or text
        if not _needs_neutral(cues):
            return speech, text, None, None, source
        neutral_x, neutral_p = self._neutral_of(text, language, cues, augmentation["voice"], var["rate"], var["pitch"],
                                                synth_seed)
        return speech, text, neutral_x, neutral_p, source

    def render(self, job: dict[str, Any]) -> dict[str, Any]:
        """Render, check and (when it passes) store one job; re-render what fails the gate."""
        var = dict(job["variant"])
        tries: list[dict[str, Any]] = []
        while True:
            row, data = self._render_once(job, var)
            q = row["qa"]
            gated = self.asr is not None and not job.get("human_file") and q.get("wer") is not None
            if gated:
                tries.append({"voice": row["augmentation"].get("voice"), "backend": row["source"],
                              "condition": var.get("condition"), "snr_db": var.get("snr_db"), "wer": q["wer"],
                              "max_wer": q.get("max_wer")})
            if not gated or q["pass"] or q["reasons"] != ["asr_wer"] or len(tries) >= qa.GATE_TRIES:
                break
            nxt = self._retry_variant(job, var, len(tries))
            if nxt is None:
                break
            var = nxt
        if gated:
            q["gate"] = {"tries": tries, "rerendered": len(tries) > 1,
                         "outcome": ("passed" if len(tries) == 1 else "passed_rerendered") if q["pass"] else
                         ("dropped" if q["reasons"] == ["asr_wer"] else "failed_other")}
        if q["pass"]:
            # keyed by job too: a build with another seed must not overwrite what this job rendered
            row["audio_file"] = f"audio/{job['sample_id']}.{job['job_key']}.{AUDIO_FORMAT}"
            A.atomic_write_bytes(self.work / row["audio_file"], data)
        return row

    def _render_once(self, job: dict[str, Any], var: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        seed = job["seed"]
        sample_id = job["sample_id"]
        rng = np.random.default_rng([int(self.config.get("seed", 0)), zlib.crc32(sample_id.encode())])
        cues = dict(seed["input_cues"])
        language = seed["language"]
        augmentation: dict[str, Any] = {"voice": None, "rate": None, "pitch": None, "noise": None, "snr_db": None,
                                        "rir": None, "paraphrased": False}
        keeps_level = _level_keeping(cues)
        if job.get("human_file"):
            speech = A.load_audio(job["human_file"], where=f"{job.get('human_where', 'human manifest')}: file")
            text, source, neutral_x, neutral_p = job.get("instruction_text") or seed["instruction"], "human", None, None
            augmentation["recording"] = Path(job["human_file"]).name
        else:
            speech, text, neutral_x, neutral_p, source = self._tts(job, var, cues, rng, augmentation)
        A.check_audio(speech, A.SAMPLE_RATE, where=f"sample {sample_id}")
        p = prosody.measure(speech, A.SAMPLE_RATE, text=text, where=f"sample {sample_id}")
        # Level: louder/quieter cues keep their difference from this voice's neutral level (a person's
        # recording with such a cue is left as recorded).
        if source == "human":
            lufs = A.loudness_lufs(speech, A.SAMPLE_RATE) if not keeps_level else math.nan
        elif keeps_level:
            # the synthesisers speak at absolute levels (neutral speech at VOLUME_LUFS["normal"]), so a
            # loud or angry clip keeps its offset without rendering a neutral twin just for its level
            from s2s_arena.synth.plan import VOLUME_LUFS

            lufs = VOLUME_LUFS["normal"]
        else:
            lufs = A.loudness_lufs(speech, A.SAMPLE_RATE)
        if math.isfinite(lufs):
            speech = speech * np.float32(10 ** ((TARGET_LUFS - lufs) / 20))
        cond = var["condition"]
        if var.get("snr_db") is not None and cues.get("noise") is not None:
            cues["snr_db"] = var["snr_db"]  # a milder re-rendering of a noise cue says what it now is
        mix, ref, info = apply_condition(speech, A.SAMPLE_RATE, cond, var["snr_db"], rng,
                                         self.bank() if cond in ("babble", "airport", "cafe") else ())
        peak = float(np.max(np.abs(mix))) if mix.size else 0.0
        if peak > PEAK_CEILING:  # scale mix and reference together: the SNR is unchanged
            mix, ref = mix * np.float32(PEAK_CEILING / peak), ref * np.float32(PEAK_CEILING / peak)
        data = A.encode(mix, A.SAMPLE_RATE, AUDIO_FORMAT)
        stored = A.load_audio(data, where=f"sample {sample_id}")  # QA judges what listeners will hear
        augmentation.update({k: info[k] for k in ("noise", "snr_db", "rir")})
        augmentation["condition"] = cond
        snr_meas = measured_snr_db(ref[: stored.shape[0]], stored[: ref.shape[0]]) if info["snr_db"] is not None else None
        augmentation["snr_measured_db"] = None if snr_meas is None else round(snr_meas, 2)

        checks = qa.check_cues(cues, p, neutral_p, text, stored_lufs=A.loudness_lufs(stored, A.SAMPLE_RATE))
        clipping = float(np.mean(np.abs(stored) >= 0.999)) if stored.size else 0.0
        checks += qa.check_signal(stored.shape[0] / A.SAMPLE_RATE, clipping, p.speech_s, text,
                                  info["snr_db"], augmentation["snr_measured_db"])
        record: dict[str, Any] = {"measured": qa.summarize(p)}
        if neutral_p is not None:
            record["neutral"] = qa.summarize(neutral_p)
        subset = subset_of(cond, cues)
        augmentation["subset"] = subset
        if self.asr is not None:
            spoken = augmentation.pop("spoken_text", None) or text
            langs = cues.get("language")
            asr_lang = None if isinstance(langs, list) and len(set(langs)) > 1 else language
            hyp = self._transcribe(stored, asr_lang)
            w = qa.intelligibility_wer(spoken, hyp, language)
            bar = self.max_wer if subset == "main" else self.max_wer_robust
            check = qa.check_asr(spoken, hyp, w, bar)
            if source == "human":
                check["pass"] = None  # recorded: a person's recording is the user's to judge, never silently dropped
            checks.append(check)
            record.update(asr_text=hyp, wer=round(w, 4), max_wer=bar, asr=getattr(self.asr, "name", "asr"))
        augmentation.pop("spoken_text", None)
        ok, reasons = qa.verdict(checks)
        record.update(checks=checks, reasons=reasons)
        record["pass"] = ok
        audio_file = None
        return {
            "job_key": job["job_key"], "id": sample_id, "level": seed["level"], "domain": seed["domain"],
            "task": seed["task"], "language": language, "instruction_text": text,
            "input_cues": cues, "requirements": seed["requirements"],
            "evaluation_target": seed["evaluation_target"], "reference_response": seed["reference_response"],
            "seed_id": seed["id"], "stage": var["stage"], "augmentation": augmentation, "source": source,
            "qa": record, "audio_file": audio_file,
        }, data


def load_gate_asr(spec: str | None, threads: int = 0):
    """The gate's recogniser: ``None``/"auto" the bundled default (off when none is installed), "none" off,
    anything else an ``s2s_arena.asr.get_asr`` spec. ``threads`` > 0 pins CTranslate2's threads, so
    parallel workers do not oversubscribe the cores."""
    from s2s_arena import asr as asrmod

    spec = (spec or "auto").strip()
    if spec.lower() in ("none", "off", "0"):
        return None
    if spec.lower() not in ("auto", "default", "bundled"):
        return asrmod.get_asr(spec)
    which = _bundled_choice()
    if which is None:
        return None
    if threads <= 0:
        return asrmod.bundled_asr(which)
    return asrmod.FasterWhisperASR(str(asrmod.BUNDLED_ASR[which]()), name=f"bundled:{which}", cpu_threads=threads,
                                   cache_dir=asrmod.cache_root() / "transcripts")


def _bundled_choice() -> str | None:
    """The bundled recogniser ``default_asr`` would use (S2S_ARENA_ASR respected), without loading it."""
    import os

    from s2s_arena import asr as asrmod

    choice = os.environ.get("S2S_ARENA_ASR", "").strip()
    if choice.lower() in ("none", "off", "0") or importlib.util.find_spec("faster_whisper") is None:
        return None
    for which in ([choice] if choice else ["whisper-base", "whisper-tiny.en"]):
        if which in asrmod.BUNDLED_ASR and asrmod.BUNDLED_ASR[which]() is not None:
            return which
    return None


def gate_asr_name(spec: str | None) -> str | None:
    """The name of the recogniser ``load_gate_asr(spec)`` would load; None when the gate is off."""
    spec = (spec or "auto").strip()
    if spec.lower() in ("none", "off", "0"):
        return None
    if spec.lower() not in ("auto", "default", "bundled"):
        return spec
    which = _bundled_choice()
    return f"bundled:{which}" if which else None
