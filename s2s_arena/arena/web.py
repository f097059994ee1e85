"""The S2S-Arena Space: a FastAPI app with the arena's own routes and the Gradio UI mounted at ``/``.

Own routes (all tokens are random per battle; nothing in a URL names a system or a file):

* ``GET  /clip/<clip>``               this battle's own rendering of a clip, with Range support (bytes
                                      are counted)
* ``POST /clip/<clip>/<event>``       play | pause | ended, timed by the server's play clock
* ``POST /api/battle``                a new battle (JSON: instruction, target, clip URLs; no systems);
                                      429 with ``Retry-After`` over the voter's or address's battle limit
* ``GET  /api/battle/<token>``        listening so far and whether voting is unlocked
* ``POST /api/vote``                  {token, winner, failure?} -> the stored vote; the systems only
                                      when it counted
* ``GET  /api/disagreements``         the validity report's disagreement list (pairs already voted
                                      on; systems named, voters not), each with two fresh clip URLs
* ``GET  /agreement/clip/<clip>``     a response of a listed pair, under a token issued by that list only
* ``GET  /healthz``                   votes in the store

Every request passes :class:`s2s_arena.arena.guard.Guard` (body size, no uploads, signed session). The
Gradio UI calls the same :class:`s2s_arena.arena.battles.Arena` in-process, so the browser and the API
go through one code path to the store. On Hugging Face Spaces ``space/app.py`` calls :func:`main`;
locally ``s2s-arena serve`` calls :func:`serve`.
"""

import html
import logging
import math
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Gradio must not phone home (analytics, version check); set before it is imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from s2s_arena.arena.battles import Arena, BattleError, RateLimited  # noqa: E402
from s2s_arena.arena.identity import Identity, Voter, default_proxies, load_secret, on_spaces, parse_networks  # noqa: E402
from s2s_arena.arena.media import TOKEN_RE, clip_headers, parse_range  # noqa: E402

log = logging.getLogger("s2s_arena.arena")

FAILURE_CHOICES = [("followed the instruction, but worse", "worse"),
                   ("attempted it, but failed", "attempted_failed"),
                   ("did not understand the instruction", "not_understood")]
WINNER_LABELS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
REASON_TEXT = {"not_listened": "both responses were not heard to the end",
               "after_reveal": "this battle already has a counted vote",
               "rate_limited": "too many votes in the last minute",
               "anonymous": "votes count only when you are signed in",
               "no_session": "your browser did not keep the session cookie"}

# Reports play / pause / ended of every arena clip to the server, which times them with its own clock.
HEAD = """<script>
(function () {
  function report(ev) {
    var el = ev.target;
    if (!el || el.tagName !== 'AUDIO' || !el.dataset || !el.dataset.events) return;
    var kind = ev.type === 'ended' ? 'ended' : ev.type;
    fetch(el.dataset.events + kind, {method: 'POST', keepalive: true, credentials: 'same-origin'}).catch(function () {});
  }
  ['play', 'pause', 'ended'].forEach(function (t) { document.addEventListener(t, report, true); });
})();
</script>"""

CSS = """
.arena-clip { flex: 1 1 0; min-width: 260px; padding: 0.6em 0.8em; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.arena-clip audio { width: 100%; }
.arena-meta { color: var(--body-text-color-subdued); font-size: 0.9em; }
"""


class Context:
    """What one running Space holds: the arena (battles + store), its leaderboard views, and who votes."""

    def __init__(self, arena: Arena, views: Any, identity: Identity | None = None, *, allow_anonymous: bool = True,
                 max_body_bytes: int = 64 * 1024):
        self.arena, self.views = arena, views
        self.identity = identity or Identity(load_secret(None))
        self.allow_anonymous = allow_anonymous
        self.max_body_bytes = max_body_bytes

    @property
    def require_login(self) -> bool:
        return self.identity.require_login

    def voter(self, session: str | None, *, peer: str, forwarded_for: str | None, account: str | None = None) -> Voter:
        return self.identity.voter(session, account=account, peer=peer, forwarded_for=forwarded_for)


