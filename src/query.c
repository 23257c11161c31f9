/*
 * query.c — whole-query pushdown: a planner hook and a CustomScan.
 *
 * For a plain SELECT whose every relation (subqueries, CTEs and sublinks
 * included) is a ch_fdw foreign table of one server, the hook deparses the
 * analysed Query with pg_get_querydef() and asks Python to translate it.
 * If Python can, the plan is one CustomScan that streams the final rows;
 * otherwise PostgreSQL plans the query normally (per-table scans) and the
 * reason is shown by EXPLAIN VERBOSE.  When only the final ORDER BY stands
 * in the way (text under a linguistic collation, an opaque type), the query
 * without its ORDER BY and LIMIT/OFFSET is pushed and PostgreSQL sorts and
 * limits its rows: a Sort (and Limit) above the CustomScan.
 *
 * Active only when ch_fdw is in shared_preload_libraries, so behaviour does
 * not change in the middle of a session.
 */
#include "ch_fdw.h"

#include "access/table.h"
#include "catalog/pg_class.h"
#include "commands/explain.h"
#include "executor/execdesc.h"
#include "tcop/dest.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "access/transam.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

extern Datum ch_fdw_handler(PG_FUNCTION_ARGS);

bool		chfdw_query_pushdown = true;	/* GUC ch_fdw.query_pushdown */
bool		chfdw_query_hook_active = false;
const char *chfdw_fallback_reason = NULL;	/* why the planning query was not pushed */

static planner_hook_type prev_planner_hook = NULL;

/* ---------- which queries qualify ---------- */

typedef struct CollectContext
{
	Oid			serverid;
	Oid			userid;
	List	   *relids;			/* distinct foreign tables */
	List	   *params;			/* distinct external Params */
	List	   *collations;		/* collations text is compared or sorted under */
	const char *reason;			/* set when the query does not qualify */
} CollectContext;

static bool
is_ch_fdw_server(Oid serverid)
{
	ForeignServer *server = GetForeignServer(serverid);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	FmgrInfo	finfo;

	if (!OidIsValid(fdw->fdwhandler))
		return false;
	fmgr_info(fdw->fdwhandler, &finfo);
	return finfo.fn_addr == ch_fdw_handler;
}

static bool
fail(CollectContext *cx, const char *reason)
{
	if (cx->reason == NULL)
		cx->reason = reason;
	return true;
}

static bool
check_rte(Query *q, RangeTblEntry *rte, CollectContext *cx)
{
	Oid			serverid;
	Oid			userid;

	switch (rte->rtekind)
	{
		case RTE_RELATION:
			if (rte->relkind != RELKIND_FOREIGN_TABLE)
				return fail(cx, psprintf("it reads %s \"%s\", which is not a ClickHouse foreign table",
										 rte->relkind == RELKIND_VIEW ? "view" : "table",
										 get_rel_name(rte->relid)));
			serverid = GetForeignServerIdByRelId(rte->relid);
			if (!is_ch_fdw_server(serverid))
				return fail(cx, psprintf("foreign table \"%s\" does not belong to ch_fdw",
										 get_rel_name(rte->relid)));
			if (OidIsValid(cx->serverid) && cx->serverid != serverid)
				return fail(cx, "it reads foreign tables of more than one ch_fdw server");
			cx->serverid = serverid;
			userid = chfdw_query_rte_userid(q, rte);
			if (OidIsValid(cx->userid) && cx->userid != userid)
				return fail(cx, "its tables are accessed as different users (through a view)");
			cx->userid = userid;
			cx->relids = list_append_unique_oid(cx->relids, rte->relid);
			return false;
		case RTE_SUBQUERY:
			if (chfdw_rte_is_expanded_view(rte))
				return fail(cx, psprintf("it reads view \"%s\", which is not a ClickHouse foreign table",
										 get_rel_name(rte->relid)));
			return false;
		case RTE_JOIN:
		case RTE_CTE:
		case RTE_RESULT:
			return false;
		case RTE_FUNCTION:
			return fail(cx, "it calls a set-returning function in FROM");
		case RTE_VALUES:
			return fail(cx, "it reads a VALUES list");
		default:
			if (chfdw_rte_reads_nothing(rte))
				return false;
			return fail(cx, "it reads a kind of relation ClickHouse cannot see");
	}
}

