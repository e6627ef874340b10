"""Feature keys, image geometry and class names: the contract between data, model and clients."""

IMAGE_KEY = 'image'
LABEL_KEY = 'label'

IMAGE_HEIGHT = 28
IMAGE_WIDTH = 28
IMAGE_SHAPE = (IMAGE_HEIGHT, IMAGE_WIDTH)
NUM_PIXELS = IMAGE_HEIGHT * IMAGE_WIDTH
MAX_PIXEL_VALUE = 255

CLASS_NAMES = (
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
)
NUM_CLASSES = len(CLASS_NAMES)

# Outputs of both serving signatures.
PROBABILITIES_KEY = 'probabilities'
CLASS_ID_KEY = 'class_id'
CLASS_NAME_KEY = 'class_name'

# Serving signatures: serialized tf.Examples (what TFMA and TF Serving clients send), raw images.
EXAMPLES_SIGNATURE = 'serving_default'
EXAMPLES_INPUT_KEY = 'examples'
IMAGES_SIGNATURE = 'predict_images'
IMAGES_INPUT_KEY = 'images'
