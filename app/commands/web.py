"""`vivier web`: serve the candidate preference centre with uvicorn."""

from __future__ import annotations

import logging

import typer

from app.commands.common import console, engine, err_console, load


def web(
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, min=1, max=65535, help="port to listen on"),
    proxy_headers: bool = typer.Option(
        False, "--proxy-headers", help="trust X-Forwarded-* from the reverse proxy in front"
    ),
) -> None:
    """Serve the preference page and the one-click unsubscribe links of every message.

    Links in messages start with VIVIER_PUBLIC_BASE_URL: serve this app at that address.
    It refuses to start with the demo VIVIER_SECRET_KEY or one under 32 bytes, unless VIVIER_ENV=demo.

    In production, put it behind a TLS reverse proxy and pass --proxy-headers.

    Examples:

      vivier web                                   # http://127.0.0.1:8000, for a laptop

      vivier web --host 0.0.0.0 --port 8080 --proxy-headers   # behind nginx / a load balancer
    """
    import uvicorn

    from app.web import create_app

    settings = load()
    if problem := settings.signing_key_problem():  # a weak key lets anyone change anyone's consent
        err_console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)
    engine(settings)  # migrated before the first request
    logging.getLogger("vivier.web").setLevel(logging.INFO)
    console.print(f"preference centre on http://{host}:{port} "
                  f"(links in messages point at {settings.public_base_url})")
    # uvicorn's access log would print link tokens: the app logs requests with them cut out.
    uvicorn.run(create_app(settings), host=host, port=port, access_log=False,
                proxy_headers=proxy_headers, server_header=False, log_level="info")
