"""The metric's Space: a small Gradio 6 page that judges one candidate response against a baseline.

evaluate's own ``launch_gradio_widget`` builds its page with ``gr.inputs``, which Gradio 4 removed, so
this page is written here. Run it with ``python app.py`` (what a Gradio Space does); it listens where
``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` say (default 127.0.0.1:7860).
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `python app.py` puts this folder first on sys.path. A Hub copy of the metric is named after its repo
# (s2s_arena.py for "<user>/s2s_arena"), which would then shadow the installed s2s_arena package: keep
# this folder off the import path and load the script by its file path instead.
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]

import evaluate  # noqa: E402
import gradio as gr  # noqa: E402

from s2s_arena.schema import LEVELS  # noqa: E402

LEVEL_NOTES = {"L0": "L0: plain instruction, plain answer", "L1": "L1: understand the voice",
               "L2": "L2: produce a way of speaking", "L3": "L3: both"}
EXAMPLE_REQUIREMENTS = '{"speaking_rate": "fast"}'


def metric_script() -> Path:
    """The evaluate module beside this file, whatever the repository named it."""
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    named = [p for p in scripts if "class " in p.read_text(encoding="utf-8") and "evaluate.Metric" in p.read_text(encoding="utf-8")]
    if not named:
        raise SystemExit(f"no evaluate module (a .py file defining an evaluate.Metric) in {HERE}")
    return named[0]


METRIC = evaluate.load(str(metric_script()), judge=os.environ.get("S2S_ARENA_JUDGE", "feature"),
                       verdict_cache=False, bootstrap=0)


def judge_one(candidate, baseline, instruction_text, level, task, requirements):
    """Judge one pair in both orders; the metric's result as JSON, or one line saying what is wrong."""
    if not candidate or not baseline:
        raise gr.Error("upload both a candidate and a baseline response")
    try:
        reqs = json.loads(requirements or "{}")
    except json.JSONDecodeError as e:
        raise gr.Error(f"requirements: not valid JSON ({e.msg})") from None
    sample = {"id": "widget", "level": level, "task": task or "custom",
              "instruction_text": instruction_text or "(no transcript)", "requirements": reqs}
    try:
        result = METRIC.compute(predictions=[candidate], references=[baseline], samples=[sample])
    except ValueError as e:  # SchemaError / ConfigError: a wrong field, named
        raise gr.Error(str(e)) from None
    keep = ("win_rate", "tie_rate", "loss_rate", "both_bad_rate", "position_consistency", "n_invalid",
            "invalid_reasons", "judge", "judge_version")
    return {k: result[k] for k in keep if k in result}


with gr.Blocks(title="S2S-Arena metric") as demo:
    gr.Markdown("# S2S-Arena metric\nJudge a candidate's spoken response against a baseline's, in both "
                "orders, for one spoken instruction (the `feature` judge: measured prosody against the "
                "requirements). See the card for `evaluate.load` usage.")
    with gr.Row():
        candidate = gr.Audio(label="candidate response", type="filepath")
        baseline = gr.Audio(label="baseline response", type="filepath")
    instruction = gr.Textbox(label="instruction (transcript)", value="Say this tongue twister fast: she sells sea shells.")
    with gr.Row():
        level = gr.Dropdown(choices=list(LEVELS), value="L2", label="level", info=" · ".join(LEVEL_NOTES.values()))
        task = gr.Textbox(label="task", value="tongue_twister_fast")
    requirements = gr.Textbox(label="requirements (JSON, the dataset's vocabulary)", value=EXAMPLE_REQUIREMENTS)
    run = gr.Button("Judge", variant="primary")
    out = gr.JSON(label="result")
    run.click(judge_one, [candidate, baseline, instruction, level, task, requirements], out, api_name="judge")


if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
