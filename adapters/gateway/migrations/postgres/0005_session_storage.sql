-- A completion (~3 KB: signatures, certificate and chain) stays in the
-- session's row, uncompressed: it does not compress (base64 in JSON), and
-- moving it to the TOAST table costs two more rows and an index entry.
ALTER TABLE sessions SET (toast_tuple_target = 8160);
