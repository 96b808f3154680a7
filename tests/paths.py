"""Where the checkout and its example inputs are, for every test module and helper."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
SEED_DIR = ROOT.parent / "shared" / "seeds"
SEED = SEED_DIR / "000_4b628f65354b724e.txt"
