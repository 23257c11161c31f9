/*
 * rows.c — streaming a Python scan object's batches into tuple slots.
 *
 * Shared by the per-table ForeignScan and the whole-query CustomScan.  A
 * Python scan object has fetch() -> None | (nrows, [column, ...]) and
 * close().  Values become Datums in a per-row memory context; the scan
 * object is released by a reset callback on the query context, so an error
 * or cancel anywhere still closes (and if needed cancels) the remote query.
 */
#include "ch_fdw.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/memutils.h"

void
chfdw_rows_release(ChFdwRowStream *rs)
{
	rs->nrows = rs->pos = 0;
	Py_CLEAR(rs->batch);
	if (rs->scan != NULL)
	{
		PyObject   *r = PyObject_CallMethod(rs->scan, "close", NULL);

		Py_XDECREF(r);
		PyErr_Clear();
		Py_CLEAR(rs->scan);
	}
}

static void
cleanup_callback(void *arg)
{
	chfdw_rows_release((ChFdwRowStream *) arg);
}

void
chfdw_rows_init(ChFdwRowStream *rs, MemoryContext query_cxt, int ncols)
{
	memset(rs, 0, sizeof(*rs));
	rs->ncols = ncols;
	rs->attnums = palloc0(sizeof(AttrNumber) * Max(ncols, 1));
	rs->convs = palloc0(sizeof(ChFdwColumnConv) * Max(ncols, 1));
	rs->columns = palloc0(sizeof(PyObject *) * Max(ncols, 1));
	rs->cur_col = -1;
	rs->row_cxt = AllocSetContextCreate(query_cxt, "ch_fdw row", ALLOCSET_SMALL_SIZES);
	rs->cleanup.func = cleanup_callback;
	rs->cleanup.arg = rs;
	MemoryContextRegisterResetCallback(query_cxt, &rs->cleanup);
}

void
chfdw_rows_restart(ChFdwRowStream *rs)
{
	chfdw_rows_release(rs);
	rs->done = false;
}

static void
conversion_error_callback(void *arg)
{
	ChFdwRowStream *rs = (ChFdwRowStream *) arg;

	if (rs->cur_col >= 0 && rs->cur_col < rs->ncols)
	{
		ChFdwColumnConv *c = &rs->convs[rs->cur_col];

		if (c->relname)
			errcontext("column \"%s\" of foreign table \"%s\"", c->attname, c->relname);
		else
			errcontext("column \"%s\" of the ClickHouse query result", c->attname);
	}
}

/* Take the next batch from Python; false at end of data. */
static bool
next_batch(ChFdwRowStream *rs)
{
	PyObject   *b;
	PyObject   *cols;
	int			j;

	Py_CLEAR(rs->batch);
	b = PyObject_CallMethod(rs->scan, "fetch", NULL);
	if (b == NULL)
		chfdw_raise_python_error(NULL);
	if (b == Py_None)
	{
		Py_DECREF(b);
		return false;
	}
	rs->batch = b;
	if (!PyTuple_Check(b) || PyTuple_GET_SIZE(b) != 2 ||
		!PyLong_Check(PyTuple_GET_ITEM(b, 0)) || !PyList_Check(PyTuple_GET_ITEM(b, 1)) ||
		PyList_GET_SIZE(PyTuple_GET_ITEM(b, 1)) != rs->ncols)
		elog(ERROR, "ch_fdw: scan returned a malformed batch");
	rs->nrows = PyLong_AsSsize_t(PyTuple_GET_ITEM(b, 0));
	rs->pos = 0;
	cols = PyTuple_GET_ITEM(b, 1);
	for (j = 0; j < rs->ncols; j++)
	{
		PyObject   *c = PyList_GET_ITEM(cols, j);

		if (!(PyList_Check(c) || PyTuple_Check(c)) || PySequence_Fast_GET_SIZE(c) < rs->nrows)
			elog(ERROR, "ch_fdw: scan returned a malformed column");
		rs->columns[j] = c;
	}
	return true;
}

/*
 * Store the next row into slot (cleared first); false at end of data.
 * The caller must have set rs->scan.
 */
bool
chfdw_rows_next(ChFdwRowStream *rs, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	ErrorContextCallback errcb;
	MemoryContext old;
	int			j;

	ExecClearTuple(slot);
	if (rs->done)
		return false;
	while (rs->pos >= rs->nrows)
	{
		CHECK_FOR_INTERRUPTS();
		if (!next_batch(rs))
		{
			rs->done = true;
			chfdw_rows_release(rs);
			return false;
		}
	}

	MemoryContextReset(rs->row_cxt);
	old = MemoryContextSwitchTo(rs->row_cxt);
	memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);
	errcb.callback = conversion_error_callback;
	errcb.arg = rs;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (j = 0; j < rs->ncols; j++)
	{
		int			att = rs->attnums[j] - 1;
		PyObject   *v = PySequence_Fast_ITEMS(rs->columns[j])[rs->pos];

		rs->cur_col = j;
		slot->tts_values[att] = chfdw_py_to_datum(v, &rs->convs[j], &slot->tts_isnull[att]);
	}
	rs->cur_col = -1;
	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(old);
	rs->pos++;
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * Prepare the first nparams of exprs as parameters (ExprStates and result
 * types, for chfdw_eval_params); returns the remaining expressions.
 */
List *
chfdw_init_params(List *exprs, int nparams, struct PlanState *parent,
				  List **states, List **types)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, exprs)
	{
		Expr	   *e = (Expr *) lfirst(lc);

		if (i++ == nparams)
			return list_copy_tail(exprs, nparams);
		*states = lappend(*states, ExecInitExpr(e, parent));
		*types = lappend_oid(*types, exprType((Node *) e));
	}
	return NIL;
}

/*
 * Evaluate parameter expressions into {paramid: text or None}, in the
 * unambiguous output formats (the caller's transmission modes).
 */
PyObject *
chfdw_eval_params(List *param_ids, List *param_states, List *param_types, ExprContext *econtext)
{
	PyObject   *params = PyDict_New();
	ListCell   *lp,
			   *ls,
			   *lt;
	int			nestlevel;

	if (params == NULL)
		chfdw_raise_python_error("could not build parameters");
	nestlevel = chfdw_set_transmission_modes();
	forthree(lp, param_ids, ls, param_states, lt, param_types)
	{
		bool		isnull;
		Datum		d = ExecEvalExpr((ExprState *) lfirst(ls), econtext, &isnull);
		PyObject   *k = PyLong_FromLong(lfirst_int(lp));
		PyObject   *v = chfdw_datum_to_py_text(d, isnull, lfirst_oid(lt));

		PyDict_SetItem(params, k, v);
		Py_DECREF(k);
		Py_DECREF(v);
	}
	chfdw_reset_transmission_modes(nestlevel);
	return params;
}
