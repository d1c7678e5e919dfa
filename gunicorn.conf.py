"""gunicorn's settings for this application, which gunicorn reads from the directory it starts
in (the repository root: the Procfile, `make bench`, `python -m ops.scaleout`). The command
line still sets the workers and the address (README, "Producción").

The garbage collector: a worker holds a few hundred thousand objects that live as long as it
does (Django, the URLconf, the compiled templates, the translation catalogues). Each full
collection walks them all, about 90 ms on this project's benchmark machine, every few hundred
requests: a request that meets one waits that long. Once the worker has served its first
requests (and so loaded what loads lazily), they are collected once and frozen out of the
collector's sight (`gc.freeze`, as the CPython documentation advises for a process that
forks workers); what requests create afterwards is collected as before.
"""

import gc

WARM_REQUESTS = 20


def post_request(worker, req, environ, resp):
    worker.served = getattr(worker, "served", 0) + 1
    if worker.served == WARM_REQUESTS:
        gc.collect()
        gc.freeze()
