/*
 * compat.h — every difference between the PostgreSQL versions ch_fdw builds
 * for (15 to 18), in one place.  The rest of the bridge uses only the names
 * defined here, never PG_VERSION_NUM.
 *
 * Included by ch_fdw.h after postgres.h and Python.h.
 */
#ifndef CH_FDW_COMPAT_H
#define CH_FDW_COMPAT_H

#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/datetime.h"
#include "utils/pg_locale.h"

#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#include "varatt.h"				/* VARDATA & co. left postgres.h in 16 */
#endif
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"	/* ExplainProperty*() left explain.h */
#include "commands/explain_state.h" /* so did ExplainState */
#endif

/* 18 replaced the postfix pg_attribute_noreturn() with a prefix pg_noreturn. */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* Round a timestamp to a typmod's precision (16 added a soft-error context). */
#if PG_VERSION_NUM >= 160000
#define chfdw_adjust_timestamp(ts, typmod) ((void) AdjustTimestampForTypmod((ts), (typmod), NULL))
#else
#define chfdw_adjust_timestamp(ts, typmod) AdjustTimestampForTypmod((ts), (typmod))
#endif

/* Does collation coll compare bytes (C/POSIX)?  18 dropped lc_collate_is_c(). */
static inline bool
chfdw_collation_is_c(Oid coll)
{
#if PG_VERSION_NUM >= 180000
	if (!OidIsValid(coll))
		return false;
	return pg_newlocale_from_collation(coll)->collate_is_c;
#else
	return lc_collate_is_c(coll);
#endif
}

/* The ICU/builtin locale column of pg_database and pg_collation (17 renamed it). */
#if PG_VERSION_NUM >= 170000
#define CHFDW_ANUM_DATABASE_LOCALE Anum_pg_database_datlocale
#define CHFDW_ANUM_COLLATION_LOCALE Anum_pg_collation_colllocale
#else
#define CHFDW_ANUM_DATABASE_LOCALE Anum_pg_database_daticulocale
#define CHFDW_ANUM_COLLATION_LOCALE Anum_pg_collation_colliculocale
#endif

/* Is a sort pathkey descending?  18 keeps a CompareType, not a btree strategy. */
#if PG_VERSION_NUM >= 180000
#define chfdw_pathkey_is_desc(pk) ((pk)->pk_cmptype == COMPARE_GT)
#else
#define chfdw_pathkey_is_desc(pk) ((pk)->pk_strategy == BTGreaterStrategyNumber)
#endif

/*
 * create_foreignscan_path() for a base relation: 17 added the restriction
 * clauses of a join's outer path (NIL for a base rel), 18 the count of
 * disabled nodes (none here).
 */
#if PG_VERSION_NUM >= 180000
#define chfdw_create_foreignscan_path(root, rel, target, rows, startup, total, pathkeys, \
									  required_outer, outerpath, fdw_private) \
	create_foreignscan_path((root), (rel), (target), (rows), 0, (startup), (total), (pathkeys), \
							(required_outer), (outerpath), NIL, (fdw_private))
#elif PG_VERSION_NUM >= 170000
#define chfdw_create_foreignscan_path(root, rel, target, rows, startup, total, pathkeys, \
									  required_outer, outerpath, fdw_private) \
	create_foreignscan_path((root), (rel), (target), (rows), (startup), (total), (pathkeys), \
							(required_outer), (outerpath), NIL, (fdw_private))
#else
#define chfdw_create_foreignscan_path create_foreignscan_path
#endif

/*
 * Which user a relation is accessed as (a view's owner for the tables under
 * it, else the current user).  Up to 15 that is RangeTblEntry.checkAsUser;
 * 16 moved it into the query's RTEPermissionInfo list.
 */
static inline Oid
chfdw_checkasuser_or_current(Oid checkasuser)
{
	return OidIsValid(checkasuser) ? checkasuser : GetUserId();
}

#if PG_VERSION_NUM >= 160000
static inline Oid
chfdw_perminfo_userid(List *rteperminfos, RangeTblEntry *rte)
{
	if (rte->perminfoindex == 0)
		return GetUserId();
	return chfdw_checkasuser_or_current(getRTEPermissionInfo(rteperminfos, rte)->checkAsUser);
}
#endif

/* The user for an RTE of Query q (during planning, before setrefs). */
static inline Oid
chfdw_query_rte_userid(Query *q, RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 160000
	return chfdw_perminfo_userid(q->rteperminfos, rte);
#else
	return chfdw_checkasuser_or_current(rte->checkAsUser);
#endif
}

