-- ch_fdw 0.1.0: ClickHouse foreign data wrapper
\echo Use "CREATE EXTENSION ch_fdw" to load this file. \quit

CREATE FUNCTION ch_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION ch_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER ch_fdw
  HANDLER ch_fdw_handler
  VALIDATOR ch_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER ch_fdw IS 'ClickHouse foreign data wrapper';
