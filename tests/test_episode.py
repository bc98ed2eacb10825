"""Episode animations: frames of a real episode, frames of given states, the HTML player (no browser)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cs285lab.plots.episode import animate, episode_frames, render_states, show_episode


def test_episode_frames_follow_the_policy_and_stop_at_the_end():
    frames = episode_frames("CartPole-v1", lambda obs: 0, seed=0, max_steps=200)
    # always pushing left ends a CartPole episode in well under 200 steps; one frame per step plus the reset
    assert 5 < len(frames) < 60
    assert all(f.shape == frames[0].shape and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])
    again = episode_frames("CartPole-v1", lambda obs: 0, seed=0, max_steps=200)
    assert len(again) == len(frames) and all(np.array_equal(a, b) for a, b in zip(frames, again))
    capped = episode_frames("CartPole-v1", lambda obs: int(obs[2] > 0), seed=0, max_steps=7)
    assert len(capped) == 8


def test_episode_frames_accept_tensors_and_arrays_as_actions():
    import torch

    frames = episode_frames("Pendulum-v1", lambda obs: torch.tensor([1.5]), max_steps=3)
    assert len(frames) == 4
    frames = episode_frames("CartPole-v1", lambda obs: np.array(1), max_steps=3)
    assert len(frames) == 4
    maze = episode_frames("cs285lab/DynaMaze-v0", lambda obs: 3, max_steps=4)
    assert len(maze) == 5 and maze[0].ndim == 3


@pytest.mark.parametrize("kwargs, error", [
    ({"env_id": 3}, "gymnasium id"),
    ({"env_id": "NoSuchEnv-v0"}, "cannot make 'NoSuchEnv-v0'"),
    ({"act": "left"}, "act must be a function"),
    ({"max_steps": 0}, "max_steps must be a positive int"),
    ({"seed": 1.5}, "seed must be an int"),
    ({"act": lambda obs: [0, 1]}, "returned 2 numbers for a Discrete"),
    ({"act": lambda obs: 0.5}, "return an int"),
])
def test_episode_frames_reject_bad_input_in_one_line(kwargs, error):
    args = {"env_id": "CartPole-v1", "act": lambda obs: 0, **kwargs}
    with pytest.raises((TypeError, ValueError), match=error):
        episode_frames(args.pop("env_id"), args.pop("act"), **args)


def test_render_states_draws_the_given_observations():
    angles = np.linspace(0.0, np.pi, 5)
    states = np.stack([np.cos(angles), np.sin(angles), np.zeros(5)], axis=1)
    frames = render_states("Pendulum-v1", states)
    assert len(frames) == 5 and len({f.tobytes() for f in frames}) == 5
    # the same observation draws the same picture as the real env in that state
    same = render_states("Pendulum-v1", np.repeat(states[:1], 2, axis=0))
    assert np.array_equal(same[0], same[1]) and np.array_equal(same[0], frames[0])
    upright = render_states("Pendulum-v1", [[1.0, 0.0, 0.0]])[0]
    hanging = render_states("Pendulum-v1", [[-1.0, 0.0, 0.0]])[0]
    assert not np.array_equal(upright, hanging)
    assert len(render_states("CartPole-v1", np.zeros((3, 4)))) == 3
    assert len(render_states("Acrobot-v1", np.tile([1.0, 0, 1, 0, 0, 0], (2, 1)))) == 2


@pytest.mark.parametrize("env_id, states, error", [
    ("Pendulum-v1", np.zeros((3, 2)), r"shape \(T, 3\)"),
    ("Pendulum-v1", np.zeros((0, 3)), r"shape \(T, 3\)"),
    ("Pendulum-v1", [[1.0, 0.0, np.nan]], r"states\[0\] is not finite"),
    ("cs285lab/DynaMaze-v0", np.zeros((3, 1)), "draws Acrobot, CartPole"),
])
def test_render_states_rejects_bad_input(env_id, states, error):
    with pytest.raises(ValueError, match=error):
        render_states(env_id, states)


def _frames_in(html: str) -> list[str]:
    return re.findall(r'"(data:image/(?:png|jpeg);base64,[^"]+)"', html)


def test_animate_embeds_every_frame_and_a_player():
    frames = episode_frames("CartPole-v1", lambda obs: 0, max_steps=30)
    anim = animate(frames, fps=20, title="push left")
    html = anim._repr_html_()
    assert "push left" in html and "<script>" in html and "setInterval" in html
    urls = _frames_in(html.split("<script>")[1])
    assert len(urls) == len(frames) and len(set(urls)) > len(frames) // 2  # the frames differ over time
    assert anim.panels == {"": len(frames)} and "episode: " in repr(anim)
    # small: downscaled, compressed frames (a few kB each, not the 720 kB of a raw 400x600 frame)
    assert anim.size_bytes < 6_000 * len(frames)


def test_animate_puts_episodes_side_by_side_and_holds_the_shorter_one():
    real = episode_frames("Pendulum-v1", lambda obs: [0.0], max_steps=10)
    model = render_states("Pendulum-v1", np.tile([0.0, 1.0, 0.0], (4, 1)))
    anim = animate({"real": real, "model": model}, title="MBPO")
    html = anim.data
    assert html.count('data-panel="') == 2 and ">real<" in html and ">model<" in html
    assert anim.panels == {"real": 11, "model": 4}
    assert 'data-frames="11"' in html  # the player runs to the longer episode


def test_animate_keeps_long_episodes_small_by_striding():
    frames = [np.full((20, 30, 3), i % 256, np.uint8) for i in range(1000)]
    html = animate(frames).data
    assert len(_frames_in(html.split("<script>")[1])) <= 400


@pytest.mark.parametrize("frames, kwargs, error", [
    ([], {}, "non-empty list"),
    ({}, {}, "empty"),
    ([np.zeros((4, 4))], {}, r"frame 0 has shape \(4, 4\)"),
    ([np.zeros((4, 4, 3), np.uint8)], {"fps": 0}, "fps must be a positive int"),
    ({"a": [np.zeros((4, 4, 3), np.uint8)], "b": "frames"}, {}, r"animate\['b'\]"),
])
def test_animate_rejects_bad_input(frames, kwargs, error):
    with pytest.raises((TypeError, ValueError), match=error):
        animate(frames, **kwargs)


def test_show_episode_is_animate_of_episode_frames():
    anim = show_episode("CartPole-v1", lambda obs: 1, seed=3, max_steps=20)
    steps = len(episode_frames("CartPole-v1", lambda obs: 1, seed=3, max_steps=20)) - 1
    assert f"CartPole-v1, seed 3: {steps} steps" in anim.data and anim.panels == {"": steps + 1}


# ----------------------------------------------------------------------------- no red box (issue 24)

_RENDER_SCRIPT = """
import os, numpy as np
from cs285lab.plots.episode import render_states, show_episode
show_episode("CartPole-v1", lambda obs: 0, max_steps=5)
render_states("Pendulum-v1", np.array([[1.0, 0.0, 0.0]]))
print("left set:", sorted(k for k in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER", "PYGAME_HIDE_SUPPORT_PROMPT") if k in os.environ))
"""
_BARE_PYGAME = "import pygame\npygame.display.init()\npygame.quit()\n"


def _run_headless(code: str):
    """Run `code` in a fresh python with no display, no XDG_RUNTIME_DIR and no SDL settings (a container, a hub)."""
    import os
    import subprocess
    import sys

    drop = ("XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "DISPLAY", "SDL_VIDEODRIVER", "SDL_AUDIODRIVER",
            "PYGAME_HIDE_SUPPORT_PROMPT")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_episodes_render_without_display_errors_where_xdg_runtime_dir_is_unset():
    # stderr is read at the file-descriptor level (a subprocess), where SDL writes and where Jupyter captures it
    bare = _run_headless(_BARE_PYGAME)
    if "XDG_RUNTIME_DIR" not in bare.stderr:
        pytest.skip("this SDL build does not probe Wayland, so the error cannot show here")
    result = _run_headless(_RENDER_SCRIPT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "XDG_RUNTIME_DIR" not in result.stderr and "ALSA" not in result.stderr, result.stderr
    assert "pygame" not in result.stdout, result.stdout  # no "pygame-ce 2.x (SDL ...)" banner either
    assert "left set: []" in result.stdout, "the rendering settings leaked into the student's process"


def test_offscreen_rendering_keeps_what_the_user_set(monkeypatch):
    import os

    from cs285lab.plots.episode import _offscreen

    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.delenv("SDL_AUDIODRIVER", raising=False)
    with _offscreen():
        assert os.environ["SDL_VIDEODRIVER"] == "x11" and os.environ["SDL_AUDIODRIVER"] == "dummy"
    assert os.environ["SDL_VIDEODRIVER"] == "x11" and "SDL_AUDIODRIVER" not in os.environ
