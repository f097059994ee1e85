"""The build report: counts, rejection reasons and QA distributions (Markdown, JSON and plots)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from s2s_arena.schema import LEVELS


def _dist(values: list[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"n": 0, "median": None, "p10": None, "p90": None}
    return {"n": int(v.size), "median": round(float(np.median(v)), 3), "p10": round(float(np.percentile(v, 10)), 3),
            "p90": round(float(np.percentile(v, 90)), 3)}


def _check_values(rows: list[dict[str, Any]], name: str, key: str | None = None) -> list[float]:
    out = []
    for r in rows:
        for c in r["qa"].get("checks", []):
            if c["name"] == name and c["measured"] is not None:
                m = c["measured"][key] if key else c["measured"]
                if isinstance(m, (int, float)):
                    out.append(float(m))
    return out


def _words(r: dict[str, Any]) -> int:
    return max(1, len(str(r.get("instruction_text") or "").replace("|", " ").split()))


def wer_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Corpus WER (word errors over reference words, i.e. WER weighted by length), mean WER and the
    share of clips above 0.5, over rows that have a WER."""
    rs = [r for r in rows if isinstance(r["qa"].get("wer"), (int, float))]
    if not rs:
        return {"n": 0, "corpus_wer": None, "mean_wer": None, "share_over_0.5": None}
    w = np.array([r["qa"]["wer"] for r in rs], float)
    n = np.array([_words(r) for r in rs], float)
    return {"n": len(rs), "corpus_wer": round(float(np.sum(w * n) / np.sum(n)), 4), "mean_wer": round(float(w.mean()), 4),
            "share_over_0.5": round(float(np.mean(w > 0.5)), 4)}


def gate_report(rows: list[dict[str, Any]], kept: list[dict[str, Any]]) -> dict[str, Any]:
    """What the intelligibility gate did, and WER of the kept samples by subset, condition, backend, language."""
    from .writer import subset

    outcomes = Counter(r["qa"]["gate"]["outcome"] for r in rows if r["qa"].get("gate"))
    first_tries = [dict(r, qa={"wer": r["qa"]["gate"]["tries"][0]["wer"]}, instruction_text=r["instruction_text"])
                   for r in rows if r["qa"].get("gate")]
    by_first_condition: dict[str, list] = {}
    for r in rows:
        g = r["qa"].get("gate")
        if g:
            t = g["tries"][0]
            by_first_condition.setdefault(t["condition"] or "clean", []).append(
                {"qa": {"wer": t["wer"]}, "instruction_text": r["instruction_text"]})

    def group(key) -> dict[str, Any]:
        out: dict[str, list] = {}
        for r in kept:
            out.setdefault(key(r), []).append(r)
        return {k: wer_summary(v) for k, v in sorted(out.items())}

    return {
        "asr": next((r["qa"].get("asr") for r in rows if r["qa"].get("asr")), None),
        "outcomes": dict(outcomes),
        "first_try": wer_summary(first_tries),
        "first_try_by_condition": {k: wer_summary(v) for k, v in sorted(by_first_condition.items())},
        "kept": wer_summary(kept),
        "kept_by_subset": group(subset),
        "kept_by_condition": group(lambda r: r["augmentation"].get("condition") or "clean"),
        "kept_by_source": group(lambda r: r["source"]),
        "kept_by_language": group(lambda r: r["language"]),
    }


def build_report(rows: list[dict[str, Any]], kept: list[dict[str, Any]]) -> dict[str, Any]:
    from .writer import SUBSETS, subset

    rejected = [r for r in rows if not r["qa"].get("pass")]
    by_check: dict[str, Counter] = {}
    for r in rows:
        for c in r["qa"].get("checks", []):
            by_check.setdefault(c["name"], Counter())[{True: "pass", False: "fail", None: "recorded"}[c["pass"]]] += 1
    snr_err = [r["augmentation"]["snr_measured_db"] - r["augmentation"]["snr_db"] for r in kept
               if r["augmentation"].get("snr_db") is not None and r["augmentation"].get("snr_measured_db") is not None]
    return {
        "rendered": len(rows), "kept": len(kept), "rejected": len(rejected),
        "counts": {
            "level": {lv: n for lv in LEVELS if (n := sum(r["level"] == lv for r in kept))},
            "domain": dict(sorted(Counter(r["domain"] for r in kept).items())),
            "task": dict(sorted(Counter(r["task"] for r in kept).items())),
            "language": dict(sorted(Counter(r["language"] for r in kept).items())),
            "stage": dict(sorted(Counter(r["stage"] for r in kept).items())),
            "source": dict(sorted(Counter(r["source"] for r in kept).items())),
            "condition": dict(sorted(Counter(r["augmentation"].get("condition") or "clean" for r in kept).items())),
            "subset_level": {sub: {lv: n for lv in LEVELS if (n := sum(r["level"] == lv and subset(r) == sub for r in kept))}
                             for sub in SUBSETS},
            "voice": dict(Counter(str(r["augmentation"].get("voice")) for r in kept).most_common()),
        },
        "gate": gate_report(rows, kept),
        "rooms": {c: {k: _dist([(r["augmentation"].get("rir") or {}).get(k) for r in kept
                                 if r["augmentation"].get("condition") == c]) for k in ("drr_db", "c50_db")}
                  for c in sorted({r["augmentation"].get("condition") for r in kept if r["augmentation"].get("rir")})},
        "rejections": dict(Counter(reason for r in rejected for reason in r["qa"].get("reasons", [])).most_common()),
        "rejections_by_level": {lv: sum(r["level"] == lv for r in rejected) for lv in LEVELS},
        "checks": {k: dict(v) for k, v in sorted(by_check.items())},
        "qa_distributions": {
            "duration_s": _dist([r["qa"]["measured"]["duration_s"] for r in kept]),
            "articulation_rate_sps": _dist([r["qa"]["measured"]["articulation_rate_sps"] for r in kept]),
            "rate_ratio_vs_neutral (rate cues)": _dist(_check_values(kept, "speaking_rate")),
            "f0_delta_st_vs_neutral (pitch cues)": _dist(_check_values(kept, "pitch")),
            "loudness_delta_lu_vs_neutral (volume cues)": _dist(_check_values(kept, "volume")),
            "voiced_fraction (whisper cues)": _dist(_check_values(kept, "voice_quality")),
            "snr_error_db (measured - target)": _dist(snr_err),
            "asr_wer": _dist([r["qa"].get("wer") for r in kept]),
        },
    }