/*
 * Note the collations node compares or sorts text under: an operator's or
 * function's input collation, a sort/group/DISTINCT/window key's collation,
 * a row comparison's and a set operation's.  Python decides from them
 * whether text order in ClickHouse (bytes) is PostgreSQL's.
 */
static void
collect_collations(Node *node, CollectContext *cx)
{
	Oid			coll = exprInputCollation(node);
	ListCell   *lc;

	if (OidIsValid(coll))
		cx->collations = list_append_unique_oid(cx->collations, coll);
	if (IsA(node, TargetEntry) && ((TargetEntry *) node)->ressortgroupref != 0)
	{
		coll = exprCollation((Node *) ((TargetEntry *) node)->expr);
		if (OidIsValid(coll))
			cx->collations = list_append_unique_oid(cx->collations, coll);
	}
	if (IsA(node, RowCompareExpr))
		foreach(lc, ((RowCompareExpr *) node)->inputcollids)
			if (OidIsValid(lfirst_oid(lc)))
				cx->collations = list_append_unique_oid(cx->collations, lfirst_oid(lc));
	if (IsA(node, SetOperationStmt))
		foreach(lc, ((SetOperationStmt *) node)->colCollations)
			if (OidIsValid(lfirst_oid(lc)))
				cx->collations = list_append_unique_oid(cx->collations, lfirst_oid(lc));
}

static bool
collect_walker(Node *node, CollectContext *cx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		if (q->commandType != CMD_SELECT || q->utilityStmt != NULL)
			return fail(cx, "it is not a plain SELECT");
		if (q->rowMarks != NIL)
			return fail(cx, "it uses FOR UPDATE/SHARE");
		if (q->hasModifyingCTE)
			return fail(cx, "it has a data-modifying WITH clause");
		foreach(lc, q->rtable)
		{
			if (check_rte(q, (RangeTblEntry *) lfirst(lc), cx))
				return true;
		}
		return query_tree_walker(q, collect_walker, (void *) cx, 0);
	}
	collect_collations(node, cx);
	switch (nodeTag(node))
	{
		case T_FuncExpr:
			if (!chfdw_is_builtin(((FuncExpr *) node)->funcid))
				return fail(cx, psprintf("it calls the user-defined function %s()",
										 get_func_name(((FuncExpr *) node)->funcid)));
			break;
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			if (!chfdw_is_builtin(((OpExpr *) node)->opno))
				return fail(cx, "it uses a user-defined operator");
			break;
		case T_ScalarArrayOpExpr:
			if (!chfdw_is_builtin(((ScalarArrayOpExpr *) node)->opno))
				return fail(cx, "it uses a user-defined operator");
			break;
		case T_Aggref:
			if (!chfdw_is_builtin(((Aggref *) node)->aggfnoid))
				return fail(cx, psprintf("it uses the user-defined aggregate %s()",
										 get_func_name(((Aggref *) node)->aggfnoid)));
			break;
		case T_WindowFunc:
			if (!chfdw_is_builtin(((WindowFunc *) node)->winfnoid))
				return fail(cx, "it uses a user-defined window function");
			break;
		case T_Param:
			{
				Param	   *p = (Param *) node;

				/* PARAM_SUBLINK belongs to an IN/ANY subquery and deparses as one */
				if (p->paramkind == PARAM_EXTERN)
					cx->params = list_append_unique(cx->params, p);
				else if (p->paramkind != PARAM_SUBLINK)
					return fail(cx, "it uses an internal parameter");
				break;
			}
		default:
			break;
	}
	/* Values of user-defined types (enums, domains, ...) have no ClickHouse meaning. */
	switch (nodeTag(node))
	{
		case T_Var:
		case T_Const:
		case T_Param:
		case T_FuncExpr:
		case T_OpExpr:
		case T_Aggref:
		case T_WindowFunc:
		case T_RelabelType:
		case T_CoerceViaIO:
		case T_ArrayCoerceExpr:
		case T_CoerceToDomain:
			if (!chfdw_is_builtin(exprType(node)))
				return fail(cx, psprintf("it uses the user-defined type %s",
										 format_type_be(exprType(node))));
			break;
		default:
			break;
	}
	return expression_tree_walker(node, collect_walker, (void *) cx);
}

