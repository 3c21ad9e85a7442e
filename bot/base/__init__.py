"""The leaf every layer may use: the clock and business hours (no imports from the rest of bot)."""
