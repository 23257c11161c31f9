/*
 * convert.c — Python values to PostgreSQL Datums (and parameters back).
 *
 * The Python core hands each column's values in the forms listed in
 * ch_fdw/bridge.py.  Common type pairs take a fast path here; anything else
 * goes through str() and the target type's input function, which also
 * does the validation (so a bad value is a PostgreSQL error, never garbage).
 */
#include "ch_fdw.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* Python's datetime.h uses the same include guard as utils/datetime.h. */
#undef DATETIME_H
#include <datetime.h>

enum
{
	K_OTHER,
	K_BOOL,
	K_INT2,
	K_INT4,
	K_INT8,
	K_FLOAT4,
	K_FLOAT8,
	K_TEXT,
	K_BYTEA,
	K_DATE,
	K_TIMESTAMP,
	K_TIMESTAMPTZ,
	K_UUID
};

/* Days and microseconds between the Unix epoch and PostgreSQL's. */
#define UNIX_TO_PG_DAYS (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)
#define UNIX_TO_PG_USECS ((int64) UNIX_TO_PG_DAYS * USECS_PER_DAY)

/* The fast-path kind of a type, in both directions. */
static int
type_kind(Oid typoid)
{
	switch (typoid)
	{
		case BOOLOID:
			return K_BOOL;
		case INT2OID:
			return K_INT2;
		case INT4OID:
			return K_INT4;
		case INT8OID:
			return K_INT8;
		case FLOAT4OID:
			return K_FLOAT4;
		case FLOAT8OID:
			return K_FLOAT8;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return K_TEXT;
		case BYTEAOID:
			return K_BYTEA;
		case DATEOID:
			return K_DATE;
		case TIMESTAMPOID:
			return K_TIMESTAMP;
		case TIMESTAMPTZOID:
			return K_TIMESTAMPTZ;
		case UUIDOID:
			return K_UUID;
		default:
			return K_OTHER;
	}
}

void
chfdw_column_conv_init(ChFdwColumnConv *conv, Oid typoid, int32 typmod,
					   const char *attname, const char *relname)
{
	Oid			infunc;

	if (PyDateTimeAPI == NULL)
	{
		PyDateTime_IMPORT;
		if (PyDateTimeAPI == NULL)
			chfdw_raise_python_error("could not import datetime");
	}

	conv->typoid = typoid;
	conv->typmod = typmod;
	conv->attname = attname;
	conv->relname = relname;
	getTypeInputInfo(typoid, &infunc, &conv->typioparam);
	fmgr_info(infunc, &conv->input_fn);

	conv->kind = type_kind(typoid);
	/* varchar(n) and char(n) need the input function's length check */
	if ((typoid == VARCHAROID && typmod >= 0) || typoid == BPCHAROID)
		conv->kind = K_OTHER;
}

static void
out_of_range(ChFdwColumnConv *conv, PyObject *value)
{
	char	   *s = chfdw_py_str(value);

	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value %s of column \"%s\" is out of range for type %s",
					s, conv->attname, format_type_with_typemod(conv->typoid, conv->typmod))));
}

/* A timestamp from microseconds since PostgreSQL's epoch, checked and
 * rounded to the column's precision like timestamp's input function. */
static Datum
timestamp_datum(Timestamp ts, PyObject *value, ChFdwColumnConv *conv)
{
	if (!IS_VALID_TIMESTAMP(ts))
		out_of_range(conv, value);
	if (conv->typmod >= 0 && conv->typmod < MAX_TIMESTAMP_PRECISION)
		AdjustTimestampForTypmod(&ts, conv->typmod);
	return TimestampGetDatum(ts);
}

static Datum
via_input_function(PyObject *value, ChFdwColumnConv *conv)
{
	char	   *s = chfdw_py_str(value);

	return InputFunctionCall(&conv->input_fn, s, conv->typioparam, conv->typmod);
}

static Datum
text_datum(PyObject *value, ChFdwColumnConv *conv)
{
	Py_ssize_t	len;
	const char *utf8 = PyUnicode_AsUTF8AndSize(value, &len);
	char	   *server;

	if (utf8 == NULL)
	{
		PyErr_Clear();
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("string value is not valid UTF-8")));
	}
	if (memchr(utf8, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("string value of column \"%s\" contains a NUL byte (0x00), which PostgreSQL text cannot hold",
						conv->attname),
				 errhint("Declare the column as bytea, or strip NULs in ClickHouse.")));
	/* Python guarantees valid UTF-8; convert only for non-UTF8 databases. */
	if (GetDatabaseEncoding() == PG_UTF8)
		return PointerGetDatum(cstring_to_text_with_len(utf8, len));
	server = pg_any_to_server(utf8, len, PG_UTF8);
	return PointerGetDatum(cstring_to_text(server));
}

