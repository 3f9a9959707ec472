"""The CLI's verbs, one module per concern; `vivier.cli` assembles them."""
