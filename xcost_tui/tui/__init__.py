"""The Textual app: a thin layer over ``xcost_tui.store.query`` and the runner's live API.

Nothing here imports torch, transformers or datasets (the app must start fast over SSH);
heavy modules (textual-plotext, the runner) are imported when a screen first needs them.
"""
