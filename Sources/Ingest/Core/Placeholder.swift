// The Kafka side of ledger-ingest; see IngestService.swift.
