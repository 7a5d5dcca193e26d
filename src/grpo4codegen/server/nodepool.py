"""One sandbox pool per node, shared by the node's training ranks.

Under `accelerate launch` / `torchrun` every rank of a node would otherwise build its own pool of one
worker per core: N ranks, N times more sandboxed processes than cores. Here the node's first local
rank (LOCAL_RANK 0) starts one execution server (`create_app`, the same FastAPI service as
`grpo4codegen serve`) on a Unix socket in a private directory, sized by `sizing.pool_size` (the
node's cores minus a reserve for the trainers); every rank, the host included, sends its batches to
it through `RemoteExecutor("unix:...")`, so one rank's batch spreads over the whole node's pool.

The server is a child process of the host rank: it starts once per node, and it ends with the host
(at the host's exit, or when it sees the host gone). A rank that cannot reach it gets the client's
usual retries, then infrastructure failures (None rewards, never 0).

The socket path is the same for the ranks of one launch and differs between launches: it is derived
from the launcher's process (the ranks' common parent) and MASTER_PORT, or set explicitly with
$GRPO4CODEGEN_NODE_SOCKET.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

import httpx

from ..sandbox.sizing import pool_size
from .client import RemoteExecutor

log = logging.getLogger(__name__)
SOCKET_ENV = "GRPO4CODEGEN_NODE_SOCKET"
START_TIMEOUT_S = 120.0


def local_rank() -> int:
    try:
        return int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        return 0


def socket_path() -> str:
    """Where this launch's node pool listens: $GRPO4CODEGEN_NODE_SOCKET, or a path in a directory
    only this user can enter, named after the launcher process and MASTER_PORT."""
    explicit = os.environ.get(SOCKET_ENV)
    if explicit:
        return explicit
    directory = os.path.join(tempfile.gettempdir(), f"grpo4codegen-{os.getuid()}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{directory} is not a private directory of this user; set ${SOCKET_ENV}")
    return os.path.join(directory, f"node-{os.getppid()}-{os.environ.get('MASTER_PORT', '0')}.sock")


class NodePool(RemoteExecutor):
    """The client of the node's shared pool; on the host rank it also owns the server process."""

    def __init__(
        self, path: str, workers: int | None = None, host: bool | None = None, require_isolation: bool = False
    ) -> None:
        super().__init__(f"unix:{path}", chunk_size=8, parallel=8)
        self.path = path
        self.server: subprocess.Popen | None = None
        if host if host is not None else local_rank() == 0:
            self.workers = workers or pool_size()
            self.server = _start_server(path, self.workers, require_isolation)
            self._wait_ready()

    def _wait_ready(self) -> None:
        endpoint = self.endpoints[0]
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.server is not None
            if self.server.poll() is not None:
                raise RuntimeError(f"the node pool server exited with status {self.server.returncode}")
            try:
                response = endpoint.http.get(endpoint.base + "/ready", timeout=2.0)  # type: ignore[union-attr]
                if response.status_code == 200:
                    log.info("node pool: %d sandbox workers on %s", self.workers, self.path)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"the node pool server on {self.path} was not ready within {START_TIMEOUT_S:.0f} s"
        )

    def close(self) -> None:
        super().close()
        server, self.server = self.server, None
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if server is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _start_server(path: str, workers: int, require_isolation: bool) -> subprocess.Popen:
    try:
        os.unlink(path)  # a stale socket from a crashed launch with the same name
    except FileNotFoundError:
        pass
    cmd = [sys.executable, "-m", "grpo4codegen.server.nodepool", "--uds", path]
    cmd += ["--sandbox-workers", str(workers), "--host-pid", str(os.getpid())]
    if require_isolation:
        cmd.append("--require-isolation")
    # its own process group: a Ctrl-C reaches the ranks, which stop it; it also stops on its own
    # when the host is gone (killed without a chance to clean up)
    return subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL)


_node: NodePool | None = None
_node_lock = threading.Lock()


def node_pool(workers: int | None = None, require_isolation: bool = False) -> NodePool:
    """This process's client of the node pool (starting the server on the host rank), closed at exit."""
    global _node
    with _node_lock:
        if _node is None:
            _node = NodePool(socket_path(), workers, require_isolation=require_isolation)
            atexit.register(_node.close)
        return _node


# -- the server process ---------------------------------------------------------------------------
def _watch_host(pid: int) -> None:
    """Stop this server (gracefully, as on SIGTERM) once the host rank is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != pid:  # the host died: this process was handed to another parent
            os.kill(os.getpid(), signal.SIGTERM)
            return


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from .app import ServerSettings, create_app

    parser = argparse.ArgumentParser(prog="python -m grpo4codegen.server.nodepool")
    parser.add_argument("--uds", required=True, help="Unix socket to listen on")
    parser.add_argument("--sandbox-workers", type=int, default=None)
    parser.add_argument("--host-pid", type=int, default=None, help="stop when this process is gone")
    parser.add_argument("--require-isolation", action="store_true", help="refuse to run without every layer")
    args = parser.parse_args(argv)
    settings = ServerSettings(
        sandbox_workers=args.sandbox_workers or pool_size(),
        max_queue=1 << 16,  # every rank's whole batch may wait here; the pool works through them
        shutdown_grace_s=5.0,
    )
    settings.require_isolation = args.require_isolation
    if args.host_pid:
        threading.Thread(target=_watch_host, args=(args.host_pid,), daemon=True).start()
    config = uvicorn.Config(
        create_app(settings), uds=args.uds, log_level="warning", timeout_graceful_shutdown=10
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
