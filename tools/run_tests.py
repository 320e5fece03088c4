"""Run the test suite one test file per process: `python tools/run_tests.py [pytest args]`.

TensorFlow keeps about 100 MB per built-and-trained Keras model for the life of a process
(measured: 10 small ABReActNet18 builds + fits grow a process from 0.7 to 1.9 GB, with
`clear_session()` and `gc.collect()`, before and after this project's changes alike). The
suite builds a few hundred models, which outgrew 24 GB in one process; a process per file
bounds it. Arguments go to every pytest run. Prints one "N passed, N failed" line.
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failed_files = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "test_*.py"))):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", os.path.relpath(path, ROOT), *sys.argv[1:]],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
        for count, kind in re.findall(r"(\d+) (passed|failed|errors?|skipped)", result.stdout.splitlines()[-1] if result.stdout else ""):
            totals["errors" if kind.startswith("error") else kind] += int(count)
        if result.returncode not in (0, 5):  # 5: every test of the file deselected
            failed_files.append(path)
    print(
        f"{totals['passed']} passed, {totals['failed'] + totals['errors']} failed, "
        f"{totals['skipped']} skipped"
    )
    if failed_files:
        print("failed files: " + ", ".join(os.path.basename(p) for p in failed_files))
    return 1 if failed_files else 0


if __name__ == "__main__":
    sys.exit(main())
