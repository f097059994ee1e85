"""Can the emotion of an instruction be told from ONE clip? An independent classifier answers.

    .venv/bin/python benchmarks/bench_emotion_classifier.py [--texts 24] [--workers 2] [--emotions a,b,...]

Renders texts from the catalogue's L0 instructions (content that carries no emotion) with each emotion
cue, through the build's own renderer (voices drawn as in a build: Piper speakers and eSpeak NG
variants, level normalisation, no noise), and no neutral twin reaches the classifier: each clip is
judged alone, as a model under test hears it. Features are the eGeMAPS v02 functionals (openSMILE);
the classifier is a standardised logistic regression; folds are disjoint in text (GroupKFold), so
nothing about a sentence leaks from training to test. Prints balanced accuracy, per-class recall and
the confusion matrix. Target (issue 12): >= 0.85 balanced accuracy over the labels the dataset keeps.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEPT = ("neutral", "happy", "sad", "angry", "fearful")

_R = None


def _init(work: str) -> None:
    global _R
    from s2s_arena_dataset.pipeline.render import Renderer

    _R = Renderer({"seed": 0, "work_dir": work, "synth": "auto", "asr": "none"})


def _one(job: dict):
    import numpy as np
    import opensmile

    from s2s_arena import audio as A

    row = _R.render(job)  # type: ignore[union-attr]
    if not row["audio_file"]:
        return None
    x = A.load_audio(Path(_R.work) / row["audio_file"])  # type: ignore[union-attr]
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
    f = smile.process_signal(x, A.SAMPLE_RATE).to_numpy()[0].astype(np.float32)
    return job["emotion"], job["text_id"], row["source"], row["augmentation"]["voice"], f


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--emotions", default=",".join(KEPT))
    ap.add_argument("--folds", type=int, default=4)
    args = ap.parse_args()
    emotions = [e.strip() for e in args.emotions.split(",") if e.strip()]

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from s2s_arena_dataset.catalogue import load_catalogue
    from s2s_arena_dataset.pipeline.augment import as_voices, seed_variant
    from s2s_arena.synth import get_synthesizer

    seeds = [s for s in load_catalogue().seeds(level="L0") if s.language == "en" and "|" not in s.instruction]
    rng = np.random.default_rng(0)
    seeds = [seeds[i] for i in rng.permutation(len(seeds))[: args.texts]]
    voices = as_voices(get_synthesizer("auto").voices("en"))
    jobs = []
    for ti, s in enumerate(seeds):
        for emo in emotions:
            cues = {} if emo == "neutral" else {"emotion": emo}
            sid = f"{s.id.rsplit('-', 2)[0]}-L1-{90 + ti:02d}"
            seed = {**s.to_dict(), "id": sid, "level": "L1", "input_cues": cues}
            var = seed_variant(cues, voices, zlib.crc32(emo.encode()), sid, "en").to_dict()
            jobs.append({"job_key": f"{ti}-{emo}", "sample_id": f"{sid}-{emo}", "seed": seed, "variant": var,
                         "emotion": emo, "text_id": ti})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        if args.workers > 1:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(args.workers, initializer=_init, initargs=(work,)) as pool:
                out = [r for r in pool.imap_unordered(_one, jobs) if r is not None]
        else:
            _init(work)
            out = [r for r in map(_one, jobs) if r is not None]
    render_s = time.perf_counter() - t0
    y = np.array([o[0] for o in out])
    groups = np.array([o[1] for o in out])
    X = np.stack([o[4] for o in out])
    sources = np.array([o[2] for o in out])
    pred = np.empty_like(y)
    for train, test in GroupKFold(n_splits=args.folds).split(X, y, groups):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
        clf.fit(X[train], y[train])
        pred[test] = clf.predict(X[test])
    labels = [e for e in emotions if e in set(y)]
    print(f"clips: {len(y)} ({len(seeds)} texts x {len(emotions)} emotions; sources: "
          f"{dict(zip(*np.unique(sources, return_counts=True)))}), rendered in {render_s:.0f} s on {args.workers} workers, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"balanced accuracy (text-disjoint {args.folds}-fold, eGeMAPS + logistic regression): "
          f"{balanced_accuracy_score(y, pred):.3f}")
    for src in sorted(set(sources)):
        m = sources == src
        print(f"  {src}: balanced accuracy {balanced_accuracy_score(y[m], pred[m]):.3f} (n={int(m.sum())})")
    cm = confusion_matrix(y, pred, labels=labels)
    print("confusion (rows true, columns predicted): " + " ".join(f"{lab[:7]:>7s}" for lab in labels))
    for lab, row in zip(labels, cm):
        print(f"  {lab:>10s} " + " ".join(f"{v:7d}" for v in row) + f"   recall {row[labels.index(lab)] / max(1, row.sum()):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
