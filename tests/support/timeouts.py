"""How long a test may take, in one place.

pytest-timeout's limit (``timeout`` in pyproject.toml) counts a test's fixture set-up too, so an
end-to-end test whose module fixture runs a whole plan must be allowed more than the plan's own
subprocess limit: otherwise a loaded machine kills the test at the global limit, with no output,
before the subprocess could fail with its own (issue 20, item 13)."""

# The global per-test limit (pyproject.toml's [tool.pytest.ini_options] timeout): catches a hang.
DEFAULT_TEST_TIMEOUT_S = 600
# One end-to-end command (a plan run headless, a report): minutes on 2 loaded cores.
E2E_COMMAND_TIMEOUT_S = 1200
# A test marked slow: its fixture's command, then its own commands (SQL, a report).
SLOW_TEST_TIMEOUT_S = E2E_COMMAND_TIMEOUT_S + 600
