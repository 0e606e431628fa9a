"""Events: one row per change, written in the change's own transaction.

The live push (app/live) reads these rows; they are the history a reconnecting client replays.
"""
