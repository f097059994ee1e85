"""`s2s-arena leaderboard`: votes and/or verdicts -> Bradley–Terry ratings with bootstrap CIs."""

from __future__ import annotations

import argparse
import sys

HELP = "rate systems from votes or judge verdicts: Bradley–Terry with bootstrap CIs (Markdown, JSON, CSV, plots)"

_BOARD_COLUMNS = ("rank", "system", "rating", "ci_low", "ci_high", "n", "wins", "ties", "losses", "win_rate",
                  "both_bad_rate", "preliminary")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--votes", action="append", required=True, metavar="FILE",
                   help="votes (JSONL/CSV/SQLite), judge verdicts (JSONL/CSV) or S2S-Arena v1 labels (JSON); repeatable")
    p.add_argument("--votes-format", default="auto", choices=["auto", "votes", "verdicts", "s2s-arena-v1"])
    p.add_argument("--dimension", default="overall", choices=["overall", "content", "paralinguistics", "voice_quality"],
                   help="which judgement to rate (verdicts and v1 labels carry several)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap rounds for the CIs (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="markdown", choices=["markdown", "json", "csv"])
    p.add_argument("--by", action="append", default=[], metavar="FIELD",
                   help="also break down by level|domain|task|language, or by a system.json field "
                        "(kind|architecture|backbone, needs --responses); repeatable")
    p.add_argument("--plot", metavar="DIR", help="write leaderboard_rating.png and leaderboard_heatmap.png here")
    p.add_argument("--anchor", metavar="SYSTEM", help="pin this system at rating 1000")
    p.add_argument("--responses", metavar="RESP_DIR", help="responses folder whose <system>/system.json give metadata")
    from .args import add_list_argument

    add_list_argument(p, "--systems", metavar="NAME", help="rate only these systems: a,b or a b (default: all)")
    p.add_argument("--export", metavar="DIR", help="also write the board for the Hub: DIR/model-index/<system>.yaml, "
                   "DIR/eval_results/<system>.yaml and DIR/results/ (a dataset; `s2s-arena publish results DIR`)")
    p.add_argument("--dataset-id", metavar="USER/NAME", help="with --export: the Hub id of the benchmark the results are on")
    p.add_argument("--ties", default="half", choices=["half", "davidson"], help="tie model (default: a tie is half a win)")
    p.add_argument("--min-votes", type=int, default=30, help="systems with fewer outcomes are flagged preliminary")
    p.add_argument("--no-weights", action="store_true", help="ignore p_pair inverse-propensity weights")
    p.add_argument("--style", action="store_true",
                   help="also fit style control (duration, loudness, speaking-rate differences as covariates); "
                        "features come from the records (<feature>_a/_b) or are measured from --responses RESP_DIR audio")
    p.add_argument("--no-sweep", action="store_true",
                   help="on a vote store: rate every counted vote, skipping the risk sweep the Space applies")
    p.add_argument("--elo", action="store_true", help="also print online Elo (the paper's K=32 update) per system")


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def markdown_table(rows, columns) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _write_csv(rows, columns, out) -> None:
    import csv

    w = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: (";".join(map(str, r[c])) if isinstance(r.get(c), list) else r.get(c, "")) for c in columns})


