"""The headless core: steps, the runner, run state, events and recordings."""
