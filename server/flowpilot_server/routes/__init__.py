"""Route handlers, one module per area."""
