"""The package replay buffer: FIFO wrap-around, uniform sampling of filled slots, no aliasing, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs285lab.buffers import Batch, ReplayBuffer


def _fill(buf: ReplayBuffer, ids) -> None:
    for i in ids:
        buf.add(np.array([i, -i], np.float32), np.array([i / 10], np.float32), float(i),
                np.array([i + 0.5, -i], np.float32), terminated=(i % 2 == 0))


def test_wraps_around_fifo_and_samples_only_filled_slots():
    buf = ReplayBuffer(4, 2, 1)
    rng = np.random.default_rng(0)
    _fill(buf, [1, 2])
    assert len(buf) == 2
    assert set(buf.sample(200, rng).rewards.tolist()) == {1.0, 2.0}
    _fill(buf, range(3, 8))  # 7 transitions in 4 slots: 4..7 survive
    assert len(buf) == 4
    batch = buf.sample(400, rng)
    assert set(batch.rewards.tolist()) == {4.0, 5.0, 6.0, 7.0}
    # the fields of each sampled row belong to one transition
    assert torch.equal(batch.obs[:, 0], batch.rewards)
    assert torch.equal(batch.next_obs[:, 0], batch.rewards + 0.5)
    assert torch.equal(batch.terminated, (batch.rewards % 2 == 0).float())


def test_add_batch_matches_repeated_add_including_wrap():
    one, many = ReplayBuffer(5, 2, 1), ReplayBuffer(5, 2, 1)
    ids = np.arange(1, 9)
    _fill(one, ids)
    many.add_batch(np.stack([ids, -ids], 1), ids[:, None] / 10, ids, np.stack([ids + 0.5, -ids], 1), ids % 2 == 0)
    for field in ("obs", "actions", "rewards", "next_obs", "terminated"):
        np.testing.assert_allclose(getattr(one, field), getattr(many, field))
    assert (len(one), one.next_index) == (len(many), many.next_index) == (5, 3)
    big = ReplayBuffer(3, 2, 1)  # more rows than capacity in one call: the newest survive
    big.add_batch(np.stack([ids, -ids], 1), ids[:, None], ids, np.stack([ids, -ids], 1), np.zeros(8))
    assert sorted(big.rewards.tolist()) == [6.0, 7.0, 8.0]


def test_truncation_is_not_stored_as_termination():
    buf = ReplayBuffer(2, 2, 1)
    buf.add(np.zeros(2), np.zeros(1), 0.0, np.zeros(2), terminated=False, truncated=True)
    assert buf.sample(4, np.random.default_rng(0)).terminated.sum() == 0


def test_sampled_batches_are_copies():
    buf = ReplayBuffer(3, 2, 1)
    obs = np.array([1.0, 1.0], np.float32)
    buf.add(obs, np.zeros(1), 1.0, obs, False)
    obs[:] = 7.0  # the caller reuses its array
    batch = buf.sample(2, np.random.default_rng(0))
    _fill(buf, [5, 6, 7])
    assert torch.all(batch.obs == 1.0)


def test_sampling_is_uniform_and_seeded():
    buf = ReplayBuffer(10, 2, 1)
    _fill(buf, range(10))
    counts = np.bincount(buf.sample(20_000, np.random.default_rng(1)).rewards.long().numpy(), minlength=10)
    assert counts.min() > 1700 and counts.max() < 2300
    a, b = buf.sample(32, np.random.default_rng(3)), buf.sample(32, np.random.default_rng(3))
    assert torch.equal(a.obs, b.obs)


def test_batch_types_and_concat():
    buf = ReplayBuffer(8, 3, 2)
    buf.add_batch(np.ones((4, 3)), np.ones((4, 2)), np.ones(4), np.ones((4, 3)), np.zeros(4, bool))
    batch = buf.sample(5, np.random.default_rng(0))
    for name, shape in (("obs", (5, 3)), ("actions", (5, 2)), ("rewards", (5,)), ("next_obs", (5, 3)),
                        ("terminated", (5,))):
        value = getattr(batch, name)
        assert value.dtype == torch.float32 and tuple(value.shape) == shape
    both = batch.concat(buf.sample(3, np.random.default_rng(1)))
    assert isinstance(both, Batch) and both.obs.shape == (8, 3) and both.terminated.shape == (8,)
    with pytest.raises(ValueError, match="differ beyond the batch dimension"):
        batch.concat(Batch(torch.zeros(2, 4), torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 4), torch.zeros(2)))


def test_large_capacity_is_preallocated_lazily_enough():
    buf = ReplayBuffer(1_000_000, 3, 1)  # the course's default size must be cheap to create
    assert buf.obs.shape == (1_000_000, 3) and len(buf) == 0


@pytest.mark.parametrize("call, message", [
    (lambda: ReplayBuffer(0, 2, 1), "capacity must be a positive int"),
    (lambda: ReplayBuffer(10, 2.5, 1), "obs_dim must be a positive int"),
    (lambda: ReplayBuffer(10**8, 2, 1), "would not fit in memory"),
    (lambda: ReplayBuffer(4, 2, 1).sample(3, np.random.default_rng()), "empty"),
    (lambda: ReplayBuffer(4, 2, 1).add(np.zeros(3), np.zeros(1), 0.0, np.zeros(3), False), r"obs should have shape \[N, 2\]"),
    (lambda: ReplayBuffer(4, 2, 1).add_batch(np.zeros((3, 2)), np.zeros((2, 1)), np.zeros(3), np.zeros((3, 2)),
                                             np.zeros(3)), "inconsistent batch sizes"),
])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _add(**changes):
    args = {"obs": np.zeros(2), "action": np.zeros(1), "reward": 0.0, "next_obs": np.zeros(2), "terminated": False}
    args.update(changes)
    buf = ReplayBuffer(4, 2, 1)
    buf.add(**args)
    return buf


@pytest.mark.parametrize("changes, error, message", [
    ({"reward": float("nan")}, ValueError, r"rewards holds a non-finite value \(\[nan\] in row 0\)"),
    ({"reward": float("inf")}, ValueError, "rewards holds a non-finite value"),
    ({"obs": np.array([0.0, np.nan])}, ValueError, r"obs holds a non-finite value \(\[0.0, nan\] in row 0\)"),
    ({"next_obs": np.array([np.inf, 0.0])}, ValueError, "next_obs holds a non-finite value"),
    ({"action": np.array([np.nan])}, ValueError, "actions holds a non-finite value"),
    ({"terminated": None}, TypeError, "terminated must be a bool"),
    ({"terminated": 0.5}, ValueError, r"terminated must be True/False \(or 1/0\), got 0.5"),
    ({"terminated": 2}, ValueError, "terminated must be True/False"),
    ({"terminated": "yes"}, TypeError, "terminated must be a bool"),
    ({"reward": None}, TypeError, "rewards must be numbers|rewards holds a non-finite"),
    ({"reward": "1.0x"}, TypeError, "rewards must be numbers"),
])
def test_invalid_transitions_are_refused_and_nothing_is_stored(changes, error, message):
    buf = ReplayBuffer(4, 2, 1)
    with pytest.raises(error, match=message):
        buf.add(**{"obs": np.zeros(2), "action": np.zeros(1), "reward": 0.0, "next_obs": np.zeros(2),
                   "terminated": False, **changes})
    assert len(buf) == 0 and buf.next_index == 0


def test_valid_flags_and_tensors_are_accepted():
    for flag in (True, False, 0, 1, 1.0, np.bool_(True), torch.tensor(True)):
        assert len(_add(terminated=flag)) == 1
    buf = _add(obs=torch.zeros(2), reward=torch.tensor(1.5))
    assert buf.rewards[0] == 1.5


def test_sample_needs_a_generator():
    buf = ReplayBuffer(4, 2, 1)
    _fill(buf, [1])
    with pytest.raises(TypeError, match="numpy Generator"):
        buf.sample(2, 0)


def test_contents_returns_every_transition_once_in_slot_order_after_wrapping():
    buffer = ReplayBuffer(3, 1, 1)
    for i in range(5):
        buffer.add(np.array([i], np.float32), np.array([0.0], np.float32), float(i), np.array([i + 1], np.float32), False)
    batch = buffer.contents()
    assert sorted(batch.rewards.tolist()) == [2.0, 3.0, 4.0]  # the three newest, each once
    batch.rewards[0] = 99.0
    assert 99.0 not in buffer.rewards  # a copy: editing it never changes the buffer
