"""Propagation: carrying a video task's shapes forward or backward along its frames by
optical flow (flow.py, pure), as one job that writes one new annotation version
(services.py)."""
