/*
 * scan.c — the per-table ForeignScan path.
 *
 * Planning: each restriction clause made only of this table's columns,
 * constants, external parameters and built-in operators/functions is
 * deparsed to PostgreSQL SQL text; Python decides which it can translate
 * (the rest stay local filters).  Sorted paths are offered for the query's
 * ORDER BY when Python can sort exactly like PostgreSQL, and LIMIT is sent
 * when this table is the whole query and nothing is filtered locally.
 *
 * Execution: Python streams columnar batches; each value becomes a Datum in
 * a per-row memory context.  The Python scan object is released by a reset
 * callback on the query context, so an error or cancel anywhere still
 * closes (and, if needed, cancels) the remote query.
 */
#include "ch_fdw.h"

#include "access/table.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "access/transam.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/typcache.h"

/* Planner state kept in baserel->fdw_private. */
typedef struct ChFdwRelInfo
{
	List	   *remote_conds;	/* RestrictInfos sent to ClickHouse */
	List	   *remote_sql;		/* their deparsed text (String nodes) */
	List	   *local_conds;	/* RestrictInfos evaluated locally */
	List	   *local_reasons;	/* why, as "clause: reason" Strings (EXPLAIN VERBOSE) */
	List	   *remote_exprs;	/* their clauses with stable values as Params */
	List	   *stable_values;	/* expressions of those Params (stable.c) */
	List	   *params;			/* distinct external Params in remote_exprs */
	Bitmapset  *attrs_used;		/* columns to fetch (offset by FirstLowInvalid...) */
	double		remote_rows;	/* rows ClickHouse sends before local filters */
} ChFdwRelInfo;

/* Executor state kept in node->fdw_state. */
typedef struct ChFdwScanState
{
	Relation	rel;
	Oid			userid;
	char	   *plan_json;
	List	   *param_ids;
	List	   *param_states;	/* ExprStates for the Params, same order */
	List	   *param_types;
	ExprState  *limit_count;
	ExprState  *limit_offset;
	bool		has_limit;
	ChFdwRowStream rows;
} ChFdwScanState;

/* ---------- deciding what may be sent to Python at all ---------- */

typedef struct ShippableContext
{
	RelOptInfo *rel;
	List	   *params;
	const char *reason;			/* why not, when the walker says no */
} ShippableContext;

static bool
not_shippable(ShippableContext *cx, const char *reason)
{
	if (cx->reason == NULL)
		cx->reason = reason;
	return true;
}

/*
 * Only expressions whose meaning Python can know from their text: this
 * table's columns, constants, external params, built-in operators and
 * functions, and collations that are the default or C.
 */
