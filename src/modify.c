/*
 * modify.c — writes: INSERT and COPY in batches, UPDATE/DELETE as one
 * ClickHouse mutation (PostgreSQL's direct-modify API).
 *
 * INSERT/COPY: each row's values become Python objects (convert.c,
 * chfdw_datum_to_py) appended to one Python list per sent column; every
 * batch_size rows, and at the end of the statement (EndForeignModify /
 * EndForeignInsert), the Python writer (ch_fdw/insert.py) converts the
 * columns to the ClickHouse types and sends them as one INSERT naming only
 * the columns the statement gave, so ClickHouse fills the others with its
 * defaults.  Nothing is sent at COMMIT: ClickHouse is not transactional.
 *
 * UPDATE/DELETE: only when the whole statement is one ClickHouse mutation —
 * the scan of the foreign table is the ModifyTable's direct child, every
 * WHERE clause was pushed down, no RETURNING, and every SET value is computed
 * once by PostgreSQL (constants, parameters, stable expressions) or is a
 * plain column Python accepts.  Anything else is refused (SQLSTATE 0A000)
 * with the reason: row-by-row UPDATE/DELETE is not possible, ClickHouse rows
 * have no identity PostgreSQL could address.
 */
#include "ch_fdw.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/planmain.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

/* PostgreSQL's own batch API holds at most this many rows (our Python
 * buffer collects batch_size rows per ClickHouse INSERT). */
#define PG_BATCH_MAX 1000

typedef struct ChFdwModifyState
{
	Relation	rel;
	Oid			userid;
	int			ncols;
	AttrNumber *attnums;		/* sent columns */
	ChFdwOutConv *convs;
	bool		needs_modes;	/* some column goes through its output function */
	PyObject   *writer;			/* ch_fdw.insert.Writer */
	PyObject  **cols;			/* current batch: one list per sent column */
	int			nrows;
	int			batch_size;
	List	   *attrs;			/* for EXPLAIN */
	MemoryContext row_cxt;
	MemoryContextCallback cleanup;
} ChFdwModifyState;

typedef struct ChFdwDirectState
{
	Relation	rel;
	Oid			userid;
	char	   *plan_json;
	List	   *param_ids;
	List	   *param_states;
	List	   *param_types;
	List	   *value_states;
	ChFdwOutConv *value_convs;
	bool		set_processed;
	bool		done;
} ChFdwDirectState;

/* ---------- helpers ---------- */

static char *
qualified_relname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static Oid
result_userid(EState *estate, ResultRelInfo *rinfo)
{
	Index		rti = rinfo->ri_RangeTableIndex;

	if (rti == 0 && rinfo->ri_RootResultRelInfo != NULL)
		rti = rinfo->ri_RootResultRelInfo->ri_RangeTableIndex;
	if (rti == 0)
		return GetUserId();
	return chfdw_exec_rte_userid(estate, rti);
}

/* ---------- INSERT / COPY ---------- */

static int
chIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

static void
refuse_row_by_row(CmdType op, Relation rel, ModifyTable *plan)
{
	const char *reason;

	if (plan->withCheckOptionLists != NIL)
		reason = "a view's WITH CHECK OPTION needs PostgreSQL to check every changed row";
	else if (rel->trigdesc != NULL)
		reason = "row-level triggers need PostgreSQL to see every changed row";
	else
		reason = "generated columns need PostgreSQL to recompute every changed row";
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ch_fdw cannot %s foreign table %s: %s",
					op == CMD_UPDATE ? "UPDATE" : "DELETE",
					qualified_relname(RelationGetRelid(rel)), reason),
			 errdetail("ClickHouse rows have no identity PostgreSQL could address one by one; "
					   "ch_fdw only runs an UPDATE/DELETE as a single ClickHouse mutation.")));
}

