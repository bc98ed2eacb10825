"""The parallel actor-critic machinery: seeded workers, reset-step masks, versions, policy lag, hung workers."""

from __future__ import annotations

import math
import queue
import threading

import gymnasium as gym
import numpy as np
import pytest
import torch

from cs285lab import seed_everything
from cs285lab.algos import parallel as P
from cs285lab.algos.actor_critic import make_actor_critic

ENV = "CartPole-v1"


@pytest.fixture(autouse=True)
def one_thread_and_no_leaks():
    seed_everything(0)
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


# ---------------------------------------------------------------------------- synchronous workers

def test_make_workers_seeds_each_worker_differently_and_reproducibly():
    envs, first = P.make_workers(ENV, 4, seed=3)
    envs.close()
    envs, again = P.make_workers(ENV, 4, seed=3)
    envs.close()
    assert first.shape == (4, 4)
    assert len({tuple(row) for row in first}) == 4, "workers must start in different states"
    np.testing.assert_array_equal(first, again)


def test_collect_step_masks_exactly_the_reset_steps():
    envs, obs = P.make_workers(ENV, 3, seed=0)
    model = make_actor_critic(envs.single_observation_space, envs.single_action_space)
    done = np.zeros(3, dtype=bool)
    resets = 0
    try:
        for _ in range(120):
            prev_done = done
            batch, obs, done = P.collect_step(envs, model, obs, prev_done)
            np.testing.assert_array_equal(batch.mask.numpy(), ~prev_done)
            # A NEXT_STEP reset step gives reward 0; a real CartPole step always gives 1.
            np.testing.assert_array_equal(batch.rewards.numpy() == 0, prev_done)
            resets += int(prev_done.sum())
    finally:
        envs.close()
    assert resets >= 3, "the random policy should end several episodes in 120 steps"


def test_lockstep_vector_env_runs_at_the_slowest_workers_pace():
    model = make_actor_critic(gym.spaces.Box(-np.inf, np.inf, (4,), np.float32), gym.spaces.Discrete(2))
    speed = P.lockstep_throughput(ENV, 2, model, slow_delay=0.05, steps=12)
    assert speed <= 2 / 0.05, "each lockstep round waits for the slow worker's 50 ms"


def test_make_workers_rejects_bad_input():
    with pytest.raises(ValueError, match="vectorization"):
        P.make_workers(ENV, 2, 0, vectorization="threads")
    with pytest.raises(ValueError, match="num_envs"):
        P.make_workers(ENV, 0, 0)
    with pytest.raises(TypeError, match="Box observations"):
        P.make_workers("FrozenLake-v1", 2, 0)


# ---------------------------------------------------------------------------- parameter server

def test_parameter_server_versions_and_snapshots():
    model = torch.nn.Linear(2, 1)
    server = P.ParameterServer(model)
    version, params = server.pull()
    assert version == 0
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(server.pull()[1]["weight"], params["weight"]), "a pulled snapshot must not change"
    assert server.publish(model) == 1
    version, latest = server.pull()
    assert version == 1 and torch.equal(latest["weight"], model.weight)
    stop = threading.Event()
    stop.set()
    assert server.wait_for(5, stop) is False, "wait_for must give up when training stops"
    assert server.wait_for(1, stop) is True


# ---------------------------------------------------------------------------- take_batch

def test_take_batch_lags_and_timeout():
    inbox: queue.Queue = queue.Queue()
    obs = np.zeros(4, dtype=np.float32)
    for v in (5, 3, 4, 5, 1):
        inbox.put(P.Transition(obs, 0, 1.0, obs, False, worker=0, version=v))
    batch, lags = P.take_batch(inbox, 4, learner_version=5, timeout=0.1)
    assert [t.version for t in batch] == [5, 3, 4, 5]
    assert lags.tolist() == [0, 2, 1, 0] and lags.dtype == torch.int64
    assert P.take_batch(inbox, 4, learner_version=5, timeout=0.05) is None


# ---------------------------------------------------------------------------- n-step transitions