/* ---------- translation ---------- */

typedef struct QueryPlanData
{
	char	   *plan_json;
	List	   *params;			/* copies of the Params, taken before planning */
	List	   *stable_values;	/* expressions of the stable-value Params (stable.c) */
	List	   *target_list;	/* copy of the query's targetList, ditto */
	Query	   *query;			/* copy of the Query, for the per-table fallback */
	int			cursor_options;
} QueryPlanData;

/*
 * Ask Python to translate the query.  Returns the plan, or NULL with
 * *reason set.
 */
static QueryPlanData *
translate_query(Query *parse, CollectContext *cx, const char **reason)
{
	PyObject   *server_ctx;
	PyObject   *tables;
	PyObject   *outputs;
	PyObject   *res;
	PyObject   *item;
	ListCell   *lc;
	char	   *sql;
	int			nestlevel;
	QueryPlanData *pd;
	List	   *stable_values = NIL;
	List	   *params;
	Query	   *sent;

	/* now(), current_date - 7, ...: values PostgreSQL computes at execution */
	sent = (Query *) chfdw_replace_stable_values((Node *) copyObject(parse), &stable_values);
	params = list_copy(cx->params);
	foreach(lc, stable_values)
	{
		Node	   *v = (Node *) lfirst(lc);
		Param	   *p = makeNode(Param);

		p->paramkind = PARAM_EXTERN;
		p->paramid = CHFDW_STABLE_PARAM_BASE + foreach_current_index(lc) + 1;
		p->paramtype = exprType(v);
		p->paramtypmod = exprTypmod(v);
		p->paramcollid = exprCollation(v);
		p->location = -1;
		params = lappend(params, p);
	}

	nestlevel = chfdw_set_transmission_modes();
	sql = pg_get_querydef(sent, false);
	chfdw_reset_transmission_modes(nestlevel);

	chfdw_python_init();
	server_ctx = chfdw_server_context(cx->serverid, cx->userid);
	if (cx->collations != NIL)
	{
		/* the query's own collations replace the database default */
		PyObject   *colls = PyList_New(0);

		if (colls == NULL)
			chfdw_raise_python_error("could not build request");
		chfdw_dict_set_steal(server_ctx, "collations", colls);
		foreach(lc, cx->collations)
		{
			PyObject   *f = chfdw_collation_facts(lfirst_oid(lc));

			PyList_Append(colls, f);
			Py_DECREF(f);
		}
	}
	tables = PyList_New(0);
	foreach(lc, cx->relids)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);
		PyObject   *t = chfdw_table_context(rel, cx->userid);

		chfdw_dict_set_text(t, "pg_name",
							quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													   RelationGetRelationName(rel)));
		table_close(rel, NoLock);
		PyList_Append(tables, t);
		Py_DECREF(t);
	}
	outputs = PyList_New(0);
	foreach(lc, parse->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		PyObject   *o;

		if (tle->resjunk)
			continue;
		o = chfdw_py_text(format_type_with_typemod(exprType((Node *) tle->expr),
												   exprTypmod((Node *) tle->expr)));
		PyList_Append(outputs, o);
		Py_DECREF(o);
	}

	res = chfdw_call("plan_query", Py_BuildValue("(NsNNN)", server_ctx, sql, tables,
												 chfdw_param_types_dict(params), outputs));
	item = PyDict_GetItemString(res, "plan");
	if (item == NULL || item == Py_None)
	{
		PyObject   *r = PyDict_GetItemString(res, "reason");

		*reason = r ? chfdw_py_str(r) : "the ClickHouse translator declined it";
		Py_DECREF(res);
		return NULL;
	}
	pd = palloc0(sizeof(QueryPlanData));
	pd->plan_json = chfdw_py_str(item);
	/* standard_planner() rewrites the Query in place: keep what we need. */
	pd->params = (List *) copyObject(params);
	pd->stable_values = (List *) copyObject(stable_values);
	pd->target_list = (List *) copyObject(parse->targetList);
	pd->query = copyObject(parse);
	Py_DECREF(res);
	return pd;
}

/* ---------- the CustomScan ---------- */

