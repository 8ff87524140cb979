-- Subject details of users (state, postal code, ...), as JSON: certificate
-- profiles such as individual-signing require some of them.
ALTER TABLE users ADD COLUMN subject BLOB;
