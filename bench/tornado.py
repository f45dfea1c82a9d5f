"""The sensitivity tornado's speed: every assumption at both ends, 1,000 simulations each.

Target: 12 assumptions x 1,000 simulations in <= 2 s (issue: board meetings). Printed with the
time of one projection, so the figure reads on a faster or slower machine.
Run: python bench/tornado.py [--template dudley] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import memory, results, sensitivity  # noqa: E402
from lib.scenario import Scenario  # noqa: E402

TARGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="dudley")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    memory.keep_freed_memory()
    scenario = Scenario.from_template(args.template).with_value("sims", 1000)
    sensitivity.tornado(scenario.with_value("sims", 50))  # warm: imports, the reference data
    one, whole = [], []
    for _ in range(args.repeat):  # yardstick and figure in turn, so drift hits both alike
        start = time.perf_counter()
        results.project(scenario).headline()
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        bars = sensitivity.tornado(scenario)
        whole.append(time.perf_counter() - start)
    best = min(whole)
    print(f"{args.template}: {len(bars)} assumptions x 2 ends x {scenario.sims:,} simulations")
    print(f"one projection + headline: best {min(one) * 1000:7.1f} ms")
    print(f"whole tornado            : best {best * 1000:7.1f} ms   median {sorted(whole)[len(whole) // 2] * 1000:7.1f} ms"
          f"   = {best / min(one):5.1f}x one projection   (target <= {TARGET_S:g} s)")  # fmt: skip
    print("verdict:", "PASS" if best <= TARGET_S and len(bars) >= 12 else "MISS")


if __name__ == "__main__":
    main()
