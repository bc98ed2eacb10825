"""Checks for notebook 04 (Dyna): epsilon-greedy, the Q-learning update, the model, planning, Dyna-Q."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np

import cs285lab.envs  # noqa: F401 - registers cs285lab/DynaMaze-v0
from cs285lab.algos.dyna import dyna_q_runs
from cs285lab.checks.core import exercise, own_code
from cs285lab.budgets import thresholds

UNSEEN_PAIRS = ("you planned from (s, a) pairs that were never tried: the model knows nothing about them. "
                "Sample only from the pairs stored in the model")
BEHAVIOUR_ACTION = ("your target used Q[s_next, a], the value of the action you just took, at s_next; "
                    "Q-learning's target uses the best action's value there, whichever action comes next")
NO_UPDATE = ("planning did not change Q: each of the n planning steps must apply q_learning_update "
             "to a simulated transition from the model")
N_PLANNING = 20  # planning steps of the learning check (the book: n = 50 nearly optimal by episode 3)
NO_TERMINAL = ("you bootstrap past the goal: when the transition terminated there is no next state, "
               "yet your target still counts the value of s_next there")


def epsilon_greedy(fn) -> None:
    """Check epsilon_greedy(q_values, epsilon, rng) -> int: greedy with random tie-breaking, uniform exploration."""
    with exercise("epsilon_greedy") as ex:
        q = np.array([0.0, 1.0, 0.5, 0.2])
        first = ex.call(fn, q, 0.0, np.random.default_rng(0))
        ex.expect(isinstance(first, (int, np.integer)) and not isinstance(first, bool),
                  f"return a plain int action, got {type(first).__name__} ({first!r})")
        greedy = [ex.call(fn, q, 0.0, np.random.default_rng(i)) for i in range(50)]
        ex.expect(all(a == 1 for a in greedy),
                  f"with epsilon = 0 the action must be the greedy one (argmax of q = {q.tolist()} is 1); "
                  f"you returned {sorted(set(int(a) for a in greedy))}")
        ties = np.array([1.0, 0.0, 1.0, 0.2])
        rng = np.random.default_rng(1)
        picks = np.array([ex.call(fn, ties, 0.0, rng) for _ in range(400)])
        ex.expect(set(picks.tolist()) <= {0, 2},
                  f"with epsilon = 0 and q = {ties.tolist()} only the tied best actions 0 and 2 may be chosen; "
                  f"you also chose {sorted(set(picks.tolist()) - {0, 2})}")
        ex.expect((picks == 2).mean() > 0.25,
                  "on ties you always pick the first best action (np.argmax does that): at the start every Q is 0, "
                  "so the agent would always go 'up'. Among tied actions, each should be picked equally often (with rng)")
        ex.expect((picks == 0).mean() > 0.25, "on ties you almost never pick the first best action; "
                  "choose uniformly among all tied actions")
        rng = np.random.default_rng(2)
        explore = np.bincount([ex.call(fn, q, 1.0, rng) for _ in range(2000)], minlength=4) / 2000
        ex.expect(explore.min() > 0.19 and explore.max() < 0.31,
                  f"with epsilon = 1 every action should be about equally likely (1/4); your frequencies were "
                  f"{np.round(explore, 2).tolist()}")
        rng = np.random.default_rng(3)
        share = np.mean([ex.call(fn, q, 0.2, rng) == 1 for _ in range(2000)])
        ex.expect(0.75 < share < 0.9,
                  f"with epsilon = 0.2 the greedy action should be chosen about 80-85% of the time; you chose it "
                  f"{share:.0%} of the time: explore with probability epsilon (rng.random() < epsilon)")
        same = [[ex.call(fn, q, 0.5, rng) for _ in range(30)] for rng in (np.random.default_rng(7),
                                                                            np.random.default_rng(7))]
        ex.expect(same[0] == same[1], "two generators with the same seed gave different actions: draw every random "
                  "number from the rng argument (rng.random(), rng.integers(), rng.choice()), not np.random or random")


def _q_table() -> np.ndarray:
    return np.array([[0.1, 0.2, 0.3, 0.4],
                     [1.0, 0.0, 0.5, 0.2],
                     [0.6, 0.1, 0.7, 0.3],
                     [0.0, 2.0, 0.2, 0.9],
                     [0.3, 0.8, 0.1, 0.2]])


def _updated(Q: np.ndarray, s: int, a: int, target: float, alpha: float) -> np.ndarray:
    out = Q.copy()
    out[s, a] += alpha * (target - Q[s, a])
    return out


def q_learning_update(fn) -> None:
    """Check q_learning_update: Q changes in place, towards the max over next actions, not past a terminal state."""
    alpha, gamma = 0.5, 0.9
    with exercise("q_learning_update") as ex:
        for s, a, r, s_next, terminated in ((2, 0, 0.5, 3, False), (1, 2, 1.0, 4, True)):
            Q = _q_table()
            work = Q.copy()
            returned = ex.call(lambda: fn(work, s, a, r, s_next, terminated, alpha, gamma))
            if np.array_equal(work, Q) and isinstance(returned, np.ndarray):
                ex.fail("update Q in place (Q[s, a] += ...): your function returned a new table and left Q unchanged")
            done = float(terminated)
            expected = _updated(Q, s, a, r + gamma * Q[s_next].max() * (1 - done), alpha)
            mistakes = {
                NO_TERMINAL: _updated(Q, s, a, r + gamma * Q[s_next].max(), alpha),
                BEHAVIOUR_ACTION: _updated(Q, s, a, r + gamma * Q[s_next, a] * (1 - done), alpha),
                "your target takes the max over Q[s], the state you left; it must be Q[s_next], the state you reached":
                    _updated(Q, s, a, r + gamma * Q[s].max() * (1 - done), alpha),
                "you replaced Q[s, a] by the target; it should move only a fraction alpha of the way towards it":
                    _updated(Q, s, a, r + gamma * Q[s_next].max() * (1 - done), 1.0),
                "the update has the wrong sign: your Q[s, a] moved away from the target":
                    _updated(Q, s, a, 2 * Q[s, a] - (r + gamma * Q[s_next].max() * (1 - done)), alpha),
                "the reward is missing from the target: r + gamma * max Q[s_next]":
                    _updated(Q, s, a, gamma * Q[s_next].max() * (1 - done), alpha),
            }
            other = np.ones_like(Q, dtype=bool)
            other[s, a] = False
            if not np.allclose(work[other], Q[other]):
                ex.fail("you changed entries of Q other than Q[s, a]; one transition updates one entry")
            ex.diagnose(work, expected, mistakes, what=f"Q after the update of (s={s}, a={a}, terminated={terminated})",
                        inputs=f"q_learning_update(Q=np.array({Q.tolist()}), s={s}, a={a}, r={r}, s_next={s_next}, "
                               f"terminated={terminated}, alpha={alpha}, gamma={gamma})")


def update_model(fn) -> None:
    """Check update_model: the model remembers the last outcome seen for each (s, a) pair."""
    with exercise("update_model") as ex:
        model: dict = {}
        ex.call(lambda: fn(model, 3, 1, 0.0, 4, False))
        ex.expect((3, 1) in model, f"after update_model(model, s=3, a=1, ...) the model should have the key (3, 1); "
                  f"its keys are {list(model)[:5]}: key the model by the pair (s, a)")
        entry = model[(3, 1)]
        ex.expect(isinstance(entry, tuple) and len(entry) == 3,
                  f"store a tuple (reward, next_state, terminated), got {entry!r}")
        ex.expect(entry[1] != 3, "the model stores the state you came from (s) as the next state; store s_next, "
                  "the state the action led to")
        ex.expect(tuple(entry) == (0.0, 4, False), f"model[(3, 1)] should be (r, s_next, terminated) = (0.0, 4, False); "
                  f"got {entry!r} (keep this order)")
        ex.call(lambda: fn(model, 3, 1, 1.0, 5, True))
        ex.expect(tuple(model[(3, 1)]) == (1.0, 5, True), "a second outcome of the same (s, a) must replace the first: "
                  "the classic Dyna-Q model remembers the last outcome")
        ex.call(lambda: fn(model, 0, 2, 0.0, 0, False))
        ex.expect(len(model) == 2, f"after tries of two distinct pairs the model should hold 2 entries, has {len(model)}")


def planning(fn) -> None:
    """Check planning(Q, model, n, alpha, gamma, rng): n updates from tried pairs, max target, no bootstrap at the goal."""
    alpha, gamma = 0.1, 0.9
    with exercise("planning") as ex:
        # Two tried pairs in a 6x4 table: only they may change, and the target uses the max.
        Q = np.zeros((6, 4))
        Q[2] = [0.2, 0.5, 0.1, 0.0]
        Q[5] = 3.0
        model = {(0, 1): (0.0, 2, False), (2, 3): (1.0, 5, True)}
        start = Q.copy()
        ex.call(lambda: fn(Q, model, 300, alpha, gamma, np.random.default_rng(1)))
        changed = np.argwhere(~np.isclose(Q, start))
        if changed.size == 0:
            ex.fail(NO_UPDATE)
        untried = [tuple(int(i) for i in p) for p in changed if tuple(int(i) for i in p) not in model]
        if untried:
            ex.fail(f"{UNSEEN_PAIRS} (Q changed at {untried[:3]})")
        if Q[2, 3] > 1.5:
            ex.fail(NO_TERMINAL)
        ex.expect(abs(Q[2, 3] - 1.0) < 0.02, f"after 300 planning updates Q[2, 3] (a terminal transition with r = 1) "
                  f"should be close to 1; got {Q[2, 3]:.3f}")
        if abs(Q[0, 1] - gamma * 0.5) < 0.03:
            ex.fail(BEHAVIOUR_ACTION)
        ex.expect(abs(Q[0, 1] - gamma * 1.0) < 0.01, f"Q[0, 1] should approach gamma * max Q[2] = {gamma:.2f} "
                  f"(Q[2, 3] -> 1); got {Q[0, 1]:.3f}")
        # One terminal pair, n = 5: exactly five updates towards the fixed target r = 1.
        Q = np.zeros((6, 4))
        Q[5] = 3.0                       # the goal's row: must never be bootstrapped from
        ex.call(lambda: fn(Q, {(2, 3): (1.0, 5, True)}, 5, alpha, gamma, np.random.default_rng(0)))
        want = 1.0 - (1 - alpha) ** 5
        got = Q[2, 3]
        past_goal = (1.0 + gamma * 3.0) * (1 - (1 - alpha) ** 5)
        if np.isclose(got, past_goal):
            ex.fail(NO_TERMINAL)
        if got == 0.0:
            ex.fail(NO_UPDATE)
        for k in range(1, 12):
            if k != 5 and np.isclose(got, 1.0 - (1 - alpha) ** k):
                ex.fail(f"you made {k} planning updates; planning(Q, model, n, ...) must make exactly n = 5")
        ex.expect(np.isclose(got, want), f"after 5 planning updates of a terminal transition with r = 1, Q[s, a] should "
                  f"be 1 - (1 - alpha)^5 = {want:.4f}; got {got:.4f}")
        # Reproducible: the same seed gives the same Q. Ten terminal pairs and 40 draws, so that two runs drawing from
        # np.random almost never leave the same table (with three pairs and 7 draws they did, now and then).
        tables = []
        for _ in range(2):
            Q = np.zeros((6, 4))
            ex.call(lambda: fn(Q, {(s, a): (1.0, 5, True) for s in range(5) for a in range(2)},
                               40, 0.5, gamma, np.random.default_rng(11)))
            tables.append(Q.copy())
        ex.expect(np.array_equal(*tables), "two runs with the same seed planned differently: draw the pairs with the "
                  "rng argument (rng.integers), not np.random or random")
        # Uniform draws: ten tried pairs, each terminal with r = 1, so a pair updated c times holds 1 - (1 - alpha)^c.
        pairs = {(s, a): (1.0, 5, True) for s in range(5) for a in range(2)}
        counts = []
        for seed in range(4):
            Q = np.zeros((6, 4))
            ex.call(lambda: fn(Q, dict(pairs), 2000, 0.01, gamma, np.random.default_rng(seed)))
            counts.append(np.array([np.log1p(-min(Q[p], 1 - 1e-12)) / np.log1p(-0.01) for p in pairs]).round())
            ex.expect(abs(counts[-1].sum() - 2000) <= 2, f"2000 planning updates with alpha = 0.01 left Q as "
                      f"{counts[-1].sum():.0f} updates of step 0.01 would: use the alpha argument you are given, "
                      "not a step size of your own")
        ex.expect(any(not np.array_equal(counts[0], c) for c in counts[1:]),
                  "planning made the same updates whatever the rng's seed: draw each pair at random with rng "
                  "(rng.integers), not in a fixed order")
        low, high = min(c.min() for c in counts), max(c.max() for c in counts)
        ex.expect(140 <= low and high <= 260, "the pairs were not drawn uniformly: over 2000 planning updates of ten "
                  f"tried pairs each should get about 200, yours got between {low:.0f} and {high:.0f}")


@functools.lru_cache(maxsize=None)
def _reference_steps(n_planning: int, episodes: int, seed: int) -> float:
    """The package's Dyna-Q: mean steps per episode (episodes 2 on, 10 runs). Deterministic, so computed once."""
    return float(dyna_q_runs(n_planning, runs=10, episodes=episodes, seed=seed).steps[:, 1:].mean())


