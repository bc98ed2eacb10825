"""The reference tabular Dyna-Q: it learns like the book says, the vectorized runs agree with the pseudocode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cs285lab.envs  # noqa: F401
from cs285lab.algos import dyna
from cs285lab.envs.dyna_maze import make_maze

GAMMA = 0.95


def test_value_iteration_deterministic_and_slippery():
    maze = make_maze()
    q = dyna.value_iteration(maze, slip=0.0, gamma=GAMMA)
    assert q[maze.start].max() == pytest.approx(GAMMA ** 13)  # 14 steps, reward at the 14th
    # With slip, Q* satisfies the slippery Bellman equation written out with an explicit transition matrix.
    slip = 0.3
    q = dyna.value_iteration(maze, slip=slip, gamma=GAMMA)
    next_state, reward, terminated = maze.tables()
    S, A = next_state.shape
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    for s in range(S):
        for a in range(A):
            for b in range(A):
                p = (1 - slip) * (a == b) + slip / A
                P[s, a, next_state[s, b]] += p
                R[s, a] += p * reward[s, b]
    v_next = np.where(np.arange(S) == maze.goal, 0.0, q.max(1))
    np.testing.assert_allclose(q, R + GAMMA * P @ v_next, atol=1e-8)
    assert q[maze.start].max() < GAMMA ** 13


def test_scalar_dyna_q_planning_speeds_learning():
    env = gym.make("cs285lab/DynaMaze-v0")
    env.reset(seed=0)
    runs = {n: np.array([dyna.dyna_q(env, n, 10, np.random.default_rng(i)) for i in range(3)]) for n in (0, 30)}
    assert runs[30].min() >= 14 and runs[0].min() >= 14
    assert runs[30][:, 4:].mean() < 25            # near the 14-step path after a few episodes
    assert runs[0][:, 1:].mean() > 4 * runs[30][:, 1:].mean()


def test_scalar_dyna_q_rejects_continuous_env():
    with pytest.raises(TypeError, match="Discrete observation and action spaces"):
        dyna.dyna_q(gym.make("Pendulum-v1"), 5, 1, np.random.default_rng(0))


def test_vectorized_runs_match_the_pseudocode_statistically():
    env = gym.make("cs285lab/DynaMaze-v0")
    env.reset(seed=0)
    scalar = np.array([dyna.dyna_q(env, 5, 12, np.random.default_rng(100 + i)) for i in range(8)])
    fast = dyna.dyna_q_runs(5, runs=24, episodes=12, seed=0)
    assert fast.steps.shape == (24, 12) and fast.steps.min() >= 14
    # Same algorithm: the late-episode averages agree (both near the epsilon-greedy optimum).
    assert abs(scalar[:, 6:].mean() - fast.steps[:, 6:].mean()) < 6
    assert fast.env_steps.tolist() == fast.steps.sum(1).tolist()


def test_vectorized_runs_are_deterministic_and_plan():
    a = dyna.dyna_q_runs(20, runs=4, episodes=8, seed=3)
    b = dyna.dyna_q_runs(20, runs=4, episodes=8, seed=3)
    assert np.array_equal(a.steps, b.steps) and np.array_equal(a.Q, b.Q)
    none = dyna.dyna_q_runs(0, runs=4, episodes=8, seed=3)
    assert none.steps[:, 1:].mean() > 4 * a.steps[:, 1:].mean()
    assert a.episodes_to_reach(1e9) == 1 and a.episodes_to_reach(0) == 9


def test_counts_models_agree_on_a_deterministic_maze():
    # On a deterministic maze a sampled next state and the expectation are the same thing.
    sample = dyna.dyna_q_runs(5, runs=3, episodes=6, model="sample", seed=1)
    expected = dyna.dyna_q_runs(5, runs=3, episodes=6, model="expected", seed=1)
    assert np.array_equal(sample.steps, expected.steps)
    np.testing.assert_allclose(sample.Q, expected.Q)


def test_made_up_updates_only_with_policy_actions():
    assert dyna.dyna_q_runs(5, runs=2, episodes=4, seed=0).made_up_fraction == 0.0
    assert dyna.dyna_q_runs(5, runs=2, episodes=4, plan_actions="policy", seed=0).made_up_fraction > 0.0


def test_offline_planning_models():
    exact = {m: dyna.offline_planning(m, slip=0.0, data_steps=3000, sweeps=400, seed=0)[-1] for m in dyna.MODELS}
    assert max(exact.values()) < 0.01                # deterministic maze: every model is exact
    noisy = {m: dyna.offline_planning(m, slip=0.3, data_steps=5000, sweeps=300, seed=s)[-50:].mean()
             for m in dyna.MODELS for s in (0,)}
    assert noisy["last"] > 1.3 * noisy["expected"]


def test_offline_replay_plans_like_the_counts_models_and_the_last_outcome_model_is_biased():
    # deterministic maze: replaying the raw data reaches V* too, only more slowly
    assert dyna.offline_planning("replay", slip=0.0, data_steps=5000, sweeps=1500, seed=0)[-1] < 0.01
    final = {m: dyna.offline_planning(m, slip=0.3, data_steps=5000, sweeps=1500, seed=1)[-100:].mean()
             for m in dyna.OFFLINE_PLANNERS}
    assert final["last"] > 2 * max(final["replay"], final["sample"], final["expected"])
    assert final["replay"] < 2 * final["expected"]
    with pytest.raises(ValueError, match="model must be one of"):
        dyna.offline_planning("perfect")


def test_vectorized_replay_learns_more_slowly_early_than_dyna_q_and_never_makes_up_pairs():
    replay = dyna.dyna_q_runs(5, runs=10, episodes=20, model="replay", seed=0)
    last = dyna.dyna_q_runs(5, runs=10, episodes=20, model="last", seed=0)
    none = dyna.dyna_q_runs(0, runs=10, episodes=20, seed=0)
    assert replay.made_up_fraction == 0.0
    assert last.steps[:, 1:10].mean() < replay.steps[:, 1:10].mean() < none.steps[:, 1:10].mean()
    assert replay.steps[:, -5:].mean() < 25
    with pytest.raises(ValueError, match="replay"):
        dyna.dyna_q_runs(5, model="replay", plan_actions="policy")


def test_bad_arguments():
    with pytest.raises(ValueError, match="model must be one of"):
        dyna.dyna_q_runs(5, model="perfect")
    with pytest.raises(ValueError, match="plan_actions"):
        dyna.dyna_q_runs(5, plan_actions="random")
    with pytest.raises(ValueError, match="n_planning >= 0"):
        dyna.dyna_q_runs(-1)
    with pytest.raises(ValueError, match="slip is a probability"):
        dyna.dyna_q_runs(1, slip=2.0)


def test_dyna_q_plus_recovers_when_the_maze_blocks_the_path():
    steps = 3000                                       # the blocking maze changes after 1000 steps
    plus = dyna.changing_maze_runs(10, steps, runs=3, layout="blocking", kappa=1e-4, alpha=1.0, seed=0)
    plain = dyna.changing_maze_runs(10, 1000, runs=3, layout="blocking", kappa=0.0, alpha=1.0, seed=0)
    assert plus.shape == (3, steps) and np.all(np.diff(plus, axis=1) >= 0)
    assert plain[:, -1].min() > 10                     # Dyna-Q finds the goal repeatedly before the change
    assert (plus[:, -1] - plus[:, 1499]).min() > 20    # Dyna-Q+ found the new path in every run
    with pytest.raises(ValueError, match="layout"):
        dyna.changing_maze_runs(5, 10, layout="dyna")


def test_dyna_q_plus_two_changes_can_be_run_apart():
    """plan_untried defaults to the book's Dyna-Q+ (on with the bonus, off without), and switches alone."""
    run = lambda **kw: dyna.changing_maze_runs(10, 1200, runs=2, layout="blocking", alpha=1.0, seed=0, **kw)
    assert np.array_equal(run(kappa=1e-4), run(kappa=1e-4, plan_untried=True))
    assert np.array_equal(run(kappa=0.0), run(kappa=0.0, plan_untried=False))
    assert not np.array_equal(run(kappa=0.0), run(kappa=0.0, plan_untried=True))   # the switch is used
    assert not np.array_equal(run(kappa=1e-4), run(kappa=1e-4, plan_untried=False))


def test_expected_episode_length_matches_simulated_epsilon_greedy_episodes():
    assert dyna.expected_episode_length("dyna", epsilon=0.0) == pytest.approx(14.0)   # the shortest path
    exact = dyna.expected_episode_length("dyna", epsilon=0.1)
    # Simulate epsilon-greedy on Q* (ties split evenly) and compare with the linear solve.
    maze = dyna.make_maze("dyna")
    next_state, _, terminated = maze.tables()
    q_star = dyna.value_iteration(maze)
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(4000):
        s, steps, done = maze.start, 0, False
        while not done:
            best = np.flatnonzero(np.isclose(q_star[s], q_star[s].max()))
            a = rng.integers(4) if rng.random() < 0.1 else rng.choice(best)
            done, s, steps = bool(terminated[s, a]), next_state[s, a], steps + 1
        lengths.append(steps)
    assert exact == pytest.approx(np.mean(lengths), abs=0.15)
    with pytest.raises(ValueError, match="epsilon"):
        dyna.expected_episode_length("dyna", epsilon=1.0)
