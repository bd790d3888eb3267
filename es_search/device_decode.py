"""JPEGs decoded on the model's device, in batches: nvJPEG through torchvision on a GPU.

On a CPU a 12-megapixel JPEG costs 25 ms of entropy decoding even at 1/8 scale, more than the model on a GPU
takes for it; nvJPEG decodes it on the GPU. The decode workers keep their per-image interface
(`decode(data, size)`), and one thread of this decoder gathers the images they hand in at the same time
into one `torchvision.io.decode_jpeg` call (up to `max_batch`, waiting at most `gather_seconds` for more),
resizes each on the device to the working size asked for, and brings the small results back through
pinned memory in one transfer. The full-size pixels never leave the device.

Only the pixels are decoded here. The checks stay with Pillow (es_search/decode.py): the declared size
against the pixel limit, the EXIF orientation and date, and a truncated file, which is sent to Pillow to
be reported as it would be. A file this decoder cannot take (a corrupt stream, a colour model it lacks) raises
DeviceDecodeFailed, and the caller decodes it with Pillow, which says what is wrong with it.

With device "cpu" the same code runs torchvision's own CPU decoder: that is how the tests exercise it.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Images gathered into one decode call at most, and how long the first one waits for company.
MAX_BATCH = 32
GATHER_SECONDS = 0.002
# A JPEG ends with the End Of Image marker; one without it was cut short (Pillow reports it as truncated).
EOI = b"\xff\xd9"
INSTALL_HINT = "install torchvision with `make setup-gpu`"


class DeviceDecodeFailed(Exception):
    """This decoder cannot decode the bytes; Pillow should (and will say why if it cannot either)."""


def device_decode_available() -> bool:
    """Whether torchvision (with its JPEG decoder) is installed."""
    try:
        from torchvision.io import decode_jpeg  # noqa: F401
    except ImportError:
        return False
    return True


def ends_complete(data: bytes) -> bool:
    """Pure: whether JPEG bytes end with the EOI marker (trailing zero padding, which cameras add, ignored)."""
    return data.rstrip(b"\x00").endswith(EOI)


@dataclass
class _Request:
    data: bytes
    size: tuple[int, int]  # (width, height) wanted, in the file's stored orientation
    future: Future


class DeviceJpegDecoder:
    """Thread-safe: any number of threads call `decode`; one thread of its own runs the device."""

    def __init__(self, device: str, *, max_batch: int = MAX_BATCH, gather_seconds: float = GATHER_SECONDS):
        import torch

        self.device = torch.device(device)
        self.max_batch, self.gather_seconds = max_batch, gather_seconds
        self.calls = 0  # decode calls made (batches), for the tests and the benchmark
        self._pin = self.device.type == "cuda"
        self._requests: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="imgsearch-device-decode", daemon=True)
        self._thread.start()

    def decode(self, data: bytes, size: tuple[int, int]) -> Image.Image:
        """The JPEG `data` decoded and resized to `size` (width, height), as an RGB image; DeviceDecodeFailed
        when this decoder cannot take it."""
        if not ends_complete(data):
            raise DeviceDecodeFailed("the file ends before its End Of Image marker")
        request = _Request(data, size, Future())
        self._requests.put(request)
        return request.future.result()

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(5)

    # ----------------------------------------------------------------- the device's thread

    def _serve(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._requests.get(timeout=self.gather_seconds)
                except queue.Empty:
                    break
                if more is None:
                    self._requests.put(None)  # end after this batch
                    break
                batch.append(more)
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        try:
            images = self._decode_batch(batch)
        except Exception:
            # One bad file fails the whole call: decode each alone, so only that one goes to Pillow.
            for request in batch:
                try:
                    (image,) = self._decode_batch([request])
                    request.future.set_result(image)
                except Exception as exc:
                    request.future.set_exception(DeviceDecodeFailed(f"{type(exc).__name__}: {exc}"))
            return
        for request, image in zip(batch, images, strict=True):
            request.future.set_result(image)

    def _decode_batch(self, batch: list[_Request]) -> list[Image.Image]:
        import torch
        from torchvision.io import ImageReadMode, decode_jpeg

        self.calls += 1
        encoded = [torch.frombuffer(bytearray(request.data), dtype=torch.uint8) for request in batch]
        decoded = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=self.device)
        small = [_resized(pixels, request.size) for pixels, request in zip(decoded, batch, strict=True)]
        # One transfer for the batch, through pinned memory on a GPU.
        flat = torch.cat([pixels.reshape(-1) for pixels in small])
        host = torch.empty(flat.shape, dtype=torch.uint8, pin_memory=self._pin)
        host.copy_(flat, non_blocking=self._pin)
        if self._pin:
            torch.cuda.current_stream(self.device).synchronize()
        out, offset, array = [], 0, host.numpy()
        for pixels in small:
            count = pixels.numel()
            height, width = pixels.shape[1], pixels.shape[2]
            hwc = array[offset:offset + count].reshape(3, height, width).transpose(1, 2, 0)
            out.append(Image.fromarray(np.ascontiguousarray(hwc), "RGB"))
            offset += count
        return out


def _resized(pixels, size: tuple[int, int]):
    """(3, H, W) uint8 on the device → (3, h, w) uint8 at `size` (width, height): antialiased bilinear, as
    a downscale needs; as it is when already that size."""
    import torch

    width, height = size
    if pixels.shape[1:] == (height, width):
        return pixels
    scaled = torch.nn.functional.interpolate(pixels[None].float(), size=(height, width), mode="bilinear",
                                             antialias=True, align_corners=False)[0]
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


def jpeg_decoder_for(settings) -> DeviceJpegDecoder | None:
    """The decoder IMGSEARCH_JPEG_DECODER asks for, or None for Pillow: `auto` uses the GPU when the torch
    image model runs on one and torchvision is there; `device` uses torchvision on the model's device
    whatever it is (ConfigError without torchvision)."""
    from es_search.errors import ConfigError
    from es_search.model_loading import resolve_device

    if settings.jpeg_decoder == "cpu":
        return None
    if settings.jpeg_decoder == "device":
        if not device_decode_available():
            raise ConfigError(f"IMGSEARCH_JPEG_DECODER=device needs torchvision: {INSTALL_HINT}")
        return shared_decoder(resolve_device(settings.device) if settings.image_backend == "torch" else "cpu")
    # auto: torchvision is only looked for (its import takes half a second) when there is a GPU to use.
    if settings.image_backend != "torch":
        return None
    device = resolve_device(settings.device)
    return shared_decoder(device) if device.startswith("cuda") and device_decode_available() else None


_shared: dict[str, DeviceJpegDecoder] = {}
_shared_lock = threading.Lock()


def shared_decoder(device: str) -> DeviceJpegDecoder:
    """The process's decoder for `device`, started once."""
    with _shared_lock:
        if device not in _shared:
            _shared[device] = DeviceJpegDecoder(device)
        return _shared[device]