def dyna_q(fn, runs: int = 3, episodes: int = 12, seed: int = 0) -> None:
    """Check dyna_q(env, n_planning, episodes, rng) -> steps per episode: planning must speed learning up a lot."""
    with exercise("dyna_q") as ex:
        mean_steps = _steps_per_episode(ex, fn, runs, episodes, seed)
        reference = _reference_steps(N_PLANNING, episodes, seed)
        without_planning = _reference_steps(0, episodes, seed)
        limits = thresholds("nb04")
        ex.expect(mean_steps[0] < limits["dyna_q_vs_reference"] * without_planning,
                  f"without planning (n = 0) your agent needs {mean_steps[0]:.0f} steps per episode (episodes 2-"
                  f"{episodes}, mean of {runs} runs); plain Q-learning needs about {without_planning:.0f}. Without "
                  "planning, dyna_q is Q-learning: check the direct update after each real step")
        ex.expect(mean_steps[N_PLANNING] < limits["dyna_q_vs_reference"] * reference,
                  f"with n = {N_PLANNING} planning steps your agent needs {mean_steps[N_PLANNING]:.0f} steps per episode (episodes 2-"
                  f"{episodes}, mean of {runs} runs); the reference needs about {reference:.0f}. Planning is not "
                  "helping: check that each real step is followed by n planning updates on pairs from the model, "
                  "with the Q-learning max target")
        ex.expect(mean_steps[0] > limits["planning_speedup"] * mean_steps[N_PLANNING],
                  f"without planning (n = 0) your agent needs {mean_steps[0]:.0f} steps per episode, hardly more than "
                  f"with n = {N_PLANNING} ({mean_steps[N_PLANNING]:.0f}); pass n_planning on to planning (n = 0: no planning at all)")


