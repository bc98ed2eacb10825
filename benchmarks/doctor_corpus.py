"""The curve doctor's labelled corpus: reference runs and broken variants of every algorithm, with their history rows.

    python -m benchmarks.doctor_corpus [--profile ci] [--only a2c/] [--seeds 0 1] [--out tests/fixtures/doctor]

Each case is one training call of the package, at a notebook's budget (the profile's), with one mistake the
course's checks catch, and the failure family the doctor should name (`cs285lab.doctor.FAMILIES`); the reference
runs are labelled "healthy". A run's rows keep every history column but the clocks (wall_s, train_s, train_cpu_s),
so a regenerated run on the same machine is identical (tests/test_doctor.py regenerates one). A run the guards stop
(cs285lab.algos.guards.NonFiniteError) keeps the rows it had and the error's message.

One file per case, `<out>/<profile>/<case>.json` ({"case", "algorithm", "family", "env", "config", "runs": {seed:
{...}}}), so runs can be added a few at a time (a seed already there is skipped unless --force). "config" is the
settings the runs trained with (Case.config): a budget change that moves them fails tests/test_doctor.py, and adding
seeds to runs of other settings is refused.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

CLOCKS = ("wall_s", "train_s", "train_cpu_s")
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "tests" / "fixtures" / "doctor"
REFERENCE_SEEDS = (0, 1, 2, 3, 4)
BROKEN_SEEDS = (0, 1, 2, 3)
TRAIN_SEEDS = {"healthy": (0, 1, 2), "broken": (0, 1)}  # the doctor's rules were decided on these; the rest is held out


@dataclass(frozen=True)
class Case:
    """One labelled training run: which algorithm, which env, the family it should be diagnosed as, and how to train."""

    algorithm: str                                  # cs285lab.doctor's algorithm name
    family: str                                     # the family the doctor should name first ("healthy": reference)
    env: str
    train: Callable[[int, str, Any], list[dict]]     # (seed, profile, logger) -> history rows
    reference: str | None = None                    # the case whose runs are this one's reference (None: none)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Reference runs: five seeds; broken variants: four."""
        return REFERENCE_SEEDS if self.family == "healthy" else BROKEN_SEEDS

    def config(self, profile: str) -> dict:
        """The settings its runs train with at `profile`, as stored beside them (a change means: regenerate)."""
        return json.loads(json.dumps(asdict(self.train.config(profile)), default=str))

    def held_out(self, seed: int) -> bool:
        """Whether `seed` was kept out of the decisions on the doctor's rules."""
        return seed not in TRAIN_SEEDS["healthy" if self.family == "healthy" else "broken"]


# ---------------------------------------------------------------------------------------------- actor-critic

def a2c_loss(*, mask_terminal: bool = True, detach_target: bool = True, sign: float = 1.0,
             clamp_count: bool = True) -> Callable:
    """notebook 01's actor_critic_loss with one of the usual mistakes (as tests/test_checks_nb01.py writes them).

    clamp_count=False divides by the number of valid rows as it is: a batch of only reset rows (one worker, one
    step) divides 0 by 0.
    """
    def loss_fn(model, batch, gamma, value_coef=0.5, entropy_coef=0.0):
        dist, values = model.dist(batch.obs), model.value(batch.obs)
        next_values = model.value(batch.next_obs)
        if detach_target:
            next_values = next_values.detach()
        not_done = (1 - batch.terminated) if mask_terminal else 1.0
        targets = batch.rewards + gamma * next_values * not_done
        advantages = (targets - values).detach()
        count = batch.mask.float().sum()
        w = batch.mask.float() / (count.clamp(min=1.0) if clamp_count else count)
        policy_loss = -sign * (w * dist.log_prob(batch.actions) * advantages).sum()
        value_loss = (w * (values - targets) ** 2).sum()
        entropy = (w * dist.entropy()).sum()
        stats = {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item()}
        return policy_loss + value_coef * value_loss - entropy_coef * entropy, stats
    return loss_fn


