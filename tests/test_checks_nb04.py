"""Feed deliberately broken Dyna-Q pieces to the notebook 04 checks and assert they name the mistake."""

from __future__ import annotations

import numpy as np
import pytest

from pasted import as_written_by_a_student

from cs285lab.algos import dyna as ref
from cs285lab.checks import CheckFailed, load

nb04 = load("nb04")


def fails(check, fn, match: str) -> None:
    with pytest.raises(CheckFailed, match=match):
        check(fn)


# ---------------------------------------------------------------- the reference passes, stubs propagate

def test_reference_passes_every_check(capsys):
    nb04.epsilon_greedy(ref.epsilon_greedy)
    nb04.q_learning_update(ref.q_learning_update)
    nb04.update_model(ref.update_model)
    nb04.planning(ref.planning)
    nb04.dyna_q(as_written_by_a_student(ref.dyna_q))  # the package's own dyna_q is refused (below)
    out = capsys.readouterr().out
    for name in ("epsilon_greedy", "q_learning_update", "update_model", "planning", "dyna_q"):
        assert f"✓ {name}: all" in out


@pytest.mark.parametrize("check", ["epsilon_greedy", "q_learning_update", "update_model", "planning", "dyna_q"])
def test_stub_raises_not_implemented(check):
    def stub(*args, **kwargs):
        raise NotImplementedError("fill in this part")

    with pytest.raises(NotImplementedError):
        getattr(nb04, check)(stub)


# ---------------------------------------------------------------- epsilon_greedy

def test_argmax_without_tie_breaking():
    def no_ties(q, epsilon, rng):
        return int(rng.integers(len(q))) if rng.random() < epsilon else int(np.argmax(q))

    fails(nb04.epsilon_greedy, no_ties, "always pick the first best action")


def test_greedy_picks_untied_action():
    def wrong_ties(q, epsilon, rng):
        return int(rng.integers(len(q)))  # ignores Q entirely

    fails(nb04.epsilon_greedy, wrong_ties, "epsilon = 0 the action must be the greedy one")


def test_global_random_instead_of_rng():
    def global_random(q, epsilon, rng):
        if np.random.random() < epsilon:
            return int(np.random.randint(len(q)))
        return int(np.random.choice(np.flatnonzero(q == q.max())))

    fails(nb04.epsilon_greedy, global_random, "draw every random number from the rng argument")


def test_explores_too_much():
    def always_explore_half(q, epsilon, rng):
        return ref.epsilon_greedy(q, min(1.0, 2 * epsilon), rng)

    fails(nb04.epsilon_greedy, always_explore_half, "epsilon = 0.2 the greedy action")


def test_returns_array_not_int():
    fails(nb04.epsilon_greedy, lambda q, e, rng: np.array([1]), "return a plain int")


# ---------------------------------------------------------------- q_learning_update

def test_behaviour_action_target():
    def sarsa_like(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] += alpha * (r + gamma * Q[s_next, a] * (1 - terminated) - Q[s, a])

    fails(nb04.q_learning_update, sarsa_like, "the value of the action you just took")


def test_no_terminal_handling():
    def no_mask(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] += alpha * (r + gamma * Q[s_next].max() - Q[s, a])

    fails(nb04.q_learning_update, no_mask, "bootstrap past the goal")


def test_max_over_current_state():
    def wrong_state(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] += alpha * (r + gamma * Q[s].max() * (1 - terminated) - Q[s, a])

    fails(nb04.q_learning_update, wrong_state, "the state you left")


def test_no_step_size():
    def overwrite(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] = r + gamma * Q[s_next].max() * (1 - terminated)

    fails(nb04.q_learning_update, overwrite, "replaced Q\\[s, a\\] by the target")


def test_returns_new_table():
    def functional(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q = Q.copy()
        ref.q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma)
        return Q

    fails(nb04.q_learning_update, functional, "update Q in place")


def test_updates_whole_row():
    def whole_row(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s] += alpha * (r + gamma * Q[s_next].max() * (1 - terminated) - Q[s, a])

    fails(nb04.q_learning_update, whole_row, "other than Q\\[s, a\\]")


# ---------------------------------------------------------------- update_model

def test_model_stores_current_state():
    def wrong_next(model, s, a, r, s_next, terminated):
        model[(s, a)] = (r, s, terminated)

    fails(nb04.update_model, wrong_next, "stores the state you came from")


def test_model_keyed_by_state_only():
    def by_state(model, s, a, r, s_next, terminated):
        model[s] = (r, s_next, terminated)

    fails(nb04.update_model, by_state, "key the model by the pair")


def test_model_keeps_first_outcome():
    def first_only(model, s, a, r, s_next, terminated):
        model.setdefault((s, a), (r, s_next, terminated))

    fails(nb04.update_model, first_only, "must replace the first")


def test_model_wrong_order():
    def swapped(model, s, a, r, s_next, terminated):
        model[(s, a)] = (s_next, r, terminated)

    fails(nb04.update_model, swapped, "keep this order")


