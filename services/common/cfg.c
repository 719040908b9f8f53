/* cfg — environment variables into a typed config struct, with bounds and secrets (cfg.h). */
#include "common/cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/log.h"

#define CFG_SECRET_FILE_MAX 65536

static char *read_secret_file(const char *path, char *err, size_t errlen, const char *name)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s_FILE: cannot open %s: %s", name, path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(CFG_SECRET_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s_FILE: out of memory", name);
		return NULL;
	}
	size_t n = fread(buf, 1, CFG_SECRET_FILE_MAX + 1, f);
	fclose(f);
	if (n > CFG_SECRET_FILE_MAX) {
		free(buf);
		snprintf(err, errlen, "%s_FILE: %s is larger than %d bytes", name, path,
			 CFG_SECRET_FILE_MAX);
		return NULL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return buf;
}

static int parse_int(const char *s, int64_t *ret)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_split_addr(const char *addr, char *host, size_t cap, int *ret_port)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr)
		return -EINVAL;
	size_t hl = (size_t)(colon - addr);
	if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl + 1 > cap)
		return -EINVAL;
	int64_t port;
	if (parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	*ret_port = (int)port;
	return 0;
}

static bool enum_has(const char *choices, const char *v)
{
	size_t vl = strlen(v);
	const char *p = choices;
	while (*p) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		if (l == vl && strncmp(p, v, l) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

static int load_one(const struct cfg_item *it, void *out, char *err, size_t errlen)
{
	char *owned = NULL;
	const char *v = getenv(it->name);
	if (it->secret) {
		char fname[128];
		snprintf(fname, sizeof(fname), "%s_FILE", it->name);
		const char *path = getenv(fname);
		if (path && *path) {
			if (v && *v) {
				snprintf(err, errlen, "%s and %s are both set; set only one",
					 it->name, fname);
				return -EINVAL;
			}
			owned = read_secret_file(path, err, errlen, it->name);
			if (!owned)
				return -EINVAL;
			v = owned;
		}
	}
	if (v && *v == '\0')
		v = NULL;
	if (!v)
		v = it->def;
	if (!v) {
		if (it->required) {
			snprintf(err, errlen, "%s is required but not set%s", it->name,
				 it->secret ? " (nor " : "");
			if (it->secret) {
				size_t l = strlen(err);
				snprintf(err + l, errlen - l, "%s_FILE)", it->name);
			}
			return -EINVAL;
		}
		return 0;
	}

	int rc = 0;
	char *field = (char *)out + it->offset;
	switch (it->type) {
	case CFG_INT: {
		int64_t x;
		if (parse_int(v, &x) < 0) {
			snprintf(err, errlen, "%s=%s is not an integer", it->name,
				 it->secret ? "<redacted>" : v);
			rc = -EINVAL;
		} else if (x < it->min || x > it->max) {
			snprintf(err, errlen, "%s=%lld is out of range [%lld, %lld]", it->name,
				 (long long)x, (long long)it->min, (long long)it->max);
			rc = -EINVAL;
		} else {
			memcpy(field, &x, sizeof(x));
		}
		break;
	}
	case CFG_BOOL: {
		bool b;
		if (parse_bool(v, &b) < 0) {
			snprintf(err, errlen, "%s=%s is not a boolean (true/false)", it->name, v);
			rc = -EINVAL;
		} else {
			memcpy(field, &b, sizeof(b));
		}
		break;
	}
	case CFG_ADDR:
	case CFG_ENUM:
	case CFG_STR: {
		char host[256];
		int port;
		if (it->type == CFG_ADDR && cfg_split_addr(v, host, sizeof(host), &port) < 0) {
			snprintf(err, errlen, "%s=%s is not host:port", it->name, v);
			rc = -EINVAL;
			break;
		}
		if (it->type == CFG_ENUM && !enum_has(it->choices, v)) {
			snprintf(err, errlen, "%s=%s is not one of %s", it->name, v, it->choices);
			rc = -EINVAL;
			break;
		}
		char *copy = strdup(v);
		if (!copy) {
			snprintf(err, errlen, "%s: out of memory", it->name);
			rc = -ENOMEM;
			break;
		}
		char *old;
		memcpy(&old, field, sizeof(old));
		free(old);
		memcpy(field, &copy, sizeof(copy));
		break;
	}
	}
	if (owned) {
		memset(owned, 0, strlen(owned));
		free(owned);
	}
	return rc;
}

int cfg_load(const struct cfg_item *items, size_t n, void *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int rc = load_one(&items[i], out, err, errlen);
		if (rc < 0)
			return -EINVAL;
	}
	return 0;
}

void cfg_free(const struct cfg_item *items, size_t n, void *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < n; i++) {
		if (items[i].type == CFG_STR || items[i].type == CFG_ADDR ||
		    items[i].type == CFG_ENUM) {
			char *p;
			memcpy(&p, (char *)out + items[i].offset, sizeof(p));
			if (p && items[i].secret)
				memset(p, 0, strlen(p));
			free(p);
			p = NULL;
			memcpy((char *)out + items[i].offset, &p, sizeof(p));
		}
	}
}

void cfg_log_effective(struct log *lg, const struct cfg_item *items, size_t n, const void *cfg)
{
	char buf[3072];
	struct json_writer w;
	json_writer_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	for (size_t i = 0; i < n; i++) {
		const char *field = (const char *)cfg + items[i].offset;
		if (items[i].secret) {
			json_key_str(&w, items[i].name, "<redacted>");
			continue;
		}
		switch (items[i].type) {
		case CFG_INT: {
			int64_t x;
			memcpy(&x, field, sizeof(x));
			json_key_int(&w, items[i].name, x);
			break;
		}
		case CFG_BOOL: {
			bool b;
			memcpy(&b, field, sizeof(b));
			json_key_bool(&w, items[i].name, b);
			break;
		}
		default: {
			const char *p;
			memcpy(&p, field, sizeof(p));
			json_key_str(&w, items[i].name, p);
		}
		}
	}
	json_obj_end(&w);
	log_info(lg, "effective configuration",
		 LF_J("config", json_writer_truncated(&w) ? "null" : buf), LOG_END);
}

/* Markdown table cells: a literal '|' must be escaped. */
static void md_cell(const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			putchar('\\');
		putchar(*s);
	}
}

void cfg_print_markdown(const struct cfg_item *items, size_t n)
{
	static const char *const tn[] = {"string", "integer", "boolean", "host:port", "enum"};
	printf("| variable | type | default | meaning |\n|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct cfg_item *it = &items[i];
		char type[160];
		if (it->type == CFG_INT)
			snprintf(type, sizeof(type), "integer %lld..%lld", (long long)it->min,
				 (long long)it->max);
		else if (it->type == CFG_ENUM)
			snprintf(type, sizeof(type), "%s", it->choices);
		else
			snprintf(type, sizeof(type), "%s", tn[it->type]);
		printf("| `%s`%s | ", it->name, it->secret ? " (or `_FILE`)" : "");
		md_cell(type);
		printf(" | ");
		md_cell(it->def ? it->def : (it->required ? "**required**" : "—"));
		printf(" | ");
		md_cell(it->help);
		printf("%s |\n", it->secret ? " Secret." : "");
	}
}
