/*
 * python.c — the embedded CPython interpreter.
 *
 * Starts the interpreter once per backend (or reuses the one PL/Python
 * started), makes the installed ch_fdw package importable, calls functions of
 * ch_fdw.bridge, and turns Python exceptions into PostgreSQL errors.
 *
 * Rule: no PostgreSQL function that can ereport(ERROR) runs while Python
 * frames are on the stack (a longjmp across them would corrupt the
 * interpreter).  The only C function Python calls back is
 * _ch_fdw.interrupt_pending(), which just reads flags.
 */
#include "ch_fdw.h"

#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "fmgr.h"
#include <unistd.h>
#include "utils/guc.h"

#ifndef CH_FDW_PYTHON_PATH
#define CH_FDW_PYTHON_PATH ""
#endif

/* GUC ch_fdw.python_path: directory holding the ch_fdw package and its deps */
char	   *chfdw_python_path = NULL;

static PyObject *bridge_module = NULL;
static int	python_pid = 0;		/* process that set up the interpreter state */

/* _ch_fdw.interrupt_pending(): lets Python notice Ctrl-C / statement_timeout
 * while it waits for ClickHouse, so it can cancel the remote query. */
static PyObject *
py_interrupt_pending(PyObject *self, PyObject *unused)
{
	if (InterruptPending && (QueryCancelPending || ProcDiePending))
		Py_RETURN_TRUE;
	Py_RETURN_FALSE;
}

static void chfdw_python_atexit(int code, Datum arg);

/*
 * _ch_fdw.after_fork(): the per-backend fix-up of an interpreter the
 * postmaster started, for Python code that runs in a backend before the
 * bridge does (the multicorn wrapper).  Done later, it would forget the
 * threads that code started.  Afterwards chfdw_python_init() skips it.
 */
static PyObject *
py_after_fork(PyObject *self, PyObject *unused)
{
	if (bridge_module != NULL && python_pid != MyProcPid)
	{
		PyOS_AfterFork_Child();
		python_pid = MyProcPid;
		on_proc_exit(chfdw_python_atexit, (Datum) 0);
	}
	Py_RETURN_NONE;
}

static PyMethodDef chfdw_module_methods[] = {
	{"interrupt_pending", py_interrupt_pending, METH_NOARGS,
	"True when PostgreSQL has a pending query cancel or backend termination."},
	{"after_fork", py_after_fork, METH_NOARGS,
	"Finish setting up, in this backend, the interpreter the postmaster started."},
	{NULL, NULL, 0, NULL}
};

static struct PyModuleDef chfdw_module_def = {
	PyModuleDef_HEAD_INIT, "_ch_fdw", "Callbacks into the ch_fdw C bridge.",
	-1, chfdw_module_methods
};

static void
chfdw_python_atexit(int code, Datum arg)
{
	PyObject   *res;

	if (bridge_module == NULL)
		return;
	/* Close ClickHouse connections politely; never let an error escape. */
	res = PyObject_CallMethod(bridge_module, "shutdown", NULL);
	Py_XDECREF(res);
	PyErr_Clear();
}

/*
 * PL/Python registers its "plpy" module with PyImport_AppendInittab(),
 * which only works before the interpreter starts.  If we start it first,
 * register plpy for PL/Python so both can live in one backend.
 */
static void
register_plpy_module(void)
{
	char		path[MAXPGPATH];
	PyObject   *(*init_plpy) (void);

	snprintf(path, sizeof(path), "%s/plpython3%s", pkglib_path, DLSUFFIX);
	if (access(path, R_OK) != 0)
		return;
	init_plpy = (PyObject *(*) (void))
		load_external_function("$libdir/plpython3", "PyInit_plpy", false, NULL);
	if (init_plpy != NULL)
		PyImport_AppendInittab("plpy", init_plpy);
}

