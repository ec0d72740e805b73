"""Runs stage: train/save/load/recommend a run, the run library (store), bundles and safe exports."""
