"""Application layer: what only a server needs on top of the stages: the training job queue with its owners and
workspaces, the restart journal, the reaper of dead sessions, seed series, the session's dataset bundle (with its
baseline cache), demo runs. The stages below hold no mutable module state; this layer does.
"""
