"""Application layer: what only a server needs on top of the stages. The stages below hold no mutable module state;
this layer does, each piece in one module with one process-wide instance:

- executor: the process's executor (`get_executor()`: thread, local worker processes or Ray), made once and kept;
- jobs: the training queue (`TrainingQueue`, the process's `QUEUE`) with its jobs, owners and workspaces;
- sessions: the one reaper of dead browser sessions (`REAPER`), for trainings and tunes alike;
- journal: the restart journal (`JOURNAL`), so a workspace learns which trainings a restart lost;
- seeds: seed series, the same plan for the CLI's --seeds and the Train page's repeats;
- dataset: the session's dataset bundle (with its baseline cache); demo: the pages' one-click demo runs.
"""
