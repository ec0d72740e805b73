"""Evaluation stage: ranking metrics and the one protocol that scores every model and baseline on a split."""
