"""The grader's client of a sandboxed kernel: jupyter_client's AsyncKernelClient, ready without idling.

jupyter_client 8's ``wait_for_ready`` ends by reading the IOPub channel until 0.2 s pass without a message, to
drop the status messages of its own ``kernel_info`` request. Those 0.2 s are idle wall time paid by every
kernel, so by every submission, on a core that has nothing else to do (each grading worker has a core of its
own). nbclient drops IOPub messages of other requests itself (it reads only those whose parent is the cell it
runs), so here the flush takes only what has already arrived. jupyter_client first waits for heartbeats when
the client was not made by a KernelManager; ours always is (SandboxedKernelManager.client), so that wait is
left out.
"""
import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.utils import ensure_async

REPLY_WAIT = 1.0  # seconds per kernel_info request, as jupyter_client waits
IOPUB_WAIT = 0.2  # seconds for the first IOPub message after the reply: the channel is connected


class ReadyKernelClient(AsyncKernelClient):
    """AsyncKernelClient whose wait_for_ready returns as soon as the kernel has answered on shell and IOPub."""

    async def wait_for_ready(self, timeout=None):
        """Ask for kernel_info until the kernel replies and IOPub delivers (as jupyter_client does); then drop
        the IOPub messages already received, without waiting for more. RuntimeError when the kernel dies or
        timeout seconds pass first."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=REPLY_WAIT))
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply" and await self._iopub_delivers():
                self._handle_kernel_info_reply(reply)
                break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await ensure_async(self.iopub_channel.get_msg(timeout=0))
            except Empty:
                return

    async def _iopub_delivers(self):
        """Whether a message arrives on IOPub within IOPUB_WAIT (if not, the channel is not connected yet)."""
        try:
            await ensure_async(self.iopub_channel.get_msg(timeout=IOPUB_WAIT))
        except Empty:
            return False
        return True