static bool
shippable_walker(Node *node, ShippableContext *cx)
{
	Oid			coll;

	if (node == NULL)
		return false;

	coll = exprInputCollation(node);
	if (OidIsValid(coll) && coll != DEFAULT_COLLATION_OID && !chfdw_collation_is_c(coll))
		return not_shippable(cx, psprintf("collation \"%s\" is not C", get_collation_name(coll)));

	switch (nodeTag(node))
	{
		case T_Var:
			{
				Var		   *v = (Var *) node;

				if (v->varno != cx->rel->relid || v->varlevelsup != 0 || v->varattno <= 0)
					return not_shippable(cx, "it reads a whole row or another relation's column");
				return false;
			}
		case T_Const:
			if (!chfdw_is_builtin(((Const *) node)->consttype))
				return not_shippable(cx, psprintf("a constant of the user-defined type %s",
												  format_type_be(((Const *) node)->consttype)));
			return false;
		case T_Param:
			{
				Param	   *p = (Param *) node;

				if ((p->paramkind != PARAM_EXTERN && p->paramkind != PARAM_EXEC) ||
					!chfdw_is_builtin(p->paramtype))
					return not_shippable(cx, "a parameter of a user-defined type");
				cx->params = list_append_unique(cx->params, p);
				return false;
			}
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			{
				OpExpr	   *op = (OpExpr *) node;

				if (!chfdw_is_builtin(op->opno))
					return not_shippable(cx, psprintf("the user-defined operator %s",
													  get_opname(op->opno)));
				break;
			}
		case T_ScalarArrayOpExpr:
			if (!chfdw_is_builtin(((ScalarArrayOpExpr *) node)->opno))
				return not_shippable(cx, "a user-defined operator");
			break;
		case T_FuncExpr:
			if (!chfdw_is_builtin(((FuncExpr *) node)->funcid))
				return not_shippable(cx, psprintf("the user-defined function %s()",
												  get_func_name(((FuncExpr *) node)->funcid)));
			if (func_volatile(((FuncExpr *) node)->funcid) == PROVOLATILE_VOLATILE)
				return not_shippable(cx, psprintf("%s() is volatile",
												  get_func_name(((FuncExpr *) node)->funcid)));
			break;
		case T_List:
			/*
			 * The walker is handed bare argument lists (ArrayExpr elements,
			 * COALESCE/GREATEST arguments): not an expression, so no type to
			 * check (exprType() would raise "unrecognized node type").
			 */
			return expression_tree_walker(node, shippable_walker, (void *) cx);
		case T_RelabelType:
		case T_CoerceViaIO:
		case T_BoolExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_ArrayExpr:
		case T_CaseExpr:
		case T_CoalesceExpr:
		case T_MinMaxExpr:
			break;
		case T_SubPlan:
		case T_AlternativeSubPlan:
			return not_shippable(cx, "it contains a subquery");
		default:
			/* anything else (CaseWhen is never handed to a walker) stays local */
			return not_shippable(cx, "it uses an expression ch_fdw does not send");
	}
	if (!chfdw_is_builtin(exprType(node)))
		return not_shippable(cx, psprintf("a value of the user-defined type %s",
										  format_type_be(exprType(node))));
	return expression_tree_walker(node, shippable_walker, (void *) cx);
}

static bool
is_shippable(Expr *clause, RelOptInfo *rel, List **params, const char **reason)
{
	ShippableContext cx = {rel, NIL, NULL};

	if (shippable_walker((Node *) clause, &cx) || contain_volatile_functions((Node *) clause))
	{
		*reason = cx.reason ? cx.reason : "it calls a volatile function";
		return false;
	}
	*params = list_concat_unique(*params, cx.params);
	return true;
}

static Node *show_exec_params_mutator(Node *node, void *context);

/* "clause: reason" for EXPLAIN VERBOSE's Local Filter Reason */
static Node *
local_reason(Node *clause, List *dpcontext, Index relid, const char *reason)
{
	Node	   *shown = show_exec_params_mutator(copyObject(clause), NULL);
	char	   *text;

	ChangeVarNodes(shown, relid, 1, 0);
	text = deparse_expression(shown, dpcontext, false, false);
	return (Node *) makeString(psprintf("%s: %s", text, reason));
}

/*
 * Parameters reach Python as $n.  Executor parameters (correlated
 * subqueries, initplans, nested-loop parameters) are renumbered past the
 * external ones so the two kinds never share a number.
 */
#define EXEC_PARAM_ID_BASE 100000

static int
shown_param_id(Param *p)
{
	return p->paramkind == PARAM_EXEC ? EXEC_PARAM_ID_BASE + p->paramid : p->paramid;
}

static Node *
show_exec_params_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	/*
	 * A restriction above an outer join may reach the scan with
	 * PlaceHolderVars (a subquery's constant outputs), which ruleutils
	 * cannot print: show the expression they stand for.
	 */
	if (IsA(node, PlaceHolderVar))
		return show_exec_params_mutator((Node *) ((PlaceHolderVar *) node)->phexpr, context);
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
	{
		Param	   *p = (Param *) copyObject(node);

		p->paramkind = PARAM_EXTERN;
		p->paramid = shown_param_id((Param *) node);
		return (Node *) p;
	}
	return expression_tree_mutator(node, show_exec_params_mutator, context);
}

