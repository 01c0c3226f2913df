print("ledger-projector: not yet")
