"""The command-line interfaces: `deploykit export|run|inspect|demo` and the C++ `deployrt-run`.

Each command runs in a child process, as a user would run it, and its files are
checked against torch (outputs) and against the archive bytes (inspect's counts).
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import deploykit
from dkr_archive import read_archive
from helpers import REPO_ROOT, assert_close_to_torch, deploykit_cli, subprocess_env, torch_reference
from models import make_tiny_conv_net

TINY_SHAPE = (1, 3, 8, 8)

# A factory module for `deploykit export package.module:factory`, written into a
# temporary package so the test does not depend on tests/ being importable by name.
FACTORY_SOURCE = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class SmallNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, stride=2, padding=1)
            self.bn = nn.BatchNorm2d(6)
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            x = torch.relu(self.bn(self.conv(x)))
            x = x.mean((2, 3))
            return torch.softmax(self.fc(x), dim=1)


    def make_small_net():
        torch.manual_seed(7)
        net = SmallNet()
        with torch.no_grad():
            net.bn.running_mean.uniform_(-0.5, 0.5)
            net.bn.running_var.uniform_(0.5, 2.0)
        return net.eval()
    """
)


def _assert_cli_ok(proc, what):
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def _assert_one_line_error(proc, what):
    assert proc.returncode == 2, f"{what}: exit code {proc.returncode}, expected 2\nstderr:\n{proc.stderr}"
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"{what}: expected a one-line error, got {len(lines)} lines:\n{proc.stderr}"
    assert lines[0].startswith("deploykit: error: "), f"{what}: error line is {lines[0]!r}"
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def tiny_pt(tmp_path_factory):
    """TinyConvNet saved with torch.jit.save, and the model itself for references."""
    d = tmp_path_factory.mktemp("cli_pt")
    model = make_tiny_conv_net()
    path = d / "tiny.pt"
    torch.jit.save(torch.jit.trace(model, torch.randn(*TINY_SHAPE)), str(path))
    return path, model


@pytest.fixture(scope="module")
def tiny_dkr(tiny_pt, tmp_path_factory):
    """The .pt exported through the CLI; shared by the run/inspect/deployrt-run tests."""
    pt, model = tiny_pt
    out = tmp_path_factory.mktemp("cli_dkr") / "tiny.dkr"
    proc = deploykit_cli(["export", pt, "-o", out, "--input-shape", ",".join(map(str, TINY_SHAPE))])
    _assert_cli_ok(proc, "deploykit export tiny.pt")
    assert out.is_file(), f"deploykit export exited 0 but wrote no {out}"
    return out, model


@pytest.fixture
def input_npy(tmp_path, torch_gen):
    x = torch.randn(*TINY_SHAPE, generator=torch_gen)
    path = tmp_path / "x.npy"
    np.save(path, x.numpy())
    return path, x


def test_export_torchscript_file_matches_torch(tiny_dkr, input_npy):
    out, model = tiny_dkr
    path, x = input_npy
    assert_close_to_torch(deploykit.load(str(out))(np.load(path)), torch_reference(model, (x,)))


def test_export_from_factory_with_input_shape(tmp_path, torch_gen):
    pkg = tmp_path / "dk_factory_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(FACTORY_SOURCE)
    out = tmp_path / "small.dkr"
    proc = deploykit_cli(
        ["export", "dk_factory_pkg.nets:make_small_net", "--input-shape", "2,3,10,10", "-o", out],
        cwd=tmp_path,
        extra_pythonpath=[tmp_path],
    )
    _assert_cli_ok(proc, "deploykit export package.module:factory")

    namespace = {}
    exec(compile(FACTORY_SOURCE, "factory", "exec"), namespace)
    model = namespace["make_small_net"]()
    module = deploykit.load(str(out))
    assert [tuple(s) for _, _, s in module.inputs] == [(2, 3, 10, 10)], module.inputs
    x = torch.randn(2, 3, 10, 10, generator=torch_gen)
    assert_close_to_torch(module(x.numpy()), torch_reference(model, (x,)))


def test_run_writes_output_npy_matching_torch(tiny_dkr, input_npy, tmp_path):
    out, model = tiny_dkr
    x_path, x = input_npy
    y_path = tmp_path / "y.npy"
    proc = deploykit_cli(["run", out, "--input", x_path, "--output", y_path, "--threads", "1"])
    _assert_cli_ok(proc, "deploykit run")
    assert_close_to_torch(np.load(y_path), torch_reference(model, (x,)))


