"""A tiny pixel-observation task that trains on a laptop CPU: Catch.

A ball falls one row per step from a random column at the top of a `rows x cols` grid; the
agent moves a paddle on the bottom row (left, stay, right). Catching the ball gives +1, missing
it -1, and the episode ends (after `rows - 1` steps; 5 with the default 6 x 5 grid). The agent sees only pixels: a [1, H, W]
float32 image in [0, 1] (each grid cell drawn as a `scale x scale` block), so it must find the ball and the
paddle in the image; both the value ("will I catch it?") and the policy ("which way?") need the
same features, which is where a shared conv trunk pays off.

Use it by id: `gym.make(PIXEL_CATCH)`, where PIXEL_CATCH = "cs285lab.envs.pixels:PixelCatch-v0"
(the module prefix makes gymnasium import this file first, also in subprocess workers).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

PIXEL_CATCH = "cs285lab.envs.pixels:PixelCatch-v0"
LEFT, STAY, RIGHT = 0, 1, 2


class PixelCatch(gym.Env):
    """Catch the falling ball, seen as a [1, rows*scale, cols*scale] float32 image (0 empty, 1 object)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, rows: int = 6, cols: int = 5, scale: int = 2, render_mode: str | None = None) -> None:
        if rows < 3 or cols < 2 or scale < 1:
            raise ValueError(f"PixelCatch needs rows >= 3, cols >= 2, scale >= 1; got {rows}, {cols}, {scale}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.rows, self.cols, self.scale = rows, cols, scale
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1, rows * scale, cols * scale), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._ball = (0, 0)
        self._paddle = cols // 2

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Drop a new ball in a random column; the paddle starts in the middle."""
        super().reset(seed=seed)
        self._ball = (0, int(self.np_random.integers(self.cols)))
        self._paddle = self.cols // 2
        return self._image(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move the paddle (0 left, 1 stay, 2 right), let the ball fall one row."""
        if not self.action_space.contains(action):
            raise ValueError(f"PixelCatch: action must be 0 (left), 1 (stay) or 2 (right), got {action!r}")
        self._paddle = int(np.clip(self._paddle + int(action) - 1, 0, self.cols - 1))
        row, col = self._ball
        self._ball = (row + 1, col)
        terminated = self._ball[0] == self.rows - 1
        reward = (1.0 if col == self._paddle else -1.0) if terminated else 0.0
        return self._image(), reward, terminated, False, {}

    def render(self) -> np.ndarray | None:
        """An RGB picture of the observation (rgb_array mode)."""
        if self.render_mode != "rgb_array":
            return None
        return np.repeat((self._image()[0] * 255).astype(np.uint8)[:, :, None], 3, axis=2)

    def _image(self) -> np.ndarray:
        grid = np.zeros((self.rows, self.cols), dtype=np.float32)
        grid[self._ball] = 1.0
        grid[self.rows - 1, self._paddle] = 1.0
        image = grid.repeat(self.scale, axis=0).repeat(self.scale, axis=1)
        return image[None]


if "PixelCatch-v0" not in gym.registry:
    gym.register("PixelCatch-v0", entry_point=PixelCatch)
