"""Command line for the datasets::

    python -m fxlib.data build [--scale full|smoke] [--seed N] [--root DIR] [--force]
    python -m fxlib.data fetch [--root DIR] [--pretrained] [--base-url URL]
    python -m fxlib.data check SOURCE DEVICE [--root DIR] [--scale ...] [--resample] [--downmix]

Each command prints the folder it produced (or checked) as the **last line of stdout**, so
scripts and notebooks can do ``DATA=$(python -m fxlib.data build | tail -n1)``. Progress goes to
stderr. Expected failures (``DataError``: offline, bad hash, bad files) print one message on
stderr and exit with status 1, without a traceback; bugs still show theirs.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .embedded import build_embedded
from .errors import DataError
from .fetch import DEFAULT_BASE_URL, fetch_wright2019, fetch_wright2019_pretrained
from .loader import dataset_dir, load_with_reports


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fxlib.data",
                                description="Build, download and check fxlib's datasets.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build (or reuse) the embedded synthesised dataset")
    b.add_argument("--scale", choices=("full", "smoke"), default="full",
                   help="full: 342/84/64 s splits; smoke: about 1/60 of that (default: full)")
    b.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    b.add_argument("--root", help="data folder (default: $FXLIB_DATA or <repo>/data)")
    b.add_argument("--force", action="store_true", help="rebuild even if a matching build exists")

    f = sub.add_parser("fetch", help="download and verify the real Wright et al. 2019 dataset")
    f.add_argument("--root", help="data folder (default: $FXLIB_DATA or <repo>/data)")
    f.add_argument("--pretrained", action="store_true",
                   help="download the 8 pretrained models (Results/*/model_best.json) instead "
                        "of the dataset")
    f.add_argument("--base-url", default=DEFAULT_BASE_URL,
                   help="where the repository's files are (default: the pinned commit on "
                        "raw.githubusercontent.com)")
    f.add_argument("--timeout", type=float, default=30.0, help="socket timeout in seconds")
    f.add_argument("--retries", type=int, default=2, help="retries per file on network errors")
    f.add_argument("--quiet", action="store_true", help="no progress output")

    c = sub.add_parser("check", help="load a dataset and print its validation reports")
    c.add_argument("source", help="'embedded', 'wright2019' or a folder "
                                  "{train,val,test}/<effect>-{input,target}.wav")
    c.add_argument("effect", help="'muff' or 'ht1' (any file prefix for a folder)")
    c.add_argument("--root", help="data folder (default: $FXLIB_DATA or <repo>/data)")
    c.add_argument("--scale", choices=("full", "smoke"), default="full")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--resample", action="store_true", help="resample other rates to 44.1 kHz")
    c.add_argument("--downmix", action="store_true", help="average multi-channel files")
    return p


def _run(args) -> str:
    if args.command == "build":
        return str(build_embedded(args.scale, args.seed, args.root, force=args.force))
    if args.command == "fetch":
        fetch = fetch_wright2019_pretrained if args.pretrained else fetch_wright2019
        return str(fetch(args.root, args.base_url, timeout=args.timeout, retries=args.retries,
                         progress=not args.quiet))
    with warnings.catch_warnings():  # the reports below already list every warning
        warnings.simplefilter("ignore")
        _, reports = load_with_reports(args.source, args.effect, args.root, scale=args.scale,
                                       seed=args.seed, resample=args.resample,
                                       downmix=args.downmix)
    for report in reports.values():
        print(report)
    return str(dataset_dir(args.source, args.root, scale=args.scale, seed=args.seed))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        path = _run(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
