"""What runs on a reviewer's laptop: import bundles, the review database, queries, files."""
