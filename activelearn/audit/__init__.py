"""What the random audit says: the active model's metric on the audit sample with an
interval, learning curves of actively chosen against audit labels, the labels saved against
random sampling, and the forecast of what the rest of the budget buys (with the stop
recommendation). The sample itself is drawn by annotate.queue.audit."""
