"""SQLCipher plumbing and durable writes that the station and the reviewers both use."""
