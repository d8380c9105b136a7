"""Regulars' benchmark, one module per thing it measures; run it with scripts/bench."""
