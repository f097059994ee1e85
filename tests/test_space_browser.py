"""The Space in a real browser: Playwright driving Debian's Chromium against a real server.

Data: the mini benchmark built by the real pipeline and real spoken responses (``arena_responses`` in
conftest.py: the four reference systems and a fifth synthesized one). The battles are drawn from
level L0 (chosen in the page's level menu), whose responses are 2-8 s long.

Set ``S2S_ARENA_SCREENSHOTS=DIR`` to keep screenshots of the arena and the leaderboard (the README's
images are made this way).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from s2s_arena.responses import load_responses
from s2s_arena.arena.web import serve
from space_testkit import free_port, wav_metadata

pytestmark = [pytest.mark.browser, pytest.mark.slow]



@pytest.fixture(scope="module")
def system_names(arena_responses) -> list[str]:
    return sorted(load_responses(arena_responses))


@pytest.fixture(scope="module")
def space(tmp_path_factory, mini_dataset, arena_responses):
    root = tmp_path_factory.mktemp("browser")
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{root / 'votes.db'}", port=free_port(), block=False,
                bootstrap=0)
    yield srv
    srv.close()


def new_l0_battle(page) -> None:
    """Pick level L0 in the page's menu and start a new battle (the page load already showed one)."""
    page.locator("input[aria-label='Level']").click()
    page.get_by_role("option", name="L0").click()
    old = page.get_attribute("#battle audio[data-side=a]", "src")
    page.get_by_role("button", name="New battle").click()
    # A new battle has new clip tokens, so a new src.
    page.wait_for_function("(old) => { const a = document.querySelector('#battle audio[data-side=a]');"
                           " return a && a.getAttribute('src') !== old; }", arg=old, timeout=30_000)
    assert "Level L0" in page.locator("#battle").inner_text()


def play_both(page) -> None:
    """Play both responses side by side, as a visitor with two players may, until both ended."""
    for side in ("a", "b"):
        page.evaluate(f"document.querySelector('audio[data-side={side}]').play()")
    for side in ("a", "b"):
        page.wait_for_function(f"document.querySelector('audio[data-side={side}]').ended", timeout=40_000)


def test_listen_vote_reveal_and_leaderboard(space, browser, system_names, fifth_system):
    shots = os.environ.get("S2S_ARENA_SCREENSHOTS")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    seen: list[str] = []  # URL and headers of every request and response before the vote
    page.on("request", lambda r: seen.append(f"{r.method} {r.url} {r.headers}"))
    page.on("response", lambda r: seen.append(f"{r.status} {r.url} {r.headers}"))
    page.goto(space.url)
    page.wait_for_selector("audio[data-side=a]", timeout=60_000)
    new_l0_battle(page)

    # Voting is locked until both clips were heard (as measured by the server).
    assert page.locator("#vote-a").is_disabled()
    assert page.locator("#battle").inner_text().count("Response") == 2
    play_both(page)
    page.wait_for_function("!document.querySelector('#vote-a').disabled", timeout=30_000)
    if shots:
        page.screenshot(path=str(Path(shots) / "arena.png"), full_page=True)

    # Before the vote: no system name in the DOM, in any URL or header, or in the served audio.
    dom = page.content()
    srcs = page.eval_on_selector_all("audio[data-side]", "els => els.map(e => e.src)")
    assert len(srcs) == 3 and all("/clip/" in s for s in srcs)
    bodies = []
    for src in srcs:
        r = page.request.get(src)
        assert r.ok and "content-disposition" not in r.headers
        bodies.append(wav_metadata(r.body()))  # a bare PCM WAV: fmt + data chunks only
    # Gradio's own markup uses ordinary words as CSS classes (<div class="reference">): class names
    # are the framework's, not data; everything else in the DOM is searched.
    dom_data = re.sub(r'\sclass="[^"]*"', "", dom)
    haystack = (dom_data + "\n".join(seen)).lower().encode() + b"".join(bodies).lower()
    assert any("/clip/" in s for s in seen)  # the network log really holds the clip requests
    assert "spoken instruction" in dom_data.lower() and "response a" in dom_data.lower()
    assert len(system_names) == 5 and fifth_system in system_names
    assert fifth_system.encode() not in (dom + "\n".join(seen)).lower().encode()  # classes included
    for name in system_names:
        i = haystack.find(name.encode())
        assert i < 0, f"{name} visible before the vote: ...{haystack[max(0, i - 200):i + 100]!r}..."

    # Vote: the pair is revealed.
    page.click("#vote-a")
    page.wait_for_selector("#reveal:has-text('Revealed')", timeout=20_000)
    reveal = page.locator("#reveal").inner_text()
    shown = re.search(r"A = (\S+) · B = (\S+)", reveal)
    assert shown and shown[1] != shown[2] and {shown[1], shown[2]} <= set(system_names) and "counted" in reveal
    (stored,) = space.ctx.arena.store.votes()
    assert stored["counted"] and stored["winner"] == "a" and (stored["system_a"], stored["system_b"]) == shown.groups()
    assert stored["listened_a"] >= 0.8 and stored["listened_b"] >= 0.8

    # The leaderboard shows that vote ...
    page.get_by_role("tab", name="Leaderboard").click()
    page.wait_for_selector("#board-summary:has-text('1 counted votes')", timeout=30_000)
    board = page.locator("#human-board").inner_text()
    assert stored["system_a"] in board and stored["system_b"] in board and "preliminary" in board

    # ... and changes after the next one.
    page.get_by_role("tab", name="Arena").click()
    page.click("#next-battle")
    page.wait_for_function("!document.querySelector('#reveal') || !document.querySelector('#reveal').innerText.includes('Revealed')",
                           timeout=20_000)
    page.wait_for_selector("audio[data-side=a]", timeout=20_000)
    assert "Level L0" in page.locator("#battle").inner_text()  # the menu's level holds for the next one
    assert page.locator("#vote-b").is_disabled()
    play_both(page)
    page.wait_for_function("!document.querySelector('#vote-b').disabled", timeout=30_000)
    page.click("#vote-b")
    page.wait_for_selector("#reveal:has-text('Revealed')", timeout=20_000)
    page.get_by_role("tab", name="Leaderboard").click()
    page.wait_for_selector("#board-summary:has-text('2 counted votes')", timeout=30_000)
    page.wait_for_selector("#heatmap img", timeout=30_000)  # the win-fraction heatmap
    if shots:
        page.screenshot(path=str(Path(shots) / "leaderboard.png"), full_page=True)
    assert len(space.ctx.arena.store.votes(counted_only=True)) == 2
    page.close()


