"""The job side: the only place torch and transformers are imported.

``python -m xcost_tui.job RUN_DIR`` runs one experiment; ``launch.run_command`` is the
``xcost-tui run`` front end that writes the spec and starts it.
"""
