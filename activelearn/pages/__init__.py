"""Pages of the active-learning app (the Model & queue page), for project managers and ML
engineers; the data comes from the REST API, fetched by the page's ES modules."""
