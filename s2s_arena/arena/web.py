"""The S2S-Arena Space: a FastAPI app with the arena's own routes and the Gradio UI mounted at ``/``.

Own routes (all tokens are random per battle; nothing in a URL names a system or a file):

* ``GET  /clip/<clip>``               the re-encoded clip, with Range support (bytes are counted)
* ``POST /clip/<clip>/<event>``       play | pause | ended, timed by the server's play clock
* ``POST /api/battle``                a new battle (JSON: instruction, target, clip URLs; no systems);
                                      429 with ``Retry-After`` over the session's or client's battle limit
* ``GET  /api/battle/<token>``        listening so far and whether voting is unlocked
* ``POST /api/vote``                  {token, winner, failure?} -> the stored vote and the reveal
* ``GET  /healthz``                   votes in the store

The Gradio UI calls the same :class:`s2s_arena.arena.battles.Arena` in-process, so the browser and the API go
through one code path to the store. On Hugging Face Spaces ``space/app.py`` calls
:func:`main`; locally ``s2s-arena serve`` calls :func:`serve`.
"""

import html
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Gradio must not phone home (analytics, version check); set before it is imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from s2s_arena.arena.battles import Arena, BattleError, RateLimited  # noqa: E402
from s2s_arena.arena.media import TOKEN_RE, clip_headers, parse_range  # noqa: E402

FAILURE_CHOICES = [("followed the instruction, but worse", "worse"),
                   ("attempted it, but failed", "attempted_failed"),
                   ("did not understand the instruction", "not_understood")]
WINNER_LABELS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both are bad"}

