"""course_utils: the math and machinery behind the course notebooks.

"Bayesian Neural Networks - Variational Inference and Dropout".  Each module is named after a
concept of the lecture; each function's docstring names the lecture equation it implements.
"""
from course_utils.device import get_device, seed_everything

__all__ = ["get_device", "seed_everything"]
__version__ = "0.1.0"
