"""The embedded ("ephemeral") Prefect API that a flow started without a server runs in a child process.

Two fixes for a loaded machine, applied when `flows` is imported:
- a start-up budget of 120 s instead of Prefect's 20 s (`PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`,
  unless the user set it), and a time-out error that names that setting;
- the API child gets a parent-death signal (Linux `PR_SET_PDEATHSIG`), so a kill -9 or an OOM kill of
  the flow process no longer leaves an orphaned server (~200 MB, listening).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
import types

STARTUP_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
STARTUP_TIMEOUT_S = "120"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _popen_dying_with_parent(*args, **kwargs) -> subprocess.Popen:
    """Popen with the parent-death signal, only from the main thread: Linux sends that signal when
    the *thread* that forked exits, so a server started from a short-lived thread (the demo starts
    the API in the background while it renders) would be killed as soon as that thread ends."""
    if threading.current_thread() is threading.main_thread():
        kwargs.setdefault("preexec_fn", _die_with_parent)
    return subprocess.Popen(*args, **kwargs)


def install() -> None:
    """Set the start-up budget and patch Prefect's ephemeral server launcher (idempotent)."""
    os.environ.setdefault(STARTUP_SETTING, STARTUP_TIMEOUT_S)
    from prefect.server.api import server

    if getattr(server.SubprocessASGIServer, "_asva_patched", False) or not sys.platform.startswith("linux"):
        return
    # Only this module's view of `subprocess` changes: its Popen adds the parent-death signal.
    server.subprocess = types.SimpleNamespace(**{**vars(subprocess), "Popen": _popen_dying_with_parent})
    start = server.SubprocessASGIServer.start

    @functools.wraps(start)
    def start_naming_the_setting(self, timeout=None):
        try:
            return start(self, timeout)
        except RuntimeError as exc:
            if "Timed out" in str(exc):
                raise RuntimeError(f"{exc} (raise {STARTUP_SETTING}, now {os.environ.get(STARTUP_SETTING)} s, "
                                   "or run a Prefect server and set PREFECT_API_URL)") from exc
            raise

    server.SubprocessASGIServer.start = start_naming_the_setting
    server.SubprocessASGIServer._asva_patched = True