def _a2c(loss: dict | None = None, table: str = "nb01.batched", **overrides: Any) -> Callable:
    def train(seed: int, profile: str, logger: Any) -> list[dict]:
        import gymnasium as gym

        from cs285lab.algos.actor_critic import SeparateActorCritic, actor_critic_loss, train_a2c

        env = gym.make("CartPole-v1")
        torch.manual_seed(seed)  # the model as notebook 01's reference recipe builds it
        model = SeparateActorCritic(env.observation_space, env.action_space)
        env.close()
        loss_fn = actor_critic_loss if loss is None else a2c_loss(**loss)
        return train_a2c("CartPole-v1", config(profile), seed=seed, model=model, loss_fn=loss_fn, logger=logger)[1]

    def config(profile: str) -> Any:
        return replace(base_config(profile), advantage="one_step", **overrides)

    def base_config(profile: str) -> Any:
        if table == "nb01.batched":  # notebook 01's learning check's runs (its [full] table at ci too)
            from cs285lab.checks.nb01 import learning_config

            return learning_config(profile)
        from cs285lab.budgets import budget

        notebook, name = table.split(".")
        return getattr(budget(notebook, profile), name)

    def gamma(profile: str) -> float:
        return float(overrides.get("gamma", base_config(profile).gamma))
    train.gamma = gamma  # the doctor's value bounds need the run's discount (run_case stores it)
    train.config = config
    return train


def _async(no_mask: bool = False, **overrides: Any) -> Callable:
    def train(seed: int, profile: str, logger: Any) -> list[dict]:
        from cs285lab.algos.parallel import learner_loss, train_async

        loss_fn = learner_loss
        if no_mask:
            def loss_fn(model, batch, gamma, value_coef=0.5, entropy_coef=0.0):
                return learner_loss(model, replace(batch, terminated=torch.zeros_like(batch.terminated)), gamma,
                                    value_coef, entropy_coef)
        return train_async("CartPole-v1", config(profile), seed=seed, loss_fn=loss_fn, logger=logger)[1].rows

    def config(profile: str) -> Any:
        from cs285lab.budgets import budget

        return replace(budget("nb02", profile).async_learner, **overrides)
    train.config = config
    return train


# ---------------------------------------------------------------------------------------------- SAC and notebook 03

def q_backup_online_critic(batch, agent):
    """SAC's soft target computed with the ONLINE critic (detached): no target network, the target moves with Q."""
    with torch.no_grad():
        next_actions, next_log_prob = agent.sample_actions(batch.next_obs)
        next_q = agent.critic(batch.next_obs, next_actions).min(dim=0).values
        return batch.rewards + agent.config.gamma * (1.0 - batch.terminated) * (next_q - agent.alpha * next_log_prob)


def _sac(budget_key: str = "sac", hooks: dict | None = None, polyak: str = "tau", agent: str | None = None,
         **overrides: Any) -> Callable:
    def train(seed: int, profile: str, logger: Any) -> list[dict]:
        from cs285lab.algos.sac import train_sac
        from cs285lab.algos.silent_bugs import hooked_sac

        cls = hooked_sac(hooks or {}, polyak)
        if agent == "no_entropy":  # alpha fixed at 0: no entropy in the target nor in the actor's loss
            cls = type("NoEntropySAC", (cls,), {"alpha": property(lambda self: torch.tensor(0.0))})
        return train_sac("Pendulum-v1", config(profile), seed=seed, agent_cls=cls, logger=logger)[1]

    def config(profile: str) -> Any:
        from cs285lab.budgets import budget

        return replace(getattr(budget("nb03", profile), budget_key), **overrides)
    train.config = config
    return train


