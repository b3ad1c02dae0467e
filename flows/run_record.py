"""Which flow run last worked on an output folder, so a kill -9 does not leave a run "Running".

A SIGTERM or Ctrl-C reaches Prefect's engine (`capture_sigterm`), which reports the run Crashed
before the process exits. A kill -9 or an OOM kill gives the process no chance, and the API keeps
the run Running for ever. So a run records itself in `OUT/.flow_run.json` (id, pid, host) when it
starts (OUT may be an fsspec URL: the record goes through `curation.store`); the next run on the
same OUT finds the record, and if that run is still Running while its
process is gone (same host, pid not alive), marks it Crashed through the Prefect client.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from uuid import UUID

from curation import store
from curation.manifest import write_json_atomic

RECORD = ".flow_run.json"
log = logging.getLogger(__name__)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def claim_out_folder(out: str | os.PathLike, flow_run_id: UUID) -> UUID | None:
    """Mark the previous run recorded in `out` Crashed if it died without saying so, then record
    `flow_run_id` (this process). Returns the id of the run marked Crashed, else None."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    path = store.join(out, RECORD)
    crashed = None
    try:
        previous = json.loads(store.read_bytes(*store.resolve(path)))
        previous_id, pid, host = UUID(previous["flow_run_id"]), int(previous["pid"]), previous["host"]
    except FileNotFoundError:
        previous = None
    except (ValueError, KeyError, TypeError) as exc:  # a damaged record only loses this clean-up
        log.warning("ignoring unreadable %s: %s", path, exc)
        previous = None
    if previous is not None and previous_id != flow_run_id and host == socket.gethostname() and _process_gone(pid):
        with get_client(sync_client=True) as client:
            try:
                state = client.read_flow_run(previous_id).state
            except Exception as exc:  # e.g. a run of another Prefect API: nothing to mark here
                log.info("previous run %s of %s not found on this API: %s", previous_id, out, exc)
                state = None
            if state is not None and state.type == StateType.RUNNING:
                client.set_flow_run_state(previous_id, Crashed(
                    message=f"process {pid} ended without reporting (kill -9 or OOM); found by the next run on {out}"),
                    force=True)
                crashed = previous_id
                log.warning("flow run %s (pid %d) died without reporting: marked Crashed", previous_id, pid)
    write_json_atomic({"flow_run_id": str(flow_run_id), "pid": os.getpid(), "host": socket.gethostname()}, path)
    return crashed
