"""The wheel carries the shipped example queries: ``store/queries/*.sql`` (one place, in the
checkout, where the design card puts them) are copied into the package's ``queries/`` at build
time, so ``xcost-tui sql --file leaderboard`` works from an installed wheel too
(``xcost_tui/commands/queries.py`` looks there after the store's own ``queries/``)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

QUERIES = Path(__file__).resolve().parent / "store" / "queries"


class BuildWithQueries(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's store/queries directly
            return
        target = Path(self.build_lib) / "xcost_tui" / "queries"
        target.mkdir(parents=True, exist_ok=True)
        for query in sorted(QUERIES.glob("*.sql")):
            shutil.copy2(query, target / query.name)


setup(cmdclass={"build_py": BuildWithQueries})
