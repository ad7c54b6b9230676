"""Language selection for the pages and the translators' tools over the gettext catalogues."""
