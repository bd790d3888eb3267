"""How commands print structured answers: indented JSON, non-ASCII kept, dates and paths as strings."""

from __future__ import annotations

import json
from typing import Any


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
