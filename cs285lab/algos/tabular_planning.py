"""Planning on the tabular mazes, measured: exact values, planning from a fixed dataset, changing mazes (notebook 04).

`value_iteration` and `expected_episode_length` give the exact answers the runs are compared with;
`offline_planning` compares the three kinds of model (last outcome, sampled from counts, expected from
counts) on one fixed batch of data; `changing_maze_runs` is Dyna-Q and Dyna-Q+ on the blocking and
shortcut mazes. The book's Dyna-Q itself is in `cs285lab.algos.dyna`.
"""

from __future__ import annotations

import numpy as np

from cs285lab.envs.dyna_maze import LAYOUTS, Maze, make_maze

MODELS = ("last", "sample", "expected")
OFFLINE_PLANNERS = (*MODELS, "replay")   # offline_planning also replays the raw data, without a model
PLAN_ACTIONS = ("buffer", "policy")

__all__ = ["MODELS", "OFFLINE_PLANNERS", "PLAN_ACTIONS", "changing_maze_runs", "check_rates", "expected_episode_length",
           "offline_planning", "value_iteration"]


def check_rates(**rates: float) -> None:
    """A one-line error unless alpha is in (0, 1], gamma in [0, 1] and epsilon in [0, 1] (those given)."""
    bounds = {"alpha": (0.0, 1.0, False), "gamma": (0.0, 1.0, True), "epsilon": (0.0, 1.0, True)}
    for name, value in rates.items():
        low, high, low_ok = bounds[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not (low <= value <= high) or (value == low and not low_ok):
            interval = f"{'[' if low_ok else '('}{low:g}, {high:g}]"
            raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def value_iteration(maze: str | Maze = "dyna", slip: float = 0.0, gamma: float = 0.95,
                    tol: float = 1e-10) -> np.ndarray:
    """Optimal action values Q* [S, A] of the (possibly slippery) maze."""
    maze = make_maze(maze) if not isinstance(maze, Maze) else maze
    next_state, reward, terminated = maze.tables()
    S, A = next_state.shape
    Q = np.zeros((S, A))
    while True:
        backup = reward + gamma * Q.max(1)[next_state] * ~terminated        # [S, A] for the intended move
        new = (1 - slip) * backup + slip * backup.mean(1, keepdims=True)     # slipped: a uniform random move
        if np.abs(new - Q).max() < tol:
            return new
        Q = new


def expected_episode_length(maze: str | Maze = "dyna", epsilon: float = 0.1, gamma: float = 0.95) -> float:
    """Expected steps from S to G of the epsilon-greedy policy on Q* (ties split evenly), deterministic maze."""
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
    maze = make_maze(maze) if not isinstance(maze, Maze) else maze
    next_state, _, terminated = maze.tables()
    S, A = next_state.shape
    q_star = value_iteration(maze, 0.0, gamma)
    greedy = np.isclose(q_star, q_star.max(1, keepdims=True))
    pi = epsilon / A + (1 - epsilon) * greedy / greedy.sum(1, keepdims=True)     # [S, A]
    # T(s) = 1 + sum_a pi(a|s) T(s') (1 - terminated): one linear solve instead of simulated episodes
    transition = np.zeros((S, S))
    np.add.at(transition, (np.repeat(np.arange(S), A), next_state.reshape(-1)), (pi * ~terminated).reshape(-1))
    steps = np.linalg.solve(np.eye(S) - transition, np.ones(S))
    return float(steps[maze.start])


def offline_planning(model: str, slip: float = 0.3, data_steps: int = 3000, sweeps: int = 300,
                     maze: str | Maze = "dyna", alpha: float = 0.1, gamma: float = 0.95,
                     seed: int = 0) -> np.ndarray:
    """Plan from a fixed batch of random-walk data with one kind of model (or none); return the error per sweep.

    The data: `data_steps` real steps of a uniformly random policy on the (slippery) maze,
    restarting at S after the goal. Each sweep makes one planning update of every tried (s, a)
    (the same as len(tried) uniformly sampled updates, in expectation), all from the Q of the sweep's
    start. model="replay" uses no model: plain experience replay, as many updates per sweep, each on a
    stored transition drawn uniformly from the data and applied one after the other (Q-learning on
    the buffer). The error is the RMS of max_a Q(s, a) - V*(s) over the states the data visited, V* from
    `value_iteration`.
    """
    if model not in OFFLINE_PLANNERS:
        raise ValueError(f"model must be one of {OFFLINE_PLANNERS}, got {model!r}")
    check_rates(alpha=alpha, gamma=gamma)
    maze = make_maze(maze) if not isinstance(maze, Maze) else maze
    rng = np.random.default_rng(seed)
    true_next, true_reward, true_term = maze.tables()
    S, A = true_next.shape
    # The data, and the models fit to it: last outcome per (s, a), and next-state counts.
    counts = np.zeros((S, A, S))
    last_next = np.zeros((S, A), dtype=np.int64)
    reward_at, term_at = np.zeros(S), np.zeros(S, dtype=bool)
    buffer = np.zeros((data_steps, 3), dtype=np.int64)  # the raw data, (s, a, s') per real step
    s = maze.start
    for step in range(data_steps):
        a = int(rng.integers(A))
        a_env = int(rng.integers(A)) if rng.random() < slip else a
        s2 = int(true_next[s, a_env])
        buffer[step] = s, a, s2
        counts[s, a, s2] += 1
        last_next[s, a] = s2
        reward_at[s2], term_at[s2] = true_reward[s, a_env], true_term[s, a_env]
        s = maze.start if true_term[s, a_env] else s2
    tried_s, tried_a = np.nonzero(counts.sum(2))
    probs = counts[tried_s, tried_a] / counts[tried_s, tried_a].sum(1, keepdims=True)   # [P, S]
    cum = probs.cumsum(1)
    visited = np.unique(tried_s)
    v_star = value_iteration(maze, slip, gamma).max(1)
    Q = np.zeros((S, A))
    errors = np.zeros(sweeps)
    for sweep in range(sweeps):
        if model == "replay":      # no model: Q-learning on stored transitions, uniformly drawn, one at a time
            for s, a, s2 in buffer[rng.integers(data_steps, size=len(tried_s))]:
                target = reward_at[s2] + gamma * Q[s2].max() * (not term_at[s2])
                Q[s, a] += alpha * (target - Q[s, a])
            errors[sweep] = np.sqrt(np.mean((Q.max(1)[visited] - v_star[visited]) ** 2))
            continue
        value = reward_at + gamma * Q.max(1) * ~term_at        # r + gamma V(s') of landing in each s'
        if model == "last":        # the last outcome, as if the maze were deterministic
            target = value[last_next[tried_s, tried_a]]
        elif model == "sample":    # a next state drawn from the counts
            target = value[np.argmax(cum > rng.random((len(tried_s), 1)), axis=1)]
        else:                      # the expectation under the counts
            target = probs @ value
        Q[tried_s, tried_a] += alpha * (target - Q[tried_s, tried_a])
        errors[sweep] = np.sqrt(np.mean((Q.max(1)[visited] - v_star[visited]) ** 2))
    return errors



def changing_maze_runs(n_planning: int, steps: int, runs: int = 10, *, layout: str = "shortcut",
                       kappa: float = 0.0, alpha: float = 0.1, gamma: float = 0.95, epsilon: float = 0.1,
                       seed: int = 0, plan_untried: bool | None = None) -> np.ndarray:
    """Dyna-Q (kappa = 0) or Dyna-Q+ (kappa > 0) on a maze that changes; return cumulative reward [runs, steps].

    The blocking/shortcut mazes of Sutton & Barto (Examples 8.2, 8.3) switch layout after a fixed
    number of real steps. Planning draws a visited state, then an action: a tried one (Dyna-Q) or any
    one (Dyna-Q+, as in the book: untried actions lead back to the same state with reward 0). Dyna-Q+
    adds the bonus kappa * sqrt(tau) to the simulated reward, tau = real steps since the pair was
    last tried, so long-untested pairs look worth re-testing. `plan_untried` (default: kappa > 0)
    sets the second change alone, so that the two can be told apart.
    """
    if layout not in ("blocking", "shortcut"):
        raise ValueError(f"layout must be 'blocking' or 'shortcut', got {layout!r}")
    if n_planning < 0 or steps < 1 or runs < 1 or kappa < 0:
        raise ValueError("need n_planning >= 0, steps >= 1, runs >= 1, kappa >= 0")
    check_rates(alpha=alpha, gamma=gamma, epsilon=epsilon)
    plan_untried = kappa > 0 if plan_untried is None else plan_untried
    before, after, change_at = LAYOUTS[layout]
    tables = [Maze(before).tables(), Maze(after).tables()]
    start = Maze(before).start
    S, A = tables[0][0].shape
    rng = np.random.default_rng(seed)
    who = np.arange(runs)
    Q = np.zeros((runs, S, A))
    m_next = np.broadcast_to(np.arange(S)[None, :, None], (runs, S, A)).copy()   # untried: stay put, reward 0
    m_reward = np.zeros((runs, S, A))
    m_term = np.zeros((runs, S, A), dtype=bool)
    tried = np.zeros((runs, S, A), dtype=bool)
    last_tried = np.zeros((runs, S, A))          # real step at which (s, a) was last tried
    state = np.full(runs, start)
    rewards = np.zeros((runs, steps))
    for t in range(steps):
        true_next, true_reward, true_term = tables[int(t >= change_at)]
        s = state
        # (a) act epsilon-greedily (random tie-breaking) in the current maze.
        q = Q[who, s]
        a = np.argmax(rng.random(q.shape) * (q == q.max(1, keepdims=True)), axis=1)
        a = np.where(rng.random(runs) < epsilon, rng.integers(A, size=runs), a)
        s2, r, term = true_next[s, a], true_reward[s, a], true_term[s, a]
        # (b) direct RL, (c) model learning.
        Q[who, s, a] += alpha * (r + gamma * Q[who, s2].max(1) * ~term - Q[who, s, a])
        m_next[who, s, a], m_reward[who, s, a], m_term[who, s, a] = s2, r, term
        tried[who, s, a], last_tried[who, s, a] = True, t
        visited = tried.any(2)
        # (d) planning: a visited state (uniformly), then a tried action (Dyna-Q) or any action (Dyna-Q+).
        for _ in range(n_planning):
            ps = np.argmax(rng.random((runs, S)) * visited, axis=1)
            allowed = np.ones((runs, A), dtype=bool) if plan_untried else tried[who, ps]
            pa = np.argmax(rng.random((runs, A)) * allowed, axis=1)
            bonus = kappa * np.sqrt(t - last_tried[who, ps, pa])
            p_next = m_next[who, ps, pa]
            target = m_reward[who, ps, pa] + bonus + gamma * Q[who, p_next].max(1) * ~m_term[who, ps, pa]
            Q[who, ps, pa] += alpha * (target - Q[who, ps, pa])
        rewards[:, t] = r
        state = np.where(term, start, s2)
    return rewards.cumsum(1)
