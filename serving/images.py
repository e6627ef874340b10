"""Image files to model input: a PNG or JPEG of any size to one 28x28 image of 0-255 values.

In: the file's bytes, whether to invert it, and the most pixels a decode may hold. Out: a float32
[28, 28] array, or an ImageError saying why the bytes are not usable. The model learned
Fashion-MNIST's convention, a light item on a dark (black) background; a photo of a dark item on a
light background needs `invert`. Like the dataset's own preparation, the image is
grayscale-converted (transparency becomes background), shrunk to fit 28x28 keeping its
proportions and padded with background to the square.

The cost is judged from the header before anything is decoded: a JPEG is decoded at the smallest
DCT scale (1/2 to 1/8) that still covers 28x28, and the pixels to decode must be at most
max_pixels. Every intermediate is then at most 10 bytes a decoded pixel (Pillow keeps a colour
pixel in 4 bytes: the decoded image, an RGBA copy when there is transparency, two 1-byte bands);
shrinking comes before padding, so nothing bigger than the decoded image is ever made.
"""

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from fashion_mnist import features
from serving import config

FORMATS = ('PNG', 'JPEG')
BYTES_PER_PIXEL = 10  # the most the conversion holds at once, per decoded pixel (see above)


class ImageError(ValueError):
  """The bytes are not a usable PNG or JPEG image; the message says why."""


def _open(data: bytes, max_pixels: int) -> Image.Image:
  """The image with only its header read, or ImageError (also for Pillow's bomb check)."""
  try:
    with warnings.catch_warnings():  # Pillow's own bomb warning: the check below is ours
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      image = Image.open(io.BytesIO(data), formats=FORMATS)
  except Image.DecompressionBombError as e:
    raise ImageError(f'the image declares more pixels than the limit of {max_pixels:,}') from e
  except (Image.UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
    raise ImageError(f'not a PNG or JPEG image ({len(data)} bytes)') from e
  if image.format == 'JPEG':
    image.draft('L', features.IMAGE_SHAPE[::-1])  # header only: decodes at a smaller scale
  if image.width * image.height > max_pixels:
    raise ImageError(f'{image.width}x{image.height} pixels is more than the limit of '
                     f'{max_pixels:,} pixels')
  return image


def _fit(size, box) -> tuple:
  """The largest size within box with size's proportions, at least 1 pixel a side."""
  scale = min(box[0] / size[0], box[1] / size[1])
  return tuple(max(1, min(b, round(s * scale))) for s, b in zip(size, box))


def decode(data: bytes, invert: bool = False,
           max_pixels: int = config.DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
  """A PNG or JPEG file's bytes as a float32 [28, 28] image, values 0-255 (see the docstring)."""
  image = _open(data, max_pixels)
  target = features.IMAGE_SHAPE[::-1]  # (width, height)
  shade = 255 if invert else 0  # the background's colour before any inversion
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      image = ImageOps.exif_transpose(image)  # photos taken sideways
      if image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info:
        rgba = image.convert('RGBA')
        gray = Image.composite(rgba.convert('L'), Image.new('L', rgba.size, shade),
                               rgba.getchannel('A'))
        del rgba
      else:
        gray = image.convert('L')
      del image
      if gray.size != target:
        gray = gray.resize(_fit(gray.size, target), Image.Resampling.LANCZOS)
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:  # corrupt data
    raise ImageError(f'the image cannot be decoded ({e})') from e
  if invert:
    gray = ImageOps.invert(gray)
  square = Image.new('L', target, 0)
  square.paste(gray, ((target[0] - gray.width) // 2, (target[1] - gray.height) // 2))
  return np.asarray(square, dtype=np.float32)