/* {shown param id: type name} for Python. */
PyObject *
chfdw_param_types_dict(List *params)
{
	PyObject   *d = PyDict_New();
	ListCell   *lc;

	if (d == NULL)
		chfdw_raise_python_error("could not build request");
	foreach(lc, params)
	{
		Param	   *p = (Param *) lfirst(lc);
		PyObject   *k = PyLong_FromLong(shown_param_id(p));
		PyObject   *v = chfdw_py_text(format_type_be(p->paramtype));

		if (k == NULL || PyDict_SetItem(d, k, v) < 0)
			chfdw_raise_python_error("could not build request");
		Py_DECREF(k);
		Py_DECREF(v);
	}
	return d;
}

static Oid
planning_userid(RelOptInfo *baserel)
{
	return OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
}

static PyObject *
table_context_for(Oid relid, Oid userid)
{
	Relation	rel = table_open(relid, NoLock);
	PyObject   *ctx = chfdw_table_context(rel, userid);

	table_close(rel, NoLock);
	return ctx;
}

/* ---------- planning ---------- */

static void
chGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ChFdwRelInfo *fpinfo = palloc0(sizeof(ChFdwRelInfo));
	List	   *candidates = NIL;
	List	   *candidate_exprs = NIL;
	List	   *candidate_sql = NIL;
	List	   *params = NIL;
	List	   *dpcontext;
	PyObject   *ctx;
	PyObject   *res;
	PyObject   *pushed;
	PyObject   *reasons;
	PyObject   *rows;
	ListCell   *lc;
	int			nestlevel;
	int			i;
	char	   *relname = get_rel_name(foreigntableid);

	baserel->fdw_private = fpinfo;
	chfdw_python_init();

	/* Deparse candidate clauses as PostgreSQL SQL text. */
	dpcontext = deparse_context_for(relname, foreigntableid);
	nestlevel = chfdw_set_transmission_modes();
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		/* now() - interval '1 day' and the like go as values computed at execution */
		Expr	   *expr = (Expr *) chfdw_replace_stable_values((Node *) ri->clause,
																&fpinfo->stable_values);

		const char *reason = NULL;

		if (is_shippable(expr, baserel, &params, &reason))
		{
			/* deparse_context_for() knows this table as range table entry 1 */
			Node	   *clause = show_exec_params_mutator((Node *) expr, NULL);

			ChangeVarNodes(clause, baserel->relid, 1, 0);
			candidates = lappend(candidates, ri);
			candidate_exprs = lappend(candidate_exprs, expr);
			candidate_sql = lappend(candidate_sql,
									makeString(deparse_expression(clause, dpcontext, false, false)));
		}
		else
		{
			fpinfo->local_conds = lappend(fpinfo->local_conds, ri);
			fpinfo->local_reasons = lappend(fpinfo->local_reasons,
											local_reason((Node *) expr, dpcontext, baserel->relid,
														 reason));
		}
	}
	chfdw_reset_transmission_modes(nestlevel);

	ctx = table_context_for(foreigntableid, planning_userid(baserel));
	res = chfdw_call("plan_scan", Py_BuildValue("(NNN)", ctx, chfdw_py_string_list(candidate_sql),
												chfdw_param_types_dict(params)));
	pushed = PyDict_GetItemString(res, "pushed");
	reasons = PyDict_GetItemString(res, "reasons");
	rows = PyDict_GetItemString(res, "rows");
	if (pushed == NULL || !PyList_Check(pushed) || PyList_GET_SIZE(pushed) != list_length(candidates))
	{
		Py_DECREF(res);
		elog(ERROR, "ch_fdw: plan_scan returned a malformed result");
	}
	i = 0;
	foreach(lc, candidates)
	{
		if (PyObject_IsTrue(PyList_GET_ITEM(pushed, i)))
		{
			fpinfo->remote_conds = lappend(fpinfo->remote_conds, lfirst(lc));
			fpinfo->remote_exprs = lappend(fpinfo->remote_exprs, list_nth(candidate_exprs, i));
			fpinfo->remote_sql = lappend(fpinfo->remote_sql, list_nth(candidate_sql, i));
		}
		else
		{
			PyObject   *why = (reasons && PyList_Check(reasons) && i < PyList_GET_SIZE(reasons))
				? PyList_GET_ITEM(reasons, i) : NULL;

			fpinfo->local_conds = lappend(fpinfo->local_conds, lfirst(lc));
			fpinfo->local_reasons =
				lappend(fpinfo->local_reasons,
						makeString(psprintf("%s: %s", strVal(list_nth(candidate_sql, i)),
											why && PyUnicode_Check(why) && PyUnicode_GET_LENGTH(why) > 0
											? chfdw_py_str(why) : "ClickHouse cannot evaluate it exactly")));
		}
		i++;
	}
	fpinfo->remote_rows = (rows && PyNumber_Check(rows)) ? PyFloat_AsDouble(rows) : 1000.0;
	PyErr_Clear();
	Py_DECREF(res);

	/* Params of the clauses actually sent. */
	foreach(lc, fpinfo->remote_exprs)
	{
		ShippableContext cx = {baserel, NIL};

		(void) shippable_walker((Node *) lfirst(lc), &cx);
		fpinfo->params = list_concat_unique(fpinfo->params, cx.params);
	}

	/* Columns to fetch: the target list plus what local filters read. */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &fpinfo->attrs_used);
	foreach(lc, fpinfo->local_conds)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause, baserel->relid,
					   &fpinfo->attrs_used);

	fpinfo->remote_rows = clamp_row_est(fpinfo->remote_rows *
										clauselist_selectivity(root, fpinfo->remote_conds,
															   baserel->relid, JOIN_INNER, NULL));
	baserel->rows = clamp_row_est(fpinfo->remote_rows *
								  clauselist_selectivity(root, fpinfo->local_conds,
														 baserel->relid, JOIN_INNER, NULL));
}

