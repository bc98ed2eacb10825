"""The doctor's rules: each reads a run's history rows, compares them with a bound or with the reference runs at the
same steps, and returns a Finding or None.

Every threshold is a ratio to what the reference seeds showed at the same step (or a bound the rewards imply), chosen
wide enough that every reference seed stays clear of it; the constants below say why. A rule "persists" when it holds
on at least half of the rows after learning started: one odd evaluation is not a diagnosis.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cs285lab.doctor.families import ENV_REWARDS, course_pointer
from cs285lab.doctor.findings import Evidence, Finding, fmt
from cs285lab.doctor.reference import Point, Reference

__all__ = ["Run", "RULES"]

CEILING_SHARE = 0.8      # a value within 20% of r_max / (1 - gamma) is the value of an episode that never ends
CEILING_RETURN = 0.5     # ... while the returns obtained are below half of it
GRAD_FAR = 2.0           # critic gradient norm: the largest reference seed's, times this (reference seeds reach 1.8)
VALUE_FAST = 2.5         # |Q| built up this many times faster than the reference median (reference seeds: <= 1.5)
VALUE_SLOW = 0.25        # |Q| stuck below this share of the smallest reference seed's
DRIFT_FAR = 3.0          # target-critic distance: times the largest reference seed's (the target lags tau-steps behind)
DRIFT_STUCK = 1.5        # a target the critic does not catch up with: farther than the reference, and never closing
ACTOR_FAR = 100.0        # actor gradient norm: two orders of magnitude above every reference seed's ...
CRITIC_CALM = 3.0        # ... while the critic's stays within 3 times the largest reference seed's
GAP_FLAT = 0.05          # a critic that tells actions apart 20 times less than the reference's
ENTROPY_DROP = 3.0       # nats below the lowest reference seed: a policy e^3 = 20 times narrower
ENTROPY_GONE = 0.05      # a discrete policy keeping under 5% of its initial entropy ...
TOP_SHARE = 0.95         # ... that takes one action in 95% of the evaluation steps
LAG_FAR = 10.0           # policy lag: times the reference's median
MODEL_FAR = 3.0          # model's imagined-vs-real return gap: times the reference's widest, and ...
MODEL_SHARE = 0.25       # ... more than a quarter of the real return
RISE_CRASH = 0.5         # returns fell back by half of what they had gained over the first evaluation


@dataclass
class Run:
    """One run as the rules see it: rows, algorithm, reference, the bounds its env implies, and how it ended."""

    rows: list[dict[str, Any]]
    algorithm: str
    reference: Reference | None
    env: str | None
    gamma: float
    error: str | None
    failing: bool

    def value(self, row: dict, stat: str) -> float | None:
        """A finite statistic of a row, or None."""
        v = row.get(stat)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

    @property
    def learning(self) -> list[dict]:
        """The rows after the first update (those with update statistics); all rows but the first otherwise."""
        rows = [r for r in self.rows if any(k in r for k in ("critic_grad_norm", "grad_norm_max", "critic_loss",
                                                             "value_loss", "policy_loss"))]
        return rows or self.rows[1:]

    def ref(self, stat: str, step: float) -> Point | None:
        """The reference at the same step (None without a reference that has `stat`)."""
        return self.reference.at(stat, step) if self.reference is not None else None

    def compare(self, stat: str, test: Callable[[float, Point | None], bool], need_ref: bool = True,
                rows: Sequence[dict] | None = None) -> list[tuple[dict, float, Point | None]]:
        """The rows where `test(value, reference point)` holds (rows without the statistic, or without a reference
        point when `need_ref`, are skipped)."""
        hits = []
        for row in self.learning if rows is None else rows:
            v, p = self.value(row, stat), self.ref(stat, row["step"])
            if v is not None and (p is not None or not need_ref) and test(v, p):
                hits.append((row, v, p))
        return hits

    def persists(self, hits: list, stat: str) -> bool:
        """Whether `hits` cover at least half of the learning rows that have `stat` (and at least one row)."""
        have = [r for r in self.learning if self.value(r, stat) is not None]
        return bool(hits) and len(hits) * 2 >= len(have)

    def rewards(self) -> tuple[float, float] | None:
        """The env's per-step reward range (known envs only)."""
        return ENV_REWARDS.get(self.env or "")

    def finding(self, families: Sequence[str], evidence: Sequence[Evidence], confidence: str,
                hits: Sequence[tuple] = ()) -> Finding:
        """A Finding with the onset at its first hit (or evidence) and the course pointer of its first family."""
        onset = int(hits[0][0]["step"]) if hits else min((e.step for e in evidence), default=None)
        return Finding(tuple(families), tuple(evidence), confidence, onset,
                       course_pointer(families[0], self.algorithm))


