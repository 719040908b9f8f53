/* migrate — numbered SQL files applied once, in order, under an advisory lock (migrate.h).
 * The directory listing is validated before the database is touched; the database state is
 * verified against the files (name and SHA-256) before anything new is applied. */
#include "common/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/pg.h"

#define SHA_HEX_LEN (2 * CRYPTO_SHA256_LEN + 1)

static const char SQL_LOCK[] = "SELECT pg_advisory_lock($1::bigint)";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1::bigint)";
static const char SQL_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
				"version integer PRIMARY KEY CHECK (version > 0),"
				"name text NOT NULL,"
				"checksum text NOT NULL,"
				"applied_at timestamptz NOT NULL DEFAULT now())";
static const char SQL_QUIET[] = "SET LOCAL client_min_messages = warning";
static const char SQL_APPLIED[] =
	"SELECT version, name, checksum FROM schema_migrations ORDER BY version";
static const char SQL_RECORD[] =
	"INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::integer, $2, $3)";

int migrate_parse_name(const char *fname, int *ret_version)
{
	size_t len = strlen(fname);
	size_t digits = 0;
	while (fname[digits] >= '0' && fname[digits] <= '9')
		digits++;
	if (digits < 3 || digits > 6 || fname[digits] != '_' || len >= MIGRATE_NAME_MAX)
		return -EINVAL;
	if (len < digits + 1 + 1 + 4 || strcmp(fname + len - 4, ".sql") != 0)
		return -EINVAL;
	for (size_t i = digits + 1; i < len - 4; i++) {
		char ch = fname[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return -EINVAL;
	}
	int v = 0;
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (fname[i] - '0');
	if (v < 1)
		return -EINVAL;
	*ret_version = v;
	return 0;
}

static int file_cmp(const void *a, const void *b)
{
	const struct migrate_file *x = a, *y = b;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool ends_with_sql(const char *s)
{
	size_t l = strlen(s);
	return l >= 4 && strcmp(s + l - 4, ".sql") == 0;
}

/* The numbering must be exactly 1..n once sorted. */
static int check_numbering(const struct migrate_file *f, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && f[i].version == f[i - 1].version) {
			snprintf(err, errlen, "migrations %s and %s have the same number %d",
				 f[i - 1].name, f[i].name, f[i].version);
			return -EINVAL;
		}
		if (f[i].version != (int)i + 1) {
			snprintf(err, errlen,
				 "migration numbering has a gap: %s follows %s (expected number "
				 "%zu)",
				 f[i].name, i ? f[i - 1].name : "nothing", i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

int migrate_scan(const char *dir, struct migrate_file **ret_files, size_t *ret_n, char *err,
		 size_t errlen)
{
	struct migrate_file *files = NULL;
	size_t n = 0;
	int rc = 0;
	DIR *d = opendir(dir);
	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "cannot open migration directory %s: %s", dir,
			 strerror(errno));
		return rc == -ENOENT || rc == -ENOTDIR ? -ENOENT : rc;
	}
	files = calloc(MIGRATE_MAX_FILES, sizeof(*files));
	if (!files) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!ends_with_sql(de->d_name))
			continue;
		if (n == MIGRATE_MAX_FILES) {
			snprintf(err, errlen, "%s holds more than %d migrations", dir,
				 MIGRATE_MAX_FILES);
			rc = -EINVAL;
			goto out;
		}
		if (migrate_parse_name(de->d_name, &files[n].version) < 0) {
			snprintf(err, errlen,
				 "malformed migration file name %s (expected NNN_name.sql with "
				 "NNN >= 001 and name in [a-z0-9_])",
				 de->d_name);
			rc = -EINVAL;
			goto out;
		}
		/* migrate_parse_name bounded the length below MIGRATE_NAME_MAX. */
		memcpy(files[n].name, de->d_name, strlen(de->d_name) + 1);
		n++;
	}
	qsort(files, n, sizeof(*files), file_cmp);
	rc = check_numbering(files, n, err, errlen);
out:
	closedir(d);
	if (rc < 0 || n == 0) {
		free(files);
		files = NULL;
	}
	if (rc == 0) {
		*ret_files = files;
		*ret_n = n;
	}
	return rc;
}

