"""Data stage: read files, map columns, parse times, filter and prepare, statistics, item metadata, the split, and the app-facing Dataset."""
