"""`s2s-arena generate`: run one S2S system over the benchmark into a responses folder."""

from __future__ import annotations

import argparse
import json

HELP = "run a system (openai:, hf:, cascade:, folder:, hub:, reference ...) over the benchmark into RESP/<system>/"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--system", required=True, metavar="SPEC",
                   help="openai:<model> | hf:<model or path> | cascade:<asr>+<llm>+<tts> | folder:<path> | "
                        "hub:<dataset id> | reference | flat | off_topic | echo")
    p.add_argument("--data", required=True, metavar="DIR", help="benchmark dataset folder (s2s-arena build) or Hub id")
    p.add_argument("--out", required=True, metavar="RESP", help="responses root; writes RESP/<name>/")
    p.add_argument("--config", default="all", help="dataset config (default: all)")
    from .args import add_list_argument

    add_list_argument(p, "--levels", choices=("L0", "L1", "L2", "L3"), metavar="LEVEL", help="only these levels: L2,L3 or L2 L3")
    p.add_argument("--limit", type=int, help="at most N samples (round-robin over levels)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: a Ray Data pipeline (RAY_ADDRESS or a local cluster)")
    p.add_argument("--batch-size", type=int, default=4, help="samples per worker call (default 4)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="Ray actors (one model each, or parallel API clients); local engine ignores it")
    p.add_argument("--num-gpus", type=float, default=None,
                   help="GPUs per Ray actor (default: 1 for hf:/cascade: when CUDA is present, else 0)")
    p.add_argument("--name", help="system name (folder and leaderboard name); default derived from SPEC")
    p.add_argument("--organisation", default="", help="who built the system (system.json)")
    p.add_argument("--kind", choices=("academic", "industrial"), help="system.json kind")
    p.add_argument("--architecture", choices=("cascade", "end-to-end", "hybrid", "reference", "other"),
                   help="system.json architecture (default: the adapter's)")
    p.add_argument("--backbone", default="", help="underlying LLM (system.json)")
    p.add_argument("--version", dest="system_version", default="", help="system version (system.json)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="adapter option, repeatable: voice=alloy, stream=true, timeout_s=60, device=cuda, "
                        "base_url=http://127.0.0.1:8000/v1, max_new_tokens=256 (values parsed as JSON when possible)")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling systems and reference systems")


def parse_options(pairs: list[str]) -> dict:
    from ..cli import CommandError

    opts = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--option {pair!r}: expected KEY=VALUE")
        try:
            opts[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            opts[key.strip()] = value
    return opts


def run(args: argparse.Namespace) -> int:
    from ..benchmark import load_benchmark
    from ..cli import CommandError
    from ..systems import default_name
    from ..systems.generation import generate_responses

    default_name(args.system)  # a malformed spec fails before the dataset is read

    if args.limit is not None and args.limit < 1:
        raise CommandError(f"--limit {args.limit}: expected a positive number of samples")
    if args.batch_size < 1 or args.concurrency < 1:
        raise CommandError("--batch-size and --concurrency must be >= 1")
    opts = parse_options(args.option)
    opts.setdefault("seed", args.seed)
    if args.name:
        opts["name"] = args.name
    num_gpus = args.num_gpus
    if num_gpus is None:
        num_gpus = 0.0
        if args.engine == "ray" and args.system.split(":", 1)[0] in ("hf", "cascade"):
            import torch

            num_gpus = 1.0 if torch.cuda.is_available() else 0.0
    samples = load_benchmark(args.data, config=args.config, levels=args.levels, limit=args.limit)
    if not samples:
        raise CommandError(f"{args.data}: no samples (config {args.config!r}, levels {args.levels or 'all'})")
    info = {"organisation": args.organisation, "kind": args.kind, "architecture": args.architecture,
            "backbone": args.backbone, "version": args.system_version}
    arguments = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    summary = generate_responses(
        args.system, samples, args.out, opts=opts, info=info, engine=args.engine, batch_size=args.batch_size,
        concurrency=args.concurrency, num_gpus=num_gpus, arguments=arguments,
    )
    print(f"{summary.system_dir}: {summary.written} responses written, {summary.skipped} already done, "
          f"{len(summary.failed)} failed ({summary.seconds:.1f} s)")
    for sample_id, error in list(summary.failed.items())[:5]:
        print(f"  failed {sample_id}: {error}")
    if summary.failed:
        print(f"  {len(summary.failed)} failed samples are recorded in {summary.system_dir / 'manifest.jsonl'}; "
              "rerun the same command to retry them")
        return 1
    return 0
