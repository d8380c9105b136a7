"""Finding customers by a piece of their name or phone, fast with 100,000 of them.

PostgreSQL: trigram indexes (pg_trgm) under the very ILIKE and LIKE the search writes, on `name`
and `phone`. SQLite: an FTS5 table with the trigram tokenizer over `customer(name, phone)`
(external content: it stores only the index), kept in step by triggers, asked with MATCH.
The schema is made by migration 0006_search from these statements; the models do not declare
it, so the migration checks leave these names out (`not_modelled`).
"""

from __future__ import annotations

SEARCH_TABLE = "customer_search"  # SQLite; FTS5 adds customer_search_data, _idx, ...
TRIGRAM_INDEXES = ("ix_customer_name_trgm", "ix_customer_phone_trgm")  # PostgreSQL
MIN_MATCH = 3  # a trigram needs three characters; shorter terms are looked for with LIKE

POSTGRES_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_customer_name_trgm ON customer USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_customer_phone_trgm ON customer USING gin (phone gin_trgm_ops)",
)
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS ix_customer_phone_trgm",
    "DROP INDEX IF EXISTS ix_customer_name_trgm",
)
SQLITE_UP = (
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(name, phone, content='customer', "
    "content_rowid='id', tokenize='trigram')",
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')",
    f"CREATE TRIGGER customer_search_insert AFTER INSERT ON customer BEGIN "
    f"INSERT INTO {SEARCH_TABLE}(rowid, name, phone) VALUES (new.id, new.name, new.phone); END",
    f"CREATE TRIGGER customer_search_delete AFTER DELETE ON customer BEGIN "
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, name, phone) "
    f"VALUES ('delete', old.id, old.name, old.phone); END",
    f"CREATE TRIGGER customer_search_update AFTER UPDATE OF name, phone ON customer BEGIN "
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, name, phone) "
    f"VALUES ('delete', old.id, old.name, old.phone); "
    f"INSERT INTO {SEARCH_TABLE}(rowid, name, phone) VALUES (new.id, new.name, new.phone); END",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS customer_search_update",
    "DROP TRIGGER IF EXISTS customer_search_delete",
    "DROP TRIGGER IF EXISTS customer_search_insert",
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
)


def not_modelled(name: str | None, type_: str, _parent=None) -> bool:
    """Alembic's include_name: False for the search schema the models do not declare."""
    if type_ == "table" and name and name.startswith(SEARCH_TABLE):
        return False
    return not (type_ == "index" and name in TRIGRAM_INDEXES)


def phrase(term: str) -> str:
    """A term as one FTS5 phrase: matched as a piece of the text, quotes and all."""
    return '"' + term.replace('"', '""') + '"'
