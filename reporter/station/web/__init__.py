"""Flask blueprints and the request plumbing around them."""
