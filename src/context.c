/*
 * context.c — the catalog facts the Python core needs, as Python dicts.
 *
 * A server context: {"server_id", "server_name", "server": {options},
 * "user": {user mapping options}, "user_mapping_id"}.  A table context adds
 * "relid", "relname" (qualified, for messages), "table": {options} and
 * "columns": [{"attnum", "name", "type", "typoid", "typmod", "not_null",
 * "options": {...}}], plus "text_collation_c" (is the database's default
 * collation byte order, so text ordering may run in ClickHouse).
 */
#include "ch_fdw.h"

#include "access/tupdesc.h"
#include "catalog/pg_collation.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"

static PyObject *
py_long(long v)
{
	PyObject   *o = PyLong_FromLong(v);

	if (o == NULL)
		chfdw_raise_python_error("could not build request");
	return o;
}

PyObject *
chfdw_server_context(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *um;
	PyObject   *ctx;

	/* GetUserMapping errors out (with a hint) when there is none. */
	um = GetUserMapping(userid, serverid);

	ctx = PyDict_New();
	if (ctx == NULL)
		chfdw_raise_python_error("could not build request");
	chfdw_dict_set_steal(ctx, "server_id", py_long(serverid));
	chfdw_dict_set_text(ctx, "server_name", server->servername);
	chfdw_dict_set_steal(ctx, "server", chfdw_options_dict(server->options));
	chfdw_dict_set_steal(ctx, "user", chfdw_options_dict(um->options));
	chfdw_dict_set_steal(ctx, "user_mapping_id", py_long(um->umid));
	chfdw_dict_set_text(ctx, "timezone", pg_get_timezone_name(session_timezone));
	chfdw_dict_set_steal(ctx, "text_collation_c",
						 PyBool_FromLong(chfdw_collation_is_c(DEFAULT_COLLATION_OID)));
	return ctx;
}

PyObject *
chfdw_table_context(Relation rel, Oid userid)
{
	Oid			relid = RelationGetRelid(rel);
	ForeignTable *table = GetForeignTable(relid);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	PyObject   *ctx = chfdw_server_context(table->serverid, userid);
	PyObject   *columns;
	int			i;

	chfdw_dict_set_steal(ctx, "relid", py_long(relid));
	chfdw_dict_set_text(ctx, "relname",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel)));
	/* the default remote table name: the foreign table's own, unquoted */
	chfdw_dict_set_text(ctx, "table_default_name", RelationGetRelationName(rel));
	chfdw_dict_set_steal(ctx, "table", chfdw_options_dict(table->options));

	columns = PyList_New(0);
	if (columns == NULL)
		chfdw_raise_python_error("could not build request");
	chfdw_dict_set_steal(ctx, "columns", columns);
	Py_INCREF(columns);			/* keep a borrowed use below */
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		PyObject   *col;

		if (att->attisdropped)
			continue;
		col = PyDict_New();
		if (col == NULL || PyList_Append(columns, col) < 0)
		{
			Py_XDECREF(col);
			Py_DECREF(columns);
			chfdw_raise_python_error("could not build request");
		}
		Py_DECREF(col);
		chfdw_dict_set_steal(col, "attnum", py_long(att->attnum));
		chfdw_dict_set_text(col, "name", NameStr(att->attname));
		chfdw_dict_set_text(col, "type", format_type_with_typemod(att->atttypid, att->atttypmod));
		chfdw_dict_set_steal(col, "typoid", py_long(att->atttypid));
		chfdw_dict_set_steal(col, "typmod", py_long(att->atttypmod));
		chfdw_dict_set_steal(col, "not_null", PyBool_FromLong(att->attnotnull));
		chfdw_dict_set_steal(col, "options",
							 chfdw_options_dict(GetForeignColumnOptions(relid, att->attnum)));
	}
	Py_DECREF(columns);
	return ctx;
}

/*
 * Make deparsed SQL and output-function text unambiguous for Python, like
 * postgres_fdw does before it ships values: ISO dates, full float
 * precision, and pg_catalog-only search_path so built-ins print unqualified.
 */
int
chfdw_set_transmission_modes(void)
{
	int			nestlevel = NewGUCNestLevel();

	if (DateStyle != USE_ISO_DATES)
		(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (IntervalStyle != INTSTYLE_POSTGRES)
		(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (extra_float_digits < 3)
		(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

void
chfdw_reset_transmission_modes(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}
