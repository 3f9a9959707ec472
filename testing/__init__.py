"""Real throwaway servers for tests and benchmarks (PostgreSQL, SMTP)."""
