"""Feed correct and deliberately broken implementations to the notebook-03 checks.

Each broken variant is one common mistake; the check must fail and its message must name it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from cs285lab.algos.sac import frozen
from cs285lab.buffers import Batch
from cs285lab.checks import CheckFailed, load

checks = load("nb03")
ROOT = Path(__file__).resolve().parents[1]

class ReplayBuffer:
    """A ring buffer of transitions in preallocated arrays."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, act_dim), dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.next_index = 0  # the slot the next transition goes to
        self.size = 0        # how many slots hold data

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated, truncated=False) -> None:
        """Store one transition in slot next_index, overwriting the oldest once full."""
        i = self.next_index
        # copy the values into our arrays (never keep the caller's array)
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        # store termination only: a truncated episode still bootstraps from s'
        self.next_obs[i], self.terminated[i] = next_obs, float(terminated)
        # advance the write index, wrapping around at the capacity
        self.next_index = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size transitions drawn uniformly, with replacement, from the filled slots."""
        idx = rng.integers(0, self.size, size=batch_size)  # filled slots only
        # fancy indexing copies: later writes to the buffer cannot change this batch
        return Batch(obs=torch.from_numpy(self.obs[idx]), actions=torch.from_numpy(self.actions[idx]),
                     rewards=torch.from_numpy(self.rewards[idx]), next_obs=torch.from_numpy(self.next_obs[idx]),
                     terminated=torch.from_numpy(self.terminated[idx]))


def q_target(batch, sample_actions, target_q, gamma, alpha=0.0):
    """y = r + gamma * (Q_target(s', a') - alpha * log pi(a'|s')) * (1 - terminated), a' ~ pi(s') fresh. Returns [B]."""
    with torch.no_grad():  # a target is a fixed label
        next_actions, next_log_prob = sample_actions(batch.next_obs)  # the CURRENT policy at s'
        next_value = target_q(batch.next_obs, next_actions) - alpha * next_log_prob
        return batch.rewards + gamma * (1.0 - batch.terminated) * next_value


def score_function_loss(batch, policy, critic, num_samples):
    """-mean over K samples a ~ pi(.|s_i) and states of log pi(a|s_i) * Q(s_i, a): the score-function actor loss."""
    actions = policy.sample(batch.obs, num_samples)  # [K, B, act_dim] from the CURRENT policy
    with torch.no_grad():
        q = critic(batch.obs, actions)                # [K, B]: a fixed weight, not trained here
    return -(policy.log_prob(batch.obs, actions) * q).mean()


def squashed_gaussian(mean, log_std, noise):
    """a = tanh(u), u = mean + exp(log_std) * noise; return (a [B, A], log pi(a) [B]) with the tanh correction."""
    std = log_std.exp()
    u = mean + std * noise  # reparameterized: differentiable in mean and log_std
    gaussian_log_prob = -0.5 * noise ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    # change of variables: log |d tanh(u)/du| = log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))
    log_det = 2 * (math.log(2) - u - torch.nn.functional.softplus(-2 * u))
    return torch.tanh(u), (gaussian_log_prob - log_det).sum(-1)


def sac_actor_loss(batch, policy, critic, alpha):
    """mean over buffer states of alpha * log pi(a|s) - min_j Q_j(s, a), a ~ pi(s) reparameterized."""
    actions, log_prob = policy(batch.obs)      # fresh actions with a pathwise gradient
    with frozen(critic):                       # gradient flows through Q to a, not into Q's weights
        q = critic(batch.obs, actions).min(dim=0).values
    return (alpha * log_prob - q).mean()


# ---- the replay buffer ---------------------------------------------------------------------------
class UnfilledSlots(ReplayBuffer):
    def sample(self, batch_size, rng):
        idx = rng.integers(0, self.capacity, size=batch_size)  # BUG: unfilled slots too
        return Batch(*(torch.from_numpy(a[idx]) for a in (self.obs, self.actions, self.rewards, self.next_obs,
                                                           self.terminated)))


class WrapPastEnd(ReplayBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated=False):
        i = self.next_index
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, float(terminated)
        self.next_index = i + 1 if i + 1 <= self.capacity else 0  # BUG: off by one, index reaches capacity
        self.size = min(self.size + 1, self.capacity)


class WrapTooEarly(ReplayBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated=False):
        i = self.next_index
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, float(terminated)
        self.next_index = (i + 1) % (self.capacity - 1)  # BUG: the last slot is never rewritten
        self.size = min(self.size + 1, self.capacity)


class NeverOverwrites(ReplayBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated=False):
        if self.size == self.capacity:  # BUG: a full buffer drops new data instead of evicting the oldest
            return
        super().add(obs, action, reward, next_obs, terminated, truncated)


class AliasedBatch(ReplayBuffer):
    """A 'fast path' that returns a contiguous window when the batch fits: views of the buffer."""

    def sample(self, batch_size, rng):
        if batch_size > self.size:
            return super().sample(batch_size, rng)
        start = int(rng.integers(0, self.size - batch_size + 1))
        return Batch(*(torch.from_numpy(a[start:start + batch_size])  # BUG: a slice is a view
                       for a in (self.obs, self.actions, self.rewards, self.next_obs, self.terminated)))


class AliasedStorage:
    """A list-based buffer that keeps the caller's arrays (and the same capacity logic)."""

    def __init__(self, capacity, obs_dim, act_dim):
        self.capacity, self.data, self.next_index = capacity, [], 0

    def __len__(self):
        return len(self.data)

    def add(self, obs, action, reward, next_obs, terminated, truncated=False):
        item = (obs, action, reward, next_obs, float(terminated))  # BUG: obs is stored by reference
        if len(self.data) < self.capacity:
            self.data.append(item)
        else:
            self.data[self.next_index] = item
        self.next_index = (self.next_index + 1) % self.capacity

    def sample(self, batch_size, rng):
        rows = [self.data[i] for i in rng.integers(0, len(self.data), size=batch_size)]
        return Batch(obs=torch.tensor(np.array([r[0] for r in rows]), dtype=torch.float32),
                     actions=torch.tensor(np.array([r[1] for r in rows]), dtype=torch.float32),
                     rewards=torch.tensor([r[2] for r in rows], dtype=torch.float32),
                     next_obs=torch.tensor(np.array([r[3] for r in rows]), dtype=torch.float32),
                     terminated=torch.tensor([r[4] for r in rows], dtype=torch.float32))


