"""Generated input through the real code paths: nothing crashes, every answer is a clear one.

Slash command text, message events, button clicks and modal submissions go through Bolt as
signed requests; Wati history items and contact records go through the client's parsers and
the relay (a scripted Wati answers with them); typed phone numbers through `bot.text.phone`. Bolt's
error handler is replaced by a spy: a listener that raises fails the property. CI runs a few
hundred cases per property; `bench/soak.py` runs tens of thousands.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.harness.fuzz import FUZZ, FuzzWorld, fuzz_world

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "200"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    with fuzz_world(Path(tmp_path_factory.mktemp("fuzz"))) as built:
        yield built


@pytest.mark.parametrize("name", list(FUZZ))
def test_generated_input_never_crashes_the_bridge(world: FuzzWorld, name: str) -> None:
    ran = FUZZ[name](world, EXAMPLES)
    assert ran >= min(EXAMPLES, 50)
    assert world.errors == [] and world.wati_errors == []
