"""`python -m tests.bench [NAME ...]`: run tests/bench/bench_*.py and merge into var/bench/results.json."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1] / "var" / "bench" / "results.json"


def selected(filters: list[str]) -> list[str]:
    names = sorted(path.stem for path in HERE.glob("bench_*.py"))
    return [name for name in names if not filters or any(f in name for f in filters)]


def main(argv: list[str]) -> int:
    names = selected(argv)
    if not names:
        print(f"no benchmark matches {argv}", file=sys.stderr)
        return 2
    results: dict[str, float] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        module = importlib.import_module(f"tests.bench.{name}")
        outcome = module.run()
        figures = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
        print(f"{name}: {json.dumps(figures)}")
        results.update(figures)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
