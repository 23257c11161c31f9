/*
 * ch_fdw.c — module entry: the FDW handler and validator, IMPORT FOREIGN
 * SCHEMA, and GUCs.
 */
#include "ch_fdw.h"

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

extern char *chfdw_python_path;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomStringVariable("ch_fdw.python_path",
							   "Directory holding the ch_fdw Python package and its dependencies.",
							   "Empty means the directory chosen at build time.",
							   &chfdw_python_path, "", PGC_SUSET, 0, NULL, NULL, NULL);
	chfdw_query_init();
	MarkGUCPrefixReserved("ch_fdw");
}

static List *
chImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	PyObject   *ctx = chfdw_server_context(serverOid, GetUserId());
	PyObject   *tables = PyList_New(0);
	PyObject   *res;
	const char *list_type;
	List	   *commands = NIL;
	ListCell   *lc;
	Py_ssize_t	i;

	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);
		PyObject   *name = chfdw_py_text(rv->relname);

		PyList_Append(tables, name);
		Py_DECREF(name);
	}
	switch (stmt->list_type)
	{
		case FDW_IMPORT_SCHEMA_LIMIT_TO:
			list_type = "LIMIT TO";
			break;
		case FDW_IMPORT_SCHEMA_EXCEPT:
			list_type = "EXCEPT";
			break;
		default:
			list_type = "ALL";
			break;
	}
	res = chfdw_call("import_schema",
					 Py_BuildValue("(NNsNNN)", ctx, chfdw_py_text(stmt->remote_schema), list_type,
								   tables, chfdw_py_text(stmt->local_schema),
								   chfdw_options_dict(stmt->options)));
	if (!PyList_Check(res))
	{
		Py_DECREF(res);
		elog(ERROR, "ch_fdw: import_schema did not return a list");
	}
	for (i = 0; i < PyList_GET_SIZE(res); i++)
		commands = lappend(commands, chfdw_py_str(PyList_GET_ITEM(res, i)));
	Py_DECREF(res);
	return commands;
}

PG_FUNCTION_INFO_V1(ch_fdw_handler);
Datum
ch_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	/* Every callback builds Python objects; start the interpreter first. */
	chfdw_python_init();
	chfdw_scan_routine(routine);
	chfdw_modify_routine(routine);
	routine->ImportForeignSchema = chImportForeignSchema;
	PG_RETURN_POINTER(routine);
}

/* Options are checked by the Python core, which knows their meaning. */
PG_FUNCTION_INFO_V1(ch_fdw_validator);
Datum
ch_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	const char *where;
	PyObject   *res;

	chfdw_python_init();
	switch (catalog)
	{
		case ForeignDataWrapperRelationId:
			where = "wrapper";
			break;
		case ForeignServerRelationId:
			where = "server";
			break;
		case UserMappingRelationId:
			where = "user_mapping";
			break;
		case ForeignTableRelationId:
			where = "foreign_table";
			break;
		case AttributeRelationId:
			where = "column";
			break;
		default:
			where = "unknown";
			break;
	}
	res = chfdw_call("validate_options", Py_BuildValue("(sN)", where, chfdw_options_dict(options)));
	Py_DECREF(res);
	PG_RETURN_VOID();
}