/*
 * The sort keys of pathkeys as Python tuples (attnum, descending,
 * nulls_first, collation: chfdw_collation_facts() or None), or NULL if a key is not a plain column of
 * this table sorted by its type's default btree order.
 */
static PyObject *
sort_keys_for(PlannerInfo *root, RelOptInfo *baserel, List *pathkeys)
{
	PyObject   *keys;
	ListCell   *lc;

	if (pathkeys == NIL)
		return NULL;
	keys = PyList_New(0);
	foreach(lc, pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);
		EquivalenceClass *ec = pk->pk_eclass;
		Var		   *found = NULL;
		ListCell   *lm;
		TypeCacheEntry *tce;
		PyObject   *key;
		PyObject   *coll;

		if (ec->ec_has_volatile)
			break;
		foreach(lm, ec->ec_members)
		{
			EquivalenceMember *em = (EquivalenceMember *) lfirst(lm);
			Expr	   *e = em->em_expr;

			while (e && IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			if (e && IsA(e, Var) && ((Var *) e)->varno == baserel->relid &&
				((Var *) e)->varlevelsup == 0 && ((Var *) e)->varattno > 0 &&
				bms_equal(em->em_relids, baserel->relids))
			{
				found = (Var *) e;
				break;
			}
		}
		if (found == NULL)
			break;
		tce = lookup_type_cache(found->vartype, TYPECACHE_BTREE_OPFAMILY);
		if (!OidIsValid(tce->btree_opf) || tce->btree_opf != pk->pk_opfamily)
			break;
		if (OidIsValid(ec->ec_collation))
			coll = chfdw_collation_facts(ec->ec_collation);
		else
		{
			Py_INCREF(Py_None);
			coll = Py_None;
		}
		key = Py_BuildValue("(iOON)", (int) found->varattno,
							chfdw_pathkey_is_desc(pk) ? Py_True : Py_False,
							pk->pk_nulls_first ? Py_True : Py_False, coll);
		PyList_Append(keys, key);
		Py_DECREF(key);
	}
	if (PyList_GET_SIZE(keys) != list_length(pathkeys))
	{
		Py_DECREF(keys);
		return NULL;
	}
	return keys;
}

