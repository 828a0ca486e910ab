"""Machine learning for kidneyweb: preprocessing, model, data, training, inference.

Plain Python and Keras; it imports nothing from Django.

It reads no environment: the application gives it folders, runtime and threads
(kidneyweb/settings.py is where the environment is read).
"""
