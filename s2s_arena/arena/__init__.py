"""The voting arena behind the Space: battles, clip media, pair sampling, the vote store, board views and
the web app (FastAPI routes + Gradio UI). ``space/app.py`` is only the Hugging Face Spaces entry point."""
