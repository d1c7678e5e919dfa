"""gunicorn.conf.py: a worker freezes its long-lived objects out of the collector once warm."""

import gc
import runpy
import types
from pathlib import Path

CONF = Path(__file__).resolve().parents[3] / "gunicorn.conf.py"


def test_a_worker_freezes_once_after_its_first_requests():
    conf = runpy.run_path(str(CONF))
    worker = types.SimpleNamespace()
    gc.unfreeze()
    try:
        for _ in range(conf["WARM_REQUESTS"] - 1):
            conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() == 0
        conf["post_request"](worker, None, {}, None)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        conf["post_request"](worker, None, {}, None)
        assert gc.get_freeze_count() == frozen  # once, not at every request
    finally:
        gc.unfreeze()
