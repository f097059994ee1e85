"""S2S-Arena core: schema, audio, prosody, synthesis, ratings, agreement, system adapters, CLI."""

__version__ = "0.2.0"