def _silent(family: str) -> Callable:
    """notebook 03's silent bug of `family`; the seed picks the convention and the place (four combinations)."""
    def train(seed: int, profile: str, logger: Any) -> list[dict]:
        from cs285lab.algos.silent_bugs import FAMILIES

        fam = FAMILIES[family]
        combos = [(convention, place) for convention in fam.buggy for place in (0, 1)]
        convention, place = combos[seed % len(combos)]
        hooks = {fam.hook: fam.buggy[convention][place]}
        return _sac(hooks=hooks, polyak=convention if family == "polyak" else "tau")(seed, profile, logger)
    train.config = _sac().config
    return train


def _ablation(arm: str) -> Callable:
    def train(seed: int, profile: str, logger: Any) -> list[dict]:
        from cs285lab.algos.offpolicy_fixes import train_ablation

        return train_ablation("Pendulum-v1", config(profile), seed=seed, logger=logger)[1]

    def config(profile: str) -> Any:
        from cs285lab.algos.offpolicy_fixes import ARMS
        from cs285lab.budgets import budget

        fix_critic, fix_actor = ARMS[arm]
        return replace(budget("nb03", profile).ablation, fix_critic=fix_critic, fix_actor=fix_actor)
    train.config = config
    return train


# ---------------------------------------------------------------------------------------------- Dyna and MBPO

def nll_without_log_variance(mean, log_var, target):
    """notebook 05's gaussian_nll mistake: the precision-weighted error without the + log_var term."""
    return (0.5 * (target - mean) ** 2 * torch.exp(-log_var)).mean(dim=(-2, -1))


def _mbpo(notebook: str, nll: Callable | None = None, **overrides: Any) -> Callable:
    def train(seed: int, profile: str, logger: Any) -> list[dict]:
        from cs285lab.algos.mbpo import train_mbpo

        extra = {"nll_fn": nll} if nll is not None else {}
        return train_mbpo("Pendulum-v1", config(profile), seed=seed, logger=logger, **extra).history

    def config(profile: str) -> Any:
        from cs285lab.budgets import budget

        # notebook 04's Dyna-style runs at its full budget: its ci budget (300 env steps) is too short to learn
        base = budget("nb04", "full").dyna if notebook == "nb04" else budget("nb05", profile).mbpo
        return replace(base, **{**({"rollout_length": 1} if notebook == "nb04" else {}), **overrides})
    train.config = config
    return train


A2C, ASYNC, SAC, ABLATION, DYNA, MBPO = ("a2c/reference", "async/reference", "sac/reference", "ablation/both-fixed",
                                         "dyna/reference", "mbpo/reference")
