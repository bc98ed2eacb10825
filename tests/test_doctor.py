"""The curve doctor (cs285lab.doctor) on its labelled corpus, its rules on made-up runs, and where it shows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from benchmarks import doctor_corpus as corpus
from cs285lab.doctor import (ALGORITHMS, FAMILIES, RunDoctor, algorithm_of, check_feedback, course_pointer, diagnose,
                             second_opinion)

STORED = corpus.load_corpus()  # tests/fixtures/doctor/ci: python -m benchmarks.doctor_corpus


# ---------------------------------------------------------------------------------------------- the corpus

def test_corpus_is_complete_and_labelled_as_the_code_says():
    assert set(STORED) == set(corpus.CASES), "regenerate: python -m benchmarks.doctor_corpus"
    for name, data in STORED.items():
        case = corpus.CASES[name]
        assert (data["algorithm"], data["family"], data["env"]) == (case.algorithm, case.family, case.env), name
        assert sorted(int(s) for s in data["runs"]) == sorted(case.seeds), name
        assert case.family in FAMILIES and case.algorithm in ALGORITHMS


def test_doctor_names_the_right_family_and_raises_no_alarm_on_reference_runs():
    verdicts = corpus.score(STORED)
    table = corpus.confusion(verdicts)
    broken = [v for v in verdicts if v.scored and v.label != "healthy"]
    reference = [v for v in verdicts if v.label == "healthy"]
    right = sum(v.correct for v in broken)
    assert len(broken) >= 30 and len(reference) >= 30, table
    assert right >= 0.8 * len(broken), f"right family first on {right}/{len(broken)} broken runs\n{table}"
    held = [v for v in broken if v.held_out]
    assert sum(v.correct for v in held) >= 0.8 * len(held), table
    alarms = [f"{v.case} seed {v.seed}: {v.summary}" for v in reference if not v.correct]
    assert not alarms, "alarm on reference runs:\n" + "\n".join(alarms) + f"\n{table}"
    for family in {v.label for v in broken}:  # no family is carried by the others: each rule earns its place
        runs = [v for v in broken if v.label == family]
        assert 2 * sum(v.correct for v in runs) >= len(runs), f"{family} named on too few of its runs\n{table}"


def test_a_stored_run_regenerates_identically():
    # the stored corpus cannot drift from the code that makes it: one run retrained here must match its stored rows
    # and error exactly (a run the guards stop early: 0.1 s). That the stored nb01 runs are the ones notebook 01's
    # learning check trains is asserted where the check trains one for real (tests/test_doctor_feedback.py).
    name, seed = "a2c/nan-empty-batch", 0
    fresh = corpus.run_case(name, seed, "ci")
    stored = STORED[name]["runs"][str(seed)]
    assert json.loads(json.dumps(fresh["rows"])) == stored["rows"]
    assert fresh["error"] == stored["error"]


def test_every_stored_run_trained_with_todays_settings():
    # the drift the regeneration above cannot see without retraining everything: a budget table that changes a case's
    # settings (steps, evaluations, model) leaves its stored runs describing another run. Each case file keeps the
    # settings it was trained with; both corpora must match what each case trains with today
    for profile, root in (("ci", corpus.DEFAULT_OUT), ("full", corpus.HERE / "results" / "doctor")):
        stored = corpus.load_corpus(root, profile)
        assert set(stored) == set(corpus.CASES), f"{profile} corpus: cases missing or unknown"
        stale = {}
        for name, data in stored.items():
            today, kept = corpus.CASES[name].config(profile), data.get("config", {})
            if kept != today:
                stale[name] = {key: (value, kept.get(key)) for key, value in today.items() if kept.get(key) != value}
        assert not stale, (f"the {profile} corpus's runs of these cases trained with other settings (today's, stored): "
                           f"{stale}; regenerate them: python -m benchmarks.doctor_corpus --profile {profile} "
                           "--only <case> --force" + ("" if profile == "ci" else " --out benchmarks/results/doctor"))


# ---------------------------------------------------------------------------------------------- rules on made-up runs

def _rows(n=6, **columns):
    """A history of n evaluations (steps 500, 1000, ...); each column a constant or a list."""
    rows = []
    for i in range(n):
        row = {"step": 500 * (i + 1), "eval_return": -1200.0}
        for key, value in columns.items():
            row[key] = value[i] if isinstance(value, (list, tuple)) else value
        rows.append(row)
    return rows


SAC_LIKE = dict(value_start=[-5.0, -10, -15, -20, -25, -30], return_start=-400.0, critic_grad_norm=30.0,
                actor_grad_norm=0.5, target_drift=1.5, q_action_gap=5.0, entropy=0.5, alpha=0.1,
                action_at_bound=0.01, model_return=-40.0, model_return_real=-40.0, policy_lag=2.0)


def _reference(seeds=5, **overrides):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(seeds):
        cols = {**SAC_LIKE, **overrides}
        jitter = {k: ([x * (1 + 0.05 * rng.standard_normal()) for x in v] if isinstance(v, list)
                      else v * (1 + 0.05 * rng.standard_normal())) for k, v in cols.items()}
        rows = _rows(**jitter)
        for r in rows:
            r["eval_return"] = -150.0
        out.append(rows)
    return out


@pytest.mark.parametrize("column, value, family", [
    ("model_return", 60.0, "model_exploitation"),          # the model promises returns the env does not give
    ("policy_lag", 200.0, "stale_data"),                   # the learner's data is 200 updates old
    ("value_start", 900.0, "overestimation"),              # no Pendulum return is above 0
    ("q_action_gap", 0.001, "no_signal"),                  # Q does not tell actions apart
    ("target_drift", 9.0, "lr_too_high"),                  # the target lags far: updates too large
    ("entropy", -9.0, "policy_collapse"),
    ("critic_grad_norm", 300.0, "moving_target"),
])
def test_each_rule_names_its_family_on_a_made_up_run(column, value, family):
    run = _rows(**{**SAC_LIKE, column: value})
    findings = diagnose(run, "mbpo", _reference(), env="Pendulum-v1")
    assert findings[0].family == family, findings[0]
    assert findings[0].evidence and findings[0].evidence[0].statistic == column
    assert findings[0].course and findings[0].confidence in ("high", "medium", "low")


def test_a_run_like_its_reference_looks_healthy_and_one_below_it_is_unexplained():
    ok = _rows(**SAC_LIKE)
    for r in ok:
        r["eval_return"] = -150.0
    assert diagnose(ok, "sac", _reference(), env="Pendulum-v1")[0].family == "healthy"
    findings = diagnose(_rows(**SAC_LIKE), "sac", _reference(), env="Pendulum-v1")
    assert findings[0].family == "unexplained" and not findings[0].alarm
    assert "below the reference seeds'" in str(findings[0])


def test_values_at_the_never_ending_episode_ceiling_name_the_mask():
    rows = _rows(value_start=[10.0, 60, 95, 100, 100, 100], return_start=9.0, action_top_share=1.0)
    finding = diagnose(rows, "a2c", env="CartPole-v1")[0]
    assert finding.family == "no_signal" and "never ends" in str(finding) and "terminated" in finding.course


def test_a_nan_stop_is_named_with_its_step():
    error = "training stopped at env step 37: the loss is nan; no update was applied with it"
    finding = diagnose(_rows(2), "a2c", error=error)[0]
    assert finding.family == "nan" and finding.onset == 37 and "the loss" in str(finding)


def test_bad_input_is_a_one_line_error():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        diagnose(_rows(), "dqn")
    with pytest.raises(ValueError, match="list of histories"):
        diagnose(_rows(), "sac", reference=[[]])


def test_every_family_has_a_course_pointer_for_every_algorithm():
    for family in FAMILIES:
        if family in ("healthy", "unexplained"):
            continue
        for algorithm in ALGORITHMS:
            assert course_pointer(family, algorithm), (family, algorithm)
    assert course_pointer("frozen_target", "sac").startswith("notebook 03, Part 5")
    assert algorithm_of("cs285lab.algos.mbpo:train_mbpo (k=1, policy actions)") == "dyna"
    assert algorithm_of("cs285lab.algos.sac:train_sac") == "sac"


# ---------------------------------------------------------------------------------------------- where it shows

def test_second_opinion_and_check_feedback_are_printable_text():
    stored = STORED["silent/polyak"]["runs"]["0"]["rows"]
    reference = [r["rows"] for r in STORED["sac/reference"]["runs"].values()]
    text = second_opinion(stored, "sac", reference, env="Pendulum-v1")
    assert "second opinion" in text and "never follows the critic" in text and "notebook 03, Part 5" in text
    feedback = check_feedback(stored, "sac", reference, env="Pendulum-v1")
    assert feedback.startswith("The curve doctor") and "target_drift" in feedback
    healthy = STORED["sac/reference"]["runs"]["0"]["rows"]
    assert check_feedback(healthy, "sac", reference[1:], env="Pendulum-v1") == ""


def test_runlogger_prints_the_doctor_under_a_curve_below_its_band(tmp_path, capsys):
    from cs285lab.runs import RunLogger

    with RunLogger("nb03/sac", seed=0, root=tmp_path, reference="nb03-sac-pendulum") as log:
        for step in range(1000, 9000, 1000):  # Q above 0: no Pendulum return can be
            log.log(step, eval_return=-1300.0, value_start=500.0 + step / 10, return_start=-600.0)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("doctor: probably value overestimation / divergence (high confidence)"), out
    assert out[1].endswith("doctor.txt") and (log.path / "doctor.txt").is_file()
    with RunLogger("nb03/sac", seed=1, root=tmp_path, reference="nb03-sac-pendulum") as log:
        for step in range(1000, 9000, 1000):
            log.log(step, eval_return=-100.0)
    assert capsys.readouterr().out == ""  # inside the band: nothing to say


def test_runlogger_names_a_nan_stop(tmp_path, capsys):
    from cs285lab.algos.guards import NonFiniteError
    from cs285lab.runs import RunLogger

    with pytest.raises(NonFiniteError):
        with RunLogger("nb01/batched", seed=0, root=tmp_path, reference="nb01-a2c-cartpole") as log:
            log.log(4000, eval_return=20.0)
            raise NonFiniteError("training stopped at env step 4100: the loss is nan; no update was applied")
    assert "doctor: probably NaN onset" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- the probes draw nothing

def test_probes_draw_no_random_number():
    from cs285lab.algos.mbpo import MBPOConfig, train_mbpo
    from cs285lab.algos.off_policy import agent_statistics
    from cs285lab.algos.probes import model_statistics
    from cs285lab.envs import play_episodes

    config = MBPOConfig(hidden=(16,), batch_size=32, learning_starts=60, updates_per_step=1, model_train_freq=40,
                        rollout_every=20, rollout_starts=20, rollout_length=1, model_hidden=(16,), model_max_epochs=2,
                        ensemble_size=2, num_elites=1, total_steps=80, eval_every=80, eval_episodes=1)
    result = train_mbpo("Pendulum-v1", config, seed=0)
    agent = result.agent
    played = play_episodes(lambda o: agent.act(o, deterministic=True), "Pendulum-v1", 2)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    stats = {**agent_statistics(agent, played, result_env(), config),
             **model_statistics(played, result.model, lambda o: agent.act(o, deterministic=True), config.gamma)}
    assert torch.equal(torch_state, torch.get_rng_state())
    after = np.random.get_state()
    assert np.array_equal(numpy_state[1], after[1]) and numpy_state[2:] == after[2:]
    assert {"value_start", "return_start", "q_action_gap", "action_at_bound", "critic_grad_norm", "target_drift",
            "model_return", "model_return_real"} <= set(stats)
    assert all(math.isfinite(v) for v in stats.values())


def result_env():
    from cs285lab.envs.continuous import make_env

    return make_env("Pendulum-v1")


def test_check_feedback_reads_a_learning_checks_evaluations_with_the_runs_discount():
    # notebook 01's learning check grades its last evaluations; the value bound r / (1 - gamma) needs the run's gamma
    from cs285lab.budgets import budget

    run = STORED["a2c/no-terminal-mask"]["runs"]["1"]
    rows, gamma = run["rows"], budget("nb01", "ci").batched.gamma
    assert run["gamma"] == gamma
    feedback = check_feedback([rows[0], *rows[-3:]], "a2c", "nb01-a2c-cartpole", gamma=gamma)
    assert "no learning signal" in feedback and "never ends" in feedback and "notebook 01, Part 1" in feedback
    # without it, the band's own budget line names it (a RunLogger's doctor has only the band)
    assert check_feedback([rows[0], *rows[-3:]], "a2c", "nb01-a2c-cartpole") == feedback
    assert "no learning signal" not in check_feedback([rows[0], *rows[-3:]], "a2c", "nb01-a2c-cartpole", gamma=0.99)


# ---------------------------------------------------------------------------------------------- beside the shipped bands

FULL = corpus.HERE / "results" / "doctor"  # the full-budget corpus of make bench ONLY=doctor


def test_shipped_reference_statistics_are_the_full_corpus_reference_runs(tmp_path):
    from cs285lab.doctor.reference import statistics_dir
    from cs285lab.plots.reference import available_references

    written = corpus.export_references(FULL, tmp_path)
    assert {p.stem for p in written} == set(corpus.BANDS.values()) | set(corpus.STATISTICS_ONLY.values())
    assert set(corpus.BANDS.values()) <= set(available_references())
    assert not set(corpus.STATISTICS_ONLY.values()) & set(available_references())  # those have no band
    for path in written:
        assert path.read_text() == (statistics_dir() / path.name).read_text(), f"re-export: {path.name} drifted"


def test_a_notebook_band_carries_the_statistics_the_rules_compare():
    # a full-budget review run against the shipped band alone (as RunLogger and notebook 03 pass it)
    full = corpus.load_corpus(FULL, "full")
    rows = full["silent/polyak"]["runs"]["2"]["rows"]
    findings = diagnose(rows, "sac", "nb03-sac-pendulum")
    assert findings[0].family == "frozen_target" and findings[0].evidence[0].reference is not None
    healthy = full["sac/reference"]["runs"]["0"]["rows"]
    assert diagnose(healthy, "sac", "nb03-sac-pendulum")[0].family == "healthy"


def test_reference_statistics_without_a_band_are_a_reference_by_name():
    # notebook 03's ablation has no band: its fixed arm's statistics (with its returns) ship alone, as "nb03-ablation"
    # (the ci corpus's runs: not among the full-budget runs the statistics come from). Naive seed 1 ends at -1652,
    # below the fixed arm's band at 3000 steps; naive seed 0 ends at -933, inside it ([-976, -440] at that step: the
    # fixed arm has not learned yet either), so there is no failing curve to explain and the doctor raises no alarm
    def first_finding(case, seed):
        return diagnose(STORED[case]["runs"][seed]["rows"], "ablation", "nb03-ablation", env="Pendulum-v1")[0]

    fixed, naive = first_finding("ablation/both-fixed", "0"), first_finding("ablation/naive", "1")
    naive_inside_band = first_finding("ablation/naive", "0")
    assert fixed.family == "healthy" and naive.family == "stale_data", (fixed, naive)
    assert naive_inside_band.family == "healthy", naive_inside_band
    with pytest.raises(FileNotFoundError, match="no reference band"):
        diagnose(STORED["ablation/naive"]["runs"]["0"]["rows"], "ablation", "nb03-no-such-reference")
