"""Run the simulated crowd through the real arena and check the validity report against what was injected.

    .venv/bin/python scripts/simulate_crowd.py --seeds 5                       # synthetic clips, 5 seeds
    .venv/bin/python scripts/simulate_crowd.py --data runs/demo/data --responses runs/demo/responses \
        --verdicts runs/demo/verdicts.jsonl --out runs/demo/validity           # the demo's benchmark and judge

Per seed it prints each predicted figure, the report's value and 95% CI and whether the CI covers the
prediction; whether gold flagged exactly the careless voters; and whether the board without the flagged
voters has the true order. With --out it writes the last seed's validity.md / validity.json there.
With --verdicts the judge is the real one (its verdicts on the same responses), not the simulated judge.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--voters", type=int, default=30)
    p.add_argument("--votes-per-voter", type=int, default=60)
    p.add_argument("--careless-share", type=float, default=0.2)
    p.add_argument("--gold-share", type=float, default=0.3)
    p.add_argument("--reserve-share", type=float, default=0.3)
    p.add_argument("--bootstrap", type=int, default=500)
    p.add_argument("--data", help="benchmark folder (default: synthetic samples and clips)")
    p.add_argument("--responses", help="responses folder for --data (holding the reference systems for gold)")
    p.add_argument("--verdicts", help="real judge verdicts on --responses (default: the simulated judge)")
    p.add_argument("--out", help="write validity.md / validity.json of the last seed here")
    args = p.parse_args(argv)

    from s2s_arena import validity
    from s2s_arena.arena import crowd
    from s2s_arena.arena.battles import Arena
    from s2s_arena.arena.reserve import make_planner
    from s2s_arena.arena.roles import vote_rows
    from s2s_arena.arena.store import VoteStore
    from s2s_arena.outcomes import Outcomes, load_outcomes
    from s2s_arena.ratings import leaderboard
    from s2s_arena.responses import load_responses

    tmp = Path(tempfile.mkdtemp(prefix="s2s_crowd_"))
    if args.data:
        from s2s_arena.benchmark import load_benchmark

        samples = load_benchmark(args.data)
        responses = load_responses(args.responses)
        gold_responses = None  # the reference systems are among the arena's own responses
    else:
        samples, resp_dir, gold_dir = crowd.synthetic_materials(tmp / "materials", n_samples=24)
        responses, gold_responses = load_responses(resp_dir), str(gold_dir)
    unlimited = dict(votes_per_minute_session=10 ** 9, votes_per_minute_client=10 ** 9,
                     battles_per_minute_session=10 ** 9, battles_per_minute_client=10 ** 9)
    attrs = {s.id: validity.requirement_attribute(s) for s in samples}
    totals = {"covered": 0, "figures": 0, "careless": 0, "caught": 0, "false_flags": 0, "careful": 0, "order_ok": 0}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.time()
        store = VoteStore(f"sqlite:///{tmp / f'votes-{seed}.db'}")
        planner = make_planner(samples, responses, store, gold_share=args.gold_share, gold_responses=gold_responses,
                               reserve_share=args.reserve_share)
        arena = Arena(samples, responses, store, seed=seed, planner=planner, **unlimited)
        systems = arena.systems
        ratings = crowd.default_ratings(sorted(systems, key=lambda s: (s != "reference", s)))
        cfg = crowd.CrowdConfig(n_voters=args.voters, votes_per_voter=args.votes_per_voter,
                                careless_share=args.careless_share, ratings=ratings, seed=seed)
        votes, careless = crowd.run_crowd(arena, cfg)
        rows = vote_rows(store)
        if args.verdicts:
            judge = load_outcomes(args.verdicts)
        else:
            judge = Outcomes.from_records(crowd.simulated_judge(cfg, samples, systems), "simulated judge")
        rep = validity.validity_report(rows, judge=judge, attributes=attrs, bootstrap=args.bootstrap, seed=0,
                                       source=f"simulated crowd, seed {seed}")
        flagged = set(rep["gold"]["flagged"])
        expected = crowd.expected_figures(cfg, votes, rows, flagged)
        bad = {v for v, c in careless.items() if c}
        print(f"\nseed {seed}: {len(votes)} votes by {args.voters} voters ({len(bad)} careless) in "
              f"{time.time() - t0:.0f} s")
        print(f"{'figure':24} {'injected':>9} {'report':>9}  95% CI               covered")
        for name, (value, ci) in crowd.observed_figures(rep).items():
            if args.verdicts and name == "judge_agreement":
                continue  # a real judge: nothing was injected
            exp = expected.get(name)
            if exp is None or value is None or ci is None:
                continue
            ok = ci[0] <= exp <= ci[1]
            totals["covered"] += ok
            totals["figures"] += 1
            print(f"{name:24} {exp:9.3f} {value:9.3f}  [{ci[0]:.3f}, {ci[1]:.3f}]   {'yes' if ok else 'NO'}")
        totals["careless"] += len(bad)
        totals["caught"] += len(bad & flagged)
        totals["careful"] += args.voters - len(bad)
        totals["false_flags"] += len(flagged - bad)
        clean = validity.clean_votes(rows, flagged)
        board = leaderboard(Outcomes.from_records(clean, "clean votes"), bootstrap=0)
        order = [r["system"] for r in board]
        truth = sorted(systems, key=lambda s: -ratings[s])
        totals["order_ok"] += order == truth
        print(f"gold flagged {len(flagged & bad)}/{len(bad)} careless voters and {len(flagged - bad)} careful ones; "
              f"board without them: {' > '.join(order)} ({'true order' if order == truth else 'NOT the true order'})")
        store.close()
    n = args.seeds
    print(f"\nover {n} seeds: {totals['covered']}/{totals['figures']} predicted figures inside the 95% CI; "
          f"gold caught {totals['caught']}/{totals['careless']} careless voters, flagged "
          f"{totals['false_flags']}/{totals['careful']} careful ones; true order {totals['order_ok']}/{n}")
    if args.out:
        md, js = validity.write_report(rep, args.out)
        print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
