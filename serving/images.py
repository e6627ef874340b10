"""Image files to model input: a PNG or JPEG of any size to one 28x28 image of 0-255 values.

In: the file's bytes, and whether to invert it. Out: a float32 [28, 28] array, or an ImageError
saying why the bytes are not usable. The model learned Fashion-MNIST's convention, a light item on
a dark (black) background; a photo of a dark item on a light background needs `invert`. Like the
dataset's own preparation, the image is grayscale-converted (transparency becomes background),
padded with background to a square so that it keeps its proportions, and resized to 28x28.
"""

import io

import numpy as np
from PIL import Image, ImageOps

from fashion_mnist import features

FORMATS = ('PNG', 'JPEG')
# Refuses decompression bombs: far above any photo, far below what would exhaust memory.
MAX_PIXELS = 50_000_000


class ImageError(ValueError):
  """The bytes are not a usable PNG or JPEG image; the message says why."""


def decode(data: bytes, invert: bool = False) -> np.ndarray:
  """A PNG or JPEG file's bytes as a float32 [28, 28] image, values 0-255 (see the docstring)."""
  try:
    image = Image.open(io.BytesIO(data), formats=FORMATS)
  except (Image.UnidentifiedImageError, OSError) as e:
    raise ImageError(f'not a PNG or JPEG image ({len(data)} bytes)') from e
  if image.width * image.height > MAX_PIXELS:
    raise ImageError(f'{image.width}x{image.height} pixels is more than the limit of '
                     f'{MAX_PIXELS:,} pixels')
  try:
    image = ImageOps.exif_transpose(image)  # photos taken sideways
    if image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info:
      image = image.convert('RGBA')
      shade = 255 if invert else 0  # the background's colour before any inversion
      background = Image.new('RGBA', image.size, (shade, shade, shade, 255))
      image = Image.alpha_composite(background, image)
    gray = image.convert('L')
  except (OSError, ValueError, Image.DecompressionBombError) as e:  # truncated or corrupt data
    raise ImageError(f'the {image.format} image cannot be decoded ({e})') from e
  if invert:
    gray = ImageOps.invert(gray)
  square = ImageOps.pad(gray, (max(gray.size),) * 2, color=0)
  resized = square.resize(features.IMAGE_SHAPE[::-1], Image.Resampling.LANCZOS)
  return np.asarray(resized, dtype=np.float32)
