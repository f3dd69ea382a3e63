"""`equilearn demo`: the main job of `make run` on bundled synthetic data (no external files)."""

from __future__ import annotations

import argparse
import json

from engine.cli.progress import progress_bar


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="generate the demo response set, validate it and evaluate every model")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from engine.data.demo import demo_dataset  # noqa: PLC0415 - heavy: imported to run, not to parse arguments
    from engine.evaluation.protocol import evaluate  # noqa: PLC0415
    from engine.evaluation.zoo import MODELS  # noqa: PLC0415

    dataset = demo_dataset(seed=args.seed)
    print("demo data (validated):", json.dumps(dataset.summary()))
    with progress_bar("demo: evaluate every model", total=2 * len(MODELS)) as bar:
        result = evaluate(dataset, sorted(MODELS), seed=args.seed, progress=bar.update)
    print(f"KT protocol on a student-level split ({result['n_train']} train / {result['n_test']} test responses)")
    print(f"{'model':<16}{'AUC':>8}{'RMSE':>8}{'logloss':>9}{'ECE':>8}{'fit s':>8}")
    for name, m in result["models"].items():
        print(f"{name:<16}{m['auc']:>8.3f}{m['rmse']:>8.3f}{m['logloss']:>9.3f}{m['ece']:>8.3f}{m['fit_seconds']:>8.2f}")
    return 0
