"""vivier: keeps a recruiting team's talent pool engaged, respectfully and measurably."""

__version__ = "0.1.0"
