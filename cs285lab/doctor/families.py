"""The failure families the curve doctor names, and where in the course each one is explained."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALGORITHMS", "ENV_REWARDS", "FAMILIES", "Family", "course_pointer"]

# The algorithms whose history rows the doctor reads (the name a caller passes as `algorithm=`), and the notebook
# that teaches each one.
ALGORITHMS = {"a2c": "01", "online": "01", "async": "02", "ablation": "03", "naive": "03", "sac": "03",
              "dyna": "04", "mbpo": "05", "mve": "05"}

# Per-step reward range of the course's environments: the value bounds r/(1 - gamma) come from these.
ENV_REWARDS = {"CartPole-v1": (1.0, 1.0), "Acrobot-v1": (-1.0, 0.0), "Pendulum-v1": (-16.2736044, 0.0),
               "MountainCarContinuous-v0": (-0.1, 100.0)}


@dataclass(frozen=True)
class Family:
    """One failure family: its name for students, what goes wrong, and where the course explains it."""

    name: str
    title: str
    what: str                      # one sentence: the mechanism
    where: dict[str, str]          # notebook number -> "Part ..." that explains it ("" key: any other notebook)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("healthy", "looks healthy", "the statistics look like the reference run's", {}),
    Family("unexplained", "below the reference, no family stands out",
           "the curve is below the reference band but no statistic points to a family; compare seeds before "
           "changing code (one seed can be unlucky)", {}),
    Family("nan", "NaN onset", "a number became NaN or infinite and the guards stopped the run",
           {"01": "Part 3 · The batched actor-critic loss (a masked mean divides by the number of valid rows)",
            "": "docs/student-feedback.md, 'Never lose, never silent' (what the guards check)"}),
    Family("overestimation", "value overestimation / divergence",
           "the critic's values grow away from the returns the policy obtains",
           {"01": "Part 1 · Which transitions, which targets",
            "03": "Part 6 · The practical algorithm: soft actor-critic (twin critics, target networks)",
            "05": "Part 3 · Experiment 5 · Model exploitation, like for like"}),
    Family("no_signal", "no learning signal",
           "the critic gives the actor nothing to follow: its values do not tell states or actions apart, or sit "
           "at a bound no episode reaches, so the advantages are ~0",
           {"01": "Part 1 · Which transitions, which targets (the (1 - terminated) mask)",
            "02": "Part 2 · Training asynchronously (the learner's n-step target and its mask)",
            "03": "Part 5 · Silent bugs: a code review (a critic loss that broadcasts)"}),
    Family("moving_target", "a target that moves with the online network",
           "the critic's regression target is computed with the critic being trained, so each step moves the "
           "target too and the values never build up",
           {"01": "Part 3 · The batched actor-critic loss (the target is a fixed label: detach it)",
            "03": "Part 5 · Silent bugs: a code review (the target comes from the online critic)"}),
    Family("frozen_target", "a target that never follows the critic",
           "the target critic does not move toward the online critic (or the online critic is pulled back to it), "
           "so the values stay near one step's reward",
           {"03": "Part 5 · Silent bugs: a code review (the Polyak step)"}),
    Family("policy_collapse", "policy collapse",
           "the policy stopped exploring: its entropy collapsed, it takes one action whatever the state, or its "
           "actions sit at the bounds",
           {"01": "Part 3 · The batched actor-critic loss (the sign of the policy term)",
            "03": "Part 6 · The practical algorithm: soft actor-critic (the entropy bonus and its temperature)"}),
    Family("lr_too_high", "learning rate too high",
           "each update moves the networks too far: losses and gradient norms spike, the policy saturates, the "
           "returns rise then crash",
           {"01": "Part 3 · The batched actor-critic loss (A2CConfig.lr, gradient clipping)",
            "02": "Part 2 · Training asynchronously (AsyncConfig.lr)",
            "03": "Part 6 · The practical algorithm: soft actor-critic (SACConfig.lr)",
            "05": "Part 2 · Train MBPO with your pieces (MBPOConfig.lr)"}),
    Family("stale_data", "stale data",
           "the update learns from data of older policies as if it came from the current one",
           {"02": "Part 2 · Policy lag and asynchronous SGD's stale gradient: analogous, not the same",
            "03": "Part 3 · Fix it"}),
    Family("model_exploitation", "model exploitation",
           "the policy goes where the learned model is wrong: the model promises returns the real env does not give",
           {"04": "Dyna-style with a learned neural model (Pendulum-v1)",
            "05": "Part 3 · Experiment 5 · Model exploitation, like for like"}),
)}


def course_pointer(family: str, algorithm: str) -> str:
    """Where the course explains `family` for `algorithm`: 'notebook 03, Part 5 · ...' (or the general pointer)."""
    notebook = ALGORITHMS.get(algorithm, "")
    where = FAMILIES[family].where
    if notebook in where:
        return f"notebook {notebook}, {where[notebook]}"
    for other, part in where.items():  # the family is taught once, in another notebook
        if other:
            return f"notebook {other}, {part}"
    return where.get("", "")
