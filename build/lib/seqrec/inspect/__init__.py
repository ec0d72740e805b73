"""Inspect stage: gate replay, item influence and the embedding / hidden-state maps."""
