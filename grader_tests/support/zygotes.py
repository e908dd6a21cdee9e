"""Stand-ins for the kernels' zygote (coursekit/sandbox/preload.py) in the tests."""
from coursekit.sandbox import SandboxedKernelManager, preload

# says ready, then answers its first request with an error
BROKEN = "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\nprint('error: broken', flush=True)\n"


def replace_zygote(monkeypatch, tmp_path, source):
    """Have this test process start its zygote from the script source instead, with no zygote started and no
    failure of one counted yet."""
    script = tmp_path / "zygote.py"
    script.write_text(source)
    monkeypatch.setattr(preload, "ZYGOTE", script)
    monkeypatch.setattr(preload, "_zygotes", {})
    monkeypatch.setattr(SandboxedKernelManager, "zygote_failures", 0)
