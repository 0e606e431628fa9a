"""The decision log: an append-only, hash-chained record per incident."""
