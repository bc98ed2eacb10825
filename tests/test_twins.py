"""Every package twin agrees with its exercise's solution region on random inputs (the two copies cannot drift).

The solution cell is taken from solutions/NN by its cell id and executed after the notebook's setup
cells; both versions then get the same random inputs (and the same seeds where they draw random
numbers) and must return the same outputs and leave the same state behind.
"""

from __future__ import annotations

import contextlib
import copy
import io
import queue
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import nbformat
import numpy as np
import pytest
import torch

from cs285lab.authoring.student import cell_meta
from cs285lab.twins import REGISTRY, Twin, all_twins, twin

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 5


def _notebook(notebook: str) -> nbformat.NotebookNode:
    (path,) = (ROOT / "solutions").glob(f"{notebook[2:]}_*.ipynb")
    return nbformat.read(path, as_version=4)


def solution_namespace(notebook: str, ids: list[str]) -> dict:
    """Execute the cells `ids` of solutions/<notebook> (in this order) in a fresh namespace."""
    cells = {(cell_meta(c) or {}).get("id"): c for c in _notebook(notebook).cells}
    namespace: dict = {"__name__": f"solution_{notebook}"}
    for cid in ids:
        assert cid in cells, f"solutions/{notebook}: no cell with id {cid!r}"
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cells[cid].source, f"{notebook}:{cid}", "exec"), namespace)
    return namespace


def _package(entry: Twin):
    import importlib

    return getattr(importlib.import_module(entry.module), entry.qualname)


def _close(a, b, what: str) -> None:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a, b = torch.as_tensor(a), torch.as_tensor(b)
        assert a.shape == b.shape, f"{what}: shapes {tuple(a.shape)} vs {tuple(b.shape)}"
        assert torch.allclose(a.double(), b.double(), atol=1e-6, rtol=1e-5), f"{what}: {a} vs {b}"
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-6, rtol=1e-5,
                                   err_msg=what)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{what}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            _close(a[key], b[key], f"{what}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{what}: lengths {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{what}[{i}]")
    elif hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            _close(getattr(a, name), getattr(b, name), f"{what}.{name}")
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= 1e-6 + 1e-5 * abs(b), f"{what}: {a} vs {b}"
    else:
        assert a == b, f"{what}: {a!r} vs {b!r}"


# ---------------------------------------------------------------- nb01

def _td_target(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    for trial in range(TRIALS):
        n = int(rng.integers(1, 20))
        r, v = torch.randn(n), torch.randn(n, requires_grad=True)
        term = torch.as_tensor(rng.random(n) < 0.3, dtype=torch.float32)
        gamma = float(rng.uniform(0.5, 1.0))
        _close(ns["td_target"](r, v, term, gamma), ref(r, v, term, gamma), f"td_target trial {trial}")


ARCH_KEYS = {  # notebook parameter name prefix -> package parameter name prefix
    "SeparateActorCritic": {"actor_body.": "actor.0.", "critic_body.": "critic.0.", "policy_head.": "actor.1.out.",
                            "value_head.": "critic.1.out.", "log_std": "actor.1.log_std"},
    "SharedActorCritic": {"trunk.": "trunk.", "policy_head.": "policy_head.out.", "value_head.": "value_head.out.",
                          "log_std": "policy_head.log_std"},
}


def _architectures(ns: dict, ref: type, rng: np.random.Generator) -> None:
    spaces = [(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(3)),
              (gym.spaces.Box(-1, 1, (5,)), gym.spaces.Box(-2, 2, (2,)))]
    for obs_space, action_space in spaces:
        ours, theirs = ns[ref.__name__](obs_space, action_space), ref(obs_space, action_space)
        mapping = ARCH_KEYS[ref.__name__]
        target = theirs.state_dict()
        mine = ours.state_dict()
        assert len(mine) == len(target), f"{ref.__name__}: {sorted(mine)} vs {sorted(target)}"
        for name, value in mine.items():
            prefix = next(p for p in mapping if name.startswith(p))
            other = mapping[prefix] + name[len(prefix):]
            assert other in target and target[other].shape == value.shape, f"{ref.__name__}: {name} -> {other}"
            mine[name] = torch.randn_like(value)
            target[other] = mine[name].clone()
        ours.load_state_dict(mine)
        theirs.load_state_dict(target)
        obs = torch.as_tensor(rng.normal(size=(7, obs_space.shape[0])), dtype=torch.float32)
        d1, d2 = ours.dist(obs), theirs.dist(obs)
        actions = d2.sample()
        _close(d1.log_prob(actions), d2.log_prob(actions), f"{ref.__name__} log pi(a|s)")
        _close(d1.entropy(), d2.entropy(), f"{ref.__name__} entropy")
        _close(ours.value(obs), theirs.value(obs), f"{ref.__name__} V(s)")


def _ac_batch(rng: np.random.Generator, batch_cls: type, n: int = 9):
    from cs285lab.algos.actor_critic import SeparateActorCritic

    model = SeparateActorCritic(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), (8,))
    batch = batch_cls(obs=torch.as_tensor(rng.normal(size=(n, 4)), dtype=torch.float32),
                      actions=torch.as_tensor(rng.integers(0, 2, n)),
                      rewards=torch.as_tensor(rng.normal(size=n), dtype=torch.float32),
                      next_obs=torch.as_tensor(rng.normal(size=(n, 4)), dtype=torch.float32),
                      terminated=torch.as_tensor(rng.random(n) < 0.3, dtype=torch.float32),
                      mask=torch.as_tensor(rng.random(n) < 0.8))
    return model, batch


