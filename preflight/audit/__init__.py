"""preflight audit: role assignments at scale."""
