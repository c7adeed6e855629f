"""The app's screens: start, lab, replay, cleanup, help and the small modal questions."""
