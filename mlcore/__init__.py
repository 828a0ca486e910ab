"""Machine learning for kidneyweb: preprocessing, model, data, training, inference.

Plain Python and Keras; it imports nothing from Django.
"""

import os

# TensorFlow's C++ start-up notices (CPU features, oneDNN) go to stderr and bury the
# output of our commands; warnings and errors still show. Set it to 0 to see them all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
