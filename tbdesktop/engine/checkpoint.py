"""Tensors from a PyTorch zip-format checkpoint (``torch.save``), read with numpy and without torch.

The pickle inside is read by a restricted unpickler: only the parts a state dict is made of (tensor
rebuilds, storage types, ``OrderedDict``) may appear, so no code in the file can run while it is read.
A training checkpoint (Lightning's) also carries metadata objects; a caller may name those classes as
``inert``: they are rebuilt as empty placeholders that keep their arguments, and their own code never runs.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.errors import ModelError

_STORAGE_DTYPES: dict[str, Any] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _TensorRef:
    def __init__(self, key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.key, self.offset, self.size, self.stride = key, offset, size, stride


class _Inert:
    """A placeholder for a named metadata class: keeps what the pickle gives it and does nothing else."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        obj = super().__new__(cls)
        obj.__dict__["_args"] = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state


def _rebuild_tensor(storage: str, offset: int, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows only what a state dict needs; anything else stops the read."""

    def __init__(self, fh: BinaryIO, inert: Collection[tuple[str, str]] = ()) -> None:
        super().__init__(fh)
        self.storage_dtypes: dict[str, Any] = {}
        self._inert = frozenset(inert)

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if (module, name) in self._inert:
            return type(name, (_Inert,), {"__module__": __name__})
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the model weights")

    def persistent_load(self, pid: Any) -> str:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent object in the model weights")
        _kind, storage_type, key, _location, _numel = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unexpected storage type in the model weights")
        self.storage_dtypes[str(key)] = _STORAGE_DTYPES[storage_type.name]
        return str(key)


def read_zip_state_dict(
    path: Path, *, key: str | None = None, inert: Collection[tuple[str, str]] = ()
) -> dict[str, npt.NDArray[Any]]:
    """Every tensor of a zip-format checkpoint's state dict, by name, as a numpy array (copied).

    ``key`` names the entry that holds the state dict in a training checkpoint (``"state_dict"``);
    ``inert`` lists the ``(module, class)`` metadata objects it may carry beside it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise ModelError("The model weights are not a PyTorch checkpoint.")
            prefix = pickles[0][: -len("data.pkl")]
            with archive.open(pickles[0]) as fh:
                unpickler = _RestrictedUnpickler(fh, inert)  # type: ignore[arg-type]
                state = unpickler.load()
            buffers = {
                key: np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=np.dtype(dtype).newbyteorder("<"))
                for key, dtype in unpickler.storage_dtypes.items()
            }
    except (OSError, zipfile.BadZipFile, KeyError, EOFError) as exc:
        raise ModelError("The model weights could not be read; reinstall the application.") from exc
    if key is not None:
        state = state.get(key) if isinstance(state, dict) else None
    if not isinstance(state, dict):
        raise ModelError("The model weights are not a state dict.")
    out: dict[str, npt.NDArray[Any]] = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        base = buffers[ref.key]
        last = ref.offset + sum((n - 1) * st for n, st in zip(ref.size, ref.stride, strict=True))
        if 0 not in ref.size and (ref.offset < 0 or min(ref.stride, default=0) < 0 or last >= base.size):
            raise ModelError("The model weights are damaged (a tensor lies outside its storage).")
        strides = tuple(s * base.itemsize for s in ref.stride)
        view = np.lib.stride_tricks.as_strided(base[ref.offset :], shape=ref.size, strides=strides)
        out[str(name)] = np.array(view, dtype=base.dtype.newbyteorder("="))
    return out
