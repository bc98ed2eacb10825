"""Tabular Dyna-Q (Sutton & Barto, section 8.2), written twice on purpose.

1. `dyna_q`: one run, step by step, exactly the book's pseudocode (what notebook 04's students write):
       (a) act epsilon-greedily,  (b) Q-learning on the real transition,
       (c) model learning (remember the last outcome of (s, a)),
       (d) n planning updates from previously seen (s, a) pairs.
2. `dyna_q_runs`: many independent runs at once (numpy arrays with a leading run axis), with the
   design choices of classic Dyna as switches: the kind of model (last outcome, sampled from counts,
   expected from counts), where planning actions come from (the buffer or the latest policy), and
   the length of model rollouts. Same algorithm, so the same figure, at numpy speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

# The planning analyses of notebook 04 moved to tabular_planning; they stay importable from here.
from cs285lab.algos.tabular_planning import (MODELS, OFFLINE_PLANNERS, PLAN_ACTIONS, changing_maze_runs, check_rates,  # noqa: F401
                                             expected_episode_length, offline_planning, value_iteration)
from cs285lab.envs.dyna_maze import Maze, make_maze
from cs285lab.twins import answer, twin

Model = dict[tuple[int, int], tuple[float, int, bool]]  # (s, a) -> (reward, next state, terminated)


# ---------------------------------------------------------------- one run, the book's pseudocode

@twin("nb04", "nb04-epsilon-greedy")
def epsilon_greedy(q_values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """With probability epsilon a uniformly random action, else a greedy one (ties broken at random)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    best = np.flatnonzero(q_values == q_values.max())
    return int(rng.choice(best))  # np.argmax would always pick the first of tied actions


@twin("nb04", "nb04-q-update")
def q_learning_update(Q: np.ndarray, s: int, a: int, r: float, s_next: int, terminated: bool,
                      alpha: float, gamma: float) -> None:
    """In place: Q[s, a] += alpha * (r + gamma * max_a' Q[s_next, a'] * (1 - terminated) - Q[s, a])."""
    target = r + gamma * Q[s_next].max() * (1.0 - terminated)  # no future after the goal
    Q[s, a] += alpha * (target - Q[s, a])


@twin("nb04", "nb04-update-model")
def update_model(model: Model, s: int, a: int, r: float, s_next: int, terminated: bool) -> None:
    """Remember the last outcome of taking a in s (a deterministic model)."""
    model[(s, a)] = (r, s_next, terminated)


@twin("nb04", "nb04-planning")
def planning(Q: np.ndarray, model: Model, n: int, alpha: float, gamma: float,
             rng: np.random.Generator) -> None:
    """n Q-learning updates on simulated transitions from uniformly sampled previously seen (s, a)."""
    seen = list(model)
    if not seen:
        return
    for _ in range(n):
        s, a = seen[rng.integers(len(seen))]
        r, s_next, terminated = model[(s, a)]
        q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma)


@twin("nb04", "nb04-dyna-q")
def dyna_q(env: gym.Env, n_planning: int, episodes: int, rng: np.random.Generator,
           alpha: float = 0.1, gamma: float = 0.95, epsilon: float = 0.1) -> list[int]:
    """Run tabular Dyna-Q for `episodes` episodes from Q = 0; return the steps of each episode."""
    _require_tabular(env)
    check_rates(alpha=alpha, gamma=gamma, epsilon=epsilon)
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    model: Model = {}
    steps_per_episode = []
    for _ in range(episodes):
        s, _ = env.reset()
        steps, done = 0, False
        while not done:
            a = epsilon_greedy(Q[s], epsilon, rng)                                   # (a) act
            s_next, r, terminated, truncated, _ = env.step(a)
            q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma)          # (b) direct RL
            update_model(model, s, a, r, s_next, terminated)                        # (c) model learning
            planning(Q, model, n_planning, alpha, gamma, rng)                       # (d) planning
            s, steps, done = s_next, steps + 1, terminated or truncated
        steps_per_episode.append(steps)
    return steps_per_episode


def _require_tabular(env: gym.Env) -> None:
    if not (isinstance(env.observation_space, gym.spaces.Discrete)
            and isinstance(env.action_space, gym.spaces.Discrete)):
        raise TypeError(f"tabular Dyna-Q needs Discrete observation and action spaces; got "
                        f"{env.observation_space} and {env.action_space}")


# ---------------------------------------------------------------- many runs at once, with switches

@dataclass
class DynaRuns:
    """What `dyna_q_runs` returns: per-run episode lengths and the final Q tables."""

    steps: np.ndarray          # [runs, episodes] steps of each episode
    Q: np.ndarray              # [runs, S, A] final action values
    env_steps: np.ndarray      # [runs] real env steps taken
    made_up_fraction: float    # share of planning updates on (s, a) pairs never tried (model guesses)
    config: dict = field(default_factory=dict)

    def episodes_to_reach(self, max_steps: float) -> int:
        """First episode (1-based) from which the run-average stays at or below `max_steps` steps."""
        mean = self.steps.mean(0)
        above = np.flatnonzero(mean > max_steps)
        return int(above[-1] + 2) if above.size else 1


