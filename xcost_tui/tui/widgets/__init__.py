"""Reusable widgets: the empty-state panel, charts."""
