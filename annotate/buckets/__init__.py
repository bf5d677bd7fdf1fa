"""Media that already lives in object storage, registered instead of copied: bucket sources,
their listing into assets and tasks (services.py). Reading their objects is
annotate.bucket_objects, which the ingest pipeline uses too."""