static List *
chPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation, int subplan_index)
{
	CmdType		op = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Bitmapset  *given = NULL;
	List	   *attrs = NIL;
	ListCell   *lc;
	bool		all_columns;
	int			i;
	PyObject   *ctx;
	PyObject   *res;

	if (op != CMD_INSERT)
		refuse_row_by_row(op, rel, plan);	/* PlanDirectModify was not tried */

	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ch_fdw does not support INSERT ... ON CONFLICT"),
				 errdetail("ClickHouse has no unique constraints to detect a conflict with."),
				 errhint("Use a ReplacingMergeTree table to keep the latest row per key.")));

	/*
	 * Columns the statement gives (the rewriter has already added PostgreSQL
	 * DEFAULTs of the foreign table); omitted ones are left to ClickHouse's
	 * defaults.  BEFORE ROW triggers may set any column, so then send all.
	 */
	all_columns = rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row;
	foreach(lc, root->parse->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk)
			given = bms_add_member(given, tle->resno);
	}
	for (i = 1; i <= tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i - 1);

		if (att->attisdropped)
			continue;
		if (all_columns || att->attgenerated || bms_is_member(i, given))
			attrs = lappend_int(attrs, i);
	}

	/* RETURNING can only show what PostgreSQL sent, never ClickHouse's defaults. */
	if (plan->returningLists != NIL)
	{
		List	   *rlist = (List *) list_nth(plan->returningLists, subplan_index);
		Bitmapset  *used = NULL;
		int			k = -1;

		pull_varattnos((Node *) rlist, resultRelation, &used);
		while ((k = bms_next_member(used, k)) >= 0)
		{
			AttrNumber	attno = k + FirstLowInvalidHeapAttributeNumber;

			if (attno == 0)
			{
				/* a whole-row reference needs every column */
				for (i = 1; i <= tupdesc->natts; i++)
					if (!TupleDescAttr(tupdesc, i - 1)->attisdropped && !list_member_int(attrs, i))
					{
						attno = i;
						break;
					}
			}
			if (attno < 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("ch_fdw cannot return system columns of a foreign table")));
			if (attno > 0 && attno <= tupdesc->natts && !list_member_int(attrs, attno))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("RETURNING column \"%s\" of foreign table %s is not supported",
								NameStr(TupleDescAttr(tupdesc, attno - 1)->attname),
								qualified_relname(RelationGetRelid(rel))),
						 errdetail("The INSERT does not give this column, so ClickHouse computes its "
								   "DEFAULT, which ClickHouse does not send back."),
						 errhint("Give the column a value in the INSERT, or do not return it.")));
		}
	}

	/* Check now that every column exists remotely and its type can be written. */
	ctx = chfdw_table_context(rel, chfdw_planner_rte_userid(root, resultRelation));
	res = chfdw_call("plan_insert", Py_BuildValue("(NN)", ctx, chfdw_py_int_list(attrs)));
	Py_DECREF(res);
	table_close(rel, NoLock);
	return list_make1(attrs);
}

static void
modify_release(ChFdwModifyState *st)
{
	int			j;

	if (st->cols != NULL)
		for (j = 0; j < st->ncols; j++)
			Py_CLEAR(st->cols[j]);
	Py_CLEAR(st->writer);
	st->nrows = 0;
}

static void
modify_cleanup_callback(void *arg)
{
	modify_release((ChFdwModifyState *) arg);
}

static void
new_batch_lists(ChFdwModifyState *st)
{
	int			j;

	for (j = 0; j < st->ncols; j++)
	{
		Py_CLEAR(st->cols[j]);
		st->cols[j] = PyList_New(0);
		if (st->cols[j] == NULL)
			chfdw_raise_python_error("could not allocate a batch");
	}
	st->nrows = 0;
}

