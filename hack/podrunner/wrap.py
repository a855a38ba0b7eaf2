"""Runs one pod's command and records its exit code, so a restarted pod runner can still read it.

Usage: python wrap.py EXIT_CODE_FILE -- ARGV...
The pod runner starts this in a new session; stopping the pod signals the whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python wrap.py EXIT_CODE_FILE -- ARGV...", file=sys.stderr)
        return 2
    exit_file = Path(argv[0])
    try:
        child = subprocess.Popen(argv[2:])
    except OSError as e:
        print(f"podrunner: cannot start {argv[2]!r}: {e}", file=sys.stderr)
        code = 127 if isinstance(e, FileNotFoundError) else 126
    else:
        signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
        rc = child.wait()
        # A signalled process exits 128+N in a container (the shell convention the kubelet reports).
        code = rc if rc >= 0 else 128 - rc
    tmp = exit_file.with_suffix(".tmp")
    tmp.write_text(str(code))
    os.replace(tmp, exit_file)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
