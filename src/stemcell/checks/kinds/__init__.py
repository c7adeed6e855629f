"""One module per check kind; each exposes ``check(spec, probe) -> Verdict``."""
