"""Checks for notebook 05 (MBPO): the Gaussian NLL, model refits on real data, branched rollouts, mixed batches."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from cs285lab.buffers import Batch, ReplayBuffer
from cs285lab.checks.core import CheckFailed, exercise, own_code, refuse_package_answer
from cs285lab.budgets import thresholds

_LOG_2PI = math.log(2 * math.pi)


# ---- gaussian_nll -----------------------------------------------------------------------------

def gaussian_nll(fn) -> None:
    """Check gaussian_nll(mean, log_var, target) [E, N, D] -> [E]: 0.5 (err^2 / var + log var + log 2 pi), averaged."""
    g = torch.Generator().manual_seed(5)
    E, N, D = 3, 8, 4
    mean = torch.randn(E, N, D, generator=g)
    log_var = torch.randn(E, N, D, generator=g) - 0.5
    target = torch.randn(E, N, D, generator=g)
    sq = (target - mean) ** 2
    red = lambda x: x.mean(dim=(-2, -1))  # noqa: E731
    expected = red(0.5 * (sq * torch.exp(-log_var) + log_var + _LOG_2PI))
    mistakes = {
        "your loss has no log-variance term: without + log_var the model can predict a huge variance "
        "everywhere and pay nothing; add log_var (the price of uncertainty)": red(0.5 * (sq * torch.exp(-log_var) + _LOG_2PI)),
        "same, without the log-variance term (and the constant): add + log_var": red(0.5 * sq * torch.exp(-log_var)),
        "you multiplied the squared error by the variance; divide by it (multiply by exp(-log_var))":
            red(0.5 * (sq * torch.exp(log_var) + log_var + _LOG_2PI)),
        "log_var is the log of the VARIANCE, not of the standard deviation: use exp(-log_var) and + log_var":
            red(0.5 * (sq * torch.exp(-2 * log_var) + 2 * log_var + _LOG_2PI)),
        "this is a squared error, not a likelihood: the predicted variance must enter twice, scaling the error and as a "
        "price of its own":
            red(0.5 * sq),
        "the factor 1/2 of the Gaussian negative log-likelihood is missing":
            red(sq * torch.exp(-log_var) + log_var + _LOG_2PI),
        "the constant term of the Gaussian negative log-likelihood is missing (it does not change the gradient, "
        "but without it the training NLL the model reports is not a negative log-likelihood)": red(0.5 * (sq * torch.exp(-log_var) + log_var)),
        "you summed over samples and dimensions; each member's loss is their average":
            (0.5 * (sq * torch.exp(-log_var) + log_var + _LOG_2PI)).sum(dim=(-2, -1)),
    }
    with exercise("gaussian_nll") as ex, own_code(ex, "nb05-gaussian-nll", fn, "your gaussian_nll"):
        out = ex.call(fn, mean, log_var, target)
        if isinstance(out, torch.Tensor) and out.dim() == 0:
            ex.fail("you returned one number; return one loss per ensemble member, shape [E]: "
                    "average over the sample and feature dimensions only (.mean(dim=(-2, -1)))")
        out = ex.expect_tensor(out, shape=(E,), what="gaussian_nll(mean, log_var, target)")
        ex.diagnose(out, expected, mistakes, what="gaussian_nll(mean, log_var, target)")
        # The loss must carry gradient back to the network outputs.
        m, lv = mean.clone().requires_grad_(True), log_var.clone().requires_grad_(True)
        grad_out = ex.call(fn, m, lv, target)
        ex.expect(isinstance(grad_out, torch.Tensor) and grad_out.requires_grad,
                  "the loss carries no gradient: do not .detach(), .item() or wrap it in torch.no_grad()")
        # A perfect mean with the right variance must score better than the same mean with a huge variance.
        exact = ex.call(fn, target, torch.zeros_like(target), target)
        vague = ex.call(fn, target, torch.full_like(target, 5.0), target)
        ex.expect(bool((exact < vague).all()), "a huge variance on a perfect prediction scored as well as a small one: "
                  "the + log_var term is missing or has the wrong sign")


# ---- refresh_model ----------------------------------------------------------------------------

class _SpyModel:
    """Stands in for ProbabilisticEnsemble: records what fit() was given."""

    def __init__(self) -> None:
        self.fit_calls: list[dict] = []
        self.stats = object()

    def fit(self, obs, actions=None, rewards=None, next_obs=None, *, rng=None, nll_fn=None, **kwargs):
        if actions is None and hasattr(obs, "obs"):
            obs = obs.obs
        self.fit_calls.append({"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(-1, 3),
                               "nll_fn": nll_fn, "rng": rng, "kwargs": kwargs})
        return self.stats

    def step(self, *args, **kwargs):
        raise AssertionError("refresh_model should only refit the model; rollouts happen in branched_rollout")


def _buffer(n: int, tag: float, capacity: int | None = None, seed: int = 0, action: float = 0.0) -> ReplayBuffer:
    """A buffer of n transitions whose obs[:, 2] == tag (0: real, 100: model) and obs[:, :2] distinct."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(capacity or max(n, 1), 3, 1)
    if n:
        obs = np.column_stack([rng.uniform(0, 0.6, n), rng.normal(size=n), np.full(n, tag)]).astype(np.float32)
        buf.add_batch(obs, np.full((n, 1), action, np.float32), np.full(n, 1.0 if tag == 0 else -1.0, np.float32),
                      obs + 0.01, np.zeros(n, np.float32))
    return buf


