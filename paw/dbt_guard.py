"""`paw-dbt`: dbt that ends with the process that started it.

dagster-dbt starts dbt as a child process; when `paw run` is killed (kill -9), a plain child
would go on building as an orphan. This entry point asks the kernel to kill it when its parent
dies (Linux's PR_SET_PDEATHSIG, kept across exec), then becomes dbt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: dbt runs unguarded
    if os.getppid() != parent:
        sys.exit(1)  # the parent died before the guard was set
    dbt = Path(sys.executable).parent / "dbt"
    os.execv(dbt, [str(dbt), *sys.argv[1:]])


if __name__ == "__main__":
    main()
