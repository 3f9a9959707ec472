"""Benchmarks: the nurture pipeline against a bare Python loop doing the same work (`make bench`)."""
