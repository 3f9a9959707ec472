"""The candidate preference centre: preference page, one-click unsubscribe (RFC 8058).

    from app.web import create_app
    app = create_app(settings)      # served by `vivier web` (uvicorn)
"""

from app.web.app import create_app

__all__ = ["create_app"]
