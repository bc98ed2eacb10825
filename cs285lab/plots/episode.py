"""Watch an agent act: an episode as an inline animation that needs no video codec.

    from cs285lab.plots.episode import show_episode, episode_frames, render_states, animate
    show_episode("CartPole-v1", lambda obs: agent.act(obs))          # one trained policy
    real = episode_frames("Pendulum-v1", act, seed=0, max_steps=100)
    imagined = render_states("Pendulum-v1", model_states)              # e.g. a model rollout
    animate({"real": real, "model": imagined}, title="MBPO")           # side by side

The animation is a small HTML player (play/pause, a slider) that swaps downscaled PNG/JPEG
frames in an <img>; the frames are embedded, so it plays wherever the notebook's output is
trusted (a notebook you ran). Untrusted, it shows its first frame.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import itertools
import json
import numbers
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from IPython.display import HTML

__all__ = ["episode_frames", "render_states", "animate", "show_episode", "EpisodeAnimation"]

MAX_FRAMES = 400  # longer episodes are shown with every k-th frame, so an output stays small
_counter = itertools.count()


def _check_env_id(env_id: Any) -> str:
    if not isinstance(env_id, str) or not env_id:
        raise TypeError(f"env_id must be a gymnasium id such as 'CartPole-v1', got {env_id!r}")
    return env_id


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


# pygame draws these frames into memory: no window, no sound. Left to itself, its init probes a display
# server (Wayland prints "error: XDG_RUNTIME_DIR is invalid or not set" where that variable is unset, as in
# containers and hubs) and a sound card (ALSA errors on a server), straight to the process's stderr, which
# Jupyter shows as a red box. SDL reads these variables when pygame initializes, inside env.render().
_OFFSCREEN = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


@contextlib.contextmanager
def _offscreen() -> Iterator[None]:
    """Render without a display or sound device while the block runs; a variable the user set is kept."""
    added = [key for key in _OFFSCREEN if key not in os.environ]
    for key in added:
        os.environ[key] = _OFFSCREEN[key]
    try:
        yield
    finally:  # env.close() has shut pygame down by now: a later window of the student's own gets the real driver
        for key in added:
            os.environ.pop(key, None)


def _make_env(env_id: str, env_kwargs: Mapping[str, Any] | None) -> Any:
    import gymnasium as gym

    import cs285lab.envs  # noqa: F401 - registers the course's own envs (the Dyna Maze)

    try:
        return gym.make(env_id, render_mode="rgb_array", **dict(env_kwargs or {}))
    except gym.error.Error as err:
        raise ValueError(f"cannot make {env_id!r} with render_mode='rgb_array': {err}") from None


def _to_action(space: Any, action: Any) -> Any:
    """The policy's output as the env expects it (a tensor, a 0-d array, a list...)."""
    import gymnasium as gym

    if hasattr(action, "detach"):
        action = action.detach().cpu().numpy()
    if isinstance(space, gym.spaces.Discrete):
        arr = np.asarray(action)
        if arr.size != 1:
            raise ValueError(f"act returned {arr.size} numbers for a Discrete action space; return one int")
        value = arr.reshape(()).item()
        if not float(value).is_integer():
            raise ValueError(f"act returned {value!r} for a Discrete action space; return an int")
        return int(value)
    if isinstance(space, gym.spaces.Box):
        arr = np.asarray(action, dtype=space.dtype)
        if arr.size != int(np.prod(space.shape)):
            raise ValueError(f"act returned an action of shape {arr.shape}; the env expects {space.shape}")
        return arr.reshape(space.shape)
    return action


def _frame(env: Any) -> np.ndarray:
    frame = env.render()
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise ValueError(f"{env.spec.id if env.spec else env} did not render an RGB array")
    return frame