static bool
limit_expr_ok(Node *node)
{
	if (node == NULL)
		return true;
	if (contain_var_clause(node) || contain_volatile_functions(node) ||
		contain_subplans(node) || checkExprHasSubLink(node))
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind != PARAM_EXTERN)
		return false;
	return IsA(node, Const) || IsA(node, Param) || IsA(node, FuncExpr) || IsA(node, RelabelType);
}

/* May LIMIT go to ClickHouse?  Only when this scan is the whole query. */
static bool
limit_pushable(PlannerInfo *root, RelOptInfo *baserel, ChFdwRelInfo *fpinfo)
{
	Query	   *parse = root->parse;

	if (parse->commandType != CMD_SELECT || parse->limitCount == NULL ||
		parse->limitOption != LIMIT_OPTION_COUNT)
		return false;
	if (parse->hasAggs || parse->groupClause || parse->groupingSets || parse->havingQual ||
		parse->hasWindowFuncs || parse->distinctClause || parse->setOperations ||
		parse->hasTargetSRFs || parse->rowMarks)
		return false;
	if (baserel->reloptkind != RELOPT_BASEREL || bms_num_members(root->all_baserels) != 1)
		return false;
	if (fpinfo->local_conds != NIL)
		return false;
	return limit_expr_ok(parse->limitCount) && limit_expr_ok(parse->limitOffset);
}

static void
chGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	ChFdwRelInfo *fpinfo = (ChFdwRelInfo *) baserel->fdw_private;
	Cost		startup = 100.0;
	Cost		run;
	bool		limit_ok = limit_pushable(root, baserel, fpinfo);
	PyObject   *keys;

	/* Shipping and converting a row costs more than reading a local one. */
	run = fpinfo->remote_rows * (cpu_tuple_cost * 2.0) + baserel->rows * cpu_tuple_cost;

	add_path(baserel, (Path *)
			 chfdw_create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, startup + run, NIL,
									 baserel->lateral_relids, NULL,
									 list_make2(makeInteger(0),
												makeInteger(limit_ok && root->sort_pathkeys == NIL))));

	keys = sort_keys_for(root, baserel, root->query_pathkeys);
	if (keys != NULL)
	{
		PyObject   *ctx = table_context_for(foreigntableid, planning_userid(baserel));
		PyObject   *ok = chfdw_call("can_sort", Py_BuildValue("(NN)", ctx, keys));
		bool		sortable = PyObject_IsTrue(ok);

		Py_DECREF(ok);
		if (sortable)
		{
			bool		sorted_limit = limit_ok &&
				pathkeys_contained_in(root->sort_pathkeys, root->query_pathkeys);

			/* Cheaper than the unsorted path plus a local Sort. */
			add_path(baserel, (Path *)
					 chfdw_create_foreignscan_path(root, baserel, NULL, baserel->rows,
											 startup, startup + run * 1.05,
											 root->query_pathkeys,
											 baserel->lateral_relids, NULL,
											 list_make2(makeInteger(1), makeInteger(sorted_limit))));
		}
	}
}

/* Why this query is planned per table (shown by EXPLAIN VERBOSE). */
static const char *
fallback_reason(void)
{
	if (!chfdw_query_hook_active)
		return "whole-query pushdown needs shared_preload_libraries = 'ch_fdw'";
	if (chfdw_fallback_reason)
		return chfdw_fallback_reason;
	return "";
}

