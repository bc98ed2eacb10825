"""Benchmarks: full-budget runs compared side by side with a peer library (`make bench`)."""
