"""``python -m fxlib.grid``: plan and train the study's runs, N at a time (``fxlib.grid``).

    python -m fxlib.grid --profile quick --source embedded --effect muff --jobs 2 --dry-run
    python -m fxlib.grid --profile paper --engine ray --address auto

Prints the plan (runs, what each waits for, estimated work from the profile), then trains
what is missing, teachers first, with a progress line; finished runs are reused and partial
ones resume, so an interrupted grid is resumed by running it again. Exit status 0 when every
run is complete, 1 when some failed (each is named with its cause), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import sys

from ..profiles import PROFILE_NAMES
from .study_grid import ENGINES, run_study_grid


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fxlib.grid", description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    p.add_argument("--source", default="embedded", help="embedded | wright2019 | a folder")
    p.add_argument("--effect", "--device", default="muff", dest="effect",
                   help="muff | ht1 | a file prefix (--device: the old name)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="trainings at once (default: the cores, or the GPUs when training on "
                        "GPUs; Ray: the cluster's CPUs or GPUs)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per training (default 1: the same numbers whatever the "
                        "jobs; docs/grid.md)")
    p.add_argument("--engine", default="local", choices=ENGINES)
    p.add_argument("--address", default=None,
                   help="Ray: an existing cluster (auto, ray://host:10001); default: a local "
                        "Ray instance with jobs x threads CPUs")
    p.add_argument("--compute", default="auto", help="auto | cpu | cuda")
    p.add_argument("--runs", default=None, help="runs root (default: runs/ or FXLIB_RUNS)")
    p.add_argument("--data-root", default=None, help="data root (default: data/ or FXLIB_DATA)")
    p.add_argument("--retries", type=int, default=1,
                   help="times a run whose worker died is started again (default 1)")
    p.add_argument("--only", nargs="+", default=None, metavar="LABEL",
                   help="only these experiments (and their teachers), e.g. 'TOR B h16'")
    p.add_argument("--no-seed-repetition", action="store_true",
                   help="skip timing and the seed repetition of the best model")
    p.add_argument("--arm-seeds", type=int, default=None, metavar="N",
                   help="seeds of each 8/16-unit arm of tables 4.4, 4.5, 4.8, 4.9 (default: "
                        "the profile's arm_seeds; docs/evaluation.md, 'Verdicts')")
    p.add_argument("--dry-run", action="store_true", help="print the plan, train nothing")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1 or args.threads is not None and args.threads < 1:
        print("error: --jobs and --threads must be >= 1", file=sys.stderr)
        return 2
    try:
        result = run_study_grid(args.profile, args.source, args.effect, runs=args.runs,
                                data_root=args.data_root, jobs=args.jobs, threads=args.threads,
                                engine=args.engine, address=args.address, compute=args.compute,
                                retries=args.retries, labels=args.only,
                                seed_repetition=not args.no_seed_repetition,
                                dry_run=args.dry_run, arm_seeds=args.arm_seeds)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
