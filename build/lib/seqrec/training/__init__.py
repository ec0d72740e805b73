"""Training stage: the loop with callbacks and early stopping, the memory budget, and the job queue."""
