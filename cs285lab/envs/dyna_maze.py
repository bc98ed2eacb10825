"""The Dyna Maze of Sutton & Barto (Example 8.1) and its blocking/shortcut variants, as gymnasium envs.

The grid is drawn with characters: `S` start, `G` goal, `#` wall, `.` free. States are cell
indices (row * cols + col); actions are 0 up, 1 down, 2 right, 3 left (the book's order).
Moving into a wall or off the grid leaves the agent in place. Reaching G gives reward 1 and
terminates the episode (the book's "the agent starts again at S" is the next reset); every
other step gives 0. With `slip = p`, each action is replaced by a uniformly random one with
probability p (the "slippery" maze: a stochastic system with the same layout).

`Maze.tables()` exposes the deterministic dynamics as arrays, so tabular algorithms can run many
independent runs at numpy speed without calling `env.step` (see cs285lab.algos.dyna).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

ACTIONS = ("up", "down", "right", "left")
MOVES = np.array([(-1, 0), (1, 0), (0, 1), (0, -1)])

# Sutton & Barto, Figure 8.2: shortest path 14 steps.
DYNA_MAZE = (
    ".......#G",
    "..#....#.",
    "S.#....#.",
    "..#......",
    ".....#...",
    ".........",
)
# Figure 8.4 (blocking maze): the gap on the right closes and one opens on the left.
BLOCKING_MAZE = (
    "........G",
    ".........",
    ".........",
    "########.",
    ".........",
    "...S.....",
)
BLOCKING_MAZE_AFTER = (
    "........G",
    ".........",
    ".........",
    ".########",
    ".........",
    "...S.....",
)
# Figure 8.5 (shortcut maze): a shorter path opens on the right.
SHORTCUT_MAZE = (
    "........G",
    ".........",
    ".........",
    ".########",
    ".........",
    "...S.....",
)
SHORTCUT_MAZE_AFTER = (
    "........G",
    ".........",
    ".........",
    ".#######.",
    ".........",
    "...S.....",
)
LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None, int | None]] = {
    # name: (layout, layout after the change, env steps before the change)
    "dyna": (DYNA_MAZE, None, None),
    "blocking": (BLOCKING_MAZE, BLOCKING_MAZE_AFTER, 1000),
    "shortcut": (SHORTCUT_MAZE, SHORTCUT_MAZE_AFTER, 3000),
}


@dataclass(frozen=True)
class Maze:
    """A grid maze: rows of characters (S start, G goal, # wall, . free)."""

    grid: tuple[str, ...]

    def __post_init__(self) -> None:
        grid = tuple(self.grid)
        if not grid or any(len(row) != len(grid[0]) for row in grid):
            raise ValueError("a maze needs at least one row, all rows of the same length")
        text = "".join(grid)
        if set(text) - set("SG#."):
            raise ValueError(f"maze characters must be S, G, # or .; got {sorted(set(text) - set('SG#.'))}")
        if text.count("S") != 1 or text.count("G") != 1:
            raise ValueError("a maze needs exactly one S (start) and one G (goal)")
        object.__setattr__(self, "grid", grid)

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.grid)

    @property
    def cols(self) -> int:
        """Number of columns."""
        return len(self.grid[0])

    @property
    def n_states(self) -> int:
        """Number of cells (walls included; they are never visited)."""
        return self.rows * self.cols

    def _find(self, char: str) -> int:
        index = "".join(self.grid).index(char)
        return index

    @property
    def start(self) -> int:
        """The start state S."""
        return self._find("S")

    @property
    def goal(self) -> int:
        """The goal state G."""
        return self._find("G")

    def is_wall(self, state: int) -> bool:
        """True for a wall cell."""
        row, col = divmod(int(state), self.cols)
        return self.grid[row][col] == "#"

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Deterministic dynamics as arrays [S, A]: next state (int64), reward (float64), terminated (bool).

        The goal is absorbing (its own next state, reward 0, terminated): it is never acted from.
        """
        S, A = self.n_states, len(ACTIONS)
        next_state = np.zeros((S, A), dtype=np.int64)
        for state in range(S):
            row, col = divmod(state, self.cols)
            for action, (dr, dc) in enumerate(MOVES):
                r2, c2 = row + dr, col + dc
                blocked = not (0 <= r2 < self.rows and 0 <= c2 < self.cols) or self.grid[r2][c2] == "#"
                next_state[state, action] = state if blocked else r2 * self.cols + c2
        next_state[self.goal] = self.goal
        terminated = next_state == self.goal
        reward = terminated.astype(np.float64)
        reward[self.goal] = 0.0
        return next_state, reward, terminated

    def shortest_path(self) -> int:
        """Number of steps of the shortest path from S to G (breadth-first search)."""
        next_state, _, _ = self.tables()
        frontier, dist = [self.start], {self.start: 0}
        while frontier:
            state = frontier.pop(0)
            if state == self.goal:
                return dist[state]
            for s2 in next_state[state]:
                if int(s2) not in dist:
                    dist[int(s2)] = dist[state] + 1
                    frontier.append(int(s2))
        raise ValueError("the goal cannot be reached from the start")

    def ansi(self, agent: int | None = None) -> str:
        """The maze as text, with the agent drawn as A."""
        rows = [list(row) for row in self.grid]
        if agent is not None:
            row, col = divmod(int(agent), self.cols)
            rows[row][col] = "A"
        return "\n".join("".join(row) for row in rows) + "\n"

    def image(self, agent: int | None = None, cell: int = 24) -> np.ndarray:
        """The maze as an RGB image (uint8, [rows*cell, cols*cell, 3])."""
        colors = {".": (245, 245, 245), "#": (60, 60, 70), "S": (150, 200, 255), "G": (255, 205, 60)}
        img = np.zeros((self.rows * cell, self.cols * cell, 3), dtype=np.uint8)
        for row, line in enumerate(self.grid):
            for col, char in enumerate(line):
                img[row * cell:(row + 1) * cell, col * cell:(col + 1) * cell] = colors[char]
        img[::cell, :] = img[:, ::cell] = (200, 200, 200)  # grid lines
        if agent is not None:
            row, col = divmod(int(agent), self.cols)
            y, x = np.ogrid[:cell, :cell]
            disk = (y - cell / 2 + 0.5) ** 2 + (x - cell / 2 + 0.5) ** 2 <= (cell * 0.35) ** 2
            img[row * cell:(row + 1) * cell, col * cell:(col + 1) * cell][disk] = (220, 50, 50)
        return img


def make_maze(layout: str | tuple[str, ...] | list[str] = "dyna") -> Maze:
    """A Maze from a layout name ("dyna", "blocking", "shortcut") or a list of row strings."""
    if isinstance(layout, str):
        if layout not in LAYOUTS:
            raise ValueError(f"unknown maze layout {layout!r}; use one of {sorted(LAYOUTS)} or a list of rows")
        return Maze(LAYOUTS[layout][0])
    return Maze(tuple(layout))


class DynaMazeEnv(gym.Env):
    """Sutton & Barto's Dyna Maze: reward 1 at G (terminal), 0 elsewhere; optional slip probability."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}

    def __init__(self, layout: str | tuple[str, ...] | list[str] = "dyna", slip: float = 0.0,
                 render_mode: str | None = None, change_at: int | None = None) -> None:
        if not 0.0 <= float(slip) <= 1.0:
            raise ValueError(f"slip is a probability, got {slip}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.maze = make_maze(layout)
        after, default_change = (LAYOUTS[layout][1:] if isinstance(layout, str) else (None, None))
        self._after = Maze(after) if after is not None else None
        self.change_at = change_at if change_at is not None else default_change
        self.slip = float(slip)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Discrete(self.maze.n_states)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self._tables = self.maze.tables()
        self.total_steps = 0  # env steps over all episodes: the blocking/shortcut mazes change at change_at
        self.state = self.maze.start

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        """Put the agent at S."""
        super().reset(seed=seed)
        self.state = self.maze.start
        return int(self.state), {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        """Move (or slip), return (next state, reward, terminated, truncated=False, info)."""
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an int in 0..3 ({', '.join(ACTIONS)}), got {action!r}")
        slipped = self.slip > 0 and self.np_random.random() < self.slip
        if slipped:
            action = int(self.np_random.integers(len(ACTIONS)))
        next_state, reward, terminated = self._tables
        s = self.state
        self.state = int(next_state[s, action])
        self.total_steps += 1
        if self._after is not None and self.total_steps == self.change_at:
            self.maze = self._after  # the world changes under the agent (Dyna-Q+ experiments)
            self._tables = self.maze.tables()
        return self.state, float(reward[s, action]), bool(terminated[s, action]), False, {"slipped": slipped}

    def render(self) -> str | np.ndarray | None:
        """Text ("ansi") or an RGB array ("rgb_array") of the maze with the agent."""
        if self.render_mode == "ansi":
            return self.maze.ansi(self.state)
        if self.render_mode == "rgb_array":
            return self.maze.image(self.state)
        return None


ENV_ID = "cs285lab/DynaMaze-v0"
SLIPPERY_ENV_ID = "cs285lab/DynaMazeSlippery-v0"
BLOCKING_ENV_ID = "cs285lab/BlockingMaze-v0"
SHORTCUT_ENV_ID = "cs285lab/ShortcutMaze-v0"


def register() -> None:
    """Register the maze ids with gymnasium (idempotent)."""
    specs = {
        ENV_ID: {},
        SLIPPERY_ENV_ID: {"slip": 0.2},
        BLOCKING_ENV_ID: {"layout": "blocking"},
        SHORTCUT_ENV_ID: {"layout": "shortcut"},
    }
    for env_id, kwargs in specs.items():
        if env_id not in gym.registry:
            # No time limit: as in the book, an episode lasts until the goal is reached.
            gym.register(env_id, entry_point="cs285lab.envs.dyna_maze:DynaMazeEnv", kwargs=kwargs,
                         disable_env_checker=True)


register()
