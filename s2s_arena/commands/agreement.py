"""`s2s-arena agreement`: how well two sources of pairwise outcomes agree (judge vs humans, humans vs
humans, judge vs judge), plus each source's position bias."""

from __future__ import annotations

import argparse
import sys

HELP = "agreement between two outcome files (judge vs human, human vs human, judge vs judge): kappa, rank correlation, position bias"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--a", action="append", metavar="FILE", help="first source (votes, verdicts or v1 labels); repeatable")
    p.add_argument("--b", action="append", metavar="FILE",
                   help="second source; without it, items annotated twice in --a are compared (human vs human)")
    p.add_argument("--a-format", default="auto", choices=["auto", "votes", "verdicts", "s2s-arena-v1"])
    p.add_argument("--b-format", default="auto", choices=["auto", "votes", "verdicts", "s2s-arena-v1"])
    p.add_argument("--dimension", default="overall", choices=["overall", "content", "paralinguistics", "voice_quality"],
                   help="dimension for both sides (or --a-dimension / --b-dimension)")
    p.add_argument("--a-dimension", choices=["overall", "content", "paralinguistics", "voice_quality"])
    p.add_argument("--b-dimension", choices=["overall", "content", "paralinguistics", "voice_quality"])
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="markdown", choices=["markdown", "json"])
    v = p.add_argument_group("validity report of the arena's votes (instead of --a/--b)")
    v.add_argument("--votes", metavar="STORE", help="vote store (database URL or SQLite file) or an export of its rows: "
                   "gold accuracy and flagged voters, agreement between voters, position bias, failure reasons")
    v.add_argument("--verdicts", action="append", default=[], metavar="FILE", help="judge verdicts to compare with the voters")
    v.add_argument("--data", metavar="DIR", help="benchmark folder, to split judge agreement by requirement attribute")
    v.add_argument("--out", metavar="DIR", help="also write validity.md and validity.json here")


def _ci(res, key) -> str:
    v = res.get(key)
    if v is None:
        return "n/a"
    lo_hi = res.get(f"{key}_ci")
    return f"{v:.3f}" + (f" [{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]" if lo_hi else "")


def _bias_lines(name, b) -> list[str]:
    def f(x):
        return "n/a" if x is None else f"{x:.3f}"

    return [f"| {name} | {b['n']} | {f(b['first_slot_pick_rate'])} ({b['n_decisive']} decisive) | "
            f"{f(b['position_consistency'])} ({b['n_swapped_pairs']} swapped pairs) | "
            f"{f(b['identical_pair_tie_rate'])} ({b['n_identical_pairs']} identical pairs) | {f(b['tie_rate'])} |"]


def run(args: argparse.Namespace) -> int:
    import json

    from .. import agreement
    from ..outcomes import load_many

    if args.votes:
        return _validity(args)
    if not args.a:
        from ..cli import CommandError

        raise CommandError("give --a FILE (two outcome sources) or --votes STORE (the arena's validity report)")
    a = load_many(args.a, args.a_format, args.a_dimension or args.dimension, allow_self=True)
    whole = None
    if args.b:
        b = load_many(args.b, args.b_format, args.b_dimension or args.dimension, allow_self=True)
    else:
        whole = a
        a, b = agreement.split_double_annotated(a)
    res = agreement.compare(a, b, bootstrap=args.bootstrap, seed=args.seed)
    if whole is not None:
        # position consistency needs the same item in both orders, i.e. the whole file, not halves
        res["position_bias_all"] = agreement.position_bias(whole)
    if args.format == "json":
        json.dump(res, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
        return 0
    print(f"Agreement: A = {res['a']} ({res['n_a']} outcomes), B = {res['b']} ({res['n_b']} outcomes); "
          f"{res['n_matched_items']} items (instruction + pair) matched "
          f"over {res['n_matched_instructions']} instructions; {args.bootstrap} bootstrap rounds, seed {args.seed}\n")
    print("| statistic | value [95% CI] |\n|---|---|")
    for key, label in (("agreement_3way", "agreement, 3-way (A / B / tie)"),
                       ("kappa_3way", "Cohen's kappa, 3-way"),
                       ("agreement_4way", "agreement, 4-way (A / B / tie / both bad)"),
                       ("kappa_4way", "Cohen's kappa, 4-way"),
                       ("decisive_agreement", "agreement where both named a winner")):
        print(f"| {label} | {_ci(res, key)} |")
    sl = res["system_level"]
    if "error" in sl:
        print(f"| system-level rank correlation | n/a: {sl['error']} |")
    else:
        print(f"| Spearman (system ratings, {len(sl['systems'])} systems) | {_ci(sl, 'spearman')} |")
        print(f"| Kendall tau (system ratings) | {_ci(sl, 'kendall')} |")
    print("\n| source | outcomes | first-slot pick rate | position consistency | identical-pair tie rate | tie rate |")
    print("|---|---|---|---|---|---|")
    lines = _bias_lines("A", res["position_bias_a"]) + _bias_lines("B", res["position_bias_b"])
    if "position_bias_all" in res:
        lines += _bias_lines("whole file", res["position_bias_all"])
    for line in lines:
        print(line)
    return 0


def _validity(args: argparse.Namespace) -> int:
    import json

    from .. import validity

    rep = validity.report_from_sources(args.votes, verdicts=args.verdicts, data=args.data,
                                       bootstrap=args.bootstrap, seed=args.seed)
    if args.out:
        md, js = validity.write_report(rep, args.out)
        print(f"wrote {md} and {js}", file=sys.stderr)
    if args.format == "json":
        json.dump(rep, sys.stdout, indent=2, default=validity._json_default)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(validity.markdown(rep))
    return 0
