"""Active learning: checkpoints, predictions, query strategies, scoring and the task queue."""
