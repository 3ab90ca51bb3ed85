"""The size limits of pictures from outside (jobs, results, `booth snap` files, thumbnails,
prints), in a module of their own so a process that decodes without OpenCV (the printer,
printer/render.py) keeps the same limits as booth/images.py without importing cv2.

A 12 MP Pi camera still is 12 M pixels; 40 M leaves room for 48 MP phone photos and refuses
bombs. What a picture within them may cost to decode is booth/images.py DECODE_BUDGET's to say.
"""

MAX_BYTES = 40_000_000
MAX_PIXELS = 40_000_000
# Results are pictures for a screen and a phone: a model's 4K output is about 17 M pixels, and
# the worker shrinks its answers to worker.result_long_side anyway.
RESULT_MAX_PIXELS = 25_000_000
