"""The two-stage build: stage 1 renders every seed, stage 2 augments it; QA gates both.

``build.build_dataset`` is the one entry point (the ``s2s-arena build`` command and the test fixtures
call it); the modules beside it each own one concern: ``conditions`` (acoustic conditions), ``augment``
(variant plans), ``render`` (one job -> audio + QA row), ``qa`` (checks), ``human`` (recorded
instructions), ``paraphrase`` (optional text variants), ``writer`` (Parquet shards), ``card`` (dataset
card), ``report`` (build report).
"""
