"""Presentation: events and run data made into what people read, one layer above ``timing``.

``event_text`` words every event kind once; ``view`` folds events into what the
panes show (its live bars from ``timing.phases``, its comparison as
``timing.comparison`` types); ``story`` tells a recording as text. The TUI, the
headless printer (``cli/printer.py``) and replay all read events through here,
so they differ in styling (Rich markup or plain text), never in wording.
"""
