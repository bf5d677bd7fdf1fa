"""The labeling and review pages."""
