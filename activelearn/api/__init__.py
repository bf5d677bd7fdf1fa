"""REST API of the active-learning app."""