def _load_inputs(args: argparse.Namespace):
    """Every input as outcomes; a stored arena goes through the Space's own risk sweep first, so the same
    votes give the same board here and in the Space (``--no-sweep`` rates every counted vote)."""
    from ..outcomes import Outcomes, load_outcomes

    parts = []
    for source in args.votes:
        if args.votes_format in ("auto", "votes") and not args.no_sweep:
            from ..arena.risk import is_vote_store, sweep_store

            if is_vote_store(source):
                swept = sweep_store(source)
                reasons = ", ".join(f"{k} {v}" for k, v in swept.reason_counts().items()) or "none"
                print(f"{source}: risk sweep kept {len(swept.clean)} of {len(swept.clean) + len(swept.flagged)} "
                      f"counted votes (flagged: {reasons}; `s2s-arena votes audit` says why)", file=sys.stderr)
                parts.append(Outcomes.from_records(swept.clean, str(source), dimension=args.dimension,
                                                   weights=not args.no_weights))
                continue
        parts.append(load_outcomes(source, args.votes_format, args.dimension, weights=not args.no_weights))
    return Outcomes.concat(parts)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .. import __version__, plots, ratings
    from ..cli import CommandError
    from ..outcomes import STYLE_FEATURES, attach_style, load_system_metadata

    if args.bootstrap < 0:
        raise CommandError("--bootstrap must be >= 0")
    if args.export and not args.dataset_id:
        raise CommandError("--export needs --dataset-id USER/NAME (the Hub dataset the results are on)")
    if args.systems and len(args.systems) == 1 and Path(args.systems[0]).is_dir() and not args.responses:
        # The option used to name the responses folder; --systems now lists names everywhere.
        print(f"note: --systems {args.systems[0]} is a folder: read as --responses {args.systems[0]} "
              "(--systems lists system names)", file=sys.stderr)
        args.responses, args.systems = args.systems[0], None
    outcomes = _load_inputs(args)
    if args.systems:
        import numpy as np

        unknown = sorted(set(args.systems) - set(outcomes.systems))
        if unknown:
            raise CommandError(f"--systems: {', '.join(unknown)} not among the systems: {', '.join(outcomes.systems)}")
        keep = np.isin(outcomes.system_a, args.systems) & np.isin(outcomes.system_b, args.systems)
        outcomes = outcomes.subset(keep)
    metadata = load_system_metadata(args.responses) if args.responses else None
    if args.anchor and args.anchor not in outcomes.systems:
        raise CommandError(f"--anchor {args.anchor!r} is not among the systems: {', '.join(outcomes.systems)}")
    board = ratings.leaderboard(outcomes, bootstrap=args.bootstrap, seed=args.seed, anchor=args.anchor,
                                min_votes=args.min_votes, metadata=metadata, ties=args.ties,
                                weights=not args.no_weights)
    columns = list(_BOARD_COLUMNS)
    if metadata:
        columns += [c for c in ("kind", "architecture", "backbone") if any(c in r for r in board)]
    if args.elo:
        e = ratings.elo(outcomes)
        for r in board:
            r["elo"] = e[r["system"]]
        columns.append("elo")
    style = None
    if args.style:
        if args.responses:
            outcomes = attach_style(outcomes, args.responses)
        features = [f for f in STYLE_FEATURES if f in outcomes.style]
        if not features:
            raise CommandError("--style: the records carry no <feature>_a/_b style values and no response audio "
                               "was found (give --responses RESP_DIR with RESP/<system>/<sample_id>.wav)")
        style = ratings.style_controlled(outcomes, covariates=features, bootstrap=min(args.bootstrap, 200),
                                         seed=args.seed, anchor=args.anchor, weights=not args.no_weights,
                                         min_votes=args.min_votes)
    breakdowns = {by: ratings.breakdown(outcomes, by=by, metadata=metadata, bootstrap=args.bootstrap,
                                        seed=args.seed, weights=not args.no_weights) for by in args.by}

    if args.format == "json":
        if breakdowns or style:
            doc = {"leaderboard": board}
            if breakdowns:
                doc["breakdowns"] = breakdowns
            if style:
                doc["style_control"] = style
            json.dump(doc, sys.stdout, indent=2)
        else:
            json.dump(board, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "csv":
        _write_csv(board, columns, sys.stdout)
        for by, rows in breakdowns.items():
            sys.stdout.write("\n")
            _write_csv(rows, [c for c in ("by", "group", "system", "systems", "n", "wins", "ties", "losses",
                                          "win_rate", "ci_low", "ci_high") if any(c in r for r in rows)], sys.stdout)
    else:
        print(f"Leaderboard ({args.dimension}; {len(outcomes)} outcomes over {len(set(outcomes.sample_id))} "
              f"samples of {len(set(outcomes.cluster))} seeds from {outcomes.source}; {args.bootstrap} bootstrap "
              f"rounds resampling seeds, seed {args.seed}"
              + (f"; anchored at {args.anchor}" if args.anchor else "") + ")\n")
        print(markdown_table(board, columns))
        if outcomes.n_invalid or outcomes.n_excluded:
            kinds = ", ".join(f"{k}: {n}" for k, n in outcomes.invalid_kinds.items())
            print(f"\n({outcomes.n_invalid} invalid judged pairs dropped" + (f" ({kinds})" if kinds else "")
                  + f", {outcomes.n_excluded} votes not counted)")
        if style:
            print(f"\nStyle control ({style['n_used']} outcomes with all features, {style['n_dropped']} without; "
                  "coef = log-odds per SD of the A - B difference, 95% CI)\n")
            print(markdown_table(style["coefficients"], ["feature", "coef", "ci_low", "ci_high", "sd_of_difference"]))
            print()
            print(markdown_table(style["board"], ["rank", "system", "rating", "ci_low", "ci_high", "raw_rating", "raw_rank", "n"]))
        for by, rows in breakdowns.items():
            print(f"\nWin rate by {by} (95% bootstrap CI)\n")
            cols = ["group", "system" if rows and "system" in rows[0] else "systems", "n", "wins", "ties", "losses",
                    "win_rate", "ci_low", "ci_high"]
            print(markdown_table(rows, cols))

    if args.plot:
        out = Path(args.plot)
        chart = plots.rating_chart(board, out / "leaderboard_rating.png",
                                   title=f"Bradley–Terry rating ({args.dimension})")
        heat = plots.win_heatmap(outcomes, out / "leaderboard_heatmap.png", order=[r["system"] for r in board],
                                 title=f"Win fraction, row vs column ({args.dimension})")
        manifest = {"what": "s2s-arena leaderboard", "version": __version__, "inputs": [str(p) for p in args.votes],
                    "arguments": {k: v for k, v in vars(args).items() if not k.startswith("_")},
                    "n_outcomes": len(outcomes), "files": [chart.name, heat.name], "leaderboard": board}
        # named after the command so that a shared folder (docs/img) keeps one manifest per figure set
        (out / "leaderboard_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {chart}, {heat} and {out / 'leaderboard_manifest.json'}", file=sys.stderr)
        from ..validity import write_for_leaderboard

        # Every exported leaderboard carries the evidence for its votes (or says it has none).
        print(f"wrote {write_for_leaderboard(args.votes, out, bootstrap=min(args.bootstrap, 1000), seed=args.seed)}",
              file=sys.stderr)
    if args.export:
        from ..hub import export_results

        files = export_results(board, args.export, dataset_id=args.dataset_id, breakdowns=breakdowns,
                               dimension=args.dimension, source=outcomes.source)
        print(f"wrote {len(files)} files under {args.export} (model-index/, eval_results/, results/)", file=sys.stderr)
    return 0
