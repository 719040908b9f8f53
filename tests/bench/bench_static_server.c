/* bench_static_server — the peer for the intake load benchmark: a libevent evhttp server on
 * the same HTTP stack as intake that answers every request with a fixed JSON body of the size
 * of a DescribeFaceVerify reply. Measures what the box and the HTTP layer alone can do.
 *   bench_static_server 127.0.0.1:8990        (runs until SIGTERM/SIGINT) */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char body[] =
	"{\"RequestId\":\"8FC3D6AC-9FED-4311-8DA7-C4BF47D9F260\",\"Code\":\"200\","
	"\"Message\":\"success\",\"ResultObject\":{\"Passed\":\"T\",\"SubCode\":\"200\","
	"\"MaterialInfo\":\"{\\\\\"verifyScore\\\\\":97.5}\"}}";

static void any_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evhttp_request_get_output_buffer(req);
	evbuffer_add_reference(b, body, sizeof(body) - 1, NULL, NULL);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json;charset=utf-8");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	char host[64] = "127.0.0.1";
	int port = 8990;
	if (argc > 1) {
		const char *colon = strrchr(argv[1], ':');
		if (!colon || (size_t)(colon - argv[1]) >= sizeof(host))
			return 64;
		memcpy(host, argv[1], (size_t)(colon - argv[1]));
		host[colon - argv[1]] = '\0';
		port = (int)strtol(colon + 1, NULL, 10);
	}
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	evhttp_set_gencb(http, any_cb, NULL);
	if (!evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port)) {
		fprintf(stderr, "cannot bind %s:%d\n", host, port);
		return 1;
	}
	struct event *t = evsignal_new(base, SIGTERM, stop_cb, base);
	struct event *i = evsignal_new(base, SIGINT, stop_cb, base);
	event_add(t, NULL);
	event_add(i, NULL);
	event_base_dispatch(base);
	event_free(t);
	event_free(i);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