def build_context(data_dir: str | os.PathLike, responses_dir: str | os.PathLike, db_url: str | None = None,
                  verdicts: str | os.PathLike | None = None, *, config: str | None = None, seed: int | None = None,
                  min_listen: float = 0.8, votes_per_minute_session: int = 6,
                  votes_per_minute_client: int = 6, battles_per_minute_session: int = 30,
                  battles_per_minute_client: int = 120, max_uncounted_per_battle: int = 2,
                  uncounted_per_minute_client: int = 60, bootstrap: int = 200, min_votes: int | None = None,
                  hub_repo: str | None = None, require_login: bool | None = None, allow_anonymous: bool | None = None,
                  trusted_proxies: Any = None, max_body_bytes: int = 64 * 1024, gold_share: float = 0.0,
                  gold_responses: str | os.PathLike | None = None, reserve_share: float = 0.0) -> Context:
    """Load the benchmark and responses, open the store, and set who may vote.

    ``require_login`` (default: on Hugging Face Spaces) makes counted votes need Sign in with Hugging
    Face unless ``allow_anonymous``; ``trusted_proxies`` (addresses / networks whose
    ``X-Forwarded-For`` is believed; default ``$S2S_ARENA_TRUSTED_PROXIES``, else Spaces' private
    proxy ranges on Spaces, else none). ``gold_share`` of battles are gold (from ``gold_responses``, else
    the reference systems among ``responses_dir``), ``reserve_share`` are re-served to other voters."""
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.responses import load_responses
    from s2s_arena.arena.store import open_store
    from s2s_arena.arena.views import Views

    samples = load_benchmark(str(data_dir), config=config)
    responses = load_responses(str(responses_dir))
    store_dir = Path(data_dir) if Path(data_dir).is_dir() else Path.cwd()
    store = open_store(db_url, store_dir, hub_repo=hub_repo)
    require_login = on_spaces() if require_login is None else bool(require_login)
    allow_anonymous = (not require_login) if allow_anonymous is None else bool(allow_anonymous)
    proxies = default_proxies() if trusted_proxies is None else parse_networks(trusted_proxies)
    secret_dir = Path(store.url.split("///", 1)[-1]).parent if store.is_sqlite and "///" in store.url else store_dir
    identity = Identity(load_secret(secret_dir), trusted_proxies=proxies,
                        require_login=require_login and not allow_anonymous)
    views = Views(store, verdicts, bootstrap=bootstrap, seed=0 if seed is None else seed, min_votes=min_votes)
    from s2s_arena.arena.risk import RiskConfig

    views.risk = RiskConfig(min_listen=min_listen)
    from s2s_arena.arena.reserve import make_planner

    planner = make_planner(samples, responses, store, gold_share=gold_share, reserve_share=reserve_share,
                           gold_responses=str(gold_responses) if gold_responses else None)
    arena = Arena(samples, responses, store, seed=seed, min_listen=min_listen, planner=planner,
                  votes_per_minute_session=votes_per_minute_session,
                  votes_per_minute_client=votes_per_minute_client,
                  battles_per_minute_session=battles_per_minute_session,
                  battles_per_minute_client=battles_per_minute_client,
                  max_uncounted_per_battle=max_uncounted_per_battle,
                  uncounted_per_minute_client=uncounted_per_minute_client, board_provider=views.human_board_rows)
    ctx = Context(arena, views, identity, allow_anonymous=allow_anonymous, max_body_bytes=max_body_bytes)
    ctx.login_ui = require_login  # show Sign in with Hugging Face (also when anonymous votes are allowed)
    return ctx


def validity_parts(ctx: Context) -> tuple[Any, Any]:
    """The Space's one validity view and the clips of its disagreement list (shared by routes and UI)."""
    if getattr(ctx, "_validity", None) is None:
        from s2s_arena.arena.validity_tab import DisagreementClips, ValidityView

        view = ValidityView(ctx.arena, getattr(ctx.views, "judge", None),
                            bootstrap=getattr(ctx.views, "bootstrap", 200))
        ctx._validity = (view, DisagreementClips(ctx.arena))
    return ctx._validity


