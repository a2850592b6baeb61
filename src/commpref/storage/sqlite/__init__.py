"""The SQLite backend (`store.SqliteStore`): one writer thread, a pool of reader threads,
checkpoints off the commit path. Its parts follow the storage interface's concepts; what
they all run on is `connection` and `transactions`."""
