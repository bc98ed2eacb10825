"""cs285lab: the plumbing behind the deep RL course notebooks."""

from cs285lab.config import budget, profile
from cs285lab.seeding import seed_everything

__version__ = "0.1.0"
__all__ = ["budget", "profile", "seed_everything", "__version__"]