static ChFdwModifyState *
begin_insert(EState *estate, ResultRelInfo *rinfo, List *attrs, int eflags)
{
	MemoryContext cxt = estate->es_query_cxt;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	ChFdwModifyState *st = palloc0(sizeof(ChFdwModifyState));
	TupleDesc	tupdesc = RelationGetDescr(rinfo->ri_RelationDesc);
	ListCell   *lc;
	PyObject   *ctx;
	PyObject   *bs;
	int			j;

	st->rel = rinfo->ri_RelationDesc;
	st->userid = result_userid(estate, rinfo);
	st->attrs = list_copy(attrs);
	rinfo->ri_FdwState = st;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		MemoryContextSwitchTo(old);
		return st;
	}

	chfdw_python_init();
	st->ncols = list_length(attrs);
	st->attnums = palloc0(sizeof(AttrNumber) * Max(st->ncols, 1));
	st->convs = palloc0(sizeof(ChFdwOutConv) * Max(st->ncols, 1));
	st->cols = palloc0(sizeof(PyObject *) * Max(st->ncols, 1));
	j = 0;
	foreach(lc, attrs)
	{
		AttrNumber	a = lfirst_int(lc);

		st->attnums[j] = a;
		chfdw_out_conv_init(&st->convs[j], TupleDescAttr(tupdesc, a - 1)->atttypid);
		if (chfdw_out_conv_needs_modes(&st->convs[j]))
			st->needs_modes = true;
		j++;
	}
	st->row_cxt = AllocSetContextCreate(cxt, "ch_fdw insert row", ALLOCSET_SMALL_SIZES);
	st->cleanup.func = modify_cleanup_callback;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(cxt, &st->cleanup);

	ctx = chfdw_table_context(st->rel, st->userid);
	st->writer = chfdw_call("begin_insert", Py_BuildValue("(NN)", ctx, chfdw_py_int_list(attrs)));
	bs = PyObject_GetAttrString(st->writer, "batch_size");
	if (bs == NULL)
		chfdw_raise_python_error("begin_insert");
	st->batch_size = (int) PyLong_AsLong(bs);
	Py_DECREF(bs);
	if (st->batch_size < 1)
		st->batch_size = 1;
	new_batch_lists(st);
	MemoryContextSwitchTo(old);
	return st;
}

/* Send the collected rows (one ClickHouse INSERT). */
static void
flush_batch(ChFdwModifyState *st)
{
	PyObject   *cols;
	PyObject   *res;
	int			n = st->nrows;
	int			j;

	if (n == 0 || st->writer == NULL)
		return;
	CHECK_FOR_INTERRUPTS();
	cols = PyList_New(st->ncols);
	if (cols == NULL)
		chfdw_raise_python_error("could not build a batch");
	for (j = 0; j < st->ncols; j++)
	{
		PyList_SET_ITEM(cols, j, st->cols[j]);	/* steals */
		st->cols[j] = NULL;
	}
	st->nrows = 0;
	res = PyObject_CallMethod(st->writer, "write", "(iN)", n, cols);
	if (res == NULL)
		chfdw_raise_python_error(NULL);
	Py_DECREF(res);
	new_batch_lists(st);
}

static void
add_row(ChFdwModifyState *st, TupleTableSlot *slot)
{
	MemoryContext old;
	int			j;

	slot_getallattrs(slot);
	old = MemoryContextSwitchTo(st->row_cxt);
	for (j = 0; j < st->ncols; j++)
	{
		int			att = st->attnums[j] - 1;
		PyObject   *v = chfdw_datum_to_py(slot->tts_values[att], slot->tts_isnull[att], &st->convs[j]);

		if (v == NULL || PyList_Append(st->cols[j], v) < 0)
		{
			Py_XDECREF(v);
			chfdw_raise_python_error("could not convert a value for ClickHouse");
		}
		Py_DECREF(v);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->row_cxt);
	st->nrows++;
}

static void
add_rows(ChFdwModifyState *st, TupleTableSlot **slots, int n)
{
	int			nestlevel = -1;
	int			i;

	if (st->needs_modes)
		nestlevel = chfdw_set_transmission_modes();
	for (i = 0; i < n; i++)
	{
		add_row(st, slots[i]);
		if (st->nrows >= st->batch_size)
		{
			if (nestlevel >= 0)
			{
				chfdw_reset_transmission_modes(nestlevel);
				nestlevel = -1;
			}
			flush_batch(st);
			if (st->needs_modes)
				nestlevel = chfdw_set_transmission_modes();
		}
	}
	if (nestlevel >= 0)
		chfdw_reset_transmission_modes(nestlevel);
}

static void
chBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
					 int subplan_index, int eflags)
{
	begin_insert(mtstate->ps.state, rinfo, (List *) linitial(fdw_private), eflags);
}