typedef struct ChFdwQueryState
{
	CustomScanState css;
	char	   *plan_json;
	Oid			serverid;
	Oid			userid;
	List	   *param_ids;
	List	   *param_states;
	List	   *param_types;
	ChFdwRowStream rows;
	/* the per-table fallback, once ClickHouse refused the pushed query */
	char	   *refusal;		/* ClickHouse's error */
	QueryDesc  *fallback;		/* PostgreSQL's own plan, running instead */
	AttrNumber *fallback_attnos;	/* its output column of each scan column */
} ChFdwQueryState;

static Node *create_query_state(CustomScan *cscan);

static CustomScanMethods query_scan_methods = {
	"ClickHouseQuery",
	create_query_state
};

static CustomScan *
make_query_scan(QueryPlanData *pd, CollectContext *cx)
{
	CustomScan *cscan = makeNode(CustomScan);
	List	   *tlist = NIL;
	List	   *scan_tlist = NIL;
	List	   *param_ids = NIL;
	ListCell   *lc;
	AttrNumber	resno = 0;

	foreach(lc, pd->target_list)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *expr = (Node *) tle->expr;

		if (tle->resjunk)
			continue;
		resno++;
		/* The scan tuple is the query's result; EXPLAIN shows the original expressions. */
		scan_tlist = lappend(scan_tlist, makeTargetEntry((Expr *) chfdw_explainable_expr(copyObject(expr)), resno,
														 tle->resname, false));
		tlist = lappend(tlist, makeTargetEntry((Expr *) makeVar(INDEX_VAR, resno, exprType(expr),
																exprTypmod(expr), exprCollation(expr), 0),
											   resno, tle->resname, false));
	}
	foreach(lc, pd->params)
		param_ids = lappend_int(param_ids, ((Param *) lfirst(lc))->paramid);

	cscan->scan.plan.targetlist = tlist;
	/* One remote round trip; PostgreSQL has no better estimate to offer. */
	cscan->scan.plan.startup_cost = 100.0;
	cscan->scan.plan.total_cost = 100.0 + 1000 * cpu_tuple_cost;
	cscan->scan.plan.plan_rows = 1000;
	cscan->scan.plan.plan_width = 8 * Max(resno, 1);
	cscan->scan.scanrelid = 0;
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_exprs = chfdw_param_exprs(pd->params, pd->stable_values);
	cscan->custom_private = list_make5(makeString(pd->plan_json), param_ids,
									   makeInteger((int) cx->serverid),
									   makeInteger((int) cx->userid),
									   list_make2(pd->query, makeInteger(pd->cursor_options)));
	cscan->methods = &query_scan_methods;
	return cscan;
}

