"""PgBouncer settings, shared by the CloudNativePG Poolers and the local pgbouncer.ini of the tests."""

from __future__ import annotations

from components.postgres.settings import Postgres


def pgbouncer_parameters(postgres: Postgres) -> dict[str, str]:
    """The `spec.pgbouncer.parameters` of each Pooler (pool_mode is its own field there)."""
    return {
        "max_client_conn": str(postgres.max_client_connections),
        "default_pool_size": str(postgres.default_pool_size),
        "max_prepared_statements": str(postgres.max_prepared_statements),
        "server_idle_timeout": "300",
        "server_lifetime": "3600",
        "query_wait_timeout": "30",
        "client_idle_timeout": "0",
    }


def render_pgbouncer_ini(
    postgres: Postgres,
    database: str,
    server_host: str,
    server_port: int,
    listen_address: str,
    listen_port: int,
    auth_file: str,
    pid_file: str,
) -> str:
    """A pgbouncer.ini with exactly the Pooler's parameters, in transaction mode like the Pooler."""
    lines = [
        "[databases]",
        f"{database} = host={server_host} port={server_port} dbname={database}",
        "",
        "[pgbouncer]",
        f"listen_addr = {listen_address}",
        f"listen_port = {listen_port}",
        "pool_mode = transaction",
        "auth_type = scram-sha-256",
        f"auth_file = {auth_file}",
        f"pidfile = {pid_file}",
        *[f"{key} = {value}" for key, value in pgbouncer_parameters(postgres).items()],
        "",
    ]
    return "\n".join(lines)
