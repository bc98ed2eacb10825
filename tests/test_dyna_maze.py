"""The Dyna Maze env: the book's layout and dynamics, slip, rendering, registration, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cs285lab.envs  # noqa: F401 - registers the ids
from cs285lab.envs.dyna_maze import (BLOCKING_ENV_ID, ENV_ID, SHORTCUT_ENV_ID, SLIPPERY_ENV_ID, DynaMazeEnv, Maze,
                                     make_maze)

UP, DOWN, RIGHT, LEFT = range(4)


def test_book_layout():
    maze = make_maze("dyna")
    assert (maze.rows, maze.cols) == (6, 9)
    assert divmod(maze.start, 9) == (2, 0) and divmod(maze.goal, 9) == (0, 8)
    walls = {divmod(s, 9) for s in range(maze.n_states) if maze.is_wall(s)}
    assert walls == {(1, 2), (2, 2), (3, 2), (4, 5), (0, 7), (1, 7), (2, 7)}
    assert maze.shortest_path() == 14


def test_moves_walls_and_edges():
    env = DynaMazeEnv()
    start, _ = env.reset(seed=0)
    assert env.step(LEFT)[0] == start                     # the edge: stay
    assert env.step(UP)[0] == start - 9                   # free cell above
    env.reset()
    env.step(RIGHT)                                        # (2, 1)
    assert env.step(RIGHT)[0] == 2 * 9 + 1                 # (2, 2) is a wall: stay


def test_goal_gives_reward_and_terminates():
    env = DynaMazeEnv()
    env.reset(seed=0)
    env.state = 1 * 9 + 8                                  # just below G
    state, reward, terminated, truncated, _ = env.step(UP)
    assert (state, reward, terminated, truncated) == (8, 1.0, True, False)
    env.reset()
    _, reward, terminated, _, _ = env.step(DOWN)
    assert (reward, terminated) == (0.0, False)


def test_tables_agree_with_step():
    env = DynaMazeEnv()
    next_state, reward, terminated = env.maze.tables()
    for s in range(env.maze.n_states):
        if env.maze.is_wall(s) or s == env.maze.goal:
            continue
        for a in range(4):
            env.reset()
            env.state = s
            s2, r, term, _, _ = env.step(a)
            assert (s2, r, term) == (next_state[s, a], reward[s, a], terminated[s, a])


def test_slip_is_seeded_and_random():
    def trajectory(seed):
        env = gym.make(SLIPPERY_ENV_ID)
        env.reset(seed=seed)
        return [env.step(RIGHT)[0] for _ in range(40)]

    assert trajectory(3) == trajectory(3)
    env = DynaMazeEnv(slip=1.0)
    env.reset(seed=0)
    outcomes = set()
    for _ in range(200):
        env.state = 4 * 9 + 1                              # an open cell: four distinct neighbours
        outcomes.add(env.step(RIGHT)[0])
    assert outcomes == {3 * 9 + 1, 5 * 9 + 1, 4 * 9 + 2, 4 * 9 + 0}


def test_render_modes():
    env = gym.make(ENV_ID, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.splitlines()[2] == "A.#....#." and text.splitlines()[0] == ".......#G"
    env = gym.make(ENV_ID, render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert img.shape == (6 * 24, 9 * 24, 3) and img.dtype == np.uint8
    assert tuple(img[2 * 24 + 12, 12]) == (220, 50, 50)    # the agent at S
    assert tuple(img[12, 8 * 24 + 12]) == (255, 205, 60)  # the goal


def test_registered_ids_and_spaces():
    for env_id in (ENV_ID, SLIPPERY_ENV_ID, BLOCKING_ENV_ID, SHORTCUT_ENV_ID):
        env = gym.make(env_id)
        assert env.observation_space == gym.spaces.Discrete(54) and env.action_space == gym.spaces.Discrete(4)
    assert gym.make(SLIPPERY_ENV_ID).unwrapped.slip == 0.2


def test_blocking_maze_changes():
    env = DynaMazeEnv("blocking", change_at=3)
    env.reset(seed=0)
    before = env.maze.shortest_path()
    for _ in range(3):
        env.step(UP)
    assert env.maze.grid != make_maze("blocking").grid and env.maze.shortest_path() != before


def test_bad_input_is_reported():
    env = DynaMazeEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be an int"):
        env.step(7)
    with pytest.raises(ValueError, match="unknown maze layout"):
        DynaMazeEnv("nope")
    with pytest.raises(ValueError, match="slip is a probability"):
        DynaMazeEnv(slip=1.5)
    with pytest.raises(ValueError, match="exactly one S"):
        Maze(("..G", "..."))
    with pytest.raises(ValueError, match="render_mode"):
        DynaMazeEnv(render_mode="human")


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make(ENV_ID, render_mode="ansi").unwrapped)
    check_env(gym.make(SLIPPERY_ENV_ID, render_mode="rgb_array").unwrapped)
