"""The four original Fashion-MNIST files: names, published checksums and where they are mirrored."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of the original release: an IDX image file and its IDX label file."""
  name: str
  images_file: str
  labels_file: str


TRAIN = Split('train', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz')
TEST = Split('t10k', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
SPLITS = (TRAIN, TEST)
FILE_NAMES = tuple(name for split in SPLITS for name in (split.images_file, split.labels_file))
# The pipeline's split name -> the pattern of its two files (images and labels) in a data folder.
SPLIT_PATTERNS = {'train': f'{TRAIN.name}-*-ubyte.gz', 'eval': f'{TEST.name}-*-ubyte.gz'}

# SHA-256 of the files Zalando published (their MD5 sums match the published ones).
SHA256 = {
    'train-images-idx3-ubyte.gz':
        '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
    'train-labels-idx1-ubyte.gz':
        'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
    't10k-images-idx3-ubyte.gz':
        '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
    't10k-labels-idx1-ubyte.gz':
        '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
}

# The mirror keras.datasets.fashion_mnist downloads from; it serves the four files by name.
PUBLIC_MIRROR_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'

# New labelled data can arrive as numbered spans: <data root>/span-<N>/, each holding the four files
# (the training files of the span, and the test set it is evaluated on).
SPAN_DIR_PREFIX = 'span-'