def test_inspect_reports_inputs_outputs_nodes_and_parameters(tiny_dkr):
    out, model = tiny_dkr
    proc = deploykit_cli(["inspect", out])
    _assert_cli_ok(proc, "deploykit inspect")
    text = proc.stdout
    archive = read_archive(out.read_bytes())

    assert re.search(r"input", text, re.I) and re.search(r"output", text, re.I), text
    assert re.search(r"(?<!\d)1\D{1,3}3\D{1,3}8\D{1,3}8(?!\d)", text), f"input shape 1x3x8x8 not shown:\n{text}"
    assert re.search(r"(?<!\d)1\D{1,3}5(?!\d)", text), f"output shape 1x5 not shown:\n{text}"

    nodes = archive.main_graph_node_count()
    node_numbers = {int(n) for n in re.findall(r"(\d+)\s*nodes?\b", text, re.I)}
    node_numbers |= {int(n) for n in re.findall(r"\bnodes?\b[\s:=]*(\d+)", text, re.I)}
    assert nodes in node_numbers, f"node count {nodes} (from the archive) not reported:\n{text}"

    # No BatchNorm in TinyConvNet, so the archive's constants are exactly its parameters.
    n_params = sum(p.numel() for p in model.parameters())
    assert sum(t.numel for t in archive.tensors()) == n_params
    assert re.search(rf"(?<![\d,]){n_params}(?![\d,])", text.replace(",", "").replace("_", "")), (
        f"parameter count {n_params} not reported:\n{text}"
    )


def test_inspect_node_count_agrees_with_histogram_over_subgraphs(tmp_path, capsys):
    from deploykit.archive.reader import read
    from deploykit.cli import main as cli_main

    out = tmp_path / "if.dkr"
    from test_scripting import IfOnValue  # a run-time branch: one `if` node with two subgraphs

    deploykit.export(IfOnValue(), (torch.randn(2, 3),), out, method="script")
    graph = read(out).graph
    main_nodes = len(graph.nodes)
    sub_nodes = sum(len(g.nodes) for g in graph.all_graphs()) - main_nodes
    assert sub_nodes > 0 and main_nodes > 0, str(graph)
    assert cli_main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(rf"^nodes:\s+{main_nodes} \(\+{sub_nodes} in subgraphs\)$", text, re.M), text
    # The histogram lines below "nodes:" count every node, subgraphs included.
    histogram = re.search(r"^nodes:.*\n((?:  \S+\s+\d+\n)+)", text, re.M).group(1)
    assert sum(int(line.split()[-1]) for line in histogram.splitlines()) == main_nodes + sub_nodes, text


def test_inspect_into_a_closed_pipe_stops_quietly(tiny_dkr):
    # `deploykit inspect m.dkr --graph | head -1`: the reader closes the pipe early.
    out, _ = tiny_dkr
    cmd = [sys.executable, "-c", "import sys; from deploykit.cli import main; sys.exit(main())",
           "inspect", str(out), "--graph", "--code", "--stats"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(()))
    proc.stdout.close()  # before the child (still importing) writes anything: its first write fails
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_demo_runs(tmp_path):
    proc = deploykit_cli(["demo"], cwd=tmp_path)
    _assert_cli_ok(proc, "deploykit demo")
    assert proc.stdout.strip(), "deploykit demo printed nothing"


@pytest.mark.parametrize("command", ["inspect", "run"])
def test_corrupt_archive_exits_2_with_one_line_error(tiny_dkr, input_npy, tmp_path, command):
    out, _ = tiny_dkr
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.dkr"
    bad.write_bytes(bytes(data))
    args = ["inspect", bad] if command == "inspect" else ["run", bad, "--input", input_npy[0], "--output", tmp_path / "y.npy"]
    proc = deploykit_cli(args)
    _assert_one_line_error(proc, f"deploykit {command} on a corrupt archive")
    assert not (tmp_path / "y.npy").exists()


def test_missing_archive_exits_2(tmp_path):
    proc = deploykit_cli(["inspect", tmp_path / "missing.dkr"])
    _assert_one_line_error(proc, "deploykit inspect on a missing file")
    assert "missing.dkr" in proc.stderr


