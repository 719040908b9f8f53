/* unit — the in-repo unit test runner: one binary per module, no network.
 * A test is a function; CHECK records a failure and goes on, REQUIRE stops the test.
 * main() is written with UNIT_MAIN(test1, test2, ...). Each binary ends with the line
 * "<name>: N passed, M failed" and exits non-zero on any failure. */
#ifndef SHIREN_TESTS_UNIT_H
#define SHIREN_TESTS_UNIT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_state {
	int failed_checks;
};

static struct unit_state unit_cur;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			unit_cur.failed_checks++;                                                  \
		}                                                                                  \
	} while (0)

#define REQUIRE(cond)                                                                        \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, \
				#cond);                                                      \
			unit_cur.failed_checks++;                                            \
			return;                                                              \
		}                                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                                   \
	do {                                                                              \
		const char *unit_a = (a), *unit_b = (b);                                  \
		if (!unit_a || !unit_b || strcmp(unit_a, unit_b) != 0) {                  \
			fprintf(stderr, "  %s:%d: CHECK_STR(%s, %s): \"%s\" != \"%s\"\n", \
				__FILE__, __LINE__, #a, #b, unit_a ? unit_a : "(null)",   \
				unit_b ? unit_b : "(null)");                              \
			unit_cur.failed_checks++;                                         \
		}                                                                         \
	} while (0)

#define CHECK_INT(a, b)                                                                         \
	do {                                                                                    \
		long long unit_a = (long long)(a), unit_b = (long long)(b);                     \
		if (unit_a != unit_b) {                                                         \
			fprintf(stderr, "  %s:%d: CHECK_INT(%s, %s): %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, unit_a, unit_b);                              \
			unit_cur.failed_checks++;                                               \
		}                                                                               \
	} while (0)

typedef void (*unit_fn)(void);
struct unit_case {
	const char *name;
	unit_fn fn;
};

static inline int unit_run(const char *suite, const struct unit_case *cases, size_t n)
{
	int passed = 0, failed = 0;
	const char *only = getenv("UNIT_ONLY");
	for (size_t i = 0; i < n; i++) {
		if (only && strcmp(only, cases[i].name) != 0)
			continue;
		unit_cur.failed_checks = 0;
		cases[i].fn();
		if (unit_cur.failed_checks) {
			failed++;
			fprintf(stderr, "FAIL %s.%s\n", suite, cases[i].name);
		} else {
			passed++;
		}
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

#define UNIT_CASE(f)  \
	{             \
#f, f \
	}
#define UNIT_MAIN(suite, ...)                                                    \
	int main(void)                                                           \
	{                                                                        \
		static const struct unit_case cases[] = {__VA_ARGS__};           \
		return unit_run(suite, cases, sizeof(cases) / sizeof(cases[0])); \
	}

#endif