static void
query_begin(CustomScanState *node, EState *estate, int eflags)
{
	ChFdwQueryState *st = (ChFdwQueryState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	TupleDesc	tupdesc = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	int			i;

	st->plan_json = strVal(linitial(cscan->custom_private));
	st->param_ids = lsecond(cscan->custom_private);
	st->serverid = (Oid) intVal(lthird(cscan->custom_private));
	st->userid = (Oid) intVal(lfourth(cscan->custom_private));
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	chfdw_python_init();
	chfdw_rows_init(&st->rows, estate->es_query_cxt, tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		st->rows.attnums[i] = i + 1;
		chfdw_column_conv_init(&st->rows.convs[i], att->atttypid, att->atttypmod,
							   pstrdup(NameStr(att->attname)), NULL);
	}
	(void) chfdw_init_params(cscan->custom_exprs, list_length(cscan->custom_exprs),
							 (PlanState *) node, &st->param_states, &st->param_types);
}

/*
 * ClickHouse refused the pushed query before returning a row: plan the
 * original Query the standard way (per-table scans, local joins and
 * aggregates) and run that plan in an executor of its own, whose rows this
 * node returns.  Planned here, not beside the pushed plan, so that pushed
 * queries do not pay for a plan they almost never need.
 */
static void
start_fallback(ChFdwQueryState *st)
{
	EState	   *estate = st->css.ss.ps.state;
	CustomScan *cscan = (CustomScan *) st->css.ss.ps.plan;
	List	   *saved = (List *) list_nth(cscan->custom_private, 4);
	/* a nested executor runs outside parallel mode */
	int			cursor_options = intVal(lsecond(saved)) & ~CURSOR_OPT_PARALLEL_OK;
	const char *saved_reason = chfdw_fallback_reason;
	TupleDesc	tupdesc = st->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
	Query	   *query = copyObject(linitial_node(Query, saved));	/* the planner scribbles */
	PlannedStmt *stmt;
	ListCell   *lc;
	int			i = 0;

	ereport(DEBUG1,
			(errmsg("ch_fdw: ClickHouse cannot run the pushed-down query; running it per table"),
			 errdetail("%s", st->refusal)));
	chfdw_fallback_reason = "ClickHouse could not run the whole query (see Fallback Reason)";
	PG_TRY();
	{
		stmt = prev_planner_hook
			? prev_planner_hook(query, estate->es_sourceText, cursor_options, estate->es_param_list_info)
			: standard_planner(query, estate->es_sourceText, cursor_options, estate->es_param_list_info);
	}
	PG_FINALLY();
	{
		chfdw_fallback_reason = saved_reason;
	}
	PG_END_TRY();

	/* Non-junk output columns, in order, are this node's scan columns. */
	st->fallback_attnos = palloc0(sizeof(AttrNumber) * Max(tupdesc->natts, 1));
	/* the saved Query: planning scribbled on the copy */
	foreach(lc, linitial_node(Query, saved)->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && i < tupdesc->natts)
			st->fallback_attnos[i++] = tle->resno;
	}
	if (i != tupdesc->natts)
		elog(ERROR, "ch_fdw: the per-table plan has %d output columns, expected %d", i, tupdesc->natts);

	/* The inner executor is an implementation detail: no executor hooks. */
	st->fallback = CreateQueryDesc(stmt, estate->es_sourceText, estate->es_snapshot, InvalidSnapshot,
								   None_Receiver, estate->es_param_list_info, estate->es_queryEnv,
								   estate->es_instrument);
	standard_ExecutorStart(st->fallback, 0);
	MemoryContextSwitchTo(old);
}

static TupleTableSlot *
fallback_next(ChFdwQueryState *st, TupleTableSlot *slot)
{
	QueryDesc  *qd = st->fallback;
	MemoryContext old = MemoryContextSwitchTo(qd->estate->es_query_cxt);
	TupleTableSlot *in = ExecProcNode(qd->planstate);
	int			i;

	MemoryContextSwitchTo(old);
	ExecClearTuple(slot);
	if (TupIsNull(in))
		return slot;
	slot_getallattrs(in);
	/* by reference: valid until the inner plan's next row, like any scan's */
	for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
	{
		slot->tts_values[i] = in->tts_values[st->fallback_attnos[i] - 1];
		slot->tts_isnull[i] = in->tts_isnull[st->fallback_attnos[i] - 1];
	}
	ExecStoreVirtualTuple(slot);
	return slot;
}

static TupleTableSlot *
query_next(ScanState *node)
{
	ChFdwQueryState *st = (ChFdwQueryState *) node;
	TupleTableSlot *slot = node->ss_ScanTupleSlot;

	if (st->fallback != NULL)
		return fallback_next(st, slot);
	if (st->rows.scan == NULL && !st->rows.done)
	{
		PyObject   *params = chfdw_eval_params(st->param_ids, st->param_states, st->param_types,
											   node->ps.ps_ExprContext);
		PyObject   *ctx = chfdw_server_context(st->serverid, st->userid);
		PyObject   *refusal;

		st->rows.scan = chfdw_call("begin_query", Py_BuildValue("(NsN)", ctx, st->plan_json, params));
		/* sends the query and waits for its first rows (or its refusal) */
		refusal = PyObject_CallMethod(st->rows.scan, "start", NULL);
		if (refusal == NULL)
			chfdw_raise_python_error(NULL);
		if (refusal != Py_None)
		{
			MemoryContext old = MemoryContextSwitchTo(node->ps.state->es_query_cxt);

			st->refusal = chfdw_py_str(refusal);
			MemoryContextSwitchTo(old);
			Py_DECREF(refusal);
			chfdw_rows_release(&st->rows);
			start_fallback(st);
			return fallback_next(st, slot);
		}
		Py_DECREF(refusal);
	}
	chfdw_rows_next(&st->rows, slot);
	return slot;
}

static bool
query_recheck(ScanState *node, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
query_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, (ExecScanAccessMtd) query_next, (ExecScanRecheckMtd) query_recheck);
}