def _plots(report: dict[str, Any], rows: list[dict[str, Any]], kept: list[dict[str, Any]], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bottoms = np.zeros(len(LEVELS))
    for stage in ("seed", "augment"):
        vals = np.array([sum(r["level"] == lv and r["stage"] == stage for r in kept) for lv in LEVELS])
        ax.bar(LEVELS, vals, bottom=bottoms, label=stage)
        bottoms += vals
    rej = np.array([report["rejections_by_level"][lv] for lv in LEVELS])
    ax.bar(LEVELS, rej, bottom=bottoms, label="rejected by QA", color="lightgray")
    ax.set_ylabel("samples")
    ax.set_title("Samples per level")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "build_levels.png", dpi=110)
    plt.close(fig)
    files.append("build_levels.png")

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    ratios = {v: [c["measured"] for r in rows for c in r["qa"].get("checks", [])
                  if c["name"] == "speaking_rate" and isinstance(c["measured"], float) and c["expected"].startswith(v)]
              for v in ("slow", "fast")}
    for v, xs in ratios.items():
        if xs:
            axes[0].hist(xs, bins=20, alpha=0.7, label=f"{v} ({len(xs)})")
    axes[0].axvline(1.0, color="k", lw=0.8)
    axes[0].set_title("rate / neutral rate (all rendered)")
    if any(ratios.values()):
        axes[0].legend(fontsize=8)
    by_cond: dict[str, list[float]] = {}
    for r in kept:
        a = r["augmentation"]
        if a.get("snr_measured_db") is not None:
            by_cond.setdefault(a["condition"], []).append(a["snr_measured_db"])
    if by_cond:
        names = sorted(by_cond)
        axes[1].boxplot([by_cond[n] for n in names], tick_labels=names, vert=False)
    axes[1].set_title("SNR of the stored audio per condition (dB)")
    axes[1].tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "build_qa.png", dpi=110)
    plt.close(fig)
    files.append("build_qa.png")
    return files


def write_report(report: dict[str, Any], rows: list[dict[str, Any]], kept: list[dict[str, Any]], out: Path) -> None:
    from s2s_arena.audio import atomic_write_bytes

    plots = _plots(report, rows, kept, out)
    report = {**report, "plots": plots}
    atomic_write_bytes(out / "build_report.json", json.dumps(report, indent=2, ensure_ascii=False).encode())

    def table(d: dict, k: str = "key", v: str = "samples") -> str:
        return "\n".join([f"| {k} | {v} |", "|---|---|"] + [f"| {a} | {b} |" for a, b in d.items()])

    dist = "\n".join(["| measure | n | median | p10 | p90 |", "|---|---|---|---|---|"] + [
        f"| {k} | {d['n']} | {d['median']} | {d['p10']} | {d['p90']} |" for k, d in report["qa_distributions"].items()])
    checks = "\n".join(["| check | pass | fail | recorded only |", "|---|---|---|---|"] + [
        f"| {k} | {c.get('pass', 0)} | {c.get('fail', 0)} | {c.get('recorded', 0)} |" for k, c in report["checks"].items()])
    g = report["gate"]
    wer_rows = [("first try, all", g["first_try"]), ("kept, all", g["kept"])]
    wer_rows += [(f"kept, subset {k}", v) for k, v in g["kept_by_subset"].items()]
    wer_rows += [(f"first try, condition {k}", v) for k, v in g["first_try_by_condition"].items()]
    wer_rows += [(f"kept, {k}", v) for k, v in g["kept_by_source"].items()]
    wer_rows += [(f"kept, language {k}", v) for k, v in g["kept_by_language"].items()]
    gate_md = ("Outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(g["outcomes"].items())) or "gate off") + "\n\n"
               + "\n".join(["| samples | n | corpus WER | mean WER | share WER > 0.5 |", "|---|---|---|---|---|"]
                            + [f"| {k} | {v['n']} | {v['corpus_wer']} | {v['mean_wer']} | {v['share_over_0.5']} |"
                               for k, v in wer_rows]))
    md = f"""# Build report

Rendered {report['rendered']} candidate samples; kept **{report['kept']}**, rejected {report['rejected']} by QA.

![samples per level](build_levels.png) ![QA](build_qa.png)

## Per level
{table(report['counts']['level'], 'level')}

## Per domain
{table(report['counts']['domain'], 'domain')}

## Per language
{table(report['counts']['language'], 'language')}

## Per stage, source and acoustic condition
{table({**report['counts']['stage'], **report['counts']['source']}, 'stage / source')}

{table(report['counts']['condition'], 'condition')}

## Intelligibility gate ({report['gate']['asr'] or 'off'})
{gate_md}

## Rejection reasons (a sample can fail several checks)
{table(report['rejections'] or {'(none)': 0}, 'failed check', 'samples')}

## Checks
{checks}

## QA distributions (kept samples)
{dist}

## Per task
{table(report['counts']['task'], 'task')}
"""
    atomic_write_bytes(out / "build_report.md", md.encode())
