"""``python -m xcost_tui.measure.beside RUN_DIR --pid PID``: the sampler process beside a job.

Its own entry point (running ``measure.sampler`` itself as ``__main__`` would load it twice once
anything imports it); ``sampler.main`` does the work.
"""

import sys

from .sampler import main

if __name__ == "__main__":
    sys.exit(main())
