"""coursekit/sandbox/client.py: the kernel client is ready once the kernel answered, without idling on IOPub.

The channels are faked: the unit under test is the order of requests and the waits wait_for_ready asks for.
"""
import asyncio
from queue import Empty

import pytest

from coursekit.sandbox import SandboxedKernelManager
from coursekit.sandbox.client import ReadyKernelClient


class FakeChannel:
    """A channel that hands out its messages (Empty in the list: nothing arrived in time), then raises Empty;
    it records the timeout of every read."""

    def __init__(self, messages):
        self.messages = list(messages)
        self.timeouts = []

    async def get_msg(self, timeout=None):
        self.timeouts.append(timeout)
        message = self.messages.pop(0) if self.messages else Empty
        if message is Empty:
            raise Empty
        return message


def status(state):
    return {"msg_type": "status", "content": {"execution_state": state}}


class FakeClient(ReadyKernelClient):
    """ReadyKernelClient on fake channels; kernel_info only counts the requests."""

    def __init__(self, shell, iopub, alive=True):
        super().__init__()
        self.fake_shell, self.fake_iopub, self.alive, self.requests = shell, iopub, alive, 0

    @property
    def shell_channel(self):
        return self.fake_shell

    @property
    def iopub_channel(self):
        return self.fake_iopub

    def kernel_info(self):
        self.requests += 1

    async def _async_is_alive(self):
        return self.alive

    def _handle_kernel_info_reply(self, msg):
        self.handled = msg


REPLY = {"msg_type": "kernel_info_reply", "content": {"status": "ok"}}


def test_the_flush_after_the_reply_takes_what_arrived_without_waiting():
    iopub = FakeChannel([status("busy"), status("idle"), status("starting")])
    client = FakeClient(FakeChannel([REPLY]), iopub)
    asyncio.run(client.wait_for_ready(timeout=5))
    assert iopub.messages == [], "the messages already on IOPub must be dropped"
    assert all(t == 0 for t in iopub.timeouts[1:]), f"the flush waited: IOPub read with timeouts {iopub.timeouts}"
    assert client.handled is REPLY


def test_a_reply_before_iopub_delivers_asks_again():
    client = FakeClient(FakeChannel([REPLY, REPLY]), FakeChannel([Empty, status("idle")]))
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == 2, "IOPub was not connected at the first reply: kernel_info must be asked again"


def test_a_dead_kernel_ends_the_wait():
    client = FakeClient(FakeChannel([]), FakeChannel([]), alive=False)
    with pytest.raises(RuntimeError, match="died"):
        asyncio.run(client.wait_for_ready(timeout=5))


def test_the_sandboxed_kernel_manager_makes_this_client():
    assert SandboxedKernelManager().client_factory is ReadyKernelClient


def test_a_kernel_that_never_replies_ends_the_wait_at_the_timeout():
    client = FakeClient(FakeChannel([]), FakeChannel([]))
    with pytest.raises(RuntimeError, match="didn't respond"):
        asyncio.run(client.wait_for_ready(timeout=0))


def test_a_reply_of_another_type_is_not_taken_for_the_kernel_info_reply():
    other = {"msg_type": "execute_reply", "content": {}}
    client = FakeClient(FakeChannel([other, REPLY]), FakeChannel([status("idle"), status("idle")]))
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.handled is REPLY and client.requests == 2
