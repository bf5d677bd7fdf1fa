"""Media ingestion: uploads, the import command and video frame extraction."""