CASES: dict[str, Case] = {
    A2C: Case("a2c", "healthy", "CartPole-v1", _a2c(), A2C),
    "a2c/no-terminal-mask": Case("a2c", "no_signal", "CartPole-v1", _a2c({"mask_terminal": False}), A2C),
    "a2c/wrong-sign": Case("a2c", "policy_collapse", "CartPole-v1", _a2c({"sign": -1.0}), A2C),
    "a2c/lr-too-high": Case("a2c", "lr_too_high", "CartPole-v1", _a2c(lr=0.05), A2C),
    # notebook 02's one-worker synchronous run, with a loss that divides by an empty mask's count
    # (one step per update, as notebook 02's table had it when these runs were made: a batch of one reset row)
    "a2c/nan-empty-batch": Case("a2c", "nan", "CartPole-v1", _a2c({"clamp_count": False}, "nb02.sync", num_envs=1,
                                                                     n_steps=1, critic_steps=0, entropy_coef=0.0,
                                                                     normalize_advantages=False)),
    ASYNC: Case("async", "healthy", "CartPole-v1", _async(), ASYNC),
    "async/no-terminal-mask": Case("async", "no_signal", "CartPole-v1", _async(no_mask=True), ASYNC),
    "async/stale-inbox": Case("async", "stale_data", "CartPole-v1", _async(inbox_size=4000), ASYNC),
    SAC: Case("sac", "healthy", "Pendulum-v1", _sac(), SAC),
    "sac/online-critic-target": Case("sac", "moving_target", "Pendulum-v1",
                                     _sac(hooks={"q_backup": q_backup_online_critic}), SAC),
    "sac/no-entropy": Case("sac", "policy_collapse", "Pendulum-v1", _sac(agent="no_entropy"), SAC),
    "sac/lr-too-high": Case("sac", "lr_too_high", "Pendulum-v1", _sac(lr=0.03), SAC),
    "silent/broadcast": Case("sac", "no_signal", "Pendulum-v1", _silent("broadcast"), SAC),
    "silent/target": Case("sac", "moving_target", "Pendulum-v1", _silent("target"), SAC),
    "silent/polyak": Case("sac", "frozen_target", "Pendulum-v1", _silent("polyak"), SAC),
    ABLATION: Case("ablation", "healthy", "Pendulum-v1", _ablation("both fixed"), ABLATION),
    "ablation/naive": Case("ablation", "stale_data", "Pendulum-v1", _ablation("naive"), ABLATION),
    "ablation/critic-fixed": Case("ablation", "stale_data", "Pendulum-v1", _ablation("critic fixed"), ABLATION),
    DYNA: Case("dyna", "healthy", "Pendulum-v1", _mbpo("nb04"), DYNA),
    "dyna/no-log-variance": Case("dyna", "model_exploitation", "Pendulum-v1",
                                 _mbpo("nb04", nll=nll_without_log_variance), DYNA),
    MBPO: Case("mbpo", "healthy", "Pendulum-v1", _mbpo("nb05"), MBPO),
}


class RowCollector:
    """A logger that keeps the evaluation rows it is given (a run stopped by the guards returns none)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def log(self, step: int, **scalars: float) -> None:
        """Keep history rows (those with an eval_return)."""
        if "eval_return" in scalars:
            self.rows.append({"step": step, **scalars})


def _clean(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return int(value) if isinstance(value, (int, np.integer)) else value


def clean_rows(rows: list[dict]) -> list[dict]:
    """History rows as the corpus stores them: no clock columns, plain numbers, non-finite values as None."""
    return [{k: _clean(v) for k, v in row.items() if k not in CLOCKS} for row in rows]


def run_case(name: str, seed: int, profile: str = "ci") -> dict:
    """Train one case for one seed: {"rows": [...], "error": message or None, "cpu_s": training CPU seconds}."""
    from cs285lab.algos.guards import NonFiniteError
    from cs285lab.seeding import seed_everything

    seed_everything(seed)  # one torch thread, as the notebooks and tests run
    collector, error, start = RowCollector(), None, time.process_time()
    try:
        rows = CASES[name].train(seed, profile, collector)
    except NonFiniteError as exc:
        rows, error = collector.rows, str(exc)
    rows = clean_rows(rows)
    gamma = getattr(CASES[name].train, "gamma", None)
    return {"rows": rows, "error": error, "cpu_s": round(time.process_time() - start, 1),
            **({"gamma": gamma(profile)} if gamma else {})}


def case_path(out: Path, profile: str, name: str) -> Path:
    """Where a case's runs are stored."""
    return Path(out) / profile / f"{name.replace('/', '__')}.json"


def load_corpus(out: Path = DEFAULT_OUT, profile: str = "ci") -> dict[str, dict]:
    """Every stored case of a profile: name -> {"case", "algorithm", "family", "env", "runs": {seed: run}}."""
    stored = {}
    for path in sorted((Path(out) / profile).glob("*.json")):
        data = json.loads(path.read_text())
        stored[data["case"]] = data
    return stored