/* Read a whole migration into a NUL-terminated heap buffer and hash it. */
static int read_file(const char *dir, const char *name, char **ret_body, char hex[SHA_HEX_LEN],
		     char *err, size_t errlen)
{
	char path[4096];
	int rc = 0;
	char *body = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", name);
		return -EINVAL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MIGRATE_MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s is not a regular file of at most %d bytes", path,
			 MIGRATE_MAX_FILE_BYTES);
		rc = -EINVAL;
		goto out;
	}
	size_t size = (size_t)st.st_size, got = 0;
	body = malloc(size + 1);
	if (!body) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (got < size) {
		ssize_t r = read(fd, body + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, "cannot read %s: %s", path,
				 r < 0 ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		got += (size_t)r;
	}
	body[size] = '\0';
	if (memchr(body, '\0', size)) {
		snprintf(err, errlen, "%s contains a NUL byte", path);
		rc = -EINVAL;
		goto out;
	}
	uint8_t digest[CRYPTO_SHA256_LEN];
	rc = crypto_hash(CRYPTO_HASH_SHA256, body, size, digest);
	if (rc < 0) {
		snprintf(err, errlen, "cannot hash %s", path);
		goto out;
	}
	crypto_hex(digest, sizeof(digest), hex);
	*ret_body = body;
	body = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(body);
	return rc;
}

static int hash_file(const char *dir, const char *name, char hex[SHA_HEX_LEN], char *err,
		     size_t errlen)
{
	char *body = NULL;
	int rc = read_file(dir, name, &body, hex, err, errlen);
	free(body);
	return rc;
}

/* Compare what the database recorded with the files; mark the applied ones. */
static int verify_applied(PGconn *c, const char *dir, const struct migrate_file *f, size_t n,
			  bool *applied, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int rc = pg_exec(c, SQL_APPLIED, 0, NULL, &r, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		long v = strtol(PQgetvalue(r, i, 0), NULL, 10);
		const char *name = PQgetvalue(r, i, 1), *sum = PQgetvalue(r, i, 2);
		if (v < 1 || (size_t)v > n) {
			snprintf(err, errlen,
				 "the database has migration %s applied, which is not in %s: the "
				 "database is newer than these files",
				 name, dir);
			rc = -EBADMSG;
			break;
		}
		const struct migrate_file *mf = &f[v - 1];
		if (strcmp(mf->name, name) != 0) {
			snprintf(err, errlen,
				 "migration %ld was applied as %s but the file is now named %s; "
				 "applied migrations must not be renamed",
				 v, name, mf->name);
			rc = -EBADMSG;
			break;
		}
		char hex[SHA_HEX_LEN];
		rc = hash_file(dir, mf->name, hex, err, errlen);
		if (rc == 0 && strcmp(hex, sum) != 0) {
			snprintf(err, errlen,
				 "%s was changed after it was applied (applied sha256 %.12s…, file "
				 "sha256 %.12s…); never edit an applied migration, add a new one",
				 mf->name, sum, hex);
			rc = -EBADMSG;
		}
		applied[v - 1] = true;
	}
	PQclear(r);
	return rc;
}

/* Line number (1-based) of the 1-based character position `pos` in `body` (UTF-8). */
static long line_of(const char *body, long pos)
{
	long line = 1, chars = 0;
	for (const char *p = body; *p && chars < pos - 1; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue;
		chars++;
		if (*p == '\n')
			line++;
	}
	return line;
}