def _ev(stat: str, hit: tuple[dict, float, Point | None], why: str) -> Evidence:
    row, value, point = hit
    return Evidence(stat, value, int(row["step"]), why, point)


def _confidence(hits: list, run: Run, stat: str, strong: bool = False) -> str:
    have = len([r for r in run.learning if run.value(r, stat) is not None])
    return "high" if strong or len(hits) >= max(3, have - 1) else "medium" if len(hits) >= 2 else "low"


# ---------------------------------------------------------------------------------------------- the rules

def nan_onset(run: Run) -> Finding | None:
    """The guards stopped the run at a NaN or inf (or a row holds one): where, and what."""
    if run.error and re.search(r"\b(nan|inf|non-finite|not finite)\b", run.error, re.IGNORECASE):
        step = re.search(r"env step (\d+)", run.error)
        what = re.search(r"env step \d+: (.*?) is ", run.error)
        ev = Evidence(what.group(1) if what else "a number", float("nan"), int(step.group(1)) if step else
                      (int(run.rows[-1]["step"]) if run.rows else 0),
                      f"the guards stopped training: {run.error.split(';')[0]}")
        return run.finding(["nan"], [ev], "high")
    return None


def value_ceiling(run: Run) -> Finding | None:
    """V(s0) at r_max / (1 - gamma), the value of an episode that never ends, while episodes end far sooner."""
    rewards = run.rewards()
    if rewards is None or rewards[1] <= 0:
        return None
    ceiling = rewards[1] / (1 - run.gamma)
    hits = [(r, v, run.ref("value_start", r["step"])) for r in run.learning
            if (v := run.value(r, "value_start")) is not None and (ret := run.value(r, "return_start")) is not None
            and v >= CEILING_SHARE * ceiling and ret <= CEILING_RETURN * ceiling]
    if not run.persists(hits, "value_start") or len(hits) < min(2, len(run.learning)):
        return None
    last = hits[-1]
    ret = run.value(last[0], "return_start")
    ev = [_ev("value_start", last, f"the value of an episode that never ends (r_max / (1 - gamma) = {fmt(ceiling)}), "
              f"while the evaluation episodes from those states return {fmt(ret)} (discounted): the critic bootstraps "
              "past the end of episodes, so V is the same everywhere and the advantages are ~0")]
    if (top := run.value(last[0], "action_top_share")) is not None and top >= TOP_SHARE:
        ev.append(Evidence("action_top_share", top, int(last[0]["step"]),
                           "with no advantage to follow, the policy drifted to one action",
                           run.ref("action_top_share", last[0]["step"])))
    return run.finding(["no_signal"], ev, "high", hits)


