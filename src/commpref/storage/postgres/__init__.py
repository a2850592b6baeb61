"""The PostgreSQL backend (`store.PostgresStore`): asyncpg, one connection pool per process,
set-based statements. Its parts follow the storage interface's concepts; what they all run
on is `connection`, and what requests arriving together share is `coalesce`."""