static int64
datetime_usecs(PyObject *value, bool to_utc, ChFdwColumnConv *conv)
{
	int			y = PyDateTime_GET_YEAR(value);
	int			m = PyDateTime_GET_MONTH(value);
	int			d = PyDateTime_GET_DAY(value);
	int64		usecs;

	usecs = (int64) (date2j(y, m, d) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY
		+ ((int64) PyDateTime_DATE_GET_HOUR(value) * MINS_PER_HOUR
		   + PyDateTime_DATE_GET_MINUTE(value)) * USECS_PER_MINUTE
		+ (int64) PyDateTime_DATE_GET_SECOND(value) * USECS_PER_SEC
		+ PyDateTime_DATE_GET_MICROSECOND(value);

	if (to_utc)
	{
		PyObject   *off = PyObject_CallMethod(value, "utcoffset", NULL);

		if (off == NULL)
		{
			PyErr_Clear();
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("could not get the UTC offset of a timestamp value")));
		}
		if (off != Py_None)
			usecs -= ((int64) PyDateTime_DELTA_GET_DAYS(off) * SECS_PER_DAY
					  + PyDateTime_DELTA_GET_SECONDS(off)) * USECS_PER_SEC
				+ PyDateTime_DELTA_GET_MICROSECONDS(off);
		Py_DECREF(off);
	}
	return usecs;
}

Datum
chfdw_py_to_datum(PyObject *value, ChFdwColumnConv *conv, bool *isnull)
{
	*isnull = false;
	if (value == Py_None)
	{
		*isnull = true;
		return (Datum) 0;
	}

	switch (conv->kind)
	{
		case K_INT8:
		case K_INT4:
		case K_INT2:
			if (PyLong_Check(value))
			{
				int			overflow;
				long long	v = PyLong_AsLongLongAndOverflow(value, &overflow);

				if (overflow ||
					(conv->kind == K_INT4 && (v < PG_INT32_MIN || v > PG_INT32_MAX)) ||
					(conv->kind == K_INT2 && (v < PG_INT16_MIN || v > PG_INT16_MAX)))
					out_of_range(conv, value);
				if (conv->kind == K_INT8)
					return Int64GetDatum((int64) v);
				if (conv->kind == K_INT4)
					return Int32GetDatum((int32) v);
				return Int16GetDatum((int16) v);
			}
			break;
		case K_FLOAT8:
			if (PyFloat_Check(value))
				return Float8GetDatum(PyFloat_AS_DOUBLE(value));
			break;
		case K_FLOAT4:
			if (PyFloat_Check(value))
			{
				double		v = PyFloat_AS_DOUBLE(value);
				float4		f = (float4) v;

				if (isinf(f) && !isinf(v))
					out_of_range(conv, value);
				return Float4GetDatum(f);
			}
			break;
		case K_BOOL:
			if (PyBool_Check(value))
				return BoolGetDatum(value == Py_True);
			if (PyLong_Check(value))
			{
				long		v = PyLong_AsLong(value);

				if (v == 0 || v == 1)
					return BoolGetDatum(v == 1);
				PyErr_Clear();
				out_of_range(conv, value);
			}
			break;
		case K_TEXT:
			if (PyUnicode_Check(value))
				return text_datum(value, conv);
			break;
		case K_BYTEA:
			if (PyBytes_Check(value))
			{
				Py_ssize_t	len = PyBytes_GET_SIZE(value);
				bytea	   *b = (bytea *) palloc(len + VARHDRSZ);

				SET_VARSIZE(b, len + VARHDRSZ);
				memcpy(VARDATA(b), PyBytes_AS_STRING(value), len);
				return PointerGetDatum(b);
			}
			break;
		case K_DATE:
			if (PyLong_Check(value))
			{
				int			overflow;
				long long	days = PyLong_AsLongLongAndOverflow(value, &overflow);

				if (overflow || days < -(1LL << 30) || days > (1LL << 30))
					out_of_range(conv, value);
				return DateADTGetDatum((DateADT) (days - UNIX_TO_PG_DAYS));
			}
			if (PyDate_Check(value) && !PyDateTime_Check(value))
				return DateADTGetDatum(date2j(PyDateTime_GET_YEAR(value),
											  PyDateTime_GET_MONTH(value),
											  PyDateTime_GET_DAY(value)) - POSTGRES_EPOCH_JDATE);
			break;
		case K_TIMESTAMP:
		case K_TIMESTAMPTZ:
			if (PyLong_Check(value))
			{
				int			overflow;
				long long	us = PyLong_AsLongLongAndOverflow(value, &overflow);

				if (overflow || us < PG_INT64_MIN / 2 || us > PG_INT64_MAX / 2)
					out_of_range(conv, value);
				return timestamp_datum((Timestamp) (us - UNIX_TO_PG_USECS), value, conv);
			}
			if (PyDateTime_Check(value))
				return timestamp_datum(datetime_usecs(value, conv->kind == K_TIMESTAMPTZ, conv),
									   value, conv);
			break;
		case K_UUID:
			if (!PyUnicode_Check(value))
			{
				PyObject   *b = PyObject_GetAttrString(value, "bytes");

				if (b != NULL && PyBytes_Check(b) && PyBytes_GET_SIZE(b) == UUID_LEN)
				{
					pg_uuid_t  *u = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));

					memcpy(u->data, PyBytes_AS_STRING(b), UUID_LEN);
					Py_DECREF(b);
					return UUIDPGetDatum(u);
				}
				Py_XDECREF(b);
				PyErr_Clear();
			}
			break;
		default:
			break;
	}
	if (PyBytes_Check(value) && conv->kind != K_BYTEA)
	{
		/* bytes into a non-bytea column: decode as UTF-8 text first */
		PyObject   *s = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), NULL);
		Datum		d;

		if (s == NULL)
		{
			PyErr_Clear();
			ereport(ERROR,
					(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
					 errmsg("binary value is not valid UTF-8 text"),
					 errhint("Declare the column as bytea.")));
		}
		d = conv->kind == K_TEXT ? text_datum(s, conv) : via_input_function(s, conv);
		Py_DECREF(s);
		return d;
	}
	return via_input_function(value, conv);
}

