/* handler.c — your function.  handle() is called once per request, concurrently, on a
 * thread of its own; it reads the request and fills in the response (see fnhandler.h in
 * fntrace's handler/ for the whole API: query, headers, JSON bodies, status, errors).
 *
 * The example answers "Hello, NAME!" and, with ?n=N (N <= 40), does some real work,
 * the naive Fibonacci recursion, so that the flame graph of a traced call shows where the
 * time goes: handle -> fib -> fib -> … */
#include <fnhandler.h>
#include <stdlib.h>

static unsigned long fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int handle(const fn_request *req, fn_response *res, void *arg)
{
    (void)arg;
    const char *name = fn_request_query(req, "name");
    const char *n_arg = fn_request_query(req, "n");
    if (!n_arg)
        return fn_response_printf(res, "Hello, %s!\n", name && *name ? name : "World");
    char *end;
    unsigned long n = strtoul(n_arg, &end, 10);
    if (*end || end == n_arg || n > 40)
        return fn_response_error(res, 400, "n must be a whole number from 0 to 40");
    return fn_response_printf(res, "Hello, %s! fib(%lu) = %lu\n",
                              name && *name ? name : "World", n, fib((unsigned)n));
}
