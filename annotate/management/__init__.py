"""Command-line tools of the annotate app."""
