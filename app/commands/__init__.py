"""The CLI's verbs, one module per concern; `app.cli` assembles them."""