class _EpisodeSteps(gym.Wrapper):
    """Counts the env steps between resets: what the student's dyna_q returns must be these counts."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.episodes: list[int] = [0]

    def reset(self, **kwargs):
        if self.episodes[-1]:
            self.episodes.append(0)
        return self.env.reset(**kwargs)

    def step(self, action):
        self.episodes[-1] += 1
        return self.env.step(action)


def _steps_per_episode(ex, fn, runs: int, episodes: int, seed: int) -> dict[int, float]:
    """Mean steps per episode (episodes 2 on, over `runs` runs) of the student's dyna_q at n = 0 and n = N_PLANNING;
    the package's own Dyna-Q (the reference the check compares with) is refused, however it is reached."""
    mean_steps, counted = {}, []
    with own_code(ex, "nb04-dyna-q", fn, "your dyna_q"):
        for n in (0, N_PLANNING):
            curves = []
            for run in range(runs):
                ex.progress(f"n = {n} planning steps, run {run + 1} of {runs}", every=0.0)
                env = _EpisodeSteps(gym.make("cs285lab/DynaMaze-v0"))
                env.reset(seed=seed + run)
                try:
                    steps = ex.call(fn, env, n, episodes, np.random.default_rng(seed + run))
                finally:
                    env.close()
                ex.expect(hasattr(steps, "__len__") and len(steps) == episodes,
                          f"dyna_q(env, n, episodes={episodes}, rng) should return one step count per episode; got "
                          f"{type(steps).__name__} of length {len(steps) if hasattr(steps, '__len__') else '?'}")
                steps = np.asarray(steps)
                ex.expect(steps.min() >= 14, f"an episode took {steps.min()} steps but the shortest path is 14: count "
                          "every env step of an episode, and reset the env at the start of each episode")
                curves.append(steps)
                counted.append((steps.tolist(), [k for k in env.episodes if k]))
            mean_steps[n] = float(np.mean(curves, axis=0)[1:].mean())
    for returned, taken in counted:  # after own_code: the package's own runs are refused as such first
        ex.expect(returned == taken, f"the step counts you returned ({returned[:5]}...) are not the env steps your "
                  f"agent took in each episode ({taken[:5]}...): count the env.step calls of each episode, from its "
                  "reset to the goal")
    return mean_steps