# ---------------------------------------------------------------- planning

def test_planning_from_unseen_pairs():
    def anywhere(Q, model, n, alpha, gamma, rng):
        for _ in range(n):
            s, a = int(rng.integers(Q.shape[0])), int(rng.integers(Q.shape[1]))
            r, s_next, terminated = model.get((s, a), (0.0, s, False))
            ref.q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma)

    fails(nb04.planning, anywhere, "never tried")


def test_planning_bootstraps_past_goal():
    def no_mask(Q, model, n, alpha, gamma, rng):
        seen = list(model)
        for _ in range(n):
            s, a = seen[rng.integers(len(seen))]
            r, s_next, _ = model[(s, a)]
            Q[s, a] += alpha * (r + gamma * Q[s_next].max() - Q[s, a])

    fails(nb04.planning, no_mask, "bootstrap past the goal")


def test_planning_uses_pair_action_at_next_state():
    def behaviour(Q, model, n, alpha, gamma, rng):
        seen = list(model)
        for _ in range(n):
            s, a = seen[rng.integers(len(seen))]
            r, s_next, terminated = model[(s, a)]
            Q[s, a] += alpha * (r + gamma * Q[s_next, 1] * (1 - terminated) - Q[s, a])

    fails(nb04.planning, behaviour, "Q\\[s_next, a\\]")


def test_planning_off_by_one():
    def one_short(Q, model, n, alpha, gamma, rng):
        ref.planning(Q, model, n - 1, alpha, gamma, rng)

    fails(nb04.planning, one_short, "you made 4 planning updates")


def test_planning_does_nothing():
    fails(nb04.planning, lambda Q, model, n, alpha, gamma, rng: None, "did not change Q")


# ---------------------------------------------------------------- dyna_q (learning)

def _dyna_with(planner, direct_update=True):
    def dyna(env, n_planning, episodes, rng, alpha=0.1, gamma=0.95, epsilon=0.1):
        Q = np.zeros((env.observation_space.n, env.action_space.n))
        model, out = {}, []
        for _ in range(episodes):
            s, _ = env.reset()
            steps, done = 0, False
            while not done:
                a = ref.epsilon_greedy(Q[s], epsilon, rng)
                s_next, r, terminated, truncated, _ = env.step(a)
                if direct_update:
                    ref.q_learning_update(Q, s, a, r, s_next, terminated, alpha, gamma)
                ref.update_model(model, s, a, r, s_next, terminated)
                planner(Q, model, n_planning, alpha, gamma, rng)
                s, steps, done = s_next, steps + 1, terminated or truncated
            out.append(steps)
        return out
    return dyna


def test_dyna_without_planning_fails():
    fails(nb04.dyna_q, _dyna_with(lambda *args: None), "Planning is not helping")


def test_dyna_wrong_max_fails():
    def behaviour(Q, model, n, alpha, gamma, rng):
        seen = list(model)
        for _ in range(n):
            s, a = seen[rng.integers(len(seen))]
            r, s_next, terminated = model[(s, a)]
            Q[s, a] += alpha * (r + gamma * Q[s_next, a] * (1 - terminated) - Q[s, a])

    fails(nb04.dyna_q, _dyna_with(behaviour), "Planning is not helping")


def test_dyna_steps_too_few():
    def one_step(env, n_planning, episodes, rng, **kwargs):
        return [1] * episodes

    fails(nb04.dyna_q, one_step, "shortest path is 14")


# ---------------------------------------------------------------- the remaining named mistakes

def test_greedy_outside_the_tied_actions():
    def second_best_on_ties(q, epsilon, rng):
        if rng.random() < epsilon:
            return int(rng.integers(len(q)))
        best = np.flatnonzero(q == q.max())
        return int(best[0]) if len(best) == 1 else int(rng.choice([*best, 3]))

    fails(nb04.epsilon_greedy, second_best_on_ties, "only the tied best actions")


def test_ties_broken_towards_the_last():
    def last_of_ties(q, epsilon, rng):
        if rng.random() < epsilon:
            return int(rng.integers(len(q)))
        best = np.flatnonzero(q == q.max())
        return int(best[-1]) if rng.random() < 0.9 else int(best[0])

    fails(nb04.epsilon_greedy, last_of_ties, "almost never pick the first best")


def test_exploration_not_uniform():
    def explore_low_actions(q, epsilon, rng):
        if rng.random() < epsilon:
            return int(rng.integers(2))                 # only actions 0 and 1
        return int(rng.choice(np.flatnonzero(q == q.max())))

    fails(nb04.epsilon_greedy, explore_low_actions, "epsilon = 1 every action should be about equally likely")


def test_q_update_wrong_sign():
    def wrong_sign(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] += alpha * (Q[s, a] - (r + gamma * Q[s_next].max() * (1 - terminated)))

    fails(nb04.q_learning_update, wrong_sign, "wrong sign")