@pytest.mark.timeout(30)
def test_worker_delivers_n_step_returns_and_flushes_at_episode_ends():
    env = gym.make(ENV)
    model = make_actor_critic(env.observation_space, env.action_space)
    env.close()
    server, inbox, stop = P.ParameterServer(model), queue.Queue(), threading.Event()
    worker = P.Worker(0, ENV, 0, model, server, inbox, stop, n_steps=3, gamma=0.5)
    worker.start()
    delivered = []
    try:
        while len(delivered) < 200:
            delivered.append(inbox.get(timeout=10))
    finally:
        stop.set()
        worker.join(timeout=5)
    ends = [i for i, t in enumerate(delivered) if t.episode_return is not None]
    assert len(ends) >= 3, "a random policy ends several CartPole episodes in 200 steps"
    for t in delivered:
        assert 1 <= t.steps <= 3
        assert t.reward == pytest.approx(sum(0.5 ** k for k in range(t.steps))), "CartPole pays 1 per step"
    for end in ends:
        # the episode's last three steps are flushed together: 3, 2, 1 steps to the end (or fewer)
        assert delivered[end].steps == 1 and delivered[end].terminated
        assert delivered[end - 1].steps == 2 and delivered[end - 2].steps == 3
    # away from episode ends every transition looks 3 steps ahead
    inside = [t for i, t in enumerate(delivered) if all(i + k not in ends for k in (0, 1))]
    assert all(t.steps == 3 for t in inside)


def test_learner_loss_bootstraps_with_gamma_to_the_n():
    env = gym.make(ENV)
    model = make_actor_critic(env.observation_space, env.action_space)
    env.close()
    obs = torch.randn(4, 4)
    batch = P.Batch(obs=obs, actions=torch.tensor([0, 1, 0, 1]), rewards=torch.ones(4), next_obs=obs.flip(0),
                         terminated=torch.tensor([0.0, 0.0, 1.0, 0.0]), steps=torch.tensor([1.0, 3.0, 2.0, 5.0]))
    loss, stats = P.learner_loss(model, batch, gamma=0.9, value_coef=1.0)
    with torch.no_grad():
        y = 1 + 0.9 ** batch.steps * model.value(batch.next_obs) * (1 - batch.terminated)
        expected = ((model.value(obs) - y) ** 2).mean()
    assert stats["value_loss"] == pytest.approx(expected.item(), rel=1e-5)


# ---------------------------------------------------------------------------- the asynchronous learner

@pytest.mark.timeout(60)
def test_async_records_versions_and_lag():
    model, history = P.train_async(ENV, P.AsyncConfig(num_workers=3, total_steps=640, batch_size=32), seed=0)
    updates = len(history.update_steps)
    assert updates == 20 and history.update_steps[-1] == 640
    assert len(history.lag) == 640 == len(history.lag_worker) == len(history.lag_update)
    lag, at = np.asarray(history.lag), np.asarray(history.lag_update)
    assert lag.min() >= 0, "a transition cannot come from a policy newer than the learner's"
    assert (lag <= at).all(), "a lag cannot exceed the number of updates made so far"
    assert set(history.lag_worker) == {0, 1, 2}, "every worker should deliver"
    assert sum(history.worker_steps) >= 640


@pytest.mark.timeout(60)
def test_stalled_worker_delivers_a_stale_transition_and_does_not_block_the_learner():
    stall_updates = 6
    config = P.AsyncConfig(num_workers=3, total_steps=32 * 16, batch_size=32,
                           stalls={0: P.Stall(at_step=3, updates=stall_updates)})
    _, history = P.train_async(ENV, config, seed=0)
    lags0 = history.lags_of(0)
    assert lags0.max() >= stall_updates, "the transition acted before the stall is at least that many updates old"
    others = np.concatenate([history.lags_of(1), history.lags_of(2)])
    assert np.median(others) < stall_updates, "healthy workers keep up with the learner"


@pytest.mark.timeout(60)
def test_hung_forever_worker_does_not_deadlock_and_is_joined():
    config = P.AsyncConfig(num_workers=2, total_steps=32 * 6, batch_size=32,
                           stalls={1: P.Stall(at_step=2, updates=math.inf)}, timeout=5.0)
    _, history = P.train_async(ENV, config, seed=0)
    assert history.update_steps[-1] == 32 * 6
    assert history.worker_steps[1] == 2, "the hung worker took exactly its 2 steps"
    # the autouse fixture asserts that both threads were joined


@pytest.mark.timeout(60)
def test_all_workers_hung_raises_instead_of_hanging():
    with pytest.raises(RuntimeError, match="every worker is hung or dead"):
        P.train_async(ENV, P.AsyncConfig(num_workers=2, total_steps=320, batch_size=32, timeout=0.3,
                                         stalls={0: P.Stall(1, math.inf), 1: P.Stall(1, math.inf)}), seed=0)


class _CrashingCartPole(gym.Wrapper):
    def __init__(self) -> None:
        super().__init__(gym.make(ENV))
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps > 5:
            raise RuntimeError("simulator exploded")
        return self.env.step(action)


