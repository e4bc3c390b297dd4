"""optimize layer."""