static int exec_body(PGconn *c, const char *fname, const char *body, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, body);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		PQclear(r);
		return 0;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg || !*msg)
		msg = PQerrorMessage(c);
	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
		msg = "COPY is not supported in migrations";
	char where[48] = "";
	if (pos)
		snprintf(where, sizeof(where), " (line %ld)", line_of(body, strtol(pos, NULL, 10)));
	snprintf(err, errlen, "%s%s: [%s] %s", fname, where, state ? state : "08006", msg);
	size_t l = strlen(err);
	while (l && (err[l - 1] == '\n' || err[l - 1] == ' '))
		err[--l] = '\0';
	PQclear(r);
	return PQstatus(c) == CONNECTION_BAD ? -ECONNRESET : -EIO;
}

static int apply_one(PGconn *c, const char *dir, const struct migrate_file *mf, char *err,
		     size_t errlen)
{
	char *body = NULL;
	char hex[SHA_HEX_LEN], ver[16];
	int rc = read_file(dir, mf->name, &body, hex, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(ver, sizeof(ver), "%d", mf->version);
	const char *params[] = {ver, mf->name, hex};
	rc = pg_begin(c, err, errlen);
	if (rc < 0)
		goto out;
	rc = pg_exec(c, SQL_QUIET, 0, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = exec_body(c, mf->name, body, err, errlen);
	if (rc == 0)
		rc = pg_exec(c, SQL_RECORD, 3, params, NULL, err, errlen);
	if (rc == 0)
		rc = pg_commit(c, err, errlen);
	if (rc < 0)
		pg_rollback(c);
out:
	free(body);
	return rc;
}

/* Notices such as "relation already exists, skipping" are not the caller's business: every
 * transaction here runs with SET LOCAL client_min_messages = warning. */
static int ensure_table(PGconn *c, char *err, size_t errlen)
{
	int rc = pg_begin(c, err, errlen);
	if (rc < 0)
		return rc;
	rc = pg_exec(c, SQL_QUIET, 0, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = pg_exec(c, SQL_TABLE, 0, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = pg_commit(c, err, errlen);
	if (rc < 0)
		pg_rollback(c);
	return rc;
}

static int apply_locked(PGconn *c, const char *dir, const struct migrate_file *f, size_t n,
			int *applied_count, char *err, size_t errlen)
{
	bool *applied = calloc(n ? n : 1, sizeof(bool));
	if (!applied) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = ensure_table(c, err, errlen);
	if (rc == 0)
		rc = verify_applied(c, dir, f, n, applied, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (applied[i])
			continue;
		for (size_t j = i + 1; j < n; j++) {
			if (applied[j]) {
				snprintf(err, errlen,
					 "%s is pending but the later %s is already applied; "
					 "refusing to apply out of order",
					 f[i].name, f[j].name);
				rc = -EBADMSG;
				goto out;
			}
		}
		rc = apply_one(c, dir, &f[i], err, errlen);
		if (rc == 0)
			(*applied_count)++;
	}
out:
	free(applied);
	return rc;
}

int migrate_apply(PGconn *c, const char *dir, int *ret_applied, char *err, size_t errlen)
{
	struct migrate_file *files = NULL;
	size_t n = 0;
	int count = 0;
	char key[24];
	snprintf(key, sizeof(key), "%lld", MIGRATE_LOCK_KEY);
	const char *params[] = {key};

	int rc = migrate_scan(dir, &files, &n, err, errlen);
	if (rc < 0)
		goto out;
	rc = pg_exec(c, SQL_LOCK, 1, params, NULL, err, errlen);
	if (rc == 0) {
		rc = apply_locked(c, dir, files, n, &count, err, errlen);
		if (PQstatus(c) == CONNECTION_OK) {
			char uerr[256];
			int urc = pg_exec(c, SQL_UNLOCK, 1, params, NULL, uerr, sizeof(uerr));
			if (urc < 0 && rc == 0) {
				snprintf(err, errlen, "releasing the migration lock: %s", uerr);
				rc = urc;
			}
		}
	}
out:
	free(files);
	if (ret_applied)
		*ret_applied = count;
	return rc;
}
