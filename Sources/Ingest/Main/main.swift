print("ledger-ingest: not yet")
