"""Projects, media, tasks and versioned annotations; the labeling pages and the admin."""
