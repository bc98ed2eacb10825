"""The probabilistic ensemble: loss, batched layers, fitting, sampling, and errors at the boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs285lab import seed_everything
from cs285lab.algos.models import EnsembleLinear, ProbabilisticEnsemble, gaussian_nll


def _toy_transitions(n: int, rng: np.random.Generator, noise: float = 0.01, shift: float = 0.0):
    """A smooth 3-D system with a known answer: s' = s + 0.1 * tanh(A s) + 0.2 a, r = -|s|^2 - 0.1 a^2.

    States are uniform in [-1, 1]^3 + shift (a shift stands for a region a new policy reaches).
    """
    obs = (shift + rng.uniform(-1, 1, size=(n, 3))).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)
    mix = np.array([[0, 1, 0], [-1, 0, 0.5], [0.3, 0, -0.5]], dtype=np.float32)
    next_obs = obs + 0.1 * np.tanh(obs @ mix) + 0.2 * actions + noise * rng.standard_normal((n, 3)).astype(np.float32)
    rewards = -(obs**2).sum(1) - 0.1 * actions[:, 0] ** 2
    return obs, actions, rewards.astype(np.float32), next_obs


def test_gaussian_nll_is_the_normal_log_likelihood():
    torch.manual_seed(0)
    mean, log_var, target = torch.randn(4, 7, 3), torch.randn(4, 7, 3), torch.randn(4, 7, 3)
    expected = -torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(target).mean(dim=(1, 2))
    assert torch.allclose(gaussian_nll(mean, log_var, target), expected, atol=1e-5)


def test_batched_layer_applies_each_member_separately():
    torch.manual_seed(0)
    layer, x = EnsembleLinear(3, 4, 2), torch.randn(3, 5, 4)
    out = layer(x)
    for e in range(3):
        assert torch.allclose(out[e], x[e] @ layer.weight[e] + layer.bias[e], atol=1e-6)


def test_fit_learns_the_dynamics_and_picks_elites():
    rng = seed_everything(0)
    data = _toy_transitions(1500, rng)
    model = ProbabilisticEnsemble(3, 1, ensemble_size=4, num_elites=2, hidden=(64, 64))
    stats = model.fit(*data, rng=rng, max_epochs=40, batch_size=64)
    assert stats.val_nll < stats.val_nll_before - 1.0, f"held-out NLL barely fell: {stats}"
    assert stats.val_mse < 0.05, f"held-out MSE (normalised units) too high: {stats.val_mse}"
    assert len(set(stats.elites)) == 2 and stats.elites == model.elites
    obs, actions, rewards, next_obs = (torch.as_tensor(x) for x in _toy_transitions(200, rng, noise=0.0))
    pred_next, pred_reward = model.predict_mean(obs, actions)
    assert (pred_next - next_obs).abs().mean() < 0.03
    assert (pred_reward - rewards).abs().mean() < 0.1


def test_nll_without_log_variance_term_gives_useless_variances():
    """The learning signal the notebook's check relies on: a broken loss must show in held-out NLL."""
    rng = seed_everything(0)
    data = _toy_transitions(1500, rng)
    good = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(64, 64))
    good_stats = good.fit(*data, rng=np.random.default_rng(1), max_epochs=20, batch_size=64)
    broken = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(64, 64))
    no_log_var = lambda m, lv, t: (0.5 * (t - m) ** 2 * torch.exp(-lv)).mean(dim=(-2, -1))  # noqa: E731
    broken_stats = broken.fit(*data, rng=np.random.default_rng(1), max_epochs=20, batch_size=64, nll_fn=no_log_var)
    assert broken_stats.val_nll > good_stats.val_nll + 1.0, (good_stats, broken_stats)


def test_small_data_set_still_gets_enough_gradient_steps():
    """200 training transitions at batch 256 were ONE step per epoch: the model stayed nearly untrained."""
    rng = seed_everything(0)
    data = _toy_transitions(250, rng)
    model = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(64, 64))
    stats = model.fit(*data, rng=rng, max_epochs=100)  # default batch_size=256
    assert stats.updates >= 8 * stats.epochs, f"fewer than 8 minibatches per epoch: {stats}"
    # (at one step per epoch this was 0.17)
    assert stats.val_mse < 0.06, f"held-out MSE (normalised units) after 100 epochs on 250 transitions: {stats.val_mse}"


def test_every_fit_starts_from_scratch():
    """A refit must not depend on what the model saw before: warm-started weights are confidently wrong
    on the states a new policy reaches (in MBPO runs their first gradient steps wrecked the model)."""
    rng = seed_everything(0)
    old, new = _toy_transitions(300, rng), _toy_transitions(300, rng, shift=2.0)
    refit = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(32,))
    refit.fit(*old, rng=np.random.default_rng(1), max_epochs=10)
    refit.fit(*new, rng=np.random.default_rng(2), max_epochs=10)
    torch.manual_seed(123)  # a different initialisation, which the fit must replace
    fresh = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=2, hidden=(32,))
    fresh.fit(*new, rng=np.random.default_rng(2), max_epochs=10)
    obs, actions = torch.as_tensor(new[0][:20]), torch.as_tensor(new[1][:20])
    assert torch.allclose(refit.predict(obs, actions)[0], fresh.predict(obs, actions)[0], atol=1e-5), \
        "the refit model differs from a model fit once on the same data: fit() must start from fresh weights"


def test_step_samples_from_elites_and_applies_termination():
    rng = seed_everything(0)
    data = _toy_transitions(600, rng)
    model = ProbabilisticEnsemble(3, 1, ensemble_size=3, num_elites=1, hidden=(32,),
                                  termination_fn=lambda o, a, o2: o2[:, 0] > 0.5)
    model.fit(*data, rng=rng, max_epochs=3)
    obs, actions = torch.as_tensor(data[0][:50]), torch.as_tensor(data[1][:50])
    next_obs, rewards, terminated = model.step(obs, actions, rng, deterministic=True)
    assert next_obs.shape == (50, 3) and rewards.shape == (50,) and terminated.dtype == torch.bool
    mean, _ = model.predict(obs, actions)
    elite = model.elites[0]
    assert torch.allclose(next_obs, obs + mean[elite, :, :3], atol=1e-6)
    assert torch.equal(terminated, next_obs[:, 0] > 0.5)
    sampled, _, _ = model.step(obs, actions, rng)
    assert not torch.allclose(sampled, next_obs), "step() without deterministic must sample"


def test_clear_errors_at_the_boundary():
    model = ProbabilisticEnsemble(3, 1, hidden=(8,))
    with pytest.raises(RuntimeError, match="not been trained"):
        model.step(np.zeros((2, 3)), np.zeros((2, 1)), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"obs must have shape \[N, 3\]"):
        model.fit(np.zeros((5, 4)), np.zeros((5, 1)), np.zeros(5), np.zeros((5, 4)), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="same number of transitions"):
        model.fit(np.zeros((5, 3)), np.zeros((4, 1)), np.zeros(5), np.zeros((5, 3)), rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="needs an object with"):
        model.fit(object(), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_elites"):
        ProbabilisticEnsemble(3, 1, ensemble_size=2, num_elites=3)
