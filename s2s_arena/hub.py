"""The Hugging Face Hub: what S2S-Arena publishes there and how (datasets, responses, votes, results).

Every upload is planned first: a plan lists each file with its path in the repository and its size,
so ``--dry-run`` shows exactly what would be sent and tests run offline; ``upload`` then sends that plan
in one commit. Staged files (responses and votes turned into Parquet with a card) are written to a
local folder that is itself a loadable dataset (``datasets.load_dataset(folder)``).
"""

from __future__ import annotations

import re

# A Hub repository id: "name" or "namespace/name" (letters, digits, - _ .), as huggingface_hub validates.
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def looks_like_hub_id(text: str) -> bool:
    """True for "user/name" or "name"; False for what is clearly a local path (./x, /x, ~/x, a/b/c)."""
    text = str(text)
    return bool(_REPO_ID.match(text)) and ".." not in text and not text.endswith((".git", "."))