static ForeignScan *
chGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses, Plan *outer_plan)
{
	ChFdwRelInfo *fpinfo = (ChFdwRelInfo *) baserel->fdw_private;
	bool		sorted = intVal(linitial(best_path->fdw_private));
	bool		has_limit = intVal(lsecond(best_path->fdw_private));
	List	   *local_exprs = NIL;
	List	   *retrieved = NIL;
	List	   *param_ids = NIL;
	List	   *fdw_exprs = NIL;
	PyObject   *ctx;
	PyObject   *keys = NULL;
	PyObject   *res;
	ListCell   *lc;
	bool		whole_row;
	Relation	rel;
	TupleDesc	tupdesc;
	int			i;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);

		if (ri->pseudoconstant)
			continue;
		if (!list_member_ptr(fpinfo->remote_conds, ri))
			local_exprs = lappend(local_exprs, ri->clause);
	}

	/* Fetched columns, in attribute order. */
	rel = table_open(foreigntableid, NoLock);
	tupdesc = RelationGetDescr(rel);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, fpinfo->attrs_used);
	for (i = 1; i <= tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i - 1)->attisdropped)
			continue;
		if (whole_row || bms_is_member(i - FirstLowInvalidHeapAttributeNumber, fpinfo->attrs_used))
			retrieved = lappend_int(retrieved, i);
	}
	ctx = chfdw_table_context(rel, planning_userid(baserel));
	table_close(rel, NoLock);

	if (sorted)
		keys = sort_keys_for(root, baserel, best_path->path.pathkeys);
	if (keys == NULL)
	{
		keys = Py_None;
		Py_INCREF(keys);
	}

	res = chfdw_call("build_scan",
					 Py_BuildValue("(NNNNNO)", ctx, chfdw_py_int_list(retrieved), chfdw_py_string_list(fpinfo->remote_sql),
								   chfdw_param_types_dict(fpinfo->params), keys,
								   has_limit ? Py_True : Py_False));

	foreach(lc, fpinfo->params)
		param_ids = lappend_int(param_ids, shown_param_id((Param *) lfirst(lc)));
	fdw_exprs = chfdw_param_exprs(fpinfo->params, fpinfo->stable_values);
	if (has_limit)
	{
		fdw_exprs = lappend(fdw_exprs, copyObject(root->parse->limitCount));
		fdw_exprs = lappend(fdw_exprs, root->parse->limitOffset ?
							copyObject(root->parse->limitOffset) :
							(Node *) makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(0), false, true));
	}

	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							lappend(list_make5(makeString(chfdw_py_str(res)), retrieved, param_ids,
											   makeInteger(has_limit),
											   makeString(pstrdup(fallback_reason()))),
									fpinfo->local_reasons),
							NIL, NIL, outer_plan);
}

/* ---------- execution ---------- */

static void
chBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	ChFdwScanState *st = palloc0(sizeof(ChFdwScanState));
	List	   *retrieved = lsecond(fsplan->fdw_private);
	ListCell   *lc;
	int			nparams;
	int			i;
	List	   *limit_exprs;

	node->fdw_state = st;
	st->rel = node->ss.ss_currentRelation;
	st->userid = chfdw_foreign_scan_userid(fsplan, estate, fsplan->scan.scanrelid);
	st->plan_json = strVal(linitial(fsplan->fdw_private));
	st->param_ids = lthird(fsplan->fdw_private);
	st->has_limit = intVal(lfourth(fsplan->fdw_private));

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	chfdw_python_init();
	chfdw_rows_init(&st->rows, estate->es_query_cxt, list_length(retrieved));
	i = 0;
	foreach(lc, retrieved)
	{
		AttrNumber	attnum = lfirst_int(lc);
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(st->rel), attnum - 1);

		st->rows.attnums[i] = attnum;
		chfdw_column_conv_init(&st->rows.convs[i], att->atttypid, att->atttypmod,
							   pstrdup(NameStr(att->attname)),
							   RelationGetRelationName(st->rel));
		i++;
	}

	nparams = list_length(st->param_ids);
	limit_exprs = chfdw_init_params(fsplan->fdw_exprs, nparams, (PlanState *) node,
									&st->param_states, &st->param_types);
	if (limit_exprs != NIL)
	{
		st->limit_count = ExecInitExpr(linitial(limit_exprs), (PlanState *) node);
		st->limit_offset = ExecInitExpr(lsecond(limit_exprs), (PlanState *) node);
	}
}