def test_vote_without_listening_is_impossible_in_the_page(space, browser):
    page = browser.new_page()
    page.goto(space.url)
    page.wait_for_selector("audio[data-side=a]", timeout=60_000)
    new_l0_battle(page)
    # Forcing the disabled button does nothing: Gradio ignores clicks on a non-interactive button.
    page.click("#vote-tie", force=True)
    page.wait_for_timeout(1500)
    assert "Revealed" not in page.locator("#reveal").inner_text()
    # Playing only one clip keeps the vote locked.
    page.evaluate("document.querySelector('audio[data-side=a]').play()")
    page.wait_for_function("document.querySelector('audio[data-side=a]').ended", timeout=40_000)
    page.wait_for_timeout(1500)
    assert page.locator("#vote-tie").is_disabled()
    assert "B 0%" in page.locator("#listen-status").inner_text()
    page.close()


def _forged_oauth_cookie(client_secret: str, username: str) -> str:
    """The session cookie Gradio's OAuth callback would set after Sign in with Hugging Face (Starlette's
    SessionMiddleware format, signed with the key Gradio derives from the Space's OAuth secret)."""
    import base64
    import hashlib
    import json
    import time as _time

    import itsdangerous

    info = {"access_token": "test-token", "token_type": "bearer", "scope": "openid profile",
            "expires_at": int(_time.time()) + 3600,
            "userinfo": {"sub": "1", "name": username.title(), "preferred_username": username,
                         "profile": f"https://huggingface.co/{username}", "picture": ""}}
    key = hashlib.sha256((client_secret + "-v4").encode()).hexdigest()
    data = base64.b64encode(json.dumps({"oauth_info": info}).encode())
    return itsdangerous.TimestampSigner(str(key)).sign(data).decode()


def test_on_spaces_only_signed_in_votes_count_and_only_they_reveal(tmp_path, browser, mini_dataset, arena_responses):
    import subprocess
    import sys

    import httpx

    port = free_port()
    secret = "test-oauth-secret"
    env = {**os.environ, "SYSTEM": "spaces", "SPACE_ID": "test/s2s-arena", "OAUTH_CLIENT_ID": "test-client",
           "OAUTH_CLIENT_SECRET": secret, "OPENID_PROVIDER_URL": "https://huggingface.co", "OAUTH_SCOPES": "openid profile",
           "S2S_ARENA_DATA": str(mini_dataset), "S2S_ARENA_RESPONSES": str(arena_responses), "PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1", "S2S_ARENA_DB_URL": f"sqlite:///{tmp_path / 'votes.db'}"}
    env.pop("S2S_ARENA_ALLOW_ANONYMOUS", None)
    log = open(tmp_path / "space.log", "wb")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parent.parent / "space" / "app.py")],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "space.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("audio[data-side=a]", timeout=60_000)
        assert page.get_by_role("button", name=re.compile("Sign in", re.I)).count() >= 1
        assert "signed in" in page.locator("#listen-status").inner_text()
        new_l0_battle(page)
        play_both(page)
        page.wait_for_function("!document.querySelector('#vote-a').disabled", timeout=30_000)
        page.click("#vote-a")
        page.wait_for_selector("#reveal:has-text('not counted')", timeout=20_000)
        reveal = page.locator("#reveal").inner_text()
        assert "Revealed" not in reveal and "Sign in" in reveal

        context.add_cookies([{"name": "session", "value": _forged_oauth_cookie(secret, "alice"), "url": url}])
        page.goto(url)
        page.wait_for_selector("audio[data-side=a]", timeout=60_000)
        new_l0_battle(page)
        play_both(page)
        page.wait_for_function("!document.querySelector('#vote-b').disabled", timeout=30_000)
        page.click("#vote-b")
        page.wait_for_selector("#reveal:has-text('Revealed')", timeout=20_000)
        assert "counted" in page.locator("#reveal").inner_text()
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    from s2s_arena.arena.store import VoteStore

    store = VoteStore(f"sqlite:///{tmp_path / 'votes.db'}")
    rows = store.votes()
    store.close()
    assert [(r["counted"], r["exclusion_reason"]) for r in rows] == [(False, "anonymous"), (True, "")]
    assert rows[1]["session"] == "hf:alice" and rows[0]["session"].startswith("s:")
    assert rows[0]["client"].startswith("ip:") and "127.0.0.1" not in rows[0]["client"]