def value_bound(run: Run) -> Finding | None:
    """Q or V outside [r_min, r_max] / (1 - gamma): no policy can obtain that return."""
    rewards = run.rewards()
    if rewards is None:
        return None
    # an episode that ends at once is worth 0; one that never ends, r / (1 - gamma) per step
    low, high = min(0.0, rewards[0] / (1 - run.gamma)), max(0.0, rewards[1] / (1 - run.gamma))
    slack = 0.1 * max(high - low, abs(high), abs(low))
    hits = run.compare("value_start", lambda v, p: v > high + slack or v < low - slack, need_ref=False)
    if not run.persists(hits, "value_start") or len(hits) < min(2, len(run.learning)):
        return None
    return run.finding(["overestimation"], [_ev("value_start", hits[-1], f"outside [{fmt(low)}, {fmt(high)}], the "
                                                 "values the rewards allow (r / (1 - gamma)): the critic diverged")],
                       "high", hits)


def stale_actor(run: Run) -> Finding | None:
    """The actor's gradient explodes while the critic's is ordinary: log pi is taken at actions pi would not take."""
    far = run.compare("actor_grad_norm", lambda v, p: v >= ACTOR_FAR * p.high)
    calm = [h for h in far if (c := run.value(h[0], "critic_grad_norm")) is not None
            and (p := run.ref("critic_grad_norm", h[0]["step"])) is not None and c <= CRITIC_CALM * p.high]
    if not run.persists(calm, "actor_grad_norm"):
        return None
    row = calm[-1]
    ev = [_ev("actor_grad_norm", row, f"over {fmt(row[1] / row[2].high)} times the largest reference seed's while "
              "the critic's gradient is ordinary: the policy term log pi(a|s) is taken at actions the current policy "
              "would almost never take, i.e. actions from the buffer, chosen by older policies")]
    if (b := run.value(row[0], "action_at_bound")) is not None:
        ev.append(Evidence("action_at_bound", b, int(row[0]["step"]), "actions pushed to the bounds, where log pi of "
                           "the buffer's actions is most extreme", run.ref("action_at_bound", row[0]["step"])))
    return run.finding(["stale_data"], ev, _confidence(calm, run, "actor_grad_norm"), calm)


def flat_critic(run: Run) -> Finding | None:
    """Q barely changes with the action at the evaluation states: the actor has no direction to follow."""
    hits = run.compare("q_action_gap", lambda v, p: v <= GAP_FLAT * abs(p.median))
    if not run.persists(hits, "q_action_gap"):
        return None
    ev = [_ev("q_action_gap", hits[-1], f"max_a Q - min_a Q at the evaluation start states is "
              f"{fmt(hits[-1][1] / abs(hits[-1][2].median))} times the reference's: Q gives (almost) the same value to "
              "every action, as when every Q is regressed toward the batch's mean target")]
    return run.finding(["no_signal"], ev, _confidence(hits, run, "q_action_gap"), hits)


def fast_target(run: Run) -> Finding | None:
    """The target critic lags far behind: each update moves the critic several times farther than the reference's."""
    hits = run.compare("target_drift", lambda v, p: v >= DRIFT_FAR * p.high)
    if not run.persists(hits, "target_drift"):
        return None
    ev = [_ev("target_drift", hits[-1], f"{fmt(hits[-1][1] / hits[-1][2].high)} times the largest reference seed's: "
              "the target critic follows the critic a fixed fraction tau per update, so it lags this far only when "
              "each update moves the critic that much farther: the step size is too large")]
    alpha = run.compare("alpha", lambda v, p: v <= 1e-3 * p.low)
    if alpha:
        ev.append(_ev("alpha", alpha[0], "the temperature collapsed: log alpha takes the same too-large steps"))
    return run.finding(["lr_too_high"], ev, _confidence(hits, run, "target_drift", strong=bool(alpha)), hits)