static TupleTableSlot *
chExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	ChFdwModifyState *st = (ChFdwModifyState *) rinfo->ri_FdwState;

	add_rows(st, &slot, 1);
	return slot;
}

static TupleTableSlot **
chExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots,
						 TupleTableSlot **planSlots, int *numSlots)
{
	ChFdwModifyState *st = (ChFdwModifyState *) rinfo->ri_FdwState;

	add_rows(st, slots, *numSlots);
	return slots;
}

static int
batch_size_option(Relation rel)
{
	ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(table->serverid);
	ListCell   *lc;
	int			bs = 65536;

	foreach(lc, server->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "batch_size") == 0)
			bs = atoi(defGetString(d));
	}
	foreach(lc, table->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "batch_size") == 0)
			bs = atoi(defGetString(d));
	}
	return bs;
}

static int
chGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	ChFdwModifyState *st = (ChFdwModifyState *) rinfo->ri_FdwState;
	int			bs;

	/* As postgres_fdw: no batching when rows must be seen one by one. */
	if (rinfo->ri_projectReturning != NULL || rinfo->ri_WithCheckOptions != NIL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row || rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	bs = (st != NULL && st->batch_size > 0) ? st->batch_size : batch_size_option(rinfo->ri_RelationDesc);
	return Max(1, Min(bs, PG_BATCH_MAX));
}

static void
end_insert(ResultRelInfo *rinfo)
{
	ChFdwModifyState *st = (ChFdwModifyState *) rinfo->ri_FdwState;

	if (st == NULL || st->writer == NULL)
		return;
	flush_batch(st);
	modify_release(st);
}

static void
chEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	end_insert(rinfo);
}

/*
 * Columns a COPY (or a row routed through a partitioned table) carries a
 * value for: those it lists (the RTE's insertedCols: COPY's column list, or
 * the INSERT's), those PostgreSQL fills from a DEFAULT of the target (the
 * root's for routed rows, as COPY and the rewriter use it) and generated
 * ones.  The others are left to ClickHouse's defaults, as INSERT leaves
 * them; an explicit NULL in a listed column is sent as NULL.  Every column
 * when a BEFORE ROW trigger may set any, and for rows an UPDATE or MERGE
 * moves into this partition (their values all come from the old row).
 */
static List *
copy_attrs(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	Relation	rel = rinfo->ri_RelationDesc;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Relation	root = rinfo->ri_RootResultRelInfo ? rinfo->ri_RootResultRelInfo->ri_RelationDesc : rel;
	Bitmapset  *given = NULL;
	bool		all_columns;
	List	   *attrs = NIL;
	int			i;

	all_columns = mtstate->operation != CMD_INSERT ||
		(rinfo->ri_RangeTableIndex == 0 && rinfo->ri_RootResultRelInfo == NULL) ||
		(rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row);
	if (!all_columns)
		given = ExecGetInsertedCols(rinfo, mtstate->ps.state);
	for (i = 1; i <= tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i - 1);
		AttrNumber	rootatt = i;

		if (att->attisdropped)
			continue;
		if (root != rel)
			rootatt = get_attnum(RelationGetRelid(root), NameStr(att->attname));
		if (all_columns || att->attgenerated ||
			bms_is_member(i - FirstLowInvalidHeapAttributeNumber, given) ||
			(rootatt != InvalidAttrNumber && build_column_default(root, rootatt) != NULL))
			attrs = lappend_int(attrs, i);
	}
	return attrs;
}

static void
chBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	List	   *attrs;

	if (mtstate != NULL && mtstate->ps.plan != NULL &&
		((ModifyTable *) mtstate->ps.plan)->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ch_fdw does not support INSERT ... ON CONFLICT"),
				 errdetail("ClickHouse has no unique constraints to detect a conflict with.")));
	attrs = copy_attrs(mtstate, rinfo);
	begin_insert(mtstate->ps.state, rinfo, attrs, 0);
}

static void
chEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	end_insert(rinfo);
}