void
chfdw_python_init(void)
{
	PyObject   *sys_path;
	PyObject   *mod;
	PyObject   *modules;
	const char *path;

	if (bridge_module != NULL)
	{
		if (python_pid != MyProcPid)
		{
			/* A backend forked from a postmaster that preloaded Python. */
			PyOS_AfterFork_Child();
			python_pid = MyProcPid;
			on_proc_exit(chfdw_python_atexit, (Datum) 0);
		}
		return;
	}

	if (!Py_IsInitialized())
	{
		PyConfig	config;
		PyStatus	status;

		register_plpy_module();

		/*
		 * The same configuration PL/Python gets from Py_Initialize(), so
		 * either may start the interpreter, except that PostgreSQL keeps
		 * its signal handlers.
		 */
		PyConfig_InitPythonConfig(&config);
		config.install_signal_handlers = 0;
		config.parse_argv = 0;
		status = Py_InitializeFromConfig(&config);
		PyConfig_Clear(&config);
		if (PyStatus_Exception(status))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("ch_fdw: could not initialize the embedded Python interpreter"),
					 errdetail("%s", status.err_msg ? status.err_msg : "unknown error")));
	}

	/* The callback module, created directly so this works whoever started
	 * the interpreter (PyImport_AppendInittab needs to run before it). */
	modules = PyImport_GetModuleDict();
	if (PyDict_GetItemString(modules, "_ch_fdw") == NULL)
	{
		mod = PyModule_Create(&chfdw_module_def);
		if (mod == NULL || PyDict_SetItemString(modules, "_ch_fdw", mod) < 0)
		{
			Py_XDECREF(mod);
			chfdw_raise_python_error("could not create module _ch_fdw");
		}
		Py_DECREF(mod);
	}

	/* Put the installed package directory first on sys.path. */
	path = (chfdw_python_path && chfdw_python_path[0]) ? chfdw_python_path : CH_FDW_PYTHON_PATH;
	sys_path = PySys_GetObject("path");	/* borrowed */
	if (path[0] && sys_path && PyList_Check(sys_path))
	{
		PyObject   *p = PyUnicode_DecodeFSDefault(path);
		int			present;

		if (p == NULL)
			chfdw_raise_python_error("bad ch_fdw.python_path");
		present = PySequence_Contains(sys_path, p);
		if (present == 0)
			PyList_Insert(sys_path, 0, p);
		Py_DECREF(p);
		PyErr_Clear();
	}

	mod = PyImport_ImportModule("ch_fdw.bridge");
	if (mod == NULL)
		chfdw_raise_python_error("could not load the ch_fdw Python package");
	bridge_module = mod;
	python_pid = MyProcPid;
	if (IsUnderPostmaster)
		on_proc_exit(chfdw_python_atexit, (Datum) 0);
}

/*
 * With shared_preload_libraries, start the interpreter and import the
 * Python core in the postmaster: backends inherit it at fork, so a new
 * connection does not pay for it.  A failure here only costs that benefit.
 */
void
chfdw_python_preload(void)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		PyObject   *r;

		chfdw_python_init();
		r = PyObject_CallMethod(bridge_module, "preload", NULL);
		if (r == NULL)
			chfdw_raise_python_error("could not preload the ch_fdw Python core");
		Py_DECREF(r);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errmsg("ch_fdw: Python core not preloaded: %s", edata->message),
				 errhint("Each backend will load it on first use.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Call ch_fdw.bridge.<func>(*args).  Steals the reference to args (a tuple).
 * Returns a new reference; raises a PostgreSQL error on exception.
 */
PyObject *
chfdw_call(const char *func, PyObject *args)
{
	PyObject   *fn;
	PyObject   *res;

	chfdw_python_init();
	if (args == NULL)
		chfdw_raise_python_error(func);
	fn = PyObject_GetAttrString(bridge_module, func);
	if (fn == NULL)
	{
		Py_DECREF(args);
		chfdw_raise_python_error(func);
	}
	res = PyObject_CallObject(fn, args);
	Py_DECREF(fn);
	Py_DECREF(args);
	if (res == NULL)
		chfdw_raise_python_error(NULL);
	return res;
}

/* Copy a Python str (or anything str() accepts) into palloc'd UTF-8. */
char *
chfdw_py_str(PyObject *obj)
{
	PyObject   *s;
	const char *utf8;
	Py_ssize_t	len;
	char	   *out;

	if (obj == NULL || obj == Py_None)
		return NULL;
	s = PyUnicode_Check(obj) ? (Py_INCREF(obj), obj) : PyObject_Str(obj);
	if (s == NULL)
	{
		PyErr_Clear();
		return pstrdup("<unprintable>");
	}
	utf8 = PyUnicode_AsUTF8AndSize(s, &len);
	if (utf8 == NULL)
	{
		PyErr_Clear();
		Py_DECREF(s);
		return pstrdup("<unprintable>");
	}
	out = pnstrdup(utf8, len);
	Py_DECREF(s);
	return out;
}

PyObject *
chfdw_py_text(const char *s)
{
	PyObject   *o;

	if (s == NULL)
		Py_RETURN_NONE;
	o = PyUnicode_DecodeUTF8(s, strlen(s), "surrogateescape");
	if (o == NULL)
		chfdw_raise_python_error("could not convert text to Python");
	return o;
}

void
chfdw_dict_set_steal(PyObject *dict, const char *key, PyObject *value)
{
	if (value == NULL || PyDict_SetItemString(dict, key, value) < 0)
	{
		Py_XDECREF(value);
		chfdw_raise_python_error("could not build request");
	}
	Py_DECREF(value);
}

void
chfdw_dict_set_text(PyObject *dict, const char *key, const char *value)
{
	chfdw_dict_set_steal(dict, key, chfdw_py_text(value));
}

/* An integer List as a Python list of int. */
PyObject *
chfdw_py_int_list(List *ints)
{
	PyObject   *l = PyList_New(0);
	ListCell   *lc;

	if (l == NULL)
		chfdw_raise_python_error("could not build request");
	foreach(lc, ints)
	{
		PyObject   *n = PyLong_FromLong(lfirst_int(lc));

		if (n == NULL || PyList_Append(l, n) < 0)
			chfdw_raise_python_error("could not build request");
		Py_DECREF(n);
	}
	return l;
}

/* A List of String nodes as a Python list of str. */
PyObject *
chfdw_py_string_list(List *strings)
{
	PyObject   *l = PyList_New(0);
	ListCell   *lc;

	if (l == NULL)
		chfdw_raise_python_error("could not build request");
	foreach(lc, strings)
	{
		PyObject   *str = chfdw_py_text(strVal(lfirst(lc)));

		if (PyList_Append(l, str) < 0)
			chfdw_raise_python_error("could not build request");
		Py_DECREF(str);
	}
	return l;
}

/* A List of DefElem (catalog options) as a Python dict of str -> str. */
PyObject *
chfdw_options_dict(List *options)
{
	PyObject   *d = PyDict_New();
	ListCell   *lc;

	if (d == NULL)
		chfdw_raise_python_error("could not build options");
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		chfdw_dict_set_text(d, def->defname, defGetString(def));
	}
	return d;
}

