"""Parallel actor-critic: batches from N synchronous workers, and worker threads feeding an asynchronous learner.

    sync.py     synchronous workers (a vector env in lockstep): reset_workers, make_workers,
                collect_step (re-exported from the actor-critic rollout), throughput probes
    workers.py  asynchronous worker threads: Transition, ParameterServer, Stall, Worker
    learner.py  the asynchronous learner: take_batch, learner_loss, AsyncHistory, AsyncConfig, train_async

Every public name is importable from here, as it was from the single module before the split.
"""

from cs285lab.algos.parallel.learner import (AsyncConfig, AsyncHistory, TakeBatch, learner_loss, same_budget_a2c,
                                             take_batch, train_async, transitions_to_batch)
from cs285lab.algos.parallel.sync import (SlowStep, collect_step, collection_throughput, lockstep_throughput,
                                          make_workers, reset_workers)
from cs285lab.algos.parallel.workers import ParameterServer, Stall, Transition, Worker
from cs285lab.batch import Batch

__all__ = ["reset_workers", "make_workers", "collect_step", "collection_throughput", "SlowStep",
           "lockstep_throughput", "Transition", "ParameterServer", "Stall", "Worker", "take_batch", "AsyncHistory",
           "TakeBatch", "transitions_to_batch", "learner_loss", "AsyncConfig", "same_budget_a2c", "train_async", "Batch"]
