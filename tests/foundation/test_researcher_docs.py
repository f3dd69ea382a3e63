"""docs/researcher.md is a doctest: every example in the researcher's guide runs as written."""

from __future__ import annotations

import doctest
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "researcher.md"


def test_researcher_guide_examples_run_as_written() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                              verbose=False, report=True)
    assert result.attempted > 20, "the guide lost its examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {GUIDE.name} failed (see the output above)"
