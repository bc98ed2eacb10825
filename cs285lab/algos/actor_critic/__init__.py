"""Actor-critic, written once, one subject per file:

    targets.py   the TD target, GAE, the policy + value loss (`actor_critic_loss`)
    networks.py  encoders, heads, SeparateActorCritic / SharedActorCritic, greedy_policy
    rollout.py   sampling with the current policy on N workers (`collect_step`, `collect_transitions`)
    a2c.py       synchronous parallel actor-critic: `A2CConfig`, `train_a2c`
    online.py    online actor-critic (a batch of one): `online_update`, `train_online_ac`

Every public name is importable from here, as it was from the single module before the split.
"""

from cs285lab.algos.actor_critic.networks import (PolicyHead, SeparateActorCritic, SharedActorCritic, ValueHead,
                                                  greedy_policy, make_actor_critic, make_encoder, sample_actions)
from cs285lab.algos.actor_critic.targets import actor_critic_loss, gae_advantages, policy_value_loss, td_target
from cs285lab.algos.actor_critic.rollout import (RecordEpisodes, Rollout, collect_rollout, collect_step,
                                                 collect_transitions)
from cs285lab.algos.actor_critic.a2c import ADVANTAGES, A2CConfig, train_a2c
from cs285lab.algos.actor_critic.online import OnlineConfig, online_update, train_online_ac
from cs285lab.batch import Batch
from cs285lab.envs import evaluate
from cs285lab.envs.vector import make_vec_env

__all__ = [
    "Batch", "SeparateActorCritic", "SharedActorCritic", "PolicyHead", "ValueHead", "make_encoder",
    "make_actor_critic", "td_target", "gae_advantages", "policy_value_loss", "actor_critic_loss",
    "online_update", "make_vec_env", "collect_transitions", "train_a2c", "train_online_ac", "greedy_policy",
    "sample_actions", "A2CConfig", "OnlineConfig", "ADVANTAGES", "collect_step", "collect_rollout", "Rollout",
    "RecordEpisodes", "evaluate",
]
