"""End-to-end workload built on the real junjo SDK (see run.py)."""