/* The user for range table entry rti of the statement being planned. */
static inline Oid
chfdw_planner_rte_userid(PlannerInfo *root, Index rti)
{
#if PG_VERSION_NUM >= 160000
	/* inheritance children have no permission info of their own; their rel has the parent's user */
	if (rti < (Index) root->simple_rel_array_size && root->simple_rel_array[rti] != NULL)
		return chfdw_checkasuser_or_current(root->simple_rel_array[rti]->userid);
	return chfdw_perminfo_userid(root->parse->rteperminfos, planner_rt_fetch(rti, root));
#else
	return chfdw_checkasuser_or_current(planner_rt_fetch(rti, root)->checkAsUser);
#endif
}

/* The user for range table entry rti of the executing statement. */
static inline Oid
chfdw_exec_rte_userid(EState *estate, Index rti)
{
#if PG_VERSION_NUM >= 160000
	return chfdw_perminfo_userid(estate->es_rteperminfos, exec_rt_fetch(rti, estate));
#else
	return chfdw_checkasuser_or_current(exec_rt_fetch(rti, estate)->checkAsUser);
#endif
}

/* The user a ForeignScan (scan or direct modify of relation rti) runs as. */
static inline Oid
chfdw_foreign_scan_userid(ForeignScan *fsplan, EState *estate, Index rti)
{
#if PG_VERSION_NUM >= 160000
	return chfdw_checkasuser_or_current(fsplan->checkAsUser);
#else
	return chfdw_exec_rte_userid(estate, rti);
#endif
}

/*
 * A PlannedStmt built without the standard planner: append a range table
 * entry of Query owner to stmt's flat range table the way setrefs.c does
 * (16+: with its permission info, renumbered; 18+: a relation is marked
 * unprunable, as no partition pruning applies to it).
 */
static inline void
chfdw_stmt_add_rte(PlannedStmt *stmt, Query *owner, RangeTblEntry *rte)
{
	RangeTblEntry *newrte = copyObject(rte);

#if PG_VERSION_NUM >= 160000
	if (rte->perminfoindex > 0)
	{
		RTEPermissionInfo *perminfo = getRTEPermissionInfo(owner->rteperminfos, rte);

		stmt->permInfos = lappend(stmt->permInfos, copyObject(perminfo));
		newrte->perminfoindex = list_length(stmt->permInfos);
	}
#endif
	stmt->rtable = lappend(stmt->rtable, newrte);
#if PG_VERSION_NUM >= 180000
	if (rte->rtekind == RTE_RELATION || (rte->rtekind == RTE_SUBQUERY && OidIsValid(rte->relid)))
		stmt->unprunableRelids = bms_add_member(stmt->unprunableRelids, list_length(stmt->rtable));
#endif
}

/*
 * Range table entries that only organize a query and read nothing: 18's
 * RTE_GROUP (the grouping step, whose Vars stand for GROUP BY expressions).
 */
static inline bool
chfdw_rte_reads_nothing(RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 180000
	return rte->rtekind == RTE_GROUP;
#else
	return false;
#endif
}

/*
 * A view, as the rewriter leaves it: 16+ turns its RTE into a subquery that
 * keeps the view's relid and permission info (15 adds an RTE_RELATION of
 * the view inside the subquery instead).
 */
static inline bool
chfdw_rte_is_expanded_view(RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 160000
	return rte->rtekind == RTE_SUBQUERY && OidIsValid(rte->relid);
#else
	return false;
#endif
}

/*
 * An expression of a pushed query's result, as EXPLAIN shows it (it is
 * never evaluated: ClickHouse computed it).  18's EXPLAIN prints a window
 * function's OVER by looking for its WindowAgg plan node, and errors when
 * there is none, so there it is shown as a plain call of the same function
 * (15-17 print "OVER (?)").
 */
#if PG_VERSION_NUM >= 180000
static inline Node *
chfdw_window_calls_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, WindowFunc))
	{
		WindowFunc *wf = (WindowFunc *) node;

		return (Node *) makeFuncExpr(wf->winfnoid, wf->wintype,
									 (List *) chfdw_window_calls_mutator((Node *) wf->args, context),
									 wf->wincollid, wf->inputcollid, COERCE_EXPLICIT_CALL);
	}
	return expression_tree_mutator(node, chfdw_window_calls_mutator, context);
}
#endif

static inline Node *
chfdw_explainable_expr(Node *expr)
{
#if PG_VERSION_NUM >= 180000
	return chfdw_window_calls_mutator(expr, NULL);
#else
	return expr;
#endif
}

#endif							/* CH_FDW_COMPAT_H */