class TruncationAsTermination(ReplayBuffer):
    def add(self, obs, action, reward, next_obs, terminated, truncated=False):
        super().add(obs, action, reward, next_obs, terminated or truncated)  # BUG


class GlobalRng(ReplayBuffer):
    def sample(self, batch_size, rng):
        return super().sample(batch_size, np.random.default_rng())  # BUG: ignores the rng passed in


class MixedIndices(ReplayBuffer):
    def sample(self, batch_size, rng):
        idx, idx2 = rng.integers(0, self.size, size=batch_size), rng.integers(0, self.size, size=batch_size)
        return Batch(torch.from_numpy(self.obs[idx]), torch.from_numpy(self.actions[idx2]),  # BUG: two index sets
                     torch.from_numpy(self.rewards[idx]), torch.from_numpy(self.next_obs[idx]),
                     torch.from_numpy(self.terminated[idx]))


class Float64Batch(ReplayBuffer):
    def sample(self, batch_size, rng):
        b = super().sample(batch_size, rng)
        return Batch(*(x.double() for x in (b.obs, b.actions, b.rewards, b.next_obs, b.terminated)))


class Stub(ReplayBuffer):
    def add(self, *args, **kwargs):
        raise NotImplementedError("fill in add")


def test_reference_buffers_pass(capsys):
    checks.replay_buffer(ReplayBuffer)
    assert "replay_buffer: all" in capsys.readouterr().out