@pytest.mark.timeout(60)
def test_worker_crash_is_reported_by_the_learner():
    gym.register("CrashingCartPole-v0", entry_point=_CrashingCartPole)
    with pytest.raises(RuntimeError, match="worker-0 crashed: RuntimeError: simulator exploded"):
        P.train_async("CrashingCartPole-v0", P.AsyncConfig(num_workers=1, total_steps=320, timeout=0.5), seed=0)


@pytest.mark.timeout(60)
def test_learner_error_still_stops_and_joins_the_workers():
    def broken_loss(*args):
        raise ValueError("broken loss")
    with pytest.raises(ValueError, match="broken loss"):
        P.train_async(ENV, P.AsyncConfig(num_workers=3, total_steps=320), seed=0, loss_fn=broken_loss)


@pytest.mark.timeout(60)
def test_bad_take_batch_output_gets_a_clear_error():
    def list_lags(inbox, batch_size, learner_version, timeout):
        batch, lags = P.take_batch(inbox, batch_size, learner_version, timeout)
        return batch, lags.tolist()
    with pytest.raises(TypeError, match="lags as a tensor"):
        P.train_async(ENV, P.AsyncConfig(num_workers=2, total_steps=320), seed=0, take_batch_fn=list_lags)


def test_train_async_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_workers"):
        P.AsyncConfig(num_workers=0)
    with pytest.raises(ValueError, match="worker 5 does not exist"):
        P.AsyncConfig(num_workers=2, step_delays={5: 0.1})
    with pytest.raises(TypeError, match="1-D Box observations"):
        P.train_async("FrozenLake-v1", P.AsyncConfig(num_workers=2), seed=0)


# ---------------------------------------------------------------------------- the notebook's learning check

def _final_return(loss_fn) -> float:
    """What notebook 02 asserts on: the mean of the async learner's last 3 evaluations, at the ci budget."""
    import cs285lab

    b = cs285lab.budget("nb02", "ci")
    _, history = P.train_async(b.env_id, b.async_learner, seed=b.seed, loss_fn=loss_fn)
    return float(np.mean([row["eval_return"] for row in history.rows[-3:]]))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_learning_check_passes_for_the_learner_and_fails_for_a_reversed_policy_gradient():
    """The notebook's learning check separates a working learner from a broken one.

    A missing (1 - terminated) mask is NOT used here: with 5-step returns the threaded learner
    sometimes still clears the threshold without it (measured 22-117 against 100), so that bug is
    caught by name in the collect_step check (tests/test_checks_nb02.py), not by the learning check.
    """
    import cs285lab.budgets

    threshold = cs285lab.budgets.thresholds("nb02", "ci")["async_learned_return"]

    def reversed_policy_gradient(model, batch, gamma, value_coef, entropy_coef):
        batch.rewards = -batch.rewards  # the learner now pushes pi towards short episodes
        return P.learner_loss(model, batch, gamma, value_coef, entropy_coef)

    assert _final_return(P.learner_loss) >= threshold
    assert _final_return(reversed_policy_gradient) < threshold


# ---------------------------------------------------------------------------- the config and the history schema

def test_async_config_validates_and_names_unknown_fields():
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        P.AsyncConfig(n_steps=0)
    with pytest.raises(ValueError, match="worker 4 does not exist"):
        P.AsyncConfig(num_workers=2, stalls={4: P.Stall(1, 1)})
    with pytest.raises(TypeError, match=r"unknown keyword\(s\) \['batchsize'\]; AsyncConfig's fields are .*batch_size"):
        P.train_async(ENV, P.AsyncConfig(), seed=0, batchsize=8)
    with pytest.raises(TypeError, match=r"\['num_workers'\] both by position and by keyword"):
        P.train_async(ENV, 2, 320, 0, num_workers=3)


def test_async_evaluations_are_history_rows_and_evals_is_their_older_view():
    config = P.AsyncConfig(num_workers=2, total_steps=128, batch_size=32, eval_every=64, eval_episodes=1)
    _, history = P.train_async(ENV, config, seed=0)
    assert [row["step"] for row in history.rows] == [0, 64, 128]
    for row in history.rows:
        assert {"step", "eval_return", "train_return", "wall_s", "train_s", "train_cpu_s"} <= set(row)
        assert row["env_steps"] == row["step"]  # the name rows had before one schema
    assert history.evals == [(r["step"], r["wall_s"], r["eval_return"]) for r in history.rows]
    # the positional call of notebooks saved from the previous release takes the same settings (cs285lab.algos.legacy)
    _, old = P.train_async(ENV, 2, 128, 0, batch_size=32, eval_every=64, eval_episodes=1)
    assert [s for s, _, _ in old.evals] == [0, 64, 128]