/* A parameter value as its text output (the caller sets transmission modes). */
PyObject *
chfdw_datum_to_py_text(Datum value, bool isnull, Oid typoid)
{
	Oid			outfunc;
	bool		isvarlena;
	char	   *s;

	if (isnull)
		Py_RETURN_NONE;
	getTypeOutputInfo(typoid, &outfunc, &isvarlena);
	s = OidOutputFunctionCall(outfunc, value);
	return chfdw_py_text(s);
}

/* ---------- Datums -> Python values (writes) ---------- */

/*
 * The forms ch_fdw/insert.py expects: bool; int (int2/4/8; date: days since
 * 1970-01-01; timestamp/timestamptz: microseconds since 1970-01-01, UTC for
 * timestamptz); float; str (text types); bytes (bytea); anything else
 * (including infinite dates/timestamps) as the output function's text.
 * The caller sets transmission modes when a column needs the output function.
 */
void
chfdw_out_conv_init(ChFdwOutConv *conv, Oid typoid)
{
	Oid			outfunc;
	bool		isvarlena;

	conv->typoid = typoid;
	getTypeOutputInfo(typoid, &outfunc, &isvarlena);
	fmgr_info(outfunc, &conv->output_fn);
	conv->kind = type_kind(typoid);
	if (conv->kind == K_UUID)
		conv->kind = K_OTHER;	/* insert.py takes uuid as text */
}

bool
chfdw_out_conv_needs_modes(ChFdwOutConv *conv)
{
	return conv->kind == K_OTHER || conv->kind == K_DATE ||
		conv->kind == K_TIMESTAMP || conv->kind == K_TIMESTAMPTZ;
}

/* Server-encoded text as a Python str. */
static PyObject *
server_text_to_py(const char *p, int len)
{
	char	   *u;

	if (GetDatabaseEncoding() == PG_UTF8)
		return PyUnicode_DecodeUTF8(p, len, "surrogateescape");
	u = pg_server_to_any(p, len, PG_UTF8);
	return PyUnicode_DecodeUTF8(u, strlen(u), "surrogateescape");
}

static PyObject *
output_text(Datum value, ChFdwOutConv *conv)
{
	char	   *s = OutputFunctionCall(&conv->output_fn, value);

	return server_text_to_py(s, strlen(s));
}

/*
 * A new reference, or NULL with a Python exception set (the caller raises it
 * with chfdw_raise_python_error).  May ereport (detoasting, output
 * functions): call it with no Python frame on the stack, in a short-lived
 * memory context.
 */
PyObject *
chfdw_datum_to_py(Datum value, bool isnull, ChFdwOutConv *conv)
{
	if (isnull)
		Py_RETURN_NONE;
	switch (conv->kind)
	{
		case K_BOOL:
			return PyBool_FromLong(DatumGetBool(value));
		case K_INT2:
			return PyLong_FromLong(DatumGetInt16(value));
		case K_INT4:
			return PyLong_FromLong(DatumGetInt32(value));
		case K_INT8:
			return PyLong_FromLongLong(DatumGetInt64(value));
		case K_FLOAT4:
			return PyFloat_FromDouble((double) DatumGetFloat4(value));
		case K_FLOAT8:
			return PyFloat_FromDouble(DatumGetFloat8(value));
		case K_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				return server_text_to_py(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
		case K_BYTEA:
			{
				bytea	   *b = DatumGetByteaPP(value);

				return PyBytes_FromStringAndSize(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
		case K_DATE:
			{
				DateADT		d = DatumGetDateADT(value);

				if (DATE_NOT_FINITE(d))
					return output_text(value, conv);
				return PyLong_FromLong((long) d + UNIX_TO_PG_DAYS);
			}
		case K_TIMESTAMP:
		case K_TIMESTAMPTZ:
			{
				Timestamp	ts = DatumGetTimestamp(value);

				if (TIMESTAMP_NOT_FINITE(ts) || ts > PG_INT64_MAX - UNIX_TO_PG_USECS)
					return output_text(value, conv);
				return PyLong_FromLongLong(ts + UNIX_TO_PG_USECS);
			}
		default:
			return output_text(value, conv);
	}
}