@answer("nb04", "nb04-dyna-q")  # the notebook's reference table runs it, so it stays; the dyna_q check refuses it
def dyna_q_runs(n_planning: int, runs: int = 30, episodes: int = 50, *, maze: str | Maze = "dyna",
                slip: float = 0.0, alpha: float = 0.1, gamma: float = 0.95, epsilon: float = 0.1,
                model: str = "last", plan_actions: str = "buffer", rollout_length: int = 1,
                seed: int = 0) -> DynaRuns:
    """Run `runs` independent tabular Dyna-Q agents for `episodes` episodes each, vectorized over runs.

    model: "last" (last outcome of (s, a), the classic deterministic model), "sample" (next state
    sampled from visit counts), "expected" (expected update over the counts' next-state distribution)
    or "replay" (no model: experience replay, each update on a stored real transition drawn uniformly
    from everything the run has stored; buffer actions and one step only).
    plan_actions: "buffer" (classic: replay a tried (s, a)) or "policy" (a tried state, the latest
    epsilon-greedy action, which the model may never have seen: then it guesses "nothing happens").
    rollout_length: k > 1 simulates n_planning // k rollouts of k steps (later steps follow the policy).
    The counts models assume reward and termination depend on the next state only (true for the maze).
    Every table is flat with the run as its leading block ((run * S + s) * A + a), so each update
    below is one numpy operation over all runs still going.
    """
    maze = make_maze(maze) if not isinstance(maze, Maze) else maze
    if model not in (*MODELS, "replay"):
        raise ValueError(f"model must be one of {(*MODELS, 'replay')}, got {model!r}")
    if model == "replay" and (plan_actions != "buffer" or rollout_length != 1):
        raise ValueError("model='replay' replays stored transitions: plan_actions='buffer', rollout_length=1 only")
    if plan_actions not in PLAN_ACTIONS:
        raise ValueError(f"plan_actions must be one of {PLAN_ACTIONS}, got {plan_actions!r}")
    if n_planning < 0 or runs < 1 or episodes < 1 or rollout_length < 1:
        raise ValueError("need n_planning >= 0, runs >= 1, episodes >= 1, rollout_length >= 1")
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip is a probability, got {slip}")
    check_rates(alpha=alpha, gamma=gamma, epsilon=epsilon)
    rng = np.random.default_rng(seed)
    true_next, true_reward, true_term = (t.reshape(-1) for t in maze.tables())
    S, A = maze.n_states, true_next.size // maze.n_states
    Q = np.zeros((runs * S, A))                 # row run * S + s
    Qf = Q.reshape(-1)                          # entry (run * S + s) * A + a
    # The model, "last" kind: last outcome of each (s, a), initialised to "nothing happens".
    m_next = np.tile(np.repeat(np.arange(S), A), runs)
    m_next_row = m_next + np.repeat(np.arange(runs) * S, S * A)   # the next state's Q row, for speed
    m_reward = np.zeros(runs * S * A)
    m_term = np.zeros(runs * S * A, dtype=bool)
    m_discount = np.full(runs * S * A, gamma)   # gamma * (1 - terminated)
    counts = np.zeros((runs * S * A, S)) if model in ("sample", "expected") else None   # next-state counts
    reward_at = np.zeros(runs * S)              # counts kinds: reward seen on entering a state
    term_at = np.zeros(runs * S, dtype=bool)
    seen = np.zeros(runs * S * A, dtype=bool)
    seen_pairs = np.zeros(runs * S * A, dtype=np.int64)  # per run (block of S * A), its tried pairs' flat index
    n_seen = np.zeros(runs, dtype=np.int64)
    # "replay": every real transition, per run (flat pair index, next state's Q row, reward, discount)
    stored = np.zeros((4, runs, 1024))
    n_stored = np.zeros(runs, dtype=np.int64)

    def act(rows: np.ndarray) -> np.ndarray:
        """Epsilon-greedy actions for Q rows, ties broken uniformly at random."""
        q = Q[rows]
        greedy = np.argmax(rng.random(q.shape) * (q == q.max(1, keepdims=True)), axis=1)
        explore = rng.random(len(rows)) < epsilon
        return np.where(explore, rng.integers(A, size=len(rows)), greedy)

    def predict(sa: np.ndarray, s: np.ndarray, base_s: np.ndarray):
        """The model's (reward, next state, terminated) for flat pairs sa (state s, run offset base_s)."""
        if model == "last":
            return m_reward[sa], m_next[sa], m_term[sa]
        c = counts[sa]
        total = c.sum(1)
        u = rng.random(len(sa)) * total
        tried = total > 0
        s2 = np.where(tried, np.argmax(c.cumsum(1) > u[:, None], axis=1), s)   # untried: stay put
        return reward_at[base_s + s2] * tried, s2, term_at[base_s + s2] & tried

    def expected_target(sa: np.ndarray, s: np.ndarray, who: np.ndarray) -> np.ndarray:
        """E[r + gamma max_a' Q(s', a') (1 - terminated)] under the counts' next-state distribution."""
        c = counts[sa]                                                          # [B, S]
        total = c.sum(1)
        rows = who[:, None] * S + np.arange(S)
        value = reward_at[rows] + gamma * Q[rows].max(-1) * ~term_at[rows]      # [B, S] value of each s'
        stay = value[np.arange(len(sa)), s]                                     # untried: stay put
        return np.where(total > 0, (c * value).sum(1) / np.maximum(total, 1), stay)

    rollouts = max(1, n_planning // rollout_length) if n_planning > 0 else 0
    classic = model == "last" and plan_actions == "buffer" and rollout_length == 1
    made_up = planned = 0
    state = np.full(runs, maze.start)
    episode = np.zeros(runs, dtype=np.int64)
    episode_steps = np.zeros(runs, dtype=np.int64)
    steps = np.zeros((runs, episodes), dtype=np.int64)
    live = np.arange(runs)
    while live.size:
        s = state[live]
        base_s, base_sa = live * S, live * S * A
        # (a) act epsilon-greedily, then the real (possibly slippery) step.
        a = act(base_s + s)
        if slip > 0:
            a_env = np.where(rng.random(live.size) < slip, rng.integers(A, size=live.size), a)
        else:
            a_env = a
        s2, r, term = true_next[s * A + a_env], true_reward[s * A + a_env], true_term[s * A + a_env]
        # (b) direct RL: Q-learning on the real transition; no bootstrap past the goal.
        sa = base_s * A + s * A + a
        Qf[sa] += alpha * (r + gamma * Q[base_s + s2].max(1) * ~term - Qf[sa])
        # (c) model learning: remember the outcome; note newly tried pairs.
        new = ~seen[sa]
        if new.any():
            seen[sa[new]] = True
            seen_pairs[base_sa[new] + n_seen[live[new]]] = sa[new]
            n_seen[live[new]] += 1
        m_next[sa], m_next_row[sa], m_reward[sa], m_term[sa] = s2, base_s + s2, r, term
        m_discount[sa] = gamma * ~term
        if counts is not None:
            counts[sa, s2] += 1
            reward_at[base_s + s2], term_at[base_s + s2] = r, term
        if model == "replay":
            if n_stored.max() == stored.shape[2]:
                stored = np.concatenate([stored, np.zeros_like(stored)], axis=2)
            stored[:, live, n_stored[live]] = sa, base_s + s2, r, gamma * ~term
            n_stored[live] += 1
        # (d) planning: simulated updates from tried pairs (or tried states with policy actions).
        if model == "replay":  # experience replay: uniformly drawn stored transitions, no model
            u = (rng.random((rollouts, live.size)) * n_stored[live]).astype(np.int64)
            for i in range(rollouts):
                psa, p_row, p_r, p_discount = stored[:, live, u[i]]
                psa, p_row = psa.astype(np.int64), p_row.astype(np.int64)
                Qf[psa] += alpha * (p_r + p_discount * Q[p_row].max(1) - Qf[psa])
                planned += live.size
        u = rng.random((rollouts if model != "replay" else 0, live.size)) * n_seen[live]  # index into tried pairs
        for i in range(len(u)):
            psa = seen_pairs[base_sa + u[i].astype(np.int64)]
            if classic:  # the hot loop of the book's Dyna-Q: one-step replay of a tried pair
                target = m_reward[psa] + m_discount[psa] * Q[m_next_row[psa]].max(1)
                Qf[psa] += alpha * (target - Qf[psa])
                continue
            ps, pa = psa // A - base_s, psa % A
            going = np.ones(live.size, dtype=bool)           # rollouts stop at the goal
            for t in range(rollout_length):
                if t > 0 or plan_actions == "policy":
                    pa = act(base_s + ps)                     # the latest policy's action
                    psa = (base_s + ps) * A + pa
                    made_up += int((going & ~seen[psa]).sum())
                planned += int(going.sum())
                p_r, p_next, p_term = predict(psa, ps, base_s)
                if model == "expected":
                    p_target = expected_target(psa, ps, live)
                else:
                    p_target = p_r + gamma * Q[base_s + p_next].max(1) * ~p_term
                Qf[psa] += alpha * (p_target - Qf[psa]) * going
                going &= ~p_term
                ps = p_next
        # Bookkeeping: count steps; finished episodes restart at S; finished runs drop out.
        episode_steps[live] += 1
        state[live] = np.where(term, maze.start, s2)
        if term.any():
            done = live[term]
            steps[done, episode[done]] = episode_steps[done]
            episode[done] += 1
            episode_steps[done] = 0
            live = live[episode[live] < episodes]
    config = dict(n_planning=n_planning, runs=runs, episodes=episodes, slip=slip, alpha=alpha, gamma=gamma,
                  epsilon=epsilon, model=model, plan_actions=plan_actions, rollout_length=rollout_length, seed=seed)
    return DynaRuns(steps=steps, Q=Q.reshape(runs, S, A), env_steps=steps.sum(1),
                    made_up_fraction=made_up / planned if planned else 0.0, config=config)
