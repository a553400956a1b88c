"""Where prefixes meet the transformer: the one injection point for every architecture.

``layout`` (what a model's prefixes look like and how they reach it), ``trace`` (measuring both),
``state`` (one forward's prefixes), ``wrap`` (the attention wrapper), ``cache`` (the prefilled-cache
route and its one prefill helper), ``attach`` (putting a state into a model call), ``generate``
(generation with the prefix written once into the KV cache).

A model's attention is reached in one of two ways (``trace`` finds which):

- ``attention``: every attention call goes through transformers' ``ALL_ATTENTION_FUNCTIONS`` with the
  forward's keyword arguments, so a wrapper of the model's own implementation (``wrap``)
  receives the :class:`PrefixState` as ``prefix_state`` and prepends each site's prefix there;
- ``cache``: the attention does not take our keyword argument (BLOOM, Falcon, StableLM in
  transformers 5.24), so the prefix enters as a prefilled KV cache (``cache``).

Either way nothing derived from trainable parameters is stored on a module between forwards,
every example of a batch may carry its own prefix of its own length, and positions of real
tokens start after the prefix (``attach``).

Sliding-window and chunked attention: the prefix conditions every position, as in the papers. It
is never slid out of a window: the window (or chunk) applies to real tokens only, and the prefix
columns stay visible to every query. PEFT, which keeps the prefix in the cache at the oldest
positions, drops it for queries further than the window from it (see ``peft_export``).

Prefix keys are stored post-projection (and, for rotary models, post-rotation) like a KV cache,
sized ``num_key_value_heads * head_dim`` per site, measured from the model rather than guessed.
"""

