"""Inputs from numpy, torch, DLPack and buffer-protocol objects reach the runtime without a
copy when they are C-contiguous CPU memory: the data address the runtime receives
(Module._input_data_pointers, the same conversion forward() uses) is the caller's."""

import array

import numpy as np
import pytest
import torch

import deploykit


class DLPackOnly:
    """An object that offers its memory only through the DLPack protocol."""

    def __init__(self, array_):
        self._array = array_

    def __dlpack__(self, *args, **kwargs):
        return self._array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU()).eval()
    x = torch.randn(2, 6)
    path = tmp_path_factory.mktemp("interop") / "linear.dkr"
    deploykit.export(net, (x,), path)
    return net, deploykit.load(path, num_threads=1)


def _expected(net, x):
    with torch.no_grad():
        return net(torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(2, 6)).numpy()


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_numpy_is_not_copied(model):
    net, m = model
    x = np.random.default_rng(0).standard_normal((2, 6), dtype=np.float32)
    assert m._input_data_pointers(x) == [_address(x)]
    np.testing.assert_allclose(m(x), _expected(net, x), rtol=1e-5, atol=1e-6)


def test_torch_is_not_copied(model):
    net, m = model
    t = torch.randn(2, 6, requires_grad=True)
    assert m._input_data_pointers(t) == [t.data_ptr()]
    np.testing.assert_allclose(m(t), _expected(net, t.detach()), rtol=1e-5, atol=1e-6)


def test_dlpack_is_not_copied(model):
    net, m = model
    base = np.random.default_rng(1).standard_normal((2, 6), dtype=np.float32)
    obj = DLPackOnly(base)
    assert m._input_data_pointers(obj) == [_address(base)]
    np.testing.assert_allclose(m(obj), _expected(net, base), rtol=1e-5, atol=1e-6)


def test_buffer_protocol_is_not_copied(model):
    net, m = model
    values = np.random.default_rng(2).standard_normal(12).astype(np.float32)
    buf = bytearray(values.tobytes())
    view = memoryview(buf).cast("B").cast("f", [2, 6])
    backing = np.frombuffer(buf, dtype=np.float32)
    assert m._input_data_pointers(view) == [_address(backing)]
    np.testing.assert_allclose(m(view), _expected(net, values), rtol=1e-5, atol=1e-6)
    # array.array is one-dimensional: a shape error, never a silent reshape.
    with pytest.raises(deploykit.InputError, match=r"expected shape \[2, 6\], got \[12\]"):
        m(array.array("f", values.tolist()))


def test_non_contiguous_is_copied_once_and_correct(model):
    net, m = model
    wide = np.random.default_rng(3).standard_normal((6, 2), dtype=np.float32)
    x = wide.T  # Fortran-ordered view
    assert not x.flags.c_contiguous
    assert m._input_data_pointers(x) != [_address(x)]
    np.testing.assert_allclose(m(x), _expected(net, np.ascontiguousarray(x)), rtol=1e-5, atol=1e-6)
    t = torch.from_numpy(wide).t()  # a non-contiguous tensor view
    np.testing.assert_allclose(m(t), _expected(net, np.ascontiguousarray(x)), rtol=1e-5, atol=1e-6)


def test_wrong_kinds_are_input_errors(model):
    _, m = model
    with pytest.raises(deploykit.InputError, match="buffer-protocol"):
        m("not a tensor")
    with pytest.raises(deploykit.InputError, match="expected dtype f32"):
        m(np.zeros((2, 6), dtype=np.float64))
    with pytest.raises(deploykit.InputError, match="expected dtype f32"):
        m(memoryview(bytearray(2 * 6 * 8)).cast("B").cast("d", [2, 6]))
