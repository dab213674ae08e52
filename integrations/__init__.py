"""Framework adapters, installed as ``tracker_core.integrations`` (Lightning, Keras, HF Transformers).

Each adapter is imported explicitly (``tracker_core.integrations.lightning`` ...) and is
the only place its framework is imported; the adapters hold no summary logic.
"""