def refresh_model(fn) -> None:
    """Check refresh_model(model, real_buffer, model_buffer, rng, nll_fn, max_epochs) fits on ALL real data only."""
    with exercise("refresh_model") as ex, own_code(ex, "nb05-refresh-model", fn, "your refresh_model"):
        model, real, model_buf = _SpyModel(), _buffer(40, 0.0), _buffer(60, 100.0, seed=1)
        sentinel_loss = lambda m, lv, t: ((m - t) ** 2).mean(dim=(-2, -1))  # noqa: E731
        out = ex.call(fn, model, real, model_buf, np.random.default_rng(0), nll_fn=sentinel_loss, max_epochs=7)
        ex.expect(len(model.fit_calls) >= 1, "model.fit(...) was never called: refit the model on the real data")
        ex.expect(len(model.fit_calls) == 1, f"model.fit was called {len(model.fit_calls)} times; fit it once, "
                  "on all real transitions together")
        call = model.fit_calls[0]
        obs = call["obs"]
        from_model = int((obs[:, 2] == 100).sum())
        if from_model and from_model == obs.shape[0]:
            ex.fail("you trained the model on the MODEL buffer: it would learn to reproduce its own errors. "
                    "Fit it on real transitions only")
        if from_model:
            ex.fail(f"the model's training data mixes in {from_model} model-generated transitions: "
                    "a model fit on its own predictions compounds its errors. Use real transitions only")
        distinct = torch.unique(obs, dim=0).shape[0]
        ex.expect(distinct == 40 and obs.shape[0] == 40,
                  f"the model saw {obs.shape[0]} transitions ({distinct} distinct) of the 40 in the real buffer: "
                  "fit on every real transition once (buffer_contents(real_buffer)), not on a random sample")
        ex.expect(call["nll_fn"] is sentinel_loss, "pass nll_fn=nll_fn to model.fit, so the model trains with "
                  "the loss you were given (your gaussian_nll)")
        ex.expect(call["kwargs"].get("max_epochs") == 7, "pass max_epochs=max_epochs to model.fit")
        ex.expect(out is model.stats, "return what model.fit returned (its FitStats)")


# ---- branched_rollout -------------------------------------------------------------------------

class _FakeModel:
    """Known dynamics: x' = x + 0.1 + 0.05 a, y' = y, step counter z' = z + 1; terminates when x' > 0.8."""

    THRESHOLD = 0.8

    def __init__(self) -> None:
        self.calls = 0

    def step(self, obs, actions, rng=None, deterministic=False):
        self.calls += 1
        obs = torch.as_tensor(np.asarray(obs, dtype=np.float32)) if not isinstance(obs, torch.Tensor) else obs.float()
        actions = torch.as_tensor(np.asarray(actions, dtype=np.float32)) if not isinstance(actions, torch.Tensor) \
            else actions.float()
        return _fake_step(obs, actions.reshape(obs.shape[0], -1))