def test_the_packages_answers_are_refused_however_they_are_reached():
    """The package's twins and SAC's methods answer nb03's exercises: passing them, subclassing them, wrapping
    them or reaching them through importlib fails with a message that says they are the reference."""
    import importlib

    from cs285lab.algos.offpolicy_fixes import q_target as package_q_target
    from cs285lab.algos.offpolicy_fixes import score_function_loss as package_score_loss
    from cs285lab.algos.sac import SAC, SquashedGaussianActor
    from cs285lab.buffers import ReplayBuffer as PackageBuffer

    class Subclass(PackageBuffer):
        pass

    class Delegating(ReplayBuffer):  # the student's class, storing into the package's buffer
        def __init__(self, capacity, obs_dim, act_dim):
            super().__init__(capacity, obs_dim, act_dim)
            self.inner = importlib.import_module("cs285lab." + "buffers").ReplayBuffer(capacity, obs_dim, act_dim)

        def add(self, *args, **kwargs):
            self.inner.add(*args, **kwargs)
            super().add(*args, **kwargs)

    refused = "runs the package's own code"
    for cls in (PackageBuffer, Subclass, Delegating):
        with pytest.raises(CheckFailed, match=refused + r" \(cs285lab.buffers.ReplayBuffer"):
            checks.replay_buffer(cls)
    dynamic = importlib.import_module("cs285lab.algos." + "offpolicy_fixes")
    with pytest.raises(CheckFailed, match=refused + r" \(cs285lab.algos.offpolicy_fixes.q_target"):
        checks.q_target(package_q_target)
    with pytest.raises(CheckFailed, match=refused):
        checks.q_target(lambda *args: dynamic.q_target(*args))
    with pytest.raises(CheckFailed, match=refused + r" \(cs285lab.algos.offpolicy_fixes.score_function_loss"):
        checks.score_function_loss(lambda *args: dynamic.score_function_loss(*args))
    with pytest.raises(CheckFailed, match=refused):
        checks.score_function_loss(package_score_loss)

    actor = SquashedGaussianActor(3, 1, (8,), np.array([-1.0]), np.array([1.0]))

    def squashed_via_actor(mean, log_std, noise):  # the actor's log-density: Exercise 6's answer
        u = mean + log_std.exp() * noise
        return torch.tanh(u), actor.squashed_log_prob(mean, log_std, u)

    with pytest.raises(CheckFailed, match=refused + r" \(cs285lab.algos.sac.SquashedGaussianActor.squashed_log_prob"):
        checks.squashed_gaussian(squashed_via_actor)

    def actor_loss_via_sac(batch, policy, critic, alpha):  # SAC's own actor loss: Exercise 7's answer
        agent = SAC.__new__(SAC)
        agent.sample_actions, agent.critic, agent.log_alpha = policy, critic, torch.tensor(math.log(alpha))
        return SAC.actor_loss(agent, batch)[0]

    with pytest.raises(CheckFailed, match=refused + r" \(cs285lab.algos.sac.SAC.actor_loss"):
        checks.sac_actor_loss(actor_loss_via_sac)


