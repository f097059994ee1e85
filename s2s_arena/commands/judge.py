"""`s2s-arena judge`: judge pairs of systems' spoken responses into verdict rows (JSONL), resumably."""

from __future__ import annotations

import argparse

HELP = "judge pairs of systems' responses (both orders) into verdicts.jsonl, with win rates per pair"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR", help="benchmark dataset folder (s2s-arena build) or Hub id")
    p.add_argument("--responses", required=True, metavar="RESP", help="responses folder RESP/<system>/ (or a Hub dataset)")
    p.add_argument("--judge", default="feature", metavar="SPEC",
                   help="feature (default) | hf:<model or path> | openai:<model> | hybrid:<lm spec>")
    from .args import add_list_argument

    add_list_argument(p, "--systems", metavar="NAME", help="only these systems: a,b or a b (default: all in RESP)")
    p.add_argument("--baseline", default=None, metavar="NAME",
                   help="judge every system against this one (default: every pair of systems)")
    p.add_argument("--out", default="verdicts.jsonl", metavar="FILE", help="verdict rows, appended (default verdicts.jsonl)")
    p.add_argument("--config", default=None,
                   help="dataset config (default: the dataset's default, `main` = everyday conditions; `robustness`, `all` or a task id)")
    add_list_argument(p, "--levels", choices=("L0", "L1", "L2", "L3"), metavar="LEVEL", help="only these levels: L2,L3 or L2 L3")
    p.add_argument("--limit", type=int, default=None, help="at most N samples (round-robin over levels)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local process or a Ray cluster")
    p.add_argument("--batch-size", type=int, default=8, help="ordered pairs per judge call (default 8)")
    p.add_argument("--concurrency", type=int, default=1, help="Ray actors (engine=ray)")
    p.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per Ray actor (hf: judges)")
    p.add_argument("--chunk", type=int, default=64, help="pairs whose audio is held in memory at once (default 64)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="judge option, repeatable: max_new_tokens=256, concurrency=8, timeout_s=60, device=cuda ...")
    p.add_argument("--cache", default=None, metavar="DIR", help="verdict cache folder (default ~/.cache/s2s_arena)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the verdict cache")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed for the printed confidence intervals")


def _done_pairs(out, judge) -> tuple[set, int]:
    """Pairs this judge configuration already decided in both orders (invalid rows are retried).

    Resumption is per judge configuration (name, version, config hash): a file holding another
    configuration's rows is refused, so two judges' verdicts are never mixed nor taken for done."""
    from s2s_arena.errors import UsageError
    from s2s_arena.jsonl import read_jsonl
    from s2s_arena.schema import Verdict

    mine = (judge.name, judge.version, judge.config_hash())
    orders: dict[tuple, set] = {}
    n = 0
    for i, row in read_jsonl(out):
        v = Verdict.from_dict(row, where=f"{out}:{i}")
        n += 1
        if v.judge_key != mine:
            raise UsageError(
                f"{out}: holds verdicts of judge {v.judge!r} version {v.judge_version!r} (config {v.prompt_hash}), "
                f"but this run is judge {mine[0]!r} version {mine[1]!r} (config {mine[2]}); give another --out so "
                "the two configurations' verdicts stay apart (a changed option is another configuration)")
        if v.verdict != "invalid":
            orders.setdefault((v.sample_id, frozenset((v.system_a, v.system_b))), set()).add(v.system_a)
    # both orders = each of the two systems was shown first once
    return {k for k, shown_first in orders.items() if len(shown_first) == 2}, n


def _kinds(counts: dict) -> str:
    return ", ".join(f"{kind}: {n}" for kind, n in counts.items())


def run(args: argparse.Namespace) -> int:
    import itertools
    import json
    import sys
    import time
    from pathlib import Path

    from tqdm.auto import tqdm

    from s2s_arena import __version__
    from s2s_arena.audio import AudioError
    from s2s_arena.benchmark import instruction_audio, load_benchmark
    from s2s_arena.commands.generate import parse_options
    from s2s_arena.errors import UsageError as CommandError
    from s2s_arena.jsonl import append_jsonl, drop_torn_tail, read_jsonl
    from s2s_arena.responses import load_responses
    from s2s_arena.schema import SchemaError, Verdict
    from s2s_arena.judging.judges import get_judge
    from s2s_arena.judging.protocol import Pair, as_cache, iter_judge_pairs, summarize
    from s2s_arena.outcomes import invalid_reasons, resolve

    if args.limit is not None and args.limit < 1:
        raise CommandError(f"--limit {args.limit}: expected a positive number of samples")
    if args.batch_size < 1 or args.chunk < 1 or args.concurrency < 1:
        raise CommandError("--batch-size, --chunk and --concurrency must be >= 1")
    systems = load_responses(args.responses, systems=args.systems)
    names = sorted(systems)
    if args.baseline and args.baseline not in names:
        if args.systems:
            systems.update(load_responses(args.responses, systems=[args.baseline]))
            names = sorted(systems)
        else:
            raise CommandError(f"--baseline {args.baseline!r}: no such system in {args.responses} (found {', '.join(names)})")
    if len(names) < 2:
        raise CommandError(f"{args.responses}: need at least two systems to compare, found {names or 'none'}")
    if args.baseline:
        system_pairs = [(s, args.baseline) for s in names if s != args.baseline]
    else:
        system_pairs = list(itertools.combinations(names, 2))
    samples = load_benchmark(args.data, config=args.config, levels=args.levels, limit=args.limit)
    if not samples:
        raise CommandError(f"{args.data}: no samples (config {args.config or 'default'!r}, levels {args.levels or 'all'})")
    judge = get_judge(args.judge, **parse_options(args.option))
    if hasattr(judge, "content_status"):
        print(judge.content_status())
    out = Path(args.out)
    done, n_rows_before = _done_pairs(out, judge)
    dropped = drop_torn_tail(out)
    if dropped:
        print(f"{out}: dropped an unfinished last row ({dropped} bytes) left by an interrupted run")

    todo, missing = [], 0
    for s in samples:
        for a, b in system_pairs:
            if (s.id, frozenset((a, b))) in done:
                continue
            if s.id not in systems[a].responses or s.id not in systems[b].responses:
                missing += 1  # a system without a response to this sample: nothing to compare, nothing invented
                continue
            todo.append((s, a, b))
    print(f"judge {judge.name}: {len(system_pairs)} system pairs x {len(samples)} samples; "
          f"{len(done)} pairs already in {out}, {len(todo)} to judge, {missing} skipped (a response is missing)")

    def load_pair(s, a, b) -> Pair:
        try:
            xa, xb = systems[a].audio(s.id), systems[b].audio(s.id)
            instr = instruction_audio(s) if judge.listens_to_instruction else None
        except (AudioError, SchemaError, OSError) as e:
            return Pair(s, a, b, None, None, error=str(e))
        return Pair(s, a, b, xa, xb, instr)

    cache = None if args.no_cache else as_cache(args.cache or True)
    if cache is not None:
        # Say where earlier decisions may come from: a rerun answers from here without asking the judge.
        print(f"verdict cache: {cache.path} (reused across runs; --no-cache to judge afresh)")
    stats: dict = {}
    start = time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    this_run = []
    with tqdm(total=len(todo), desc="pairs", unit="pair") as bar:
        for c0 in range(0, len(todo), args.chunk):
            pairs = [load_pair(*t) for t in todo[c0 : c0 + args.chunk]]
            for _, rows in iter_judge_pairs(judge, pairs, cache=cache, engine=args.engine, batch_size=args.batch_size,
                                            concurrency=args.concurrency, num_gpus=args.num_gpus, stats=stats):
                append_jsonl(out, [r.to_dict() for r in rows], fsync=False)
                this_run.extend(rows)
                bar.update(1)
    judge.close()

    # Summaries over everything in the file (this run and earlier ones), resolved by the core.
    verdicts = [Verdict.from_dict(row, where=f"{out}:{i}") for i, row in read_jsonl(out)]
    outcomes = resolve(verdicts)
    groups = {s.id: {"level": s.level, "task": s.task} for s in samples}
    summary = {}
    for a, b in system_pairs:
        mine = [o for o in outcomes if {o.system_a, o.system_b} == {a, b}]
        if mine:
            res = summarize(mine, candidate=a, groups=groups, bootstrap=1000, seed=args.seed, by=("level",))
            summary[f"{a} vs {b}"] = res
            if not res["n_valid"]:
                print(f"  {a} vs {b}: no valid pair | n {res['n']} invalid {res['n_invalid']} "
                      f"({_kinds(res['invalid_reasons'])})")
                continue
            lo, hi = res["win_rate_ci"]
            print(f"  {a} vs {b}: win {res['win_rate']:.3f} [{lo:.3f}, {hi:.3f}] tie {res['tie_rate']:.3f} "
                  f"loss {res['loss_rate']:.3f} both_bad {res['both_bad_rate']:.3f} | n {res['n']} "
                  f"invalid {res['n_invalid']} consistency {res['position_consistency']:.3f}")
    # every row of the file is this judge configuration's (others are refused above)
    judged_now = {(v.sample_id, frozenset((v.system_a, v.system_b))) for v in this_run}
    now = [o for o in outcomes if (o.sample_id, frozenset((o.system_a, o.system_b))) in judged_now]
    failed = invalid_reasons(now)
    # Pairs whose content the judge did not hear (no recogniser): their verdicts rest on delivery alone.
    content_abstained = len({(v.sample_id, frozenset((v.system_a, v.system_b))) for v in this_run
                             if "content: abstained" in v.reason})
    manifest = {
        "what": "s2s-arena judge verdicts", "verdicts": str(out.resolve()), "s2s_arena_version": __version__,
        "judge": judge.name, "judge_version": judge.version, "prompt_hash": judge.config_hash(),
        "arguments": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "systems": names, "system_pairs": [list(p) for p in system_pairs], "samples": len(samples),
        "rows_before": n_rows_before, "rows_written": 2 * len(todo), "pairs_skipped_missing_response": missing,
        "judge_calls": stats.get("judge_calls", 0), "cache_hits": stats.get("cache_hits", 0),
        "identical_pairs": stats.get("identical", 0), "seconds": round(time.time() - start, 2), "summary": summary,
        "pairs_judged": len(now), "pairs_invalid": sum(failed.values()), "invalid_reasons": failed,
        "pairs_content_abstained": content_abstained,
    }
    manifest_path = out.with_name(f"{out.stem}_manifest.json")
    from s2s_arena.audio import atomic_write_bytes

    atomic_write_bytes(manifest_path, (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8"))
    print(f"wrote {2 * len(todo)} verdict rows to {out} ({stats.get('judge_calls', 0)} judged, "
          f"{stats.get('cache_hits', 0)} from the verdict cache"
          + (f" {cache.path}" if cache is not None else ", cache off") + f"); manifest {manifest_path}")
    if failed:
        print(f"{sum(failed.values())} of {len(now)} pairs judged now are invalid: {_kinds(failed)}")
    if content_abstained:
        print(f"content NOT judged in {content_abstained} of {len(judged_now)} pairs judged now (no speech "
              "recogniser): those verdicts rest on delivery alone; pip install 's2s-arena[asr]'")
    if now and sum(failed.values()) == len(now):
        # A judge that never decides (it cannot load, an endpoint refuses every call) is a failed run,
        # not a table of NaN win rates.
        print(f"s2s-arena judge: error: every pair judged by {judge.name} is invalid ({_kinds(failed)}); "
              f"the rows are kept in {out} and are retried by the next run", file=sys.stderr)
        return 1
    return 0
