/*
 * context.c — the catalog facts the Python core needs, as Python dicts.
 *
 * A server context: {"server_id", "server_name", "server": {options},
 * "user": {user mapping options}, "user_mapping_id"}.  A table context adds
 * "relid", "relname" (qualified, for messages), "table": {options} and
 * "columns": [{"attnum", "name", "type", "typoid", "typmod", "not_null",
 * "options": {...}}], plus "collations": [the database default's facts]
 * (chfdw_collation_facts; Python decides whether text order is byte order).
 */
#include "ch_fdw.h"

#include "access/tupdesc.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_database.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/syscache.h"

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
	PyObject   *colls;

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
	colls = PyList_New(1);
	if (colls == NULL)
		chfdw_raise_python_error("could not build request");
	chfdw_dict_set_steal(ctx, "collations", colls);
	PyList_SET_ITEM(colls, 0, chfdw_collation_facts(DEFAULT_COLLATION_OID));
	return ctx;
}

static void
set_text_or_none(PyObject *d, const char *key, int cacheid, HeapTuple tup, AttrNumber attno)
{
	bool		isnull;
	Datum		v = SysCacheGetAttr(cacheid, tup, attno, &isnull);

	if (isnull)
	{
		Py_INCREF(Py_None);
		chfdw_dict_set_steal(d, key, Py_None);
	}
	else
		chfdw_dict_set_text(d, key, TextDatumGetCString(v));
}

/*
 * The facts about collation coll that decide whether PostgreSQL orders text
 * under it by bytes (ch_fdw/collations.py decides): {"name", "provider" ("c"
 * libc, "i" ICU, "b" builtin), "collate" (the libc locale), "locale" (the
 * ICU/builtin locale), "deterministic"}.  The default collation is described
 * by the current database.  A new reference.
 */
PyObject *
chfdw_collation_facts(Oid coll)
{
	PyObject   *d = PyDict_New();
	HeapTuple	tup;
	char		provider[2] = {0, 0};
	bool		deterministic = true;

	if (d == NULL)
		chfdw_raise_python_error("could not build request");
	if (coll == DEFAULT_COLLATION_OID)
	{
		tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
		provider[0] = ((Form_pg_database) GETSTRUCT(tup))->datlocprovider;
		chfdw_dict_set_text(d, "name", "default");
		set_text_or_none(d, "collate", DATABASEOID, tup, Anum_pg_database_datcollate);
		set_text_or_none(d, "locale", DATABASEOID, tup, CHFDW_ANUM_DATABASE_LOCALE);
	}
	else
	{
		Form_pg_collation c;

		tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(coll));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for collation %u", coll);
		c = (Form_pg_collation) GETSTRUCT(tup);
		provider[0] = c->collprovider;
		deterministic = c->collisdeterministic;
		chfdw_dict_set_text(d, "name", NameStr(c->collname));
		set_text_or_none(d, "collate", COLLOID, tup, Anum_pg_collation_collcollate);
		set_text_or_none(d, "locale", COLLOID, tup, CHFDW_ANUM_COLLATION_LOCALE);
	}
	ReleaseSysCache(tup);
	chfdw_dict_set_text(d, "provider", provider);
	chfdw_dict_set_steal(d, "deterministic", PyBool_FromLong(deterministic));
	return d;
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
