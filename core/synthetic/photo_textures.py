"""Natural-image textures for training the tiny SAM: random crops of scikit-image's sample photos.

Procedural textures alone teach the model the statistics of their generators; crops of real
photographs (a cat, coffee, gravel, grass, brick, a rocket, cells, the moon, ...) bring natural
ones, and objects filled with another crop of the same photo are camouflaged the way real
objects are. The photos are the ones scikit-image ships inside its wheel (``skimage/data``,
public-domain or permissively licensed); nothing is downloaded. scikit-image is a training-only
dependency (``pip install -e '.[train]'``); the app never needs it.

Every crop is resampled to the requested size after a random flip or quarter turn, and its
colours are remapped (channel order, per-channel gain, gamma, contrast, sometimes grey tinted
by one colour), so twenty photos give a wide range of textures. All randomness comes from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

# photos of skimage/data used as texture sources (binary, tiny or synthetic ones left out)
PHOTO_NAMES = ("astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
               "coffee.png", "coins.png", "color.png", "grass.png", "gravel.png", "hubble_deep_field.jpg",
               "ihc.png", "logo.png", "moon.png", "motorcycle_left.png", "page.png", "retina.jpg",
               "rocket.jpg", "text.png")


def photo_folder() -> Path:
    """scikit-image's bundled data folder; a clear error when scikit-image is not installed."""
    try:
        import skimage
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError("photo textures need scikit-image's sample photos: pip install scikit-image") from error
    return Path(skimage.__file__).parent / "data"


@lru_cache(maxsize=1)
def load_photos() -> tuple[np.ndarray, ...]:
    """The source photos as (H, W, 3) float32 RGB in [0, 255] (greyscale ones repeated to 3 channels)."""
    folder = photo_folder()
    photos = []
    for name in PHOTO_NAMES:
        path = folder / name
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise RuntimeError(f"{path}: cannot read this sample photo; reinstall scikit-image")
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        else:
            image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
        photos.append(image.astype(np.float32))
    return tuple(photos)


def photo_crop(rng: np.random.Generator, height: int, width: int, source: int | None = None) -> tuple[np.ndarray, int]:
    """A (H, W, 3) float32 texture in [0, 255] cut from photo ``source`` (random when None);
    returns (texture, source index)."""
    photos = load_photos()
    source = int(rng.integers(len(photos))) if source is None else source
    photo = photos[source]
    turns = int(rng.integers(4))
    if turns:
        photo = np.rot90(photo, turns)
    if rng.uniform() < 0.5:
        photo = photo[:, ::-1]
    ph, pw = photo.shape[:2]
    # crop with the target's aspect, 15–100 % of the largest such crop (zoomed in or out)
    fit = min(ph / height, pw / width)
    scale = fit * float(np.exp(rng.uniform(np.log(0.15), 0.0)))
    ch, cw = max(4, int(height * scale)), max(4, int(width * scale))
    y0, x0 = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
    crop = np.ascontiguousarray(photo[y0 : y0 + ch, x0 : x0 + cw])
    crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR)
    return _remap_colours(rng, crop), source


def _remap_colours(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Random colour remapping of a (H, W, 3) float32 image in [0, 255]."""
    if rng.uniform() < 0.2:  # grey, tinted by one colour
        grey = image.mean(axis=2, keepdims=True)
        image = grey * rng.uniform(0.4, 1.0, 3).astype(np.float32) / 0.7
    else:
        image = image[..., rng.permutation(3)] * rng.uniform(0.75, 1.25, 3).astype(np.float32)
    mean = image.mean()
    image = mean + (image - mean) * rng.uniform(0.5, 1.5)
    image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** rng.uniform(0.6, 1.6)
    return image.astype(np.float32)