static void
query_end(CustomScanState *node)
{
	ChFdwQueryState *st = (ChFdwQueryState *) node;

	chfdw_rows_release(&st->rows);
	if (st->fallback != NULL)
	{
		QueryDesc  *qd = st->fallback;

		st->fallback = NULL;
		standard_ExecutorFinish(qd);
		standard_ExecutorEnd(qd);
		FreeQueryDesc(qd);
	}
}

static void
query_rescan(CustomScanState *node)
{
	ChFdwQueryState *st = (ChFdwQueryState *) node;

	/* once refused, stay on the per-table plan */
	if (st->fallback != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(st->fallback->estate->es_query_cxt);

		ExecReScan(st->fallback->planstate);
		MemoryContextSwitchTo(old);
	}
	else
		chfdw_rows_restart(&st->rows);
}

/* The per-table plan that ran instead, below this node's own lines. */
static void
explain_fallback_plan(ChFdwQueryState *st, ExplainState *es)
{
	ExplainState *inner = NewExplainState();
	char	   *line;
	char	   *next;

	inner->analyze = es->analyze;
	inner->verbose = es->verbose;
	inner->costs = es->costs;
	inner->buffers = es->buffers;
	inner->wal = es->wal;
	inner->timing = es->timing;
	inner->format = EXPLAIN_FORMAT_TEXT;
	ExplainPrintPlan(inner, st->fallback);
	if (es->format != EXPLAIN_FORMAT_TEXT)
	{
		ExplainPropertyText("Fallback Plan", inner->str->data, es);
		return;
	}
	appendStringInfoSpaces(es->str, es->indent * 2);
	appendStringInfoString(es->str, "Fallback Plan:\n");
	for (line = inner->str->data; *line; line = next)
	{
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		appendStringInfoSpaces(es->str, es->indent * 2 + 2);
		appendBinaryStringInfo(es->str, line, next - line);
	}
	if (es->str->len > 0 && es->str->data[es->str->len - 1] != '\n')
		appendStringInfoChar(es->str, '\n');
}

static void
query_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	ChFdwQueryState *st = (ChFdwQueryState *) node;
	PyObject   *res = chfdw_call("explain_query", Py_BuildValue("(s)", st->plan_json));
	char	   *sql = chfdw_py_str(res);

	Py_DECREF(res);
	ExplainPropertyText("Remote SQL", sql, es);
	if (st->refusal != NULL)
	{
		ExplainPropertyText("Fallback", "ClickHouse cannot run the query, so it ran per table", es);
		ExplainPropertyText("Fallback Reason", st->refusal, es);
		if (st->fallback != NULL)
			explain_fallback_plan(st, es);
	}
}

static CustomExecMethods query_exec_methods = {
	.CustomName = "ClickHouseQuery",
	.BeginCustomScan = query_begin,
	.ExecCustomScan = query_exec,
	.EndCustomScan = query_end,
	.ReScanCustomScan = query_rescan,
	.ExplainCustomScan = query_explain
};

static Node *
create_query_state(CustomScan *cscan)
{
	ChFdwQueryState *st = (ChFdwQueryState *) newNode(sizeof(ChFdwQueryState), T_CustomScanState);

	st->css.methods = &query_exec_methods;
	return (Node *) st;
}

/* ---------- the plan ---------- */

/* Relation RTEs of nested queries (for permission checks and locking). */
static bool
nested_relations_walker(Node *node, PlannedStmt *stmt)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);

			if (rte->rtekind == RTE_RELATION)
				chfdw_stmt_add_rte(stmt, q, rte);
		}
		return query_tree_walker(q, nested_relations_walker, (void *) stmt, 0);
	}
	return expression_tree_walker(node, nested_relations_walker, (void *) stmt);
}

/*
 * The whole plan is the CustomScan, so the standard planner (and its
 * per-table planning, which would call ClickHouse for nothing) is skipped.
 * Like setrefs.c, the range table is the query's own, in order (Vars in
 * the CustomScan's tlist refer to it), followed by the relations of nested
 * queries, so the executor checks permissions and takes locks on all.
 */