# --- HTTP routes -------------------------------------------------------------------------------------
def add_routes(app: Any, ctx: Context) -> None:
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    arena = ctx.arena

    def not_found() -> Response:
        return Response(status_code=404, content=b"not found", media_type="text/plain")

    def refused(e: BattleError) -> JSONResponse:
        headers = {}
        if isinstance(e, RateLimited):
            headers["Retry-After"] = str(max(1, math.ceil(e.retry_after_s)))
        return JSONResponse({"error": str(e)}, status_code=e.status, headers=headers)

    @app.get("/clip/{clip_token}")
    def get_clip(clip_token: str, request: Request):
        if not TOKEN_RE.match(clip_token) or clip_token not in arena.clips:
            return not_found()
        data = arena.clip_bytes(clip_token)
        try:
            span = parse_range(request.headers.get("range"), len(data))
        except ValueError:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
        start, end = span if span else (0, len(data) - 1)
        arena.record_served(clip_token, start, end)
        return Response(content=data[start:end + 1], status_code=206 if span else 200,
                        headers=clip_headers(len(data), span), media_type=None)

    @app.post("/clip/{clip_token}/{kind}")
    def clip_event(clip_token: str, kind: str):
        if not TOKEN_RE.match(clip_token) or clip_token not in arena.clips:
            return not_found()
        try:
            arena.record_event(clip_token, kind)
        except BattleError as e:
            return refused(e)
        return JSONResponse({"ok": True})

    def voter_of(request: Request) -> Voter:
        session = getattr(request.state, "arena_session", None)
        return ctx.voter(session, peer=request.client.host if request.client else "",
                         forwarded_for=request.headers.get("x-forwarded-for"))

    @app.post("/api/battle")
    async def api_battle(request: Request):
        body = await _json(request)
        try:
            # Rendering clips takes a moment: off the event loop, so other visitors are not held up.
            b = await _run_sync(arena.new_battle, voter_of(request), level=body.get("level") or None)
        except BattleError as e:
            return refused(e)
        return JSONResponse(battle_payload(b))

    @app.get("/api/battle/{token}")
    def api_battle_state(token: str):
        try:
            la, lb = arena.listening(token)
        except BattleError as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        return JSONResponse({"listened_a": la, "listened_b": lb, "unlocked": arena.unlocked(token)})

    @app.post("/api/vote")
    async def api_vote(request: Request):
        body = await _json(request)
        try:
            res = await _run_sync(arena.vote, str(body.get("token", "")), str(body.get("winner", "")),
                                  body.get("failure"), voter=voter_of(request))
        except BattleError as e:
            return refused(e)
        v = res.vote
        # Sent only after the vote is committed: an acknowledged vote is a stored vote.
        return JSONResponse({"vote_id": v.vote_id, "counted": res.counted, "reason": res.reason,
                             "system_a": v.system_a if res.revealed else None,
                             "system_b": v.system_b if res.revealed else None,
                             "listened_a": v.listened_a, "listened_b": v.listened_b})

    @app.get("/healthz")
    def healthz():
        return JSONResponse({"ok": True, "configured": True, "votes": arena.store.count()})

    from s2s_arena.arena.validity_tab import listing

    validity_view, dis_clips = validity_parts(ctx)

    @app.get("/api/disagreements")
    async def api_disagreements():
        # Each call issues fresh clip tokens for the listed pairs only (no voter ids in the rows).
        return JSONResponse({"items": await _run_sync(listing, validity_view, dis_clips)})

    @app.get("/agreement/clip/{clip_token}")
    def get_disagreement_clip(clip_token: str, request: Request):
        data = dis_clips.get(clip_token) if TOKEN_RE.match(clip_token) else None
        if data is None:
            return not_found()
        try:
            span = parse_range(request.headers.get("range"), len(data))
        except ValueError:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
        start, end = span if span else (0, len(data) - 1)
        return Response(content=data[start:end + 1], status_code=206 if span else 200,
                        headers=clip_headers(len(data), span), media_type=None)


async def _json(request: Any) -> dict[str, Any]:
    try:
        body = await request.json()
    except Exception:
        return {}
    return body if isinstance(body, dict) else {}


async def _run_sync(fn, *args, **kw):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args, **kw)


def battle_payload(b: Any) -> dict[str, Any]:
    s = b.sample
    return {
        "token": b.token, "level": s.level, "domain": s.domain, "task": s.task,
        "instruction_text": s.instruction_text, "evaluation_target": s.evaluation_target,
        "instruction": f"/clip/{b.clips['instruction']}" if "instruction" in b.clips else None,
        "a": f"/clip/{b.clips['a']}", "b": f"/clip/{b.clips['b']}",
    }


