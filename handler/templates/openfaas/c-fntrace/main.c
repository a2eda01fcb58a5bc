/* main.c — the c-fntrace template's entry point (not the user's to edit): registers the
 * user's handle() from function/handler.c as the app's only, hence default, function and
 * hands over to fntrace's runtime, which serves it the OpenFaaS way on :8080 (/_/health,
 * /_/ready, the lock file, timeouts, drain on SIGTERM) and traces it when FNTRACE=1. */
#include <fnhandler.h>
#include <stdio.h>

int handle(const fn_request *req, fn_response *res, void *arg);

int main(int argc, char **argv)
{
    fn_app *app = fn_app_new("function");
    if (!app || fn_app_http(app, "handle", handle, NULL) != 0) {
        fprintf(stderr, "level=error msg=\"cannot set up the function app\"\n");
        fn_app_free(app);
        return 1;
    }
    return fn_app_run(app, argc, argv);
}
