"""A run of the pipeline: resources, audiences, extract, plan, deliver, guardrails, tally, summary."""
