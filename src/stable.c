/*
 * stable.c — statement-stable values (now(), current_date, now() - interval
 * '1 day', date_trunc('day', now()), ...) computed by PostgreSQL and sent to
 * ClickHouse as parameters.
 *
 * A subexpression that reads no column, calls no volatile function and is
 * not already a constant (a stable function's result, or an expression
 * over parameters like $1 - 30) has one value per execution, like a query
 * parameter: both paths replace it by a Param numbered from
 * CHFDW_STABLE_PARAM_BASE before deparsing, and evaluate the original
 * expression with ExecEvalExpr when the scan starts (as PostgreSQL does for
 * an index scan key), so the session TimeZone and transaction start time
 * are PostgreSQL's own.  Python only ever sees the value.
 */
#include "ch_fdw.h"

#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"

typedef struct StableContext
{
	List	   *values;			/* the replaced expressions, by id order */
} StableContext;

/* What a stable value must not contain: anything that varies per row or is not an expression. */
static bool
not_a_value_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Var:
		case T_Aggref:
		case T_WindowFunc:
		case T_GroupingFunc:
		case T_SubLink:
		case T_SubPlan:
		case T_AlternativeSubPlan:
		case T_PlaceHolderVar:
		case T_CurrentOfExpr:
		case T_NextValueExpr:
		case T_SetToDefault:
		case T_CaseTestExpr:
		case T_Query:
			return true;
		case T_Param:
			return ((Param *) node)->paramkind != PARAM_EXTERN &&
				((Param *) node)->paramkind != PARAM_EXEC;
		default:
			break;
	}
	return expression_tree_walker(node, not_a_value_walker, context);
}

static bool
contains_param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return true;
	return expression_tree_walker(node, contains_param_walker, context);
}

static bool
is_stable_value(Node *node)
{
	if (!IsA(node, FuncExpr) && !IsA(node, OpExpr) && !IsA(node, SQLValueFunction) &&
		!IsA(node, CoerceViaIO) && !IsA(node, RelabelType))
		return false;
	if (!chfdw_is_builtin(exprType(node)))
		return false;
	/* mutable but not volatile (stable within the statement), or over parameters ($1 - 30) */
	if (contain_volatile_functions(node) ||
		!(contain_mutable_functions(node) || contains_param_walker(node, NULL)))
		return false;
	return !not_a_value_walker(node, NULL);
}

static int
value_id(StableContext *cx, Node *node)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, cx->values)
	{
		i++;
		if (equal(lfirst(lc), node))
			return CHFDW_STABLE_PARAM_BASE + i;
	}
	cx->values = lappend(cx->values, copyObject(node));
	return CHFDW_STABLE_PARAM_BASE + list_length(cx->values);
}

static Node *
replace_mutator(Node *node, StableContext *cx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, replace_mutator, (void *) cx, 0);
	if (is_stable_value(node))
	{
		Param	   *p = makeNode(Param);

		p->paramkind = PARAM_EXTERN;
		p->paramid = value_id(cx, node);
		p->paramtype = exprType(node);
		p->paramtypmod = exprTypmod(node);
		p->paramcollid = exprCollation(node);
		p->location = -1;
		return (Node *) p;
	}
	return expression_tree_mutator(node, replace_mutator, (void *) cx);
}

/*
 * A copy of node with each maximal stable value replaced by a Param;
 * *values (kept across calls, so equal values share one id) gets the
 * replaced expressions.
 */
Node *
chfdw_replace_stable_values(Node *node, List **values)
{
	StableContext cx = {*values};
	Node	   *out = replace_mutator(node, &cx);

	*values = cx.values;
	return out;
}

bool
chfdw_is_stable_param(Param *p)
{
	return p->paramkind == PARAM_EXTERN && p->paramid > CHFDW_STABLE_PARAM_BASE;
}

/* The expressions to evaluate for params: a stable value's own expression, else the Param. */
List *
chfdw_param_exprs(List *params, List *values)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, params)
	{
		Param	   *p = (Param *) lfirst(lc);

		if (chfdw_is_stable_param(p))
			out = lappend(out, copyObject(list_nth(values, p->paramid - CHFDW_STABLE_PARAM_BASE - 1)));
		else
			out = lappend(out, p);
	}
	return out;
}
