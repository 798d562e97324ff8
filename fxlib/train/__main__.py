"""``python -m fxlib.train``: train (or reuse, or resume) one run and print it as JSON.

    python -m fxlib.train --model B8 --method scratch --profile smoke --seed 0
    python -m fxlib.train --model B8 --method tor --teacher runs/B-scratch-smoke-s0-1a2b3c4d
    python -m fxlib.train --model C8 --method df --teacher-json muff-muff4.json --kd input_scale=0.1

The progress bar goes to stderr (off when ``CI`` is set or stderr is not a terminal); the last
and only line on stdout is one JSON object: the run folder, its status (trained / resumed /
reused) and its test metrics.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..models import MODEL_NAMES, check_model_name
from ..profiles import PROFILE_NAMES
from .config import KD_DEFAULTS, METHODS, TrainConfig
from .trainer import train


def _model_name(name: str) -> str:
    try:
        return check_model_name(name)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fxlib.train", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, type=_model_name, metavar="MODEL",
                   help=f"{', '.join(MODEL_NAMES)}, or any B<H> / C<H> (LSTM / GRU with H "
                        "hidden units, e.g. B40 for Proteus), optionally -noskip (NAM)")
    p.add_argument("--method", default="scratch", choices=METHODS,
                   help="scratch, tor (teacher outlier rejection) or df (data-free KD)")
    p.add_argument("--teacher", default=None, metavar="RUN",
                   help="teacher for tor/df: a finished run folder, or a run id under --runs")
    p.add_argument("--teacher-json", default=None, metavar="FILE",
                   help="teacher for tor/df: a Wright et al. JSON model (LSTM/GRU)")
    p.add_argument("--foreign-teacher", action="store_true",
                   help="accept a teacher run trained on another effect or dataset")
    p.add_argument("--resample", action="store_true",
                   help="convert recordings at another sample rate to 44.1 kHz on load")
    p.add_argument("--downmix", action="store_true",
                   help="average the channels of multi-channel recordings on load")
    kd_help = "; ".join(f"{m}: " + ", ".join(f"{k}={v}" for k, v in d.items())
                        for m, d in KD_DEFAULTS.items() if d)
    p.add_argument("--kd", action="append", default=[], metavar="KEY=VALUE",
                   help=f"KD option, repeatable (defaults {kd_help})")
    p.add_argument("--standardize", "--std", action="store_true", dest="standardize",
                   help="standardise the input (DF 'std' models; a df run follows its teacher;"
                        " --std is the old name)")
    p.add_argument("--profile", default="smoke", choices=PROFILE_NAMES)
    p.add_argument("--source", default="embedded",
                   help="embedded | wright2019 | a folder in the {train,val,test}/"
                        "<device>-{input,target}.wav layout")
    p.add_argument("--effect", "--device", default="muff", dest="effect",
                   help="the effect: muff | ht1 | the file prefix in a folder (--device is "
                        "the old name)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", default=None, help="runs root (default: fxlib.paths.runs_root())")
    p.add_argument("--data-root", default=None, help="data root for embedded / wright2019")
    p.add_argument("--force", action="store_true", help="retrain even if the run exists")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--compute", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--no-progress", action="store_true")
    return p


def parse_kd(items: list[str]) -> dict:
    """``["c_d=0.5", "variant=original"]`` -> ``{"c_d": 0.5, "variant": "original"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--kd expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)          # numbers, true/false, null
        except json.JSONDecodeError:
            out[key] = value                      # plain words: variant=original
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = TrainConfig(model=args.model, method=args.method, profile=args.profile,
                          seed=args.seed, source=args.source, effect=args.effect,
                          standardize=args.standardize, data_root=args.data_root,
                          teacher=args.teacher, teacher_json=args.teacher_json,
                          kd=parse_kd(args.kd), foreign_teacher=args.foreign_teacher,
                          resample=args.resample, downmix=args.downmix)
        cfg.kd_options()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        run = train(cfg, runs=args.runs, force=args.force, compute=args.compute,
                    threads=args.threads, progress=False if args.no_progress else None)
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the run keeps its last checkpoint; rerun the same command to "
              "resume it", file=sys.stderr)
        return 130
    print(json.dumps(run.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
