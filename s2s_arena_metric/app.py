"""Hub Space entry point of the metric card (evaluate's standard widget)."""

import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("s2s_arena_metric.py")
launch_gradio_widget(module)