def battle_html(b: Any) -> str:
    """The battle as HTML: instruction, target, and the two anonymous clips (native audio players)."""
    s, e = b.sample, html.escape

    def player(side: str, label: str) -> str:
        tok = b.clips[side]
        return (f'<div class="arena-clip" data-side="{side}"><b>{label}</b><br>'
                f'<audio controls preload="none" data-side="{side}" data-events="/clip/{tok}/" '
                f'src="/clip/{tok}"></audio></div>')

    parts = [f'<div class="arena-meta">Level {e(s.level)} · {e(s.domain)} · {e(s.task)}</div>',
             f"<p><b>Spoken instruction:</b> “{e(s.instruction_text)}”</p>"]
    if "instruction" in b.clips:
        parts.append(player("instruction", "Instruction audio"))
    parts.append(f"<p><b>Judge this:</b> {e(s.evaluation_target)}</p>")
    parts.append('<div style="display:flex;gap:1em">' + player("a", "Response A") + player("b", "Response B") + "</div>")
    return "\n".join(parts)


def reveal_text(res: Any, winner: str, ctx: Context) -> str:
    v = res.vote
    if res.revealed:
        return (f"### Revealed\n**A** = `{v.system_a}` · **B** = `{v.system_b}` · you chose: "
                f"**{WINNER_LABELS[winner]}**\n\nYour vote was counted.")
    why = REASON_TEXT.get(res.reason, res.reason.replace("_", " "))
    text = (f"### Vote stored, not counted\nYou chose **{WINNER_LABELS[winner]}**; the vote was stored but not "
            f"counted ({why}). The systems are revealed only with a counted vote.")
    if res.reason == "anonymous":
        text += "\n\nSign in with Hugging Face (button above) to have your votes counted."
    return text


