"""reporter: secure incident reporting for community monitors."""

__version__ = "0.1.0"