def test_export_of_unsupported_model_exits_2_and_names_ops(tmp_path):
    (tmp_path / "dk_bad_factory.py").write_text(
        "import torch, torch.nn as nn, torch.nn.functional as F\n"
        "class Bad(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return torch.logsumexp(F.gelu(x), dim=1)\n"
        "def make():\n"
        "    return Bad()\n"
    )
    out = tmp_path / "bad.dkr"
    proc = deploykit_cli(
        ["export", "dk_bad_factory:make", "--input-shape", "1,3,4,4", "-o", out], extra_pythonpath=[tmp_path]
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("deploykit: error: "), proc.stderr
    assert "gelu" in proc.stderr and "logsumexp" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


# --- deployrt-run (C++ only) -----------------------------------------------------------------


def test_deployrt_run_matches_python_runtime(tiny_dkr, input_npy, tmp_path, deployrt_run):
    out, model = tiny_dkr
    x_path, x = input_npy
    y_path = tmp_path / "y_cpp.npy"
    proc = subprocess.run(
        [deployrt_run, str(out), "--input", str(x_path), "--output", str(y_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"deployrt-run exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    y_cpp = np.load(y_path)
    y_py = deploykit.load(str(out))(np.load(x_path))
    assert y_cpp.dtype == np.float32 and y_cpp.shape == y_py.shape
    np.testing.assert_array_equal(y_cpp, y_py, err_msg="deployrt-run and deploykit.load disagree on the same archive")
    assert_close_to_torch(y_cpp, torch_reference(model, (x,)))


def test_deployrt_run_threads_flag(tiny_dkr, input_npy, tmp_path, deployrt_run):
    out, model = tiny_dkr
    x_path, x = input_npy
    y_path = tmp_path / "y_t1.npy"
    proc = subprocess.run(
        [deployrt_run, str(out), "--input", str(x_path), "--output", str(y_path), "--threads", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"deployrt-run --threads 1 exited {proc.returncode}\n{proc.stderr}"
    assert_close_to_torch(np.load(y_path), torch_reference(model, (x,)))


def test_compact_weights_flags_give_the_same_outputs(tiny_dkr, input_npy, tmp_path, deployrt_run):
    # deployrt-run and `deploykit run` take --compact-weights (LoadOptions::compact_weights):
    # bit-identical outputs (what it changes is checked in cpp/tests/packed_weights_test.cc).
    out, model = tiny_dkr
    x_path, _ = input_npy
    want = deploykit.load(str(out))(np.load(x_path))
    y_cpp, y_py = tmp_path / "y_compact_cpp.npy", tmp_path / "y_compact_py.npy"
    proc = subprocess.run([deployrt_run, str(out), "--input", str(x_path), "--output", str(y_cpp), "--compact-weights"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"deployrt-run --compact-weights exited {proc.returncode}\n{proc.stderr}"
    _assert_cli_ok(deploykit_cli(["run", out, "--input", x_path, "--output", y_py, "--compact-weights"]),
                   "deploykit run --compact-weights")
    np.testing.assert_array_equal(np.load(y_cpp), want)
    np.testing.assert_array_equal(np.load(y_py), want)


@pytest.mark.parametrize("where", ["header", "middle", "last_byte"])
def test_deployrt_run_on_flipped_archive_fails_with_message(tiny_dkr, input_npy, tmp_path, deployrt_run, where):
    out, _ = tiny_dkr
    data = bytearray(out.read_bytes())
    offset = {"header": 33, "middle": len(data) // 2, "last_byte": len(data) - 1}[where]
    data[offset] ^= 0xFF
    bad = tmp_path / "flipped.dkr"
    bad.write_bytes(bytes(data))
    y_path = tmp_path / "y.npy"
    proc = subprocess.run(
        [deployrt_run, str(bad), "--input", str(input_npy[0]), "--output", str(y_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode > 0, (
        f"deployrt-run on a corrupt archive: exit {proc.returncode} "
        f"({'killed by a signal' if proc.returncode < 0 else 'success'})\n{proc.stderr}"
    )
    assert proc.stderr.strip(), "deployrt-run failed without saying why"
    assert "archive" in proc.stderr.lower(), f"message does not say the archive is at fault: {proc.stderr}"
    assert not y_path.exists(), "deployrt-run wrote an output for an archive it rejected"


# --- examples/python ----------------------------------------------------------------------------


def test_python_example_script(tmp_path):
    """examples/python/export_resnet.py runs end to end and passes its own parity check."""
    script = REPO_ROOT / "examples" / "python" / "export_resnet.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "r18.dkr")],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )
    _assert_cli_ok(proc, "examples/python/export_resnet.py")
    assert "max |deploykit - torch|" in proc.stdout and (tmp_path / "r18.dkr").is_file()
