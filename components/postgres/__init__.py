"""PostgreSQL through CloudNativePG: tuned parameters, PgBouncer poolers, Barman Cloud backups."""
