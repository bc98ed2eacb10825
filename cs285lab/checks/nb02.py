"""Checks for notebook 02: batched, synchronous and asynchronous parallel actor-critic.

Each check runs the student's function next to the reference (cs285lab.algos.parallel) on a
fixed, seeded setup and, when they differ, names the usual mistake the answer matches.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from cs285lab.algos import parallel as ref
from cs285lab.algos.actor_critic import Batch
from cs285lab.checks.core import Exercise, exercise, own_code

NUM_WORKERS = 4


def _own_call(ex: Exercise, exercise_id: str, fn: Callable[..., Any], *args: Any) -> Any:
    """ex.call(fn, *args), refused when it runs the package's answer to `exercise_id` (the reference the check
    compares with runs outside this call)."""
    with own_code(ex, exercise_id, fn, f"your {exercise_id.removeprefix('nb02-').replace('-', '_')}"):
        return ex.call(fn, *args)


# ------------------------------------------------------------------------------------------
# reset_workers
# ------------------------------------------------------------------------------------------

def _unseeded_workers(num: int = NUM_WORKERS) -> gym.vector.VectorEnv:
    # Not make_vec_env: that seeds the action space already, and we want to see whether the student does.
    return gym.make_vec("CartPole-v1", num_envs=num, vectorization_mode="sync")


def reset_workers(fn: Callable[..., Any]) -> None:
    """Check reset_workers(envs, seed) -> first observations [N, obs_dim], worker i seeded seed + i."""
    seed = 7
    with exercise("reset_workers") as ex:
        firsts, samples = [], []
        for _ in range(2):  # two fresh vector envs, the same seed: the answers must agree
            envs = _unseeded_workers()
            try:
                obs = _own_call(ex, "nb02-reset-workers", fn, envs, seed)
                samples.append(np.stack([envs.action_space.sample() for _ in range(5)]))
            finally:
                envs.close()
            if isinstance(obs, tuple):
                ex.fail("you returned a tuple: envs.reset returns (obs, infos); return only the observations")
            if not isinstance(obs, np.ndarray) or obs.shape != (NUM_WORKERS, 4):
                ex.fail(f"return the observations of all {NUM_WORKERS} workers, an array of shape "
                        f"({NUM_WORKERS}, 4); got {getattr(obs, 'shape', type(obs).__name__)}")
            firsts.append(obs)
        ex.ok()
        envs = _unseeded_workers()
        try:
            expected = ref.reset_workers(envs, seed)
        finally:
            envs.close()
        rows = firsts[0]
        ex.expect(not all(np.allclose(rows[0], row) for row in rows[1:]),
                  "all workers share one seed: every worker starts in the same state, so the batch holds N "
                  "copies of one trajectory; each worker needs a seed of its own (worker i: seed + i)")
        ex.expect(np.allclose(firsts[0], firsts[1]),
                  "the reset is not seeded: two calls with the same seed gave different first observations; "
                  "pass the seeds to envs.reset")
        ex.diagnose(rows.astype(np.float64), expected.astype(np.float64), {}, what="the first observations (use seeds seed, seed + 1, ..., seed + N - 1)")
        ex.expect(np.array_equal(samples[0], samples[1]),
                  "the action space is not seeded, so random actions differ from run to run: the action space "
                  "draws its samples from a generator of its own, apart from the seeds envs.reset takes")


# ------------------------------------------------------------------------------------------
# collect_step
# ------------------------------------------------------------------------------------------

class _FallingPolicy(nn.Module):
    """A deterministic policy that pushes the cart so the pole falls: episodes end within ~10 steps."""

    def dist(self, obs: torch.Tensor | np.ndarray) -> Categorical:
        leans_right = torch.as_tensor(obs, dtype=torch.float32)[..., 2] > 0
        # Push left when the pole leans right (and vice versa): probabilities 0/1, so sampling is deterministic.
        return Categorical(probs=torch.stack([leans_right, ~leans_right], dim=-1).float())

    def value(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        return torch.zeros(torch.as_tensor(obs).shape[0])

    def dist_and_value(self, obs: torch.Tensor | np.ndarray) -> tuple[Categorical, torch.Tensor]:
        return self.dist(obs), self.value(obs)

    def forward(self, obs: torch.Tensor | np.ndarray) -> tuple[Categorical, torch.Tensor]:
        # like the course's models; nn.Module's default forward raises NotImplementedError, which
        # would read as "your cell is not implemented yet"
        return self.dist_and_value(obs)


class _CoinPolicy(_FallingPolicy):
    """A stochastic policy: action 1 with probability 0.7 in every state (argmax would always say 1)."""

    def dist(self, obs: torch.Tensor | np.ndarray) -> Categorical:
        n = torch.as_tensor(obs).shape[0]
        return Categorical(probs=torch.tensor([0.3, 0.7]).expand(n, 2))


def _sampled_actions(ex: Exercise, fn: Callable[..., Any], steps: int = 10) -> np.ndarray:
    """The actions the student's collect_step takes with a 30/70 policy on 4 workers (seeded, the global RNGs kept)."""
    envs = _unseeded_workers()
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            obs, _ = envs.reset(seed=list(range(NUM_WORKERS)))
            done, actions = np.zeros(NUM_WORKERS, dtype=bool), []
            for _ in range(steps):
                batch, obs, done = _own_call(ex, "nb02-collect-step", fn, envs, _CoinPolicy(), obs, done)
                actions.append(_as_np(Batch.of(batch).actions))
    finally:
        envs.close()
    return np.concatenate(actions)