static void
chExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo, List *fdw_private,
					   int subplan_index, ExplainState *es)
{
	ChFdwModifyState *st = (ChFdwModifyState *) rinfo->ri_FdwState;
	List	   *attrs = st ? st->attrs : (List *) linitial(fdw_private);
	PyObject   *ctx = chfdw_table_context(rinfo->ri_RelationDesc,
										  st ? st->userid : GetUserId());
	PyObject   *res = chfdw_call("explain_insert", Py_BuildValue("(NN)", ctx, chfdw_py_int_list(attrs)));
	char	   *sql = chfdw_py_str(res);

	Py_DECREF(res);
	ExplainPropertyText("Remote SQL", sql, es);
	if (es->verbose)
		ExplainPropertyInteger("ClickHouse Batch Size", NULL,
							   batch_size_option(rinfo->ri_RelationDesc), es);
}

/* Never reached: UPDATE/DELETE run as mutations or are refused at planning. */
static TupleTableSlot *
chExecForeignUpdateDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
						  TupleTableSlot *planSlot)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ch_fdw cannot UPDATE or DELETE ClickHouse rows one by one")));
	return NULL;
}

/* ---------- UPDATE / DELETE as one mutation ---------- */

/* As postgres_fdw's: the ForeignScan that scans rtindex for this ModifyTable. */
static ForeignScan *
find_modifytable_subplan(PlannerInfo *root, ModifyTable *plan, Index rtindex, int subplan_index)
{
	Plan	   *subplan = outerPlan(plan);

	if (IsA(subplan, Append))
	{
		Append	   *appendplan = (Append *) subplan;

		if (subplan_index < list_length(appendplan->appendplans))
			subplan = (Plan *) list_nth(appendplan->appendplans, subplan_index);
	}
	else if (IsA(subplan, Result) && outerPlan(subplan) != NULL && IsA(outerPlan(subplan), Append))
	{
		Append	   *appendplan = (Append *) outerPlan(subplan);

		if (subplan_index < list_length(appendplan->appendplans))
			subplan = (Plan *) list_nth(appendplan->appendplans, subplan_index);
	}
	if (IsA(subplan, ForeignScan))
	{
		ForeignScan *fscan = (ForeignScan *) subplan;

		if (fscan->scan.scanrelid == rtindex)
			return fscan;
	}
	return NULL;
}

static void
refuse_direct(CmdType op, Oid relid, const char *reason, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ch_fdw cannot %s foreign table %s: %s",
					op == CMD_UPDATE ? "UPDATE" : "DELETE", qualified_relname(relid), reason),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("ch_fdw runs UPDATE/DELETE only as one ClickHouse mutation: a WHERE clause "
					 "ClickHouse evaluates exactly as PostgreSQL would, on this table alone.")));
}

static char *
deparse_for_rel(Node *expr, Index rtindex, Oid relid)
{
	Node	   *copy = copyObject(expr);
	List	   *dpcontext = deparse_context_for(get_rel_name(relid), relid);
	int			nestlevel;
	char	   *s;

	if (rtindex != 1)
		ChangeVarNodes(copy, rtindex, 1, 0);
	nestlevel = chfdw_set_transmission_modes();
	s = deparse_expression(copy, dpcontext, false, false);
	chfdw_reset_transmission_modes(nestlevel);
	return s;
}

