/* intake_fetch — bounded image download with libcurl (intake_fetch.h). */
#include "intake/intake_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct sink {
	uint8_t *p;
	size_t len, cap, max;
	bool too_large;
};

struct fetch_ctx {
	bool allow_private;
	bool refused;
};

int intake_fetch_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void intake_fetch_global_done(void)
{
	curl_global_cleanup();
}

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	if (s->len + n > s->max) {
		s->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (s->len + n > s->cap) {
		size_t nc = s->cap ? s->cap : 64 * 1024;
		while (nc < s->len + n)
			nc *= 2;
		if (nc > s->max)
			nc = s->max;
		uint8_t *np = realloc(s->p, nc);
		if (!np)
			return 0;
		s->p = np;
		s->cap = nc;
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
	return n;
}

bool intake_fetch_addr_private(const void *sa_)
{
	const struct sockaddr *sa = sa_;
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
		       (a >> 16) == 0xA9FE || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8 ||
		       (a >> 22) == (0x64400000u >> 22) || a == 0xFFFFFFFFu || (a >> 28) >= 0xE;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			struct sockaddr_in v4 = {.sin_family = AF_INET};
			memcpy(&v4.sin_addr, a->s6_addr + 12, 4);
			return intake_fetch_addr_private(&v4);
		}
		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
		       IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
		       (a->s6_addr[0] & 0xFE) == 0xFC;
	}
	return true;
}

static curl_socket_t open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct fetch_ctx *c = arg;
	if (!c->allow_private && intake_fetch_addr_private(&addr->addr)) {
		c->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static bool proxy_configured(void)
{
	static const char *const vars[] = {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
					   "http_proxy",  "ALL_PROXY",	 "all_proxy"};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return true;
	}
	return false;
}

int intake_fetch_url(const char *url, const struct intake_fetch_opts *o, uint8_t **ret,
		     size_t *ret_len, char *err, size_t errlen)
{
	struct sink sk = {.max = o->max_bytes};
	/* With a proxy, the socket goes to the proxy and the proxy enforces egress policy. */
	struct fetch_ctx ctx = {.allow_private = o->allow_private || proxy_configured()};
	int rc = -EIO;
	*ret = NULL;
	*ret_len = 0;
	err[0] = '\0';
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "shiren-intake");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sk);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_cb);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &ctx);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK && sk.len > 0) {
		*ret = sk.p;
		*ret_len = sk.len;
		sk.p = NULL;
		rc = 0;
	} else if (cc == CURLE_OK) {
		snprintf(err, errlen, "the URL returned an empty body");
	} else if (sk.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "the image is larger than %zu bytes", o->max_bytes);
		rc = -EFBIG;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "the download took longer than %ld ms", o->timeout_ms);
		rc = -ETIMEDOUT;
	} else if (ctx.refused) {
		snprintf(err, errlen, "the URL resolves to a non-public address");
		rc = -EHOSTUNREACH;
	} else {
		snprintf(err, errlen, "download failed: %s", curl_easy_strerror(cc));
	}
	curl_easy_cleanup(h);
	free(sk.p);
	return rc;
}