def _episode_workers() -> gym.vector.VectorEnv:
    # Worker 0 is truncated every 5 steps; workers 1 and 2 terminate (the pole falls) at different times.
    return gym.vector.SyncVectorEnv([lambda k=k: gym.make("CartPole-v1", max_episode_steps=k) for k in (5, 100, 12)])


def _as_np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def collect_step(fn: Callable[..., Any], steps: int = 20) -> None:
    """Check collect_step(envs, model, obs, prev_done) -> (Batch, next_obs, done) on workers that terminate and truncate."""
    model = _FallingPolicy()
    seeds = [3, 4, 5]
    mine_envs, ref_envs = _episode_workers(), _episode_workers()
    with exercise("collect_step") as ex:
        try:
            mine_obs, _ = mine_envs.reset(seed=seeds)
            ref_obs, _ = ref_envs.reset(seed=seeds)
            mine_done = ref_done = np.zeros(3, dtype=bool)
            mine, theirs = [], []
            for t in range(steps):
                out = _own_call(ex, "nb02-collect-step", fn, mine_envs, model, mine_obs, mine_done)
                if not isinstance(out, tuple) or len(out) != 3:
                    ex.fail("return three things: (batch, next_obs, done)")
                batch, mine_obs, mine_done = out
                try:
                    batch = Batch.of(batch)
                except (KeyError, TypeError) as exc:
                    ex.fail(f"the batch is not a Batch: {exc}")
                mine_done = _as_np(mine_done)
                if mine_done.shape != (3,):
                    ex.fail(f"done must have one flag per worker, shape (3,); got {mine_done.shape}")
                mine.append((batch, mine_done.astype(bool)))
                reference, ref_obs, ref_done = ref.collect_step(ref_envs, model, ref_obs, ref_done)
                theirs.append((reference, ref_done))
        finally:
            mine_envs.close()
            ref_envs.close()
        ex.ok()
        for name in ("obs", "actions", "rewards", "next_obs", "terminated"):
            got = getattr(mine[0][0], name)
            ex.expect_tensor(got, shape=tuple(getattr(theirs[0][0], name).shape), what=f"batch.{name}")
        if mine[0][0].mask is None:
            ex.fail("batch.mask is missing: set mask to a bool tensor [N], False for the reset step after an episode end")
        ex.expect_tensor(mine[0][0].mask, shape=(3,), dtype=torch.bool, what="batch.mask")

        stack = lambda rows, name: np.stack([_as_np(getattr(b, name)).astype(np.float64) for b, _ in rows])  # noqa: E731
        # observations first: a mix-up there also changes the sampled actions, and it has a name
        ex.diagnose(stack(mine, "obs"), stack(theirs, "obs"), {
            "batch.obs holds the observation after the step: obs is where the action was taken, next_obs "
            "where it led": stack(theirs, "next_obs")}, what="batch.obs")
        ex.diagnose(stack(mine, "next_obs"), stack(theirs, "next_obs"), {
            "batch.next_obs holds the observation before the step": stack(theirs, "obs")}, what="batch.next_obs")
        ex.diagnose(stack(mine, "actions"), stack(theirs, "actions"), {},
                    what="batch.actions (sample them from model.dist(obs))")
        ex.diagnose(stack(mine, "rewards"), stack(theirs, "rewards"), {}, what="batch.rewards")

        terminated = stack(theirs, "terminated")
        done = np.stack([d for _, d in theirs]).astype(np.float64)
        truncated = done * (1.0 - terminated)
        ex.diagnose(stack(mine, "terminated"), terminated, {
            "batch.terminated is also True on truncated steps: a truncated episode (time limit) still has a "
            "future, so its V(s') must be bootstrapped; only a true termination ends the return": done,
            "batch.terminated is True on time-limit truncations and False on real terminations: the two flags "
            "are swapped": truncated,
        }, what="batch.terminated")
        ex.diagnose(np.stack([d for _, d in mine]).astype(np.float64), done, {
            "done misses truncated episodes: a worker whose episode was truncated also resets on its next "
            "step, so the next call must know it": terminated,
            "done misses terminated episodes: a worker whose episode terminated resets on its next step": truncated,
        }, what="the returned done flags")
        prev_done = np.vstack([np.zeros((1, 3)), done[:-1]])
        ex.diagnose(stack(mine, "mask"), 1.0 - prev_done, {
            "the reset step entered the loss: with NEXT_STEP autoreset the step after an episode end only "
            "resets the worker (action ignored, reward 0, obs jumps from the final state to a new start); "
            "that row must be masked out": np.ones_like(prev_done),
            "you masked the last real step of each episode instead of the reset step after it: the mask "
            "comes from prev_done (the previous call's done), not from this step's flags": 1.0 - done,
            "the mask is inverted: True means 'use this transition', but yours is True exactly on the reset steps":
                prev_done,
        }, what="batch.mask")

        # the check above uses a policy with probabilities 0 and 1; with a 30/70 policy, sampling shows
        actions = _sampled_actions(ex, fn)
        ex.expect(not np.all(actions == 1),
                  f"all {actions.size} actions were the policy's most probable one (a 30/70 policy would pick the "
                  "other about 30% of the time): you act greedily. Training acts with the stochastic policy: "
                  "sample from model.dist(obs)")
        ex.expect(0.1 < np.mean(actions == 0) < 0.5,
                  f"with a policy that picks action 0 with probability 0.3, your actions were 0 in "
                  f"{np.mean(actions == 0):.0%} of {actions.size} steps: sample from model.dist(obs) (not uniformly)")


