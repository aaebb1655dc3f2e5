-- The platform's client decodes namespace metadata and memory propagation
-- into a map: any other JSON value, once stored, breaks every later read of
-- it. The handlers refuse such writes (400); these checks make the database
-- refuse them too, whoever writes. NOT VALID: rows written before (by an
-- older plugin, or adopted from the platform's plugin) are kept as they are
-- and served with the field null (see store.go).
ALTER TABLE {{schema}}.memory_namespaces ADD CONSTRAINT memory_namespaces_metadata_object
    CHECK (metadata IS NULL OR json_typeof(metadata::json) = 'object') NOT VALID;
ALTER TABLE {{schema}}.memory_records ADD CONSTRAINT memory_records_propagation_object
    CHECK (propagation IS NULL OR json_typeof(propagation::json) = 'object') NOT VALID;
ALTER TABLE {{schema}}.memory_records ADD CONSTRAINT memory_records_metadata_object
    CHECK (metadata IS NULL OR json_typeof(metadata::json) = 'object') NOT VALID;
