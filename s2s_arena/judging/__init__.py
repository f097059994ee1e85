"""Judges (feature, audio-LM, API, hybrid), their prompts and parsing, the judging protocol (both orders,
cache) and calibration."""