static bool
chPlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation, int subplan_index)
{
	CmdType		op = plan->operation;
	RangeTblEntry *rte;
	ForeignScan *fscan;
	List	   *param_ids;
	List	   *fdw_exprs = NIL;
	List	   *value_exprs = NIL;
	PyObject   *sets;
	PyObject   *ctx;
	PyObject   *res;
	Relation	rel;
	char	   *dm_json;
	int			nparams;
	int			i;

	if (op != CMD_UPDATE && op != CMD_DELETE)
		return false;
	rte = planner_rt_fetch(resultRelation, root);

	fscan = find_modifytable_subplan(root, plan, resultRelation, subplan_index);
	if (fscan == NULL)
		refuse_direct(op, rte->relid,
					  "the statement reads other tables or has a condition PostgreSQL must check first",
					  "Joins, FROM/USING lists, sub-selects and conditions on other tables cannot be part "
					  "of a ClickHouse mutation.");
	if (fscan->scan.plan.qual != NIL)
		refuse_direct(op, rte->relid,
					  psprintf("the condition %s cannot be evaluated by ClickHouse exactly as PostgreSQL would",
							   deparse_for_rel((Node *) linitial(fscan->scan.plan.qual),
											   resultRelation, rte->relid)),
					  "Every WHERE clause must be sent to ClickHouse; EXPLAIN VERBOSE of the same SELECT shows "
					  "which clauses stay in PostgreSQL (Filter).");
	if (plan->returningLists != NIL)
		refuse_direct(op, rte->relid, "RETURNING is not supported",
					  "ClickHouse mutations do not return the rows they change.");
	if (fscan->fdw_private == NIL || list_length(fscan->fdw_private) < 3 ||
		!IsA(linitial(fscan->fdw_private), String))
		refuse_direct(op, rte->relid, "the scan is not a plain ch_fdw table scan", NULL);

	param_ids = (List *) lthird(fscan->fdw_private);
	nparams = list_length(param_ids);
	i = 0;
	{
		ListCell   *lc;

		foreach(lc, fscan->fdw_exprs)
		{
			if (i++ < nparams)
				fdw_exprs = lappend(fdw_exprs, lfirst(lc));
		}
	}

	sets = PyList_New(0);
	if (sets == NULL)
		chfdw_raise_python_error("could not build request");
	if (op == CMD_UPDATE)
	{
		List	   *processed_tlist = NIL;
		List	   *target_attrs = NIL;
		ListCell   *lc,
				   *lc2;

		get_translated_update_targetlist(root, resultRelation, &processed_tlist, &target_attrs);
		forboth(lc, processed_tlist, lc2, target_attrs)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);
			AttrNumber	attno = lfirst_int(lc2);
			Node	   *e = (Node *) tle->expr;
			char	   *attname = get_attname(rte->relid, attno, false);
			PyObject   *item;

			if (contain_volatile_functions(e) || contain_subplans(e))
				refuse_direct(op, rte->relid,
							  psprintf("the value for column \"%s\" must be computed row by row", attname),
							  "Volatile functions and sub-selects in SET cannot be sent to ClickHouse.");
			if (!contain_var_clause(e))
			{
				/* computed once by PostgreSQL at execution, sent as a literal */
				value_exprs = lappend(value_exprs, e);
				item = Py_BuildValue("(isN)", (int) attno, "value",
									 chfdw_py_text(format_type_be(exprType(e))));
			}
			else
				item = Py_BuildValue("(isN)", (int) attno, "expr",
									 chfdw_py_text(deparse_for_rel(e, resultRelation, rte->relid)));
			if (item == NULL || PyList_Append(sets, item) < 0)
				chfdw_raise_python_error("could not build request");
			Py_DECREF(item);
		}
	}

	rel = table_open(rte->relid, NoLock);
	ctx = chfdw_table_context(rel, chfdw_planner_rte_userid(root, resultRelation));
	table_close(rel, NoLock);
	res = chfdw_call("plan_direct_modify",
					 Py_BuildValue("(NsNN)", ctx, op == CMD_UPDATE ? "UPDATE" : "DELETE",
								   chfdw_py_text(strVal(linitial(fscan->fdw_private))), sets));
	dm_json = chfdw_py_str(res);
	Py_DECREF(res);

	fscan->operation = op;
	fscan->resultRelation = resultRelation;
	fscan->fdw_exprs = list_concat(fdw_exprs, value_exprs);
	fscan->fdw_private = list_make4(makeString(dm_json), param_ids, makeInteger(nparams),
									makeBoolean(plan->canSetTag));
	return true;
}