def test_q_update_without_reward():
    def no_reward(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] += alpha * (gamma * Q[s_next].max() * (1 - terminated) - Q[s, a])

    fails(nb04.q_learning_update, no_reward, "reward is missing")


def test_model_stores_pair_not_triple():
    def two(model, s, a, r, s_next, terminated):
        model[(s, a)] = (r, s_next)

    fails(nb04.update_model, two, "store a tuple")


def test_model_keeps_only_one_entry():
    def forgetful(model, s, a, r, s_next, terminated):
        model.clear()
        model[(s, a)] = (r, s_next, terminated)

    fails(nb04.update_model, forgetful, "should hold 2 entries")


def test_planning_with_global_random():
    def global_random(Q, model, n, alpha, gamma, rng):
        seen = list(model)
        for _ in range(n):
            s, a = seen[np.random.randint(len(seen))]
            ref.q_learning_update(Q, s, a, *model[(s, a)], alpha, gamma)

    fails(nb04.planning, global_random, "draw the pairs with the rng argument")


def test_dyna_wrong_number_of_episodes():
    def one_too_few(env, n_planning, episodes, rng, **kwargs):
        return ref.dyna_q(env, n_planning, episodes - 1, rng)

    fails(nb04.dyna_q, one_too_few, "one step count per episode")


def test_dyna_always_plans():
    def fixed_planning(env, n_planning, episodes, rng, **kwargs):
        return own_dyna_q(env, 20, episodes, rng)       # ignores n_planning

    own_dyna_q = as_written_by_a_student(ref.dyna_q)

    fails(nb04.dyna_q, fixed_planning, "without planning \\(n = 0\\)")


@pytest.mark.parametrize("reach", ["twin", "runs"])
def test_the_package_dyna_q_is_refused_however_it_is_reached(reach):
    import importlib

    def wrapper(env, n_planning, episodes, rng):
        package = importlib.import_module("cs285lab.algos." + "dyna")
        if reach == "twin":
            return package.dyna_q(env, n_planning, episodes, rng)
        return package.dyna_q_runs(n_planning, runs=1, episodes=episodes, seed=int(rng.integers(1000))).steps[0].tolist()

    fails(nb04.dyna_q, wrapper, "package's own code")


def test_an_unnamed_q_update_mistake_gets_a_reproducible_worked_case():
    def off_by_a_bit(Q, s, a, r, s_next, terminated, alpha, gamma):
        Q[s, a] += alpha * (r + gamma * Q[s_next].max() * (1 - terminated) - Q[s, a]) + 0.01

    with pytest.raises(CheckFailed) as info:
        load("nb04").q_learning_update(off_by_a_bit)
    message = str(info.value)
    assert "call:     q_learning_update(Q=np.array([[0.1, 0.2, 0.3, 0.4]," in message
    assert "s=2, a=0, r=0.5, s_next=3, terminated=False, alpha=0.5, gamma=0.9)" in message
    assert "first difference at [2][0]" in message


# ---------------------------------------------------------------- answers that skip the skill (referee, 2026-12-06)

def test_planning_in_a_fixed_order_fails():
    def cycling(Q, model, n, alpha, gamma, rng):  # every tried pair in turn: rng unused
        seen = list(model)
        for i in range(n):
            s, a = seen[i % len(seen)]
            ref.q_learning_update(Q, s, a, *model[(s, a)], alpha, gamma)

    fails(nb04.planning, cycling, "same updates whatever the rng")


def test_planning_that_favours_one_pair_fails():
    def biased(Q, model, n, alpha, gamma, rng):
        seen = list(model)
        for _ in range(n):
            s, a = seen[rng.integers(len(seen)) if rng.random() < 0.7 else 0]
            ref.q_learning_update(Q, s, a, *model[(s, a)], alpha, gamma)

    fails(nb04.planning, biased, "not drawn uniformly")


def test_dyna_q_step_counts_must_be_the_steps_taken():
    def fabricated(env, n_planning, episodes, rng, **kwargs):  # plausible numbers, no env step at all
        return [700] + [20 if n_planning else 150] * (episodes - 1)

    fails(nb04.dyna_q, fabricated, "not the env steps your agent took")


def test_dyna_without_the_direct_update_fails():
    # planning alone still learns at n = 20; at n = 0 nothing learns, unlike plain Q-learning (a second referee)
    fails(nb04.dyna_q, _dyna_with(ref.planning, direct_update=False), "dyna_q is Q-learning")


@pytest.mark.parametrize("ignored, match", [("gamma", "should approach gamma"), ("alpha", "use the alpha argument")])
def test_planning_that_ignores_an_argument_fails(ignored, match):
    def planning(Q, model, n, alpha, gamma, rng):  # the notebook's defaults instead of the arguments
        alpha, gamma = (0.1, gamma) if ignored == "alpha" else (alpha, 0.95)
        seen = list(model)
        for _ in range(n):
            s, a = seen[rng.integers(len(seen))]
            ref.q_learning_update(Q, s, a, *model[(s, a)], alpha, gamma)

    fails(nb04.planning, planning, match)
