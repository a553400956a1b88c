"""One folder per method (config, module + initialisation, wrapper), each registered once in
``prefixes.methods.registry``."""