@pytest.mark.parametrize("broken, message", [
    (UnfilledSlots, "empty slots"),
    (WrapPastEnd, "off-by-one in the wrap-around"),
    (WrapTooEarly, "off-by-one in the wrap-around leaves a slot unwritten"),
    (NeverOverwrites, "the oldest are overwritten first"),
    (AliasedBatch, "aliasing: a batch you returned changed"),
    (AliasedStorage, "aliasing: changing the array passed to add()"),
    (TruncationAsTermination, "stored a truncated transition as terminated"),
    (GlobalRng, "draw indices with the `rng` argument"),
    (MixedIndices, "come from different transitions"),
    (Float64Batch, "dtype torch.float64"),
])
def test_buffer_mistakes_are_named(broken, message):
    with pytest.raises(CheckFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        checks.replay_buffer(broken)


def test_buffer_stub_lets_not_implemented_through():
    with pytest.raises(NotImplementedError):
        checks.replay_buffer(Stub)


# ---- q target ------------------------------------------------------------------------------------
def _q_variant(kind):
    def fn(batch, sample_actions, target_q, gamma, alpha=0.0):
        with torch.no_grad():
            s2 = batch.obs if kind == "s" else batch.next_obs
            a2, lp2 = sample_actions(s2)
            if kind == "buffer_action":
                a2 = batch.actions
            nxt = target_q(s2, a2) - alpha * lp2
            mask = {"no_mask": 1.0, "inverted": batch.terminated}.get(kind, 1.0 - batch.terminated)
            return batch.rewards + gamma * mask * nxt
    return fn


def q_not_detached(batch, sample_actions, target_q, gamma, alpha=0.0):
    a2, lp2 = sample_actions(batch.next_obs)
    return batch.rewards + gamma * (1 - batch.terminated) * (target_q(batch.next_obs, a2) - alpha * lp2)


def q_column(batch, sample_actions, target_q, gamma, alpha=0.0):
    return q_target(batch, sample_actions, target_q, gamma, alpha)[:, None]


def q_no_entropy(batch, sample_actions, target_q, gamma, alpha=0.0):
    return q_target(batch, sample_actions, target_q, gamma, 0.0)


def test_reference_q_target_passes():
    checks.q_target(q_target)


@pytest.mark.parametrize("broken, message", [
    (_q_variant("buffer_action"), "values s' at a_i, the action stored in the buffer for s_i"),
    (_q_variant("no_mask"), "bootstraps past terminal states"),
    (_q_variant("inverted"), "mask is inverted"),
    (_q_variant("s"), "values the state s the transition started from"),
    (q_not_detached, "your target carries gradient"),
    (q_column, "trailing size-1 dimension"),
    (q_no_entropy, "entropy bonus of the action valued at s' is missing"),
])
def test_q_target_mistakes_are_named(broken, message):
    with pytest.raises(CheckFailed, match=message):
        checks.q_target(broken)


# ---- score-function loss -------------------------------------------------------------------------
def sf_buffer_actions(batch, policy, critic, num_samples):
    with torch.no_grad():
        q = critic(batch.obs, batch.actions)
    return -(policy.log_prob(batch.obs, batch.actions) * q).mean()


def sf_through_critic(batch, policy, critic, num_samples):
    actions = policy.sample(batch.obs, num_samples)
    return -(policy.log_prob(batch.obs, actions) * critic(batch.obs, actions)).mean()


def sf_one_sample(batch, policy, critic, num_samples):
    return score_function_loss(batch, policy, critic, 1)


def sf_ascent(batch, policy, critic, num_samples):
    return -score_function_loss(batch, policy, critic, num_samples)


def sf_sum(batch, policy, critic, num_samples):
    actions = policy.sample(batch.obs, num_samples)
    with torch.no_grad():
        q = critic(batch.obs, actions)
    return -(policy.log_prob(batch.obs, actions) * q).sum()


def sf_one_at_a_time(batch, policy, critic, num_samples):
    losses = [score_function_loss(batch, policy, critic, 1) for _ in range(num_samples)]
    return torch.stack(losses).mean()


def test_reference_score_function_loss_passes():
    checks.score_function_loss(score_function_loss)
    checks.score_function_loss(sf_one_at_a_time)  # K separate draws are just as right


@pytest.mark.parametrize("broken, message", [
    (sf_buffer_actions, "log-probability of the actions stored in the buffer"),
    (sf_through_critic, "gradient into the critic's parameters"),
    (sf_one_sample, "one action sample per state although num_samples > 1"),
    (sf_ascent, "sign is flipped"),
    (sf_sum, "is a sum, not an average"),
])
def test_score_function_mistakes_are_named(broken, message):
    with pytest.raises(CheckFailed, match=message):
        checks.score_function_loss(broken)


# ---- squashed Gaussian ---------------------------------------------------------------------------
def sg_variant(kind):
    def fn(mean, log_std, noise):
        std = log_std.exp()
        u = mean + (log_std if kind == "log_std" else std) * noise
        if kind == "sample":
            u = torch.distributions.Normal(mean, std).sample()
            u = mean.detach() + std.detach() * noise
        gauss = torch.distributions.Normal(mean, std)
        corr = torch.log(1 - torch.tanh(u) ** 2 + 1e-6)
        a = u if kind == "unsquashed" else torch.tanh(u)
        lp = {"no_correction": gauss.log_prob(u), "plus": gauss.log_prob(u) + corr,
              "at_a": gauss.log_prob(torch.tanh(u)) - corr}.get(kind, gauss.log_prob(u) - corr)
        return a, (lp if kind == "unsummed" else lp.sum(-1))
    return fn


def test_reference_squashed_gaussian_passes():
    checks.squashed_gaussian(squashed_gaussian)
    checks.squashed_gaussian(sg_variant("naive_but_right"))  # the eps-stabilized textbook formula is fine


@pytest.mark.parametrize("kind, message", [
    ("no_correction", "lacks the change-of-variables term"),
    ("plus", "wrong sign"),
    ("at_a", "at the squashed action"),
    ("unsummed", "sum the per-dimension"),
    ("log_std", "std is exp"),
    ("unsquashed", "not squashed"),
    ("sample", "carries no gradient"),
])
def test_squashed_gaussian_mistakes_are_named(kind, message):
    with pytest.raises(CheckFailed, match=message):
        checks.squashed_gaussian(sg_variant(kind))


# ---- SAC actor loss ------------------------------------------------------------------------------
def al_variant(kind):
    def fn(batch, policy, critic, alpha):
        actions, log_prob = policy(batch.obs)
        if kind == "buffer":
            actions = batch.actions
        if kind == "detached":
            actions = actions.detach()
        if kind == "through_critic":
            q = critic(batch.obs, actions).min(0).values
        else:
            with frozen(critic):
                qs = critic(batch.obs, actions)
                q = {"mean": qs.mean(0), "max": qs.max(0).values, "first": qs[0]}.get(kind, qs.min(0).values)
        ent = {"no_entropy": 0.0, "entropy_sign": -alpha}.get(kind, alpha)
        return (ent * log_prob - q).mean() * (-1 if kind == "ascent" else 1)
    return fn


def test_reference_actor_loss_passes():
    checks.sac_actor_loss(sac_actor_loss)


@pytest.mark.parametrize("kind, message", [
    ("through_critic", "gradient into the critic's parameters"),
    ("buffer", "actions stored in the buffer"),
    ("detached", "no gradient flows through Q"),
    ("mean", "averaged the twin critics"),
    ("max", "maximum of the twin critics"),
    ("first", "only the first critic"),
    ("no_entropy", "entropy term is missing"),
    ("entropy_sign", "entropy term has the wrong sign"),
    ("ascent", "sign is flipped"),
])
def test_actor_loss_mistakes_are_named(kind, message):
    with pytest.raises(CheckFailed, match=message):
        checks.sac_actor_loss(al_variant(kind))


# ---- measurements and learning -------------------------------------------------------------------
def test_gradient_variance_check():
    checks.gradient_variance({"score": {1: 10.0, 4: 2.6, 16: 0.7}, "reparam": {1: 0.5}})
    with pytest.raises(CheckFailed, match="fell only"):  # the same samples reused for every K
        checks.gradient_variance({"score": {1: 10.0, 4: 9.0, 16: 8.5}, "reparam": {1: 0.5}})
    with pytest.raises(CheckFailed, match="lower variance"):
        checks.gradient_variance({"score": {1: 10.0, 4: 2.6, 16: 0.7}, "reparam": {1: 20.0}})
    with pytest.raises(CheckFailed, match="at least 3"):
        checks.gradient_variance({"score": {1: 10.0, 16: 0.7}, "reparam": {1: 0.5}})


@pytest.fixture(scope="module")
def small_agent():
    """A small untrained SAC and a batch of states: enough to measure gradient variances quickly."""
    from cs285lab.algos.sac import SAC, SACConfig

    agent = SAC(3, 1, [-2.0], [2.0], SACConfig(hidden=(32, 32)), seed=0)
    g = torch.Generator().manual_seed(0)
    n = 64
    states = Batch(torch.randn(n, 3, generator=g), torch.zeros(n, 1), torch.zeros(n), torch.zeros(n, 3), torch.zeros(n))
    return agent, states


def _measure(agent, states, ks, reps=30, seed=5):
    """The notebook's measurement cells, with the reference functions."""
    recompute = checks._recomputed_variances
    torch.manual_seed(seed)
    return recompute(score_function_loss, sac_actor_loss, agent, states, ks, reps)


def test_gradient_variance_accepts_a_real_measurement_and_rejects_a_typed_in_table(small_agent):
    agent, states = small_agent
    ks = [1, 4, 16]
    score, reparam = _measure(agent, states, ks, seed=123)  # another seed than the check's: a genuine re-measurement
    checks.gradient_variance({"score": score, "reparam": reparam}, score_function_loss, sac_actor_loss, agent, states)
    # A table with the right shape (1/K decay, reparam lower) but typed in, not measured on this agent.
    typed = {"score": {k: 50.0 / k for k in ks}, "reparam": {k: 1.0 / k for k in ks}}
    assert typed["score"][1] / score[1] > 3 or score[1] / typed["score"][1] > 3  # the typed numbers are off
    with pytest.raises(CheckFailed, match="were not measured by the cell above"):
        checks.gradient_variance(typed, score_function_loss, sac_actor_loss, agent, states)
    # Real numbers for the score function, a scaled copy for the reparameterized one.
    with pytest.raises(CheckFailed, match="reparam variance at K = 1"):
        checks.gradient_variance({"score": score, "reparam": {k: v / 10 for k, v in reparam.items()}},
                                 score_function_loss, sac_actor_loss, agent, states)


def test_unfinished_measurements_and_training_count_as_stubs():
    with pytest.raises(NotImplementedError):
        checks.gradient_variance({"score": {}, "reparam": {}})
    with pytest.raises(NotImplementedError):
        checks.sac_learned([])


def test_bugs_quiz_explains_every_line():
    quiz = checks.bugs_quiz()
    assert quiz.score({3, 5}) == (6, 6) and quiz.score({3, 4, 5}) == (6, 6)
    assert quiz.score({1}) == (3, 6)
    text = quiz.feedback({1})
    assert text.count("\n[") == 6 and "you missed this one" in text and "this step is fine" in text
    assert quiz.widget() is quiz.widget()  # built once
    with pytest.raises(ValueError, match="not an option"):
        quiz.feedback({9})


def test_sac_learned_threshold(monkeypatch):
    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    checks.sac_learned([{"step": 3000, "eval_return": -180.0}])
    with pytest.raises(CheckFailed, match="did not learn"):
        checks.sac_learned([{"step": 3000, "eval_return": -1200.0}])
    with pytest.raises(CheckFailed, match="diverged"):
        checks.sac_learned([{"step": 3000, "eval_return": math.nan}])


def test_sac_learned_rejects_a_history_that_its_agent_does_not_reproduce(monkeypatch):
    """A typed-in (or edited) history fails: the check re-evaluates the agent the way train_sac did."""
    from cs285lab.algos.sac import SAC, SACConfig
    from cs285lab.budgets import budget
    from cs285lab.envs import EVAL_SEED, evaluate

    monkeypatch.setenv("CS285LAB_PROFILE", "ci")
    StudentSAC = type("StudentSAC", (SAC,), {})
    agent = StudentSAC(3, 1, [-2.0], [2.0], SACConfig(), seed=0)  # untrained: about -1200
    real = evaluate(lambda o: agent.act(o, deterministic=True), "Pendulum-v1", budget("nb03").sac.eval_episodes,
                    seed=EVAL_SEED)
    with pytest.raises(CheckFailed, match="does not come from this agent"):
        checks.sac_learned([{"step": 3500, "eval_return": -150.0}], agent)
    with pytest.raises(CheckFailed, match="did not learn|fresh evaluation"):
        checks.sac_learned([{"step": 3500, "eval_return": real}], agent)
    with pytest.raises(CheckFailed, match="pass the StudentSAC agent"):
        checks.sac_learned([{"step": 3500, "eval_return": real}], SAC(3, 1, [-2.0], [2.0], SACConfig(), seed=0))


def test_squashed_gaussian_names_log_std_as_scale_before_torch_raises():
    """torch.distributions rejects a negative scale; the check must still name the mistake (issue #17)."""
    def as_scale(mean, log_std, noise):
        u = mean + log_std * noise
        gauss = torch.distributions.Normal(mean, log_std, validate_args=True)
        return torch.tanh(u), (gauss.log_prob(u) - torch.log(1 - torch.tanh(u) ** 2)).sum(-1)

    with pytest.raises(CheckFailed, match="std is exp"):
        checks.squashed_gaussian(as_scale)


def test_no_graded_cell_takes_an_enumerable_answer():
    """Find the bugs is graded by the fixed code; the old line-number answer is gone (issue 13)."""
    from pathlib import Path

    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "solutions" / "03_off_policy_actor_critic.ipynb", 4)
    ids = {(c.metadata.get("cs285lab") or {}).get("id") for c in nb.cells}
    assert not {"nb03-bugs-answer", "nb03-check-bugs"} & ids and not hasattr(checks, "find_the_bugs")
    graded = [c.source for c in nb.cells if (c.metadata.get("cs285lab") or {}).get("kind") == "check"]
    for name in ("fixed_learns(q_target, score_function_loss, runs)", "silent_fix(1, fix_1, STUDENT_ID)",
                 "silent_fix(2, fix_2, STUDENT_ID)", "silent_fix(3, fix_3, STUDENT_ID)"):
        assert any(name in source for source in graded), name
    # The quiz that explains every line comes after the graded fix, never before it.
    order = [(c.metadata.get("cs285lab") or {}).get("id") or c.source for c in nb.cells]
    quiz = next(i for i, s in enumerate(order) if isinstance(s, str) and "bugs_quiz()" in s)
    assert quiz > order.index("nb03-check-fixed-learns")


