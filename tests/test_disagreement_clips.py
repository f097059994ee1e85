"""Error analysis in the Space: the disagreement list plays both responses of each listed pair, through a
route that serves only those pairs (already voted on), with a fresh rendering per listing, and nothing
else: no arbitrary (sample, system), no clip of an open battle. A real server on 127.0.0.1, a real store."""

from __future__ import annotations

import secrets
import time
import uuid

import httpx
import pytest

from s2s_arena.arena.web import serve
from s2s_arena.schema import Vote
from space_testkit import free_port, wav_chunks


def add_vote(store, session, sample, a, b, winner, level):
    tok = uuid.uuid4().hex
    store.add_battle(dict(token=tok, session=session, client="", created_at=time.time(), sample_id=sample,
                          level=level, domain="d", task="t", system_a=a, system_b=b, p_pair=1 / 6))
    store.add_vote(Vote(vote_id=uuid.uuid4().hex, session=session, sample_id=sample, system_a=a, system_b=b,
                        winner=winner, p_pair=1 / 6, listened_a=1.0, listened_b=1.0), battle_token=tok)


@pytest.fixture(scope="module")
def space(tmp_path_factory, mini_dataset, mini_responses):
    root = tmp_path_factory.mktemp("disagreements")
    srv = serve(mini_dataset, mini_responses, f"sqlite:///{root / 'votes.db'}", port=free_port(), block=False,
                bootstrap=0, ui=False, battles_per_minute_session=1000, battles_per_minute_client=1000)
    yield srv
    srv.close()


def test_disagreements_play_both_responses_and_nothing_else_is_served(space):
    arena = space.ctx.arena
    (s_dis, sys_dis), (s_ok, sys_ok) = sorted((sid, sorted(s)) for sid, s in arena.playable.items())[:2]
    x, y = sys_dis[:2]
    lv = arena.samples[s_dis].level
    # Two voters disagree on (s_dis, x, y); two others agree on s_ok: only the first is listed.
    add_vote(arena.store, "voter-one-secret", s_dis, x, y, "a", lv)
    add_vote(arena.store, "voter-two-secret", s_dis, y, x, "a", lv)
    for who in ("voter-three-secret", "voter-four-secret"):
        add_vote(arena.store, who, s_ok, sys_ok[0], sys_ok[1], "a", arena.samples[s_ok].level)

    with httpx.Client(base_url=space.url, timeout=60) as c:
        r = c.get("/api/disagreements")
        assert r.status_code == 200
        assert "secret" not in r.text and "session" not in r.text  # voter ids stay hidden
        items = r.json()["items"]
        assert [(d["sample_id"], d["system_first"], d["system_second"]) for d in items] == [(s_dis, *sorted((x, y)))]
        d = items[0]
        assert d["voters_disagree"] and sorted(d["human"]) == sorted(set(d["human"]))
        clips = {}
        for key, system in (("clip_first", d["system_first"]), ("clip_second", d["system_second"])):
            resp = c.get(d[key])
            assert resp.status_code == 200 and resp.headers["content-type"] == "audio/wav"
            assert [cid for cid, _ in wav_chunks(resp.content)] == [b"fmt ", b"data"]
            assert len(resp.content) > 24000  # real speech, not an empty file
            part = c.get(d[key], headers={"Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == resp.content[100:200]  # one rendering per token
            assert space.ctx._validity[1].pair_of(d[key].rsplit("/", 1)[1]) == (s_dis, system)
            clips[key] = resp.content
        assert clips["clip_first"] != clips["clip_second"]

        # Every listing renders afresh: the same response never has the same bytes twice.
        again = c.get("/api/disagreements").json()["items"][0]
        assert again["clip_first"] != d["clip_first"]
        assert c.get(again["clip_first"]).content != clips["clip_first"]

        # Not in the list -> 404: no URL names a (sample, system), unknown tokens and open battles' clips
        # are not served here.
        for path in (f"/agreement/clip/{s_ok}/{sys_ok[0]}", f"/agreement/clip/{s_ok}",
                     f"/agreement/clip/{sys_ok[0]}", f"/agreement/clip/{secrets.token_urlsafe(18)}",
                     f"/agreement/clip/{s_dis}/{x}", "/agreement/clip/..%2Fvotes.db"):
            assert c.get(path).status_code == 404, path
        battle = c.post("/api/battle", json={}).json()
        open_clip = battle["a"]
        assert c.get(open_clip).status_code == 200  # the battle's own route serves it ...
        assert c.get("/agreement/clip/" + open_clip.rstrip("/").rsplit("/", 1)[1]).status_code == 404  # ... this one not
    # The Agreement tab's HTML: two players per listed pair, pointing at this route.
    from s2s_arena.arena.validity_tab import listing, listing_html

    page = listing_html(listing(*space.ctx._validity))
    assert page.count('<audio controls preload="none" src="/agreement/clip/') == 2 and "secret" not in page
    served = {v[2] for v in space.ctx._validity[1]._clips.values()}
    assert served == {(s_dis, x), (s_dis, y)}  # tokens were only ever issued for the listed pair
