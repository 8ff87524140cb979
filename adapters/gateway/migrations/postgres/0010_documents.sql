-- Prepared and signed PDFs when several gateways share one PostgreSQL and
-- no disk: each document is a large object (streamed in and out, written
-- at offsets), named as the file under <data>/files would be.
CREATE TABLE documents (
    name       TEXT PRIMARY KEY,
    oid        OID NOT NULL,
    size       BIGINT NOT NULL,
    prepared   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX documents_created ON documents(prepared, created_at);
