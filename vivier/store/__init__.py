"""The database: engines and migrations, the schema, dialect-aware bulk statements."""
