"""stemcell: a terminal companion for the stem cell server lab."""

__version__ = "0.1.0"
