"""Format readers: bytes of one file -> Drafts (articles as found, with their metadata). Pure."""
