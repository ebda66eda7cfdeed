"""Screens of the app: one module per screen (runs, detail, live, launch, compare, sql) plus dialogs."""
