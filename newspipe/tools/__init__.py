"""Tools that combine services: topic and index setup, offline enrichment, evaluation, queries,
dead letters, the local stack and the process supervisor. Only these and the CLI import services."""