def episode_frames(env_id: str, act: Callable[[np.ndarray], Any], *, seed: int = 0, max_steps: int = 200,
                   env_kwargs: Mapping[str, Any] | None = None) -> list[np.ndarray]:
    """RGB frames of one episode of `act(obs) -> action` in `env_id`, reset with `seed`, at most `max_steps` steps.

    The first frame is the reset state; one frame follows each step, until the episode ends
    (terminated or truncated) or `max_steps` steps were taken.
    """
    env_id = _check_env_id(env_id)
    if not callable(act):
        raise TypeError(f"act must be a function obs -> action (e.g. agent.act), got {type(act).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    max_steps = _check_positive_int("max_steps", max_steps)
    with _offscreen():
        env = _make_env(env_id, env_kwargs)
        try:
            obs, _ = env.reset(seed=int(seed))
            env.action_space.seed(int(seed))
            frames = [_frame(env)]
            for _ in range(max_steps):
                obs, _reward, terminated, truncated, _ = env.step(_to_action(env.action_space, act(obs)))
                frames.append(_frame(env))
                if terminated or truncated:
                    break
            return frames
        finally:
            env.close()


def _pendulum(obs: np.ndarray) -> np.ndarray:
    return np.array([np.arctan2(obs[1], obs[0]), obs[2]])


def _acrobot(obs: np.ndarray) -> np.ndarray:
    return np.array([np.arctan2(obs[1], obs[0]), np.arctan2(obs[3], obs[2]), obs[4], obs[5]])


def _identity(obs: np.ndarray) -> np.ndarray:
    return np.array(obs, dtype=float)


# observation -> env.unwrapped.state, for the classic-control envs whose state can be set
_STATE_FROM_OBS: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = {
    "Pendulum": (3, _pendulum),
    "Acrobot": (6, _acrobot),
    "CartPole": (4, _identity),
    "MountainCar": (2, _identity),
    "MountainCarContinuous": (2, _identity),
}


def render_states(env_id: str, states: np.ndarray | Sequence[Sequence[float]]) -> list[np.ndarray]:
    """RGB frames of observations `states` (shape (T, obs_dim)) drawn by a classic-control env.

    Draws any sequence of observations, e.g. a rollout imagined by a learned model, so it can be
    shown next to the real episode (`animate({"real": ..., "model": ...})`). Supported:
    Pendulum ([cos, sin, thetadot]), Acrobot, CartPole, MountainCar.
    """
    env_id = _check_env_id(env_id)
    family = env_id.split("/")[-1].split("-v")[0]
    if family not in _STATE_FROM_OBS:
        raise ValueError(f"render_states draws {', '.join(sorted(_STATE_FROM_OBS))} envs only, not {env_id!r}")
    dim, to_state = _STATE_FROM_OBS[family]
    if hasattr(states, "detach"):
        states = states.detach().cpu().numpy()
    arr = np.asarray(states, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != dim or len(arr) == 0:
        raise ValueError(f"states must have shape (T, {dim}) (observations of {env_id}), got {arr.shape}")
    if not np.isfinite(arr).all():
        first = int(np.argmax(~np.isfinite(arr).all(axis=1)))
        raise ValueError(f"states[{first}] is not finite ({arr[first].tolist()}); cannot draw it")
    with _offscreen():
        env = _make_env(env_id, None)
        try:
            env.reset(seed=0)
            frames = []
            for obs in arr:
                env.unwrapped.state = to_state(obs)
                if family == "Pendulum":
                    env.unwrapped.last_u = None  # no torque arrow: a state carries no action
                frames.append(_frame(env))
            return frames
        finally:
            env.close()


def _encode(frame: np.ndarray, size: int) -> str:
    """A data: URL of `frame` scaled to at most `size` px on its long side; PNG or JPEG, whichever is smaller."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))  # no copy of a uint8 frame
    scale = size / max(image.size)
    if scale < 1:
        # reducing_gap=1: an exact box average down to within 2x of the size first, then Lanczos (3x faster)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS, reducing_gap=1.0)
    png, jpeg = io.BytesIO(), io.BytesIO()
    # a 64-colour palette keeps classic-control drawings crisp at a few kB per frame; the octree quantizer
    # is 5x faster than the default median cut and looks the same on these flat drawings
    image.quantize(64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(png, format="PNG")
    image.save(jpeg, format="JPEG", quality=75)
    kind, data = min((("png", png.getvalue()), ("jpeg", jpeg.getvalue())), key=lambda kv: len(kv[1]))
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def _check_frames(name: str, frames: Any) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        frames = list(frames)
    if not isinstance(frames, Sequence) or isinstance(frames, (str, bytes)) or not frames:
        raise ValueError(f"{name}: expected a non-empty list of RGB frames (H, W, 3), got {type(frames).__name__}")
    out = []
    for i, f in enumerate(frames):
        f = np.asarray(f)
        if f.ndim != 3 or f.shape[2] not in (3, 4):
            raise ValueError(f"{name}: frame {i} has shape {f.shape}; expected (H, W, 3) RGB")
        out.append(f)
    return out


class EpisodeAnimation(HTML):
    """An HTML animation of one or more episodes side by side (what `animate` returns)."""

    def __init__(self, html_text: str, panels: dict[str, int], fps: int, size_bytes: int) -> None:
        super().__init__(html_text)
        self.panels = panels
        self.fps = fps
        self.size_bytes = size_bytes

    def __repr__(self) -> str:
        shown = ", ".join(f"{k or 'episode'}: {n} frames" for k, n in self.panels.items())
        return f"<episode animation ({shown}) at {self.fps} fps>"


def animate(frames: dict[str, list[np.ndarray]] | list[np.ndarray], *, fps: int = 30, title: str = "",
            size: int = 240) -> EpisodeAnimation:
    """An inline HTML animation of `frames` (one list, or a dict label -> list shown side by side).

    Frames are scaled to at most `size` px and embedded; a small player (play/pause, slider,
    loop) swaps them, so no video codec is needed. Shorter episodes hold their last frame.
    """
    fps = _check_positive_int("fps", fps)
    size = _check_positive_int("size", size)
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    if isinstance(frames, Mapping):
        if not frames:
            raise ValueError("animate: the dict of episodes is empty")
        panels = {str(k): _check_frames(f"animate[{k!r}]", v) for k, v in frames.items()}
    else:
        panels = {"": _check_frames("animate", frames)}
    longest = max(len(v) for v in panels.values())
    stride = -(-longest // MAX_FRAMES)  # ceil: keep at most MAX_FRAMES per panel
    encoded = {k: [_encode(f, size) for f in v[::stride]] for k, v in panels.items()}
    uid = "cs285ep-" + hashlib.sha1("".join(u for v in encoded.values() for u in v[:3]).encode()).hexdigest()[:10] \
        + f"-{next(_counter)}"
    steps = max(len(v) for v in encoded.values())
    cells = "".join(
        f'<figure style="margin:0 8px 0 0;text-align:center">'
        f'<img data-panel="{i}" src="{urls[0]}" alt="{html.escape(label or "episode")}, frame 1" '
        f'style="height:{size}px;image-rendering:auto;border:1px solid #ddd">'
        + (f'<figcaption style="font-size:12px;color:#444">{html.escape(label)}</figcaption>' if label else "")
        + "</figure>"
        for i, (label, urls) in enumerate(encoded.items()))
    heading = f'<div style="font-weight:600;font-size:13px;margin-bottom:4px">{html.escape(title)}</div>' \
        if title else ""
    controls = (f'<div style="font:12px sans-serif;margin-top:4px">'
                f'<button type="button" class="cs285ep-play" style="width:4.5em">pause</button> '
                f'<input type="range" class="cs285ep-slider" min="0" max="{steps - 1}" value="0" '
                f'style="width:{min(400, 60 + 3 * steps)}px;vertical-align:middle"> '
                f'<span class="cs285ep-label">step 0 / {(steps - 1) * stride}</span></div>')
    script = (
        "<script>(function(){"
        f"var root=document.getElementById({json.dumps(uid)});if(!root)return;"
        f"var frames={json.dumps(list(encoded.values()))};var n={steps},stride={stride},t=0,playing=true;"
        "var imgs=root.querySelectorAll('img[data-panel]');var slider=root.querySelector('.cs285ep-slider');"
        "var label=root.querySelector('.cs285ep-label');var button=root.querySelector('.cs285ep-play');"
        "function show(i){t=i;for(var p=0;p<imgs.length;p++){var f=frames[p];"
        "imgs[p].src=f[Math.min(i,f.length-1)];}slider.value=i;root.dataset.frame=i;"
        "label.textContent='step '+(i*stride)+' / '+((n-1)*stride);}"
        "var hold=0;var timer=setInterval(function(){"
        "if(!document.body.contains(root)){clearInterval(timer);return;}"  # output cleared: stop
        "if(!playing)return;if(t>=n-1){if(++hold<" + str(fps) + ")return;hold=0;show(0);return;}show(t+1);"
        "}," + str(max(1, round(1000 / fps))) + ");"
        "button.onclick=function(){playing=!playing;button.textContent=playing?'pause':'play';};"
        "slider.oninput=function(){playing=false;button.textContent='play';show(parseInt(slider.value));};"
        "})();</script>")
    text = (f'<div id="{uid}" class="cs285lab-episode" data-frames="{steps}" data-frame="0" '
            f'style="display:inline-block">{heading}<div style="display:flex">{cells}</div>{controls}</div>'
            + script)
    return EpisodeAnimation(text, {k: len(v) for k, v in panels.items()}, fps, len(text.encode()))


def show_episode(env_id: str, act: Callable[[np.ndarray], Any], *, seed: int = 0, max_steps: int = 200,
                 fps: int = 30, title: str = "", env_kwargs: Mapping[str, Any] | None = None) -> EpisodeAnimation:
    """Run one episode of `act` in `env_id` and return it as an inline animation (display it, or end a cell with it)."""
    frames = episode_frames(env_id, act, seed=seed, max_steps=max_steps, env_kwargs=env_kwargs)
    return animate(frames, fps=fps, title=title or f"{env_id}, seed {seed}: {len(frames) - 1} steps")
