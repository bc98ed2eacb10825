"""`make lab` serves JupyterLab on the course, and its kernel imports cs285lab from .venv."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A loaded 2-core machine starts a server or a kernel slowly: every wait below is on a condition with a
# generous deadline (it returns as soon as the condition holds), never a fixed sleep or a tight timeout.
DEADLINE = 300.0


def get(url: str, token: str, method: str = "GET", timeout: float = 10.0) -> dict:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"},
                                     data=b"{}" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(condition, what: str, within: float = DEADLINE):
    """Poll `condition` until it returns something true (and return it); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            value = condition()
        except OSError:  # the server is not answering yet, or answered slowly
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:.0f} s waiting for {what}")
        time.sleep(0.3)


@pytest.mark.slow
def test_make_lab_serves_the_course_with_a_working_kernel(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0"
    server = subprocess.Popen(["make", "--no-print-directory", "lab", f"ARGS={args}"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def serving():
            if server.poll() is not None:
                output = server.stdout.read().decode(errors="replace")
                pytest.fail(f"make lab exited before serving /api/status on port {port}:\n{output[-3000:]}")
            return get(f"{base}/api/status", token)

        status = wait_for(serving, f"make lab to serve /api/status on port {port}")
        assert server.poll() is None, "the server answering is not the one make lab started"
        assert "started" in status
        # The file browser is rooted at notebooks/: the course notebooks are there, the solutions are not.
        listing = get(f"{base}/api/contents", token)
        names = {item["name"] for item in listing["content"]}
        assert "00_getting_started.ipynb" in names and "solutions" not in names, sorted(names)
        # POST /api/kernels answers once the kernel process is launched (slow on a loaded machine); the kernel
        # is ready when it answers kernel_info (wait_for_ready polls that until its deadline).
        kernel = get(f"{base}/api/kernels", token, method="POST", timeout=DEADLINE)
        connection = wait_for(lambda: next((tmp_path / "runtime").glob(f"kernel-{kernel['id']}.json"), None),
                              "the kernel's connection file")
        outputs: list[str] = []
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=DEADLINE)
            reply = client.execute_interactive(
                "import sys, cs285lab; print(sys.prefix); print(cs285lab.__file__)", timeout=DEADLINE,
                output_hook=lambda msg: outputs.append(msg["content"].get("text", "")))
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok"
        prefix, package = "".join(outputs).split()
        assert Path(prefix).resolve() == Path(sys.prefix).resolve(), "the kernel must run in the project's .venv"
        assert Path(package).resolve().is_relative_to(ROOT)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

