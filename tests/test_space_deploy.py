"""The Space deploys as it is: a card within the Hub's limits, requirements with nothing but PyPI names, a
set-up page when it is not configured, and an assembled folder that installs into a fresh virtual
environment from its own requirements.txt and serves a battle."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from s2s_arena.arena.spacefolder import assemble, check_card, requirements_from_wheel
from space_testkit import free_port

SPACE = Path(__file__).resolve().parent.parent / "space"
ROOT = SPACE.parent


def test_the_card_is_within_the_hubs_limits():
    assert check_card((SPACE / "README.md").read_text(encoding="utf-8")) == []
    bad = (SPACE / "README.md").read_text(encoding="utf-8").replace(
        "short_description: Blind votes on spoken answers to spoken instructions",
        "short_description: Blind pairwise voting on spoken responses to spoken instructions")
    assert any("short_description is 64 characters" in p for p in check_card(bad))
    assert any("colorFrom" in p for p in check_card(bad.replace("colorFrom: indigo", "colorFrom: teal")))
    assert any("hf_oauth" in p for p in check_card(bad.replace("hf_oauth: true\n", "")))


def test_requirements_name_only_packages():
    for line in (SPACE / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert not line.startswith((".", "/", "-")) and ".whl" not in line and "file:" not in line, line


def test_an_unconfigured_space_says_what_to_set(monkeypatch):
    from s2s_arena.arena.web import main

    for var in ("S2S_ARENA_DATA", "S2S_ARENA_RESPONSES"):
        monkeypatch.delenv(var, raising=False)
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setenv("GRADIO_SERVER_NAME", "127.0.0.1")
    srv = main(block=False)
    try:
        page = httpx.get(srv.url + "/")
        assert page.status_code == 503 and "S2S_ARENA_DATA" in page.text and "S2S_ARENA_RESPONSES" in page.text
        assert httpx.get(srv.url + "/healthz").json()["configured"] is False
    finally:
        srv.close()
    monkeypatch.setenv("S2S_ARENA_DATA", "/nonexistent/benchmark")
    monkeypatch.setenv("S2S_ARENA_RESPONSES", "/nonexistent/responses")
    srv = main(block=False)
    try:
        page = httpx.get(srv.url + "/")
        assert page.status_code == 503 and "could not load" in page.text and "/nonexistent/benchmark" in page.text
    finally:
        srv.close()


@pytest.mark.slow
def test_the_assembled_space_installs_in_a_fresh_venv_and_serves_a_battle(tmp_path, mini_dataset, arena_responses):
    # The project wheel, built here from the checkout.
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT),
                    "-w", str(wheels)], check=True)
    (wheel,) = wheels.glob("s2s_arena-*.whl")
    out = assemble(tmp_path / "space", wheel=wheel)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "app.py", "requirements.txt", "s2s_arena"]
    reqs = (out / "requirements.txt").read_text()
    assert requirements_from_wheel(wheel) == [x for x in reqs.splitlines() if x and not x.startswith("#")]
    assert ".whl" not in reqs and not any(x.startswith(("/", ".")) for x in reqs.splitlines())

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Only what the Space's own requirements.txt says (PyPI, or this machine's local copies of it).
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(out / "requirements.txt")], check=True,
                   timeout=1500)
    probe = subprocess.run([str(py), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "True"  # the Space runs without torch

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(S2S_ARENA_DATA=str(mini_dataset), S2S_ARENA_RESPONSES=str(arena_responses), PORT=str(port),
               GRADIO_SERVER_NAME="127.0.0.1", S2S_ARENA_DB_URL=f"sqlite:///{tmp_path / 'votes.db'}",
               PATH=f"{venv / 'bin'}:{os.environ.get('PATH', '')}")
    log = open(tmp_path / "space.log", "wb")
    proc = subprocess.Popen([str(py), "app.py"], cwd=out, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "space.log").read_text()[-3000:]
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, (tmp_path / "space.log").read_text()[-3000:]
            time.sleep(0.5)
        with httpx.Client(base_url=url, timeout=60) as c:
            b = c.post("/api/battle", json={})
            assert b.status_code == 200, b.text
            clip = c.get(b.json()["a"])
            assert clip.status_code == 200 and clip.content[:4] == b"RIFF"
            page = c.get("/")
            assert page.status_code == 200 and "gradio" in page.text.lower()
        # It ran the vendored package of this folder, under the fresh interpreter.
        assert str(out / "s2s_arena") in subprocess.run(
            [str(py), "-c", "import sys; sys.path.insert(0, '.'); import s2s_arena; print(s2s_arena.__file__)"],
            cwd=out, capture_output=True, text=True).stdout
    finally:
        proc.terminate()
        proc.wait(timeout=20)