def _fake_step(obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    next_obs = obs.clone()
    next_obs[:, 0] += 0.1 + 0.05 * actions[:, 0]
    next_obs[:, 2] += 1
    rewards = -obs[:, 0] - actions[:, 0] ** 2
    return next_obs, rewards, next_obs[:, 0] > _FakeModel.THRESHOLD


def _fake_policy(obs):
    """The 'latest policy': a = tanh(y), different for each state, never the buffer's 7.0."""
    obs = torch.as_tensor(np.asarray(obs, dtype=np.float32)) if not isinstance(obs, torch.Tensor) else obs
    return torch.tanh(obs[:, 1:2])


def _rows_in(rows: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """For each row, whether it equals (within 1e-5) some row of pool."""
    if pool.shape[0] == 0:
        return torch.zeros(rows.shape[0], dtype=torch.bool)
    dist = torch.cdist(rows.double(), pool.double(), compute_mode="donot_use_mm_for_euclid_dist")
    return (dist < 1e-5).any(dim=1)


def branched_rollout(fn) -> None:
    """Check branched_rollout(model, policy, real_buffer, model_buffer, num_starts, horizon, rng) -> int."""
    with exercise("branched_rollout") as ex, own_code(ex, "nb05-branched-rollout", fn, "your branched_rollout"):
        for horizon, num_starts in ((4, 30), (1, 20)):
            _check_rollout(ex, fn, horizon, num_starts)


def _check_rollout(ex, fn, horizon: int, num_starts: int) -> None:
    real = _buffer(50, 0.0, action=7.0)
    prefill = 30
    model_buf = _buffer(prefill, 100.0, capacity=prefill + 10 * num_starts * horizon, seed=1, action=7.0)
    model = _FakeModel()
    count = ex.call(fn, model, _fake_policy, real, model_buf, num_starts, horizon, np.random.default_rng(3))
    n = len(model_buf) - prefill
    ex.expect(n > 0, "nothing was added to model_buffer: store each model step with model_buffer.add_batch(...)")
    ex.expect(model.calls > 0, "model.step(...) was never called: the transitions must come from the learned model")
    new = Batch(*(torch.from_numpy(getattr(model_buf, f)[prefill:len(model_buf)].copy())
                  for f in ("obs", "actions", "rewards", "next_obs", "terminated")))
    step_index = new.obs[:, 2].round()
    if bool((step_index >= 100).any()):
        ex.fail("your rollouts start from MODEL buffer states: branch off REAL states (real_buffer.sample), "
                "otherwise errors of old rollouts compound and the states drift away from the real data")
    real_obs = torch.from_numpy(real.obs[:len(real)])
    starts = new.obs[step_index == 0]
    ex.expect(bool(_rows_in(starts, real_obs).all()), "the first state of each rollout must be a state from the real buffer")
    if horizon > 1 and int((step_index == 0).sum()) == n and n >= num_starts * horizon:
        ex.fail("every step starts again from fresh real states: continue each rollout from the model's next_obs "
                f"for {horizon} steps (that is what a length-{horizon} branched rollout is)")
    ex.expect(int((step_index == 0).sum()) == num_starts,
              f"{int((step_index == 0).sum())} rollouts started from real states; start exactly num_starts={num_starts}")
    if bool((new.actions == 7.0).all()):
        ex.fail("you used the actions stored in the real buffer: those came from old policies (classic Dyna's "
                "choice, notebook 04); MBPO's rollouts query the LATEST policy at the start states")
    expected_actions = _fake_policy(new.obs)
    ex.expect(bool(torch.allclose(new.actions, expected_actions, atol=1e-5)),
              "the stored actions are not policy(obs) of the stored states: act with the latest policy at each state")
    want_next, want_rewards, want_term = _fake_step(new.obs, new.actions)
    ex.expect(bool(torch.allclose(new.next_obs, want_next, atol=1e-5)) and bool(torch.allclose(new.rewards, want_rewards, atol=1e-5)),
              "the stored next_obs/rewards are not what model.step returned for (obs, action): store the model's prediction")
    ex.expect(bool(torch.equal(new.terminated.bool(), want_term)),
              "store the model's terminated flags (from model.step) with each transition")
    # Continuity and terminal handling: step h states are the non-terminated next states of step h - 1.
    for h in range(1, int(step_index.max().item()) + 1):
        prev = step_index == h - 1
        rows = new.obs[step_index == h]
        alive_next = new.next_obs[prev & ~new.terminated.bool()]
        dead_next = new.next_obs[prev & new.terminated.bool()]
        if bool(_rows_in(rows, dead_next).any()):
            ex.fail("you kept rolling out from states where the model said the episode terminated: "
                    "drop those rollouts (keep only next_obs[~terminated]) before the next step")
        ex.expect(bool(_rows_in(rows, alive_next).all()),
                  f"step {h} of a rollout does not start where step {h - 1} ended: obs = next_obs of the previous step")
    # With the fake dynamics x grows by inc >= 0.05 each step, so a rollout still runs at step h
    # exactly when x0 + h * inc <= threshold (it did not terminate at steps 1..h).
    inc = 0.1 + 0.05 * torch.tanh(starts[:, 1])
    expected_n = sum(int((starts[:, 0] + h * inc <= _FakeModel.THRESHOLD).sum()) for h in range(horizon))
    longest = int(step_index.max().item()) + 1
    ex.expect(longest <= horizon, f"your rollouts are {longest} steps long; stop after horizon={horizon} steps")
    ex.expect(n == expected_n, f"{n} model transitions stored; with horizon={horizon}, {num_starts} starts and "
              f"the terminations, there should be {expected_n}: roll every live rollout for `horizon` steps")
    ex.expect(isinstance(count, (int, np.integer)) and int(count) == n,
              f"return how many transitions you stored ({n}), got {count!r}")


# ---- mixed_batch ------------------------------------------------------------------------------

def mixed_batch(fn) -> None:
    """Check mixed_batch(real_buffer, model_buffer, batch_size, real_ratio, rng) -> Batch with the right mix."""
    with exercise("mixed_batch") as ex, own_code(ex, "nb05-mixed-batch", fn, "your mixed_batch"):
        real, model_buf = _buffer(100, 0.0), _buffer(200, 100.0, seed=1)  # rewards +1 (real) and -1 (model)
        batch = ex.call(fn, real, model_buf, 64, 0.25, np.random.default_rng(0))
        ex.expect(isinstance(batch, Batch), f"return a Batch (e.g. real_part.concat(model_part)), got {type(batch).__name__}")
        size = len(batch)
        num_real = int((batch.rewards > 0).sum())
        if size == 128:
            ex.fail("the batch has 128 transitions: you sampled batch_size from EACH buffer; "
                    "sample round(batch_size * real_ratio) real and the rest from the model")
        ex.expect(size == 64, f"the batch has {size} transitions; it must have batch_size=64")
        if num_real == 48:
            ex.fail("the mix is inverted: 48 of 64 are real, but real_ratio=0.25 is the share of REAL transitions")
        if num_real == 64:
            ex.fail("the batch is all real transitions: the model data never reaches SAC, so this is plain SAC")
        if num_real == 0:
            ex.fail("the batch is all model transitions: keep real_ratio of real data in every batch "
                    "(MBPO's design: real data is meant to anchor the critic where the model is wrong)")
        ex.expect(num_real == 16, f"{num_real} of 64 transitions are real; with real_ratio=0.25 it must be 16")
        ex.expect(bool((batch.obs[batch.rewards > 0, 2] == 0).all()) and bool((batch.obs[batch.rewards < 0, 2] == 100).all()),
                  "each transition must be a whole row from one buffer (obs, action, reward, next_obs together)")
        again = ex.call(fn, real, model_buf, 64, 0.25, np.random.default_rng(1))
        ex.expect(not torch.equal(again.obs, batch.obs), "two different rngs gave the same batch: sample with rng "
                  "(buffer.sample(n, rng)), do not take the first rows")
        # k = 0 (plain SAC): real_ratio = 1 and there is no model buffer.
        try:
            only_real = ex.call(fn, real, None, 32, 1.0, np.random.default_rng(2))
        except CheckFailed as exc:
            ex.fail(f"with real_ratio=1 (k = 0, plain SAC) the batch is all real and model_buffer may be None: "
                    f"do not touch the model buffer when no model transitions are needed ({exc})")
        ex.expect(isinstance(only_real, Batch) and len(only_real) == 32 and bool((only_real.rewards > 0).all()),
                  "with real_ratio=1 the batch is all real (and model_buffer may be None: do not sample 0 from it)")
        odd = ex.call(fn, real, model_buf, 10, 0.05, np.random.default_rng(4))
        ex.expect(isinstance(odd, Batch) and len(odd) == 10, "with batch_size=10, real_ratio=0.05 the batch must still "
                  "have 10 transitions (round the real count, take the rest from the model)")


# ---- the learning check ------------------------------------------------------------------------

RERUN_KEYS = ("env_id", "seed", "config", "nll_fn", "rollout_fn", "batch_fn", "refresh_fn")
# the functions `rerun` names, with the registered answer each must not be
RERUN_ANSWERS = {"nll_fn": ("nb05-gaussian-nll", "gaussian_nll"), "refresh_fn": ("nb05-refresh-model", "refresh_model"),
                 "rollout_fn": ("nb05-branched-rollout", "branched_rollout"), "batch_fn": ("nb05-mixed-batch", "mixed_batch")}


def _random_return(env_id: str, seed: int, episodes: int) -> float:
    """The notebook's random-policy baseline, measured again (same generator, same evaluation episodes)."""
    from cs285lab.envs import evaluate

    actions = np.random.default_rng(seed)
    return evaluate(lambda obs: actions.uniform(-2, 2, size=1).astype(np.float32), env_id, episodes)


def _trained_with_yours(ex, result, rerun: dict) -> None:
    """Fail unless `result` was trained with the very functions and config `rerun` names (the rerun vouches only for
    those)."""
    used = getattr(result, "functions", None)
    ex.expect(isinstance(used, dict), "this result does not record which functions it was trained with (it was not "
              "returned by today's train_mbpo): re-run the training cell with your functions, then this check")
    others = {key: used.get(key) for key in RERUN_ANSWERS if used.get(key) is not rerun[key]}
    ex.expect(not others, _not_yours(others, rerun) if others else "")
    ex.expect(getattr(result, "config", None) == rerun["config"],
              "`result` was not trained with the config you pass to this check (or does not record one): train with "
              "config = B.mbpo in the training cell, then re-run the training cell and this check")


def _not_yours(others: dict, rerun: dict) -> str:
    """What to tell a student whose run used `others` ({key: the function the run used}) instead of `rerun`'s."""
    from cs285lab.twins import package_origin  # twins imports the marked modules lazily

    defaults = {key for key, used in others.items() if package_origin(used, RERUN_ANSWERS[key][0]) is not None}
    runs = []
    for key, used in others.items():
        label = getattr(used, "__qualname__", None) or type(used).__name__
        runs.append(f"the package's {RERUN_ANSWERS[key][1]} as {key}" if key in defaults else
                    f"another function as {key} ({'a lambda' if label.endswith('<lambda>') else label}, not the "
                    "function object you pass here)")
    why = (["When the training cell does not pass one of them, train_mbpo runs the package's own."] if defaults else []) \
        + (["Was a cell of yours run again after the training cell, or another function passed to train_mbpo?"]
           if len(defaults) < len(others) else [])
    names = {key: getattr(rerun[key], "__name__", "") for key in others}
    passes = ", ".join(f"{key}={name}" if name.isidentifier() else f"your {key}" for key, name in names.items())
    return (f"`result` was not trained with the functions you pass to this check: the run used {'; '.join(runs)}. "
            f"{' '.join(why)} This check reruns your functions, so it can only vouch for a "
            f"run made with them. Train with yours: pass them to train_mbpo in the training cell ({passes}), then "
            "re-run the training cell and this check")


def _measured_not_typed(ex, result, random_return: float, rerun: dict) -> float:
    """Redo what can be redone cheaply; fail when the result's numbers are not what its objects measure."""
    from cs285lab.algos.mbpo import MBPOConfig, train_mbpo
    from cs285lab.envs import EVAL_SEED, evaluate

    missing = [key for key in RERUN_KEYS if key not in rerun]
    if missing:
        raise ValueError(f"learning(..., rerun=...) needs {list(RERUN_KEYS)}; missing {missing}")
    env_id, seed, config = rerun["env_id"], rerun["seed"], rerun["config"]
    for key, (answer_id, name) in RERUN_ANSWERS.items():  # a run of the package's answers is not your MBPO
        refuse_package_answer(ex, answer_id, rerun[key], f"{key}={name}")
    if not isinstance(config, MBPOConfig):
        raise ValueError(f"learning(..., rerun=...): config must be the training cell's MBPOConfig, got "
                         f"{type(config).__name__}")
    # a run that never steps the model or never samples its data learns without branched_rollout or mixed_batch
    ex.expect(config.rollout_length >= 1 and round(config.batch_size * config.real_ratio) < config.batch_size,
              f"this config trains without model data (rollout_length={config.rollout_length}, real_ratio="
              f"{config.real_ratio}): that is SAC, not MBPO, and it never runs your branched_rollout or mixed_batch. "
              "Train with the notebook's config (config = B.mbpo), then re-run the training cell and this check")
    episodes = config.eval_episodes
    typed = ("typed in or edited? Re-run the training cell and pass its `result` unchanged")
    baseline = _random_return(env_id, seed, episodes)
    ex.expect(abs(baseline - random_return) < 1e-3 * max(1.0, abs(baseline)),
              f"random_return is {random_return:.0f}, but measuring the random policy again the same way gives "
              f"{baseline:.0f}: it was not measured by the random-policy cell ({typed})")
    agent = getattr(result, "agent", None)
    ex.expect(agent is not None and callable(getattr(agent, "act", None)),
              f"this result has no trained agent, so its returns cannot be measured again ({typed})")
    _trained_with_yours(ex, result, rerun)  # before the re-measurements: they rerun `rerun`'s functions
    final = result.history[-1]["eval_return"]
    again = evaluate(lambda o: agent.act(o, deterministic=True), env_id, episodes, seed=EVAL_SEED)
    ex.expect(abs(again - final) < 1e-3 * max(1.0, abs(final)),
              f"the history says the final evaluation return was {final:.0f}, but evaluating the result's agent the "
              f"same way gives {again:.0f}: this history does not come from this agent ({typed})")
    # The first model refit happens right after the random steps: rerun only that far with YOUR functions.
    up_to_the_fit = replace(config, updates_per_step=1, total_steps=config.learning_starts,
                            eval_every=config.learning_starts, eval_episodes=1)
    short = train_mbpo(env_id, up_to_the_fit, seed=seed,
                       **{key: rerun[key] for key in ("nll_fn", "rollout_fn", "batch_fn", "refresh_fn")})
    ours, theirs = (short.fits[0].val_nll if short.fits else math.nan), result.fits[0].val_nll
    ex.expect(abs(ours - theirs) < 1e-3 * max(1.0, abs(ours)),
              f"the first model fit of this result has held-out NLL {theirs:.4f}, but rerunning your functions "
              f"with the same seed and settings up to that fit gives {ours:.4f}: the fits were not produced by "
              f"this notebook's functions and config ({typed})")
    return again


def learning(result, random_return: float, *, rerun: dict | None = None) -> None:
    """Check an MBPO run: a real model fit and a policy that ends well above random; with `rerun`, re-measured.

    `rerun` (what the notebook's check cell passes): env_id, seed, config and the four student
    functions. Then the result must have been trained with those very functions (MBPOResult.functions), the random
    baseline and the final return are measured again, and the first model refit is reproduced with the student's
    functions, so numbers typed into a result, or a run of the package's defaults, fail. The required gain over the
    random policy is the budget's `min_gain` threshold.
    """
    limits = thresholds("nb05")
    min_gain, max_nll, min_drop = (float(limits[k]) for k in ("min_gain", "max_model_nll", "min_nll_drop"))
    with exercise("mbpo_learning") as ex:
        fits = result.fits
        ex.expect(len(fits) >= 2, "the model was refit fewer than 2 times; did train_mbpo run with your functions?")
        if rerun is not None:
            _measured_not_typed(ex, result, random_return, rerun)
        first, last = fits[0], fits[-1]
        ex.expect(math.isfinite(last.val_nll), f"the model's held-out NLL is {last.val_nll}: the loss blew up")
        ex.expect(last.val_nll < max_nll,
                  f"the model's held-out NLL is {last.val_nll:.2f} (a good model of Pendulum scores well below 0): "
                  "its variances are wrong. Is the + log_var term in your gaussian_nll?")
        ex.expect(last.val_nll < first.val_nll_before - min_drop,
                  f"the model's held-out NLL did not fall (untrained {first.val_nll_before:.2f}, last fit {last.val_nll:.2f}); "
                  "check gaussian_nll and that the model trains on real transitions")
        final = result.history[-1]["eval_return"]
        # where the run ended (its last two evaluations), not one lucky evaluation on the way
        ending = sum(row["eval_return"] for row in result.history[-2:]) / len(result.history[-2:])
        ex.expect_learned(ending > random_return + min_gain,
                          f"MBPO's evaluation return at the end of the run (mean of the last two evaluations, "
                          f"{ending:.0f}) is not {min_gain:.0f} better than the random policy's {random_return:.0f}: "
                          "check branched_rollout (real start states, latest policy) and mixed_batch",
                          result, "mbpo", "nb05-mbpo-pendulum")
        ex.expect(math.isfinite(final), "the final evaluation return is not a number")