def frozen_target(run: Run) -> Finding | None:
    """Q stays near one step's reward while the target stays far from the critic and does not close in."""
    small = run.compare("value_start", lambda v, p: abs(v) <= VALUE_SLOW * min(abs(p.low), abs(p.high)))
    far = run.compare("target_drift", lambda v, p: v >= DRIFT_STUCK * p.high)
    drifts = [run.value(r, "target_drift") for r in run.learning if run.value(r, "target_drift") is not None]
    if not (run.persists(small, "value_start") and run.persists(far, "target_drift")) or drifts[-1] < drifts[0]:
        return None
    ev = [_ev("target_drift", far[-1], "the target critic is farther from the critic than in every reference run and "
              "the distance is not closing: the target does not follow the critic (or the critic is pulled back)"),
          _ev("value_start", small[-1], "Q stays near a few steps' reward: the backups bootstrap from a target that "
              "never learned")]
    return run.finding(["frozen_target"], ev, _confidence(small, run, "value_start"), far)


def moving_target(run: Run) -> Finding | None:
    """The critic chases its own output: its gradient stays far above the reference's, Q never builds up although
    the target critic is no farther than the reference's (frozen_target, checked before, covers a far one), or Q
    builds up far faster than the reference's."""
    grads = run.compare("critic_grad_norm", lambda v, p: v >= GRAD_FAR * p.high)
    stuck = [h for h in run.compare("value_start", lambda v, p: abs(v) <= VALUE_SLOW * min(abs(p.low), abs(p.high)))
             if abs(h[1]) <= VALUE_SLOW * abs(run.value(h[0], "return_start") or 0.0)]  # nor near its own returns
    fast = run.compare("value_start", lambda v, p: abs(v) >= VALUE_FAST * abs(p.median) and abs(p.median) > 0)
    if run.persists(grads, "critic_grad_norm"):
        ev = [_ev("critic_grad_norm", grads[-1], f"{fmt(grads[-1][1] / grads[-1][2].high)} times the largest reference "
                  "seed's, on most evaluations: the loss's target moves with the critic, so the critic never settles")]
        return run.finding(["moving_target"], ev, _confidence(grads, run, "critic_grad_norm"), grads)
    if run.persists(stuck, "value_start"):
        row = stuck[-1][0]
        ev = [_ev("value_start", stuck[-1], f"|Q| is {fmt(abs(stuck[-1][1]) / abs(stuck[-1][2].median))} times the "
                  f"reference's at the same step, far from the return its policy obtains "
                  f"({fmt(run.value(row, 'return_start'))}), while no target network holds it back (a far one is the "
                  "frozen-target family): a target that moves with the critic lets the loss be minimized by moving "
                  "both sides, and Q stays near one step's reward")]
        return run.finding(["moving_target"], ev, _confidence(stuck, run, "value_start"), stuck)
    if run.persists(fast, "value_start"):
        ev = [_ev("value_start", fast[-1], f"|Q| is {fmt(abs(fast[-1][1]) / abs(fast[-1][2].median))} times the "
                  "reference's at the same step: backups from a slowly moving target build Q up gradually; a target "
                  "that moves with the critic builds it up (and its errors) at once")]
        return run.finding(["moving_target"], ev, _confidence(fast, run, "value_start"), fast)
    return None


