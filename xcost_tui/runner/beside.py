"""``python -m xcost_tui.runner.beside RUN_DIR --pid PID``: the sampler process beside a job.

Its own entry point (``runner.sampler`` is imported by the package, and running an imported
module as ``__main__`` would load it twice); ``sampler.main`` does the work.
"""

import sys

from .sampler import main

if __name__ == "__main__":
    sys.exit(main())