# --- Gradio UI ---------------------------------------------------------------------------------------
def build_blocks(ctx: Context):
    import gradio as gr

    from s2s_arena.arena.identity import SESSION_COOKIE
    from s2s_arena.arena.views import agreement_frame, board_frame

    arena, views = ctx.arena, ctx.views
    levels = arena.levels()
    from s2s_arena.arena.validity_tab import listing, listing_html

    validity_view, dis_clips = validity_parts(ctx)

    def validity_outputs():
        return [validity_view.markdown(), listing_html(listing(validity_view, dis_clips))]

    def voter_of(request: gr.Request | None, profile: Any) -> Voter:
        if request is None:
            return Voter("anonymous", "", can_count=False, why_not="no_session")
        cookies = dict(getattr(request, "cookies", {}) or {})
        session = ctx.identity.session_of(cookies.get(SESSION_COOKIE))
        headers = dict(getattr(request, "headers", {}) or {})
        peer = getattr(getattr(request, "client", None), "host", "") or ""
        account = getattr(profile, "username", None) if profile is not None else None
        return ctx.voter(session, peer=peer, forwarded_for=headers.get("x-forwarded-for"), account=account)

    def locked_buttons(interactive: bool):
        return [gr.Button(interactive=interactive) for _ in WINNER_LABELS]

    def start(level: str, request: gr.Request, profile: gr.OAuthProfile | None):
        voter = voter_of(request, profile)
        try:
            b = arena.new_battle(voter, level=None if level in (None, "", "any") else level)
        except RateLimited as e:
            return ["", "", f"Slow down: {e}.", gr.Timer(active=False), "", gr.Button(visible=True),
                    *locked_buttons(False)]
        except BattleError as e:
            return ["", "", f"Error: {e}", gr.Timer(active=False), "", gr.Button(visible=False),
                    *locked_buttons(False)]
        note = "Listen to both responses to the end to unlock voting."
        if not voter.can_count and voter.why_not == "anonymous":
            note += " Votes count only when you are signed in with Hugging Face."
        return [b.token, battle_html(b), note, gr.Timer(active=True), "", gr.Button(visible=False),
                *locked_buttons(False)]

    def tick(token: str):
        b = arena.battles.get(token) if token else None
        if b is None or b.voted:
            return [gr.Timer(active=False), gr.skip(), *[gr.skip()] * len(WINNER_LABELS)]
        la, lb = arena.listening(token)
        if arena.unlocked(token):
            return [gr.Timer(active=False), "Both heard. Which response better fulfils the instruction?",
                    *locked_buttons(True)]
        return [gr.Timer(active=True), f"Heard so far: A {la:.0%} · B {lb:.0%} (voting unlocks at "
                f"{arena.min_listen:.0%} of each)", *[gr.skip()] * len(WINNER_LABELS)]

    def make_vote(winner: str):
        def vote(token: str, failure: str | None, request: gr.Request, profile: gr.OAuthProfile | None):
            try:
                res = arena.vote(token, winner, failure if winner in ("a", "b") else None,
                                 voter=voter_of(request, profile))
            except BattleError as e:
                return [f"Error: {e}", gr.Button(visible=True), *locked_buttons(False), gr.Timer(active=False)]
            return [reveal_text(res, winner, ctx), gr.Button(visible=True), *locked_buttons(False),
                    gr.Timer(active=False)]
        return vote

    def board_outputs():
        snap = views.snapshot()
        human = board_frame(snap["human_board"])
        judge = board_frame(snap["judge_board"], "verdicts")
        per_level = [board_frame(snap["levels"].get(lv, [])) for lv in levels]
        summary = (f"**{snap['n_counted']}** counted votes of {snap['n_votes']} stored; "
                   f"{snap.get('n_flagged', 0)} of them left out by the risk sweep. Ratings are "
                   "Bradley–Terry with a 95% bootstrap CI; *preliminary* marks a system with few votes.")
        if snap["notes"]:
            summary += "\n\n" + "\n".join(f"- {n}" for n in snap["notes"])
        return [summary, human, judge, *per_level, snap["heatmap"], agreement_frame(snap["agreement"])]

    # Gradio copies every returned image into its cache: clear it hourly (a new heatmap per counted vote).
    with gr.Blocks(title="S2S-Arena", delete_cache=(3600, 3600)) as demo:
        token = gr.State("")
        with gr.Tabs():
            with gr.Tab("Arena", id="arena") as arena_tab:
                gr.Markdown("## S2S-Arena: which spoken response follows the spoken instruction better?\n"
                            "Listen to the instruction and to both anonymous responses, then vote. "
                            "The systems are revealed after your vote counts.")
                with gr.Row():
                    if getattr(ctx, "login_ui", False):
                        gr.LoginButton(scale=1)
                    level = gr.Dropdown(["any", *levels], value="any", label="Level", scale=1)
                    new_btn = gr.Button("New battle", variant="secondary", scale=1)
                battle = gr.HTML("", elem_id="battle")
                status = gr.Markdown("", elem_id="listen-status")
                with gr.Row():
                    vote_btns = [gr.Button(label, interactive=False, elem_id=f"vote-{w}", variant="primary")
                                 for w, label in WINNER_LABELS.items()]
                failure = gr.Radio(FAILURE_CHOICES, label="Why did the worse one lose? (optional)", value=None)
                reveal = gr.Markdown("", elem_id="reveal")
                next_btn = gr.Button("Next battle ▶", visible=False, elem_id="next-battle")
                timer = gr.Timer(1.0, active=False)
            with gr.Tab("Leaderboard", id="leaderboard") as board_tab:
                summary = gr.Markdown("", elem_id="board-summary")
                gr.Markdown("### Human votes")
                human_df = gr.Dataframe(interactive=False, elem_id="human-board")
                gr.Markdown("### Judge verdicts")
                judge_df = gr.Dataframe(interactive=False, elem_id="judge-board")
                level_dfs = []
                for lv in levels:
                    with gr.Accordion(f"Level {lv} (human votes)", open=False):
                        level_dfs.append(gr.Dataframe(interactive=False))
                heat = gr.Image(label="Win fraction (row vs column, human votes)", type="filepath",
                                interactive=False, elem_id="heatmap")
                gr.Markdown("### Judge vs human agreement")
                agree_df = gr.Dataframe(interactive=False, elem_id="agreement")
                board_timer = gr.Timer(5.0, active=False)
            with gr.Tab("Agreement", id="validity") as validity_tab:
                validity_md = gr.Markdown("", elem_id="validity-report")
                disagreements_html = gr.HTML("", elem_id="disagreements")

        start_outputs = [token, battle, status, timer, reveal, next_btn, *vote_btns]
        demo.load(start, [level], start_outputs)
        new_btn.click(start, [level], start_outputs)
        next_btn.click(start, [level], start_outputs)
        timer.tick(tick, [token], [timer, status, *vote_btns], concurrency_limit=None, show_progress="hidden")
        for w, btn in zip(WINNER_LABELS, vote_btns):
            btn.click(make_vote(w), [token, failure], [reveal, next_btn, *vote_btns, timer])
        board_out = [summary, human_df, judge_df, *level_dfs, heat, agree_df]
        board_tab.select(board_outputs, None, board_out).then(lambda: gr.Timer(active=True), None, board_timer)
        arena_tab.select(lambda: gr.Timer(active=False), None, board_timer)
        board_timer.tick(board_outputs, None, board_out, show_progress="hidden")
        validity_tab.select(validity_outputs, None, [validity_md, disagreements_html])
    return demo


