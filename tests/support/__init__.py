"""Shared pieces of the test suite: fixture stores and run directories, fake jobs and NVML, the
hub stand-in, the TUI's Pilot helpers. No tests here; test modules import them as ``support.<name>``."""
