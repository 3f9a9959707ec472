"""What a candidate receives: template environment, rendering, context, MIME, signed links."""
