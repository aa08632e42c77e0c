"""One module per alert rule."""
