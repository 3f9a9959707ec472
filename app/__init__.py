"""Entry points: the Typer CLI and the FastAPI app (they may start flows)."""
