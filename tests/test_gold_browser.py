"""Gold and re-served battles in a real browser look exactly like ordinary ones before the vote.

Playwright drives Debian's Chromium against a real server over the mini benchmark and the reference
systems' real spoken responses (``arena_responses`` in conftest.py), with a large share of gold and
re-served battles. For every battle the page shows, the test records the DOM of the battle (tags and
attributes, clip tokens masked), the clip URLs and the bytes of every clip, and then asks the server
which role the battle had: nothing recorded may differ by role.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter

import pytest

from s2s_arena.arena import crowd
from s2s_arena.arena.web import serve
from space_testkit import free_port, wav_metadata

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = re.compile(r"/clip/[A-Za-z0-9_-]{22,64}")

# The battle's markup as a list of (tag, attributes), clip tokens masked, text left out (the instruction
# differs from battle to battle whatever its role).
SHAPE_JS = """() => Array.from(document.querySelectorAll('#battle *')).map(e =>
    [e.tagName, Array.from(e.attributes).map(a => a.name + '=' + a.value).sort().join(' ')])"""
FETCH_JS = """async (src) => { const r = await fetch(src); const b = new Uint8Array(await r.arrayBuffer());
    let s = ''; for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
    return [r.status, Array.from(r.headers.entries()).map(h => h.join(': ')).sort(), btoa(s)]; }"""


@pytest.fixture(scope="module")
def space(tmp_path_factory, mini_dataset, arena_responses):
    root = tmp_path_factory.mktemp("gold_browser")
    srv = serve(mini_dataset, arena_responses, f"sqlite:///{root / 'votes.db'}", port=free_port(), block=False,
                bootstrap=0, seed=3, gold_share=0.35, reserve_share=0.6, allow_anonymous=True,
                votes_per_minute_session=1000, votes_per_minute_client=1000, battles_per_minute_session=1000,
                battles_per_minute_client=1000)
    yield srv
    srv.close()


def mask(s: str) -> str:
    return TOKEN.sub("/clip/TOKEN", s)


def test_gold_and_reserved_battles_look_like_ordinary_ones_before_the_vote(space, browser):
    arena = space.ctx.arena
    assert arena.planner is not None and arena.planner.gold is not None and len(arena.planner.gold) > 0
    # Other voters vote first (in-process, the same code path as the page), so there is something to re-serve.
    # (Re-serves are held back meanwhile, so that these votes fill the queue rather than drain it.)
    share, arena.planner.reserve.share = arena.planner.reserve.share, 0.0
    for i in range(20):
        b = arena.new_battle(f"earlier-voter-{i}")
        crowd.listen_fully(arena, b)
        arena.vote(b.token, "a", session=f"earlier-voter-{i}")
    arena.planner.reserve.share = share
    assert len(arena.planner.reserve) >= 5

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(mask(f"{r.method} {r.url}")))
    page.goto(space.url)
    page.wait_for_selector("audio[data-side=a]", timeout=60_000)
    seen: dict[str, dict] = {}

    def enough() -> bool:
        roles = Counter(b["role"] for b in seen.values())
        return all(roles[r] >= 2 for r in ("gold", "reserve", "ordinary"))

    while not enough() and len(seen) < 40:
        old = page.get_attribute("#battle audio[data-side=a]", "src")
        if seen:
            page.get_by_role("button", name="New battle").click()
            page.wait_for_function("(old) => { const a = document.querySelector('#battle audio[data-side=a]');"
                                   " return a && a.getAttribute('src') !== old; }", arg=old, timeout=30_000)
        srcs = page.eval_on_selector_all("#battle audio[data-side]", "els => els.map(e => e.getAttribute('src'))")
        token = arena.clips[srcs[0].rsplit("/", 1)[-1]].battle
        clips = {}
        for side, src in zip(("instruction", "a", "b"), srcs):
            status, headers, body = page.evaluate(FETCH_JS, src)
            data = base64.b64decode(body)
            clips[side] = {"status": status, "headers": [h for h in headers if not h.startswith(("date", "content-length", "content-range"))],
                           "meta": wav_metadata(data), "sha": hashlib.sha256(data).hexdigest(), "size": len(data)}
        plan = arena.planner.roles.get(token)
        seen[token] = {"role": plan.role if plan else "ordinary", "shape": page.evaluate(SHAPE_JS),
                       # (less Gradio's own progress overlay, "0.1s" or on a busy machine "queue: 1/1 |
                       # 0.0s", which shows while an event runs or waits, whatever the battle)
                       "status": re.sub(r"^\s*(queue: \d+/\d+ \| )?[\d.]+s\s*", "",
                                        page.locator("#listen-status").inner_text()),
                       "srcs": srcs, "clips": clips,
                       "votes_locked": page.locator("#vote-a").is_disabled(), "url": page.url}
    page.close()

    roles = Counter(b["role"] for b in seen.values())
    assert roles["gold"] >= 2 and roles["reserve"] >= 2 and roles["ordinary"] >= 2, roles
    ordinary = next(b for b in seen.values() if b["role"] == "ordinary")
    base_shape = [(tag, mask(attrs)) for tag, attrs in ordinary["shape"]]
    for tok, b in seen.items():
        # The same markup, the same status line, the same locked buttons, the same page URL.
        assert [(tag, mask(attrs)) for tag, attrs in b["shape"]] == base_shape, b["role"]
        # The status line is one of the two every battle shows before anything is heard (the second
        # once the page's one-second timer has ticked).
        assert b["status"] in ("Listen to both responses to the end to unlock voting.",
                               "Heard so far: A 0% · B 0% (voting unlocks at 80% of each)"), b["status"]
        assert b["votes_locked"] and b["url"] == ordinary["url"]
        # Clip URLs: one random token each, nothing else.
        assert all(TOKEN.fullmatch(s) for s in b["srcs"])
        for side, c in b["clips"].items():
            o = ordinary["clips"][side]
            assert c["status"] == 200 and c["headers"] == o["headers"]
            # The same bare WAV header layout (format, rate, channels): only the length may differ.
            assert c["meta"][:4] == o["meta"][:4] and c["meta"][12:36] == o["meta"][12:36]
        # Both responses of a battle are padded to one length, gold or not.
        assert b["clips"]["a"]["size"] == b["clips"]["b"]["size"]
    # No clip's bytes repeat across battles: a re-served battle does not replay its original's bytes.
    hashes = [c["sha"] for b in seen.values() for side, c in b["clips"].items() if side != "instruction"]
    assert len(set(hashes)) == len(hashes)
    # The network log of the page shows the same kinds of requests, whatever the role.
    assert not any(word in " ".join(requests).lower() for word in ("gold", "reserve", "origin", "expected"))