static void
chBeginDirectModify(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	ChFdwDirectState *st = palloc0(sizeof(ChFdwDirectState));
	int			nparams = intVal(lthird(fsplan->fdw_private));
	int			nvalues;
	ListCell   *lc;
	int			i;

	node->fdw_state = st;
	st->rel = node->ss.ss_currentRelation;
	st->userid = chfdw_foreign_scan_userid(fsplan, estate, fsplan->resultRelation);
	st->plan_json = strVal(linitial(fsplan->fdw_private));
	st->param_ids = (List *) lsecond(fsplan->fdw_private);
	st->set_processed = boolVal(lfourth(fsplan->fdw_private));
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	chfdw_python_init();
	nvalues = list_length(fsplan->fdw_exprs) - nparams;
	st->value_convs = palloc0(sizeof(ChFdwOutConv) * Max(nvalues, 1));
	i = 0;
	foreach(lc, chfdw_init_params(fsplan->fdw_exprs, nparams, (PlanState *) node,
								  &st->param_states, &st->param_types))
	{
		Expr	   *e = (Expr *) lfirst(lc);

		st->value_states = lappend(st->value_states, ExecInitExpr(e, (PlanState *) node));
		chfdw_out_conv_init(&st->value_convs[i++], exprType((Node *) e));
	}
}

static TupleTableSlot *
chIterateDirectModify(ForeignScanState *node)
{
	ChFdwDirectState *st = (ChFdwDirectState *) node->fdw_state;
	EState	   *estate = node->ss.ps.state;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (!st->done)
	{
		PyObject   *params = chfdw_eval_params(st->param_ids, st->param_states, st->param_types, econtext);
		PyObject   *values = PyList_New(0);
		PyObject   *ctx;
		PyObject   *res;
		ListCell   *lc;
		long long	count;
		int			nestlevel;
		int			i = 0;

		if (values == NULL)
			chfdw_raise_python_error("could not build request");
		nestlevel = chfdw_set_transmission_modes();
		foreach(lc, st->value_states)
		{
			bool		isnull;
			Datum		d = ExecEvalExpr((ExprState *) lfirst(lc), econtext, &isnull);
			PyObject   *v = chfdw_datum_to_py(d, isnull, &st->value_convs[i++]);

			if (v == NULL || PyList_Append(values, v) < 0)
				chfdw_raise_python_error("could not convert a SET value");
			Py_DECREF(v);
		}
		chfdw_reset_transmission_modes(nestlevel);
		ctx = chfdw_table_context(st->rel, st->userid);
		res = chfdw_call("execute_direct_modify", Py_BuildValue("(NsNN)", ctx, st->plan_json, params, values));
		count = PyLong_AsLongLong(res);
		Py_DECREF(res);
		if (count < 0)
		{
			PyErr_Clear();
			count = 0;
		}
		if (st->set_processed)
			estate->es_processed += count;
		if (node->ss.ps.instrument)
			node->ss.ps.instrument->tuplecount += count;
		st->done = true;
	}
	return ExecClearTuple(slot);
}

static void
chEndDirectModify(ForeignScanState *node)
{
}

static void
chExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	ChFdwDirectState *st = (ChFdwDirectState *) node->fdw_state;
	PyObject   *ctx = chfdw_table_context(st->rel, st->userid);
	PyObject   *res = chfdw_call("explain_direct_modify", Py_BuildValue("(Ns)", ctx, st->plan_json));
	char	   *sql = chfdw_py_str(res);

	Py_DECREF(res);
	ExplainPropertyText("Remote SQL", sql, es);
}

void
chfdw_modify_routine(FdwRoutine *routine)
{
	routine->IsForeignRelUpdatable = chIsForeignRelUpdatable;
	routine->PlanForeignModify = chPlanForeignModify;
	routine->BeginForeignModify = chBeginForeignModify;
	routine->ExecForeignInsert = chExecForeignInsert;
	routine->ExecForeignBatchInsert = chExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = chGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = chExecForeignUpdateDelete;
	routine->ExecForeignDelete = chExecForeignUpdateDelete;
	routine->EndForeignModify = chEndForeignModify;
	routine->BeginForeignInsert = chBeginForeignInsert;
	routine->EndForeignInsert = chEndForeignInsert;
	routine->ExplainForeignModify = chExplainForeignModify;
	routine->PlanDirectModify = chPlanDirectModify;
	routine->BeginDirectModify = chBeginDirectModify;
	routine->IterateDirectModify = chIterateDirectModify;
	routine->EndDirectModify = chEndDirectModify;
	routine->ExplainDirectModify = chExplainDirectModify;
}
