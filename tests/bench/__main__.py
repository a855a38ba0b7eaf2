"""`make bench`: every benchmark, one after the other; each prints its own numbers."""

from __future__ import annotations

import sys

from tests.bench import bench_export, bench_promotion


def main() -> int:
    status = 0
    for name, bench in (("export", bench_export.main), ("promotion", bench_promotion.main)):
        print(f"== benchmark: {name}", flush=True)
        status |= bench([])
    return status


if __name__ == "__main__":
    sys.exit(main())
