"""REST API of the annotate app."""
