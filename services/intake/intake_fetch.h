/* intake_fetch — downloads a FaceContrastPictureUrl with libcurl: http(s) only (redirects too),
 * a total time limit (API.md: 3 s, Code 422) and a size limit (1 MB, Code 421), the proxy from
 * the environment (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY, libcurl's rules). Without a
 * proxy, addresses that are not public (loopback, private, link-local, CGNAT, ULA) are refused
 * unless allow_private is set: the URL comes from the customer, the server must not become a
 * way into its own network. Blocking: run it on the worker pool, never on the loop. */
#ifndef SHIREN_INTAKE_FETCH_H
#define SHIREN_INTAKE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct intake_fetch_opts {
	long timeout_ms;
	size_t max_bytes;
	bool allow_private;
};

/* Once per process, before any thread calls intake_fetch_url. 0 or -EIO. */
int intake_fetch_global_init(void) __attribute__((warn_unused_result));
void intake_fetch_global_done(void);

/* 0 with a heap buffer in *ret (caller frees); -ETIMEDOUT (time limit), -EFBIG (size limit),
 * -EHOSTUNREACH (non-public address refused), -EIO (anything else: DNS, connect, TLS, HTTP
 * status >= 400, empty body); `err` gets one sentence for the log. */
int intake_fetch_url(const char *url, const struct intake_fetch_opts *o, uint8_t **ret,
		     size_t *ret_len, char *err, size_t errlen) __attribute__((warn_unused_result));

/* True for addresses that are not globally routable (exposed for tests). `sa` is a sockaddr. */
bool intake_fetch_addr_private(const void *sa);

#endif
