"""``python -m xcost_tui.job RUN_DIR`` (one run, job/main.py), or a warm worker: ``--worker
WORKER_DIR`` (runs read from stdin) and ``--runs RUN_DIR ...`` (a fixed list), job/worker.py."""

import sys

from .main import main
from .worker import worker_main

argv = sys.argv[1:]
sys.exit(worker_main(argv) if argv and argv[0] in ("--worker", "--runs") else main(argv))