def generate(names: list[str], profile: str, out: Path, seeds: list[int] | None = None, force: bool = False) -> None:
    """Train and store the named cases' runs (each seed once; an interrupted generation resumes)."""
    for name in names:
        case, path = CASES[name], case_path(out, profile, name)
        data = json.loads(path.read_text()) if path.is_file() else {
            "case": name, "algorithm": case.algorithm, "family": case.family, "env": case.env, "runs": {}}
        config = case.config(profile)
        if data.get("config", config) != config and not force:
            raise SystemExit(f"{name}: its stored runs trained with other settings than today's; regenerate all its "
                             "seeds with --force")
        data.update(algorithm=case.algorithm, family=case.family, env=case.env, config=config)
        for seed in seeds if seeds is not None else case.seeds:
            if str(seed) in data["runs"] and not force:
                continue
            run = run_case(name, seed, profile)
            data["runs"][str(seed)] = run
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
            last = run["rows"][-1]["eval_return"] if run["rows"] else float("nan")
            print(f"{name} seed {seed}: {len(run['rows'])} rows, last eval_return {last}, "
                  f"{'error: ' + run['error'][:60] if run['error'] else 'finished'}, {run['cpu_s']} CPU s", flush=True)


# the shipped reference bands whose recipe is a reference case's training at the full budget
BANDS = {"a2c/reference": "nb01-a2c-cartpole", "async/reference": "nb02-async", "sac/reference": "nb03-sac-pendulum",
         "dyna/reference": "nb04-dyna-pendulum", "mbpo/reference": "nb05-mbpo-pendulum"}
BAND_COLUMNS = ("step", "eval_return", "train_return")  # what the band itself holds
# reference cases with no band (notebook 03's ablation plots its arms without one): their statistics ship alone, with
# their eval_return, as a reference a check names (cs285lab.doctor.Reference.of("nb03-ablation"))
STATISTICS_ONLY = {"ablation/both-fixed": "nb03-ablation"}


def export_references(out: Path, dest: Path | None = None) -> list[Path]:
    """Write the full-budget reference cases' statistics beside their bands (`dest`: cs285lab/data/doctor/)."""
    from cs285lab.doctor.reference import statistics_dir

    stored = load_corpus(out, "full")
    written = []
    for name, band in {**BANDS, **STATISTICS_ONLY}.items():
        if name not in stored:
            continue
        runs = stored[name]["runs"]
        skip = BAND_COLUMNS if name in BANDS else ("step", "train_return")  # no band: the statistics carry the returns
        lines = ["# cs285lab curve-doctor reference statistics: the statistics of a band's reference runs"
                 + ("" if name in BANDS else " (no band: its eval_return too)"),
                 f"# {'band' if name in BANDS else 'reference'}: {band}",
                 f"# case: {name} (benchmarks/doctor_corpus.py), profile full",
                 f"# how: python -m benchmarks.doctor_corpus --profile full --out benchmarks/results/doctor "
                 f"--only {name}; python -m benchmarks.doctor_corpus --export-references",
                 f"# seeds: {','.join(sorted(runs, key=int))}", "metric,step,seed,value"]
        for seed in sorted(runs, key=int):
            for row in runs[seed]["rows"]:
                lines += [f"{k},{row['step']},{seed},{v:.6g}" for k, v in row.items()
                          if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)]
        path = Path(dest or statistics_dir()) / f"{band}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    """The command line: generate (a part of) the corpus, or export the reference statistics."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.doctor_corpus")
    parser.add_argument("--profile", default="ci", choices=("ci", "full"))
    parser.add_argument("--only", default="", help="cases whose name starts with this (e.g. a2c/)")
    parser.add_argument("--seeds", type=int, nargs="*")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="retrain seeds already stored")
    parser.add_argument("--export-references", action="store_true",
                        help="write the full corpus's reference statistics to cs285lab/data/doctor/ (no training)")
    args = parser.parse_args()
    if args.export_references:
        out = args.out if args.out != DEFAULT_OUT else HERE / "results" / "doctor"
        for path in export_references(out):
            print(f"wrote {path}")
        return
    names = [n for n in CASES if n.startswith(args.only)]
    if not names:
        raise SystemExit(f"no case starts with {args.only!r}; cases: {', '.join(CASES)}")
    generate(names, args.profile, args.out, args.seeds, args.force)


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------------- scoring the doctor