# ------------------------------------------------------------------------------------------
# take_batch
# ------------------------------------------------------------------------------------------

def _transitions(versions: list[int]) -> list[ref.Transition]:
    obs = np.zeros(4, dtype=np.float32)
    return [ref.Transition(obs, 0, 1.0, obs, False, worker=i % 3, version=v) for i, v in enumerate(versions)]


def _call_in_thread(ex: Any, fn: Callable[..., Any], inbox: queue.Queue, wait: float,
                    *args: Any) -> tuple[bool, Any]:
    """Run fn(inbox, *args) in a thread; (finished, result). Raises the student's exception, if any (and refuses the
    package's take_batch, which own_code can only see from the thread that runs it)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with own_code(ex, "nb02-take-batch", fn, "your take_batch"):
                box["result"] = fn(inbox, *args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the checking thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(wait)
    if thread.is_alive():
        return False, None
    if "error" in box:
        ex.call(_raise, box["error"])  # turn it into the usual named failure (or NotImplementedError)
    return True, box.get("result")


def _raise(exc: BaseException) -> None:
    raise exc


def _unblock(inbox: queue.Queue) -> None:
    # Feed a blocked student call enough transitions to finish, so no thread is left hanging.
    for t in _transitions([0] * 256):
        try:
            inbox.put_nowait(t)
        except queue.Full:
            break


def take_batch(fn: Callable[..., Any]) -> None:
    """Check take_batch(inbox, batch_size, learner_version, timeout) -> (transitions, lags) or None."""
    batch_size, version = 8, 10
    with exercise("take_batch") as ex:
        # 1. More than a batch is waiting: take exactly the first batch_size, leave the rest.
        versions = [10, 9, 9, 7, 10, 4, 8, 10, 6, 10, 10]
        items = _transitions(versions)
        inbox: queue.Queue = queue.Queue()
        for t in items:
            inbox.put(t)
        finished, out = _call_in_thread(ex, fn, inbox, 5.0, batch_size, version, 1.0)
        if not finished:
            _unblock(inbox)
            ex.fail("take_batch did not return although more than batch_size transitions were waiting")
        if out is None:
            ex.fail("take_batch returned None although more than batch_size transitions were waiting")
        if not isinstance(out, tuple) or len(out) != 2:
            ex.fail("return a pair (transitions, lags)")
        got, lags = out
        got = list(got)
        ex.expect(len(got) == batch_size,
                  f"you returned {len(got)} transitions; the learner updates on exactly batch_size={batch_size}"
                  + (" (the rest stay in the inbox for the next batch)" if len(got) > batch_size else ""))
        ex.expect(inbox.qsize() == len(items) - batch_size,
                  f"the inbox should still hold the {len(items) - batch_size} transitions you did not use; it holds "
                  f"{inbox.qsize()}: you took transitions out and dropped them")
        ex.expect(all(a is b for a, b in zip(got, items)),
                  "take the transitions in the order they arrived (inbox.get()), without changing them")
        lags = ex.expect_tensor(lags, shape=(batch_size,), what="lags")
        ex.expect(not lags.dtype.is_floating_point and lags.dtype != torch.bool,
                  f"lags count parameter versions: use an integer tensor (torch.int64), got {lags.dtype}")
        behaviour = torch.tensor(versions[:batch_size])
        ex.diagnose(lags.long(), version - behaviour, {
            "your lags are negative: the lag counts how many updates old the acting policy was, so it cannot be "
            "below 0": behaviour - version,
            "you returned the behaviour versions themselves, not how far the learner has moved on since them":
                behaviour,
            "lags are all zero: each transition records the version it was generated with, and the learner "
            "has moved on since": torch.zeros(batch_size, dtype=torch.int64),
        }, what="lags")

        # 2. Fewer than a batch waiting, more on the way: wait for them instead of updating early.
        inbox = queue.Queue()
        early, late = _transitions([10] * 3), _transitions([9] * 5)
        for t in early:
            inbox.put(t)

        def deliver_late() -> None:
            for t in late:
                time.sleep(0.02)
                inbox.put(t)

        feeder = threading.Thread(target=deliver_late, daemon=True)
        feeder.start()
        finished, out = _call_in_thread(ex, fn, inbox, 5.0, batch_size, version, 1.0)
        feeder.join()
        if not finished:
            _unblock(inbox)
            ex.fail("take_batch did not return although batch_size transitions arrived within the timeout")
        if out is None or len(list(out[0])) < batch_size:
            ex.fail(f"you updated on the {len(early)} transitions already waiting; wait until batch_size="
                    f"{batch_size} have accumulated (inbox.get(timeout=timeout) blocks until the next one arrives)")
        ex.ok()

        # 3. A hung worker (nothing more arrives): give up after the timeout instead of blocking forever.
        inbox = queue.Queue()
        for t in _transitions([10] * 3):
            inbox.put(t)
        start = time.perf_counter()
        finished, out = _call_in_thread(ex, fn, inbox, 3.0, batch_size, version, 0.2)
        if not finished:
            _unblock(inbox)
            ex.fail("take_batch blocked forever on an inbox that stays short: if every worker hangs the learner "
                    "hangs too; wait at most `timeout` seconds for each transition and give up (return None) when "
                    "none comes")
        ex.expect(out is None,
                  "when the timeout expires before batch_size transitions arrived, return None (the learner "
                  "then stops with a clear error) instead of a short batch")
        ex.expect(time.perf_counter() - start < 2.0,
                  "take_batch waited far longer than the timeout on a short inbox")
