"""The lab's panes, one module per feature; each one draws from the view model."""
