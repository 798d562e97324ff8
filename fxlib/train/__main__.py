"""``python -m fxlib.train``: train (or reuse, or resume) one run and print it as JSON.

    python -m fxlib.train --model B8 --method scratch --profile smoke --seed 0

The progress bar goes to stderr (off when ``CI`` is set or stderr is not a terminal); the last
and only line on stdout is one JSON object: the run folder, its status (trained / resumed /
reused) and its test metrics.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..models import MODEL_NAMES
from ..profiles import PROFILE_NAMES
from .runs import AVAILABLE_METHODS, METHODS, TrainConfig, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fxlib.train", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--method", default="scratch", choices=METHODS,
                   help=f"training method (available now: {', '.join(AVAILABLE_METHODS)})")
    p.add_argument("--std", action="store_true", help="standardise the input (DF 'std' models)")
    p.add_argument("--profile", default="smoke", choices=PROFILE_NAMES)
    p.add_argument("--source", default="embedded",
                   help="embedded | wright2019 | a folder in the {train,val,test}/"
                        "<device>-{input,target}.wav layout")
    p.add_argument("--device", default="muff", help="effect device: muff | ht1 | file prefix")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", default=None, help="runs root (default: fxlib.paths.runs_root())")
    p.add_argument("--data-root", default=None, help="data root for embedded / wright2019")
    p.add_argument("--force", action="store_true", help="retrain even if the run exists")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--compute", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.method not in AVAILABLE_METHODS:
        print(f"error: method {args.method!r} is not available yet (only "
              f"{', '.join(AVAILABLE_METHODS)}); KD training will be wired in later",
              file=sys.stderr)
        return 2
    cfg = TrainConfig(model=args.model, method=args.method, profile=args.profile,
                      seed=args.seed, source=args.source, device=args.device, std=args.std,
                      data_root=args.data_root)
    try:
        run = train(cfg, runs=args.runs, force=args.force, compute=args.compute,
                    threads=args.threads, progress=False if args.no_progress else None)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(run.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