static char *
tuple_item_str(PyObject *tuple, Py_ssize_t i)
{
	if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) <= i)
		return NULL;
	return chfdw_py_str(PyTuple_GET_ITEM(tuple, i));
}

/*
 * Report the pending Python exception as a PostgreSQL error.
 *
 * ch_fdw.bridge.describe_error(exc) classifies it: ChFdwError keeps its
 * SQLSTATE/message/detail/hint; Interrupted means PostgreSQL has a pending
 * cancel, which CHECK_FOR_INTERRUPTS() reports with the proper message.
 */
void
chfdw_raise_python_error(const char *context)
{
	PyObject   *exc;
	PyObject   *desc = NULL;
	char	   *kind = NULL;
	char	   *sqlstate = NULL;
	char	   *message = NULL;
	char	   *detail = NULL;
	char	   *hint = NULL;

	{
		PyObject   *type,
				   *tb;

		PyErr_Fetch(&type, &exc, &tb);
		PyErr_NormalizeException(&type, &exc, &tb);
		if (exc != NULL && tb != NULL)
			PyException_SetTraceback(exc, tb);
		Py_XDECREF(type);
		Py_XDECREF(tb);
	}
	if (exc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("ch_fdw: Python call failed without an exception%s%s",
						context ? ": " : "", context ? context : "")));

	if (bridge_module != NULL)
	{
		desc = PyObject_CallMethod(bridge_module, "describe_error", "O", exc);
		if (desc == NULL)
			PyErr_Clear();
	}
	if (desc != NULL && PyTuple_Check(desc) && PyTuple_GET_SIZE(desc) == 5)
	{
		kind = tuple_item_str(desc, 0);
		sqlstate = tuple_item_str(desc, 1);
		message = tuple_item_str(desc, 2);
		detail = tuple_item_str(desc, 3);
		hint = tuple_item_str(desc, 4);
	}
	else
	{
		kind = "error";
		message = chfdw_py_str(exc);
		detail = chfdw_py_str((PyObject *) Py_TYPE(exc));
	}
	Py_XDECREF(desc);
	Py_DECREF(exc);
	PyErr_Clear();

	if (kind && strcmp(kind, "interrupt") == 0)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling statement due to user request")));
	}
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		sqlstate = "HV000";
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3], sqlstate[4])),
			 errmsg("%s%s%s", context ? context : "", context ? ": " : "",
					message ? message : "unknown error"),
			 detail ? errdetail("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}
