"""S2S-Arena metric: pairwise judges, prompts, verdict parsing, calibration and the evaluate module."""