def policy_collapse(run: Run) -> Finding | None:
    """The policy stopped exploring: entropy far below the reference's, one action everywhere, or actions at bounds."""
    narrow = run.compare("entropy", lambda v, p: v <= p.low - ENTROPY_DROP)
    if run.persists(narrow, "entropy"):
        ev = [_ev("entropy", narrow[-1], f"{fmt(narrow[-1][2].low - narrow[-1][1])} nats below the lowest reference "
                  "seed's: the policy stopped exploring (is the entropy bonus in the actor's loss and the target?)")]
        at = run.compare("action_at_bound", lambda v, p: v >= p.high + 0.25, rows=[narrow[-1][0]])
        ev += [_ev("action_at_bound", h, "its actions sit at the bounds") for h in at]
        return run.finding(["policy_collapse"], ev, _confidence(narrow, run, "entropy"), narrow)
    first = next((run.value(r, "policy_entropy") for r in run.rows if run.value(r, "policy_entropy") is not None), None)
    if not first:
        return None
    gone = [(r, v, run.ref("policy_entropy", r["step"])) for r in run.learning
            if (v := run.value(r, "policy_entropy")) is not None and v <= ENTROPY_GONE * first
            and (run.value(r, "action_top_share") or 0) >= TOP_SHARE]
    if not run.persists(gone, "policy_entropy"):
        return None
    ev = [_ev("policy_entropy", gone[0], f"{fmt(gone[0][1] / first)} of the untrained policy's entropy "
              f"({fmt(first)}), and the greedy policy takes one action in "
              f"{fmt(100 * run.value(gone[0][0], 'action_top_share'))}% of the evaluation steps")]
    crashed = _rise_and_crash(run)
    families = ["lr_too_high", "policy_collapse"] if crashed else ["policy_collapse", "lr_too_high"]
    ev.append(Evidence("eval_return", float(run.rows[-1]["eval_return"]), int(run.rows[-1]["step"]),
                       "a collapse this early comes from steps too large (learning rate) or a policy step in the "
                       "wrong direction (the sign of the policy term); the statistics cannot tell them apart",
                       run.ref("eval_return", run.rows[-1]["step"])))
    return run.finding(families, ev, "high" if len(gone) >= 2 else "medium", gone)


def policy_lag(run: Run) -> Finding | None:
    """The learner's data comes from policies many updates old."""
    hits = run.compare("policy_lag", lambda v, p: v >= LAG_FAR * max(p.median, 1.0))
    if not run.persists(hits, "policy_lag"):
        return None
    return run.finding(["stale_data"], [_ev("policy_lag", hits[-1], "the transitions the learner consumes were "
                                             "produced by policies this many updates older than the reference's")],
                       _confidence(hits, run, "policy_lag"), hits)


def model_gap(run: Run) -> Finding | None:
    """The model promises returns the real env does not give, far more than in the reference runs."""
    hits = []
    for row in run.learning:
        imagined, real = run.value(row, "model_return"), run.value(row, "model_return_real")
        p_imagined, p_real = run.ref("model_return", row["step"]), run.ref("model_return_real", row["step"])
        if None in (imagined, real, p_imagined, p_real):
            continue
        ref_gap = max(abs(p_imagined.high - p_real.low), abs(p_imagined.low - p_real.high))  # the reference's widest
        if abs(imagined - real) >= max(MODEL_FAR * ref_gap, MODEL_SHARE * abs(real)):
            hits.append((row, imagined, p_imagined))
    # the model is refit from scratch every few steps: an error it no longer makes at the end does not explain the end
    if not run.persists(hits, "model_return") or hits[-1][0] is not run.learning[-1]:
        return None
    real = run.value(hits[-1][0], "model_return_real")
    return run.finding(["model_exploitation"], [_ev("model_return", hits[-1], f"the model predicts this return over "
                                                    f"the first steps of the evaluation episodes; the real env gave "
                                                    f"{fmt(real)}")], _confidence(hits, run, "model_return"), hits)


def _rise_and_crash(run: Run) -> bool:
    returns = [float(r["eval_return"]) for r in run.rows]
    if len(returns) < 3:
        return False
    peak = max(returns[1:-1], default=returns[0])
    return peak - returns[0] > 0 and returns[-1] <= peak - RISE_CRASH * (peak - returns[0]) - 1e-9 \
        and (p := run.ref("eval_return", run.rows[returns.index(peak)]["step"])) is not None and peak >= p.low


# Most specific first: a strong, specific signature explains the generic symptoms that follow it (a target that moves
# with the critic also makes the entropy collapse). `hard` rules hold whatever the return; the others only for a
# curve below the reference band.
RULES: list[tuple[Callable[[Run], Finding | None], bool]] = [
    (nan_onset, True), (value_ceiling, True), (value_bound, True), (stale_actor, False), (flat_critic, False),
    (fast_target, False), (frozen_target, False), (moving_target, False), (policy_collapse, False),
    (policy_lag, False), (model_gap, False),
]