static PlannedStmt *
make_pushed_stmt(Query *parse, Plan *top)
{
	PlannedStmt *stmt = makeNode(PlannedStmt);
	ListCell   *lc;

	foreach(lc, parse->rtable)
		chfdw_stmt_add_rte(stmt, parse, (RangeTblEntry *) lfirst(lc));
	(void) query_tree_walker(parse, nested_relations_walker, (void *) stmt, 0);

	stmt->commandType = CMD_SELECT;
	stmt->queryId = parse->queryId;
	stmt->canSetTag = parse->canSetTag;
	stmt->planTree = top;
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = (RangeTblEntry *) lfirst(lc);

		if (rte->rtekind == RTE_RELATION)
			stmt->relationOids = lappend_oid(stmt->relationOids, rte->relid);
	}
	stmt->stmt_location = parse->stmt_location;
	stmt->stmt_len = parse->stmt_len;
	return stmt;
}

/* ---------- sorting above the pushed query ---------- */

/*
 * The query without its final ORDER BY and LIMIT/OFFSET, when PostgreSQL
 * can sort the pushed query's rows itself (no WITH TIES, no DISTINCT ON:
 * their rows depend on the ordering; LIMIT/OFFSET without subqueries).  Sort keys that are not output
 * columns become outputs, so the Sort above the CustomScan sees them (the
 * top plan marks them junk again).  NULL otherwise.
 */
static Query *
query_without_final_sort(Query *parse)
{
	Query	   *q;
	ListCell   *lc;

	if (parse->sortClause == NIL || parse->hasDistinctOn ||
		parse->limitOption == LIMIT_OPTION_WITH_TIES)
		return NULL;
	/* the Limit node evaluates them as they are: no subqueries */
	if (contain_subplans(parse->limitCount) || contain_subplans(parse->limitOffset))
		return NULL;
	q = copyObject(parse);
	foreach(lc, q->sortClause)
		get_sortgroupclause_tle(lfirst_node(SortGroupClause, lc), q->targetList)->resjunk = false;
	q->sortClause = NIL;
	q->limitCount = NULL;
	q->limitOffset = NULL;
	q->limitOption = LIMIT_OPTION_COUNT;
	return q;
}

/*
 * A target list of Vars over the output columns of plan (OUTER_VAR); junk:
 * which of them are not the query's result columns (a bool per column).
 */
static List *
outer_tlist(Plan *plan, bool *junk)
{
	List	   *tlist = NIL;
	ListCell   *lc;

	foreach(lc, plan->targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *e = (Node *) tle->expr;

		tlist = lappend(tlist, makeTargetEntry((Expr *) makeVar(OUTER_VAR, tle->resno, exprType(e),
																exprTypmod(e), exprCollation(e), 0),
											   tle->resno, tle->resname, junk[tle->resno - 1]));
	}
	return tlist;
}

/*
 * parse's ORDER BY (then LIMIT/OFFSET) above the scan of unsorted's rows
 * (query_without_final_sort(parse)): the CustomScan's columns are
 * unsorted's non-junk outputs, in order.
 */
