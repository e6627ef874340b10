"""What the timing benchmarks share: each measurement's figures, their table, and the JSON file in
bench/results/ (with the date and the machine's core count)."""

import datetime
import json
import os
import statistics
from pathlib import Path
from typing import Dict, List

RESULTS_DIR = Path(__file__).resolve().parent / 'results'


def figures(seconds: List[float]) -> dict:
  """The best and median of repeated wall times, and all of them."""
  return {'best_s': min(seconds), 'median_s': statistics.median(seconds), 'runs_s': seconds}


def print_table(what: str, results: Dict[str, dict]) -> None:
  width = max(len(what), *map(len, results))
  print(f'{what:{width}} {"best":>8} {"median":>8}')
  for name, result in results.items():
    print(f'{name:{width}} {result["best_s"]:7.2f}s {result["median_s"]:7.2f}s')


def write_results(name: str, **fields) -> Path:
  """Writes bench/results/<name>-<date>-<cores>cores.json; returns its path."""
  RESULTS_DIR.mkdir(parents=True, exist_ok=True)
  out = RESULTS_DIR / f'{name}-{datetime.date.today()}-{os.cpu_count()}cores.json'
  out.write_text(json.dumps({'date': datetime.datetime.now(datetime.timezone.utc).isoformat(),
                             'cores': os.cpu_count(), **fields}, indent=2) + '\n')
  return out
