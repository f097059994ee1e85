"""S2S-Arena benchmark data: task catalogue (YAML), seed -> augment pipeline, QA, dataset card."""
