"""Image files to model input, without a server: any size, mode and format to 28x28 0-255."""

import io

import numpy as np
import pytest
from PIL import Image

from serving import images


def _encode(image: Image.Image, fmt: str = 'PNG') -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, fmt)
  return buffer.getvalue()


def test_a_28x28_grayscale_png_is_read_exactly():
  pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
  decoded = images.decode(_encode(Image.fromarray(pixels)))
  assert decoded.dtype == np.float32
  np.testing.assert_array_equal(decoded, pixels)


def test_a_large_colour_jpeg_is_grayscale_28x28_and_keeps_its_proportions():
  photo = np.zeros((300, 150, 3), np.uint8)  # tall: padded with black at the sides
  photo[:, :, 0] = 255
  decoded = images.decode(_encode(Image.fromarray(photo), 'JPEG'))
  assert decoded.shape == (28, 28)
  assert decoded[:, :5].max() < 10 and decoded[:, -5:].max() < 10  # padding
  assert 60 < decoded[14, 14] < 90  # pure red is about 76 in luminance


def test_invert_and_transparency_follow_the_dark_background_convention():
  dark_on_light = np.full((28, 28), 255, np.uint8)
  dark_on_light[10:18, 10:18] = 0
  inverted = images.decode(_encode(Image.fromarray(dark_on_light)), invert=True)
  assert inverted[14, 14] == 255 and inverted[0, 0] == 0
  rgba = np.zeros((28, 28, 4), np.uint8)  # white item on a transparent background
  rgba[10:18, 10:18] = 255
  decoded = images.decode(_encode(Image.fromarray(rgba, 'RGBA')))
  assert decoded[14, 14] == 255 and decoded[0, 0] == 0


@pytest.mark.parametrize('data', [b'', b'text', _encode(Image.new('L', (8, 8)), 'GIF'),
                                  _encode(Image.new('L', (8, 8)))[:30]])
def test_anything_but_a_whole_png_or_jpeg_is_refused(data):
  with pytest.raises(images.ImageError):
    images.decode(data)
