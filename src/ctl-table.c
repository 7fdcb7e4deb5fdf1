/* ctl-table.c — output helpers of pcapfsctl: aligned tables for people, JSON for scripts,
 * and human units. */
#include <inttypes.h>
#include <string.h>

#include "ctl.h"
#include "window.h"

struct table {
	size_t n_cols;
	char **head;
	char ***rows;
	bool **numeric;
	size_t n_rows, cap_rows;
};

struct table *table_new(const char *const *columns, size_t n_columns)
{
	struct table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->n_cols = n_columns;
	t->head = calloc(n_columns, sizeof(char *));
	if (!t->head) {
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < n_columns; i++)
		t->head[i] = strdup(columns[i]);
	return t;
}

int table_add(struct table *t, const char *const *cells, const bool *numeric)
{
	if (t->n_rows == t->cap_rows) {
		size_t nc = t->cap_rows ? t->cap_rows * 2 : 16;
		char ***nr = realloc(t->rows, nc * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		t->rows = nr;
		bool **nn = realloc(t->numeric, nc * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		t->numeric = nn;
		t->cap_rows = nc;
	}
	char **row = calloc(t->n_cols, sizeof(char *));
	bool *num = calloc(t->n_cols, sizeof(bool));
	if (!row || !num) {
		free(row);
		free(num);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_cols; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "");
		num[i] = numeric && numeric[i];
	}
	t->rows[t->n_rows] = row;
	t->numeric[t->n_rows] = num;
	t->n_rows++;
	return 0;
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Display width of a UTF-8 string: code points, not bytes. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void table_print(struct table *t, FILE *f, bool json)
{
	if (json) {
		fputc('[', f);
		for (size_t r = 0; r < t->n_rows; r++) {
			fputs(r ? ",\n {" : "\n {", f);
			for (size_t c = 0; c < t->n_cols; c++) {
				if (c)
					fputs(", ", f);
				json_string(f, t->head[c]);
				fputs(": ", f);
				if (t->numeric[r][c] && t->rows[r][c][0])
					fputs(t->rows[r][c], f);
				else
					json_string(f, t->rows[r][c]);
			}
			fputc('}', f);
		}
		fputs(t->n_rows ? "\n]\n" : "]\n", f);
		return;
	}
	size_t *w = calloc(t->n_cols, sizeof(size_t));
	if (!w)
		return;
	for (size_t c = 0; c < t->n_cols; c++) {
		w[c] = width(t->head[c]);
		for (size_t r = 0; r < t->n_rows; r++)
			w[c] = MAX(w[c], width(t->rows[r][c]));
	}
	for (size_t r = 0; r <= t->n_rows; r++) {
		char **row = r == 0 ? t->head : t->rows[r - 1];
		for (size_t c = 0; c < t->n_cols; c++) {
			bool right = r > 0 && t->numeric[r - 1][c];
			size_t pad = w[c] - width(row[c]);
			bool last = c + 1 == t->n_cols;
			if (right)
				fprintf(f, "%*s%s", (int)pad, "", row[c]);
			else
				fprintf(f, "%s%*s", row[c], last ? 0 : (int)pad, "");
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
		free(t->numeric[r]);
	}
	for (size_t c = 0; c < t->n_cols; c++)
		free(t->head[c]);
	free(t->head);
	free(t->rows);
	free(t->numeric);
	free(t);
}

void fmt_bytes(uint64_t b, char *buf, size_t size)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	if (b < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", b);
		return;
	}
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ELEMENTSOF(unit)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, unit[u]);
}

void fmt_count(uint64_t n, char *buf, size_t size)
{
	char raw[32];
	snprintf(raw, sizeof(raw), "%" PRIu64, n);
	size_t len = strlen(raw), o = 0;
	for (size_t i = 0; i < len && o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = 0;
}

void fmt_time(int64_t ns, char *buf, size_t size)
{
	if (ns == 0 || window_format_time_rfc3339(ns, buf, size) < 0)
		snprintf(buf, size, "-");
}

void fmt_interval(int64_t from, int64_t until, char *buf, size_t size)
{
	char a[WINDOW_TIME_BUF + 8], b[WINDOW_TIME_BUF + 8];
	if (from <= 0)
		snprintf(a, sizeof(a), "always");
	else
		fmt_time(from, a, sizeof(a));
	if (until == TIME_INFINITY)
		snprintf(b, sizeof(b), "forever");
	else
		fmt_time(until, b, sizeof(b));
	snprintf(buf, size, "%s .. %s", a, b);
}