def create_app(ctx: Context, ui: bool = True):
    """The FastAPI app: the arena's routes, then the Gradio UI at ``/`` (``ui=False``: the routes
    only, for headless load and crash tests; votes take the same path to the store)."""
    from fastapi import FastAPI

    from s2s_arena.arena.guard import Guard

    app = FastAPI(title="S2S-Arena", docs_url=None, redoc_url=None, openapi_url=None)
    add_routes(app, ctx)
    if ui:
        import gradio as gr

        demo = build_blocks(ctx)
        demo.queue(default_concurrency_limit=16)
        app = gr.mount_gradio_app(app, demo, path="/", head=HEAD, css=CSS, footer_links=[], ssr_mode=False,
                                  mcp_server=False, max_file_size=1024)
    app.add_middleware(Guard, identity=ctx.identity, max_body_bytes=ctx.max_body_bytes,
                       secure_cookie=on_spaces())
    return app


def setup_app(problem: str):
    """The page a Space shows until it is configured (or when its data cannot be loaded): what to set."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse

    from s2s_arena.arena.guard import Guard

    rows = "".join(f"<tr><td><code>{n}</code></td><td>{html.escape(d)}</td></tr>" for n, d in ENV_VARS)
    page = (f"<!doctype html><meta charset=utf-8><title>S2S-Arena: not configured</title>"
            f"<body style='font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.5'>"
            f"<h1>S2S-Arena is not configured yet</h1><p><b>{html.escape(problem)}</b></p>"
            f"<p>Set these variables (Space settings → Variables and secrets) and restart the Space:</p>"
            f"<table border=1 cellpadding=6 style='border-collapse:collapse'>{rows}</table>"
            f"<p>No votes are taken until the arena is configured.</p></body>")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/")
    def index():
        return HTMLResponse(page, status_code=503)

    @app.get("/healthz")
    def healthz():
        return JSONResponse({"ok": False, "configured": False, "problem": problem}, status_code=503)

    app.add_middleware(Guard, identity=Identity(load_secret(None)))
    return app


ENV_VARS = (
    ("S2S_ARENA_DATA", "benchmark: a Hub dataset repo id (user/name) or a folder (required)"),
    ("S2S_ARENA_RESPONSES", "responses: a Hub dataset repo id with sample_id, system, audio columns, or a folder (required)"),
    ("S2S_ARENA_VOTES_REPO", "Hub dataset repo the votes are mirrored to (append-only JSONL, scheduled commits; "
                             "needs HF_TOKEN with write access as a secret)"),
    ("S2S_ARENA_DB_URL", "vote store URL (default: SQLite in /data when persistent storage is on, else beside app.py)"),
    ("S2S_ARENA_SECRET", "secret that signs sessions and hashes addresses (a secret; default: random per start)"),
    ("S2S_ARENA_VERDICTS", "judge verdicts file for the judge board (optional)"),
    ("S2S_ARENA_ALLOW_ANONYMOUS", "1: count votes of visitors who are not signed in (default 0 on Spaces)"),
    ("S2S_ARENA_TRUSTED_PROXIES", "addresses whose X-Forwarded-For is believed (default on Spaces: private ranges)"),
)


class Server:
    """A running server (``serve(..., block=False)``): ``url``, ``ctx``, ``close()``."""

    def __init__(self, server: Any, thread: threading.Thread, url: str, ctx: Context | None):
        self.server, self.thread, self.url, self.ctx = server, thread, url, ctx

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        if self.ctx is not None:
            self.ctx.arena.store.close()


def _run(app: Any, host: str, port: int, block: bool, ctx: Context | None) -> Server | None:
    import uvicorn

    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from any loopback client;
    # the arena decides itself whom to believe (Identity.trusted_proxies).
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False,
                            proxy_headers=False, timeout_keep_alive=30, h11_max_incomplete_event_size=16 * 1024)
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}"
    if block:
        server.run()
        if ctx is not None:
            ctx.arena.store.close()
        return None
    thread = threading.Thread(target=server.run, daemon=True, name="s2s-arena-space")
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError(f"the Space did not start on {url}")
        time.sleep(0.05)
    return Server(server, thread, url, ctx)


def serve(data_dir: str | os.PathLike, responses_dir: str | os.PathLike, db_url: str | None = None,
          host: str = "127.0.0.1", port: int = 7860, verdicts: str | os.PathLike | None = None,
          block: bool = True, ui: bool = True, **options: Any) -> Server | None:
    """Serve the Space on ``host:port``. ``block=False`` returns a :class:`Server` once it accepts
    connections; ``options`` go to :func:`build_context` (seed, min_listen, limits, login, proxies ...)."""
    ctx = build_context(data_dir, responses_dir, db_url, verdicts, **options)
    app = create_app(ctx, ui=ui)
    who = ("counted votes need Sign in with Hugging Face" if ctx.require_login
           else "anonymous votes count" + (" (sign-in offered)" if getattr(ctx, "login_ui", False) else ""))
    print(f"S2S-Arena Space on http://{host}:{port} · votes in {ctx.arena.store.display_url()} · "
          f"{len(ctx.arena.systems)} systems, {len(ctx.arena.playable)} samples with two responses · {who}",
          flush=True)
    return _run(app, host, port, block, ctx)


def _flag(name: str) -> bool | None:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return None
    return v.strip().lower() in ("1", "true", "yes", "on")


def main(here: str | os.PathLike | None = None, *, block: bool = True) -> Server | None:
    """Hugging Face Spaces entry point: data and responses from Hub dataset repos (or folders) named by
    ``S2S_ARENA_DATA`` / ``S2S_ARENA_RESPONSES``. Unset or unreadable: a page that says what to set."""
    here = Path(here) if here else Path.cwd()
    host = os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0")
    port = int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860")))
    data, resp = os.environ.get("S2S_ARENA_DATA", "").strip(), os.environ.get("S2S_ARENA_RESPONSES", "").strip()
    missing = [n for n, v in (("S2S_ARENA_DATA", data), ("S2S_ARENA_RESPONSES", resp)) if not v]
    if missing:
        print(f"S2S-Arena: {' and '.join(missing)} not set; serving the set-up page", file=sys.stderr, flush=True)
        return _run(setup_app(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set."),
                    host, port, block, None)
    db = os.environ.get("S2S_ARENA_DB_URL") or None
    if db is None and Path("/data").is_dir() and os.access("/data", os.W_OK):
        db = "sqlite:////data/votes.db"  # Spaces persistent storage survives restarts
    elif db is None:
        db = f"sqlite:///{(here / 'votes.db').resolve()}"
    try:
        return serve(data, resp, db, host=host, port=port, verdicts=os.environ.get("S2S_ARENA_VERDICTS") or None,
                     block=block, hub_repo=os.environ.get("S2S_ARENA_VOTES_REPO") or None,
                     allow_anonymous=_flag("S2S_ARENA_ALLOW_ANONYMOUS"), require_login=_flag("S2S_ARENA_REQUIRE_LOGIN"))
    except Exception as e:  # noqa: BLE001 - a Space that cannot load its data says why instead of crash-looping
        from s2s_arena.errors import ArenaError

        msg = str(e) if isinstance(e, ArenaError) else f"{type(e).__name__}: {e}"
        msg = re.sub(r"\s+", " ", msg)[:500]
        print(f"S2S-Arena: cannot start the arena: {msg}", file=sys.stderr, flush=True)
        return _run(setup_app(f"The arena could not load its data: {msg}"), host, port, block, None)