static int64
eval_int8(ExprState *es, ExprContext *econtext, bool *isnull)
{
	Datum		d = ExecEvalExpr(es, econtext, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

static void
start_python_scan(ForeignScanState *node, ChFdwScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	PyObject   *params;
	PyObject   *limit = Py_None;
	PyObject   *ctx;

	params = chfdw_eval_params(st->param_ids, st->param_states, st->param_types, econtext);
	if (st->has_limit)
	{
		bool		null_count,
					null_offset;
		int64		count = eval_int8(st->limit_count, econtext, &null_count);
		int64		offset = eval_int8(st->limit_offset, econtext, &null_offset);

		/* PostgreSQL's Limit node still applies OFFSET; fetch count + offset. */
		if (!null_count && count >= 0)
			limit = PyLong_FromLongLong(count + (null_offset || offset < 0 ? 0 : offset));
	}
	if (limit == Py_None)
		Py_INCREF(limit);

	ctx = chfdw_table_context(st->rel, st->userid);
	st->rows.scan = chfdw_call("begin_scan", Py_BuildValue("(NsNN)", ctx, st->plan_json, params, limit));
}

static TupleTableSlot *
chIterateForeignScan(ForeignScanState *node)
{
	ChFdwScanState *st = (ChFdwScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (st->rows.scan == NULL && !st->rows.done)
		start_python_scan(node, st);
	chfdw_rows_next(&st->rows, slot);
	return slot;
}

static void
chReScanForeignScan(ForeignScanState *node)
{
	ChFdwScanState *st = (ChFdwScanState *) node->fdw_state;

	chfdw_rows_restart(&st->rows);
}

static void
chEndForeignScan(ForeignScanState *node)
{
	ChFdwScanState *st = (ChFdwScanState *) node->fdw_state;

	if (st != NULL)
		chfdw_rows_release(&st->rows);
}

static void
chExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	ChFdwScanState *st = (ChFdwScanState *) node->fdw_state;
	PyObject   *limit = Py_None;
	PyObject   *res;
	char	   *sql;

	if (st->has_limit)
	{
		int			nparams = list_length(st->param_ids);
		Node	   *count = list_nth(fsplan->fdw_exprs, nparams);
		Node	   *offset = list_nth(fsplan->fdw_exprs, nparams + 1);

		if (IsA(count, Const) && IsA(offset, Const) &&
			!((Const *) count)->constisnull && !((Const *) offset)->constisnull)
			limit = PyLong_FromLongLong(DatumGetInt64(((Const *) count)->constvalue) +
										DatumGetInt64(((Const *) offset)->constvalue));
		else
			limit = PyUnicode_FromString("$limit");
	}
	else
		Py_INCREF(limit);
	res = chfdw_call("explain_scan", Py_BuildValue("(sN)", st->plan_json, limit));
	sql = chfdw_py_str(res);
	Py_DECREF(res);
	ExplainPropertyText("Remote SQL", sql, es);
	if (es->verbose && list_length(fsplan->fdw_private) >= 5 &&
		strVal(list_nth(fsplan->fdw_private, 4))[0] != '\0')
		ExplainPropertyText("Not pushed down whole because", strVal(list_nth(fsplan->fdw_private, 4)), es);
	if (es->verbose && list_length(fsplan->fdw_private) >= 6 && list_nth(fsplan->fdw_private, 5) != NIL)
	{
		List	   *reasons = (List *) list_nth(fsplan->fdw_private, 5);
		ListCell   *lc;

		/* each filter left to PostgreSQL, and why: a full scan shows coming */
		if (es->format == EXPLAIN_FORMAT_TEXT)
			foreach(lc, reasons)
				ExplainPropertyText("Local Filter Reason", strVal(lfirst(lc)), es);
		else
		{
			List	   *texts = NIL;

			foreach(lc, reasons)
				texts = lappend(texts, strVal(lfirst(lc)));
			ExplainPropertyList("Local Filter Reasons", texts, es);
		}
	}
}

void
chfdw_scan_routine(FdwRoutine *routine)
{
	routine->GetForeignRelSize = chGetForeignRelSize;
	routine->GetForeignPaths = chGetForeignPaths;
	routine->GetForeignPlan = chGetForeignPlan;
	routine->BeginForeignScan = chBeginForeignScan;
	routine->IterateForeignScan = chIterateForeignScan;
	routine->ReScanForeignScan = chReScanForeignScan;
	routine->EndForeignScan = chEndForeignScan;
	routine->ExplainForeignScan = chExplainForeignScan;
}