def test_no_cell_before_the_graded_fix_states_the_fix():
    """The student copy of notebook 03, read in order: up to the last graded check of the find-the-bugs fix, no
    cell states the fixed target (a' sampled from the current policy at s') or the fresh-action policy gradient;
    the written diagnosis comes before the exercises, the explanations after the checks."""
    import re

    import nbformat

    from cs285lab.notebook_format import cell_id

    (path,) = (ROOT / "notebooks").glob("03_*.ipynb")
    cells = nbformat.read(path, as_version=4).cells
    ids = [cell_id(c) for c in cells]
    written, first_fix, graded = (ids.index(i) for i in ("nb03-bugs-written", "nb03-q-target", "nb03-check-fixed-learns"))
    assert written < first_fix < graded, "the written diagnosis must come before the exercises that fix the code"
    reveals = [r"a'\S*\s*(\\sim|~)", r"a\^\{?\\?pi", r"fresh", r"Q\(s'", r"\\bar Q\(s'", r"importance"]
    for index, cell in enumerate(cells[:graded]):
        for pattern in reveals:
            found = re.search(pattern, cell.source, flags=re.IGNORECASE)
            assert found is None or "a fresh env" in cell.source[max(0, found.start() - 2):found.end() + 5], (
                f"cell {index} ({ids[index]}) states the fix before the graded check: {found.group(0)!r} in "
                f"{cell.source[max(0, found.start() - 80):found.end() + 80]!r}")
    after = "\n".join(c.source for c in cells[graded:])
    assert re.search(r"a'_i \\sim \\pi_\\theta", after) and re.search(r"a\^\\pi_\{ik\}", after), \
        "the explanations (the lecture's formulas) follow the graded check"
