"""The Vulkan devices this machine has (name, vendor, driver, software or not), read through the loader by ctypes."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import subprocess
import sys
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

#: VkPhysicalDeviceType -> name; ``cpu`` is a software rasteriser (Mesa lavapipe/llvmpipe, SwiftShader).
DEVICE_TYPES = {0: "other", 1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}
#: PCI / Khronos vendor ids of the GPU makers a phone or desktop has.
VENDORS = {0x1002: "AMD", 0x1010: "Imagination", 0x10DE: "NVIDIA", 0x106B: "Apple", 0x13B5: "ARM",
           0x5143: "Qualcomm", 0x8086: "Intel", 0x144D: "Samsung", 0x1AE0: "Google", 0x10005: "Mesa"}
_SOFTWARE_NAMES = ("llvmpipe", "lavapipe", "swiftshader", "softpipe")

_STRUCT_APP_INFO, _STRUCT_INSTANCE = 0, 1
_STRUCT_PROPS2, _STRUCT_DRIVER_PROPS = 1000059001, 1000196000
_API_1_2 = (1 << 22) | (2 << 12)


class _AppInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_uint32), ("pNext", ctypes.c_void_p), ("pApplicationName", ctypes.c_char_p),
                ("applicationVersion", ctypes.c_uint32), ("pEngineName", ctypes.c_char_p),
                ("engineVersion", ctypes.c_uint32), ("apiVersion", ctypes.c_uint32)]


class _InstanceInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_uint32), ("pNext", ctypes.c_void_p), ("flags", ctypes.c_uint32),
                ("pApplicationInfo", ctypes.POINTER(_AppInfo)), ("enabledLayerCount", ctypes.c_uint32),
                ("ppEnabledLayerNames", ctypes.c_void_p), ("enabledExtensionCount", ctypes.c_uint32),
                ("ppEnabledExtensionNames", ctypes.c_void_p)]


def _version(v: int) -> str:
    return f"{(v >> 22) & 0x7F}.{(v >> 12) & 0x3FF}.{v & 0xFFF}"


def _cstr(buf: ctypes.Array, offset: int, size: int = 256) -> str:
    raw = bytes(buf[offset:offset + size])
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def describe(name: str, vendor_id: int, type_id: int) -> dict[str, Any]:
    """The device fields edgeseg records: ``name, vendor, type, software``."""
    kind = DEVICE_TYPES.get(type_id, "other")
    return {"name": name, "vendor": VENDORS.get(vendor_id, f"0x{vendor_id:04x}"), "vendor_id": vendor_id,
            "type": kind, "software": kind == "cpu" or any(s in name.lower() for s in _SOFTWARE_NAMES)}


def _probe() -> list[dict[str, Any]]:
    """Enumerate the physical devices in this process (loads the Vulkan driver; see :func:`devices`)."""
    lib_name = ctypes.util.find_library("vulkan") or "libvulkan.so.1"
    try:
        vk = ctypes.CDLL(lib_name)
    except OSError:
        return []
    app = _AppInfo(_STRUCT_APP_INFO, None, b"edgeseg", 1, b"edgeseg", 1, _API_1_2)
    info = _InstanceInfo(_STRUCT_INSTANCE, None, 0, ctypes.pointer(app), 0, None, 0, None)
    inst = ctypes.c_void_p()
    if vk.vkCreateInstance(ctypes.byref(info), None, ctypes.byref(inst)) != 0:
        return []
    try:
        count = ctypes.c_uint32(0)
        if vk.vkEnumeratePhysicalDevices(inst, ctypes.byref(count), None) != 0 or not count.value:
            return []
        handles = (ctypes.c_void_p * count.value)()
        vk.vkEnumeratePhysicalDevices(inst, ctypes.byref(count), handles)
        return [_properties(vk, handles[i]) for i in range(count.value)]
    finally:
        vk.vkDestroyInstance(inst, None)


def _properties(vk: ctypes.CDLL, handle: int) -> dict[str, Any]:
    # VkPhysicalDeviceProperties: apiVersion, driverVersion, vendorID, deviceID, deviceType, deviceName[256], ...
    props = (ctypes.c_uint8 * 4096)()
    vk.vkGetPhysicalDeviceProperties(ctypes.c_void_p(handle), props)
    head = (ctypes.c_uint32 * 5).from_buffer(props)
    api, _drv, vendor, _dev, kind = list(head)
    out = describe(_cstr(props, 20), vendor, kind)
    out["api_version"] = _version(api)
    out.update(_driver(vk, handle) if api >= _API_1_2 else {})
    return out


def _driver(vk: ctypes.CDLL, handle: int) -> dict[str, str]:
    """``VkPhysicalDeviceDriverProperties`` (Vulkan 1.2): driver name and info, e.g. ``Mesa 25.0.7``."""
    fn = getattr(vk, "vkGetPhysicalDeviceProperties2", None)
    if fn is None:
        return {}
    drv = (ctypes.c_uint8 * 1024)()
    ctypes.c_uint32.from_buffer(drv, 0).value = _STRUCT_DRIVER_PROPS
    props2 = (ctypes.c_uint8 * 4096)()
    ctypes.c_uint32.from_buffer(props2, 0).value = _STRUCT_PROPS2
    ctypes.c_void_p.from_buffer(props2, 8).value = ctypes.addressof(drv)
    fn(ctypes.c_void_p(handle), props2)
    # driverID at 16, driverName[256] at 20, driverInfo[256] at 276
    return {"driver": _cstr(drv, 20), "driver_info": _cstr(drv, 276)}


@lru_cache(maxsize=2)
def devices(in_process: bool = False) -> tuple[dict[str, Any], ...]:
    """Every Vulkan physical device, ``()`` when there is no loader or no driver.

    The driver is probed in a child process unless ``in_process`` (for a process that runs the GPU anyway)
    and TensorFlow is not loaded: Mesa's LLVM-based software driver and TensorFlow crash when they share a
    process, and a probe must not load a driver into a process that may import TensorFlow later.
    """
    if in_process and "tensorflow" not in sys.modules:
        try:
            return tuple(_probe())
        except (OSError, AttributeError, ValueError) as exc:  # a broken loader: no device
            log.debug("vulkan probe failed: %s", exc)
            return ()
    try:
        proc = subprocess.run([sys.executable, "-m", "edgeseg.runtime.vulkan"], capture_output=True, text=True,
                              timeout=60, check=False)
        return tuple(json.loads(proc.stdout or "[]")) if proc.returncode == 0 else ()
    except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError):
        return ()


def summary() -> str:
    """One line per device, for messages and test skip reasons."""
    devs = devices()
    if not devs:
        return "no Vulkan device (no loader, or no driver: e.g. Mesa's lavapipe, `make vulkan`)"
    return "; ".join(f"{d['name']} ({d['vendor']}, {d['type']}{', software' if d['software'] else ''}, "
                     f"{d.get('driver_info') or d.get('driver') or '?'})" for d in devs)


if __name__ == "__main__":
    print(json.dumps(_probe()))
