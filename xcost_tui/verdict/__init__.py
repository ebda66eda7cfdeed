"""The verdict: what each method costs at similar accuracy, with its uncertainty.

- ``stats``: pure statistics over 0/1 correctness matrices (intervals, paired differences,
  exact tests, break-even, cost to reach an accuracy).

numpy is imported here (the report process and the app's Compare screen), never at the
supervisor's start-up: import this package only where it is used.
"""
