/*
 * ch_fdw.h — shared declarations of the C bridge.
 *
 * The bridge knows PostgreSQL and the embedded interpreter; everything about
 * ClickHouse lives in the Python package ch_fdw (entry points in
 * ch_fdw/bridge.py).
 */
#ifndef CH_FDW_H
#define CH_FDW_H

#include "postgres.h"

/*
 * Python.h redefines some symbols PostgreSQL's headers set (and scribbles on
 * our printf macros), so undefine them first and restore afterwards, as
 * PL/Python does.
 */
#undef _POSIX_C_SOURCE
#undef _XOPEN_SOURCE
#undef vsnprintf
#undef snprintf
#undef vsprintf
#undef sprintf
#undef vfprintf
#undef fprintf
#undef vprintf
#undef printf
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#undef vsnprintf
#undef snprintf
#undef vsprintf
#undef sprintf
#undef vfprintf
#undef fprintf
#undef vprintf
#undef printf
#define vsnprintf		pg_vsnprintf
#define snprintf		pg_snprintf
#define vsprintf		pg_vsprintf
#define sprintf			pg_sprintf
#define vfprintf		pg_vfprintf
#define fprintf			pg_fprintf
#define vprintf			pg_vprintf
#define printf(...)		pg_printf(__VA_ARGS__)

#include "access/transam.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/relcache.h"

#include "compat.h"

/* python.c: the interpreter and calls into ch_fdw.bridge */
extern void chfdw_python_init(void);
extern void chfdw_python_preload(void);
extern PyObject *chfdw_call(const char *func, PyObject *args);
pg_noreturn extern void chfdw_raise_python_error(const char *context);
extern char *chfdw_py_str(PyObject *obj);
extern PyObject *chfdw_py_text(const char *s);
extern void chfdw_dict_set_text(PyObject *dict, const char *key, const char *value);
extern void chfdw_dict_set_steal(PyObject *dict, const char *key, PyObject *value);
extern PyObject *chfdw_options_dict(List *options);
extern PyObject *chfdw_py_int_list(List *ints);
extern PyObject *chfdw_py_string_list(List *strings);

/* context.c: the catalog facts Python needs about a server/table */
extern PyObject *chfdw_server_context(Oid serverid, Oid userid);
extern PyObject *chfdw_table_context(Relation rel, Oid userid);
extern PyObject *chfdw_collation_facts(Oid coll);
extern int	chfdw_set_transmission_modes(void);
extern void chfdw_reset_transmission_modes(int nestlevel);

/* convert.c: Python values -> Datums */
typedef struct ChFdwColumnConv
{
	Oid			typoid;
	int32		typmod;
	int			kind;			/* fast-path selector, see convert.c */
	FmgrInfo	input_fn;		/* type input function (fallback) */
	Oid			typioparam;
	const char *attname;
	const char *relname;
} ChFdwColumnConv;

extern void chfdw_column_conv_init(ChFdwColumnConv *conv, Oid typoid, int32 typmod,
								   const char *attname, const char *relname);
extern Datum chfdw_py_to_datum(PyObject *value, ChFdwColumnConv *conv, bool *isnull);
extern PyObject *chfdw_datum_to_py_text(Datum value, bool isnull, Oid typoid);

/* convert.c: Datums -> Python values (writes; forms in ch_fdw/insert.py) */
typedef struct ChFdwOutConv
{
	Oid			typoid;
	int			kind;
	FmgrInfo	output_fn;
} ChFdwOutConv;

extern void chfdw_out_conv_init(ChFdwOutConv *conv, Oid typoid);
extern bool chfdw_out_conv_needs_modes(ChFdwOutConv *conv);
extern PyObject *chfdw_datum_to_py(Datum value, bool isnull, ChFdwOutConv *conv);

/* rows.c: streaming a Python scan object's batches into slots */
typedef struct ChFdwRowStream
{
	int			ncols;
	AttrNumber *attnums;		/* slot attribute (1-based) of each column */
	ChFdwColumnConv *convs;
	PyObject   *scan;			/* Python scan object, or NULL */
	PyObject   *batch;			/* current batch (n, [columns]) */
	PyObject  **columns;		/* borrowed column sequences of batch */
	Py_ssize_t	nrows;
	Py_ssize_t	pos;
	bool		done;
	int			cur_col;		/* for the error context */
	MemoryContext row_cxt;
	MemoryContextCallback cleanup;
} ChFdwRowStream;

struct TupleTableSlot;
struct ExprContext;
extern void chfdw_rows_init(ChFdwRowStream *rs, MemoryContext query_cxt, int ncols);
extern bool chfdw_rows_next(ChFdwRowStream *rs, struct TupleTableSlot *slot);
extern void chfdw_rows_restart(ChFdwRowStream *rs);
extern void chfdw_rows_release(ChFdwRowStream *rs);
struct PlanState;
extern List *chfdw_init_params(List *exprs, int nparams, struct PlanState *parent,
							   List **states, List **types);
extern PyObject *chfdw_eval_params(List *param_ids, List *param_states, List *param_types,
								   struct ExprContext *econtext);

/* query.c: whole-query pushdown (planner hook + CustomScan) */
extern void chfdw_query_init(void);
extern bool chfdw_query_hook_active;
extern const char *chfdw_fallback_reason;

/* Objects PostgreSQL ships: their names mean what ClickHouse translation assumes. */
static inline bool
chfdw_is_builtin(Oid oid)
{
	return oid < FirstGenbkiObjectId;
}

/* stable.c: statement-stable values sent as parameters */
#define CHFDW_STABLE_PARAM_BASE 200000
extern Node *chfdw_replace_stable_values(Node *node, List **values);
extern bool chfdw_is_stable_param(Param *p);
extern List *chfdw_param_exprs(List *params, List *values);

/* scan.c: the per-table ForeignScan */
extern PyObject *chfdw_param_types_dict(List *params);
struct FdwRoutine;
extern void chfdw_scan_routine(struct FdwRoutine *routine);

/* modify.c: INSERT/COPY batches, UPDATE/DELETE as ClickHouse mutations */
extern void chfdw_modify_routine(struct FdwRoutine *routine);

#endif							/* CH_FDW_H */