def _actor_critic_loss(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    for trial in range(TRIALS):
        torch.manual_seed(trial)
        model, batch = _ac_batch(rng, ns["Batch"])
        coefs = dict(value_coef=float(rng.uniform(0, 1)), entropy_coef=float(rng.uniform(0, 0.1)))
        loss1, stats1 = ns["actor_critic_loss"](model, batch, 0.9, **coefs)
        grad1 = torch.autograd.grad(loss1, list(model.parameters()))
        loss2, stats2 = ref(model, batch, 0.9, **coefs)
        grad2 = torch.autograd.grad(loss2, list(model.parameters()))
        _close(loss1, loss2, f"loss trial {trial}")
        _close(stats1, stats2, f"stats trial {trial}")
        _close(list(grad1), list(grad2), f"gradients trial {trial}")


def _online_update(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    model, _ = _ac_batch(rng, ns["Batch"])
    twin_model = copy.deepcopy(model)
    opt1, opt2 = (torch.optim.Adam(m.parameters(), lr=1e-2) for m in (model, twin_model))
    for step in range(TRIALS):
        obs, next_obs = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
        args = (obs, np.int64(rng.integers(0, 2)), float(rng.normal()), next_obs, bool(rng.random() < 0.3), 0.9)
        _close(ns["online_update"](model, opt1, *args), ref(twin_model, opt2, *args), f"stats step {step}")
        _close(list(model.parameters()), list(twin_model.parameters()), f"parameters after step {step}")


# ---------------------------------------------------------------- nb02

def _reset_workers(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    from cs285lab.algos.actor_critic import make_vec_env

    for trial in range(2):
        seed = int(rng.integers(0, 1000))
        envs1, envs2 = make_vec_env("CartPole-v1", 3, 0), make_vec_env("CartPole-v1", 3, 0)
        try:
            _close(ns["reset_workers"](envs1, seed), ref(envs2, seed), f"first observations, seed {seed}")
            _close(envs1.action_space.sample(), envs2.action_space.sample(), "action space after seeding")
        finally:
            envs1.close(), envs2.close()


def _collect_step(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    from cs285lab.algos.actor_critic import make_actor_critic, make_vec_env

    envs1, envs2 = make_vec_env("CartPole-v1", 3, 0), make_vec_env("CartPole-v1", 3, 0)
    try:
        model = make_actor_critic(envs1.single_observation_space, envs1.single_action_space)
        obs1, _ = envs1.reset(seed=[5, 6, 7])
        obs2, _ = envs2.reset(seed=[5, 6, 7])
        done1 = done2 = np.zeros(3, dtype=bool)
        for step in range(60):  # long enough for CartPole episodes to end (the masked reset rows)
            torch.manual_seed(step)
            batch1, obs1, done1 = ns["collect_step"](envs1, model, obs1, done1)
            torch.manual_seed(step)
            batch2, obs2, done2 = ref(envs2, model, obs2, done2)
            _close((batch1, obs1, done1), (batch2, obs2, done2), f"step {step}")
    finally:
        envs1.close(), envs2.close()


def _take_batch(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    from cs285lab.algos.parallel import Transition

    for trial in range(TRIALS):
        versions = rng.integers(0, 5, size=int(rng.integers(1, 12))).tolist()
        size = int(rng.integers(1, len(versions) + 2))  # sometimes more than arrive: both time out
        results = []
        for fn in (ns["take_batch"], ref):
            inbox: queue.Queue = queue.Queue()
            for i, v in enumerate(versions):
                inbox.put(Transition(np.zeros(2), 0, 1.0, np.zeros(2), False, worker=i % 3, version=v))
            out = fn(inbox, size, 6, 0.01)
            results.append(None if out is None else ([t.version for t in out[0]], out[1]))
        _close(results[0], results[1], f"take_batch trial {trial}")


# ---------------------------------------------------------------- nb03

def _replay_buffer(ns: dict, ref: type, rng: np.random.Generator) -> None:
    for trial in range(TRIALS):
        capacity, obs_dim, act_dim = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        ours, theirs = ns["ReplayBuffer"](capacity, obs_dim, act_dim), ref(capacity, obs_dim, act_dim)
        for _ in range(int(rng.integers(1, 3 * capacity + 2))):
            args = (rng.normal(size=obs_dim), rng.normal(size=act_dim), float(rng.normal()),
                    rng.normal(size=obs_dim), bool(rng.random() < 0.3), bool(rng.random() < 0.3))
            ours.add(*args)
            theirs.add(*args)
            assert len(ours) == len(theirs)
        seed = int(rng.integers(0, 1000))
        one, two = ours.sample(16, np.random.default_rng(seed)), theirs.sample(16, np.random.default_rng(seed))
        for name in ("obs", "actions", "rewards", "next_obs", "terminated"):
            _close(getattr(one, name), getattr(two, name), f"sample().{name} trial {trial}")


def _offpolicy_batch(rng: np.random.Generator, n: int = 8):
    from cs285lab.buffers import Batch

    return Batch(obs=torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float32),
                 actions=torch.as_tensor(rng.uniform(-1, 1, size=(n, 1)), dtype=torch.float32),
                 rewards=torch.as_tensor(rng.normal(size=n), dtype=torch.float32),
                 next_obs=torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float32),
                 terminated=torch.as_tensor(rng.random(n) < 0.3, dtype=torch.float32))


def _q_target(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    weights = torch.as_tensor(rng.normal(size=(3, 1)), dtype=torch.float32)

    def sample_actions(obs):
        actions = torch.tanh(obs @ weights + 0.1 * torch.randn(obs.shape[0], 1))
        return actions, -(actions ** 2).sum(-1)

    def target_q(obs, actions):
        return obs.sum(-1) - 2 * actions.sum(-1)

    for trial in range(TRIALS):
        batch, gamma, alpha = _offpolicy_batch(rng), float(rng.uniform(0.5, 1)), float(rng.uniform(0, 0.5))
        outs = []
        for fn in (ns["q_target"], ref):
            torch.manual_seed(trial)
            outs.append(fn(batch, sample_actions, target_q, gamma, alpha))
        _close(outs[0], outs[1], f"q_target trial {trial}")


class _GaussianPolicy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mean = torch.nn.Linear(3, 1)

    def sample(self, obs, k):
        with torch.no_grad():
            return self.mean(obs) + torch.randn(k, obs.shape[0], 1)

    def log_prob(self, obs, actions):
        return -0.5 * ((actions - self.mean(obs)) ** 2).sum(-1)


def _score_loss(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    policy = _GaussianPolicy()

    def critic(obs, actions):
        return obs.sum(-1) - actions.sum(-1) ** 2

    for trial in range(TRIALS):
        batch, k = _offpolicy_batch(rng), int(rng.integers(1, 6))
        outs = []
        for fn in (ns["score_function_loss"], ref):
            torch.manual_seed(trial)
            loss = fn(batch, policy, critic, k)
            outs.append((loss, torch.autograd.grad(loss, list(policy.parameters()))))
        _close(outs[0][0], outs[1][0], f"loss trial {trial}")
        _close(list(outs[0][1]), list(outs[1][1]), f"gradients trial {trial}")


# ---------------------------------------------------------------- nb04

def _epsilon_greedy(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    for trial in range(50):
        q = rng.integers(0, 3, size=4).astype(float)  # small integers: ties are common
        eps, seed = float(rng.choice([0.0, 0.1, 0.5, 1.0])), int(rng.integers(0, 1000))
        _close(ns["epsilon_greedy"](q, eps, np.random.default_rng(seed)), ref(q, eps, np.random.default_rng(seed)),
               f"epsilon_greedy trial {trial}")


def _q_update(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    for trial in range(TRIALS * 4):
        Q = rng.normal(size=(6, 4))
        Q1, Q2 = Q.copy(), Q.copy()
        args = (int(rng.integers(6)), int(rng.integers(4)), float(rng.normal()), int(rng.integers(6)),
                bool(rng.random() < 0.3), 0.1, 0.95)
        ns["q_learning_update"](Q1, *args)
        ref(Q2, *args)
        _close(Q1, Q2, f"Q after trial {trial}")


def _update_model(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    m1, m2 = {}, {}
    for _ in range(30):
        args = (int(rng.integers(4)), int(rng.integers(2)), float(rng.normal()), int(rng.integers(4)),
                bool(rng.random() < 0.2))
        ns["update_model"](m1, *args)
        ref(m2, *args)
    _close(m1, m2, "model")


def _planning(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    for trial in range(TRIALS):
        model = {(int(rng.integers(6)), int(rng.integers(4))): (float(rng.normal()), int(rng.integers(6)),
                                                                bool(rng.random() < 0.2)) for _ in range(10)}
        Q = rng.normal(size=(6, 4))
        Q1, Q2, seed = Q.copy(), Q.copy(), int(rng.integers(1000))
        ns["planning"](Q1, model, 25, 0.1, 0.95, np.random.default_rng(seed))
        ref(Q2, model, 25, 0.1, 0.95, np.random.default_rng(seed))
        _close(Q1, Q2, f"Q after planning, trial {trial}")


def _dyna_q(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    import cs285lab.envs  # noqa: F401 - registers the Dyna Maze

    for n in (0, 5):
        seed = int(rng.integers(1000))
        runs = []
        for fn in (ns["dyna_q"], ref):
            env = gym.make("cs285lab/DynaMaze-v0")
            env.reset(seed=seed)
            runs.append(fn(env, n, 4, np.random.default_rng(seed), alpha=0.1, gamma=0.95, epsilon=0.1))
        _close(runs[0], runs[1], f"steps per episode, n = {n}")


# ---------------------------------------------------------------- nb05

def _gaussian_nll(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    for trial in range(TRIALS):
        shape = tuple(int(x) for x in rng.integers(1, 6, size=3))
        mean, log_var, target = (torch.randn(shape) for _ in range(3))
        _close(ns["gaussian_nll"](mean, log_var, target), ref(mean, log_var, target), f"nll trial {trial}")


def _buffers(rng: np.random.Generator, n: int = 40):
    from cs285lab.buffers import ReplayBuffer

    real, model = ReplayBuffer(100, 3, 1), ReplayBuffer(200, 3, 1)
    for buf in (real, model):
        buf.add_batch(rng.normal(size=(n, 3)), rng.normal(size=(n, 1)), rng.normal(size=n), rng.normal(size=(n, 3)),
                      rng.random(n) < 0.1)
    return real, model


def _small_model(seed: int):
    from cs285lab.algos.models import ProbabilisticEnsemble

    torch.manual_seed(seed)
    return ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(16,))


def _branched_rollout(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    model = _small_model(0)
    model.fit(_buffers(rng)[0].contents(), rng=np.random.default_rng(0), max_epochs=2)
    policy = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Tanh())
    for trial in range(3):
        real, _ = _buffers(rng)
        results = []
        for fn in (ns["branched_rollout"], ref):
            from cs285lab.buffers import ReplayBuffer

            model_buffer = ReplayBuffer(500, 3, 1)
            torch.manual_seed(trial)
            stored = fn(model, policy, real, model_buffer, 7, 3, np.random.default_rng(trial))
            results.append((stored, model_buffer.contents()))
        _close(results[0], results[1], f"branched rollout trial {trial}")


def _mixed_batch(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    real, model = _buffers(rng)
    for trial, ratio in enumerate((0.0, 0.05, 0.3, 0.5, 1.0)):
        size, seed = int(rng.integers(1, 40)), int(rng.integers(1000))
        _close(ns["mixed_batch"](real, model, size, ratio, np.random.default_rng(seed)),
               ref(real, model, size, ratio, np.random.default_rng(seed)), f"mixed batch, real_ratio {ratio}")


def _refresh_model(ns: dict, ref: Callable, rng: np.random.Generator) -> None:
    real, model_data = _buffers(rng, 60)
    models = [_small_model(3), _small_model(3)]
    stats = []
    for fn, model in zip((ns["refresh_model"], ref), models):
        torch.manual_seed(1)
        stats.append(fn(model, real, model_data, np.random.default_rng(1), max_epochs=2))
    _close(list(models[0].parameters()), list(models[1].parameters()), "model parameters after the refit")
    _close(stats[0].val_nll, stats[1].val_nll, "held-out NLL")


# exercise id -> (cells to execute from the solution notebook, comparison)
SPECS: dict[str, tuple[list[str], Callable]] = {
    "nb01-td-target": (["nb01-setup", "nb01-td-target"], _td_target),
    "nb01-architectures": (["nb01-setup", "nb01-policy-distribution", "nb01-layers", "nb01-architectures"],
                           _architectures),
    "nb01-actor-critic-loss": (["nb01-setup", "nb01-td-target", "nb01-actor-critic-loss"], _actor_critic_loss),
    "nb01-online-update": (["nb01-setup", "nb01-td-target", "nb01-actor-critic-loss", "nb01-online-update"],
                           _online_update),
    "nb02-reset-workers": (["nb02-setup", "nb02-reset-workers"], _reset_workers),
    "nb02-collect-step": (["nb02-setup", "nb02-collect-step"], _collect_step),
    "nb02-take-batch": (["nb02-setup", "nb02-take-batch"], _take_batch),
    "nb03-buffer": (["nb03-setup", "nb03-buffer"], _replay_buffer),
    "nb03-q-target": (["nb03-setup", "nb03-q-target"], _q_target),
    "nb03-score-loss": (["nb03-setup", "nb03-score-loss"], _score_loss),
    "nb04-epsilon-greedy": (["nb04-setup", "nb04-epsilon-greedy"], _epsilon_greedy),
    "nb04-q-update": (["nb04-setup", "nb04-q-update"], _q_update),
    "nb04-update-model": (["nb04-setup", "nb04-update-model"], _update_model),
    "nb04-planning": (["nb04-setup", "nb04-q-update", "nb04-planning"], _planning),
    "nb04-dyna-q": (["nb04-setup", "nb04-epsilon-greedy", "nb04-q-update", "nb04-update-model", "nb04-planning",
                     "nb04-dyna-q"], _dyna_q),
    "nb05-gaussian-nll": (["nb05-setup", "nb05-gaussian-nll"], _gaussian_nll),
    "nb05-branched-rollout": (["nb05-setup", "nb05-branched-rollout"], _branched_rollout),
    "nb05-mixed-batch": (["nb05-setup", "nb05-mixed-batch"], _mixed_batch),
    "nb05-refresh-model": (["nb05-setup", "nb05-gaussian-nll", "nb05-refresh-model"], _refresh_model),
}

TWINS = all_twins()


def test_every_twin_has_a_comparison_and_names_a_solution_cell():
    assert {t.exercise for t in TWINS} <= set(SPECS), "add a comparison to SPECS for each new twin"
    for entry in TWINS:
        ids = {(cell_meta(c) or {}).get("id"): (cell_meta(c) or {}).get("kind") for c in _notebook(entry.notebook).cells}
        assert ids.get(entry.exercise) == "solution", f"{entry}: {entry.exercise} is not a solution cell"


@pytest.mark.parametrize("entry", TWINS, ids=lambda t: f"{t.exercise}:{t.qualname}")
def test_twin_agrees_with_its_solution_region(entry):
    cells, compare = SPECS[entry.exercise]
    namespace = solution_namespace(entry.notebook, cells)
    assert entry.qualname in namespace, f"solutions/{entry.notebook} cell {entry.exercise} defines no {entry.qualname}"
    compare(namespace, _package(entry), np.random.default_rng(0))


def test_a_drifting_twin_is_caught():
    """The comparison fails when the package copy differs (here: a td_target that ignores termination)."""
    namespace = solution_namespace("nb01", SPECS["nb01-td-target"][0])
    with pytest.raises(AssertionError, match="td_target trial"):
        _td_target(namespace, lambda r, v, term, gamma: r + gamma * v.detach(), np.random.default_rng(0))


def test_twin_rejects_bad_marks():
    with pytest.raises(ValueError, match="look like 'nb03'"):
        twin("03", "nb03-x")
    with pytest.raises(ValueError, match="solution cell id of nb03"):
        twin("nb03", "nb04-x")
    before = dict(REGISTRY)
    def f() -> None:
        pass

    assert twin("nb07", "nb07-f")(f) is f  # returns the object unchanged
    REGISTRY.clear()
    REGISTRY.update(before)


def test_declared_twins_match_the_registry():
    """The grader reads the marks from source (no torch import); it must see what importing registers."""
    from cs285lab.twins import declared_twins

    assert declared_twins() == all_twins()


@pytest.mark.parametrize("source, known, expected", [
    ("from cs285lab.buffers import ReplayBuffer", "", ["cs285lab.buffers.ReplayBuffer"]),
    ("from cs285lab.buffers import ReplayBuffer as RB\nclass ReplayBuffer(RB):\n    pass", "",
     ["cs285lab.buffers.ReplayBuffer"]),
    ("actor_critic_loss = cs285lab.algos.actor_critic.actor_critic_loss", "import cs285lab",
     ["cs285lab.algos.actor_critic.actor_critic_loss"]),
    ("def reset_workers(envs, seed):\n    return parallel.reset_workers(envs, seed)",
     "from cs285lab.algos import parallel", ["cs285lab.algos.parallel.reset_workers"]),
    ("def td_target(r, v, t, g):\n    return r + g * v * (1 - t)", "", []),
    ("from cs285lab.buffers import Batch\nclass ReplayBuffer:\n    pass", "", []),
    ("def broken(:", "", []),
    ("-" * 200_000 + "1", "", []),  # too deep for the parser: no flag, no crash
])
def test_reuse_of_reference_code_is_detected(source, known, expected):
    from cs285lab.grading.reuse import imported_names, used_twins
    from cs285lab.twins import reexported_names

    # the grader flags a twin under every name the package re-exports it as (grading.reuse.reuse_rows does the same)
    twins = reexported_names({f"{t.module}.{t.qualname}" for t in TWINS})
    assert used_twins(source, twins, imported_names(known)) == expected


def test_reexported_names_follow_package_reexports():
    from cs285lab.twins import reexported_names

    names = reexported_names({"cs285lab.algos.actor_critic.targets.td_target"})
    assert "cs285lab.algos.actor_critic.td_target" in names
    assert reexported_names({"cs285lab.nowhere.f"}) == {"cs285lab.nowhere.f"}


# ---------------------------------------------------------------- answers that stay: refused at run time, flagged pasted

def test_answers_that_stay_are_registered_for_their_exercises():
    """SAC's methods and the silent bugs' correct code stay in every handout (the package runs them): each is
    registered as an answer of the exercise it solves, so the checks refuse it and the grader flags a paste."""
    from cs285lab.algos.sac import SAC, SquashedGaussianActor
    from cs285lab.algos.silent_bugs import FAMILIES
    from cs285lab.twins import answer_code, package_origin

    assert package_origin(SAC.q_target, "nb03-q-target") == "cs285lab.algos.sac.SAC.q_target"
    assert package_origin(SAC.actor_loss, "nb03-actor-loss") == "cs285lab.algos.sac.SAC.actor_loss"
    assert package_origin(SquashedGaussianActor.squashed_log_prob, "nb03-squashed") is not None
    for family in FAMILIES.values():
        for fn in family.correct.values():
            assert all(package_origin(fn, f"nb03-silent-fix-{k}") for k in (1, 2, 3)), fn
        for fn in (f for placed in family.buggy.values() for f in placed):
            assert package_origin(fn, "nb03-silent-fix-1") is None, f"{fn} is the code under review, not an answer"
    for entry in TWINS:  # every twin counts as an answer of its exercise
        assert _package(entry) is not None and answer_code(entry.exercise)

    def own(batch, sample_actions, target_q, gamma, alpha=0.0):
        return batch.rewards
    assert package_origin(own, "nb03-q-target") is None


def test_the_grader_flags_pasted_answers_and_dynamic_imports():
    import inspect
    import textwrap

    from cs285lab.algos.sac import SAC
    from cs285lab.grading.reuse import pasted_or_dynamic

    body = textwrap.dedent(inspect.getsource(SAC.actor_loss)).splitlines()
    pasted = "\n".join(line for line in body if not line.startswith("@")).replace("def actor_loss(self, batch",
                                                                                "def sac_actor_loss(self, batch")
    assert "SAC.actor_loss" in pasted_or_dynamic(pasted, "nb03-actor-loss")
    dynamic = "import importlib\nsac_actor_loss = importlib.import_module('cs285lab.algos.sac').SAC.actor_loss"
    assert "dynamically" in pasted_or_dynamic(dynamic, "nb03-actor-loss")
    own = ("def sac_actor_loss(batch, policy, critic, alpha):\n    actions, log_prob = policy(batch.obs)\n"
           "    return (alpha * log_prob - critic(batch.obs, actions).min(0).values).mean()")
    assert pasted_or_dynamic(own, "nb03-actor-loss") is None
