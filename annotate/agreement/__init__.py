"""Agreement between a task's annotators, read from what was stored when their consensus
formed (annotate.services.consensus): the task's consensus for the review page, and a
project's figures per task, annotator, class and joint for its quality page and the API."""