static Plan *
sort_and_limit(Query *parse, Query *unsorted, Plan *scan)
{
	Sort	   *sort = makeNode(Sort);
	int			n = list_length(parse->sortClause);
	int			i = 0;
	ListCell   *lc;
	bool	   *junk = palloc0(sizeof(bool) * (list_length(unsorted->targetList) + 1));
	AttrNumber	ncols = 0;

	/* the promoted sort keys are junk again in the result */
	foreach(lc, unsorted->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk)
			junk[ncols++] = get_tle_by_resno(parse->targetList, tle->resno)->resjunk;
	}

	sort->numCols = n;
	sort->sortColIdx = palloc(sizeof(AttrNumber) * n);
	sort->sortOperators = palloc(sizeof(Oid) * n);
	sort->collations = palloc(sizeof(Oid) * n);
	sort->nullsFirst = palloc(sizeof(bool) * n);
	foreach(lc, parse->sortClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *key = get_sortgroupclause_tle(sgc, unsorted->targetList);
		AttrNumber	col = 0;
		ListCell   *lt;

		foreach(lt, unsorted->targetList)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lt);

			if (!tle->resjunk)
				col++;
			if (tle == key)
				break;
		}
		sort->sortColIdx[i] = col;
		sort->sortOperators[i] = sgc->sortop;
		sort->collations[i] = exprCollation((Node *) key->expr);
		sort->nullsFirst[i] = sgc->nulls_first;
		i++;
	}
	sort->plan.lefttree = scan;
	sort->plan.targetlist = outer_tlist(scan, junk);
	sort->plan.plan_rows = scan->plan_rows;
	sort->plan.plan_width = scan->plan_width;
	sort->plan.startup_cost = scan->total_cost + 2.0 * cpu_operator_cost * scan->plan_rows * 10;
	sort->plan.total_cost = sort->plan.startup_cost + cpu_operator_cost * scan->plan_rows;
	if (parse->limitCount == NULL && parse->limitOffset == NULL)
		return (Plan *) sort;
	{
		Limit	   *limit = makeNode(Limit);

		limit->limitOffset = (Node *) copyObject(parse->limitOffset);
		limit->limitCount = (Node *) copyObject(parse->limitCount);
		fix_opfuncids(limit->limitOffset);
		fix_opfuncids(limit->limitCount);
		limit->limitOption = LIMIT_OPTION_COUNT;
		limit->plan.lefttree = (Plan *) sort;
		limit->plan.targetlist = outer_tlist((Plan *) sort, junk);
		limit->plan.plan_rows = sort->plan.plan_rows;
		limit->plan.plan_width = sort->plan.plan_width;
		limit->plan.startup_cost = sort->plan.startup_cost;
		limit->plan.total_cost = sort->plan.total_cost;
		return (Plan *) limit;
	}
}

/* ---------- the hook ---------- */

static PlannedStmt *
chfdw_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	CollectContext cx = {InvalidOid, InvalidOid, NIL, NIL, NIL, NULL};
	CollectContext cx2 = {InvalidOid, InvalidOid, NIL, NIL, NIL, NULL};
	QueryPlanData *pd = NULL;
	bool		sort_here = false;
	const char *reason = NULL;
	const char *saved_reason = chfdw_fallback_reason;
	PlannedStmt *stmt;

	if (chfdw_query_pushdown && parse->commandType == CMD_SELECT)
	{
		(void) collect_walker((Node *) parse, &cx);
		if (cx.relids != NIL)
		{
			if (cx.reason != NULL)
				reason = cx.reason;
			else if (cursorOptions & CURSOR_OPT_SCROLL)
				reason = "it is a scrollable cursor";
			else
				pd = translate_query(parse, &cx, &reason);
			if (pd == NULL && cx.reason == NULL && !(cursorOptions & CURSOR_OPT_SCROLL))
			{
				/* push all but the final ordering; PostgreSQL sorts above */
				Query	   *unsorted = query_without_final_sort(parse);
				const char *unsorted_reason = NULL;

				if (unsorted != NULL)
				{
					/* its own collations: the final ORDER BY's are PostgreSQL's now */
					(void) collect_walker((Node *) unsorted, &cx2);
					if (cx2.reason == NULL)
						pd = translate_query(unsorted, &cx2, &unsorted_reason);
					sort_here = pd != NULL;
				}
			}
			if (pd != NULL)
				pd->cursor_options = cursorOptions;
		}
	}
	else if (!chfdw_query_pushdown)
		reason = "ch_fdw.query_pushdown is off";

	if (pd != NULL && sort_here)
		return make_pushed_stmt(parse, sort_and_limit(parse, pd->query, (Plan *) make_query_scan(pd, &cx2)));
	if (pd != NULL)
		return make_pushed_stmt(parse, (Plan *) make_query_scan(pd, &cx));

	chfdw_fallback_reason = reason;
	PG_TRY();
	{
		stmt = prev_planner_hook ? prev_planner_hook(parse, query_string, cursorOptions, boundParams)
			: standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		chfdw_fallback_reason = saved_reason;
	}
	PG_END_TRY();
	return stmt;
}

void
chfdw_query_init(void)
{
	DefineCustomBoolVariable("ch_fdw.query_pushdown",
							 "Run whole SELECT queries over ch_fdw tables in ClickHouse when possible.",
							 NULL, &chfdw_query_pushdown, true, PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&query_scan_methods);
	if (process_shared_preload_libraries_in_progress)
	{
		prev_planner_hook = planner_hook;
		planner_hook = chfdw_planner;
		chfdw_query_hook_active = true;
		chfdw_python_preload();
	}
}
