"""Images in and features out: decoding and validation, the public image model (IC), extraction."""
