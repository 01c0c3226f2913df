"""The system Pulse Ledger replaces, as a baseline for scripts/bench (issue 12).

The original Airflow DAG (../shared/seed/ORIGINAL_ARCHITECTURE.md: extract → validate → transform → load, with
invalid records routed to a dead-letter topic) run as one tight loop in one process, without the 30-second
schedule, so that it goes as fast as its design allows: consumer group `etl-consumer`, batches of at most 1000
messages, Pydantic validation, tax 8.5 %, total, fraud flag above 1000, UTC timestamps, a batch id, SQLAlchemy
`insert().on_conflict_do_nothing()` on order_id, and the offsets committed only after the load.

Usage: etl_loop.py --brokers B --topic T --database URL --messages N
Runs until N messages were consumed and loaded, then prints one JSON line: seconds (from the first message
received to the last offset commit), messages, rows loaded, dead letters.
"""

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from confluent_kafka import Consumer, Producer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, Numeric, String, Table, create_engine, func,
                        text)
from sqlalchemy.dialects.postgresql import UUID, insert

BATCH_MESSAGES_MAX = 1000
TAX_RATE = Decimal("0.085")
FRAUD_THRESHOLD = Decimal("1000")

# Its own schema, so that it can never touch the warehouse it is compared with in the same database.
SCHEMA = "original_etl"
metadata = MetaData(schema=SCHEMA)
# The original warehouse table, as in the design document.
transactions = Table(
    "transactions", metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", UUID(as_uuid=True), unique=True, nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("tax_amount", Numeric(12, 2), nullable=False),
    Column("total_amount", Numeric(12, 2), nullable=False),
    Column("is_fraud_flagged", Boolean, default=False),
    Column("customer_id", String(50), nullable=False),
    Column("product_category", String(50), nullable=False),
    Column("transaction_timestamp", DateTime(timezone=True), nullable=False, index=True),
    Column("processed_at", DateTime(timezone=True), server_default=func.now()),
    Column("batch_id", String(50), nullable=False),
)


class TransactionMessage(BaseModel):
    """The producer's message schema, validated as the original did."""
    model_config = ConfigDict(extra="forbid", strict=False)
    order_id: uuid.UUID
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: Literal["USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY"]
    timestamp: datetime
    customer_id: str = Field(min_length=1, max_length=50)
    product_category: str = Field(min_length=1, max_length=50)


def transform(message: TransactionMessage, batch_id: str) -> dict:
    tax = (message.amount * TAX_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    stamp = message.timestamp if message.timestamp.tzinfo else message.timestamp.replace(tzinfo=timezone.utc)
    return {
        "order_id": message.order_id, "amount": message.amount, "currency": message.currency,
        "tax_amount": tax, "total_amount": message.amount + tax,
        "is_fraud_flagged": message.amount > FRAUD_THRESHOLD,
        "customer_id": message.customer_id, "product_category": message.product_category,
        "transaction_timestamp": stamp.astimezone(timezone.utc), "batch_id": batch_id,
    }


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--brokers", required=True)
    arguments.add_argument("--topic", default="transactions")
    arguments.add_argument("--group", default="etl-consumer")
    arguments.add_argument("--database", required=True)
    arguments.add_argument("--messages", type=int, required=True)
    options = arguments.parse_args()

    engine = create_engine(options.database)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    metadata.create_all(engine)
    consumer = Consumer({
        "bootstrap.servers": options.brokers, "group.id": options.group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    dead_letters = Producer({"bootstrap.servers": options.brokers})
    consumer.subscribe([options.topic])
    consumed = loaded = rejected = 0
    started = None
    while consumed < options.messages:
        batch = consumer.consume(num_messages=BATCH_MESSAGES_MAX, timeout=1.0)
        batch = [message for message in batch if message.error() is None]
        if not batch:
            continue
        started = started or time.perf_counter()
        batch_id = f"batch_{datetime.now(timezone.utc):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:8]}"
        rows = []
        for message in batch:
            try:
                rows.append(transform(TransactionMessage.model_validate_json(message.value() or b""), batch_id))
            except ValidationError as error:
                reason = error.errors()[0]["type"]
                dead_letters.produce(f"{options.topic}.dlq", message.value(), headers={"reason": reason})
                rejected += 1
        # One row per order_id within a statement: ON CONFLICT cannot touch the same row twice.
        unique = list({row["order_id"]: row for row in reversed(rows)}.values())
        if unique:
            with engine.begin() as connection:
                result = connection.execute(
                    insert(transactions).values(unique).on_conflict_do_nothing(index_elements=["order_id"]))
                loaded += result.rowcount
        dead_letters.flush()
        consumer.commit(asynchronous=False)
        consumed += len(batch)
    seconds = time.perf_counter() - started
    consumer.close()
    print(json.dumps({"seconds": seconds, "messages": consumed, "rows": loaded, "dead_letters": rejected}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