# Reports play / pause / ended of every arena clip to the server, which times them with its own clock.
HEAD = """<script>
(function () {
  function report(ev) {
    var el = ev.target;
    if (!el || el.tagName !== 'AUDIO' || !el.dataset || !el.dataset.events) return;
    var kind = ev.type === 'ended' ? 'ended' : ev.type;
    fetch(el.dataset.events + kind, {method: 'POST', keepalive: true}).catch(function () {});
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
    """What one running Space holds: the arena (battles + store) and its leaderboard views."""

    def __init__(self, arena: Arena, views: Any):
        self.arena, self.views = arena, views


def build_context(data_dir: str | os.PathLike, responses_dir: str | os.PathLike, db_url: str | None = None,
                  verdicts: str | os.PathLike | None = None, *, config: str = "all", seed: int = 0,
                  min_listen: float = 0.8, votes_per_minute_session: int = 10,
                  votes_per_minute_client: int = 120, battles_per_minute_session: int = 30,
                  battles_per_minute_client: int = 300, bootstrap: int = 200, min_votes: int | None = None,
                  hub_repo: str | None = None) -> Context:
    from s2s_arena.benchmark import load_benchmark
    from s2s_arena.responses import load_responses
    from s2s_arena.arena.store import open_store
    from s2s_arena.arena.views import Views

    samples = load_benchmark(str(data_dir), config=config)
    responses = load_responses(str(responses_dir))
    store_dir = Path(data_dir) if Path(data_dir).is_dir() else Path.cwd()
    store = open_store(db_url, store_dir, hub_repo=hub_repo)
    views = Views(store, verdicts, bootstrap=bootstrap, seed=seed, min_votes=min_votes)
    arena = Arena(samples, responses, store, seed=seed, min_listen=min_listen,
                  votes_per_minute_session=votes_per_minute_session,
                  votes_per_minute_client=votes_per_minute_client,
                  battles_per_minute_session=battles_per_minute_session,
                  battles_per_minute_client=battles_per_minute_client, board_provider=views.human_board_rows)
    return Context(arena, views)


# --- HTTP routes -------------------------------------------------------------------------------------
def add_routes(app: Any, ctx: Context) -> None:
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    arena = ctx.arena

    def not_found() -> Response:
        return Response(status_code=404, content=b"not found", media_type="text/plain")

    @app.get("/clip/{clip_token}")
    def get_clip(clip_token: str, request: Request):
        if not TOKEN_RE.match(clip_token) or clip_token not in arena.clips:
            return not_found()
        data = arena.clips[clip_token].clip.data
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
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse({"ok": True})

    def session_of(request: Request) -> tuple[str, str]:
        client = request.client.host if request.client else ""
        return request.headers.get("x-arena-session") or f"client:{client}", client

    @app.post("/api/battle")
    async def api_battle(request: Request):
        body = await _json(request)
        session, client = session_of(request)
        try:
            # Re-encoding clips takes a while: off the event loop, so other visitors are not held up.
            b = await _run_sync(arena.new_battle, session, client, level=body.get("level") or None)
        except RateLimited as e:
            return JSONResponse({"error": str(e), "retry_after_s": round(e.retry_after_s, 1)}, status_code=429,
                                headers={"Retry-After": str(math.ceil(e.retry_after_s))})
        except BattleError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
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
        session, client = session_of(request)
        try:
            res = await _run_sync(arena.vote, str(body.get("token", "")), str(body.get("winner", "")),
                                  body.get("failure"), session=session, client=client)
        except BattleError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        v = res.vote
        # Sent only after the vote is committed: an acknowledged vote is a stored vote.
        return JSONResponse({"vote_id": v.vote_id, "counted": res.counted, "reason": res.reason,
                             "system_a": v.system_a, "system_b": v.system_b, "listened_a": v.listened_a,
                             "listened_b": v.listened_b})

    @app.get("/healthz")
    def healthz():
        return JSONResponse({"ok": True, "votes": arena.store.count()})


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


# --- Gradio UI ---------------------------------------------------------------------------------------
def build_blocks(ctx: Context):
    import gradio as gr

    from s2s_arena.arena.views import agreement_frame, board_frame

    arena, views = ctx.arena, ctx.views
    levels = arena.levels()

    def session_key(request: gr.Request | None) -> tuple[str, str]:
        if request is None:
            return "anonymous", ""
        client = getattr(getattr(request, "client", None), "host", "") or ""
        return f"gradio:{request.session_hash}", client

    def locked_buttons(interactive: bool):
        return [gr.Button(interactive=interactive) for _ in WINNER_LABELS]

    def start(level: str, request: gr.Request):
        session, client = session_key(request)
        try:
            b = arena.new_battle(session, client, level=None if level in (None, "", "any") else level)
        except RateLimited as e:
            return ["", "", f"Slow down: {e}.", gr.Timer(active=False), "", gr.Button(visible=True),
                    *locked_buttons(False)]
        except BattleError as e:
            return ["", "", f"Error: {e}", gr.Timer(active=False), "", gr.Button(visible=False),
                    *locked_buttons(False)]
        return [b.token, battle_html(b), "Listen to both responses to the end to unlock voting.",
                gr.Timer(active=True), "", gr.Button(visible=False), *locked_buttons(False)]

    def tick(token: str):
        if not token or token not in arena.battles or arena.battles[token].voted:
            return [gr.Timer(active=False), gr.skip(), *[gr.skip()] * len(WINNER_LABELS)]
        la, lb = arena.listening(token)
        if arena.unlocked(token):
            return [gr.Timer(active=False), "Both heard. Which response better fulfils the instruction?",
                    *locked_buttons(True)]
        return [gr.Timer(active=True), f"Heard so far: A {la:.0%} · B {lb:.0%} (voting unlocks at "
                f"{arena.min_listen:.0%} of each)", *[gr.skip()] * len(WINNER_LABELS)]

    def make_vote(winner: str):
        def vote(token: str, failure: str | None, request: gr.Request):
            session, client = session_key(request)
            try:
                res = arena.vote(token, winner, failure if winner in ("a", "b") else None,
                                 session=session, client=client)
            except BattleError as e:
                return [f"Error: {e}", gr.Button(visible=True), *locked_buttons(False), gr.Timer(active=False)]
            v = res.vote
            note = "Your vote was counted." if res.counted else f"Your vote was stored but not counted ({res.reason.replace('_', ' ')})."
            text = (f"### Revealed\n**A** = `{v.system_a}` · **B** = `{v.system_b}` · you chose: "
                    f"**{WINNER_LABELS[winner]}**\n\n{note}")
            return [text, gr.Button(visible=True), *locked_buttons(False), gr.Timer(active=False)]
        return vote

    def board_outputs():
        snap = views.snapshot()
        human = board_frame(snap["human_board"])
        judge = board_frame(snap["judge_board"], "verdicts")
        per_level = [board_frame(snap["levels"].get(lv, [])) for lv in levels]
        summary = (f"**{snap['n_counted']}** counted votes of {snap['n_votes']} stored. Ratings are "
                   "Bradley–Terry with a 95% bootstrap CI; *preliminary* marks a system with few votes.")
        if snap["notes"]:
            summary += "\n\n" + "\n".join(f"- {n}" for n in snap["notes"])
        return [summary, human, judge, *per_level, snap["heatmap"], agreement_frame(snap["agreement"])]

    with gr.Blocks(title="S2S-Arena") as demo:
        token = gr.State("")
        with gr.Tabs():
            with gr.Tab("Arena", id="arena") as arena_tab:
                gr.Markdown("## S2S-Arena: which spoken response follows the spoken instruction better?\n"
                            "Listen to the instruction and to both anonymous responses, then vote. "
                            "The systems are revealed after your vote.")
                with gr.Row():
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
    return demo


def create_app(ctx: Context, ui: bool = True):
    """The FastAPI app: the arena's routes, then the Gradio UI at ``/`` (``ui=False``: the routes
    only, for headless load and crash tests; votes take the same path to the store)."""
    from fastapi import FastAPI

    app = FastAPI(title="S2S-Arena", docs_url=None, redoc_url=None, openapi_url=None)
    add_routes(app, ctx)
    if not ui:
        return app
    import gradio as gr

    demo = build_blocks(ctx)
    demo.queue(default_concurrency_limit=16)
    return gr.mount_gradio_app(app, demo, path="/", head=HEAD, css=CSS, footer_links=[],
                               ssr_mode=False, mcp_server=False)


class Server:
    """A running server (``serve(..., block=False)``): ``url``, ``ctx``, ``close()``."""

    def __init__(self, server: Any, thread: threading.Thread, url: str, ctx: Context):
        self.server, self.thread, self.url, self.ctx = server, thread, url, ctx

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.ctx.arena.store.close()


def serve(data_dir: str | os.PathLike, responses_dir: str | os.PathLike, db_url: str | None = None,
          host: str = "127.0.0.1", port: int = 7860, verdicts: str | os.PathLike | None = None,
          block: bool = True, ui: bool = True, **options: Any) -> Server | None:
    """Serve the Space on ``host:port``. ``block=False`` returns a :class:`Server` once it accepts
    connections; ``options`` go to :func:`build_context` (seed, min_listen, rate limits, ...)."""
    import uvicorn

    ctx = build_context(data_dir, responses_dir, db_url, verdicts, **options)
    app = create_app(ctx, ui=ui)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False,
                            timeout_keep_alive=30)
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}"
    print(f"S2S-Arena Space on {url} · votes in {ctx.arena.store.display_url()} · "
          f"{len(ctx.arena.systems)} systems, {len(ctx.arena.playable)} samples with two responses", flush=True)
    if block:
        server.run()
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


def main(here: str | os.PathLike | None = None) -> None:
    """Hugging Face Spaces entry point: data and responses from the environment (or next to app.py)."""
    here = Path(here) if here else Path.cwd()
    data = os.environ.get("S2S_ARENA_DATA", str(here / "data"))
    resp = os.environ.get("S2S_ARENA_RESPONSES", str(here / "responses"))
    serve(data, resp, os.environ.get("S2S_ARENA_DB_URL"), host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
          port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
          verdicts=os.environ.get("S2S_ARENA_VERDICTS") or None)