@dataclass(frozen=True)
class Verdict:
    """What the doctor said of one stored run, next to its label."""

    case: str
    seed: int
    label: str              # the family it should name ("healthy" for reference runs)
    predicted: tuple        # the first finding's families
    failing: bool           # the curve ends below the reference band (a broken run that learned anyway is not scored)
    held_out: bool
    summary: str

    @property
    def scored(self) -> bool:
        """Reference runs and broken runs that failed are scored; broken runs that learned anyway are not."""
        return self.label == "healthy" or self.failing

    @property
    def correct(self) -> bool:
        """A reference run raises no alarm; a failing broken run has its family in the first finding."""
        if self.label == "healthy":
            return self.predicted[0] in ("healthy", "unexplained")
        return self.label in self.predicted


def score(stored: dict[str, dict]) -> list[Verdict]:
    """The doctor's verdict on every stored run; a reference run is judged against the OTHER reference seeds."""
    from cs285lab.doctor import diagnose

    verdicts = []
    for name, data in sorted(stored.items()):
        case = CASES[name]
        for seed, run in sorted(data["runs"].items(), key=lambda kv: int(kv[0])):
            refs = stored.get(case.reference, {}).get("runs", {}) if case.reference else {}
            reference = [r["rows"] for s, r in refs.items() if not (case.reference == name and s == seed)] or None
            findings = diagnose(run["rows"], case.algorithm, reference, env=case.env, error=run["error"],
                                gamma=run.get("gamma", 0.99))
            failing = run["error"] is not None or (reference is not None and _below(run["rows"], reference))
            verdicts.append(Verdict(name, int(seed), case.family, findings[0].families, failing,
                                    case.held_out(int(seed)), findings[0].summary()))
    return verdicts


def _below(rows: list[dict], reference: list[list[dict]]) -> bool:
    from cs285lab.doctor import FAIL_MARGIN, Reference

    band = Reference.of(reference).final_band([r["step"] for r in rows[-2:]])
    final = float(np.mean([r["eval_return"] for r in rows[-2:]]))
    return band is not None and final < band.low - FAIL_MARGIN * abs(band.median)


def confusion(verdicts: list[Verdict]) -> str:
    """The confusion table (label x first family named), then accuracy on the rules' seeds and on held-out seeds."""
    scored = [v for v in verdicts if v.scored]
    labels = sorted({v.label for v in scored}, key=lambda f: (f != "healthy", f))
    names = sorted({"+".join(v.predicted) for v in scored}, key=lambda f: (not f.startswith("healthy"), f))
    width = max(len(n) for n in names + labels + ["label \\ named"]) + 1
    lines = [" ".join(["label \\ named".ljust(width), *(n.rjust(width) for n in names)])]
    for label in labels:
        counts = [sum(1 for v in scored if v.label == label and "+".join(v.predicted) == n) for n in names]
        lines.append(" ".join([label.ljust(width), *(str(c or ".").rjust(width) for c in counts)]))
    lines.append("")
    for title, held in (("seeds the rules were decided on", False), ("held-out seeds", True)):
        broken = [v for v in scored if v.label != "healthy" and v.held_out == held]
        healthy = [v for v in scored if v.label == "healthy" and v.held_out == held]
        lines.append(f"{title}: right family first on {sum(v.correct for v in broken)}/{len(broken)} failing broken "
                     f"runs; no alarm on {sum(v.correct for v in healthy)}/{len(healthy)} reference runs")
    learned = [v for v in verdicts if not v.scored]
    if learned:
        lines.append(f"broken runs that learned anyway (not scored): {len(learned)}; the doctor named "
                     + ", ".join(f"{v.case} seed {v.seed}: {'+'.join(v.predicted)}" for v in learned))
    return "\n".join(lines)
