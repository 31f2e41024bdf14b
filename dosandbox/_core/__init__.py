"""The kernel: the World, loop and driver, clock and stepper, object record and input gate,
events, codec, ids, naming, errors and notices, output routing (prints go to whoever drives),
the readable table type and the display registry. Imports nothing else of dosandbox.
"""
