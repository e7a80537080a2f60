"""Scoring (per window, feature, step; masked), thresholds, events: three separate objects."""
