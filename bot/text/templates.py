"""Wati template bodies: `{{name}}` placeholders filled with values (pure; no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"{{\s*([^{}\s]+)\s*}}")


def render(body: str, values: Mapping[str, str]) -> str:
    """A template body with its `{{name}}` placeholders filled (unknown ones are left as typed)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)
