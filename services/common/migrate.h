/* migrate — applies the numbered SQL migrations in a directory (deploy/sql/NNN_name.sql), each
 * exactly once, in order, one transaction per file, under a session advisory lock so that
 * concurrent runners (shirenctl, services started together) serialise. Blocking libpq: for the
 * CLI and worker threads only. Library code: no logging, no exit; errors go into `err`. */
#ifndef SHIREN_COMMON_MIGRATE_H
#define SHIREN_COMMON_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The advisory lock key every runner takes: the bytes "shiren.m" as a big-endian int64. */
#define MIGRATE_LOCK_KEY 8316012651988528749LL
/* Bounds: more files, or a larger file, is refused as malformed. */
#define MIGRATE_MAX_FILES      999
#define MIGRATE_MAX_FILE_BYTES (4 * 1024 * 1024)
#define MIGRATE_NAME_MAX       128

/* One migration file found on disk. */
struct migrate_file {
	int version;		     /* NNN */
	char name[MIGRATE_NAME_MAX]; /* file name, e.g. "001_core.sql" */
};

/* Parse a migration file name: three or more digits (a version >= 1), '_', one or more of
 * [a-z0-9_], ".sql". 0 with *ret_version set, or -EINVAL. Pure. */
int migrate_parse_name(const char *fname, int *ret_version) __attribute__((warn_unused_result));

/* List the *.sql files of `dir`, validate their names and sort them by version. The versions
 * must be exactly 1..n: a gap, a duplicate version or a malformed *.sql name is refused.
 * Files not ending in ".sql" are ignored. *ret_files (malloc'd, caller frees; NULL when n = 0)
 * and *ret_n on success. 0, -ENOENT (no such directory), -EINVAL (with `err` naming the file),
 * -ENOMEM. */
int migrate_scan(const char *dir, struct migrate_file **ret_files, size_t *ret_n, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/* Apply the pending migrations of `dir` on `c`. Takes pg_advisory_lock(MIGRATE_LOCK_KEY),
 * creates schema_migrations if missing, verifies every applied migration against its file
 * (same name, same SHA-256), then runs each pending file with PQexec inside its own
 * transaction together with its schema_migrations row, and releases the lock. Files must not
 * contain transaction control (BEGIN/COMMIT) or statements that cannot run in a transaction.
 * *ret_applied (may be NULL) receives how many files this call applied, also on failure.
 * Returns 0, or:
 *   -ENOENT      `dir` does not exist;
 *   -EINVAL      a malformed name, a gap or duplicate in the numbering, an oversized file;
 *   -EBADMSG     an applied file changed (checksum or name), or the database has a version
 *                that no file provides (it is newer than this tree);
 *   -EIO         a statement failed (`err` carries the file name and "[SQLSTATE] message");
 *   -ECONNRESET  the connection was lost;
 *   -ENOMEM.
 * A failed file is rolled back entirely; the files before it stay applied. */
int migrate_apply(PGconn *c, const char *dir, int *ret_applied, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
